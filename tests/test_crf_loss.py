"""crf-loss (SEC's constrain-to-boundary loss, supp. C): the value against numpy, and its wiring."""

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfguided import configs
from tfguided.crf import dense_crf
from tfguided.models.deeplab import LargeFov
from tfguided.stages import segmenter
from tfguided.train import losses
from tfguided.train.crf_loss import (ConstrainToBoundary, constrain_to_boundary_loss, crf_targets,
                                     image_at_cells)


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    images[:, :, :16] *= 0.2  # a dark left half: an edge for the CRF
    logits = rng.normal(0, 1, (2, 4, 4, 3)).astype(np.float32)
    return images, logits


def test_loss_is_kl_from_crf_marginals_to_the_softmax():
    images, logits = _inputs()
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expected = []
    for image, p in zip(images, probs):
        blurred = cv2.GaussianBlur(image, (0, 0), 4.0)
        small = np.round(blurred[::8, ::8]).astype(np.uint8)   # cells centred at 8i (offset 0)
        q = dense_crf(small, p, "sec", 10, xy_scale=8.0)
        expected.append(np.sum(q * (np.log(np.maximum(q, 1e-8)) - np.log(p)), axis=-1))
    value = constrain_to_boundary_loss(tf.constant(images), tf.constant(logits), "sec", 10, 8, 0.0)
    assert float(value) == pytest.approx(float(np.mean(expected)), rel=1e-4)
    assert float(value) > 0
    np.testing.assert_allclose(crf_targets(images, probs, "sec", 10, 8).sum(-1), 1, atol=1e-4)


def test_image_is_read_at_the_score_map_cell_centres():
    """GAP-style geometry (offset 3.5): cell i reads pixel 8i + 3.5 (rounded), after blurring."""
    image = np.zeros((32, 32, 3), np.float32)
    image[12, 12] = 255.0  # pixel 8 * 1 + 3.5 rounded to 12 (banker's rounding of 11.5 -> 12)
    small = image_at_cells(image, (4, 4), 8, 3.5)
    assert np.unravel_index(small[..., 0].argmax(), (4, 4)) == (1, 1)


def test_gradient_flows_through_the_softmax_only():
    images, logits = _inputs(1)
    logits = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = constrain_to_boundary_loss(tf.constant(images), logits, "deeplab", 5, 8)
    grad = tape.gradient(value, logits)
    q = crf_targets(images, tf.nn.softmax(logits).numpy(), "deeplab", 5, 8)
    # d/dlogits sum_c q log(q / softmax) = softmax - q, averaged over the 2*4*4 pixels
    np.testing.assert_allclose(grad.numpy(), (tf.nn.softmax(logits).numpy() - q) / 32, atol=1e-5)


def test_wrapper_adds_the_weighted_term_in_training_only_and_saves_the_plain_net():
    net = LargeFov(3, width=0.0625, fc_units=8, fc6_dilation=2, input_size=32)
    model = ConstrainToBoundary(net, "sec", weight=0.5)
    images, _ = _inputs()
    logits = model(images, training=True)
    training_terms = [float(v) for v in model.losses]
    model(images, training=False)
    regularisers = [float(v) for v in model.losses]   # weight decay: in both modes
    assert len(training_terms) == len(regularisers) + 1
    expected = 0.5 * float(constrain_to_boundary_loss(tf.constant(images), logits, "sec", 10, 8, 0.0))
    assert sum(training_terms) - sum(regularisers) == pytest.approx(expected, rel=1e-3)
    assert model.supports_jit is False  # Keras then never picks XLA for it (py_function)
    model.compile(optimizer="adam", loss=losses.UpsampledSparseCrossEntropy(8, 0.0))
    history = model.fit(images, np.zeros((2, 32, 32), np.uint8), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_segmenter_stage_wraps_only_when_asked():
    cfg = configs.preset("tiny")
    assert segmenter.crf_loss_wrapper(cfg) is None
    cfg.segmenter.crf_loss = "deeplab"
    net = segmenter.build(cfg, cfg.num_classes)
    wrapped = segmenter.crf_loss_wrapper(cfg)(net)
    assert isinstance(wrapped, ConstrainToBoundary) and wrapped.net is net and wrapped.params == "deeplab"
    with pytest.raises(ValueError, match="segmenter.crf_loss='v3'"):
        configs.override(cfg, ["segmenter.crf_loss=v3"])
    assert isinstance(net, keras.Model)
