"""bench/learning_curves.py on the tiny preset with a few steps per point: every point is its own
stage with the preset's decay scaled to its steps, the tables and the figure are written, and
a rerun reuses every stage (the figures themselves need real training: BUILD_NOTES.md)."""

import json
import os

import pytest

from conftest import bench_module, run_cli
from tfguided.data import imageio
from tfguided.eval import plots

pytestmark = pytest.mark.slow  # trains in a subprocess

ARGS = ["bench/learning_curves.py", "--preset=tiny", "--segmenter_steps=12,24", "--seeder_steps=10,20",
        "--saliency_steps=10,20", "--override=seeder.train.steps=10", "--override=saliency.train.steps=10"]


def _train_configs(workdir, prefix):
    out = {}
    for name in os.listdir(workdir):
        if name.startswith(prefix):
            with open(workdir / name / "config.json") as f:
                train = json.load(f)[prefix.split("-")[0]]["train"]
            out[train["steps"]] = train["decay_every"]
    return out


def test_curves_train_one_stage_per_point_with_the_decay_scaled(tmp_path):
    out, work = tmp_path / "curves.json", tmp_path / "work"
    proc = run_cli(ARGS + [f"--out={out}", f"--workdir={work}"])
    result = json.loads(out.read_text())
    for guide in ("g2", "gt"):
        points = result["segmenter"][guide]
        assert [p["steps"] for p in points] == [12, 24]
        assert all(0 < p["miou"] <= 100 and 0 < p["miou_crf"] <= 100 and p["seconds"] > 0 for p in points)
    assert [p["steps"] for p in result["seeder"]] == [10, 20]
    assert all(0 <= p["val_map"] <= 100 and 0 < p["pseudo_label_miou"] <= 100 for p in result["seeder"])
    assert [p["steps"] for p in result["saliency"]] == [10, 20]
    assert all(0 <= p["val_fg_iou"] <= 100 and 0 < p["pseudo_label_miou"] <= 100 for p in result["saliency"])
    # tiny: segmenter 240 steps, decay every 200; seeder and saliency (--override) 10 steps, decay every 160
    assert _train_configs(work, "segmenter-gt") == {12: 10, 24: 20}
    assert _train_configs(work, "seeder") == {10: 160, 20: 320}  # 10: also the other curves' seeder
    assert _train_configs(work, "saliency") == {10: 160, 20: 320}
    table = (tmp_path / "curves.md").read_text()
    assert "| 24 |" in table and "12 -> 24:" in table and "## Seeder" in proc.stdout
    assert "| saliency steps | val fg IoU |" in table and "saliency val fg IoU: 10 -> 20:" in table
    _, figure = imageio.read_image(str(tmp_path / "curves.png"))
    assert figure.shape[1] == 4 * (plots.SIZE + 2 * plots.MARGIN)  # mIoU, mIoU + CRF, the seeder, the saliency
    rerun = run_cli(ARGS[:2] + ["--curves=segmenter", "--segmenter_steps=24"] + ARGS[5:] +
                    [f"--out={out}", f"--workdir={work}"])
    assert "running into" not in rerun.stdout and "kept from --out: segmenter gt at 24 steps" in rerun.stdout
    extended = json.loads(out.read_text())  # the stored points kept, none trained again
    assert [extended[key] for key in ("segmenter", "seeder", "saliency")] == [
        result[key] for key in ("segmenter", "seeder", "saliency")]


def test_step_lists_must_increase():
    proc = run_cli(ARGS[:1] + ["--out=x.json", "--segmenter_steps=900,450"], check=False)
    assert proc.returncode == 2 and "increasing positive step counts" in proc.stdout
    proc = run_cli(ARGS[:1] + ["--out=x.json", "--preset=demo", "--curves=saliency",
                               "--override=saliency.method=mbd"], check=False)
    assert proc.returncode == 2 and "trains no saliency net (saliency.method=mbd)" in proc.stdout


def test_stored_curves_of_another_run_are_refused_not_extended(tmp_path):
    """An existing --out is extended only if it holds the same preset and overrides; a stored
    point is kept, a new one goes in its place by steps."""
    curves = bench_module("learning_curves")
    stored = tmp_path / "curves.json"
    stored.write_text(json.dumps({"preset": "tiny", "overrides": ["seeder.train.steps=10"],
                                  "seeder": [{"steps": 10, "val_map": 50.0}]}))
    assert curves.stored_result(str(stored), "tiny", ["seeder.train.steps=10"]) == {
        "seeder": [{"steps": 10, "val_map": 50.0}]}
    assert curves.stored_result(str(tmp_path / "absent.json"), "tiny", []) == {}
    with pytest.raises(SystemExit, match="preset 'tiny' with overrides .* not 'demo'"):
        curves.stored_result(str(stored), "demo", ["seeder.train.steps=10"])
    points = [{"steps": 10, "miou": 1.0}, {"steps": 30, "miou": 3.0}]
    assert curves.stored(points, 30, "g2") and not curves.stored(points, 20, "g2")
    curves.add_point(points, {"steps": 20, "miou": 2.0})
    assert points == [{"steps": 10, "miou": 1.0}, {"steps": 20, "miou": 2.0}, {"steps": 30, "miou": 3.0}]
