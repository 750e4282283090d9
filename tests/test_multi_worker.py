"""--strategy=multi_worker (issue 5): two worker processes on loopback train together with
MultiWorkerMirroredStrategy: the same losses as one process at the same global batch, and the
seeder stage end to end, where only the chief writes and the other waits for what is not training."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, run_loopback_workers

pytestmark = pytest.mark.slow  # each test trains in worker subprocesses

# Fits a small DeepLab on one fixed batch of 4 under the strategy TF_CONFIG gives (none: the
# default strategy) through loop.train's `fitting` context; prints the per-step losses as JSON.
FIT_FIXED_BATCH = """
import json, numpy as np, tensorflow as tf, keras
from tfguided.models import deeplab
from tfguided.train import losses, optim
from tfguided.train.strategy import fitting, make_strategy
strategy = make_strategy("multi_worker" if "TF_CONFIG" in __import__("os").environ else "default")
rng = np.random.default_rng(0)
x = rng.uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
y = rng.integers(0, 3, (4, 32, 32)).astype(np.uint8)
dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4).repeat()
with strategy.scope():
    keras.utils.set_random_seed(7)
    model = deeplab.LargeFov(3, width=0.0625, fc_units=8, fc6_dilation=2, dropout=0.0,
                             batch_norm=False, weight_decay=5e-4, input_size=32)
    model.compile(optim.LayerLrSGD(lr_mult=10.0, learning_rate=1e-4, momentum=0.9),
                  losses.UpsampledSparseCrossEntropy())
with fitting(model, strategy):
    history = model.fit(dataset, epochs=4, steps_per_epoch=1, verbose=0)
print("LOSSES", strategy.num_replicas_in_sync, json.dumps(history.history["loss"]))
"""


def _losses(output):
    line = next(l for l in output.splitlines() if l.startswith("LOSSES "))
    _, replicas, values = line.split(" ", 2)
    return np.array(json.loads(values)), int(replicas)


def test_two_workers_take_the_same_steps_as_one_process_at_the_same_global_batch():
    """Each worker sees half of the batch; only gradients summed across the processes give the
    one-process trajectory (each worker alone would step with half the gradient)."""
    single = subprocess.run([sys.executable, "-c", FIT_FIXED_BATCH], cwd=REPO, capture_output=True,
                            text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO))
    assert single.returncode == 0, single.stderr[-3000:]
    losses_one, replicas = _losses(single.stdout)
    assert replicas == 1 and losses_one[-1] < losses_one[0]
    for out in run_loopback_workers([sys.executable, "-c", FIT_FIXED_BATCH]):
        losses_two, replicas = _losses(out)
        assert replicas == 2
        np.testing.assert_allclose(losses_two, losses_one, rtol=2e-3)


def test_two_workers_on_loopback_train_together_and_only_the_chief_writes(tmp_path):
    chief, other = run_loopback_workers([sys.executable, "train_main.py", "--stage=seeder", "--preset=tiny",
                                 "--strategy=multi_worker", f"--workdir={tmp_path}",
                                 "--override=seeder.train.steps=40"])
    for out in (chief, other):
        assert "seeder: 40 steps on 2 replica(s), 16 images per replica" in out
    assert "[seeder] training with the chief (worker 1" in other
    assert "[seeder] done in" in chief and "[seeder] done in" not in other
    for k, out in enumerate((chief, other), 1):  # each converts its half of the data, the chief merges
        assert "data: generating the demo data" in out and f"data: the saliency set, part {k} of 2" in out
    assert "merge: train: 300 examples from 2 parts" in chief and "merge:" not in other
    seeder_dir = tmp_path / "seeder,seeder.train.steps=40"
    assert (seeder_dir / "model.keras").exists() and (seeder_dir / "done.json").exists()
    assert not [p.name for p in seeder_dir.iterdir() if p.name.startswith(".") and p.name != ".lock"], \
        "worker scratch left"
    with open(seeder_dir / "done.json") as f:
        results = json.load(f)["results"]
    assert results["final_loss"] < 0.7  # sigmoid loss on 3 classes starts near 0.69
