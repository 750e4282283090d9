"""The G2 guide labeller, "propagating seeds" (§5, supp. E).

Saliency components of at least 1% of the image are labelled by how many seed classes touch them:
0 -> undecided (ignore), 1 -> that class, >= 2 -> dense CRF inside the component with the touching
seeds (Gaussian-blurred, as in the authors' code) as unaries. Seed pixels bleeding out of the
components they touch -> undecided; a seed touching several components labels all of them; an
isolated seed (touching none) is kept. Everything else is background.
"""

import cv2
import numpy as np

from tfguided.configs import GuideConfig
from tfguided.crf import dense_crf
from tfguided.data.labelmap import IGNORE
from tfguided.guide.regions import components, salient_components, undecided_value


def seed_components(seeds, connectivity, min_pixels):
    """Seed label map -> list of (class, bool mask): connected components of each class's seeds."""
    out = []
    for c in np.unique(seeds):
        if c == 0 or c == IGNORE:
            continue
        ids = components(seeds == c, connectivity, min_pixels)
        out += [(int(c), ids == j) for j in np.unique(ids) if j != 0]
    return out


def crf_inside(image, component, touching, params):
    """Labels of a component touched by >= 2 seed classes: CRF with blurred-seed unaries, argmax."""
    ys, xs = np.nonzero(component)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    classes = sorted(touching)
    blurred = np.stack([
        cv2.GaussianBlur(np.any([m[y0:y1, x0:x1] for m in touching[c]], axis=0).astype(np.float32),
                         (0, 0), params.crf_unary_sigma)
        for c in classes], axis=-1)
    total = blurred.sum(axis=-1, keepdims=True)
    probs = np.where(total > 1e-6, blurred / np.maximum(total, 1e-6), 1.0 / len(classes))
    q = dense_crf(image[y0:y1, x0:x1], probs, params.crf.params, params.crf.iterations,
                  downscale=params.crf.downscale)
    labels = np.asarray(classes, np.uint8)[q.argmax(axis=-1)]
    return (y0, y1, x0, x1), labels


def guide_g2(image, seeds, saliency_fg, params=None):
    """RGB uint8 [H, W, 3], seeds uint8 [H, W] (0 = background), saliency bool [H, W] -> guide uint8.

    `params` is a `GuideConfig` (min_component_fraction, connectivity, min_seed_pixels,
    undecided, crf, crf_unary_sigma); the paper's values by default.
    """
    params = params or GuideConfig()
    undecided = undecided_value(params)
    fg_ids = salient_components(saliency_fg, params)
    guide = np.zeros(seeds.shape, np.uint8)
    touching = {}  # fg component id -> {class: [seed masks]}
    isolated, bleeding = [], []
    for c, mask in seed_components(seeds, params.connectivity, params.min_seed_pixels):
        hit = np.unique(fg_ids[mask])
        hit = hit[hit != 0]
        if len(hit) == 0:
            isolated.append((c, mask))
            continue
        bleeding.append(mask & (fg_ids == 0))
        for i in hit:
            touching.setdefault(int(i), {}).setdefault(c, []).append(mask)
    for i in np.unique(fg_ids):
        if i == 0:
            continue
        component = fg_ids == i
        classes = touching.get(int(i), {})
        if len(classes) == 0:
            guide[component] = undecided
        elif len(classes) == 1:
            guide[component] = next(iter(classes))
        else:
            (y0, y1, x0, x1), labels = crf_inside(image, component, classes, params)
            inside = component[y0:y1, x0:x1]
            guide[y0:y1, x0:x1][inside] = labels[inside]
    for mask in bleeding:
        guide[mask] = undecided
    for c, mask in isolated:
        guide[mask] = c
    return guide
