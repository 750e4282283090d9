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

from tfguided import configs, files
from tfguided.data import records
from tfguided.stages import table
from tfguided.train.strategy import is_chief, make_strategy, worker_task

DONE = "done.json"
NOT_IN_NAMES = ("guide.strategy", "guide.panels", "evaluate.panels", "segmenter.monitor_images")


@dataclasses.dataclass
class Context:
    config: configs.Config
    workdir: str
    data_dir: str = None      # converted data (voc/, msra/); None: generate the demo data
    strategy_name: str = "mirrored"
    _strategy: list = dataclasses.field(default_factory=list)  # made once, shared by every round's context

    def __post_init__(self):
        configs.validate(self.config)
        self.defaults = configs.preset(self.config.preset)
        self.generate_data = self.data_dir is None
        if self.data_dir is None:
            self.data_dir = os.path.join(self.workdir, self.stage_name("data"))

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

    @property
    def is_chief(self):
        """False on the other workers of a multi_worker run: they train with the chief but write
        nothing, and wait for the chief's result of every stage that is not training."""
        return self.strategy_name != "multi_worker" or is_chief(self.strategy())

    def wait_done(self, stage, poll=2.0, log=print):
        """Waits until the chief has finished `stage` here (its done.json; for data, the
        manifests); returns its results."""
        ready = ((lambda: all(os.path.exists(os.path.join(d, records.MANIFEST)) for d in
                              [self.voc_dir] + ([self.msra_dir] if self.needs_msra else [])))
                 if stage == "data" else lambda: self.is_done(stage))
        last = 0.0
        while not ready():
            if time.time() - last > 60:
                log(f"[{stage}] worker {worker_task(self.strategy())}: waiting for the chief")
                last = time.time()
            time.sleep(poll)
        return {} if stage == "data" else self.results(stage)

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
        if stage == "data":
            return self.data_dir
        return os.path.join(self.workdir, self.stage_name(stage))

    @property
    def voc_dir(self):
        return os.path.join(self.data_dir, "voc")

    @property
    def msra_dir(self):
        return os.path.join(self.data_dir, "msra")

    def class_names(self):
        manifest = records.read_manifest(self.voc_dir)
        if manifest["num_classes"] != self.config.num_classes:
            raise ValueError(f"{self.voc_dir}: the data has {manifest['num_classes']} classes but preset "
                             f"{self.config.preset!r} expects {self.config.num_classes}; pick the "
                             f"matching --preset or --override=num_classes=N")
        return manifest["class_names"]

    @property
    def needs_msra(self):
        """The saliency set is needed only to train the saliency net (not for --saliency=mbd)."""
        return self.config.saliency.method == "net"

    def data_fingerprint(self, stage):
        """sha256 of the content of the data `stage` was trained or built from (voc, msra or both):
        the same data converted again, with any shard size or from another path, keeps it, so a
        reconversion (the way out of a corrupt shard) keeps the finished stages."""
        digest = hashlib.sha256()
        for d in table.data_dirs(self, stage):
            digest.update(records.content_fingerprint(d).encode())
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
    return json.dumps(results, indent=2, sort_keys=True)


LOCATION_FIELDS = ("data.voc_root", "data.labels_tsv", "data.msra_root")


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
    return {k: v for k, v in sorted(values.items()) if k not in NOT_IN_NAMES
            and any(k == s or k.startswith(s + ".") for s in sections)}


def _flatten(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, prefix + key + "."))
        else:
            out[prefix + key] = value
    return out
