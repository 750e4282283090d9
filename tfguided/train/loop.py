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

from tfguided import files, models  # noqa: F401  (registers the model classes)
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
    """Keras' BackupAndRestore, keeping the previous checkpoint too (`double_checkpoint`), and
    surviving a kill in the middle of its own save: a half-written metadata file falls back to
    the previous checkpoint as a half-written weights file does, and with none to fall back on
    the backup is dropped and training starts over (one epoch lost at most)."""

    def __init__(self, backup_dir):
        super().__init__(backup_dir, delete_checkpoint=True, double_checkpoint=True)

    def _load_model(self):
        try:
            super()._load_model()
        except json.JSONDecodeError as e:
            raise OSError(f"{self._training_metadata_path}: {e}") from e

    def on_train_begin(self, logs=None):
        try:
            super().on_train_begin(logs)
        except OSError as e:
            print(f"backup {self.backup_dir} unreadable ({e}); training from the start")
            shutil.rmtree(self.backup_dir, ignore_errors=True)
            self.model._initial_epoch = 0
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

    `make_dataset()` returns the training batches; `wrap` (optional) turns the built net into
    the model that is fitted, e.g. one adding a loss term (tfguided/train/crf_loss.py); the net
    itself is what is saved and returned. `monitors`: functions net -> Keras callback that add
    epoch logs (tfguided/train/monitor.py), run before TensorBoard writes them. The random state
    is set from train_cfg.rng_seed before the dataset (its shuffle and per-example augmentation seeds
    take the global seed) and the weights are made, so a run from scratch repeats whatever ran
    before it in the process.
    """
    keras.utils.set_random_seed(train_cfg.rng_seed)
    dataset = make_dataset()
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
    epochs, steps_per_epoch = epoch_plan(train_cfg.steps, train_cfg.steps_per_epoch)
    print(f"{stage}: {train_cfg.steps} steps on {strategy.num_replicas_in_sync} replica(s), "
          f"{train_cfg.batch_size} images per replica")
    timer = StepTimer()
    callbacks = [
        StopOnNaN(stage),
        StopAtStep(train_cfg.steps),
        timer,
        Backup(os.path.join(stage_dir, "backup")),
        *[monitor(net) for monitor in monitors],
        keras.callbacks.TensorBoard(os.path.join(stage_dir, "logs"), update_freq="epoch"),
    ]
    with fitting(model, strategy):
        history = model.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch,
                            callbacks=callbacks, verbose=1 if sys.stdout.isatty() else 2)
    save_model(net, os.path.join(stage_dir, MODEL_FILE))
    return net, {**{k: [float(v) for v in vals] for k, vals in history.history.items()},
                 "seconds_per_step": timer.seconds_per_step()}


PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


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
