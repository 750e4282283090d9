"""Backprop seeders (§4.2, Figure 3) on the VGG-16 classifier: vanilla, guided, excitation.

- vanilla [41]: the gradient of the class logit with respect to the input image;
- guided [43]: the same through ReLUs that pass only positive gradients where the input was
  positive;
- excitation [51]: the marginal winning probability, passed down from a one-hot fc8 through each
  linear layer in proportion to a_j * max(w_ji, 0) (BatchNorm folded into the convolution before
  it), through max pools to the winner, stopping at conv1_1's activations (the image itself is
  mean-centred, so not a probability source).

Localisation (§4.2): max |gradient| over the RGB channels (excitation: the probability summed
over conv1_1's channels), resized to the image, Gaussian smoothing, dense CRF. The paper gives
no smoothing width or CRF set-up: we smooth with sigma = image long side / 32 (our choice),
run the DeepLab CRF on [1 - max_c m_c, m_1 .. m_L] and return m_c x Q_c (the smoothed signal
where the CRF keeps class c), each divided by its maximum. The product keeps the signal's
ordering for the threshold sweep; the CRF marginals alone saturate at 1 over whole regions, so
the curves would stop short of the recall mP reads (BUILD_NOTES.md).
"""

import cv2
import keras
import numpy as np
import tensorflow as tf

from tfguided.crf import dense_crf

METHODS = ("vanilla", "guided", "excitation")  # the backprop seeders, on the classifier (§4.2)


@tf.custom_gradient
def guided_relu(x):
    def grad(dy):
        return dy * tf.cast(x > 0, dy.dtype) * tf.cast(dy > 0, dy.dtype)
    return tf.nn.relu(x), grad


def chain(model):
    """The model's layers after the input, checked to form a single chain."""
    layers = model.layers[1:]
    for prev, layer in zip(model.layers, layers):
        if layer.input is not prev.output:
            raise ValueError(f"backprop seeders need a chain of layers; {layer.name} does not take "
                             f"{prev.name}'s output")
    return layers


def _forward(layers, x, relu=None):
    inputs = []
    for layer in layers:
        inputs.append(x)
        x = relu(x) if relu is not None and isinstance(layer, keras.layers.ReLU) else layer(x, training=False)
    return x, inputs


def input_gradients(model, images, class_index, guided=False):
    """d logit[class_index] / d image for every image of the batch: [B, S, S, 3]."""
    images = tf.convert_to_tensor(images, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(images)
        logits, _ = _forward(chain(model), images, guided_relu if guided else None)
        score = tf.reduce_sum(logits[:, class_index])
    return tape.gradient(score, images)


def _vjp(layer, a, upstream):
    with tf.GradientTape() as tape:
        tape.watch(a)
        out = layer(a, training=False)
    return tape.gradient(out, a, output_gradients=upstream)


def _positive_linear(layer, next_layer):
    """The layer's linear map with max(w, 0) (no bias), BatchNorm after it folded into w."""
    kernel = tf.convert_to_tensor(layer.kernel)
    if isinstance(next_layer, keras.layers.BatchNormalization):
        kernel = kernel * (next_layer.gamma / tf.sqrt(next_layer.moving_variance + next_layer.epsilon))
    kernel = tf.maximum(kernel, 0.0)
    if isinstance(layer, keras.layers.Dense):
        return lambda t: tf.matmul(t, kernel)
    return lambda t: tf.nn.conv2d(t, kernel, layer.strides, layer.padding.upper(),
                                  dilations=layer.dilation_rate)


def excitation(model, images, class_index, eps=1e-12):
    """Marginal winning probability of class_index at conv1_1's activations: [B, S, S, C1]."""
    layers = chain(model)
    stop = next(i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.ReLU))
    logits, inputs = _forward(layers, tf.convert_to_tensor(images, tf.float32))
    prob = tf.one_hot(tf.fill([tf.shape(logits)[0]], class_index), tf.shape(logits)[1])
    for i in range(len(layers) - 1, stop, -1):
        layer, a = layers[i], inputs[i]
        if isinstance(layer, keras.layers.BatchNormalization):
            continue  # folded into the linear layer before it
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)):
            linear = _positive_linear(layer, layers[i + 1] if i + 1 < len(layers) else None)
            z = linear(a)
            ratio = tf.where(z > eps, prob / tf.maximum(z, eps), 0.0)
            with tf.GradientTape() as tape:
                tape.watch(a)
                out = linear(a)
            prob = a * tape.gradient(out, a, output_gradients=ratio)
        else:
            prob = _vjp(layer, a, prob)
    return prob


def signals(model, images, class_index, method):
    """One localisation signal per image for one class: numpy [B, S, S] (§4.2)."""
    if method == "excitation":
        return tf.reduce_sum(excitation(model, images, class_index), axis=-1).numpy()
    if method not in METHODS:
        raise ValueError(f"backprop seeder {method!r}: choose one of {METHODS}")
    grads = input_gradients(model, images, class_index, guided=method == "guided")
    return tf.reduce_max(tf.abs(grads), axis=-1).numpy()


def localisation_maps(image, signal_maps, crf_params="deeplab", crf_iterations=10, crf_downscale=1.0):
    """RGB uint8 [H, W, 3], signals [S, S, L] (one per label) -> normalised maps [H, W, L]."""
    height, width = image.shape[:2]
    if signal_maps.shape[-1] == 0:
        return np.zeros((height, width, 0), np.float32)
    maps = cv2.resize(np.asarray(signal_maps, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    maps = maps.reshape(height, width, -1)
    sigma = max(height, width) / 32  # the paper gives none
    maps = np.stack([cv2.GaussianBlur(maps[..., k], (0, 0), sigma) for k in range(maps.shape[-1])], -1)
    maps = maps / np.maximum(maps.reshape(-1, maps.shape[-1]).max(axis=0), 1e-12)
    scores = np.concatenate([1.0 - maps.max(axis=-1, keepdims=True), maps], axis=-1)
    scores = np.maximum(scores, 1e-6)
    q = dense_crf(image, scores / scores.sum(-1, keepdims=True), crf_params, crf_iterations,
                  downscale=crf_downscale)[..., 1:]
    kept = maps * q
    return (kept / np.maximum(kept.reshape(-1, kept.shape[-1]).max(axis=0), 1e-12)).astype(np.float32)
