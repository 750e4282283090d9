"""Losses: the seeder's sigmoid multi-label loss (§4.2) and the segmenter's per-pixel softmax
cross-entropy with ignore 255 (§3).

The segmentation logits (output stride 8) are upsampled bilinearly to the label size before the
loss, rather than shrinking the labels to the logits as DeepLab-v1's Caffe code does: on the CPU
presets' small images, shrinking by 8 deletes small objects from the labels (BUILD_NOTES.md).
"""

import keras

IGNORE = 255


@keras.saving.register_keras_serializable(package="tfguided")
class UpsampledSparseCrossEntropy(keras.losses.Loss):
    """Mean softmax cross-entropy over the pixels whose label is not `ignore_class`."""

    def __init__(self, ignore_class=IGNORE, name="upsampled_sparse_ce", **kwargs):
        super().__init__(name=name, **kwargs)
        self.ignore_class = ignore_class

    def call(self, y_true, y_pred):
        y_true = keras.ops.cast(y_true, "int32")
        size = keras.ops.shape(y_true)[1:3]
        logits = keras.ops.image.resize(keras.ops.cast(y_pred, "float32"), size,
                                        interpolation="bilinear")
        return keras.losses.sparse_categorical_crossentropy(
            y_true, logits, from_logits=True, ignore_class=self.ignore_class)

    def get_config(self):
        return {**super().get_config(), "ignore_class": self.ignore_class}


def multilabel_loss():
    """Sigmoid cross-entropy over the K classes of the image-level labels."""
    return keras.losses.BinaryCrossentropy(from_logits=True)
