"""The G0 guide labeller, "random class assignment" (§5): saliency foreground, one random image label.

All foreground pixels get one class drawn uniformly from the image's labels; the rest is
background. The draw is seeded per image, so a rerun gives the same guide.
"""

import zlib

import numpy as np


def image_rng(image_id, rng_seed=0):
    """A numpy Generator fixed by (rng_seed, image id): reproducible and independent per image."""
    return np.random.default_rng([rng_seed, zlib.crc32(image_id.encode())])


def guide_g0(labels, saliency_fg, rng):
    """labels: the image's classes (1..K); saliency_fg bool [H, W] -> guide uint8 [H, W]."""
    guide = np.zeros(saliency_fg.shape, np.uint8)
    if len(labels):
        guide[saliency_fg] = int(rng.choice(np.asarray(labels)))
    return guide


def label(image, labels, seeds, foreground, guide_cfg, image_id="", score_fn=None):
    """The registry's labeller (registry.GUIDES "g0"): G0 with guide.rng_seed's draw for this image."""
    return guide_g0(labels, foreground, image_rng(image_id, guide_cfg.rng_seed))
