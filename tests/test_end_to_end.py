"""The whole chain on the tiny preset through the real entry point (issue 2 acceptance)."""

import json
import os

import pytest

from conftest import run_cli


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("tiny_run"))
    proc = run_cli(["train_main.py", "--stage=segmenter", "--preset=tiny", f"--workdir={workdir}"])
    return workdir, proc.stdout


def test_every_stage_ran_and_left_its_artifacts(tiny_run):
    workdir, out = tiny_run
    for stage in ("seeder", "saliency", "guide-g2", "segmenter-g2", "evaluate-g2"):
        assert os.path.exists(os.path.join(workdir, stage, "done.json")), stage
    for stage in ("seeder", "saliency", "segmenter-g2"):
        assert os.path.exists(os.path.join(workdir, stage, "model.keras"))
        assert os.listdir(os.path.join(workdir, stage, "logs", "train")), "TensorBoard scalars"
        assert not os.path.exists(os.path.join(workdir, stage, "backup")), "backup removed when done"
    assert os.path.exists(os.path.join(workdir, "guide-g2", "manifest.json"))
    assert len(os.listdir(os.path.join(workdir, "guide-g2", "panels"))) == 4
    assert "| **mIoU** |" in out


def test_metrics_and_quality_floor(tiny_run):
    """All-background prediction scores about 1/4 of the background IoU (~22 mIoU); demand far more."""
    workdir, _ = tiny_run
    with open(os.path.join(workdir, "evaluate-g2", "metrics.json")) as f:
        m = json.load(f)
    assert set(m["per_class_iou"]) == {"background", "wagon", "disc", "triangle"}
    assert m["miou"] > 35 and m["miou_crf"] > 35, m
    assert all(v is not None and v > 10 for v in m["per_class_iou"].values()), m["per_class_iou"]
    with open(os.path.join(workdir, "guide-g2", "quality.json")) as f:
        q = json.load(f)
    assert q["fg_precision"] > 40 and q["bg_precision"] > 80, q


def test_second_run_reuses_every_stage(tiny_run):
    workdir, _ = tiny_run
    out = run_cli(["train_main.py", "--stage=segmenter", "--preset=tiny", f"--workdir={workdir}"]).stdout
    for stage in ("seeder", "saliency", "guide", "segmenter", "evaluate"):
        assert f"[{stage}] reusing" in out
    assert "Epoch 1/" not in out


def test_bad_flag_values_are_refused_with_the_flag_name(tmp_path):
    proc = run_cli(["train_main.py", "--stage=segmenter", "--preset=tiny", f"--workdir={tmp_path}",
                    "--override=seeder.train.stepz=3"], check=False)
    assert proc.returncode != 0 and "no field 'stepz'" in proc.stdout
    proc = run_cli(["train_main.py", "--stage=segmentor"], check=False)
    assert proc.returncode != 0 and "--stage" in proc.stdout
