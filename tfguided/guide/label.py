"""One image's guide labels from the networks' outputs: what the guide stage's worker processes run.

The labeller is the guide strategy's entry in registry.GUIDES (§5: seeds, G0, G1, G2, the
oracle, and any registered one), called as `label(image, labels, seeds, foreground, guide_cfg,
image_id, score_fn)`; this module gives it what its entry `needs`: the CAM seeds (seeder), the
saliency foreground (saliency), the ground-truth foreground (masks). `guide_cfg` is the config's
guide section, read field by field; numpy and OpenCV only.
"""

from tfguided import crf, registry
from tfguided.data import imageio, labelmap
from tfguided.saliency.foreground import saliency_foreground
from tfguided.saliency.mbd import read_map_png
from tfguided.seeds.cam import crf_seeds, normalised_class_maps, seeds_from_maps


def seeds_only(image, labels, seeds, foreground, guide_cfg, image_id="", score_fn=None):
    """The labeller of --guide=seeds (Table 2, row 1): the CAM seeds themselves."""
    return seeds


def image_seeds(image, labels, cams, cam_geometry, guide_cfg):
    """The CAM seeds at tau (§6.1), refined by a dense CRF if guide.crf_seed names a parameter
    set (supp. C "crf-seed")."""
    maps = normalised_class_maps(cams, labels, image.shape[:2], cam_geometry)
    if guide_cfg.crf_seed != "none":
        _, iterations, downscale = crf.settings(guide_cfg.crf)  # crf-seed has its own parameter set
        return crf_seeds(image, maps, labels, guide_cfg.tau, guide_cfg.crf_seed, iterations, downscale)
    return seeds_from_maps(maps, labels, guide_cfg.tau)


def ground_truth_foreground(gt):
    """The oracle's saliency: the ground-truth object pixels (void excluded)."""
    return (gt > 0) & (gt != labelmap.IGNORE)


def guide_inputs(image, labels, cams, cam_geometry, saliency_prob, gt, guide_cfg):
    """(seeds, foreground) the labeller needs; None for an input it does not use."""
    needs = registry.GUIDES[guide_cfg.strategy]["needs"]
    seeds = image_seeds(image, labels, cams, cam_geometry, guide_cfg) if "seeder" in needs else None
    if "saliency" in needs:
        foreground = saliency_foreground(saliency_prob, guide_cfg.saliency_fraction)
    elif "masks" in needs:
        if gt is None:
            raise ValueError(f"--guide={guide_cfg.strategy} needs ground-truth masks for the training images")
        foreground = ground_truth_foreground(gt)
    else:
        foreground = None
    return seeds, foreground


def label_image(image, image_id, labels, cams, cam_geometry, saliency_prob, gt, guide_cfg, score_fn=None):
    """One decoded image's (guide, seeds, foreground); seeds / foreground are None where unused,
    the guide None for a labeller that needs the classifier when no `score_fn` is given (the
    classifier runs in the main process)."""
    seeds, foreground = guide_inputs(image, labels, cams, cam_geometry, saliency_prob, gt, guide_cfg)
    entry = registry.GUIDES[guide_cfg.strategy]
    if "classifier" in entry["needs"] and score_fn is None:
        return None, seeds, foreground
    return entry.load()(image, labels, seeds, foreground, guide_cfg, image_id, score_fn), seeds, foreground


def label_example(image_bytes, image_id, labels, cams, cam_geometry, saliency, gt, guide_cfg):
    """`label_image` from the encoded image (a worker process runs it). `saliency`:
    probabilities [H, W], or the path of a saliency map PNG the saliency stage wrote; `gt`: the
    ground truth, for labellers that need masks (None otherwise)."""
    image = imageio.decode_image(image_bytes, image_id)
    saliency_prob = read_map_png(saliency) if isinstance(saliency, str) else saliency
    return label_image(image, image_id, labels, cams, cam_geometry, saliency_prob, gt, guide_cfg)


def label_args(item, guide_cfg):
    """`label_example`'s arguments for one item of the guide stage's network outputs."""
    gt = item["gt"] if "masks" in registry.GUIDES[guide_cfg.strategy]["needs"] else None
    return (item["image"], item["id"], item["labels"], item["cams"], item["cam_geometry"],
            item["saliency"], gt, guide_cfg)
