"""Stage `evaluate`: mIoU on the eval split, with and without dense CRF post-processing (§6.1).

Predictions are upsampled to each image's own size (the official protocol), averaged over
evaluate.tta's test-time views if set (beyond the paper; off for its numbers); the CRF uses the
DeepLab parameters by default (supp. C.1) and runs in one process per core while the
network predicts the next images. Writes metrics.json and table.md, prints the table.
"""

import os

import numpy as np

from tfguided import crf, files, parallel
from tfguided.data import imageio, records
from tfguided.eval import metrics, panels
from tfguided.progress import progress_bar
from tfguided.stages import parts
from tfguided.stages.predictions import full_size_predictions


def run(ctx, out_dir):
    """Scores the segmenter's predictions on data.eval_split (module docstring): metrics.json,
    table.md (with ground truth), the first evaluate.panels panels as PNGs and TensorBoard images.

    In a multi-worker cluster each task scores its part of the images and writes its confusion
    matrices (int64) and tag scores as a part file (stages/parts.py); the chief sums them: the
    same figures as one process.

    Args:
      ctx: the run's stages.context.Context.
      out_dir: the stage directory.
    Returns:
      images_with_masks, image_map (the image-level mAP of the segmenter's tags) and, where
      ground truth exists, miou, miou_crf, pixel_accuracy and pixel_accuracy_crf; in percent.
      {} on a task other than the chief.
    """
    cfg = ctx.config
    class_names = ctx.class_names()
    num_labels = cfg.num_classes + 1
    split = cfg.data.eval_split
    count = records.split_count(ctx.target_dir, split)
    part = ctx.part()
    start, stop = part.bounds(count)
    print(f"evaluate: {stop - start} of {count} {split} images (part {part.index + 1} of {part.count})")
    states = parts.figures(ctx, "evaluate", out_dir, count, lambda records_range: score_part(
        ctx, out_dir, split, records_range))
    if states is None:
        return {}
    conf = {kind: sum(np.asarray(s[kind], np.int64) for s in states) for kind in ("plain", "crf")}
    scores = np.array([row for s in states for row in s["scores"]], np.float32).reshape(-1, num_labels - 1)
    tags = np.array([row for s in states for row in s["tags"]], np.float32).reshape(-1, num_labels - 1)
    scored = sum(s["scored"] for s in states)
    results = {"guide": cfg.guide.strategy, "split": split, "images": count, "images_with_masks": scored,
               "image_map": metrics.mean_average_precision(scores, tags)}
    if scored:
        results.update({
            "miou": metrics.mean_iou(conf["plain"]), "miou_crf": metrics.mean_iou(conf["crf"]),
            "pixel_accuracy": metrics.pixel_accuracy(conf["plain"]),
            "pixel_accuracy_crf": metrics.pixel_accuracy(conf["crf"]),
            "per_class_iou": metrics.per_class_dict(conf["plain"], class_names),
            "per_class_iou_crf": metrics.per_class_dict(conf["crf"], class_names),
            "confusion": conf["plain"].tolist(), "confusion_crf": conf["crf"].tolist()})
        table = metrics.iou_table({"IoU": conf["plain"], "IoU+CRF": conf["crf"]}, class_names)
        files.atomic_write_text(os.path.join(out_dir, "table.md"), table + "\n")
        print(f"evaluate ({cfg.guide.strategy}, {split}, {scored} of {count} images with masks):\n{table}")
    else:
        print(f"evaluate: no masks on the {count} {split} images: mIoU not measured; the predicted panels "
              f"are in {os.path.join(out_dir, 'panels')}")
    print(f"evaluate: image-level mAP of the segmenter's tags on {split} (class score: its largest pixel "
          f"probability): {results['image_map']:.1f}")
    files.atomic_write_json(os.path.join(out_dir, "metrics.json"), results)
    ids = records.read_manifest(ctx.target_dir)["splits"][split]["ids"][:cfg.evaluate.panels]
    panels.write_tensorboard(os.path.join(out_dir, "logs"), "predictions",
                             panels.read_panels(os.path.join(out_dir, "panels"), ids))
    print(f"metrics: {os.path.join(out_dir, 'metrics.json')}")
    return {k: results[k] for k in ("miou", "miou_crf", "pixel_accuracy", "pixel_accuracy_crf", "image_map",
                                    "images_with_masks") if k in results}


def score_part(ctx, out_dir, split, records_range):
    """This task's share of the evaluation: the confusion matrices without and with the CRF
    (int64, as lists), the image-level tag scores and tags, the count of images with masks; the
    panels of the split's first evaluate.panels images that fall in `records_range`."""
    cfg = ctx.config
    num_labels = cfg.num_classes + 1
    conf = {"plain": np.zeros((num_labels,) * 2, np.int64), "crf": np.zeros((num_labels,) * 2, np.int64)}
    scores, tags, scored = [], [], 0
    progress = progress_bar(records_range[1] - records_range[0], "image")

    def predicted():
        for ex, image_id, image, gt, probs in full_size_predictions(ctx, split, ctx.stage_dir("segmenter"),
                                                                    cfg.evaluate.tta, records_range):
            yield image_id, image, gt, probs, ex["labels"]

    crf_settings = crf.settings(cfg.evaluate.crf)
    stream = parallel.ordered_map(crf.crf_labels, predicted(), lambda item: (item[1], item[3], *crf_settings))
    for n, ((image_id, image, gt, probs, labels), pred_crf) in enumerate(stream, records_range[0]):
        pred = probs.argmax(-1).astype(np.uint8)
        scores.append([float(v) for v in probs.reshape(-1, num_labels).max(axis=0)[1:]])
        tags.append([bool(v) for v in np.isin(np.arange(1, num_labels), labels)])
        if gt is not None:
            conf["plain"] += metrics.confusion_matrix(gt, pred, num_labels)
            conf["crf"] += metrics.confusion_matrix(gt, pred_crf, num_labels)
            scored += 1
        if n < cfg.evaluate.panels:
            items = ([("truth", gt)] if gt is not None else []) + [("pred", pred), ("pred+crf", pred_crf)]
            imageio.write_image(os.path.join(out_dir, "panels", image_id + ".png"), panels.panel(image, items))
        progress(n - records_range[0] + 1)
    return {"plain": conf["plain"].tolist(), "crf": conf["crf"].tolist(), "scores": scores, "tags": tags,
            "scored": scored}
