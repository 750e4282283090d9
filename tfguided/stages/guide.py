"""Stage `guide`: seeds + saliency -> guide labels for every training image (§5, supp. E).

The networks run in TensorFlow, batched: the seeder at its input size (as trained), the saliency
net on the images at their own size (as trained on crops), padded with the mean colour. The
per-image labelling (CAM seeds, saliency threshold, G2 with its dense CRF) is plain numpy/OpenCV,
wrapped in tf.py_function inside a tf.data pipeline. (Not Dataset.from_generator: after one, this
process trained 2x slower with 7x the system time; measured.) Output: guide-label shards (image, guide, ground truth
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
from tfguided.inference import fixed_size_fn, probabilities_fn
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


def batches(ctx, batch_size):
    """Batches of training images: the seeder's resized input, and the image at its own size,
    mean-centred and zero-padded to the largest in the batch (DeepLab pads with the mean)."""
    size = ctx.config.seeder.net.input_size

    def add_inputs(ex):
        pixels = pipelines.decode(ex)["pixels"]
        return {"image": ex["image"], "labels": ex["labels"], "shape": tf.shape(pixels)[:2],
                "seeder_input": pipelines.resize_image(pixels, size),
                "centred": tf.cast(pixels, tf.float32) - pipelines.IMAGENET_MEAN}

    return records.dataset(ctx.voc_dir, ctx.config.data.train_split).map(
        add_inputs, num_parallel_calls=tf.data.AUTOTUNE).padded_batch(
        batch_size, padding_values={"image": "", "labels": tf.constant(0, tf.int64),
                                    "shape": 0, "seeder_input": 0.0, "centred": 0.0})


def labelled(ctx, batch_size=16):
    """Per image: the guide, seeds and saliency foreground, with the encoded image and labels.

    The networks run batched on the device; each batch's per-image labelling is a tf.data
    pipeline mapping a tf.py_function (numpy/OpenCV) over the images, in parallel, in order.
    """
    guide_cfg = ctx.config.guide
    seeder = loop.load_model(ctx.stage_dir("seeder"))
    cam_fn = fixed_size_fn(seeder.cam_model())
    saliency_fn = probabilities_fn(loop.load_model(ctx.stage_dir("saliency")))
    size = ctx.config.seeder.net.input_size

    def label_fn(image_bytes, labels, cams, saliency, shape):
        image = imageio.decode_image(image_bytes.numpy())
        height, width = shape.numpy()
        labels = labels.numpy()
        geometry = resized_geometry(seeder.output_stride, seeder.output_offset, size, (height, width))
        guide, seeds, fg = label_image(image, labels[labels > 0], cams.numpy(), geometry,
                                       saliency.numpy()[:height, :width], guide_cfg)
        return guide, seeds, fg.astype(np.uint8)

    def label(ex):
        guide, seeds, fg = tf.py_function(label_fn, [ex["image"], ex["labels"], ex["cams"],
                                                     ex["saliency"], ex["shape"]], [tf.uint8] * 3)
        return {"guide": guide, "seeds": seeds, "foreground": fg}

    for batch in batches(ctx, batch_size):
        batch["cams"] = cam_fn(batch["seeder_input"])
        batch["saliency"] = saliency_fn(batch.pop("centred") + pipelines.IMAGENET_MEAN)[..., 1]
        per_image = tf.data.Dataset.from_tensor_slices(batch).map(
            label, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        for j, out in enumerate(per_image.as_numpy_iterator()):
            labels = batch["labels"][j].numpy()
            yield {"image": batch["image"][j].numpy(), "labels": labels[labels > 0], **out}


def run(ctx, out_dir):
    cfg = ctx.config
    count = records.read_manifest(ctx.voc_dir)["splits"][cfg.data.train_split]["count"]
    class_names = ctx.class_names()
    stats = metrics.GuideStats(cfg.num_classes + 1)
    panel_list = []
    print(f"guide: labelling {count} training images with {cfg.guide.strategy}")

    def examples():
        source = records.iterate_numpy(ctx.voc_dir, cfg.data.train_split)
        for ex, out in zip(source, labelled(ctx)):
            image_id, guide = ex["id"].decode(), out["guide"]
            gt = labelmap.decode_label_png(ex["mask"], image_id) if ex["mask"] else None
            if gt is not None:
                stats.add(gt, guide, out["foreground"] > 0)
            if len(panel_list) < cfg.guide.panels:
                items = [("seeds", out["seeds"]), ("saliency", out["foreground"] > 0), ("guide", guide)]
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
