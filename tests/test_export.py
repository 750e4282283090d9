"""--stage=export and python -m tfguided.predict (issue 5): the SavedModel serves any image size
in a process that never imports tfguided, and gives what the evaluation computes."""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf

from conftest import run_cli, shared_path
from tfguided import configs
from tfguided.crf import crf_labels
from tfguided.data import labelmap, records
from tfguided.inference import full_size_fn
from tfguided.train import loop

pytestmark = pytest.mark.slow  # every test serves the tiny chain's segmenter (tiny_run)

PHOTO = ("voc12_mini", "VOC2012", "JPEGImages", "2007_000032.jpg")  # 500 x 281, a real photo

SERVE_WITHOUT_TFGUIDED = """
import sys
import cv2, numpy as np, tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
image = np.ascontiguousarray(cv2.imread(sys.argv[2])[..., ::-1])
out = model.serve(tf.constant(image))
np.savez(sys.argv[3], labels=out["labels"].numpy(), probabilities=out["probabilities"].numpy())
print("tfguided imported:", any(m.split(".")[0] == "tfguided" for m in sys.modules))
"""


@pytest.fixture(scope="module")
def exported(tiny_run):
    workdir, _ = tiny_run
    out = run_cli(["train_main.py", "--stage=export", "--preset=tiny", f"--workdir={workdir}"]).stdout
    path = os.path.join(workdir, "export-g2", "saved_model")
    assert f"SavedModel in {path}" in out and "[segmenter] reusing" in out
    return workdir, path


def test_saved_model_serves_a_real_photo_without_tfguided(exported, tmp_path):
    workdir, path = exported
    photo = shared_path(*PHOTO)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", SERVE_WITHOUT_TFGUIDED, path, photo,
                           str(tmp_path / "out.npz")], cwd=tmp_path, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "tfguided imported: False" in proc.stdout
    served = np.load(tmp_path / "out.npz")
    image = cv2.imread(photo)[..., ::-1]
    assert served["labels"].shape == image.shape[:2] == (281, 500) and served["labels"].dtype == np.uint8
    model = loop.load_model(os.path.join(workdir, "segmenter-g2"))
    expected = full_size_fn(model, configs.preset("tiny").segmenter.net.scale)(image)
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)
    top2 = np.sort(expected, axis=-1)[..., -2:]
    clear = top2[..., 1] - top2[..., 0] > 1e-4  # pixels that are not near-ties
    assert clear.mean() > 0.99
    np.testing.assert_array_equal(served["labels"][clear], expected.argmax(-1)[clear])
    with open(os.path.join(path, "class_names.txt")) as f:
        assert f.read().split() == records.read_manifest(os.path.join(workdir, "data", "target"))["class_names"]


def test_predict_cli_writes_palette_label_maps_and_overlays(exported, tmp_path):
    _, path = exported
    photo = shared_path(*PHOTO)
    out_dir = tmp_path / "pred"
    proc = run_cli(["-m", "tfguided.predict", f"--model={path}", f"--out={out_dir}", photo])
    assert any(line.startswith(photo + ": ") for line in proc.stdout.splitlines())
    labels = labelmap.decode_label_png((out_dir / "2007_000032.png").read_bytes())
    assert labels.shape == (281, 500) and (out_dir / "2007_000032_overlay.jpg").exists()
    run_cli(["-m", "tfguided.predict", f"--model={path}", f"--out={tmp_path / 'crf'}", "--crf=deeplab", photo])
    model = tf.saved_model.load(path)
    served = model.serve(tf.constant(cv2.imread(photo)[..., ::-1].copy()))
    np.testing.assert_array_equal(labels, served["labels"].numpy())
    with_crf = labelmap.decode_label_png((tmp_path / "crf" / "2007_000032.png").read_bytes())
    image = cv2.imread(photo)[..., ::-1].copy()
    np.testing.assert_array_equal(with_crf, crf_labels(image, served["probabilities"].numpy(), "deeplab", 10))
    bad = run_cli(["-m", "tfguided.predict", f"--model={tmp_path}", photo], check=False)
    assert bad.returncode == 2 and "not a SavedModel directory" in bad.stdout


def test_export_carries_the_evaluations_test_time_views(exported):
    """--override=evaluate.tta.*: the SavedModel averages the same views the evaluation does
    (its own export directory; the trained segmenter is reused)."""
    workdir, _ = exported
    views = ["--override=evaluate.tta.scales=0.75,1.25", "--override=evaluate.tta.flip=true"]
    out = run_cli(["train_main.py", "--stage=export", "--preset=tiny", f"--workdir={workdir}"] + views).stdout
    path = os.path.join(workdir, "export-g2,evaluate.tta.flip=True,evaluate.tta.scales=0.75+1.25", "saved_model")
    assert f"SavedModel in {path}" in out and "[segmenter] reusing" in out
    image = cv2.imread(shared_path(*PHOTO))[..., ::-1].copy()
    saved = tf.saved_model.load(path)  # referenced while serving: its variables go with it
    served = saved.serve(tf.constant(image))["probabilities"].numpy()
    model = loop.load_model(os.path.join(workdir, "segmenter-g2"))
    scale = configs.preset("tiny").segmenter.net.scale
    np.testing.assert_allclose(served, full_size_fn(model, scale, (0.75, 1.25), True)(image), atol=1e-5)
    assert np.abs(served - full_size_fn(model, scale)(image)).max() > 1e-3


def test_predict_serve_encoded_and_serve_give_one_label_map_per_real_jpeg(exported, tmp_path):
    """One decoder from training to serving (imageio.decode_tf): the label maps of `predict`,
    of `serve_encoded` (the JPEG bytes decoded inside the SavedModel) and of `serve` on the
    package's decoding are identical on real photos. TensorFlow's default JPEG decoding (fast
    DCT) gives other pixels, so the test would see two decoders."""
    from tfguided.data import imageio, pipelines
    _, path = exported
    model = tf.saved_model.load(path)
    ids = ("2007_000032", "2007_000033", "2007_000039")
    photos = [shared_path("voc12_mini", "VOC2012", "JPEGImages", f"{i}.jpg") for i in ids]
    run_cli(["-m", "tfguided.predict", f"--model={path}", f"--out={tmp_path}"] + photos)
    encoded = [open(p, "rb").read() for p in photos]
    from_bytes = model.serve_encoded(tf.constant(encoded))["labels_png"].numpy()
    fast_dct_differs = False
    for image_id, data, png in zip(ids, encoded, from_bytes):
        pixels = imageio.decode_image(data)
        trained_on = pipelines.decode({"image": tf.constant(data), "mask": tf.constant(b"")})["pixels"].numpy()
        np.testing.assert_array_equal(trained_on, pixels)
        fast_dct_differs |= bool(np.any(tf.io.decode_image(data, channels=3).numpy() != pixels))
        predicted = labelmap.read_label_png(str(tmp_path / f"{image_id}.png"))
        np.testing.assert_array_equal(predicted, labelmap.decode_label_png(png))
        np.testing.assert_array_equal(predicted, model.serve(tf.constant(pixels))["labels"].numpy())
    assert fast_dct_differs
