"""Losses: the seeder's sigmoid multi-label loss (§4.2) and the segmenter's per-pixel softmax
cross-entropy with ignore 255 (§3).

The segmentation logits (at the net's output stride) are upsampled bilinearly, with the network's geometry,
to the label size before the loss, rather than shrinking the labels to the logits as
DeepLab-v1's Caffe code does: on the CPU presets' small images, shrinking by 8 deletes small
objects from the labels (BUILD_NOTES.md).
"""

import keras

from tfguided.data.labelmap import IGNORE
from tfguided.models import deeplab
from tfguided.scoremaps import upsample_tf


def segmentation_loss(net):
    """The per-pixel loss of the DeepLab net a `NetConfig` describes (its logits upsampled with
    the net's geometry): the saliency net's and the segmenter's."""
    return UpsampledSparseCrossEntropy(*deeplab.output_geometry(net))


@keras.saving.register_keras_serializable(package="tfguided")
class UpsampledSparseCrossEntropy(keras.losses.Loss):
    """Mean softmax cross-entropy over the pixels whose label is not `ignore_class`."""

    def __init__(self, stride=8, offset=0.0, ignore_class=IGNORE, name="upsampled_sparse_ce",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.stride, self.offset, self.ignore_class = stride, offset, ignore_class

    def call(self, y_true, y_pred):
        y_true = keras.ops.cast(y_true, "int32")
        logits = upsample_tf(y_pred, keras.ops.shape(y_true)[1:3], self.stride, self.offset)
        return keras.losses.sparse_categorical_crossentropy(
            y_true, logits, from_logits=True, ignore_class=self.ignore_class)

    def get_config(self):
        return {**super().get_config(), "stride": self.stride, "offset": self.offset,
                "ignore_class": self.ignore_class}


def multilabel_loss():
    """Sigmoid cross-entropy over the K classes of the image-level labels."""
    return keras.losses.BinaryCrossentropy(from_logits=True)
