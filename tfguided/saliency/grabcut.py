"""Saliency training targets from box annotations (§6.1, following [16]).

MSRA gives each image several annotators' boxes around its main salient object. The paper
averages them and runs GrabCut inside the mean box; the segment becomes the binary target.
"""

import cv2
import numpy as np
from absl import logging


def mean_box(boxes):
    """[N, 4] boxes (left, top, right, bottom; inclusive pixel coordinates) -> their mean box."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        raise ValueError("no boxes to average")
    return boxes.mean(axis=0)


def grabcut_mask(image, box, iterations=5):
    """RGB uint8 [H, W, 3] and a box -> bool foreground mask [H, W] from GrabCut inside the box.

    GrabCut needs some background outside the rectangle, so the rectangle is kept at least one
    pixel inside the image. Where GrabCut finds no foreground (a flat box), the box itself is the
    mask: the annotators agreed something is there. OpenCV's random generator (GrabCut's k-means
    start) is seeded before each call, so the mask depends on the photo and box only, not on the
    GrabCuts a process ran before (one conversion or its parts in several processes, same masks).
    """
    height, width = image.shape[:2]
    left, top, right, bottom = np.round(box).astype(int)
    left, top = max(left, 1), max(top, 1)
    right, bottom = min(right, width - 2), min(bottom, height - 2)
    box_mask = np.zeros((height, width), bool)
    if right <= left or bottom <= top:
        return box_mask
    box_mask[top:bottom + 1, left:right + 1] = True
    mask = np.zeros((height, width), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    rect = (int(left), int(top), int(right - left + 1), int(bottom - top + 1))
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(np.ascontiguousarray(image[..., ::-1]), mask, rect, bgd, fgd, iterations,
                    cv2.GC_INIT_WITH_RECT)
    except cv2.error as e:
        logging.warning("GrabCut failed (%s); using the mean box as the mask", e)
        return box_mask
    fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    return fg if fg.any() else box_mask
