"""Stage `guide`: seeds + saliency -> guide labels for every training image (§5, supp. E).

Network inference runs batched at each network's input size; the per-image labelling (CAM seeds,
saliency threshold, G2 with its dense CRF) is plain numpy/OpenCV, wrapped in tf.py_function inside
this stage's tf.data pipeline. Output: guide-label shards (image, guide, ground truth where known)
in the records format, `quality.json` (Table 2's supervision columns where ground truth exists),
PNG panels and TensorBoard images.
"""

import os

import numpy as np
import tensorflow as tf

from tfguided import files
from tfguided.data import labelmap, pipelines, records
from tfguided.eval import metrics, panels
from tfguided.guide.g2 import G2Params, guide_g2
from tfguided.inference import fixed_size_fn, upsample
from tfguided.saliency.foreground import saliency_foreground
from tfguided.seeds.cam import cam_seeds
from tfguided.train import loop
from tfrecords_tools import common

STRATEGIES = ("seeds", "g2")


def g2_params(guide_cfg):
    return G2Params(min_component_fraction=guide_cfg.min_component_fraction,
                    connectivity=guide_cfg.connectivity, min_seed_pixels=guide_cfg.min_seed_pixels,
                    undecided=guide_cfg.undecided, crf_params=guide_cfg.crf.params,
                    crf_iterations=guide_cfg.crf.iterations,
                    crf_unary_sigma=guide_cfg.crf_unary_sigma)


def label_image(image, labels, cams, saliency_prob, guide_cfg):
    """One image's seeds, saliency foreground and guide (numpy in, numpy out)."""
    shape = image.shape[:2]
    seeds = cam_seeds(cams, labels, shape, guide_cfg.tau)
    foreground = saliency_foreground(upsample(saliency_prob[..., None], shape)[..., 0],
                                     guide_cfg.saliency_fraction)
    if guide_cfg.strategy == "seeds":
        guide = seeds
    elif guide_cfg.strategy == "g2":
        guide = guide_g2(image, seeds, foreground, g2_params(guide_cfg))
    else:
        raise ValueError(f"--guide={guide_cfg.strategy!r}: the guide stage makes one of {STRATEGIES}")
    return guide, seeds, foreground


def network_outputs(ctx, batch_size=16):
    """Generator of per-image dicts with the seeder's class maps and the saliency fg probability."""
    cfg = ctx.config
    cam_fn = fixed_size_fn(loop.load_model(ctx.stage_dir("seeder")).cam_model())
    saliency_fn = fixed_size_fn(loop.load_model(ctx.stage_dir("saliency")))
    seeder_size, saliency_size = cfg.seeder.net.input_size, cfg.saliency.net.input_size

    def add_inputs(ex):
        pixels = pipelines.decode(ex)["pixels"]
        return {"id": ex["id"], "image": ex["image"], "labels": ex["labels"], "mask": ex["mask"],
                "seeder_input": pipelines.resize_image(pixels, seeder_size),
                "saliency_input": pipelines.resize_image(pixels, saliency_size)}

    ds = records.dataset(ctx.voc_dir, cfg.data.train_split).map(add_inputs).padded_batch(
        batch_size, padding_values={"id": "", "image": "", "labels": tf.constant(-1, tf.int64),
                                    "mask": "", "seeder_input": 0.0, "saliency_input": 0.0})
    for batch in ds:
        cams = cam_fn(batch["seeder_input"]).numpy()
        fg_prob = tf.nn.softmax(saliency_fn(batch["saliency_input"]), axis=-1)[..., 1].numpy()
        for j in range(len(cams)):
            labels = batch["labels"][j].numpy()
            yield {"id": batch["id"][j], "image": batch["image"][j], "mask": batch["mask"][j],
                   "labels": labels[labels > 0], "cams": cams[j], "saliency": fg_prob[j]}


def labelled_dataset(ctx):
    """tf.data pipeline: network outputs -> (guide, seeds, saliency fg) via tf.py_function."""
    num_classes = ctx.config.num_classes
    spec = {"id": tf.TensorSpec([], tf.string), "image": tf.TensorSpec([], tf.string),
            "mask": tf.TensorSpec([], tf.string), "labels": tf.TensorSpec([None], tf.int64),
            "cams": tf.TensorSpec([None, None, num_classes], tf.float32),
            "saliency": tf.TensorSpec([None, None], tf.float32)}
    guide_cfg = ctx.config.guide

    def label_fn(image_bytes, labels, cams, saliency):
        image = records.decode_image(image_bytes.numpy())
        guide, seeds, fg = label_image(image, labels.numpy(), cams.numpy(), saliency.numpy(),
                                       guide_cfg)
        return guide, seeds, fg.astype(np.uint8)

    def label(ex):
        guide, seeds, fg = tf.py_function(label_fn, [ex["image"], ex["labels"], ex["cams"],
                                                     ex["saliency"]], [tf.uint8] * 3)
        return {**ex, "guide": guide, "seeds": seeds, "foreground": fg}

    ds = tf.data.Dataset.from_generator(lambda: network_outputs(ctx), output_signature=spec)
    return ds.map(label, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def run(ctx, out_dir):
    cfg = ctx.config
    count = records.read_manifest(ctx.voc_dir)["splits"][cfg.data.train_split]["count"]
    class_names = ctx.class_names()
    quality = np.zeros(6, np.int64)
    pseudo_conf = np.zeros((cfg.num_classes + 1,) * 2, np.int64)
    saliency_ious, panel_list = [], []
    print(f"guide: labelling {count} training images with {cfg.guide.strategy}")

    def examples():
        for ex in labelled_dataset(ctx).as_numpy_iterator():
            image_id, guide = ex["id"].decode(), ex["guide"]
            if ex["mask"]:
                gt = records.decode_mask(ex["mask"])
                quality[:] += metrics.guide_quality_counts(gt, guide)
                pseudo = np.where(guide == labelmap.IGNORE, 0, guide)  # peers' convention
                pseudo_conf[:] += metrics.confusion_matrix(gt, pseudo, cfg.num_classes + 1)
                valid = gt != labelmap.IGNORE
                gt_fg, fg = (gt > 0) & valid, (ex["foreground"] > 0) & valid
                union = np.sum(gt_fg | fg)
                saliency_ious.append(np.sum(gt_fg & fg) / union if union else 1.0)
            if len(panel_list) < cfg.guide.panels:
                image = records.decode_image(ex["image"])
                items = [("seeds", ex["seeds"]), ("saliency", ex["foreground"] > 0), ("guide", guide)]
                if ex["mask"]:
                    items.append(("truth", records.decode_mask(ex["mask"])))
                panel_list.append(panels.panel(image, items))
                labelmap.write_rgb(os.path.join(out_dir, "panels", image_id + ".png"), panel_list[-1])
            h, w = guide.shape
            yield records.Example(id=image_id, image=ex["image"], height=h, width=w,
                                  labels=tuple(int(c) for c in ex["labels"]),
                                  mask=records.encode_mask(guide), gt_mask=ex["mask"])

    split = records.write_split(out_dir, "train", examples(), count, cfg.data.examples_per_shard,
                                common.progress_bar(count, "image"))
    results = {"images": count}
    if quality[2] or quality[5]:
        results.update(metrics.guide_quality(quality))
        results["pseudo_label_miou"] = metrics.mean_iou(pseudo_conf)
        results["saliency_fg_iou_mean"] = float(np.mean(saliency_ious) * 100)
        results["saliency_images_iou_over_0.6"] = float(np.mean(np.array(saliency_ious) > 0.6) * 100)
        files.atomic_write_json(os.path.join(out_dir, "quality.json"), results)
        print("guide: supervision quality vs ground truth (percent): " +
              ", ".join(f"{k}={v:.1f}" for k, v in results.items() if k != "images"))
    records.write_manifest(out_dir, "guide", {"train": split}, cfg.num_classes, class_names,
                           {"guide": cfg.guide.strategy})
    panels.write_tensorboard(os.path.join(out_dir, "logs"), "guide_panels", panel_list)
    return results
