"""Score-map geometry (tfguided/scoremaps.py): where each output cell sits, and upsampling by it."""

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfguided.inference import probabilities_fn
from tfguided.models import deeplab, vgg
from tfguided.registry import SEEDERS
from tfguided.scoremaps import resized_geometry, upsample, upsample_tf


def _window_centres(pools, size):
    """Push an impulse at every row through the real pooling layers (vgg.max_pool); for each
    output row, the mean input row that reaches it: the centre of its window."""
    inputs = keras.Input((size, size, 1))
    x = inputs
    for i, pool in enumerate(pools):
        if pool is not None:
            x = vgg.max_pool(x, pool[0], pool[1], f"pool{i}")
    model = keras.Model(inputs, x)
    impulses = np.zeros((size, size, size, 1), np.float32)
    impulses[np.arange(size), np.arange(size), size // 2, 0] = 1
    reach = model(impulses).numpy()[..., 0].max(axis=2) > 0  # [input row, output row]
    return (reach * np.arange(size)[:, None]).sum(0) / reach.sum(0)


@pytest.mark.parametrize("pools", [SEEDERS["gap_highres"]["pools"], SEEDERS["gap_lowres"]["pools"],
                                   SEEDERS["gap_deeplab"]["pools"], vgg.LARGEFOV_POOLS])
@pytest.mark.parametrize("size", [128, 129, 321])
def test_output_geometry_matches_the_pooling_windows(pools, size):
    """2x2/2 pools: cell i centred on stride*i + (stride-1)/2; padded 3x3/2 pools: on stride*i."""
    stride, offset = vgg.output_geometry(pools)
    centres = _window_centres(pools, size)
    expected = stride * np.arange(len(centres)) + offset
    interior = (expected >= 40) & (expected <= size - 41)  # windows (< 40 px) not cut by the edge
    assert interior.sum() >= 2
    np.testing.assert_allclose(centres[interior], expected[interior])
    assert vgg.output_geometry(vgg.LARGEFOV_POOLS) == (8, 0.0)


def test_upsample_hits_cell_values_at_cell_centres():
    """At pixel stride*i + offset the map equals cell i; halfway between two centres, their mean."""
    maps = np.random.default_rng(0).normal(size=(5, 6, 2)).astype(np.float32)
    for offset in (0.0, 4.0):
        out = upsample(maps, (40, 48), 8, offset)
        assert out.shape == (40, 48, 2)
        np.testing.assert_allclose(out[int(8 * 2 + offset), int(8 * 3 + offset)], maps[2, 3], rtol=1e-6)
    out = upsample(maps, (40, 48), 8, 0.0)
    np.testing.assert_allclose(out[8 * 2 + 4, 8 * 3], (maps[2, 3] + maps[3, 3]) / 2, rtol=1e-5)
    np.testing.assert_allclose(out[0, 0], maps[0, 0])  # before the first centre: clamped
    np.testing.assert_allclose(out[39, 47], maps[4, 5])


def test_numpy_and_tensorflow_upsampling_agree():
    maps = np.random.default_rng(1).normal(size=(2, 7, 9, 3)).astype(np.float32)
    for shape, stride, offset in [((53, 70), 8, 0.0), ((56, 72), 8, 3.5), ((20, 30), 3, 1.0)]:
        tf_out = upsample_tf(tf.constant(maps), shape, stride, offset).numpy()
        np_out = np.stack([upsample(m, shape, stride, offset) for m in maps])
        assert np_out.shape == (2,) + shape + (3,)
        np.testing.assert_allclose(tf_out, np_out, atol=1e-5)


def test_resized_geometry_maps_cells_to_the_original_image():
    """A net run on an image resized from 375x500 to 128x128: cell centres land where a
    half-pixel resize puts the resized pixels 8i+3.5."""
    (sy, sx), (oy, ox) = resized_geometry(8, 3.5, 128, (375, 500))
    for i in (0, 5, 15):
        resized = 8 * i + 3.5
        assert sy * i + oy == pytest.approx((resized + 0.5) * 375 / 128 - 0.5)
        assert sx * i + ox == pytest.approx((resized + 0.5) * 500 / 128 - 0.5)


@pytest.mark.parametrize("scale", [2.0, 1.5])
def test_probabilities_at_a_scale_map_cells_back_onto_the_input(scale):
    """probabilities_fn(model, scale): the net runs on the image resized by `scale` (OpenCV's
    bilinear resize as reference) and its logits land on the input with the per-axis geometry of
    resized_geometry, upsampled by the numpy `upsample`; odd sizes make the two ratios differ."""
    model = deeplab.LargeFov(3, width=0.0625, fc_units=8, fc6_dilation=2)
    image = np.random.default_rng(2).uniform(0, 255, (37, 50, 3)).astype(np.float32)
    scaled = (int(np.round(37 * scale)), int(np.round(50 * scale)))
    resized = cv2.resize(image, scaled[::-1], interpolation=cv2.INTER_LINEAR)
    logits = model(resized[None], training=False).numpy()[0]
    ratio = (37 / scaled[0], 50 / scaled[1])
    expected = upsample(logits, (37, 50), (8 * ratio[0], 8 * ratio[1]),
                        (0.5 * ratio[0] - 0.5, 0.5 * ratio[1] - 0.5))
    expected = np.exp(expected) / np.exp(expected).sum(-1, keepdims=True)
    out = probabilities_fn(model, scale)(tf.constant(image[None]))[0].numpy()
    assert out.shape == (37, 50, 3)
    np.testing.assert_allclose(out, expected, atol=1e-4)
