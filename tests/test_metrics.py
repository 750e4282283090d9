"""Evaluation metrics (DESIGN.md §4, §6): VOC confusion matrix and IoU, guide supervision
precision/recall (Table 2), VOC average precision (Table 1 mAP)."""

import numpy as np
import pytest

from tfguided.eval.metrics import (average_precision, confusion_matrix, guide_quality,
                                   guide_quality_counts, iou_table, mean_average_precision,
                                   mean_iou, per_class_iou)


def random_maps(seed, num_labels, shape=(17, 23)):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, num_labels, shape).astype(np.uint8)
    gt[rng.random(shape) < 0.1] = 255
    pred = rng.integers(0, num_labels, shape).astype(np.uint8)
    return gt, pred


def test_confusion_matrix_and_iou_match_a_pixel_loop():
    """Rows = ground truth, columns = prediction, void (255) ground truth skipped; IoU = TP /
    (TP + FP + FN) and mIoU (percent) checked against per-pixel counting."""
    num_labels = 6
    gt, pred = random_maps(0, num_labels)
    conf_ref = np.zeros((num_labels, num_labels), np.int64)
    tp, fp, fn = np.zeros(num_labels), np.zeros(num_labels), np.zeros(num_labels)
    for g, p in zip(gt.ravel().tolist(), pred.ravel().tolist()):
        if g == 255:
            continue
        conf_ref[g, p] += 1
        if g == p:
            tp[g] += 1
        else:
            fn[g] += 1
            fp[p] += 1
    conf = confusion_matrix(gt, pred, num_labels)
    assert conf.dtype == np.int64
    np.testing.assert_array_equal(conf, conf_ref)
    assert conf.sum() == np.sum(gt != 255)
    iou_ref = tp / (tp + fp + fn)
    np.testing.assert_allclose(per_class_iou(conf), iou_ref, rtol=1e-12)
    assert mean_iou(conf) == pytest.approx(100 * iou_ref.mean(), rel=1e-12)


def test_counts_past_2_pow_24_stay_exact():
    """int64 counts (DESIGN.md §6): 2**24 + 1 pixels are counted exactly (float32 gives 2**24)."""
    n = 2 ** 24 + 1
    zeros = np.zeros(n, np.uint8)
    conf = confusion_matrix(zeros, zeros, 2)
    assert conf.dtype == np.int64
    assert conf[0, 0] == n
    assert (conf + conf)[0, 0] == 2 * n


def test_tiny_miou_by_hand():
    """gt [0 0 1 1 2 255], pred [0 1 1 1 2 0]: IoU0 = 1/2, IoU1 = 2/3, IoU2 = 1, mIoU = 72.22%.
    The void pixel (predicted 0) must not count, or IoU0 would be 1/3."""
    gt = np.array([[0, 0, 1], [1, 2, 255]], np.uint8)
    pred = np.array([[0, 1, 1], [1, 2, 0]], np.uint8)
    conf = confusion_matrix(gt, pred, 3)
    np.testing.assert_array_equal(conf, [[1, 1, 0], [0, 2, 0], [0, 0, 1]])
    np.testing.assert_allclose(per_class_iou(conf), [1 / 2, 2 / 3, 1.0])
    assert mean_iou(conf) == pytest.approx(100 * (1 / 2 + 2 / 3 + 1) / 3)


def test_class_absent_from_gt_and_prediction_is_nan_and_left_out():
    """A class in neither ground truth nor prediction has no IoU (NaN) and is not averaged; a
    class only in the prediction has IoU 0 and is averaged."""
    gt = np.array([0, 0, 1, 1], np.uint8)
    pred = np.array([0, 2, 1, 1], np.uint8)
    conf = confusion_matrix(gt, pred, 4)
    iou = per_class_iou(conf)
    np.testing.assert_allclose(iou[:3], [1 / 2, 1.0, 0.0])
    assert np.isnan(iou[3])
    assert mean_iou(conf) == pytest.approx(100 * (1 / 2 + 1 + 0) / 3)


def test_out_of_range_labels_raise():
    """Predictions (or non-void ground truth) outside 0..num_labels-1, and size mismatches, are
    errors, not silently dropped."""
    gt = np.array([0, 1, 2], np.uint8)
    with pytest.raises(ValueError, match="6"):
        confusion_matrix(gt, np.array([0, 1, 6], np.uint8), 6)
    with pytest.raises(ValueError):
        confusion_matrix(gt, np.array([0, 255, 1], np.uint8), 6)
    with pytest.raises(ValueError):
        confusion_matrix(np.array([0, 9, 1], np.uint8), np.array([0, 1, 1], np.uint8), 6)
    with pytest.raises(ValueError):
        confusion_matrix(gt, np.array([0, 1], np.uint8), 6)


def test_guide_quality_by_hand():
    """Table 2 supervision columns. gt [0 0 0 1 1 2 2 | 255], guide [0 255 1 1 255 2 0 | 1]:
    fg labelled = 3 (two correct), fg gt = 4, bg labelled = 2 (one correct), bg gt = 3; the void
    pixel is skipped. Fg P/R = 66.7/50, Bg P/R = 50/33.3."""
    gt = np.array([0, 0, 0, 1, 1, 2, 2, 255], np.uint8)
    guide = np.array([0, 255, 1, 1, 255, 2, 0, 1], np.uint8)
    counts = guide_quality_counts(gt, guide)
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(counts, [2, 3, 4, 1, 2, 3])
    quality = guide_quality(counts)
    assert quality["fg_precision"] == pytest.approx(200 / 3)
    assert quality["fg_recall"] == pytest.approx(50.0)
    assert quality["bg_precision"] == pytest.approx(50.0)
    assert quality["bg_recall"] == pytest.approx(100 / 3)
    assert np.isnan(guide_quality(np.zeros(6, np.int64))["fg_precision"])


def test_average_precision_by_hand():
    """VOC AP with the monotone precision envelope.

    Scores .9 .8 .7 .6, positives 1 0 1 0: precision 1, 1/2, 2/3, 1/2 at recall .5, .5, 1, 1 ->
    AP = .5 * 1 + .5 * 2/3 = 5/6 (input order must not matter). Positives 0 1 1: precision 0,
    1/2, 2/3 at recall 0, .5, 1; the envelope lifts 1/2 to 2/3 -> AP = 2/3 (not 7/12).
    """
    assert average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(5 / 6)
    assert average_precision([0.6, 0.7, 0.9, 0.8], [0, 1, 1, 0]) == pytest.approx(5 / 6)
    assert average_precision([0.9, 0.8, 0.7], [0, 1, 1]) == pytest.approx(2 / 3)
    assert average_precision([0.9, 0.8, 0.7], [1, 1, 0]) == pytest.approx(1.0)
    assert np.isnan(average_precision([0.9, 0.8], [0, 0]))


def test_mean_average_precision_skips_classes_without_positives():
    """mAP in percent over classes with a positive: (5/6 + 1) / 2 = 91.67%."""
    scores = np.array([[0.9, 0.1, 0.5], [0.8, 0.2, 0.5], [0.7, 0.9, 0.5], [0.6, 0.8, 0.5]])
    targets = np.array([[1, 0, 0], [0, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32)
    assert mean_average_precision(scores, targets) == pytest.approx(100 * (5 / 6 + 1) / 2)


def test_iou_table_rows():
    """Markdown IoU table: a row per class in percent, '-' for a class with no IoU, mIoU last."""
    conf = confusion_matrix(np.array([0, 0, 1, 1], np.uint8), np.array([0, 1, 1, 1], np.uint8), 3)
    lines = iou_table({"G2": conf}, ["background", "cat", "dog"]).splitlines()
    assert lines[0] == "| class | G2 |"
    assert lines[2:] == ["| background | 50.0 |", "| cat | 66.7 |", "| dog | - |",
                         "| **mIoU** | **58.3** |"]


def test_saliency_stats_by_hand():
    """Image 1: truth fg 4 pixels (one void pixel skipped), saliency 4 of which 2 on truth: IoU
    2/6. Image 2: saliency = truth: IoU 1. Image 3: no fg anywhere: IoU 1. Mean (1/3+1+1)/3,
    two of three images above 0.6."""
    from tfguided.eval.metrics import SaliencyStats
    stats = SaliencyStats()
    gt = np.array([[1, 1, 0, 0], [2, 2, 0, 255]], np.uint8)
    fg = np.array([[1, 0, 1, 1], [0, 1, 0, 1]], bool)
    stats.add(gt, fg)
    stats.add(gt, (gt > 0) & (gt != 255))
    stats.add(np.zeros((2, 2), np.uint8), np.zeros((2, 2), bool))
    result = stats.results("val_")
    assert abs(result["val_fg_iou_mean"] - 100 * (1 / 3 + 2) / 3) < 1e-9
    assert abs(result["val_images_iou_over_0.6"] - 200 / 3) < 1e-9
    assert SaliencyStats().results() == {}
