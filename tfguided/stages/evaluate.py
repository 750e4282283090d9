"""Stage `evaluate`: mIoU on the eval split, with and without dense CRF post-processing (§6.1).

Predictions are upsampled to each image's own size (the official protocol), averaged over
evaluate.tta's test-time views if set (feature row 24; off for the paper); the CRF uses the
DeepLab parameters by default (supp. C.1) and runs in one process per core while the
network predicts the next images. Writes metrics.json and table.md, prints the table.
"""

import os

import numpy as np

from tfguided import files, parallel
from tfguided.crf import crf_labels
from tfguided.data import imageio, labelmap, records
from tfguided.eval import metrics, panels
from tfguided.inference import full_size_fn
from tfguided.progress import progress_bar
from tfguided.train import loop


def full_size_predictions(ctx, split, segmenter_dir, tta):
    """Per example of `split`: (example, id, RGB image, ground truth or None, the segmenter's
    probabilities at the image's size with `tta`'s views): what the evaluation scores and what a
    self-training round relabels (stages/guide.py)."""
    predict = full_size_fn(loop.load_model(segmenter_dir), ctx.config.segmenter.net.scale, tta.scales, tta.flip)
    for ex in records.iterate_numpy(ctx.voc_dir, split):
        image_id = ex["id"].decode()
        image = imageio.decode_image(ex["image"], image_id)
        gt = labelmap.decode_label_png(ex["mask"], image_id) if ex["mask"] else None
        yield ex, image_id, image, gt, predict(image)


def run(ctx, out_dir):
    cfg = ctx.config
    class_names = ctx.class_names()
    num_labels = cfg.num_classes + 1
    split = cfg.data.eval_split
    count = records.read_manifest(ctx.voc_dir)["splits"][split]["count"]
    conf = {"plain": np.zeros((num_labels,) * 2, np.int64), "crf": np.zeros((num_labels,) * 2, np.int64)}
    progress = progress_bar(count, "image")
    panel_list = []
    print(f"evaluate: {count} {split} images")

    def predicted():
        for _, image_id, image, gt, probs in full_size_predictions(ctx, split, ctx.stage_dir("segmenter"),
                                                                   cfg.evaluate.tta):
            if gt is None:
                raise ValueError(f"{ctx.voc_dir}: {split} image {image_id!r} has no ground truth")
            yield image_id, image, gt, probs

    crf = cfg.evaluate.crf
    stream = parallel.ordered_map(crf_labels, predicted(), lambda item: (item[1], item[3], crf.params,
                                                                        crf.iterations, crf.downscale))
    for n, ((image_id, image, gt, probs), pred_crf) in enumerate(stream, 1):
        pred = probs.argmax(-1).astype(np.uint8)
        conf["plain"] += metrics.confusion_matrix(gt, pred, num_labels)
        conf["crf"] += metrics.confusion_matrix(gt, pred_crf, num_labels)
        if len(panel_list) < cfg.evaluate.panels:
            panel_list.append(panels.panel(image, [("truth", gt), ("pred", pred), ("pred+crf", pred_crf)]))
            imageio.write_image(os.path.join(out_dir, "panels", image_id + ".png"), panel_list[-1])
        progress(n)
    results = {
        "guide": cfg.guide.strategy, "split": split, "images": count,
        "miou": metrics.mean_iou(conf["plain"]), "miou_crf": metrics.mean_iou(conf["crf"]),
        "pixel_accuracy": metrics.pixel_accuracy(conf["plain"]),
        "pixel_accuracy_crf": metrics.pixel_accuracy(conf["crf"]),
        "per_class_iou": metrics.per_class_dict(conf["plain"], class_names),
        "per_class_iou_crf": metrics.per_class_dict(conf["crf"], class_names),
        "confusion": conf["plain"].tolist(), "confusion_crf": conf["crf"].tolist(),
    }
    table = metrics.iou_table({"IoU": conf["plain"], "IoU+CRF": conf["crf"]}, class_names)
    files.atomic_write_json(os.path.join(out_dir, "metrics.json"), results)
    files.atomic_write_text(os.path.join(out_dir, "table.md"), table + "\n")
    panels.write_tensorboard(os.path.join(out_dir, "logs"), "predictions", panel_list)
    print(f"evaluate ({cfg.guide.strategy}, {split}, {count} images):\n{table}")
    print(f"metrics: {os.path.join(out_dir, 'metrics.json')}")
    return {k: results[k] for k in ("miou", "miou_crf", "pixel_accuracy", "pixel_accuracy_crf")}
