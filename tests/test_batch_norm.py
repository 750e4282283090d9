"""tfguided/models/batch_norm.py's BatchNormalization (the fused kernel in training) against
Keras' own: the same outputs, gradients and moving statistics in training, eagerly and in a
tf.function, Keras' code itself wherever the fused kernel does not apply, and nets saved with
Keras' layer (the shipped saliency net, a user's model.keras) loading with their weights."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfguided import configs
from tfguided.models import batch_norm, deeplab, mobilenet, vgg
from tfguided.stages import saliency, segmenter

FusedBatchNormalization = batch_norm.BatchNormalization


def pair(shape, seed=0, **kw):
    """A Keras BatchNormalization and ours with the same random weights."""
    rng = np.random.default_rng(seed)
    layers = keras.layers.BatchNormalization(**kw), FusedBatchNormalization(**kw)
    weights = None
    for layer in layers:
        layer.build(shape)
        weights = weights or [rng.normal(1, 0.3, w.shape).astype("float32") for w in layer.weights]
        layer.set_weights(weights)
    return layers


def train_pass(layer, x):
    """(output, gradients of a non-linear loss for the input, gamma and beta) in training."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * tf.sin(y))
    return y, tape.gradient(loss, [x, layer.gamma, layer.beta])


@pytest.mark.parametrize("in_function", [False, True])
def test_training_pass_equals_keras(in_function):
    x = tf.constant(np.random.default_rng(1).normal(2, 3, (4, 9, 7, 5)).astype("float32"))
    keras_bn, fused = pair(x.shape)
    run = tf.function(train_pass) if in_function else train_pass
    for _ in range(2):  # the moving statistics after two updates
        y_keras, g_keras = run(keras_bn, x)
        y_fused, g_fused = run(fused, x)
        np.testing.assert_allclose(y_fused, y_keras, atol=1e-5)
        for a, b in zip(g_fused, g_keras):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fused.moving_mean, keras_bn.moving_mean, rtol=1e-6)
    np.testing.assert_allclose(fused.moving_variance, keras_bn.moving_variance, rtol=1e-6)
    assert float(np.abs(keras_bn.moving_variance - 1).max()) > 0.1  # the updates did move them


def test_the_fused_kernel_runs_in_training_only():
    x = tf.constant(np.random.default_rng(2).normal(size=(2, 4, 4, 3)).astype("float32"))
    keras_bn, fused = pair(x.shape)
    graph = tf.function(lambda t: fused(t, training=True)).get_concrete_function(x).graph
    assert any(op.type.startswith("FusedBatchNorm") for op in graph.get_operations())
    inference = tf.function(lambda t: fused(t, training=False)).get_concrete_function(x).graph
    assert not any(op.type.startswith("FusedBatchNorm") for op in inference.get_operations())
    np.testing.assert_array_equal(fused(x, training=False), keras_bn(x, training=False))
    fused.trainable = keras_bn.trainable = False  # frozen (ResNet's): inference statistics, as Keras
    np.testing.assert_array_equal(fused(x, training=True), keras_bn(x, training=True))


def test_other_shapes_fall_back_to_keras():
    x = tf.constant(np.random.default_rng(3).normal(size=(6, 5)).astype("float32"))  # 2-D
    keras_bn, fused = pair(x.shape)
    np.testing.assert_array_equal(fused(x, training=True), keras_bn(x, training=True))
    images = tf.constant(np.random.default_rng(4).normal(size=(2, 3, 4, 4)).astype("float32"))
    keras_bn, fused = pair(images.shape, axis=1)  # channels first
    np.testing.assert_array_equal(fused(images, training=True), keras_bn(images, training=True))


def test_mixed_precision_keeps_the_statistics_in_float32():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        x = tf.constant(np.random.default_rng(5).normal(1, 2, (2, 6, 6, 4)).astype("float32"))
        keras_bn, fused = pair(x.shape)
        y_keras, y_fused = keras_bn(tf.cast(x, "bfloat16"), training=True), fused(tf.cast(x, "bfloat16"), training=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert y_fused.dtype == y_keras.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(y_fused, tf.float32), tf.cast(y_keras, tf.float32), atol=0.02)
    np.testing.assert_allclose(fused.moving_variance, keras_bn.moving_variance, rtol=1e-5)


def test_nets_use_it_and_reload_it(tmp_path):
    inputs = keras.Input((32, 32, 3))
    net = keras.Model(inputs, mobilenet.mobilenet_trunk(inputs, 0.25, 1e-4))
    norms = [layer for layer in net.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(isinstance(layer, FusedBatchNormalization) for layer in norms)
    net.save(tmp_path / "net.keras")
    again = keras.saving.load_model(tmp_path / "net.keras")
    x = np.random.default_rng(6).uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(again(x), net(x))
    assert type(again.get_layer(norms[0].name)) is FusedBatchNormalization


def test_nets_saved_with_keras_layer_load_their_weights(tmp_path, monkeypatch):
    cfg = configs.preset("tiny")
    with monkeypatch.context() as patch:  # a segmenter as the code before the fused layer built it
        for module in (deeplab, mobilenet, vgg):
            patch.setattr(module, "BatchNormalization", keras.layers.BatchNormalization)
        old = segmenter.build(cfg, 2)
    assert not any(type(layer) is FusedBatchNormalization for layer in old.layers)
    old.save(tmp_path / "old.keras")
    again = keras.saving.load_model(tmp_path / "old.keras", compile=False)
    x = np.random.default_rng(7).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    np.testing.assert_array_equal(again(x), old(x))
    norms = [layer for layer in again.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(type(layer) is FusedBatchNormalization for layer in norms)  # trains fused from now on
    shipped = keras.saving.load_model(saliency.SHIPPED, compile=False)  # saved before the fused layer
    first = next(layer for layer in shipped.layers if isinstance(layer, keras.layers.BatchNormalization))
    assert float(np.abs(keras.ops.convert_to_numpy(first.moving_variance) - 1).max()) > 0.01  # trained, not fresh
