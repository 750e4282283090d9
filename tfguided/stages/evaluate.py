"""Stage `evaluate`: mIoU on the eval split, with and without dense CRF post-processing (§6.1).

Predictions are upsampled to each image's own size (the official protocol), averaged over
evaluate.tta's test-time views if set (beyond the paper; off for its numbers); the CRF uses the
DeepLab parameters by default (supp. C.1) and runs in one process per core while the
network predicts the next images. Writes metrics.json and table.md, prints the table.
"""

import os

import numpy as np

from tfguided import crf, files, parallel
from tfguided.data import imageio, labelmap, records
from tfguided.eval import metrics, panels
from tfguided.progress import progress_bar
from tfguided.stages.predictions import full_size_predictions


def run(ctx, out_dir):
    """Scores the segmenter's predictions on data.eval_split (module docstring): metrics.json,
    table.md (with ground truth), the first evaluate.panels panels as PNGs and TensorBoard images.

    Args:
      ctx: the run's stages.context.Context.
      out_dir: the stage directory.
    Returns:
      images_with_masks, image_map (the image-level mAP of the segmenter's tags) and, where
      ground truth exists, miou, miou_crf, pixel_accuracy and pixel_accuracy_crf; in percent.
    """
    cfg = ctx.config
    class_names = ctx.class_names()
    num_labels = cfg.num_classes + 1
    split = cfg.data.eval_split
    count = records.split_count(ctx.target_dir, split)
    conf = {"plain": np.zeros((num_labels,) * 2, np.int64), "crf": np.zeros((num_labels,) * 2, np.int64)}
    scores, tags = [], []
    progress = progress_bar(count, "image")
    panel_list = []
    print(f"evaluate: {count} {split} images")

    def predicted():
        for ex, image_id, image, gt, probs in full_size_predictions(ctx, split, ctx.stage_dir("segmenter"),
                                                                    cfg.evaluate.tta):
            yield image_id, image, gt, probs, ex["labels"]

    crf_settings = crf.settings(cfg.evaluate.crf)
    stream = parallel.ordered_map(crf.crf_labels, predicted(), lambda item: (item[1], item[3], *crf_settings))
    scored = 0
    for n, ((image_id, image, gt, probs, labels), pred_crf) in enumerate(stream, 1):
        pred = probs.argmax(-1).astype(np.uint8)
        scores.append(probs.reshape(-1, num_labels).max(axis=0)[1:])
        tags.append(np.isin(np.arange(1, num_labels), labels))
        if gt is not None:
            conf["plain"] += metrics.confusion_matrix(gt, pred, num_labels)
            conf["crf"] += metrics.confusion_matrix(gt, pred_crf, num_labels)
            scored += 1
        if len(panel_list) < cfg.evaluate.panels:
            items = ([("truth", gt)] if gt is not None else []) + [("pred", pred), ("pred+crf", pred_crf)]
            panel_list.append(panels.panel(image, items))
            imageio.write_image(os.path.join(out_dir, "panels", image_id + ".png"), panel_list[-1])
        progress(n)
    results = {"guide": cfg.guide.strategy, "split": split, "images": count, "images_with_masks": scored,
               "image_map": metrics.mean_average_precision(np.array(scores), np.array(tags, np.float32))}
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
    panels.write_tensorboard(os.path.join(out_dir, "logs"), "predictions", panel_list)
    print(f"metrics: {os.path.join(out_dir, 'metrics.json')}")
    return {k: results[k] for k in ("miou", "miou_crf", "pixel_accuracy", "pixel_accuracy_crf", "image_map",
                                    "images_with_masks") if k in results}
