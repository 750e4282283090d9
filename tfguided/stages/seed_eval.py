"""Stage `seed_eval`: the seeder's localisation quality on the eval split (§4.2, Table 1, Figure 3).

For each eval image the seeder's normalised class maps of its ground-truth labels are scored
against the ground truth over every threshold tau: foreground and background precision-recall
curves, mP, and the seeder's classification mAP. Writes `pr_curves.json`, `table1.md`,
`figure3.png` (the curves) and seed panels (image | class map | seeds at tau | truth) as PNGs
and TensorBoard images. Works for the GAP seeders, the backprop seeders on the classifier
(vanilla, guided, excitation) and the centre mean shape baseline.
"""

import os

import numpy as np

from tfguided import files, registry
from tfguided.data import imageio, records
from tfguided.eval import panels, plots, seed_metrics
from tfguided.stages import parts
from tfguided.stages.seed_maps import class_maps, write_seed_panels

def table1_markdown(rows):
    """rows: {seeder: {mP, map, ...}} -> Table 1 as Markdown (percent)."""
    fmt = lambda v: "-" if v is None or not np.isfinite(v) else f"{v:.1f}"
    lines = ["| seeder | mP | fg P@20%R | bg P@80%R | mAP |", "|---|---:|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {fmt(r['mP'])} | {fmt(r['fg_precision_at_20_recall'])} | "
                     f"{fmt(r['bg_precision_at_80_recall'])} | {fmt(r.get('map'))} |")
    return "\n".join(lines)


def run(ctx, out_dir):
    """Scores the seeder's class maps on data.eval_split (module docstring) and writes
    pr_curves.json, table1.md, figure3.png and guide.panels seed panels; every eval image needs
    ground truth.

    Args:
      ctx: the run's stages.context.Context.
      out_dir: the stage directory.
    Returns:
      mP, fg_precision_at_20_recall and bg_precision_at_80_recall (percent), map (the seeder's or
      classifier's val_map) and images; {} on a task other than the chief (in a multi-worker
      cluster each task scores its part of the images, stages/parts.py; the chief sums the counts).
    """
    cfg = ctx.config
    split = cfg.data.eval_split
    count = records.split_count(ctx.target_dir, split)
    name, part = cfg.seeder.arch, ctx.part()
    start, stop = part.bounds(count)
    print(f"seed_eval: {name} on {stop - start} of {count} {split} images (part {part.index + 1} of {part.count})")

    def score(records_range):
        pr = seed_metrics.SeedPR(cfg.num_classes)
        for image_id, image, labels, gt, maps in class_maps(ctx, split, records_range=records_range):
            if gt is None:
                raise ValueError(f"{ctx.target_dir}: {split} image {image_id!r} has no ground truth")
            pr.add(maps, labels, gt)
        return pr.to_json()

    states = parts.figures(ctx, "seed_eval", out_dir, count, score)
    if states is None:
        return {}
    curves = seed_metrics.SeedPR.merged(cfg.num_classes, states).curves()
    trained = "classifier" if registry.SEEDERS[cfg.seeder.arch]["kind"] == "backprop" else "seeder"
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
