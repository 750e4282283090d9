"""The training loop every stage shares: model.fit under a tf.distribute strategy, resumable.

A stage directory gets `logs/` (TensorBoard scalars: loss, learning rate), `backup/` (Keras
BackupAndRestore: a killed run resumes from the last epoch, and it is deleted when training
completes) and `model.keras` (written atomically at the end). The history it returns adds the
median seconds per training step (`StepTimer`), which each training stage reports.
"""

import contextlib
import json
import math
import os
import shutil
import statistics
import sys
import time

import keras

from tfguided import files
from tfguided.choices import PRECISIONS
from tfguided.models import classifier, deeplab, gap  # noqa: F401  (registered: load_model reads them)
from tfguided.train.optim import build_optimizer
from tfguided.train.strategy import fitting

MODEL_FILE = "model.keras"


class StopOnNaN(keras.callbacks.Callback):
    """Stops with an error that says where, instead of training on NaN."""

    def __init__(self, stage):
        super().__init__()
        self.stage = stage

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise FloatingPointError(
                f"{self.stage}: loss became {loss} at step {int(self.model.optimizer.iterations)}; "
                f"lower the learning rate (--override={self.stage}.train.learning_rate=...) or check "
                f"the data")


class Backup(keras.callbacks.BackupAndRestore):
    """Keras' BackupAndRestore, keeping the previous checkpoint too (`double_checkpoint`), made
    exact and kill-safe: the metadata records the epoch, the weights file's sha256 and the state
    of every random seed generator (dropout's masks), so a resumed run draws what the
    uninterrupted one would; a checkpoint whose weights do not match its metadata (a kill in the
    middle of a save) falls back to the previous one, and with none to fall back on training
    starts over (one epoch lost at most). `restorable_epoch` says, before training, which epoch
    `on_train_begin` will restore, so the input pipeline can start where that epoch did."""

    def __init__(self, backup_dir):
        super().__init__(backup_dir, delete_checkpoint=True, double_checkpoint=True)
        self.planned_epoch = None

    def _metadata(self, weights_path, metadata_path):
        """The metadata of a complete checkpoint; OSError if it is missing or does not match."""
        try:
            with open(metadata_path) as f:
                metadata = json.load(f)
            recorded, actual = metadata.get("weights_sha256"), files.sha256_file(weights_path)
            if recorded not in (None, actual):  # None: written before the checksum was recorded
                raise OSError("the weights file does not match its metadata")
        except (OSError, ValueError) as e:
            raise OSError(f"{metadata_path}: incomplete checkpoint ({e})") from None
        return metadata

    def _fresh(self):
        return not (os.path.exists(self._weights_path) or os.path.exists(self._training_metadata_path))

    def restorable_epoch(self):
        """The epoch training resumes from (0: none), as `on_train_begin` will find it; it
        checks that it does."""
        self.planned_epoch = 0
        if not self._fresh():
            for paths in ((self._weights_path, self._training_metadata_path),
                          (self._prev_weights_path, self._prev_training_metadata_path)):
                try:
                    self.planned_epoch = self._metadata(*paths)["epoch"]
                    break
                except OSError:
                    continue
        return self.planned_epoch

    def _seed_states(self):
        return [v for v in self.model.variables if "seed_generator_state" in v.path]

    def _load_model(self):
        if self._fresh():
            return
        metadata = self._metadata(self._weights_path, self._training_metadata_path)
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self._weights_path)
        for variable, value in zip(self._seed_states(), metadata.get("seed_states", [])):
            variable.assign(value)
        self.model._initial_epoch = metadata["epoch"]

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        if os.path.exists(self._weights_path) and os.path.exists(self._training_metadata_path):
            shutil.copyfile(self._weights_path, self._prev_weights_path)
            shutil.copyfile(self._training_metadata_path, self._prev_training_metadata_path)
        with files.atomic_path(self._weights_path, ".weights.h5") as tmp:
            self.model.save_weights(tmp, overwrite=True)
        files.atomic_write_json(self._training_metadata_path, {
            "epoch": self._current_epoch, "batch": self._last_batch_seen,
            "weights_sha256": files.sha256_file(self._weights_path),
            "seed_states": [keras.ops.convert_to_numpy(v.value).tolist() for v in self._seed_states()]})

    def on_train_begin(self, logs=None):
        try:
            super().on_train_begin(logs)
        except OSError as e:
            print(f"backup {self.backup_dir} unreadable ({e}); training from the start")
            shutil.rmtree(self.backup_dir, ignore_errors=True)
            self.model._initial_epoch = 0
        if self.planned_epoch is not None and (self.model._initial_epoch or 0) != self.planned_epoch:
            raise RuntimeError(f"{self.backup_dir}: restored epoch {self.model._initial_epoch}, but the "
                               f"input pipeline was positioned at epoch {self.planned_epoch}")
        if self.model._initial_epoch:
            print(f"resuming from epoch {self.model._initial_epoch} (checkpoint in {self.backup_dir}); "
                  f"TensorBoard continues the same run")


def epoch_plan(steps, steps_per_epoch):
    """(epochs, steps per epoch): epochs of `steps_per_epoch` steps, enough to cover `steps`; the
    last one is cut short by `StopAtStep`, so any step count trains exactly (241 steps at 50 per
    epoch: 5 epochs, the fifth of 41 steps), with one validation and checkpoint per epoch."""
    if steps < 1 or steps_per_epoch < 1:
        raise ValueError(f"train.steps and train.steps_per_epoch must be positive, got {steps} "
                         f"and {steps_per_epoch}")
    per_epoch = min(steps, steps_per_epoch)
    return -(-steps // per_epoch), per_epoch


class StopAtStep(keras.callbacks.Callback):
    """Ends training once the optimiser has made `steps` steps (counted across a resume)."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps

    def on_train_batch_end(self, batch, logs=None):
        if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) >= self.steps:  # also a MirroredVariable
            self.model.stop_training = True


class StepTimer(keras.callbacks.Callback):
    """Wall seconds of each training step of this run (the first includes tracing). Placed after
    StopOnNaN, which reads the step's loss (waiting for the device), so on a GPU the time
    includes the device's work."""

    def __init__(self):
        super().__init__()
        self.seconds, self._start = [], None

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)

    def seconds_per_step(self):
        """The median step after the first (the first alone if there is one), None if none ran."""
        steady = self.seconds[1:] or self.seconds
        return float(statistics.median(steady)) if steady else None


def train_results(history):
    """What a training stage reports: its final loss and seconds per step (`train`'s history)."""
    return {"final_loss": history["loss"][-1], "seconds_per_step": history["seconds_per_step"]}


def train(stage_dir, stage, build_model, loss, make_dataset, train_cfg, strategy, metrics=(), wrap=None,
          monitors=()):
    """Builds and compiles under `strategy`, fits for train_cfg.steps, saves model.keras.

    `make_dataset(skip_batches)` returns the training batches from batch `skip_batches` on (a
    resumed run starts where the restored epoch did, so it sees the batches the uninterrupted run
    would have seen); `wrap` (optional) turns the built net into
    the model that is fitted, e.g. one adding a loss term (tfguided/train/crf_loss.py); the net
    itself is what is saved and returned. `monitors`: functions net -> Keras callback that add
    epoch logs (tfguided/train/monitor.py), run before TensorBoard writes them. The random state
    is set from train_cfg.rng_seed before the dataset (its shuffle and per-example augmentation seeds
    take the global seed) and the weights are made, so a run from scratch repeats whatever ran
    before it in the process.
    """
    keras.utils.set_random_seed(train_cfg.rng_seed)
    epochs, steps_per_epoch = epoch_plan(train_cfg.steps, train_cfg.steps_per_epoch)
    backup = Backup(os.path.join(stage_dir, "backup"))
    dataset = make_dataset(backup.restorable_epoch() * steps_per_epoch)
    with strategy.scope(), precision_policy(train_cfg.precision):
        net = build_model()
        model = wrap(net) if wrap else net
        if train_cfg.jit_compile and not getattr(model, "supports_jit", True):
            raise ValueError(f"{stage}.train.jit_compile: {model.name} cannot be XLA-compiled (the "
                             f"crf-loss calls the CRF through tf.py_function); drop --jit_compile")
        optimizer = build_optimizer(train_cfg)
        if train_cfg.precision == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics),
                      jit_compile=True if train_cfg.jit_compile else "auto")  # auto: XLA on GPUs
    print(f"{stage}: {train_cfg.steps} steps on {strategy.num_replicas_in_sync} replica(s), "
          f"{train_cfg.batch_size} images per replica")
    timer = StepTimer()
    callbacks = [
        StopOnNaN(stage),
        StopAtStep(train_cfg.steps),
        timer,
        backup,
        *[monitor(net) for monitor in monitors],
        keras.callbacks.TensorBoard(os.path.join(stage_dir, "logs"), update_freq="epoch"),
    ]
    with fitting(model, strategy):
        history = model.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch, callbacks=callbacks,
                            shuffle=False,  # the dataset shuffles itself, seeded; fit's would only warn
                            verbose=1 if sys.stdout.isatty() else 2)
    save_model(net, os.path.join(stage_dir, MODEL_FILE))
    return net, {**{k: [float(v) for v in vals] for k, vals in history.history.items()},
                 "seconds_per_step": timer.seconds_per_step()}




@contextlib.contextmanager
def precision_policy(name):
    """Keras' global dtype policy `name` while the nets are built, float32 again after."""
    if name not in PRECISIONS:
        raise ValueError(f"train.precision={name!r}: choose one of {', '.join(PRECISIONS)}")
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


def save_model(model, path):
    with files.atomic_path(path) as tmp:
        model.save(tmp)


def load_model(stage_dir):
    path = os.path.join(stage_dir, MODEL_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: trained model missing; run its stage first")
    return keras.saving.load_model(path, compile=False)
