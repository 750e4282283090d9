"""Batch normalisation trained through TensorFlow's fused kernel.

Keras 3 trains BatchNormalization as separate element-wise ops (the moments, then the scale and
shift) and differentiates each: on 2 cores that was ~30% of a voc_animals segmenter step
(bench/throughput.py --measure=step; BUILD_NOTES.md "Where a training step's time goes").
TensorFlow's fused batch norm does the forward pass in one op and the backward in another
(oneDNN on CPUs, cuDNN on GPUs). The layer is Keras' own otherwise: the same weights under the
same names (ImageNet files load as before, `isinstance(layer, keras.layers.BatchNormalization)`
holds), the same moving-average update from the biased batch variance, Keras' own code in
inference and wherever the fused op does not apply (masks, renorm, not 4-D channels-last).

The class keeps Keras' name: a .keras file keys each layer's weights by its class name
("batch_normalization_3"), so under another name the nets saved before (the shipped saliency
net, a user's model.keras) would not find their batch norms' weights.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfguided")
class BatchNormalization(keras.layers.BatchNormalization):
    """keras.layers.BatchNormalization whose training pass is `tf.compat.v1.nn.fused_batch_norm`."""

    def _fused(self, inputs, training, mask):
        return (training and self.trainable and mask is None and not self.renorm and len(inputs.shape) == 4
                and self.axis in (-1, 3) and self.epsilon >= 1.001e-5)  # the fused kernel's smallest epsilon

    def call(self, inputs, training=None, mask=None):
        if not self._fused(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, tf.float32)  # as Keras: the statistics in float32 whatever the policy
        channels = x.shape[-1]
        scale = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels])
        offset = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels])
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(x, scale, offset, epsilon=self.epsilon,
                                                             data_format="NHWC", is_training=True)
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), tf.float32)
        variance = variance * (count - 1.0) / tf.maximum(count, 1.0)  # the kernel's is Bessel-corrected
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(y, self.compute_dtype)
