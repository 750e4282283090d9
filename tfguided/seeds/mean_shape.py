"""The centre mean shape baseline (§4.2, Figure 3): a seeder that never looks at the image.

Its class map is the mean of every ground-truth class mask of the training set (one per image
and class present), each resized to a square canvas; at test time it is resized to the image
and used for each of the image's labels.
"""

import cv2
import numpy as np

from tfguided.data.labelmap import IGNORE

CANVAS = 64
FILE = "mean_shape.npy"  # the seeder stage's file of the mean shape


class MeanShape:
    """Accumulates class masks; `shape` is their mean on the canvas."""

    def __init__(self, canvas=CANVAS):
        self.total = np.zeros((canvas, canvas), np.float64)
        self.count = 0

    def add(self, gt):
        for c in np.unique(gt):
            if c in (0, IGNORE):
                continue
            mask = (gt == c).astype(np.float32)
            self.total += cv2.resize(mask, self.total.shape[::-1], interpolation=cv2.INTER_AREA)
            self.count += 1

    @property
    def shape(self):
        if not self.count:
            raise ValueError("mean shape: no ground-truth object masks in the training split")
        return (self.total / self.count).astype(np.float32)


def class_maps(mean_shape, labels, image_shape):
    """[H, W, len(labels)]: the mean shape resized to the image, max 1, for every label."""
    mean = cv2.resize(mean_shape, (image_shape[1], image_shape[0]), interpolation=cv2.INTER_LINEAR)
    mean = mean / max(float(mean.max()), 1e-12)
    return np.repeat(mean[..., None], len(labels), axis=-1)
