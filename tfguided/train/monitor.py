"""Validation mIoU while the segmenter trains, for TensorBoard ("mIoU on val at intervals").

A quick look, not the protocol: one fixed crop (padded at the bottom and right where smaller,
at a fixed position) of each of the first `segmenter.monitor_images` eval images at the training
input size, scored against their ground truth (void ignored) at every
Keras epoch (`train.steps_per_epoch` steps). The evaluate stage gives the real figure.
"""

import keras
import numpy as np
import tensorflow as tf

from tfguided.eval import metrics
from tfguided.scoremaps import upsample_tf


class ValMiou(keras.callbacks.Callback):
    """Adds `val_miou` (percent) to the epoch logs, which the TensorBoard callback after it writes
    and the history keeps. `net` is the segmentation net itself (the fitted model may wrap it)."""

    def __init__(self, net, batches, num_labels):
        super().__init__()
        self.net, self.batches, self.num_labels = net, batches, num_labels

    def miou(self):
        """mIoU in percent, or None when the crops hold no ground-truth pixel."""
        conf = np.zeros((self.num_labels,) * 2, np.int64)
        for images, targets in self.batches:
            logits = self.net(images, training=False)
            logits = upsample_tf(logits, tf.shape(targets)[1:3], self.net.output_stride, self.net.output_offset)
            conf += metrics.confusion_matrix(targets.numpy(), tf.argmax(logits, -1).numpy(), self.num_labels)
        return metrics.mean_iou(conf) if conf.sum() else None

    def on_epoch_end(self, epoch, logs=None):
        miou = self.miou()
        if logs is not None and miou is not None:
            logs["val_miou"] = miou
