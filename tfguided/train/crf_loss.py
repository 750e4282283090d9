"""SEC's constrain-to-boundary loss [18], the paper's "crf-loss" (supp. C, Tables 4-5).

During segmenter training the softmax output f (at the score-map resolution) is refined by a
dense CRF on the image downscaled to that resolution, Q = CRF(f, image), and the loss adds
mean_u KL(Q_u || f_u) = mean_u sum_c Q_uc log(Q_uc / f_uc), with Q held constant, as SEC does.
The CRF's spatial kernels are divided by the output stride so they reach as far on the small
grid as the chosen parameter set (`deeplab` or `sec`, supp. C.1) does on the full image.
"""

import cv2
import keras
import numpy as np
import tensorflow as tf

from tfguided.crf import dense_crf


def crf_targets(images, probs, params, iterations, xy_scale):
    """float [B, H, W, 3] images (0..255), probs [B, h, w, C] -> CRF marginals Q [B, h, w, C]."""
    out = np.empty_like(probs, dtype=np.float32)
    height, width = probs.shape[1:3]
    for i, (image, p) in enumerate(zip(images, probs)):
        small = cv2.resize(np.clip(image, 0, 255).astype(np.uint8), (width, height),
                           interpolation=cv2.INTER_AREA)
        out[i] = dense_crf(small, p, params, iterations, xy_scale)
    return out


def constrain_to_boundary_loss(images, logits, params="sec", iterations=10, xy_scale=8.0):
    """Mean over score-map pixels of KL(CRF(softmax(logits)) || softmax(logits)); a scalar."""
    logits = tf.cast(logits, tf.float32)
    probs = tf.nn.softmax(logits, axis=-1)
    q = tf.py_function(lambda im, p: crf_targets(im.numpy(), p.numpy(), params, iterations, xy_scale),
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

    def call(self, images, training=False):
        logits = self.net(images, training=training)
        if training:
            self.add_loss(self.weight * constrain_to_boundary_loss(
                images, logits, self.params, self.iterations, float(self.net.output_stride)))
        return logits
