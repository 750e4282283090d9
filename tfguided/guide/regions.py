"""What every guide labeller shares: connected components, the salient regions, the ignore label."""

import cv2
import numpy as np

from tfguided.data.labelmap import IGNORE


def undecided_value(params):
    """The label of undecided pixels: 255 for guide.undecided=ignore (paper), 0 for background."""
    if params.undecided not in ("ignore", "background"):
        raise ValueError(f"guide.undecided={params.undecided!r}: choose ignore or background")
    return IGNORE if params.undecided == "ignore" else 0


def components(mask, connectivity, min_pixels=0):
    """bool [H, W] -> int32 component ids (0 = none), dropping components under `min_pixels`."""
    n, ids = cv2.connectedComponents(mask.astype(np.uint8), connectivity=connectivity)
    if min_pixels > 1 and n > 1:
        small = np.bincount(ids.ravel(), minlength=n) < min_pixels
        small[0] = False
        ids[small[ids]] = 0
    return ids


def salient_components(saliency_fg, params):
    """The saliency foreground's components R_i^fg with area >= min_component_fraction of the
    image (supp. E: 1%), as int32 ids (0 = none)."""
    height, width = saliency_fg.shape
    min_area = int(np.ceil(params.min_component_fraction * height * width - 1e-6))  # ">= 1%", float-safe
    return components(saliency_fg, params.connectivity, min_area)
