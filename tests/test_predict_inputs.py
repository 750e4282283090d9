"""python -m tfguided.predict on many inputs: folders, globs, clashing names, --out checks,
--max_pixels (issue 13, item 10)."""

import os

import numpy as np
import pytest

from conftest import run_cli
from tfguided import configs
from tfguided.data import imageio, labelmap
from tfguided.models import deeplab
from tfguided.stages import export


@pytest.fixture(scope="module")
def model_and_photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    cfg = configs.preset("tiny").segmenter
    path = str(root / "saved_model")
    export.export(deeplab.build(3, cfg.net, cfg.train.weight_decay, name="segmenter"), 1.0,
                  ["background", "a", "b"], path)
    rng = np.random.default_rng(0)
    for folder, name, size in (("a", "x.jpg", (30, 40)), ("b", "x.jpg", (20, 24)), ("b", "y.png", (16, 16)),
                               ("c", "z.jpg", (8, 8)), ("c", "z.png", (8, 8))):
        imageio.write_image(str(root / folder / name), rng.integers(0, 256, size + (3,)).astype(np.uint8))
    return path, root


def test_folders_and_globs_keep_every_output(model_and_photos, tmp_path):
    model, root = model_and_photos
    out = tmp_path / "pred"
    run_cli(["-m", "tfguided.predict", f"--model={model}", f"--out={out}", str(root / "a"),
             str(root / "b" / "*.jpg"), str(root / "b" / "y.png")])
    assert sorted(f for f in os.listdir(out) if f.endswith(".png")) == ["a__x.png", "b__x.png", "y.png"]
    assert labelmap.read_label_png(str(out / "b__x.png")).shape == (20, 24)
    rows = (out / "predictions.tsv").read_text().splitlines()
    assert len(rows) == 4 and rows[1].split("\t")[1] == "a__x.png"
    run_cli(["-m", "tfguided.predict", f"--model={model}", f"--out={out / 'c'}", str(root / "c")])
    assert sorted(f for f in os.listdir(out / "c") if f.endswith(".png")) == ["z_jpg.png", "z_png.png"]


def test_bad_out_missing_input_and_max_pixels_are_explained(model_and_photos, tmp_path):
    model, root = model_and_photos
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = [([f"--out={a_file}", str(root / "a")], "is a file"),
             ([f"--out={tmp_path / 'o'}", str(root / "nothing*.jpg")], "pattern matches no file"),
             ([f"--out={tmp_path / 'o'}", str(root / "missing.jpg")], "no such file or folder"),
             ([f"--out={tmp_path / 'o'}", "--max_pixels=1000", str(root / "a")], "--max_pixels")]
    for args, message in cases:
        proc = run_cli(["-m", "tfguided.predict", f"--model={model}"] + args, check=False)
        assert proc.returncode == 2 and message in proc.stdout and "Traceback" not in proc.stdout, proc.stdout
