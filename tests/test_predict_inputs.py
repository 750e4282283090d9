"""python -m tfguided.predict on many inputs: folders, globs, clashing names, --out checks,
--max_pixels (issue 13, item 10); an --out holding an input is refused, unreadable files are
skipped and listed."""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import REPO, run_cli
from tfguided import configs
from tfguided.data import imageio, labelmap
from tfguided.models import deeplab
from tfguided.stages import export


pytestmark = pytest.mark.slow  # every test here runs the predict command line

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
             ([f"--out={tmp_path / 'o'}", str(root / "missing.jpg")], "no such file or folder")]
    for args, message in cases:
        proc = run_cli(["-m", "tfguided.predict", f"--model={model}"] + args, check=False)
        assert proc.returncode == 2 and message in proc.stdout and "Traceback" not in proc.stdout, proc.stdout
    proc = run_cli(["-m", "tfguided.predict", f"--model={model}", f"--out={tmp_path / 'o'}", "--max_pixels=1000",
                    str(root / "a")], check=False)  # an image too large is skipped like an unreadable one
    assert proc.returncode == 1 and "--max_pixels" in proc.stdout and "Traceback" not in proc.stdout, proc.stdout


def predict(model, *args, cwd=REPO):
    """Runs python -m tfguided.predict; returns the CompletedProcess, stdout and stderr apart."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    return subprocess.run([sys.executable, "-m", "tfguided.predict", f"--model={model}", *args], cwd=cwd,
                          env=env, timeout=900, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_out_holding_an_input_is_refused_however_spelled(model_and_photos, tmp_path):
    """--out=the input folder would write the label map x.png over the photo x.png, and the next
    run would label x.png and x_overlay.jpg: refused before anything is written, whether spelled
    alike, differently or through a link. A subfolder of the input folder is fine (folders are
    not searched recursively)."""
    model, _ = model_and_photos
    shots = tmp_path / "shots"
    imageio.write_image(str(shots / "x.png"), np.full((12, 16, 3), 200, np.uint8))
    photo = (shots / "x.png").read_bytes()
    os.symlink(shots, tmp_path / "link")
    for out in ("shots", "./shots/", "link"):
        proc = predict(model, f"--out={out}", "shots", cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert f"error: --out={out}: holds the input shots/x.png" in proc.stderr and "give --out" in proc.stderr
        assert os.listdir(shots) == ["x.png"] and (shots / "x.png").read_bytes() == photo
    proc = predict(model, "--out=shots/pred", "shots", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(shots / "pred")) == ["predictions.tsv", "x.png", "x_overlay.jpg"]
    assert (shots / "x.png").read_bytes() == photo


def test_two_inputs_given_one_output_name_are_refused(model_and_photos, tmp_path):
    """a/x.jpg and b/x.jpg become a__x.png and b__x.png, which a third input named a__x.jpg
    would share: refused rather than one label map written over the other."""
    model, _ = model_and_photos
    for name in ("a/x.jpg", "b/x.jpg", "c/a__x.jpg"):
        imageio.write_image(str(tmp_path / name), np.zeros((8, 8, 3), np.uint8))
    proc = predict(model, f"--out={tmp_path / 'pred'}", *(str(tmp_path / f) for f in "abc"))
    assert proc.returncode == 2, proc.stderr
    assert f"{tmp_path / 'a' / 'x.jpg'} and {tmp_path / 'c' / 'a__x.jpg'} would both be labelled as a__x.png" \
        in proc.stderr
    assert not (tmp_path / "pred").exists()


def test_unreadable_files_are_skipped_listed_and_exit_1(model_and_photos, tmp_path):
    """Every readable photo is labelled; a corrupt and a truncated JPEG are skipped, listed with
    their reasons in predictions.tsv and at the end of stderr, and the exit status is 1."""
    model, _ = model_and_photos
    shots, out = tmp_path / "shots", tmp_path / "pred"
    rng = np.random.default_rng(1)
    imageio.write_image(str(shots / "good1.jpg"), rng.integers(0, 256, (20, 24, 3)).astype(np.uint8))
    imageio.write_image(str(shots / "good2.png"), rng.integers(0, 256, (16, 16, 3)).astype(np.uint8))
    (shots / "corrupt.jpg").write_bytes(b"\xff\xd8 broken")
    whole = cv2.imencode(".jpg", rng.integers(0, 256, (64, 64, 3)).astype(np.uint8))[1].tobytes()
    (shots / "truncated.jpg").write_bytes(whole[:len(whole) // 2])
    proc = predict(model, f"--out={out}", str(shots))
    assert proc.returncode == 1, proc.stderr
    assert sorted(f for f in os.listdir(out) if f.endswith(".png")) == ["good1.png", "good2.png"]
    assert labelmap.read_label_png(str(out / "good1.png")).shape == (20, 24)
    header, *rows = (out / "predictions.tsv").read_text().splitlines()
    assert header == "input\toutput\tclasses\terror"
    table = {os.path.basename(r.split("\t")[0]): r.split("\t")[1:] for r in rows}
    assert sorted(table) == ["corrupt.jpg", "good1.jpg", "good2.png", "truncated.jpg"]
    assert table["good1.jpg"][0] == "good1.png" and table["good1.jpg"][2] == ""
    for bad in ("corrupt.jpg", "truncated.jpg"):
        assert table[bad][:2] == ["", ""] and "not a decodable image" in table[bad][2]
    tail = "\n".join(proc.stderr.strip().splitlines()[-3:])
    assert str(shots / "corrupt.jpg") in tail and str(shots / "truncated.jpg") in tail


def test_a_model_pattern_must_match_exactly_one_saved_model(model_and_photos, tmp_path):
    """`--model=runs/custom/export-g2*/saved_model` (README's command: a shell does not expand a
    pattern inside `--model=...`) names the one export it matches; none or two are refused."""
    model, root = model_and_photos
    out = tmp_path / "pred"
    run_cli(["-m", "tfguided.predict", f"--model={root / 'saved_*'}", f"--out={out}", str(root / "a")])
    assert (out / "x.png").exists()
    for name in ("export-g2,cfg1", "export-g2,cfg2"):
        os.makedirs(tmp_path / name / "saved_model")
        (tmp_path / name / "saved_model" / "saved_model.pb").write_bytes(b"")
    for pattern, message in ((tmp_path / "export-*" / "nothing", "matches 0 SavedModel directories"),
                             (tmp_path / "export-g2*" / "saved_model", "matches 2 SavedModel directories (")):
        proc = run_cli(["-m", "tfguided.predict", f"--model={pattern}", f"--out={tmp_path / 'o'}", str(root / "a")],
                       check=False)
        assert proc.returncode == 2 and message in proc.stdout and "Traceback" not in proc.stdout, proc.stdout
    assert "cfg1/saved_model, " in proc.stdout and "; name one" in proc.stdout and not (tmp_path / "o").exists()
