"""Overrides: `--override=section.field=value` applied to a preset, and the dotted-field views
of a config (`fields`, `diff`) that name stage directories and list what --override can set."""

import copy
import dataclasses

from tfguided.configs.presets import PRESETS
from tfguided.configs.schema import Config
from tfguided.configs.validation import class_names, validate


def class_defaults(cls=None):
    """A `cls` (default: Config) whose every section is at its own class's defaults, not at the
    value a parent's field gives it (SaliencyConfig's net is ResNet-101, NetConfig()'s VGG-16;
    Config's saliency filters target classes, SaliencyConfig()'s does not):
    what a field missing from an older stored config meant when it was written."""
    cls = cls or Config
    sections = {f.name: class_defaults(f.default_factory().__class__) for f in dataclasses.fields(cls)
                if f.default_factory is not dataclasses.MISSING
                and dataclasses.is_dataclass(f.default_factory())}
    return cls(**sections)


def preset(name):
    if name not in PRESETS:
        raise ValueError(f"--preset={name!r}: unknown preset; choose one of {sorted(PRESETS)}")
    return validate(PRESETS[name]())


def _coerce(value, current, key):
    if isinstance(current, tuple):
        try:
            return tuple(type(current[0])(v) for v in value.split(","))
        except ValueError as e:
            raise ValueError(f"override {key}={value!r}: expected comma-separated "
                             f"{type(current[0]).__name__}s") from e
    if isinstance(current, bool):
        if value.lower() in ("1", "true", "yes"):
            return True
        if value.lower() in ("0", "false", "no"):
            return False
        raise ValueError(f"override {key}={value!r}: expected true or false")
    try:
        return type(current)(value)
    except ValueError as e:
        raise ValueError(f"override {key}={value!r}: expected a {type(current).__name__}") from e


RENAMED_FIELDS = {"data.voc_root": "data.target_root", "data.msra_root": "data.saliency_root"}


def override(config, assignments):
    """Returns a copy of `config` with `section.field=value` assignments applied. Naming the
    classes (data.classes) sets num_classes to their count unless num_classes is assigned too."""
    config = copy.deepcopy(config)
    keys = [a.partition("=")[0].strip() for a in assignments]
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep:
            raise ValueError(f"override {assignment!r}: expected section.field=value")
        *sections, field = key.strip().split(".")
        obj = config
        for part in sections:
            if not dataclasses.is_dataclass(obj) or not hasattr(obj, part):
                raise ValueError(f"override {key!r}: no section {part!r}")
            obj = getattr(obj, part)
        if not dataclasses.is_dataclass(obj) or field not in {f.name for f in dataclasses.fields(obj)}:
            hint = f" (renamed {RENAMED_FIELDS[key.strip()]})" if key.strip() in RENAMED_FIELDS else ""
            raise ValueError(f"override {key!r}: no field {field!r}{hint}")
        current = getattr(obj, field)
        if dataclasses.is_dataclass(current):
            raise ValueError(f"override {key!r} names a section, not a field")
        setattr(obj, field, _coerce(value.strip(), current, key))
    if "data.classes" in keys and "num_classes" not in keys and class_names(config.data.classes):
        config.num_classes = len(class_names(config.data.classes))
    return validate(config)


def fields(config, prefix=""):
    """`{dotted.field: value}` of every field `override` can set."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out.update(fields(value, prefix + f.name + "."))
        else:
            out[prefix + f.name] = value
    return out


def diff(config, reference):
    """`{dotted.field: value}` of the fields where `config` differs from `reference`."""
    before = fields(reference)
    return {key: value for key, value in fields(config).items() if value != before[key]}


def fitted_to_data(config, num_classes, images):
    """`config` for converted data of `num_classes` classes: num_classes set where it is 0 (take
    the data's), and every network with train.epochs > 0 given max(steps, epochs x its training
    images / batch) steps, its decay_every scaled by the same factor. `images`: {section: the
    training images of its data} (a section missing keeps its steps). Applying it twice changes
    nothing."""
    config = copy.deepcopy(config)
    if config.num_classes == 0:
        config.num_classes = num_classes
    for section, count in images.items():
        train = getattr(config, section).train
        if train.epochs > 0:
            steps = max(train.steps, int(round(train.epochs * count / train.batch_size)))
            train.decay_every = max(1, int(round(train.decay_every * steps / train.steps)))
            train.steps = steps
    return validate(config)
