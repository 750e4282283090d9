"""Test-time augmentation (tfguided/inference.py, feature row 24): scales and flips averaged at
the image's size with the networks' exact geometry."""

import re

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfguided import configs
from tfguided.inference import full_size_fn, probabilities_fn, tta_views
from tfguided.models import deeplab
from tfguided.scoremaps import upsample


def _softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _one_view(model, image, scale):
    """One view by an independent computation: OpenCV's bilinear resize, the numpy `upsample`
    with the resized geometry written out per axis."""
    height, width = image.shape[:2]
    scaled = (int(np.round(height * scale)), int(np.round(width * scale)))
    resized = cv2.resize(image, scaled[::-1], interpolation=cv2.INTER_LINEAR) if scale != 1 else image
    logits = model(resized[None], training=False).numpy()[0]
    ry, rx = height / scaled[0], width / scaled[1]
    stride, offset = model.output_stride, model.output_offset
    return _softmax(upsample(logits, (height, width), (stride * ry, stride * rx),
                             ((offset + 0.5) * ry - 0.5, (offset + 0.5) * rx - 0.5)))


@pytest.mark.parametrize("net_scale, scales", [(1.0, (0.5, 1.0, 1.5)), (2.0, (0.75, 1.25))])
def test_views_average_the_reference_views_at_sizes_off_the_stride(net_scale, scales):
    """37 x 50 (not multiples of the stride 8): the TTA output is the mean of each scale's
    reference probabilities and of the mirror image's, flipped back."""
    model = deeplab.LargeFov(3, width=0.0625, fc_units=8, fc6_dilation=2)
    image = np.random.default_rng(3).uniform(0, 255, (37, 50, 3)).astype(np.float32)
    mirror = np.ascontiguousarray(image[:, ::-1])
    views = [_one_view(model, image, net_scale * s) for s in scales]
    views += [_one_view(model, mirror, net_scale * s)[:, ::-1] for s in scales]
    out = full_size_fn(model, net_scale, scales, flip=True)(image)
    assert out.shape == (37, 50, 3)
    np.testing.assert_allclose(out, np.mean(views, 0), atol=1e-4)
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)


def test_one_view_is_the_plain_network():
    model = deeplab.LargeFov(2, width=0.0625, fc_units=8, fc6_dilation=2)
    image = tf.random.uniform([2, 41, 29, 3], 0, 255, seed=1)
    np.testing.assert_array_equal(probabilities_fn(model, 1.0, (1.0,), False)(image).numpy(),
                                  probabilities_fn(model)(image).numpy())


def _pixelwise_model():
    """A per-pixel network (1x1 convolutions, stride 1, offset 0): mirroring commutes with it."""
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 1, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(4, 1)(x))
    model.output_stride, model.output_offset = 1, 0.0
    return model


def test_flip_leaves_a_mirror_symmetric_network_unchanged():
    """Known answer: for a network that commutes with mirroring, flip TTA changes nothing; a
    mirror-asymmetric one (LargeFOV: its padding and cell grid sit to one side) does change."""
    image = tf.random.uniform([1, 33, 47, 3], 0, 255, seed=2)
    pixelwise = _pixelwise_model()
    np.testing.assert_allclose(probabilities_fn(pixelwise, flip=True)(image).numpy(),
                               probabilities_fn(pixelwise)(image).numpy(), atol=1e-6)
    largefov = deeplab.LargeFov(2, width=0.0625, fc_units=8, fc6_dilation=2)
    assert np.abs(probabilities_fn(largefov, flip=True)(image).numpy()
                  - probabilities_fn(largefov)(image).numpy()).max() > 1e-4


def test_tta_runs_inside_a_dataset_map():
    """Eagerly and inside tf.data (the compiled function traced in a map): the same result."""
    model = _pixelwise_model()
    run = probabilities_fn(model, 1.0, (0.5, 1.0), True)
    images = tf.random.uniform([3, 1, 20, 26, 3], 0, 255, seed=4)
    mapped = np.stack(list(tf.data.Dataset.from_tensor_slices(images).map(run).as_numpy_iterator()))
    eager = np.stack([run(im).numpy() for im in images])
    np.testing.assert_allclose(mapped, eager, atol=1e-6)


def test_views_and_their_refusals():
    assert tta_views((0.5, 1.0), flip=True) == [(0.5, False), (0.5, True), (1.0, False), (1.0, True)]
    assert tta_views() == [(1.0, False)]
    for bad in ((), (0.0,), (1.0, -1.0)):
        with pytest.raises(ValueError, match="each > 0"):
            tta_views(bad)


@pytest.mark.parametrize("assignment, message", [
    ("evaluate.tta.scales=1,0", "evaluate.tta.scales=(1.0, 0.0): at least one scale, each a number > 0"),
    ("guide.saliency_tta.scales=-0.5", "guide.saliency_tta.scales=(-0.5,): at least one scale"),
    ("evaluate.tta.flip=maybe", "expected true or false"),
])
def test_config_refuses_bad_views(assignment, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        configs.override(configs.preset("demo"), [assignment])


def test_tta_is_off_in_every_preset_but_where_measured():
    """The paper's numbers stay reproducible: no preset but voc_animals (its saliency) uses TTA."""
    for name in configs.PRESETS:
        cfg = configs.preset(name)
        assert (cfg.evaluate.tta.scales, cfg.evaluate.tta.flip) == ((1.0,), False), name
        if name != "voc_animals":
            assert (cfg.guide.saliency_tta.scales, cfg.guide.saliency_tta.flip) == ((1.0,), False), name
