"""A self-training round (beyond the paper): the next round's guide from the previous
round's segmenter.

Its probabilities on a training image are restricted to background and the image's labels
(the one thing the weak supervision is sure of), refined by a dense CRF, and the CRF's
labels become the guide; pixels whose CRF probability stays below `min_confidence` are left
undecided (255, ignored by the segmenter's loss), as G2 leaves the pixels it cannot decide.
"""

import numpy as np

from tfguided.crf import dense_crf
from tfguided.data.labelmap import IGNORE


def restrict_to_labels(probs, labels):
    """[H, W, C] probabilities with every class but background and `labels` removed, renormalised
    (a pixel whose mass was all on removed classes becomes background)."""
    allowed = np.zeros(probs.shape[-1], bool)
    allowed[0] = True
    allowed[np.asarray(labels, np.int64)] = True
    kept = np.where(allowed, probs, 0.0).astype(np.float32)
    total = kept.sum(-1, keepdims=True)
    background = np.zeros_like(kept)
    background[..., 0] = 1.0
    return np.where(total > 0, kept / np.maximum(total, 1e-12), background)


def relabel(image, probs, labels, min_confidence, crf_params="deeplab", crf_iterations=10, crf_downscale=1.0):
    """uint8 RGB [H, W, 3], the segmenter's probabilities [H, W, C] and the image's labels ->
    the next round's guide, uint8 [H, W] (module docstring)."""
    refined = dense_crf(image, restrict_to_labels(probs, labels), crf_params, crf_iterations,
                        downscale=crf_downscale)
    guide = refined.argmax(-1).astype(np.uint8)
    guide[refined.max(-1) < min_confidence] = IGNORE
    return guide
