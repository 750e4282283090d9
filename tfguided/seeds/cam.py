"""CAM seeds (§4.2 "Implementation details", §6.1): class maps -> a seed label map.

For the image's ground-truth classes only: upsample the class maps to the image size, divide each
by its own maximum, mark background where every class is below tau, else take the argmax class.
"""

import numpy as np

from tfguided.crf import dense_crf
from tfguided.scoremaps import upsample

GAP_HIGHRES_GEOMETRY = (8, 3.5)  # output stride and offset of GAP-HighRes (tfguided/scoremaps.py)


def normalised_class_maps(cams, labels, image_shape, geometry=GAP_HIGHRES_GEOMETRY):
    """cams [h, w, K] (class c at channel c-1) -> [H, W, len(labels)] maps with per-class max 1.

    `geometry` = (stride, offset) of the class maps on the image. A class whose map never rises
    above zero gets an all-zero map: no positive evidence.
    """
    height, width = image_shape
    labels = [int(c) for c in labels]
    if not labels:
        return np.zeros((height, width, 0), np.float32)
    maps = upsample(np.asarray(cams, np.float32)[..., [c - 1 for c in labels]], (height, width), *geometry)
    for plane in np.moveaxis(maps, -1, 0):  # contiguous class planes (upsample works class-major)
        peak = plane.max()
        if peak > 0:
            plane /= peak
        else:
            plane[:] = 0
    return maps


def seeds_from_maps(maps, labels, tau=0.2):
    """[H, W, L] normalised maps of `labels` -> uint8 seeds: 0 where all maps < tau, else the
    argmax label (the first on ties), one class plane at a time."""
    if maps.shape[-1] == 0:
        return np.zeros(maps.shape[:2], np.uint8)
    top = maps[..., 0]
    best = np.zeros(maps.shape[:2], np.uint8)
    for k in range(1, maps.shape[-1]):
        plane = maps[..., k]
        best[plane > top] = k
        top = np.maximum(top, plane)
    seeds = np.asarray(labels, np.uint8)[best]
    seeds[top < tau] = 0
    return seeds


def cam_seeds(cams, labels, image_shape, tau=0.2, geometry=GAP_HIGHRES_GEOMETRY):
    """The paper's seeds: CAMs of the image's classes, normalised, thresholded at tau (0.2)."""
    return seeds_from_maps(normalised_class_maps(cams, labels, image_shape, geometry), labels, tau)


def crf_seeds(image, maps, labels, tau, params="sec", iterations=10, downscale=1.0):
    """Supp. C "crf-seed": the seeds refined by a dense CRF (`params`: deeplab | sec).

    Unaries: background scored tau everywhere against each class's normalised map, so the CRF's
    starting argmax is exactly the seed rule.
    """
    if maps.shape[-1] == 0:
        return np.zeros(maps.shape[:2], np.uint8)
    scores = np.concatenate([np.full(maps.shape[:2] + (1,), tau, np.float32), maps], axis=-1)
    scores = np.maximum(scores, 1e-6)
    probs = scores / scores.sum(axis=-1, keepdims=True)
    best = dense_crf(image, probs, params, iterations, downscale=downscale).argmax(axis=-1)
    return np.asarray([0] + [int(c) for c in labels], np.uint8)[best]
