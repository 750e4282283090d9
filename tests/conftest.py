"""Test setup: two logical CPU devices (so MirroredStrategy has two replicas), shared fixtures."""

import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.environ.get("TFGUIDED_SHARED_DATA", os.path.join(REPO, "..", "shared", "data"))

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


def shared_path(*parts):
    """A path under ../shared/data, or a skip saying it is absent."""
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"real data not found at {path} (set TFGUIDED_SHARED_DATA)")
    return path


def run_cli(args, cwd=REPO, timeout=900, check=True):
    """Runs `python <args>` in a subprocess; returns the CompletedProcess (stdout+stderr text)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    proc = subprocess.run([sys.executable] + list(args), cwd=cwd, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-4000:]}")
    return proc


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """The tiny synthetic dataset, generated and converted once per session."""
    from tfguided import configs
    from tfguided.sources import msra, synthetic, voc

    root = tmp_path_factory.mktemp("tiny_data")
    cfg = configs.preset("tiny").data
    synthetic.generate(str(root / "raw"), cfg.synthetic, rng_seed=0)
    voc.convert(str(root / "raw" / "VOC2012"), str(root / "voc"), verbose=False)
    msra.convert(str(root / "raw" / "MSRA"), str(root / "msra"), verbose=False)
    return root


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A workdir with the whole tiny chain run (`--stage=segmenter`), and its output; shared by
    the end-to-end and export tests."""
    workdir = str(tmp_path_factory.mktemp("tiny_run"))
    proc = run_cli(["train_main.py", "--stage=segmenter", "--preset=tiny", f"--workdir={workdir}"])
    return workdir, proc.stdout


def label_worker(image, labels, cams, saliency, guide_cfg, gt=None, image_id=""):
    """What the guide stage's worker processes run (label_example), on `image` encoded as PNG
    (lossless: the worker decodes exactly `image`); class maps at GAP-HighRes geometry."""
    import cv2
    from tfguided.guide.label import label_example
    data = cv2.imencode(".png", image[..., ::-1])[1].tobytes()
    return label_example(data, image_id, labels, cams, (8, 3.5), saliency, gt, guide_cfg)


def gradient_support_centre(model, images, i):
    """The mean of the first and last image rows that reach output cell (i, i) (by gradient):
    where the cell is centred, if its receptive field is symmetric."""
    import numpy as np
    import tensorflow as tf

    images = tf.constant(images, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(images)
        cell = tf.reduce_sum(model(images, training=False)[:, i, i])
    rows = np.nonzero(np.abs(tape.gradient(cell, images).numpy()).sum(axis=(0, 2, 3)))[0]
    return (rows.min() + rows.max()) / 2
