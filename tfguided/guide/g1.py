"""The G1 guide labeller, "per-connected-component classification" (§5).

Each salient component R (the same >= 1% components as G2) is labelled with the image label c
whose classifier score changes most in its favour when the image is reduced to R:
argmax_c s_c(I * R) - s_c(I), the paper's "greatest positive score difference before and after
zeroing". Zeroing is done in the network's input space: pixels outside R become the mean colour,
which the VGG preprocessing maps to 0. (Read literally as "the score that drops most", the rule
would give a dog component the label of the sofa next to it; BUILD_NOTES.md.) Pixels outside the
components are background. An image with one label needs no classifier: every component gets it.
"""

import numpy as np

from tfguided.data.imageio import IMAGENET_MEAN_RGB
from tfguided.guide.regions import salient_components


def zero_outside(image, region):
    """uint8 [H, W, 3], bool [H, W] -> float32 image with the pixels outside `region` at the mean."""
    return np.where(region[..., None], image.astype(np.float32),
                    np.asarray(IMAGENET_MEAN_RGB, np.float32)).astype(np.float32)


def guide_g1(image, labels, saliency_fg, score_fn, min_component_fraction=0.01, connectivity=8):
    """RGB uint8 [H, W, 3], labels (1..K), saliency bool [H, W] -> guide uint8 [H, W].

    `score_fn`: float32 [N, H, W, 3] images (0..255) -> classifier scores [N, K] (class c at c-1).
    The components are G2's (`salient_components`).
    """
    ids = salient_components(saliency_fg, min_component_fraction, connectivity)
    guide = np.zeros(saliency_fg.shape, np.uint8)
    regions = [ids == i for i in np.unique(ids) if i != 0]
    labels = [int(c) for c in labels]
    if not regions or not labels:
        return guide
    if len(labels) == 1:
        for region in regions:
            guide[region] = labels[0]
        return guide
    batch = np.stack([image.astype(np.float32)] + [zero_outside(image, r) for r in regions])
    scores = np.asarray(score_fn(batch))[:, [c - 1 for c in labels]]
    gains = scores[1:] - scores[0]
    for region, gain in zip(regions, gains):
        guide[region] = labels[int(np.argmax(gain))]
    return guide


def label(image, labels, seeds, foreground, guide_cfg, image_id="", score_fn=None):
    """The registry's labeller (registry.GUIDES "g1"): G1 with the guide section's components."""
    return guide_g1(image, labels, foreground, score_fn, guide_cfg.min_component_fraction, guide_cfg.connectivity)
