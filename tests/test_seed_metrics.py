"""Seed precision-recall curves and mP (§4.2) on a case worked out by hand; the mean shape baseline."""

import numpy as np
import pytest

from tfguided.eval import plots, seed_metrics
from tfguided.seeds import mean_shape


def hand_case():
    """Two 1x4 images. Image 1: gt [1 1 0 0], label 1, map [.9 .3 .6 .1].
    Image 2: gt [2 2 2 0], label 2, map [.8 .8 .4 .4]."""
    pr = seed_metrics.SeedPR(num_classes=2, thresholds=np.linspace(0, 1, 11))
    pr.add(np.array([[[0.9], [0.3], [0.6], [0.1]]], np.float32), [1], np.array([[1, 1, 0, 0]], np.uint8))
    pr.add(np.array([[[0.8], [0.8], [0.4], [0.4]]], np.float32), [2], np.array([[2, 2, 2, 0]], np.uint8))
    return pr.curves()


def test_curves_by_hand():
    c = hand_case()
    k = 5  # tau = 0.5
    # class 1: fg {.9 ok, .6 wrong}: P 1/2, R 1/2; class 2: fg {.8, .8} both right: P 1, R 2/3
    assert c["fg_precision"][k] == pytest.approx((0.5 + 1.0) / 2)
    assert c["fg_recall"][k] == pytest.approx((0.5 + 2 / 3) / 2)
    # background predicted: img1 {.3 (gt 1), .1 (gt 0)}, img2 {.4 (gt 2), .4 (gt 0)}: 2 of 4 right;
    # ground-truth background: 3 pixels
    assert c["bg_precision"][k] == pytest.approx(0.5)
    assert c["bg_recall"][k] == pytest.approx(2 / 3)
    k = 2  # tau = 0.2: class 1 fg {.9, .3, .6}: P 2/3, R 1; class 2 fg {.8 .8 .4 .4}: P 3/4 R 1
    assert c["fg_precision"][k] == pytest.approx((2 / 3 + 3 / 4) / 2)
    assert c["fg_recall"][k] == pytest.approx(1.0)
    assert c["bg_precision"][k] == pytest.approx(1.0) and c["bg_recall"][k] == pytest.approx(1 / 3)
    assert np.isnan(c["bg_precision"][0]) and c["bg_recall"][0] == 0  # tau 0: everything foreground
    assert c["fg_recall"][10] == 0 and c["bg_recall"][10] == 1         # tau 1: nothing reaches it


def test_default_thresholds_resolve_small_scores():
    """Most pixels of a smoothed map sit far below 0.01; the curve must still see them apart."""
    pr = seed_metrics.SeedPR(num_classes=1)
    maps = np.array([[[1.0], [1e-3], [1e-5], [0.0]]], np.float32)
    pr.add(maps, [1], np.array([[1, 1, 0, 0]], np.uint8))
    c = pr.curves()
    recalls = sorted(set(np.round(c["fg_recall"], 6)))
    assert recalls == [0.5, 1.0]
    assert sorted(set(np.round(c["bg_recall"], 6))) == [0.0, 0.5, 1.0]


def test_void_pixels_are_skipped():
    pr = seed_metrics.SeedPR(num_classes=1, thresholds=np.linspace(0, 1, 11))
    pr.add(np.array([[[0.9], [0.9]]], np.float32), [1], np.array([[1, 255]], np.uint8))
    c = pr.curves()
    assert c["fg_precision"][5] == 1.0 and c["fg_recall"][5] == 1.0


def test_precision_at_recall_interpolates_and_mp_averages():
    assert seed_metrics.precision_at_recall([0.3, 0.1], [0.5, 0.9], 0.2) == pytest.approx(0.7)
    assert np.isnan(seed_metrics.precision_at_recall([0.3, 0.5], [0.5, 0.9], 0.2))
    curves = {"fg_recall": [0.1, 0.3], "fg_precision": [0.9, 0.5],
              "bg_recall": [0.7, 0.9], "bg_precision": [0.9, 0.8]}
    mp = seed_metrics.mean_precision(curves)
    assert mp["fg_precision_at_20_recall"] == pytest.approx(70)
    assert mp["bg_precision_at_80_recall"] == pytest.approx(85)
    assert mp["mP"] == pytest.approx(77.5)


def test_mean_shape_is_the_average_class_mask():
    acc = mean_shape.MeanShape(canvas=4)
    a = np.zeros((8, 8), np.uint8)
    a[:4, :4] = 1            # top-left quarter
    b = np.zeros((8, 8), np.uint8)
    b[4:, 4:] = 2            # bottom-right quarter, and a void pixel that must not count
    b[0, 0] = 255
    acc.add(a)
    acc.add(b)
    expected = np.zeros((4, 4), np.float32)
    expected[:2, :2] = expected[2:, 2:] = 0.5
    np.testing.assert_allclose(acc.shape, expected)
    maps = mean_shape.class_maps(acc.shape, [3, 5], (8, 8))
    assert maps.shape == (8, 8, 2) and maps.max() == pytest.approx(1.0)
    np.testing.assert_array_equal(maps[..., 0], maps[..., 1])


def test_pr_figure_draws_each_curve():
    fig = plots.pr_figure({"a": hand_case(), "b": hand_case()})
    assert fig.dtype == np.uint8 and fig.ndim == 3
    colours = {tuple(c) for c in fig.reshape(-1, 3)}
    assert tuple(plots.COLOURS[0]) in colours and tuple(plots.COLOURS[1]) in colours


def test_curves_figure_puts_each_point_where_its_axes_say():
    fig = plots.curves_figure([("mIoU", "steps", "%", {"g2": ([0, 100, 200], [10, 40, 55]),
                                                       "gt": ([0, 100, 200], [20, None, 70])})])
    # x axis 0..200, y axis 0..80 (the next 10 above 70): (100, 40) is at half width, half height
    x, y = plots.MARGIN + plots.SIZE // 2, plots.MARGIN + plots.SIZE // 2
    assert tuple(fig[y, x]) == tuple(plots.COLOURS[0])
    x_gt, y_gt = plots.MARGIN + plots.SIZE, plots.MARGIN + round(plots.SIZE * (1 - 70 / 80))
    assert tuple(fig[y_gt, x_gt - 1]) == tuple(plots.COLOURS[1])
    # the missing gt point breaks nothing and draws no marker at (100, 40 +- ...) in gt's colour
    assert tuple(fig[y, x]) != tuple(plots.COLOURS[1])
