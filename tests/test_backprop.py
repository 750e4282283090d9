"""Backprop seeders (§4.2): vanilla, guided and excitation backprop against hand computations."""

import keras
import numpy as np
import pytest

from tfguided.models.classifier import VggClassifier
from tfguided.seeds import backprop


def tiny_chain(seed=0):
    """input [1, 2, 2] -> flatten -> dense 3 -> relu -> dense 2: small enough to do by hand."""
    rng = np.random.default_rng(seed)
    inputs = keras.Input((1, 2, 2))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(3, name="fc6")(x)
    x = keras.layers.ReLU(name="fc6_relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="fc8")(x))
    w1, w2 = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    b1 = np.array([0.5, -0.1, 0.2])
    model.get_layer("fc6").set_weights([w1.astype(np.float32), b1.astype(np.float32)])
    model.get_layer("fc8").set_weights([w2.astype(np.float32), np.zeros(2, np.float32)])
    x = rng.uniform(-1, 1, (1, 1, 2, 2)).astype(np.float32)
    return model, x, w1, b1, w2


def test_vanilla_and_guided_gradients_by_hand():
    model, x, w1, b1, w2 = tiny_chain()
    h = x.reshape(1, 4) @ w1 + b1
    for k in range(2):
        vanilla = backprop.input_gradients(model, x, k).numpy().reshape(4)
        np.testing.assert_allclose(vanilla, w1 @ (w2[:, k] * (h[0] > 0)), rtol=1e-5, atol=1e-6)
        guided = backprop.input_gradients(model, x, k, guided=True).numpy().reshape(4)
        g = w2[:, k]
        np.testing.assert_allclose(guided, w1 @ (g * (h[0] > 0) * (g > 0)), rtol=1e-5, atol=1e-6)


def test_excitation_is_the_marginal_winning_probability_by_hand():
    """Stops at the first ReLU's output r: P_j = r_j * sum_i max(w_ji, 0) P_i / Z_i, P_top one-hot."""
    model, x, w1, b1, w2 = tiny_chain()
    w2 = np.array([[0.5, -1.0], [1.0, 0.3], [-0.2, 0.8]])
    model.get_layer("fc8").set_weights([w2.astype(np.float32), np.zeros(2, np.float32)])
    r = np.maximum(x.reshape(1, 4) @ w1 + b1, 0)[0]
    assert (r > 0).sum() >= 2
    wpos = np.maximum(w2, 0)
    for k in range(2):
        z = r @ wpos[:, k]
        expected = r * wpos[:, k] / z
        got = backprop.excitation(model, x, k).numpy()[0]
        np.testing.assert_allclose(got, expected, rtol=1e-5)
        assert got.sum() == pytest.approx(1.0, rel=1e-5)


def conv_matrix(kernel, size):
    """3x3 'same' convolution on a size x size map as a matrix [size*size*Cin, size*size*Cout]."""
    cin, cout = kernel.shape[2:]
    m = np.zeros((size, size, cin, size, size, cout))
    for p in range(size):
        for q in range(size):
            for di in range(3):
                for dj in range(3):
                    i, j = p + di - 1, q + dj - 1
                    if 0 <= i < size and 0 <= j < size:
                        m[i, j, :, p, q, :] += kernel[di, dj]
    return m.reshape(size * size * cin, size * size * cout)


def test_excitation_folds_batchnorm_into_the_convolution_by_hand():
    """conv -> relu (stop) -> conv -> BN (gamma of both signs) -> relu -> fc8, against numpy:
    the probability reaching the first ReLU uses max(K * gamma / sqrt(var + eps), 0)."""
    rng = np.random.default_rng(4)
    inputs = keras.Input((4, 4, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", use_bias=False, name="c1")(inputs)
    x = keras.layers.ReLU(name="c1_relu")(x)
    x = keras.layers.Conv2D(3, 3, padding="same", use_bias=False, name="c2")(x)
    x = keras.layers.BatchNormalization(name="c2_bn")(x)
    x = keras.layers.ReLU(name="c2_relu")(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="fc8")(x))
    k1, k2 = rng.normal(size=(3, 3, 2, 3)), rng.normal(size=(3, 3, 3, 3))
    gamma, beta = np.array([1.5, -0.7, 0.4]), np.array([0.3, 0.5, 0.1])
    mean, var = np.array([0.1, -0.2, 0.0]), np.array([0.5, 2.0, 1.2])
    w = rng.normal(size=(48, 2))
    model.get_layer("c1").set_weights([k1.astype(np.float32)])
    model.get_layer("c2").set_weights([k2.astype(np.float32)])
    model.get_layer("c2_bn").set_weights([v.astype(np.float32) for v in (gamma, beta, mean, var)])
    model.get_layer("fc8").set_weights([w.astype(np.float32), np.zeros(2, np.float32)])
    image = rng.uniform(0, 1, (1, 4, 4, 2)).astype(np.float32)

    eps = model.get_layer("c2_bn").epsilon
    a1 = np.maximum(image.reshape(-1) @ conv_matrix(k1, 4), 0)
    y = (a1 @ conv_matrix(k2, 4)).reshape(4, 4, 3)
    a2 = np.maximum(gamma * (y - mean) / np.sqrt(var + eps) + beta, 0).reshape(-1)
    folded = np.maximum(conv_matrix(k2 * (gamma / np.sqrt(var + eps)), 4), 0)
    for k in range(2):
        wk = np.maximum(w[:, k], 0)
        p2 = a2 * wk / (a2 @ wk)
        z = a1 @ folded
        expected = a1 * (folded @ np.where(z > 0, p2 / np.where(z > 0, z, 1), 0))
        got = backprop.excitation(model, image, k).numpy().reshape(-1)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-7)


def test_excitation_conserves_probability_through_vgg():
    """Through convs (BatchNorm folded), max pools, flatten and fc layers, down to conv1_1."""
    model = VggClassifier(3, width=0.0625, fc_units=16, batch_norm=True, input_size=32)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_variance.assign(np.full(layer.moving_variance.shape, 2.0, np.float32))
    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    prob = backprop.excitation(model, x, 1).numpy()
    assert prob.shape == (2, 32, 32, 4) and prob.min() >= 0
    np.testing.assert_allclose(prob.sum(axis=(1, 2, 3)), 1.0, rtol=0.05)


def test_signals_and_localisation_maps():
    model = VggClassifier(2, width=0.0625, fc_units=8, input_size=32)
    x = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    for method in backprop.METHODS:
        s = backprop.signals(model, x, 0, method)
        assert s.shape == (2, 32, 32) and np.all(s >= 0)
    vanilla = backprop.signals(model, x, 0, "vanilla")
    np.testing.assert_allclose(vanilla, np.abs(backprop.input_gradients(model, x, 0).numpy()).max(-1))
    image = np.zeros((40, 48, 3), np.uint8)
    image[:, 24:] = 255
    signal = np.zeros((32, 32, 1), np.float32)
    signal[8:24, 20:28] = 1.0
    maps = backprop.localisation_maps(image, signal)
    assert maps.shape == (40, 48, 1) and maps.max() == pytest.approx(1.0)
    assert maps[20, 30] > maps[20, 2]  # the signal's side, not the far side
    with pytest.raises(ValueError, match="choose one of"):
        backprop.signals(model, x, 0, "smooth")
