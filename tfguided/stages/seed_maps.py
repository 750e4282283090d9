"""The seeders' normalised class maps and seed panels, shared by the `seeder` and `seed_eval` stages.

Every seeder of Table 1 gives per-label class maps in [0, 1] at the image's size: the GAP nets'
CAMs, the backprop seeders on the classifier (vanilla, guided, excitation), the centre mean shape.
"""

import os

import cv2
import numpy as np

from tfguided import crf, registry
from tfguided.data import imageio, labelmap, pipelines
from tfguided.eval import panels
from tfguided.inference import seeder_maps_fn
from tfguided.scoremaps import resized_geometry
from tfguided.seeds import backprop, mean_shape
from tfguided.seeds.cam import normalised_class_maps, seeds_from_maps
from tfguided.train import loop


def class_maps(ctx, split, limit=None, records_range=None):
    """Yields (id, RGB image, labels, ground truth, normalised maps [H, W, L]) for the images of
    `split` (the first `limit`), from the configured seeder.

    Args:
      ctx: the run's stages.context.Context.
      split: the split of the converted target set.
      limit: how many images, or None for all.
      records_range: (start, stop): only those examples (a task's part); None: all.
    """
    cfg = ctx.config
    kind = registry.SEEDERS[cfg.seeder.arch]["kind"]
    if kind == "baseline":
        mean = np.load(os.path.join(ctx.stage_dir("seeder"), mean_shape.FILE))
        no_network = lambda batch: [None] * len(batch["id"])
        for image_id, image, labels, gt, _ in _batched(ctx, split, limit, records_range, 8, no_network):
            yield image_id, image, labels, gt, mean_shape.class_maps(mean, labels, image.shape[:2])
        return
    if kind == "backprop":
        yield from _backprop_maps(ctx, split, limit, records_range)
        return
    seeder = loop.load_model(ctx.stage_dir("seeder"))
    size, tta = cfg.seeder.net.input_size, cfg.guide.seed_tta
    cam_fn = seeder_maps_fn(seeder, size, tta.scales, tta.flip)
    cams_of = lambda batch: cam_fn(batch["seeder_input"]).numpy()
    for image_id, image, labels, gt, cams in _batched(ctx, split, limit, records_range, size, cams_of):
        geometry = resized_geometry(seeder.output_stride, seeder.output_offset, size, image.shape[:2])
        yield image_id, image, labels, gt, normalised_class_maps(cams, labels, image.shape[:2], geometry)


def _batched(ctx, split, limit, records_range, size, network_fn):
    """(id, image, labels, gt, network output) per image, the network run on batches at `size`."""
    n = 0
    for batch in pipelines.image_batches(ctx.target_dir, split, 16, size, full_size=False,
                                           records_range=records_range):
        if limit is not None and n >= limit:
            return
        outputs = network_fn(batch)
        for j in range(len(outputs)):
            if limit is not None and n >= limit:
                return
            n += 1
            image_id = batch["id"][j].numpy().decode()
            labels = [int(c) for c in batch["labels"][j].numpy() if c > 0]
            mask = batch["mask"][j].numpy()
            yield (image_id, imageio.decode_image(batch["image"][j].numpy(), image_id), labels,
                   labelmap.decode_label_png(mask, image_id) if mask else None, outputs[j])


def _backprop_maps(ctx, split, limit, records_range):
    """The backprop seeders: one backward pass per class present in the batch (§4.2)."""
    classifier = loop.load_model(ctx.stage_dir("classifier"))
    method = ctx.config.seeder.arch

    size = classifier.input_size

    def per_label_signals(batch):
        """[S, S, L] per image: the signal of each of its labels, from one pass per class present."""
        labels = batch["labels"].numpy()
        present = sorted({int(c) for c in labels.ravel() if c > 0})
        by_class = {c: backprop.signals(classifier, batch["seeder_input"], c - 1, method) for c in present}
        out = []
        for j, row in enumerate(labels):
            maps = [by_class[int(c)][j] for c in row if c > 0]
            out.append(np.stack(maps, axis=-1) if maps else np.zeros((size, size, 0), np.float32))
        return out

    for image_id, image, labels, gt, signal_maps in _batched(ctx, split, limit, records_range, size, per_label_signals):
        yield image_id, image, labels, gt, backprop.localisation_maps(
            image, signal_maps, *crf.settings(ctx.config.seeder.crf))


def heatmap(maps):
    """The best normalised class map as a JET heat image (RGB)."""
    best = maps.max(axis=-1) if maps.shape[-1] else np.zeros(maps.shape[:2], np.float32)
    return cv2.applyColorMap((np.clip(best, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]


def seed_panel(image, labels, maps, tau, gt):
    """A seed panel: the image, its best class map as a heat image, its seeds at `tau` and the
    ground truth where known.

    Args:
      image: RGB uint8 [H, W, 3].
      labels: the image's class labels, one per map.
      maps: the normalised class maps [H, W, L].
      tau: the seed threshold (guide.tau).
      gt: the ground-truth label map, or None.
    Returns:
      The panel, one RGB uint8 strip (eval.panels.panel).
    """
    items = [("class map", heatmap(maps)), (f"seeds@{tau:g}", seeds_from_maps(maps, labels, tau))]
    return panels.panel(image, items + ([("truth", gt)] if gt is not None else []))


def write_seed_panels(ctx, out_dir, count):
    """Seed panels of the first `count` eval images, as PNGs under out_dir/panels and in TensorBoard.

    Args:
      ctx: the run's stages.context.Context.
      out_dir: the stage directory.
      count: how many panels.
    """
    made = []
    for image_id, image, labels, gt, maps in class_maps(ctx, ctx.config.data.eval_split, count):
        made.append(seed_panel(image, labels, maps, ctx.config.guide.tau, gt))
        imageio.write_image(os.path.join(out_dir, "panels", image_id + ".png"), made[-1])
    panels.write_tensorboard(os.path.join(out_dir, "logs"), "seed_panels", made)
