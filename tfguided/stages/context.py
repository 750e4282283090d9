"""Where each stage's artifacts live, and the shared state of one run (config, strategy).

A stage directory is named after the stage (and guide strategy) plus the config values that
differ from the preset's defaults in every section the stage depends on (stages/table.py), e.g.
`seeder`, `guide-g2`, `segmenter-g2,guide.tau=0.3`; names too long for that use a hash. So two
ablations never overwrite each other, and a finished stage is reused only for the same config.
"""

import copy
import dataclasses
import hashlib
import json
import os
import time

from tfguided import configs, files, registry
from tfguided.data import classes, records
from tfguided.stages import table
from tfguided.train.strategy import cluster_resolver, cluster_tasks, is_chief, make_strategy, worker_task

DONE = "done.json"


@dataclasses.dataclass
class Context:
    """The shared state of one run: its config, where each stage's artifacts live (`stage_dir`)
    and its distribution strategy.

    Attributes:
      config: the run's configs.Config, validated and fitted to the converted data on creation.
      workdir: the folder the stage directories go in.
      data_dir: the converted data (a target set, or a folder with target/ and saliency/);
        None: the data stage makes it in the workdir.
      strategy_name: the tf.distribute strategy of train/strategy.py: default, mirrored or
        multi_worker.
    """
    config: configs.Config
    workdir: str
    data_dir: str = None      # converted data (target/, saliency/, or a target set); None: the data stage makes it
    strategy_name: str = "mirrored"
    _strategy: list = dataclasses.field(default_factory=list)  # made once, shared by every round's context

    def __post_init__(self):
        configs.validate(self.config)
        self.defaults = configs.preset(self.config.preset)
        self.generate_data = self.data_dir is None
        if self.data_dir is None:
            self.data_dir = os.path.join(self.workdir, self.stage_name("data"))
        self.fit_to_data()
        self.check_classes()

    def fit_to_data(self):
        """The config (and the preset it is named against) fitted to the converted data when
        they take something from it: num_classes 0, train.epochs > 0 (configs.fitted_to_data)."""
        takes = self.config.num_classes == 0 or any(
            getattr(self.config, s).train.epochs > 0 for s in ("seeder", "classifier", "saliency", "segmenter"))
        if not takes:
            return
        if not os.path.exists(os.path.join(self.target_dir, records.MANIFEST)):
            raise ValueError(f"preset {self.config.preset!r} takes its classes and schedules from the converted "
                             f"data: give it with --data_dir (python -m tfrecords_tools folder ... --out=DIR)")
        manifest = records.read_manifest(self.target_dir)
        target = manifest["splits"][self.config.data.train_split]["count"]
        images = {"seeder": target, "classifier": target, "segmenter": target}
        if os.path.exists(os.path.join(self.saliency_dir, records.MANIFEST)):
            images["saliency"] = records.split_count(self.saliency_dir, "train")
        self.config = configs.fitted_to_data(self.config, manifest["num_classes"], images)
        self.defaults = configs.fitted_to_data(self.defaults, manifest["num_classes"], images)

    @property
    def guide_strategy(self):
        return self.config.guide.strategy

    def previous_round(self):
        """This run's context for self-training round self_training.rounds - 1 (same data,
        workdir and strategy; round 1 with the self_training section at its defaults, unused)."""
        rounds = self.config.self_training.rounds
        if rounds <= 1:
            raise ValueError("round 1 has no previous self-training round")
        config = copy.deepcopy(self.config)
        config.self_training.rounds = rounds - 1
        if rounds == 2:
            config.self_training = configs.SelfTrainingConfig()
        previous = dataclasses.replace(self, config=config)
        previous.generate_data = self.generate_data
        return previous

    def strategy(self):
        if not self._strategy:
            self._strategy.append(make_strategy(self.strategy_name))
        return self._strategy[0]

    def cluster(self):
        """The multi_worker run's cluster resolver (train/strategy.py); None for other strategies."""
        return cluster_resolver() if self.strategy_name == "multi_worker" else None

    @property
    def is_chief(self):
        """False on the other workers of a multi_worker run: they train with the chief and do
        their part of the per-image stages, but write nothing else, and wait for the chief's
        result of every stage."""
        return self.strategy_name != "multi_worker" or is_chief(self.cluster())

    def part(self):
        """This task's share of the per-image stages (stages/parts.py): task k of the cluster's
        N (multi_worker), or the whole (any other strategy)."""
        tasks = cluster_tasks(self.cluster())
        return records.Part(tasks.index(worker_task(self.cluster())), len(tasks))

    def wait_done(self, stage, poll=2.0, log=print):
        """Waits until the chief has finished `stage` here (its done.json; for the data stage, the
        manifests of the sets this run reads); returns its results."""
        writes_data = table.stage(stage).writes_data
        ready = ((lambda: all(os.path.exists(os.path.join(d, records.MANIFEST)) for d in
                              [self.target_dir] + ([self.saliency_dir] if self.needs_saliency_set else [])))
                 if writes_data else lambda: self.is_done(stage))
        last = 0.0
        while not ready():
            if time.time() - last > 60:
                log(f"[{stage}] worker {worker_task(self.cluster())}: waiting for the chief")
                last = time.time()
            time.sleep(poll)
        return {} if writes_data else self.results(stage)

    def global_batch(self, train_cfg):
        """train.batch_size is per replica; tf.data batches the global batch, Keras splits it."""
        return train_cfg.batch_size * self.strategy().num_replicas_in_sync

    @property
    def saliency_filters_targets(self):
        """The saliency net trains only on images the seeder finds no target class in (§6.1)."""
        cfg = self.config.saliency
        return cfg.method == "net" and cfg.exclude_target_score > 0

    def relevant_diff(self, stage):
        return _relevant(configs.diff(self.config, self.defaults), table.relevant_sections(self, stage))

    def stage_name(self, stage):
        name = stage
        if table.per_guide(stage):
            name += "-" + self.guide_strategy
        diff = self.relevant_diff(stage)
        if diff:
            text = ",".join(f"{k}={_name_value(v)}" for k, v in diff.items())
            if len(text) > 80 or "/" in text:
                text = "cfg" + hashlib.sha1(text.encode()).hexdigest()[:10]
            name += "," + text
        return name

    def stage_dir(self, stage):
        if table.stage(stage).writes_data:
            return self.data_dir
        return os.path.join(self.workdir, self.stage_name(stage))

    @property
    def target_dir(self):
        """The converted target set: --data_dir itself if it is one (a converter's --out), else
        its `target/` folder (`voc/` in data converted before the roles had names)."""
        return _role_dir(self.data_dir, "target")

    @property
    def saliency_dir(self):
        """The converted saliency set: --data_dir's `saliency/` folder (`msra/` before)."""
        return _role_dir(self.data_dir, "saliency")

    def check_classes(self):
        """Refuses, by name, a data.classes that the data cannot give: names the source to be
        converted lacks, or converted data whose classes are other ones (never silently used)."""
        spec = self.config.data.classes
        if not spec:
            return
        wanted = configs.class_names(spec)
        if os.path.exists(os.path.join(self.target_dir, records.MANIFEST)):
            have = records.read_manifest(self.target_dir)["class_names"][1:]
            if have != wanted:
                raise ValueError(f"data.classes={spec}: {self.target_dir} was converted with the classes "
                                 f"{','.join(have)}; convert the data with --classes={','.join(wanted)} "
                                 f"or drop the override")
        elif self.generate_data:
            source = registry.SOURCES.load(self.config.data.target_source)
            if source.class_names is not None:
                try:
                    classes.parse_subset(spec, source.class_names(self.config.data))
                except ValueError as e:
                    raise ValueError(f"data.classes={spec}: {e}") from None

    def class_names(self):
        manifest = records.read_manifest(self.target_dir)
        if manifest["num_classes"] != self.config.num_classes:
            raise ValueError(f"{self.target_dir}: the data has {manifest['num_classes']} classes but preset "
                             f"{self.config.preset!r} expects {self.config.num_classes}; pick the "
                             f"matching --preset or --override=num_classes=N")
        return manifest["class_names"]

    @property
    def needs_saliency_set(self):
        """Whether the saliency method reads the saliency set (the paper's net; MB+ does not)."""
        return registry.SALIENCY[self.config.saliency.method]["saliency_set"]

    def data_fingerprint(self, stage):
        """sha256 of the content of the data `stage` was trained or built from (voc, msra or both):
        the same data converted again, with any shard size or from another path, keeps it, so a
        reconversion (the way out of a corrupt shard) keeps the finished stages."""
        digest = hashlib.sha256()
        for d in table.data_dirs(self, stage):
            digest.update(records.content_fingerprint(d).encode())
        return digest.hexdigest()

    def inputs_fingerprint(self, stage):
        """sha256 of everything `stage` is made from: its data's content and the done.json of
        each stage it needs (a retrained seeder or segmenter changes it), so a killed task's
        finished part (stages/parts.py) is kept only for the same inputs."""
        needed = [(self, dep) for dep in table.dependencies(self, stage)]
        needed += [(self.previous_round(), dep) for dep in table.previous_round(self, stage)]
        digest = hashlib.sha256(self.data_fingerprint(stage).encode())
        for ctx, dep in needed:
            if not table.stage(dep).writes_data:
                with open(os.path.join(ctx.stage_dir(dep), DONE), "rb") as f:
                    digest.update(f.read())
        return digest.hexdigest()

    def relevant_values(self, stage, config_dict):
        """{dotted.field: value} of a config (as a JSON dict) in the sections `stage` uses."""
        return _relevant(_flatten(config_dict), table.relevant_sections(self, stage))

    def is_done(self, stage):
        """True if the stage finished for this config; an error if it finished on other data or
        with other settings under the same name (a preset changed since: names are relative to it).
        A field the stored config lacks (added to the package since) counts at its dataclass
        default, the value that keeps the older behaviour; where the data came from is the data
        fingerprint's business, and weight files compare by file name (a moved checkout)."""
        path = os.path.join(self.stage_dir(stage), DONE)
        if not os.path.exists(path):
            return False
        done = files.read_json(path)
        if done.get("data_fingerprint") != self.data_fingerprint(stage):
            raise ValueError(f"{self.stage_dir(stage)}: finished on other data than {self.data_dir}; "
                             f"use another --workdir for this data")
        now = self.relevant_values(stage, json.loads(self.config.to_json()))
        then = {**self.relevant_values(stage, json.loads(configs.class_defaults().to_json())),
                **self.relevant_values(stage, _renamed(done.get("config", {})))}
        changed = sorted(k for k in now.keys() | then.keys()
                         if _comparable(k, now.get(k)) != _comparable(k, then.get(k)))
        if changed:
            raise ValueError(f"{self.stage_dir(stage)}: finished with other settings than this run's "
                             f"({', '.join(changed[:6])}; the preset changed since?); delete that "
                             f"directory to recompute it, or use another --workdir")
        return True

    def mark_done(self, stage, results):
        directory = self.stage_dir(stage)
        files.atomic_write_json(os.path.join(directory, DONE), {
            "stage": stage, "config": self.config.to_dict(),
            "config_diff": self.relevant_diff(stage), "data_fingerprint": self.data_fingerprint(stage),
            "results": results})

    def results(self, stage):
        return files.read_json(os.path.join(self.stage_dir(stage), DONE))["results"]

    def write_config(self, stage):
        directory = files.ensure_writable_dir(self.stage_dir(stage), f"{stage} directory")
        files.atomic_write_text(os.path.join(directory, "config.json"), self.config.to_json() + "\n")
        return directory


def _name_value(value):
    """A value as it appears in a directory name: a tuple as its items joined by '+' (no spaces,
    no commas: those separate the fields)."""
    return "+".join(map(str, value)) if isinstance(value, tuple) else str(value)


def describe(results):
    """A results dict as indented JSON with sorted keys, for the log."""
    return json.dumps(results, indent=2, sort_keys=True)


# Where the data came from: the data fingerprint's business, never compared by value (fields of
# older versions included, under their names then).
LOCATION_FIELDS = ("data.target_source", "data.target_root", "data.labels_tsv", "data.saliency_source",
                   "data.saliency_root", "data.voc_root", "data.msra_root")
LEGACY_DATA_FOLDERS = {"target": "voc", "saliency": "msra"}


def _role_dir(data_dir, role):
    if _role(data_dir) == role:
        return data_dir
    for name in (role, LEGACY_DATA_FOLDERS[role]):
        if os.path.exists(os.path.join(data_dir, name, records.MANIFEST)):
            return os.path.join(data_dir, name)
    return os.path.join(data_dir, role)


def _role(directory):
    """The role of the converted set in `directory` (its manifest's; manifests from before roles
    were recorded: msra is the saliency set, any other the target set), or None if there is none."""
    path = os.path.join(directory, records.MANIFEST)
    if not os.path.exists(path):
        return None
    manifest = files.read_json(path)
    return manifest.get("role") or ("saliency" if manifest.get("kind") == "msra" else "target")


def _comparable(key, value):
    if key in LOCATION_FIELDS:
        return None
    if key.endswith(".net.init") and isinstance(value, str):
        return os.path.basename(value)
    return value


RENAMED = {"seed": "rng_seed"}  # fields renamed since older done.json files were written


def _renamed(tree):
    """A stored config (JSON dict) with its fields under their current names."""
    return {RENAMED.get(k, k) if RENAMED.get(k) not in tree else k:
            _renamed(v) if isinstance(v, dict) else v for k, v in tree.items()}


def _relevant(values, sections):
    """The {dotted.field: value} items under `sections` (sections or single fields), sorted."""
    return {k: v for k, v in sorted(values.items()) if k not in table.NOT_IN_NAMES
            and any(k == s or k.startswith(s + ".") for s in sections)}


def _flatten(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, prefix + key + "."))
        else:
            out[prefix + key] = value
    return out
