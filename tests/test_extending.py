"""A newcomer's three changes, made from outside the package (tests/toy_extensions.py, named in
$TFGUIDED_EXTENSIONS): a data source converted by the command line, a guide labeller chosen
with --guide and a backbone chosen with --override, run through train_main.py with no file of
tfguided/ edited."""

import json
import os
import zipfile

import pytest

from conftest import REPO, run_cli

pytestmark = pytest.mark.slow

EXTENSIONS = {"TFGUIDED_EXTENSIONS": "toy_extensions",
              "PYTHONPATH": os.pathsep.join([REPO, os.path.join(REPO, "tests")])}


def test_a_toy_source_guide_and_backbone_run_through_the_command_line(tmp_path):
    data, workdir = tmp_path / "toy_data", tmp_path / "work"
    listed = run_cli(["-m", "tfrecords_tools", "--help"], env=EXTENSIONS).stdout
    assert "toy = squares and discs on a grey floor" in " ".join(listed.split())
    out = run_cli(["-m", "tfrecords_tools", "toy", f"--out={data}", "--count=40"], env=EXTENSIONS).stdout
    assert "toy: 40 pictures per split" in out
    help_text = " ".join(run_cli(["train_main.py", "--help"], env=EXTENSIONS).stdout.split())
    assert "toy = salient pixels get the first image label" in help_text
    args = ["train_main.py", "--preset=tiny", f"--data_dir={data}", f"--workdir={workdir}", "--guide=toy",
            "--saliency=mbd", "--override=num_classes=2", "--override=segmenter.net.backbone=toy",
            "--override=segmenter.train.steps=80"]
    out = run_cli(args + ["--stage=segmenter"], env=EXTENSIONS).stdout
    assert "miou=" in out
    guide_dir = next(workdir.glob("guide-toy*"))
    manifest = json.load(open(guide_dir / "manifest.json"))
    assert manifest["guide"] == "toy" and manifest["class_names"] == ["background", "square", "disc"]
    segmenter_dir = next(workdir.glob("segmenter-toy*"))
    with zipfile.ZipFile(segmenter_dir / "model.keras") as archive:
        assert json.loads(archive.read("config.json"))["config"]["backbone"] == "toy"
    metrics = json.load(open(next(workdir.glob("evaluate-toy*")) / "metrics.json"))
    assert set(metrics["per_class_iou"]) == {"background", "square", "disc"}
    assert not os.path.exists(workdir / "seeder"), "the toy labeller needs no seeder"
    refused = run_cli(args + ["--stage=segmenter"], check=False)  # without the extensions
    assert refused.returncode != 0 and "toy" in refused.stdout
