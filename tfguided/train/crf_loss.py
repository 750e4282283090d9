"""SEC's constrain-to-boundary loss [18], the paper's "crf-loss" (supp. C, Tables 4-5).

During segmenter training the softmax output f (at the score-map resolution) is refined by a
dense CRF on the image sampled at the score-map cells, Q = CRF(f, image), and the loss adds
mean_u KL(Q_u || f_u) = mean_u sum_c Q_uc log(Q_uc / f_uc), with Q held constant, as SEC does.
The image is blurred (sigma = stride / 2) and read at each cell's centre (stride * i + offset,
the network's geometry), and the CRF's spatial kernels are divided by the stride, so they reach
as far on the small grid as the chosen parameter set (`deeplab` or `sec`, supp. C.1) does on the
full image. Pixels of the crop's mean-colour padding take part like any other (as in SEC).
"""

import cv2
import keras
import numpy as np
import tensorflow as tf

from tfguided.crf import dense_crf


def image_at_cells(image, shape, stride, offset):
    """uint8 [H, W, 3] -> uint8 [h, w, 3]: the image, blurred, at the score-map cell centres."""
    blurred = cv2.GaussianBlur(np.clip(image, 0, 255).astype(np.float32), (0, 0), stride / 2)
    ys = np.clip(np.round(stride * np.arange(shape[0]) + offset).astype(int), 0, image.shape[0] - 1)
    xs = np.clip(np.round(stride * np.arange(shape[1]) + offset).astype(int), 0, image.shape[1] - 1)
    return np.round(blurred[ys][:, xs]).astype(np.uint8)


def crf_targets(images, probs, params, iterations, stride, offset=0.0):
    """float [B, H, W, 3] images (0..255), probs [B, h, w, C] -> CRF marginals Q [B, h, w, C]."""
    out = np.empty_like(probs, dtype=np.float32)
    for i, (image, p) in enumerate(zip(images, probs)):
        small = image_at_cells(image, p.shape[:2], stride, offset)
        out[i] = dense_crf(small, p, params, iterations, xy_scale=stride)
    return out


def constrain_to_boundary_loss(images, logits, params="sec", iterations=10, stride=8, offset=0.0):
    """Mean over score-map pixels of KL(CRF(softmax(logits)) || softmax(logits)); a scalar."""
    logits = tf.cast(logits, tf.float32)
    probs = tf.nn.softmax(logits, axis=-1)
    q = tf.py_function(lambda im, p: crf_targets(im.numpy(), p.numpy(), params, iterations, stride, offset),
                       [images, probs], tf.float32)
    q = tf.stop_gradient(tf.ensure_shape(q, probs.shape))
    kl = tf.reduce_sum(q * (tf.math.log(tf.maximum(q, 1e-8)) - tf.nn.log_softmax(logits, axis=-1)), axis=-1)
    return tf.reduce_mean(kl)


class ConstrainToBoundary(keras.Model):
    """Trains `net` with the compiled loss plus weight x the constrain-to-boundary loss.

    Only the training wrapper: the stage saves `net` itself, which predicts as before.
    """

    def __init__(self, net, params="sec", weight=1.0, iterations=10, **kwargs):
        super().__init__(name=net.name + "_crf_loss", **kwargs)
        self.net, self.params, self.weight, self.iterations = net, params, weight, iterations
        self.built = net.built  # its only weights are the (built) net's
        self.supports_jit = False  # tf.py_function: XLA (Keras' default on one GPU) cannot compile it

    def call(self, images, training=False):
        logits = self.net(images, training=training)
        if training:
            self.add_loss(self.weight * constrain_to_boundary_loss(
                images, logits, self.params, self.iterations, self.net.output_stride,
                self.net.output_offset))
        return logits
