"""The voc_animals chain (issue 12) on a handful of its real photos, in seconds: a class subset of
VOC-indexed truth, the saliency net trained on GrabCut masks of boxes around non-target photos,
the saliency's quality on val for the net and MB+, the evaluation and export in the subset's
classes."""

import json
import os
import shutil

import pytest

from conftest import run_cli, shared_path

SMALL = ["--override=" + o for o in (
    "seeder.train.steps=8", "saliency.train.steps=8", "segmenter.train.steps=8",
    "seeder.train.steps_per_epoch=4", "saliency.train.steps_per_epoch=4", "segmenter.train.steps_per_epoch=4",
    "seeder.train.batch_size=4", "saliency.train.batch_size=4", "segmenter.train.batch_size=4",
    "seeder.net.input_size=96", "saliency.net.input_size=96", "segmenter.net.input_size=96",
    "guide.panels=2", "evaluate.panels=2", "segmenter.monitor_images=4")]


@pytest.fixture(scope="module")
def animals_run(tmp_path_factory):
    """16 train and 6 val photos of voc12_animals, 10 saliency photos with their boxes."""
    real = shared_path("voc12_animals")
    root = tmp_path_factory.mktemp("animals")
    voc = root / "VOC2012"
    lists = {s: open(f"{real}/VOC2012/ImageSets/Segmentation/{s}.txt").read().split() for s in ("train", "val")}
    chosen = {"train": lists["train"][:16], "val": lists["val"][:6]}
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
    entries = [lines[1 + 3 * k: 4 + 3 * k] for k in range(10)]
    for name, _, _ in entries:
        shutil.copy(f"{real}/saliency_msra/Image/{name}", msra / "Image")
    (msra / "labels.txt").write_text("10\n" + "".join("\n".join(e) + "\n" for e in entries))
    workdir = root / "work"
    args = [f"--workdir={workdir}", f"--override=data.voc_root={voc}", f"--override=data.msra_root={msra}"]
    out = run_cli(["train_main.py", "--preset=voc_animals", "--stage=evaluate"] + args + SMALL).stdout
    out += run_cli(["train_main.py", "--preset=voc_animals", "--stage=export"] + args + SMALL).stdout
    return workdir, out


def test_the_chain_runs_in_the_subsets_classes(animals_run):
    workdir, out = animals_run
    data = workdir / next(d for d in os.listdir(workdir) if d.startswith("data"))
    manifest = json.load(open(data / "voc" / "manifest.json"))
    assert manifest["class_names"] == ["background", "cat", "cow", "dog", "horse", "sheep"]
    assert manifest["splits"]["train"]["count"] == 16 and json.load(
        open(data / "msra" / "manifest.json"))["splits"]["train"]["count"] == 10
    name = next(d for d in os.listdir(workdir) if d.startswith("evaluate-g2"))
    metrics = json.load(open(workdir / name / "metrics.json"))
    assert set(metrics["per_class_iou"]) == {"background", "cat", "cow", "dog", "horse", "sheep"}
    export = next(d for d in os.listdir(workdir) if d.startswith("export-g2"))
    assert open(workdir / export / "saved_model" / "class_names.txt").read().split() == manifest["class_names"]


def test_guide_quality_has_the_val_saliency_of_the_net_and_mbd(animals_run):
    workdir, _ = animals_run
    guide = next(d for d in os.listdir(workdir) if d.startswith("guide-g2"))
    quality = json.load(open(workdir / guide / "quality.json"))
    for method in ("net", "mbd"):
        assert 0 <= quality[f"val_saliency_{method}_fg_iou_mean"] <= 100
        assert 0 <= quality[f"val_saliency_{method}_images_iou_over_0.6"] <= 100
    assert 0 <= quality["pseudo_label_miou"] <= 100
