"""Running trained networks on images: batched at a fixed size, or one image at its own size.

At its own size, the logits are upsampled to the image with the network's exact geometry and
turned into probabilities (DeepLab's test protocol, §6.1).
"""

import tensorflow as tf

from tfguided.scoremaps import upsample_tf


def fixed_size_fn(model):
    """A compiled function: float32 [B, S, S, 3] -> the model's outputs (inference mode)."""
    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)


def probabilities_fn(model):
    """A compiled function: float32 [B, H, W, 3] -> softmax probabilities [B, H, W, C] at the
    input size (any H, W), upsampled with the network's geometry."""
    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def run(images):
        logits = model(images, training=False)
        logits = upsample_tf(logits, tf.shape(images)[1:3], model.output_stride, model.output_offset)
        return tf.nn.softmax(logits, axis=-1)
    return run


def full_size_fn(model):
    """A function: uint8/float [H, W, 3] (any size) -> numpy softmax probabilities [H, W, C]."""
    run = probabilities_fn(model)
    return lambda image: run(tf.cast(image, tf.float32)[None])[0].numpy()
