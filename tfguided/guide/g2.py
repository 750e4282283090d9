"""The G2 guide labeller, "propagating seeds" (§5, supp. E).

Saliency components of at least 1% of the image are labelled by how many seed classes touch them:
0 -> undecided (ignore), 1 -> that class, >= 2 -> dense CRF inside the component with the touching
seeds (Gaussian-blurred, as in the authors' code) as unaries. Seed pixels bleeding out of the
components they touch -> undecided; a seed touching several components labels all of them; an
isolated seed (touching none) is kept. Everything else is background.
"""

import cv2
import numpy as np
from scipy.ndimage import find_objects

from tfguided.crf import dense_crf, settings
from tfguided.data.labelmap import IGNORE
from tfguided.guide.regions import UNDECIDED, components, salient_components


def seed_components(seeds, connectivity, min_pixels):
    """Seed label map -> list of (class, box, mask): connected components of each class's seeds,
    each as its bounding box (a pair of slices) and a bool mask of the box."""
    out = []
    for c in np.flatnonzero(np.bincount(seeds.ravel(), minlength=256)):
        if c == 0 or c == IGNORE:
            continue
        ids = components(seeds == c, connectivity, min_pixels)
        out += [(int(c), box, ids[box] == j) for j, box in enumerate(find_objects(ids), 1) if box]
    return out


def _inside(box, mask, target):
    """The part of a boxed `mask` inside the box `target`, as a bool array of target's shape."""
    out = np.zeros((target[0].stop - target[0].start, target[1].stop - target[1].start), bool)
    y0, y1 = max(box[0].start, target[0].start), min(box[0].stop, target[0].stop)
    x0, x1 = max(box[1].start, target[1].start), min(box[1].stop, target[1].stop)
    if y0 < y1 and x0 < x1:
        out[y0 - target[0].start:y1 - target[0].start, x0 - target[1].start:x1 - target[1].start] = \
            mask[y0 - box[0].start:y1 - box[0].start, x0 - box[1].start:x1 - box[1].start]
    return out


def crf_inside(image, box, touching, unary_sigma=10.0, crf_params="deeplab", crf_iterations=10,
               crf_downscale=1.0):
    """Labels over a component's box when >= 2 seed classes touch it: CRF with blurred-seed
    unaries, argmax. `touching`: class -> [(box, mask)] of its seed components."""
    classes = sorted(touching)
    blurred = np.stack([
        cv2.GaussianBlur(np.any([_inside(b, m, box) for b, m in touching[c]], axis=0).astype(np.float32),
                         (0, 0), unary_sigma)
        for c in classes], axis=-1)
    total = blurred.sum(axis=-1, keepdims=True)
    probs = np.where(total > 1e-6, blurred / np.maximum(total, 1e-6), 1.0 / len(classes))
    q = dense_crf(image[box], probs, crf_params, crf_iterations, downscale=crf_downscale)
    return np.asarray(classes, np.uint8)[q.argmax(axis=-1)]


def guide_g2(image, seeds, saliency_fg, min_component_fraction=0.01, connectivity=8, min_seed_pixels=0,
             undecided=IGNORE, crf_unary_sigma=10.0, crf_params="deeplab", crf_iterations=10,
             crf_downscale=1.0):
    """RGB uint8 [H, W, 3], seeds uint8 [H, W] (0 = background), saliency bool [H, W] -> guide uint8.

    The defaults are the paper's (the authors' code: min_seed_pixels 25); `undecided` is the label
    of undecided pixels (255 = ignore, or 0). Components are handled within their bounding boxes
    (the same labels as whole-image masks, a fraction of the work).
    """
    fg_ids = salient_components(saliency_fg, min_component_fraction, connectivity)
    guide = np.zeros(seeds.shape, np.uint8)
    touching = {}  # fg component id -> {class: [(box, seed mask)]}
    isolated, bleeding = [], []
    for c, box, mask in seed_components(seeds, connectivity, min_seed_pixels):
        under = fg_ids[box]
        hit = np.unique(under[mask])
        hit = hit[hit != 0]
        if len(hit) == 0:
            isolated.append((c, box, mask))
            continue
        bleeding.append((box, mask & (under == 0)))
        for i in hit:
            touching.setdefault(int(i), {}).setdefault(c, []).append((box, mask))
    for i, box in enumerate(find_objects(fg_ids), 1):
        if box is None:
            continue
        component = fg_ids[box] == i
        classes = touching.get(i, {})
        if len(classes) == 0:
            guide[box][component] = undecided
        elif len(classes) == 1:
            guide[box][component] = next(iter(classes))
        else:
            guide[box][component] = crf_inside(image, box, classes, crf_unary_sigma, crf_params,
                                               crf_iterations, crf_downscale)[component]
    for box, mask in bleeding:
        guide[box][mask] = undecided
    for c, box, mask in isolated:
        guide[box][mask] = c
    return guide


def g2_args(guide_cfg):
    """`guide_g2`'s numbers from the config's guide section (read field by field)."""
    params, iterations, downscale = settings(guide_cfg.crf)
    return dict(min_component_fraction=guide_cfg.min_component_fraction,
                connectivity=guide_cfg.connectivity, min_seed_pixels=guide_cfg.min_seed_pixels,
                undecided=UNDECIDED[guide_cfg.undecided], crf_unary_sigma=guide_cfg.crf_unary_sigma,
                crf_params=params, crf_iterations=iterations, crf_downscale=downscale)


def label(image, labels, seeds, foreground, guide_cfg, image_id="", score_fn=None):
    """The registry's labeller (registry.GUIDES "g2", and "oracle" with the true foreground)."""
    return guide_g2(image, seeds, foreground, **g2_args(guide_cfg))
