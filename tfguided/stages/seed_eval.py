"""Stage `seed_eval`: the seeder's localisation quality on the eval split (§4.2, Table 1, Figure 3).

For each eval image the seeder's normalised class maps of its ground-truth labels are scored
against the ground truth over every threshold tau: foreground and background precision-recall
curves, mP, and the seeder's classification mAP. Writes `pr_curves.json`, `table1.md`,
`figure3.png` (the curves) and seed panels (image | class map | seeds at tau | truth) as PNGs
and TensorBoard images. Works for the GAP seeders, the backprop seeders on the classifier
(vanilla, guided, excitation) and the centre mean shape baseline.
"""

import os

import cv2
import numpy as np

from tfguided import files
from tfguided.data import imageio, labelmap, records
from tfguided.eval import panels, plots, seed_metrics
from tfguided.inference import fixed_size_fn
from tfguided.scoremaps import resized_geometry
from tfguided.seeds import backprop, mean_shape
from tfguided.seeds.backprop import METHODS as BACKPROP_SEEDERS
from tfguided.seeds.cam import normalised_class_maps, seeds_from_maps
from tfguided.stages import guide
from tfguided.train import loop

MEAN_SHAPE_FILE = "mean_shape.npy"


def class_maps(ctx, split, limit=None):
    """Yields (id, RGB image, labels, ground truth, normalised maps [H, W, L]) for the images of
    `split` (the first `limit`), from the configured seeder."""
    cfg = ctx.config
    if cfg.seeder.arch == "mean_shape":
        mean = np.load(os.path.join(ctx.stage_dir("seeder"), MEAN_SHAPE_FILE))
        no_network = lambda batch: [None] * len(batch["id"])
        for image_id, image, labels, gt, _ in _batched(ctx, split, limit, 8, no_network):
            yield image_id, image, labels, gt, mean_shape.class_maps(mean, labels, image.shape[:2])
        return
    if cfg.seeder.arch in BACKPROP_SEEDERS:
        yield from _backprop_maps(ctx, split, limit)
        return
    seeder = loop.load_model(ctx.stage_dir("seeder"))
    cam_fn = fixed_size_fn(seeder.cam_model())
    size = cfg.seeder.net.input_size
    for image_id, image, labels, gt, cams in _batched(ctx, split, limit, size, lambda b: cam_fn(b["seeder_input"]).numpy()):
        geometry = resized_geometry(seeder.output_stride, seeder.output_offset, size, image.shape[:2])
        yield image_id, image, labels, gt, normalised_class_maps(cams, labels, image.shape[:2], geometry)


def _batched(ctx, split, limit, size, network_fn):
    """(id, image, labels, gt, network output) per image, the network run on batches at `size`."""
    n = 0
    for batch in guide.batches(ctx, split, 16, size, full_size=False):
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


def _backprop_maps(ctx, split, limit):
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

    for image_id, image, labels, gt, signal_maps in _batched(ctx, split, limit, size, per_label_signals):
        yield image_id, image, labels, gt, backprop.localisation_maps(
            image, signal_maps, ctx.config.seeder.crf.params, ctx.config.seeder.crf.iterations,
            ctx.config.seeder.crf.downscale)


def heatmap(maps):
    """The best normalised class map as a JET heat image (RGB)."""
    best = maps.max(axis=-1) if maps.shape[-1] else np.zeros(maps.shape[:2], np.float32)
    return cv2.applyColorMap((np.clip(best, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]


def seed_panel(image, labels, maps, tau, gt):
    items = [("class map", heatmap(maps)), (f"seeds@{tau:g}", seeds_from_maps(maps, labels, tau))]
    return panels.panel(image, items + ([("truth", gt)] if gt is not None else []))


def write_seed_panels(ctx, out_dir, count):
    """Seed panels of the first `count` eval images, as PNGs under out_dir/panels and in TensorBoard."""
    made = []
    for image_id, image, labels, gt, maps in class_maps(ctx, ctx.config.data.eval_split, count):
        made.append(seed_panel(image, labels, maps, ctx.config.guide.tau, gt))
        imageio.write_image(os.path.join(out_dir, "panels", image_id + ".png"), made[-1])
    panels.write_tensorboard(os.path.join(out_dir, "logs"), "seed_panels", made)


def table1_markdown(rows):
    """rows: {seeder: {mP, map, ...}} -> Table 1 as Markdown (percent)."""
    fmt = lambda v: "-" if v is None or not np.isfinite(v) else f"{v:.1f}"
    lines = ["| seeder | mP | fg P@20%R | bg P@80%R | mAP |", "|---|---:|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {fmt(r['mP'])} | {fmt(r['fg_precision_at_20_recall'])} | "
                     f"{fmt(r['bg_precision_at_80_recall'])} | {fmt(r.get('map'))} |")
    return "\n".join(lines)


def run(ctx, out_dir):
    cfg = ctx.config
    split = cfg.data.eval_split
    count = records.read_manifest(ctx.voc_dir)["splits"][split]["count"]
    pr = seed_metrics.SeedPR(cfg.num_classes)
    name = cfg.seeder.arch
    print(f"seed_eval: {name} on {count} {split} images")
    for image_id, image, labels, gt, maps in class_maps(ctx, split):
        if gt is None:
            raise ValueError(f"{ctx.voc_dir}: {split} image {image_id!r} has no ground truth")
        pr.add(maps, labels, gt)
    curves = pr.curves()
    trained = "classifier" if cfg.seeder.arch in BACKPROP_SEEDERS else "seeder"
    results = {**seed_metrics.mean_precision(curves), "map": ctx.results(trained).get("val_map"),
               "images": count}
    files.atomic_write_json(os.path.join(out_dir, "pr_curves.json"),
                            {k: [None if not np.isfinite(v) else float(v) for v in vals]
                             for k, vals in curves.items()})
    table = table1_markdown({name: results})
    files.atomic_write_text(os.path.join(out_dir, "table1.md"), table + "\n")
    figure = plots.pr_figure({name: curves})
    imageio.write_image(os.path.join(out_dir, "figure3.png"), figure)
    panels.write_tensorboard(os.path.join(out_dir, "logs"), "pr_curves", [figure])
    write_seed_panels(ctx, out_dir, cfg.guide.panels)
    print(table)
    return results
