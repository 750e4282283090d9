"""Validation: every value of a config checked when it is built (a preset, an override, the
command line's flags), so --dry_run and the first second of a run refuse what a stage would.
Choices come from the registries (registry.py) and choices.py; nothing here imports TensorFlow.
"""

import dataclasses

from tfguided import choices as named, registry
from tfguided.configs.schema import (Config, CrfConfig, DataConfig, EvalConfig, GuideConfig, NetConfig,
                                     SaliencyConfig, SeederConfig, SegmenterConfig, SelfTrainingConfig,
                                     SyntheticConfig, TrainConfig, TTAConfig)
from tfguided.crf import CRF_PARAMS
from tfguided.guide.regions import UNDECIDED
from tfguided.models.interface import aspp_dilations


def choices():
    """{(section class, field): allowed values}: the one table of the enumerations `validate`
    checks, read from the registries where the choice is an extension point."""
    crf = tuple(CRF_PARAMS)
    sources = registry.SOURCES.names()
    return {
        (GuideConfig, "strategy"): registry.GUIDES.names() + (registry.GROUND_TRUTH,),
        (GuideConfig, "undecided"): tuple(UNDECIDED),
        (GuideConfig, "crf_seed"): ("none",) + crf,
        (CrfConfig, "params"): crf,
        (SegmenterConfig, "crf_loss"): ("none",) + crf,
        (TrainConfig, "optimizer"): named.OPTIMIZERS,
        (SaliencyConfig, "method"): registry.SALIENCY.names(),
        (SeederConfig, "arch"): registry.SEEDERS.names(),
        (NetConfig, "backbone"): registry.BACKBONES.names(),
        (NetConfig, "head"): registry.HEADS.names(),
        (NetConfig, "output_stride"): (8, 16, 32),
        (TrainConfig, "precision"): named.PRECISIONS,
        (GuideConfig, "connectivity"): (4, 8),
        (GuideConfig, "labeller"): named.LABELLERS,
        (DataConfig, "target_source"): tuple(n for n in sources if "target" in registry.SOURCES[n]["roles"]),
        (DataConfig, "saliency_source"): ("",) + tuple(
            n for n in sources if "saliency" in registry.SOURCES[n]["roles"]),
    }


def _range(low=None, high=None, low_open=False, high_open=False):
    """(test, text) of a numeric range."""
    def test(v):
        return ((low is None or (v > low if low_open else v >= low))
                and (high is None or (v < high if high_open else v <= high)))
    text = " and ".join(t for t in (
        low is not None and f"{'>' if low_open else '>='} {low:g}",
        high is not None and f"{'<' if high_open else '<='} {high:g}") if t)
    return test, "must be " + text


POSITIVE, AT_LEAST_1, NOT_NEGATIVE, FRACTION = _range(0, low_open=True), _range(1), _range(0), _range(0, 1)


def ranges():
    """{(section class, field): (test, text)}: the numeric ranges `validate` checks."""
    return {
        (Config, "num_classes"): NOT_NEGATIVE, (TrainConfig, "epochs"): NOT_NEGATIVE,
        (SyntheticConfig, "image_size"): _range(32), (SyntheticConfig, "num_classes"): AT_LEAST_1,
        (SyntheticConfig, "train"): AT_LEAST_1, (SyntheticConfig, "val"): AT_LEAST_1,
        (SyntheticConfig, "saliency"): AT_LEAST_1, (SyntheticConfig, "annotators"): AT_LEAST_1,
        (SyntheticConfig, "max_objects"): AT_LEAST_1,
        (DataConfig, "examples_per_shard"): AT_LEAST_1, (DataConfig, "grabcut_iterations"): AT_LEAST_1,
        (TrainConfig, "batch_size"): AT_LEAST_1, (TrainConfig, "learning_rate"): POSITIVE,
        (TrainConfig, "momentum"): _range(0, 1, high_open=True), (TrainConfig, "weight_decay"): NOT_NEGATIVE,
        (TrainConfig, "last_layer_lr_mult"): POSITIVE, (TrainConfig, "decay_every"): AT_LEAST_1,
        (TrainConfig, "decay_factor"): _range(0, 1, low_open=True), (TrainConfig, "steps"): AT_LEAST_1,
        (TrainConfig, "steps_per_epoch"): AT_LEAST_1,
        (NetConfig, "width"): POSITIVE, (NetConfig, "input_size"): _range(32), (NetConfig, "fc_units"): AT_LEAST_1,
        (NetConfig, "fc6_dilation"): AT_LEAST_1, (NetConfig, "head_units"): AT_LEAST_1,
        (NetConfig, "dropout"): _range(0, 1, high_open=True),
        (NetConfig, "scale"): POSITIVE,
        (CrfConfig, "iterations"): AT_LEAST_1, (CrfConfig, "downscale"): _range(1),
        (SaliencyConfig, "exclude_target_score"): FRACTION,
        (GuideConfig, "tau"): FRACTION, (GuideConfig, "saliency_fraction"): _range(0, 1, low_open=True),
        (GuideConfig, "min_component_fraction"): _range(0, 1, high_open=True),
        (GuideConfig, "crf_unary_sigma"): POSITIVE, (GuideConfig, "min_seed_pixels"): NOT_NEGATIVE,
        (GuideConfig, "panels"): NOT_NEGATIVE,
        (SelfTrainingConfig, "rounds"): AT_LEAST_1, (SelfTrainingConfig, "min_confidence"): FRACTION,
        (SegmenterConfig, "crf_loss_weight"): NOT_NEGATIVE, (SegmenterConfig, "monitor_images"): NOT_NEGATIVE,
        (EvalConfig, "panels"): NOT_NEGATIVE,
    }


def _positive_ints(values):
    return all(isinstance(v, int) and v >= 1 for v in values)


def validate(config, prefix=""):
    """Refuses, by the field's dotted name, a value of the wrong type, outside its field's
    choices or outside its range (`choices`, `ranges`); returns `config`. Called whenever a
    config is built, so --dry_run and the first second of a run refuse what a stage would."""
    table, limits = choices(), ranges()
    for f in dataclasses.fields(config):
        value, key, name = getattr(config, f.name), (type(config), f.name), prefix + f.name
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(value):
            validate(value, name + ".")
            continue
        if not isinstance(value, type(default)) and not (isinstance(default, float) and isinstance(value, int)):
            raise ValueError(f"{name}={value!r}: expected a {type(default).__name__}")
        if key in table and value not in table[key]:
            raise ValueError(f"{name}={value!r}: choose one of {', '.join(map(str, table[key]))}")
        if key in limits and not limits[key][0](value):
            raise ValueError(f"{name}={value!r}: {limits[key][1]}")
        if key == (NetConfig, "head"):
            _check_trunk(config, prefix)
        if f.name == "convs" and not _positive_ints(value):
            raise ValueError(f"{name}={value!r}: every block needs at least one convolution")
        if f.name == "aspp_rates" and not (value and _positive_ints(value)
                                           and len(set(aspp_dilations(value, config.output_stride))) == len(value)):
            raise ValueError(f"{name}={value!r}: at least one rate, each an integer >= 1, distinct at "
                             f"output stride {config.output_stride} (rate * 16 / output_stride)")
        if key == (TTAConfig, "scales") and not (value and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value)):
            raise ValueError(f"{name}={value!r}: at least one scale, each a number > 0")
    if isinstance(config, Config):
        _check_combinations(config)
    return config


def _check_trunk(net, prefix):
    """The backbone gives the output stride asked for, and the stride-4 features a decoder
    head needs (registry.BACKBONES' facts)."""
    backbone = registry.BACKBONES[net.backbone]
    if net.output_stride not in backbone["output_strides"]:
        raise ValueError(f"{prefix}output_stride={net.output_stride}: net.backbone={net.backbone} gives "
                         f"output stride {' or '.join(map(str, backbone['output_strides']))}")
    if registry.HEADS[net.head]["decoder"] and not backbone["decoder"]:
        raise ValueError(f"{prefix}head={net.head!r}: net.backbone={net.backbone!r} has no stride-4 features for "
                         f"its decoder; choose one of {', '.join(registry.BACKBONES.where(decoder=True))}")


def _check_combinations(config):
    """Settings that are valid alone but not together: refused rather than silently unused."""
    for section in ("seeder", "classifier"):
        if getattr(config, section).net.head != "paper":
            raise ValueError(f"{section}.net.head={getattr(config, section).net.head!r}: the head is a "
                             f"DeepLab net's (segmenter, saliency); the {section} is a classifier")
    if config.guide.seed_tta != TTAConfig() and registry.SEEDERS[config.seeder.arch]["kind"] != "gap":
        raise ValueError(f"guide.seed_tta: test-time views are for the GAP seeders' class maps, not "
                         f"seeder.arch={config.seeder.arch}")
    in_tf_data = registry.GUIDES.where(in_tf_data=True)
    if config.guide.labeller == "tf_data" and config.guide.strategy not in in_tf_data + (registry.GROUND_TRUTH,):
        raise ValueError(f"guide.labeller=tf_data: guide.strategy={config.guide.strategy} needs the classifier or "
                         f"masks, which tf.data does not carry; use one of {', '.join(in_tf_data)} or "
                         f"guide.labeller=processes")
    readers = [n for n in registry.SOURCES.names() if registry.SOURCES[n].get("reads_root", True)]
    for role in ("target", "saliency"):
        source, root = getattr(config.data, f"{role}_source"), getattr(config.data, f"{role}_root")
        if root and source and source not in readers:
            raise ValueError(f"data.{role}_root={root}: data.{role}_source={source} reads no folder; name the "
                             f"folder's format with data.{role}_source (one of {', '.join(readers)})")
    names = class_names(config.data.classes)
    if names and config.num_classes and len(names) != config.num_classes:
        raise ValueError(f"data.classes={config.data.classes}: {len(names)} classes, but "
                         f"num_classes={config.num_classes}")
    if len(set(names)) != len(names):
        raise ValueError(f"data.classes={config.data.classes}: a class is named twice")
    rounds = config.self_training.rounds
    if rounds > 1 and config.guide.strategy == registry.GROUND_TRUTH:
        raise ValueError(f"self_training.rounds={rounds}: self-training rounds need a guide; "
                         f"--guide=gt trains on the ground truth")
    if rounds == 1 and config.self_training != SelfTrainingConfig():
        changed = {k: v for k, v in dataclasses.asdict(config.self_training).items()
                   if v != dataclasses.asdict(SelfTrainingConfig())[k]}
        raise ValueError(f"self_training: {changed} has no effect with self_training.rounds=1 (set --rounds)")


def class_names(spec):
    """data.classes ("cat, dog") -> ["cat", "dog"] (blanks around each name dropped)."""
    return [n.strip() for n in spec.split(",") if n.strip()]
