"""One image's guide labels from the networks' outputs: what the guide stage's worker processes run.

Strategies (§5): seeds (CAM seeds only), g0 (saliency + a random image label), g1 (each salient
component labelled by the classifier), g2 (seeds propagated in the saliency, the paper's), oracle
(g2 with the ground-truth foreground as saliency). `guide_cfg` is the config's guide section,
read field by field; numpy and OpenCV only.
"""

from tfguided.data import imageio, labelmap
from tfguided.guide.g0 import guide_g0, image_rng
from tfguided.guide.g1 import guide_g1
from tfguided.guide.g2 import guide_g2
from tfguided.guide.regions import UNDECIDED
from tfguided.saliency.foreground import saliency_foreground
from tfguided.saliency.mbd import read_map_png
from tfguided.seeds.cam import crf_seeds, normalised_class_maps, seeds_from_maps

# What each strategy needs (§5): the seeder (CAM seeds), the saliency net, the classifier.
GUIDE_NEEDS = {"seeds": ("seeder",), "g0": ("saliency",), "g1": ("saliency", "classifier"),
               "g2": ("seeder", "saliency"), "oracle": ("seeder",)}
STRATEGIES = tuple(GUIDE_NEEDS)


def image_seeds(image, labels, cams, cam_geometry, guide_cfg):
    """The CAM seeds at tau (§6.1), refined by a dense CRF if guide.crf_seed names a parameter
    set (supp. C "crf-seed")."""
    maps = normalised_class_maps(cams, labels, image.shape[:2], cam_geometry)
    if guide_cfg.crf_seed != "none":
        return crf_seeds(image, maps, labels, guide_cfg.tau, guide_cfg.crf_seed, guide_cfg.crf.iterations,
                         guide_cfg.crf.downscale)
    return seeds_from_maps(maps, labels, guide_cfg.tau)


def ground_truth_foreground(gt):
    """The oracle's saliency: the ground-truth object pixels (void excluded)."""
    return (gt > 0) & (gt != labelmap.IGNORE)


def guide_inputs(image, labels, cams, cam_geometry, saliency_prob, gt, guide_cfg):
    """(seeds, foreground) the strategy uses; None for an input it does not use."""
    needs = GUIDE_NEEDS[guide_cfg.strategy]
    seeds = image_seeds(image, labels, cams, cam_geometry, guide_cfg) if "seeder" in needs else None
    if guide_cfg.strategy == "oracle":
        if gt is None:
            raise ValueError("--guide=oracle needs ground-truth masks for the training images")
        foreground = ground_truth_foreground(gt)
    elif "saliency" in needs:
        foreground = saliency_foreground(saliency_prob, guide_cfg.saliency_fraction)
    else:
        foreground = None
    return seeds, foreground


def g2_args(guide_cfg):
    """`guide_g2`'s numbers from the guide section."""
    return dict(min_component_fraction=guide_cfg.min_component_fraction,
                connectivity=guide_cfg.connectivity, min_seed_pixels=guide_cfg.min_seed_pixels,
                undecided=UNDECIDED[guide_cfg.undecided], crf_unary_sigma=guide_cfg.crf_unary_sigma,
                crf_params=guide_cfg.crf.params, crf_iterations=guide_cfg.crf.iterations,
                crf_downscale=guide_cfg.crf.downscale)


def make_guide(image, labels, seeds, foreground, guide_cfg, image_id="", score_fn=None):
    """The guide label map of one image from its inputs (numpy in, numpy out)."""
    strategy = guide_cfg.strategy
    if strategy == "seeds":
        return seeds
    if strategy == "g0":
        return guide_g0(labels, foreground, image_rng(image_id, guide_cfg.rng_seed))
    if strategy == "g1":
        return guide_g1(image, labels, foreground, score_fn, guide_cfg.min_component_fraction,
                        guide_cfg.connectivity)
    return guide_g2(image, seeds, foreground, **g2_args(guide_cfg))


def label_image(image, image_id, labels, cams, cam_geometry, saliency_prob, gt, guide_cfg, score_fn=None):
    """One decoded image's (guide, seeds, foreground); seeds / foreground are None where unused,
    the guide None for G1 without `score_fn` (its classifier runs in the main process)."""
    seeds, foreground = guide_inputs(image, labels, cams, cam_geometry, saliency_prob, gt, guide_cfg)
    if guide_cfg.strategy == "g1" and score_fn is None:
        return None, seeds, foreground
    return make_guide(image, labels, seeds, foreground, guide_cfg, image_id, score_fn), seeds, foreground


def label_example(image_bytes, image_id, labels, cams, cam_geometry, saliency, gt, guide_cfg):
    """`label_image` from the encoded image (a worker process runs it). `saliency`:
    probabilities [H, W], or the path of the saliency stage's MB+ map; `gt`: the ground truth,
    for the oracle (None otherwise)."""
    image = imageio.decode_image(image_bytes, image_id)
    saliency_prob = read_map_png(saliency) if isinstance(saliency, str) else saliency
    return label_image(image, image_id, labels, cams, cam_geometry, saliency_prob, gt, guide_cfg)


def label_args(item, guide_cfg):
    """`label_example`'s arguments for one item of the guide stage's network outputs."""
    oracle_gt = item["gt"] if guide_cfg.strategy == "oracle" else None  # the oracle's saliency
    return (item["image"], item["id"], item["labels"], item["cams"], item["cam_geometry"],
            item["saliency"], oracle_gt, guide_cfg)
