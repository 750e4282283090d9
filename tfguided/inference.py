"""Running trained networks on images: batched at a fixed size, or one image at its own size.

Both return probabilities upsampled bilinearly to the image size (DeepLab's test protocol, §6.1).
"""

import cv2
import numpy as np
import tensorflow as tf


def fixed_size_fn(model):
    """A compiled function: float32 [B, S, S, 3] -> the model's outputs (inference mode)."""
    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)


def full_size_fn(model):
    """A compiled function: uint8/float [H, W, 3] (any size) -> softmax probs [H, W, C]."""
    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32)])
    def run(image):
        logits = model(image[None], training=False)
        logits = tf.image.resize(logits, tf.shape(image)[:2], method="bilinear")
        return tf.nn.softmax(logits[0], axis=-1)
    return lambda image: run(tf.cast(image, tf.float32)).numpy()


def upsample(maps, shape):
    """[h, w, C] float -> [H, W, C] bilinear (half-pixel centres, as tf.image.resize)."""
    height, width = shape
    maps = np.ascontiguousarray(maps, np.float32)
    out = cv2.resize(maps, (width, height), interpolation=cv2.INTER_LINEAR)
    return out.reshape(height, width, maps.shape[-1])
