"""Saliency targets and thresholds (§6.1) and the dense CRF (supp. C.1), on synthetic images."""

import cv2
import numpy as np
import pytest

from tfguided.crf import dense_crf
from tfguided.saliency.foreground import saliency_foreground
from tfguided.saliency.grabcut import grabcut_mask, mean_box


def disc_image(size=80, centre=40, radius=18):
    """A saturated red disc on a noisy grey background; returns (RGB uint8, disc mask)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - centre) ** 2 + (xx - centre) ** 2 <= radius ** 2
    image = np.where(disc[..., None], np.array([220, 30, 30]), np.array([128, 128, 128]))
    image = image + rng.normal(0, 10, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), disc


def test_grabcut_recovers_a_disc_from_a_loose_box():
    """§6.1 saliency targets: GrabCut inside a box 4 px larger than the object finds the object."""
    cv2.setRNGSeed(0)
    image, disc = disc_image()
    mask = grabcut_mask(image, (18, 18, 62, 62))
    assert mask.dtype == bool and mask.shape == disc.shape
    iou = np.sum(mask & disc) / np.sum(mask | disc)
    assert iou >= 0.8
    assert not mask[:18].any() and not mask[63:].any()


def test_grabcut_degenerate_box_gives_empty_mask():
    """A box with right < left (or bottom < top) has no inside: empty mask."""
    image, _ = disc_image()
    for degenerate in [(50, 20, 30, 60), (20, 50, 60, 30)]:
        mask = grabcut_mask(image, degenerate)
        assert mask.shape == (80, 80)
        assert not mask.any()


def test_mean_box_of_annotators():
    """§6.1: the annotators' boxes are averaged coordinate-wise."""
    boxes = [[10, 20, 50, 60], [14, 22, 54, 70], [12, 21, 52, 65]]
    np.testing.assert_allclose(mean_box(boxes), [12, 21, 52, 65])
    with pytest.raises(ValueError):
        mean_box(np.zeros((0, 4)))


def test_saliency_foreground_half_of_max():
    """§6.1: foreground = prob >= 50% of the image's max prob (0.5 of 0.8 is 0.4)."""
    prob = np.array([[0.1, 0.39, 0.41], [0.6, 0.8, 0.0]], np.float32)
    np.testing.assert_array_equal(saliency_foreground(prob, 0.5),
                                  [[False, False, True], [True, True, False]])
    np.testing.assert_array_equal(saliency_foreground(prob, 0.25),
                                  [[False, True, True], [True, True, False]])
    boundary = np.array([[0.5, 0.25, 1.0]], np.float32)
    np.testing.assert_array_equal(saliency_foreground(boundary), [[True, False, True]])
    assert not saliency_foreground(np.zeros((3, 3), np.float32)).any()


def edge_case(seed=0, size=60, flip=0.2):
    """Left half dark, right half bright; unaries 60/40 for the true side, 20% of pixels flipped."""
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size, 3), np.uint8)
    image[:, :size // 2] = (40, 60, 80)
    image[:, size // 2:] = (220, 200, 180)
    truth = np.zeros((size, size), int)
    truth[:, size // 2:] = 1
    noisy = np.where(rng.random((size, size)) < flip, 1 - truth, truth)
    probs = np.where(noisy[..., None] == np.arange(2), 0.6, 0.4).astype(np.float32)
    return image, probs, truth


@pytest.mark.parametrize("params", ["deeplab", "sec"])
def test_dense_crf_returns_probabilities(params):
    """Supp. C.1 CRF ('deeplab' and 'sec' params): per-pixel distributions of the input shape."""
    image, probs, _ = edge_case()
    rng = np.random.default_rng(1)
    probs3 = rng.dirichlet(np.ones(3), probs.shape[:2]).astype(np.float32)
    for p in (probs, probs3):
        q = dense_crf(image, p, params, iterations=5)
        assert q.shape == p.shape and q.dtype == np.float32
        assert np.all(q >= 0)
        np.testing.assert_allclose(q.sum(axis=-1), 1.0, atol=1e-4)


@pytest.mark.parametrize("params", ["deeplab", "sec"])
def test_dense_crf_snaps_noisy_unaries_to_a_colour_edge(params):
    """The bilateral term smooths within a colour region and stops at the edge: 80%-accurate
    unaries become > 95% accurate."""
    image, probs, truth = edge_case()
    unary_accuracy = np.mean(probs.argmax(-1) == truth)
    assert unary_accuracy == pytest.approx(0.8, abs=0.03)
    crf_accuracy = np.mean(dense_crf(image, probs, params).argmax(-1) == truth)
    assert crf_accuracy > 0.95
    assert crf_accuracy > unary_accuracy + 0.1


def test_dense_crf_rejects_mismatched_image():
    """The image and the probabilities must have the same height and width."""
    image, probs, _ = edge_case()
    with pytest.raises(ValueError, match="differ"):
        dense_crf(image[:, :50], probs)


@pytest.mark.parametrize("params", ["deeplab", "sec"])
def test_dense_crf_at_half_size_agrees_with_full_size(params):
    """crf.downscale=2: the CRF on the image shrunk by 2 with kernels halved, probabilities
    resized back: the input's shape (odd sizes too), distributions, and the full-size CRF's
    labels on nearly every pixel of the edge case."""
    image, probs, truth = edge_case(size=61)
    image, probs, truth = image[:45], probs[:45], truth[:45]
    full = dense_crf(image, probs, params)
    half = dense_crf(image, probs, params, downscale=2.0)
    assert half.shape == probs.shape and half.dtype == np.float32
    np.testing.assert_allclose(half.sum(axis=-1), 1.0, atol=1e-4)
    assert np.mean(half.argmax(-1) == full.argmax(-1)) > 0.95
    assert np.mean(half.argmax(-1) == truth) > 0.95


def test_dense_crf_refuses_a_downscale_below_one():
    image, probs, _ = edge_case()
    with pytest.raises(ValueError, match="downscale 0.5"):
        dense_crf(image, probs, downscale=0.5)
