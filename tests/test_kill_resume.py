"""A stage killed with SIGKILL (preemption) and rerun (issue 5): training continues from its last
checkpoint instead of step 0, and the guide stage keeps its finished shards and labels only the
rest, into the same records; the killed stage's labelling worker processes exit with it."""

import glob
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO, run_cli
from tfguided.data import records

pytestmark = pytest.mark.slow  # each test trains in a subprocess


def _start(args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    return subprocess.Popen([sys.executable, "train_main.py"] + args, cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _run(args):
    return run_cli(["train_main.py"] + args)


def _children(pid):
    """Pids of the processes whose parent is `pid` (Linux /proc)."""
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.split("/")[2]))
    return out


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _kill_when(proc, ready, timeout=600, signal_number=signal.SIGKILL, returncode=-signal.SIGKILL):
    """Sends `signal_number` (SIGKILL) to `proc` as soon as ready() holds; fails if it ended
    first or exits other than `returncode`. Returns the pids of its children at the time."""
    start = time.time()
    while not ready():
        assert proc.poll() is None, f"finished before it could be killed:\n{proc.stdout.read()[-3000:]}"
        assert time.time() - start < timeout, "never got ready to be killed"
        time.sleep(0.05)
    children = _children(proc.pid)
    proc.send_signal(signal_number)
    out = proc.communicate()[0]
    assert proc.returncode == returncode, out[-3000:]
    return children


def test_killed_training_resumes_from_its_last_checkpoint(tmp_path):
    args = ["--stage=seeder", "--preset=tiny", f"--workdir={tmp_path}", "--override=seeder.train.steps=240"]
    _run(["--stage=data"] + args[1:3])  # the data first, so that the kill lands in training
    backup = tmp_path / "seeder,seeder.train.steps=240" / "backup"
    proc = _start(args)
    _kill_when(proc, lambda: (backup / "training_metadata.json.bkp").exists())  # >= 2 epochs saved
    out = _run(args).stdout
    epochs = [int(e) for e in re.findall(r"Epoch (\d+)/6", out)]
    assert epochs and epochs[0] > 1, f"restarted from epoch {epochs[:1]}:\n{out[-2000:]}"
    assert f"resuming from epoch {epochs[0] - 1}" in out
    assert epochs[-1] == 6 and "[seeder] done" in out
    assert not backup.exists(), "the backup goes once training is complete"


def test_killed_guide_stage_keeps_its_finished_shards_and_writes_the_same_records(tmp_path):
    args = ["--stage=guide", "--preset=tiny", f"--workdir={tmp_path}", "--override=data.examples_per_shard=20",
            "--override=seeder.train.steps=20", "--override=saliency.train.steps=20"]  # the labelling is tested
    _run(args)  # seeder, saliency and a first guide; then the guide again, killed mid-write
    guide_dir = next(tmp_path.glob("guide-g2,*"))
    first = records.read_manifest(str(guide_dir))["splits"]["train"]
    for path in [guide_dir / "done.json", guide_dir / records.MANIFEST] + list(guide_dir.glob("train-*")):
        os.remove(path)
    proc = _start(args)
    workers = _kill_when(proc, lambda: len(list(guide_dir.glob("train-*.tfrecord.json"))) >= 2)
    assert workers, "the guide stage labels in worker processes (tfguided/parallel.py)"
    deadline = time.time() + 10
    while any(_alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers), "labelling workers outlived the killed stage"
    kept = len(list(guide_dir.glob("train-*.tfrecord.json")))
    out = _run(args).stdout
    assert f"train: kept {kept} finished shard(s) of 12 of part 1 of 1" in out and kept < 12
    assert f"labelling 240 of 240" in out and f"{240 - 20 * kept}/{240 - 20 * kept} images" in out
    again = records.read_manifest(str(guide_dir))["splits"]["train"]
    assert again == first  # the same shards, checksums, ids and content
    ids = [ex["id"] for ex in records.iterate_numpy(str(guide_dir), "train")]
    assert len(ids) == len(set(ids)) == 240
    assert not [p for p in guide_dir.iterdir() if p.name.startswith(".") and p.name != ".lock"], \
        "temporary files left"  # .lock stays: the stage's lock file, free once its process is gone


def _weights(model_path):
    import keras
    return keras.saving.load_model(str(model_path), compile=False).get_weights()


def test_an_interrupted_training_resumes_to_the_uninterrupted_weights(tiny_data, tmp_path):
    """Ctrl-C in the middle of epoch 2 of 3, then the same command: the segmenter (dropout,
    shuffled and augmented batches) ends with exactly the weights of a run never interrupted,
    because the input pipeline resumes at the restored epoch's first batch and the dropout
    seed state comes back with the weights."""
    steps = ["--override=segmenter.train.steps=60", "--override=segmenter.train.steps_per_epoch=20",
             "--override=segmenter.monitor_images=0", "--override=evaluate.panels=0"]
    common = ["--stage=segmenter", "--preset=tiny", "--guide=gt", f"--data_dir={tiny_data}"] + steps
    name = ("segmenter-gt,segmenter.train.steps=60,segmenter.train.steps_per_epoch=20")
    _run(common + [f"--workdir={tmp_path / 'straight'}"])
    interrupted = tmp_path / "interrupted"
    proc = _start(common + [f"--workdir={interrupted}"])
    metadata = interrupted / name / "backup" / "training_metadata.json"
    _kill_when(proc, metadata.exists, signal_number=signal.SIGINT, returncode=130)
    out = _run(common + [f"--workdir={interrupted}"]).stdout
    assert "resuming from epoch" in out, out[-2000:]
    straight, resumed = _weights(tmp_path / "straight" / name / "model.keras"), _weights(interrupted / name / "model.keras")
    assert len(straight) == len(resumed)
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)
