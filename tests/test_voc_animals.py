"""The voc_animals chain on a handful of its real photos: a class subset of VOC-indexed
truth, the saliency net trained on GrabCut masks of boxes around non-target photos, the
saliency's quality on val for the net and MB+, the evaluation and export in the subset's classes,
and the exported SavedModel labelling real val photos with those classes only.

Two training steps per net on a few photos: the cost is the stages' start-up, not the photos."""

import contextlib
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from conftest import run_cli, shared_path
from tfguided.data import imageio, labelmap

pytestmark = pytest.mark.slow  # trains the chain in subprocesses

ANIMALS = ["background", "cat", "cow", "dog", "horse", "sheep"]  # the preset's data.classes
TRAIN, VAL, SALIENCY = 8, 3, 4  # photos of each set
SMALL = ["--override=" + o for o in (
    *(f"{net}.train.{field}={value}" for net in ("seeder", "saliency", "segmenter")
      for field, value in (("steps", 2), ("steps_per_epoch", 2), ("batch_size", 2))),
    *(f"{net}.net.input_size=64" for net in ("seeder", "saliency", "segmenter")),
    "guide.panels=1", "evaluate.panels=1", f"segmenter.monitor_images={VAL}")]


def _stage_dir(workdir, prefix):
    return workdir / next(d for d in os.listdir(workdir) if d.startswith(prefix))


@contextlib.contextmanager
def _one_core():
    """Subprocesses started inside run on one core, so the guide's and the evaluation's
    per-image work runs inline instead of in worker processes started for a few photos
    (tfguided/parallel.py)."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, cores)


@pytest.fixture(scope="module")
def animals_run(tmp_path_factory):
    """The first train and val photos of voc12_animals and saliency photos with their boxes, the
    chain run to `--stage=evaluate` and `--stage=export`; (workdir, the val photos' paths)."""
    real = shared_path("voc12_animals")
    root = tmp_path_factory.mktemp("animals")
    voc = root / "VOC2012"
    lists = {s: open(f"{real}/VOC2012/ImageSets/Segmentation/{s}.txt").read().split() for s in ("train", "val")}
    chosen = {"train": lists["train"][:TRAIN], "val": lists["val"][:VAL]}
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True)
    for split, ids in chosen.items():
        (voc / f"ImageSets/Segmentation/{split}.txt").write_text("".join(i + "\n" for i in ids))
        for i in ids:
            shutil.copy(f"{real}/VOC2012/JPEGImages/{i}.jpg", voc / "JPEGImages")
            shutil.copy(f"{real}/VOC2012/SegmentationClass/{i}.png", voc / "SegmentationClass")
    msra = root / "msra"
    (msra / "Image").mkdir(parents=True)
    lines = open(f"{real}/saliency_msra/labels.txt").read().split("\n")
    entries = [lines[1 + 3 * k: 4 + 3 * k] for k in range(SALIENCY)]
    for name, _, _ in entries:
        shutil.copy(f"{real}/saliency_msra/Image/{name}", msra / "Image")
    (msra / "labels.txt").write_text(f"{SALIENCY}\n" + "".join("\n".join(e) + "\n" for e in entries))
    workdir = root / "work"
    args = [f"--workdir={workdir}", f"--override=data.target_root={voc}", f"--override=data.saliency_root={msra}"]
    with _one_core():
        run_cli(["train_main.py", "--preset=voc_animals", "--stage=evaluate"] + args + SMALL)
        run_cli(["train_main.py", "--preset=voc_animals", "--stage=export"] + args + SMALL)
    return workdir, [str(voc / "JPEGImages" / f"{i}.jpg") for i in chosen["val"]]


def test_the_chain_runs_in_the_subsets_classes(animals_run):
    workdir, _ = animals_run
    data = _stage_dir(workdir, "data")
    manifest = json.load(open(data / "target" / "manifest.json"))
    assert manifest["class_names"] == ANIMALS
    assert manifest["splits"]["train"]["count"] == TRAIN and json.load(
        open(data / "saliency" / "manifest.json"))["splits"]["train"]["count"] == SALIENCY
    metrics = json.load(open(_stage_dir(workdir, "evaluate-g2") / "metrics.json"))
    assert set(metrics["per_class_iou"]) == set(ANIMALS)
    saved_model = _stage_dir(workdir, "export-g2") / "saved_model"
    assert (saved_model / "class_names.txt").read_text().split() == ANIMALS


def test_the_export_labels_real_val_photos_in_the_subsets_classes(animals_run, tmp_path):
    """`python -m tfguided.predict` on the val photos: label maps of the photos' size holding only
    the subset's labels 0..5, the same as the SavedModel's `serve` (probabilities over the 6
    classes), and predictions.tsv naming each map's classes by the subset's names."""
    workdir, photos = animals_run
    saved_model = str(_stage_dir(workdir, "export-g2") / "saved_model")
    out = tmp_path / "pred"
    run_cli(["-m", "tfguided.predict", f"--model={saved_model}", f"--out={out}"] + photos)
    model = tf.saved_model.load(saved_model)
    rows = [line.split("\t") for line in (out / "predictions.tsv").read_text().splitlines()[1:]]
    assert [row[0] for row in rows] == photos
    for photo, (_, output, classes, error) in zip(photos, rows):
        _, image = imageio.read_image(photo)
        labels = labelmap.read_label_png(str(out / output))
        assert labels.shape == image.shape[:2] and not error
        assert set(np.unique(labels)) <= set(range(len(ANIMALS)))
        served = model.serve(tf.constant(image))
        assert served["probabilities"].shape == image.shape[:2] + (len(ANIMALS),)
        np.testing.assert_array_equal(served["labels"].numpy(), labels)
        named = [c for c in classes.split(", ") if c]
        assert set(named) <= set(ANIMALS[1:])
        assert named == [ANIMALS[c] for c in np.unique(labels) if c > 0]


def test_guide_quality_has_the_val_saliency_of_the_net_and_mbd(animals_run):
    """The saliency of the net and of MB+ scored on the val photos: a mean IoU, and a share of
    the VAL photos (a multiple of 100 / VAL)."""
    workdir, _ = animals_run
    quality = json.load(open(_stage_dir(workdir, "guide-g2") / "quality.json"))
    assert quality["images"] == TRAIN
    for method in ("net", "mbd"):
        assert 0 <= quality[f"val_saliency_{method}_fg_iou_mean"] <= 100
        share = quality[f"val_saliency_{method}_images_iou_over_0.6"] * VAL / 100
        assert 0 <= share <= VAL and share == pytest.approx(round(share))
    assert 0 <= quality["pseudo_label_miou"] <= 100
