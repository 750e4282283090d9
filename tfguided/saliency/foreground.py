"""Saliency foreground from the saliency net's probabilities (§6.1)."""

import numpy as np


def saliency_foreground(fg_prob, fraction=0.5):
    """fg = prob >= fraction x the image's max fg prob (the paper: 50%). bool [H, W]."""
    fg_prob = np.asarray(fg_prob, np.float32)
    peak = float(fg_prob.max()) if fg_prob.size else 0.0
    if peak <= 0:
        return np.zeros(fg_prob.shape, bool)
    return fg_prob >= fraction * peak
