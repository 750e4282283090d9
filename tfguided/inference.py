"""Running trained networks on images: batched at a fixed size, or one image at its own size.

At its own size, the logits are upsampled to the image with the network's exact geometry and
turned into probabilities (DeepLab's test protocol, §6.1).
"""

import tensorflow as tf

from tfguided.scoremaps import upsample_tf


def fixed_size_fn(model):
    """A compiled function: float32 [B, S, S, 3] -> the model's outputs (inference mode)."""
    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)


def probabilities_fn(model, scale=1.0):
    """A compiled function: float32 [B, H, W, 3] -> softmax probabilities [B, H, W, C] at the
    input size (any H, W), upsampled with the network's geometry. With `scale` != 1 the network
    sees the images resized by `scale` (as it was trained: net.scale) and its cells are
    mapped back onto the input (scoremaps.resized_geometry's rule, per axis)."""
    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def run(images):
        size = tf.shape(images)[1:3]
        stride, offset = model.output_stride, model.output_offset
        if scale != 1:
            scaled = tf.cast(tf.round(tf.cast(size, tf.float32) * scale), tf.int32)
            images = tf.image.resize(images, scaled, method="bilinear")
            ratio = tf.cast(size, tf.float32) / tf.cast(scaled, tf.float32)  # (y, x)
            stride = (stride * ratio[0], stride * ratio[1])
            offset = ((offset + 0.5) * ratio[0] - 0.5, (offset + 0.5) * ratio[1] - 0.5)
        logits = model(images, training=False)
        logits = upsample_tf(logits, size, stride, offset)
        return tf.nn.softmax(logits, axis=-1)
    return run


def full_size_fn(model, scale=1.0):
    """A function: uint8/float [H, W, 3] (any size) -> numpy softmax probabilities [H, W, C], the
    network run at `scale` (probabilities_fn)."""
    run = probabilities_fn(model, scale)
    return lambda image: run(tf.cast(image, tf.float32)[None])[0].numpy()
