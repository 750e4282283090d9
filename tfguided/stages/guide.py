"""Stage `guide`: seeds + saliency -> guide labels for every training image (§5, supp. E).

The networks run in TensorFlow: the seeder batched at its input size (as trained), the saliency
net on each image at its own size (as trained on crops). The per-image labelling (CAM seeds,
saliency threshold, G2 with its dense CRF) is plain numpy/OpenCV, wrapped in tf.py_function
inside this stage's tf.data pipeline. Output: guide-label shards (image, guide, ground truth
where known) in the records format, `quality.json` (Table 2's supervision columns where ground
truth exists), PNG panels and TensorBoard images.
"""

import os

import numpy as np
import tensorflow as tf

from tfguided import files
from tfguided.data import imageio, labelmap, pipelines, records
from tfguided.eval import metrics, panels
from tfguided.guide.g2 import guide_g2
from tfguided.inference import fixed_size_fn, full_size_fn
from tfguided.progress import progress_bar
from tfguided.saliency.foreground import saliency_foreground
from tfguided.scoremaps import resized_geometry
from tfguided.seeds.cam import cam_seeds
from tfguided.train import loop

STRATEGIES = ("seeds", "g2")


def label_image(image, labels, cams, cam_geometry, saliency_prob, guide_cfg):
    """One image's seeds, saliency foreground and guide (numpy in, numpy out)."""
    seeds = cam_seeds(cams, labels, image.shape[:2], guide_cfg.tau, cam_geometry)
    foreground = saliency_foreground(saliency_prob, guide_cfg.saliency_fraction)
    if guide_cfg.strategy == "seeds":
        guide = seeds
    elif guide_cfg.strategy == "g2":
        guide = guide_g2(image, seeds, foreground, guide_cfg)
    else:
        raise ValueError(f"--guide={guide_cfg.strategy!r}: the guide stage makes one of {STRATEGIES}")
    return guide, seeds, foreground


def network_outputs(ctx, batch_size=16):
    """Generator of per-image dicts with the seeder's class maps and the saliency fg probability."""
    cfg = ctx.config
    seeder = loop.load_model(ctx.stage_dir("seeder"))
    cam_fn = fixed_size_fn(seeder.cam_model())
    saliency_fn = full_size_fn(loop.load_model(ctx.stage_dir("saliency")))
    size = cfg.seeder.net.input_size

    def add_input(ex):
        pixels = pipelines.decode(ex)["pixels"]
        return {"id": ex["id"], "image": ex["image"], "labels": ex["labels"], "mask": ex["mask"],
                "seeder_input": pipelines.resize_image(pixels, size)}

    ds = records.dataset(ctx.voc_dir, cfg.data.train_split).map(add_input).padded_batch(
        batch_size, padding_values={"id": "", "image": "", "labels": tf.constant(-1, tf.int64),
                                    "mask": "", "seeder_input": 0.0})
    for batch in ds:
        cams = cam_fn(batch["seeder_input"]).numpy()
        for j in range(len(cams)):
            image = imageio.decode_image(batch["image"][j].numpy())
            labels = batch["labels"][j].numpy()
            geometry = resized_geometry(seeder.output_stride, seeder.output_offset, size,
                                        image.shape[:2])
            yield {"id": batch["id"][j], "image": batch["image"][j], "mask": batch["mask"][j],
                   "labels": labels[labels > 0], "cams": cams[j],
                   "cam_geometry": np.asarray(geometry, np.float32),
                   "saliency": saliency_fn(image)[..., 1]}


def labelled_dataset(ctx):
    """tf.data pipeline: network outputs -> (guide, seeds, saliency fg) via tf.py_function."""
    spec = {"id": tf.TensorSpec([], tf.string), "image": tf.TensorSpec([], tf.string),
            "mask": tf.TensorSpec([], tf.string), "labels": tf.TensorSpec([None], tf.int64),
            "cams": tf.TensorSpec([None, None, ctx.config.num_classes], tf.float32),
            "cam_geometry": tf.TensorSpec([2, 2], tf.float32),
            "saliency": tf.TensorSpec([None, None], tf.float32)}
    guide_cfg = ctx.config.guide

    def label_fn(image_bytes, labels, cams, geometry, saliency):
        image = imageio.decode_image(image_bytes.numpy())
        guide, seeds, fg = label_image(image, labels.numpy(), cams.numpy(),
                                       tuple(map(tuple, geometry.numpy())), saliency.numpy(),
                                       guide_cfg)
        return guide, seeds, fg.astype(np.uint8)

    def label(ex):
        guide, seeds, fg = tf.py_function(label_fn, [ex["image"], ex["labels"], ex["cams"],
                                                     ex["cam_geometry"], ex["saliency"]],
                                          [tf.uint8] * 3)
        return {**ex, "guide": guide, "seeds": seeds, "foreground": fg}

    ds = tf.data.Dataset.from_generator(lambda: network_outputs(ctx), output_signature=spec)
    return ds.map(label, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def run(ctx, out_dir):
    cfg = ctx.config
    count = records.read_manifest(ctx.voc_dir)["splits"][cfg.data.train_split]["count"]
    class_names = ctx.class_names()
    stats = metrics.GuideStats(cfg.num_classes + 1)
    panel_list = []
    print(f"guide: labelling {count} training images with {cfg.guide.strategy}")

    def examples():
        for ex in labelled_dataset(ctx).as_numpy_iterator():
            image_id, guide = ex["id"].decode(), ex["guide"]
            gt = labelmap.decode_label_png(ex["mask"], image_id) if ex["mask"] else None
            if gt is not None:
                stats.add(gt, guide, ex["foreground"] > 0)
            if len(panel_list) < cfg.guide.panels:
                items = [("seeds", ex["seeds"]), ("saliency", ex["foreground"] > 0), ("guide", guide)]
                panel_list.append(panels.panel(imageio.decode_image(ex["image"]),
                                               items + ([("truth", gt)] if gt is not None else [])))
                imageio.write_image(os.path.join(out_dir, "panels", image_id + ".png"), panel_list[-1])
            yield records.Example(id=image_id, image=ex["image"], height=guide.shape[0],
                                  width=guide.shape[1], labels=tuple(int(c) for c in ex["labels"]),
                                  mask=labelmap.encode_index_png(guide), gt_mask=ex["mask"])

    records.clear_manifest(out_dir)
    split = records.write_split(out_dir, "train", examples(), count, cfg.data.examples_per_shard,
                                progress_bar(count, "image"))
    results = {"images": count, **stats.results()}
    if len(results) > 1:
        files.atomic_write_json(os.path.join(out_dir, "quality.json"), results)
        print("guide: supervision quality vs ground truth (percent): " +
              ", ".join(f"{k}={v:.1f}" for k, v in results.items() if k != "images"))
    records.write_manifest(out_dir, "guide", {"train": split}, cfg.num_classes, class_names,
                           {"guide": cfg.guide.strategy})
    panels.write_tensorboard(os.path.join(out_dir, "logs"), "guide_panels", panel_list)
    return results
