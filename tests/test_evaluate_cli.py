"""python -m tfguided.evaluate: VOC-devkit scoring of PNG folders, on hand-made label maps."""

import json
import os
import re

import numpy as np
import pytest

from conftest import run_cli, shared_path
from tfguided import evaluate
from tfguided.data import labelmap

GT = {"a": np.array([[0, 1, 1], [255, 2, 2]], np.uint8), "b": np.zeros((2, 2), np.uint8)}
PRED = {"a": np.array([[0, 1, 2], [1, 2, 0]], np.uint8), "b": np.zeros((2, 2), np.uint8)}


def write_folders(root, gt=GT, pred=PRED, grayscale_pred=False):
    for name, maps in (("gt", gt), ("pred", pred)):
        (root / name).mkdir(exist_ok=True)
        for image_id, labels in maps.items():
            path = root / name / f"{image_id}.png"
            if name == "pred" and grayscale_pred:
                path.write_bytes(labelmap.encode_index_png(labels))
            else:
                labelmap.write_label_png(str(path), labels)
    return str(root / "pred"), str(root / "gt")


def test_confusion_over_the_whole_set_by_hand(tmp_path):
    """Class IoUs over both images: bg 5/6 (TP 5, FP 1), c1 1/2, c2 1/3; void and the prediction
    under it are skipped. (Per-image averaging would give another number.)"""
    pred_dir, gt_dir = write_folders(tmp_path, grayscale_pred=True)
    conf = evaluate.score_folders(pred_dir, gt_dir, ["a", "b"], 3)
    np.testing.assert_array_equal(conf, [[5, 0, 0], [0, 1, 1], [1, 0, 1]])
    assert conf.dtype == np.int64


@pytest.mark.slow
def test_cli_prints_table_and_writes_json(tmp_path):
    pred_dir, gt_dir = write_folders(tmp_path)
    ids = tmp_path / "ids.txt"
    ids.write_text("a\nb\n")
    out = tmp_path / "scores.json"
    proc = run_cli(["-m", "tfguided.evaluate", f"--pred_dir={pred_dir}", f"--gt_dir={gt_dir}",
                    f"--ids={ids}", "--num_classes=3", f"--out={out}"])
    expected = (5 / 6 + 1 / 2 + 1 / 3) / 3 * 100
    assert f"mIoU={expected:.2f} over 2 images" in proc.stdout
    assert "| class_2 | 33.3 |" in proc.stdout
    result = json.loads(out.read_text())
    assert result["miou"] == pytest.approx(expected)
    assert result["per_class_iou"]["class_0"] == pytest.approx(500 / 6)


def test_default_ids_are_the_ground_truth_files(tmp_path):
    pred_dir, gt_dir = write_folders(tmp_path)
    assert evaluate.read_ids(None, gt_dir) == ["a", "b"]


@pytest.mark.parametrize("case, message", [
    ("missing", "b.png"),
    ("size", "a.png: size 2x2 differs from the ground truth"),
    ("pred_value", "a.png: label values [7] outside 0..2; check --num_classes"),
    ("gt_value", "a.png: label values [9] outside 0..2 and 255 (void)"),
])
def test_refuses_bad_folders_by_name(tmp_path, case, message):
    gt, pred = dict(GT), dict(PRED)
    if case == "missing":
        pred.pop("b")
    elif case == "size":
        pred["a"] = np.zeros((2, 2), np.uint8)
    elif case == "pred_value":
        pred["a"] = np.where(pred["a"] == 2, 7, pred["a"]).astype(np.uint8)
    else:
        gt["a"] = np.where(gt["a"] == 2, 9, gt["a"]).astype(np.uint8)
    pred_dir, gt_dir = write_folders(tmp_path, gt, pred)
    with pytest.raises((ValueError, FileNotFoundError), match=re.escape(message)):
        evaluate.score_folders(pred_dir, gt_dir, ["a", "b"], 3)


@pytest.mark.slow
def test_cli_error_exit(tmp_path):
    pred_dir, gt_dir = write_folders(tmp_path)
    ids = tmp_path / "ids.txt"
    ids.write_text("a\nc\n")
    proc = run_cli(["-m", "tfguided.evaluate", f"--pred_dir={pred_dir}", f"--gt_dir={gt_dir}",
                    f"--ids={ids}", "--num_classes=3"], check=False)
    assert proc.returncode == 2 and "c.png" in proc.stdout
    ids.write_text("a\na\n")
    proc = run_cli(["-m", "tfguided.evaluate", f"--pred_dir={pred_dir}", f"--gt_dir={gt_dir}",
                    f"--ids={ids}", "--num_classes=3"], check=False)
    assert proc.returncode == 2 and "duplicate ids ['a']" in proc.stdout


def test_real_voc_masks_against_a_plain_numpy_count(tmp_path):
    """20 real VOC val masks scored against copies with every object shifted 8 px right, against
    a confusion matrix counted with plain numpy loops over the same files."""
    gt_dir = shared_path("voc12_val_masks")
    ids = sorted(name[:-4] for name in os.listdir(gt_dir))[:20]
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    expected = np.zeros((21, 21), np.int64)
    for image_id in ids:
        gt = labelmap.read_label_png(f"{gt_dir}/{image_id}.png")
        pred = np.roll(np.where(gt == 255, 0, gt), 8, axis=1).astype(np.uint8)
        labelmap.write_label_png(str(pred_dir / f"{image_id}.png"), pred)
        for g, p in zip(gt.ravel(), pred.ravel()):
            if g != 255:
                expected[g, p] += 1
    conf = evaluate.score_folders(str(pred_dir), gt_dir, ids, 21)
    np.testing.assert_array_equal(conf, expected)
    assert 0 < np.trace(conf) < conf.sum()


@pytest.mark.slow
def test_class_subset_against_voc_indexed_truth(tmp_path):
    """Truth in VOC indices (cat 8, dog 12, person 15, void), predictions in the subset's labels
    (cat 1, dog 2): person counts as background. By hand: bg TP 2 (the person pixel predicted 0
    and the 0 pixel), cat TP 1 FN 1 (-> dog), dog TP 1 FP 1: IoU bg 1, cat 1/2, dog 1/2."""
    gt = {"a": np.array([[0, 8, 8], [15, 12, 255]], np.uint8)}
    pred = {"a": np.array([[0, 1, 2], [0, 2, 1]], np.uint8)}
    pred_dir, gt_dir = write_folders(tmp_path, gt, pred)
    out = tmp_path / "m.json"
    proc = run_cli(["-m", "tfguided.evaluate", f"--pred_dir={pred_dir}", f"--gt_dir={gt_dir}",
                    "--classes=cat,dog", f"--out={out}"])
    result = json.loads(out.read_text())
    assert result["per_class_iou"] == {"background": 100.0, "cat": 50.0, "dog": 50.0}
    assert "cat" in proc.stdout and abs(result["miou"] - 200 / 3) < 1e-9
    bad = run_cli(["-m", "tfguided.evaluate", f"--pred_dir={pred_dir}", f"--gt_dir={gt_dir}",
                   "--classes=cat,kitten"], check=False)
    assert bad.returncode == 2 and "kitten" in bad.stdout
