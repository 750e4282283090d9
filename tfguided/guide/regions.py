"""What every guide labeller shares: connected components, the salient regions, the ignore label."""

import cv2
import numpy as np

from tfguided.data.labelmap import IGNORE


UNDECIDED = {"ignore": IGNORE, "background": 0}  # the label of undecided pixels: 255 (paper) or 0


def components(mask, connectivity, min_pixels=0):
    """bool [H, W] -> int32 component ids (0 = none), dropping components under `min_pixels`."""
    n, ids = cv2.connectedComponents(mask.astype(np.uint8), connectivity=connectivity)
    if min_pixels > 1 and n > 1:
        small = np.bincount(ids.ravel(), minlength=n) < min_pixels
        small[0] = False
        ids[small[ids]] = 0
    return ids


def salient_components(saliency_fg, min_component_fraction=0.01, connectivity=8):
    """The saliency foreground's components R_i^fg with area >= min_component_fraction of the
    image (supp. E: 1%), as int32 ids (0 = none)."""
    height, width = saliency_fg.shape
    min_area = int(np.ceil(min_component_fraction * height * width - 1e-6))  # ">= 1%", float-safe
    return components(saliency_fg, connectivity, min_area)
