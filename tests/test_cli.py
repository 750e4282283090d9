"""The converters' command line: python -m tfrecords_tools SOURCE (registry.SOURCES)."""

import json
import os

import pytest

from conftest import run_cli

pytestmark = pytest.mark.slow  # every test here runs the converters' command line


def test_synthetic_then_voc_then_msra(tmp_path):
    raw, voc_out, msra_out = tmp_path / "raw", tmp_path / "voc", tmp_path / "msra"
    run_cli(["-m", "tfrecords_tools", "synthetic", f"--out={raw}", "--preset=tiny", "--seed=2"])
    out = run_cli(["-m", "tfrecords_tools", "voc", f"--voc_root={raw}/VOC2012", f"--out={voc_out}"]).stdout
    assert "voc: train=240, val=48" in out
    out = run_cli(["-m", "tfrecords_tools", "msra", f"--msra_root={raw}/MSRA", f"--out={msra_out}"]).stdout
    assert "msra: train=300" in out
    with open(os.path.join(voc_out, "manifest.json")) as f:
        manifest = json.load(f)
    assert manifest["class_names"] == ["background", "wagon", "disc", "triangle"]
    assert all(len(s["sha256"]) == 64 for s in manifest["splits"]["train"]["shards"])


def test_usage_errors_name_what_is_wrong(tmp_path):
    proc = run_cli(["-m", "tfrecords_tools", "convert", f"--out={tmp_path}"], check=False)
    usage = " ".join(proc.stdout.split())
    assert proc.returncode != 0 and "usage: python -m tfrecords_tools SOURCE" in usage and "voc = a PASCAL VOC2012" in usage
    proc = run_cli(["-m", "tfrecords_tools", "voc", f"--out={tmp_path}"], check=False)
    assert proc.returncode != 0 and "--voc_root" in proc.stdout
    proc = run_cli(["-m", "tfrecords_tools", "voc", f"--voc_root={tmp_path}/nowhere",
                    f"--out={tmp_path}/o"], check=False)
    assert proc.returncode != 0 and "nowhere: no such directory" in proc.stdout
