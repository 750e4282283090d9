"""Stage `guide`: seeds and/or saliency -> guide labels for every training image (§5, supp. E).

The labellers (`--guide`) are registry.GUIDES' entries, run per image by tfguided/guide/label.py;
this stage orchestrates. In a self-training round (self_training.rounds > 1) the guide comes
from the previous round's segmenter instead (tfguided/guide/self_training.py, `relabelled`).
Each labeller gets only what its entry needs: the seeder's class maps, the saliency (the
saliency method's probabilities, or the maps its stage wrote: registry.SALIENCY), the
classifier's scores, the ground truth.

The networks run in TensorFlow, batched: the seeder at its input size (as trained), the saliency
net on the images at their own size times saliency.net.scale (as trained on crops), padded
with the mean colour. The per-image labelling (CAM seeds, saliency threshold, G0/G2 with its
dense CRF) is plain numpy/OpenCV in one worker process per core (pydensecrf holds the GIL, so
threads would not help); G1 calls the classifier per image in the main loop. Output:
guide-label shards (image, guide, ground truth where known) in the records format,
`quality.json` (Table 2's supervision columns where ground truth exists; for the guides that use
the saliency, its quality on the eval images, net and MB+, §5.1), PNG panels and
TensorBoard images.
"""

import concurrent.futures
import functools
import os
import threading

import tensorflow as tf

from tfguided import crf, files, parallel, registry
from tfguided.data import imageio, labelmap, pipelines, records
from tfguided.eval import metrics, panels
from tfguided.guide import dataset
from tfguided.guide.label import label_args, label_example
from tfguided.guide.self_training import relabel
from tfguided.inference import fixed_size_fn, seeder_maps_fn
from tfguided.progress import progress_bar
from tfguided.saliency import mbd
from tfguided.saliency.foreground import saliency_foreground
from tfguided.scoremaps import resized_geometry
from tfguided.stages import parts
from tfguided.stages.predictions import full_size_predictions
from tfguided.train import loop


def classifier_scores_fn(classifier):
    """float32 [N, H, W, 3] images -> numpy logits [N, K], each resized to the classifier's input."""
    predict = fixed_size_fn(classifier)
    size = classifier.input_size
    return lambda images: predict(tf.image.resize(images, [size, size])).numpy()


def network_outputs(ctx, split, records_range=None, batch_size=16):
    """Per image of `split`, in order: id, encoded image, labels, ground truth (PNG bytes, and
    decoded or None), and what the guide strategy's networks give it: the seeder's class maps
    with their geometry on the image, the saliency (probabilities, or the MB+ map's path). The
    networks run batched in this process; None for a network the strategy does not use.

    Args:
      ctx: the run's stages.context.Context.
      split: the split of the converted target set.
      records_range: (start, stop): only those examples (a task's part); None: all.
      batch_size: images per network batch.
    Yields:
      A dict per image: id, image, labels, mask_png, gt, cams, cam_geometry, saliency.
    """
    needs = registry.GUIDES[ctx.config.guide.strategy]["needs"]
    seeder = loop.load_model(ctx.stage_dir("seeder")) if "seeder" in needs else None
    seed_tta = ctx.config.guide.seed_tta
    size = ctx.config.seeder.net.input_size
    cam_fn = seeder_maps_fn(seeder, size, seed_tta.scales, seed_tta.flip) if seeder else None
    method = registry.SALIENCY.load(ctx.config.saliency.method) if "saliency" in needs else None
    saliency_fn = method.probabilities_fn(ctx) if method else None
    batches = pipelines.image_batches(ctx.target_dir, split, batch_size, size, full_size=saliency_fn is not None,
                                      records_range=records_range)
    for batch in batches:
        cams = cam_fn(batch["seeder_input"]).numpy() if cam_fn else None
        saliency = (saliency_fn(batch["centred"] + pipelines.IMAGENET_MEAN)[..., 1].numpy()
                    if saliency_fn else None)
        batch = {key: batch[key].numpy() for key in ("id", "image", "mask", "labels", "shape")}
        for j, image_id in enumerate(batch["id"]):
            image_id, labels, mask = image_id.decode(), batch["labels"][j], batch["mask"][j]
            height, width = batch["shape"][j]
            yield {
                "id": image_id, "image": batch["image"][j], "labels": labels[labels > 0], "mask_png": mask,
                "gt": labelmap.decode_label_png(mask, image_id) if mask else None,
                "cams": None if cams is None else cams[j],
                "cam_geometry": (resized_geometry(seeder.output_stride, seeder.output_offset, size,
                                                  (height, width)) if seeder else None),
                "saliency": (None if method is None
                             else method.map_path(ctx.stage_dir("saliency"), image_id) if saliency is None
                             else saliency[j, :height, :width]),
            }


def labelled(ctx, split, records_range=None, batch_size=16):
    """Per image of `split`: `network_outputs`' id, encoded image, labels and ground truth, with
    the guide, seeds and saliency foreground (None where the strategy does not use them).

    The per-image labelling (`label_example`, G2's dense CRF included) runs in one worker process
    per core, in order (tfguided/parallel.py), or with guide.labeller=tf_data in this process's
    `Dataset.map` (tfguided/guide/dataset.py: same labels); G1's classifier in this process.

    Args:
      ctx: the run's stages.context.Context.
      split: the split of the converted target set.
      records_range: (start, stop): only those examples (a task's part); None: all.
      batch_size: images per network batch.
    Yields:
      A dict per image: id, image, labels, mask_png, gt, guide, seeds, foreground.
    """
    guide_cfg = ctx.config.guide
    score_fn = (classifier_scores_fn(loop.load_model(ctx.stage_dir("classifier")))
                if "classifier" in registry.GUIDES[guide_cfg.strategy]["needs"] else None)
    outputs = network_outputs(ctx, split, records_range, batch_size)
    if guide_cfg.labeller == "tf_data":
        labelling = dataset.labelled_items(outputs, guide_cfg, in_flight=3 * batch_size)
    else:
        labelling = parallel.ordered_map(label_example, outputs, functools.partial(label_args, guide_cfg=guide_cfg),
                                         in_flight=3 * batch_size)
    for item, (guide, seeds, fg) in labelling:
        item = {key: item[key] for key in ("id", "image", "labels", "mask_png", "gt")}
        item.update(guide=guide, seeds=seeds, foreground=fg)
        if score_fn is not None:  # a labeller needing the classifier runs here, beside the classifier
            image = imageio.decode_image(item["image"], item["id"])
            item["guide"] = registry.GUIDES.load(guide_cfg.strategy)(image, item["labels"], seeds, fg, guide_cfg,
                                                                     item["id"], score_fn)
        yield item


def relabelled(ctx, split, records_range=None):
    """A self-training round (self_training.rounds > 1): per image of `split` (of `records_range`
    if given), the keys of `labelled` with the guide made from the previous round's segmenter
    (tfguided/guide/self_training.py) with self_training.tta's views; its CRF in one worker per core."""
    cfg = ctx.config

    def predicted():
        for ex, image_id, image, gt, probs in full_size_predictions(
                ctx, split, ctx.previous_round().stage_dir("segmenter"), cfg.self_training.tta, records_range):
            yield {"id": image_id, "image": ex["image"], "labels": ex["labels"][ex["labels"] > 0],
                   "mask_png": ex["mask"], "gt": gt, "pixels": image, "probs": probs}

    crf_settings = crf.settings(cfg.guide.crf)
    stream = parallel.ordered_map(relabel, predicted(), lambda item: (
        item["pixels"], item["probs"], item["labels"], cfg.self_training.min_confidence, *crf_settings))
    for item, guide in stream:
        item = {key: item[key] for key in ("id", "image", "labels", "mask_png", "gt")}
        item.update(guide=guide, seeds=None, foreground=None)
        yield item


def saliency_quality(ctx, batch_size=16):
    """§5.1's saliency figures on the eval split: the saliency foreground at
    guide.saliency_fraction against the ground-truth objects, per image, as mean fg IoU and the
    share of images above 0.6 (percent), for the saliency method when it gives probabilities
    (`val_saliency_<method>_*`) and for MB+ (`val_saliency_mbd_*`, the hand-crafted reference,
    always). {} without ground truth."""
    cfg = ctx.config
    split, fraction, name = cfg.data.eval_split, cfg.guide.saliency_fraction, cfg.saliency.method
    net_fn = registry.SALIENCY.load(name).probabilities_fn(ctx)
    stats = {name: metrics.SaliencyStats(), "mbd": metrics.SaliencyStats()}
    images = []
    for batch in pipelines.image_batches(ctx.target_dir, split, batch_size, cfg.seeder.net.input_size):
        probs = net_fn(batch["centred"] + pipelines.IMAGENET_MEAN)[..., 1].numpy() if net_fn else None
        for j, (image, mask, (height, width)) in enumerate(zip(*(batch[k].numpy() for k in ("image", "mask", "shape")))):
            if not mask:
                continue
            gt = labelmap.decode_label_png(mask)
            images.append((image, gt))
            if net_fn:
                stats[name].add(gt, saliency_foreground(probs[j, :height, :width], fraction))
    for (_, gt), saliency in parallel.ordered_map(mbd.image_saliency, images, lambda item: (item[0],)):
        stats["mbd"].add(gt, saliency_foreground(saliency, fraction))
    return {k: v for name, s in stats.items() for k, v in s.results(f"val_saliency_{name}_").items()}


def panel_items(item):
    """(title, array) pairs for a panel: seeds | saliency | guide | truth, where present."""
    items = [("seeds", item["seeds"]), ("saliency", item["foreground"]), ("guide", item["guide"]),
             ("truth", item["gt"])]
    return [(title, array) for title, array in items if array is not None]


def run(ctx, out_dir):
    """Labels every image of data.train_split with the guide strategy (or, in a self-training
    round, the previous round's segmenter) and writes them with their guides as split "train" of
    a converted set, with quality.json (where ground truth exists), panels and TensorBoard images.

    In a multi-worker cluster each task labels its part of the images (stages/parts.py: a killed
    task keeps its finished shards); the chief merges the parts and writes the manifest, the
    figures and the TensorBoard images.

    Args:
      ctx: the run's stages.context.Context.
      out_dir: the stage directory.
    Returns:
      images (the count) and, where ground truth exists, the guide's supervision quality in
      percent (metrics.GuideStats); for a guide that uses the saliency, also the saliency's
      quality on the eval split (`saliency_quality`). {} on a task other than the chief.
    """
    cfg = ctx.config
    split, eps, num_labels = cfg.data.train_split, cfg.data.examples_per_shard, cfg.num_classes + 1
    count = records.split_count(ctx.target_dir, split)
    class_names = ctx.class_names()
    part = ctx.part()
    start, stop = part.bounds(count)
    stats = [metrics.GuideStats(num_labels)]
    self_training = cfg.self_training.rounds > 1
    print(f"guide: labelling {stop - start} of {count} training images (part {part.index + 1} of {part.count}) "
          f"with " + (f"round {cfg.self_training.rounds - 1}'s segmenter (self-training)" if self_training
                      else cfg.guide.strategy))

    def shard_stats():
        state, stats[0] = stats[0].to_json(), metrics.GuideStats(num_labels)
        return state

    def examples(first, last):
        items = relabelled if self_training else labelled
        progress = progress_bar(last - first, "image")
        for n, item in enumerate(items(ctx, split, (first, last)), first):
            guide, gt = item["guide"], item["gt"]
            if gt is not None:
                stats[0].add(gt, guide, item["foreground"])
            if n < cfg.guide.panels:
                imageio.write_image(os.path.join(out_dir, "panels", item["id"] + ".png"),
                                    panels.panel(imageio.decode_image(item["image"]), panel_items(item)))
            progress(n - first + 1)
            yield records.Example(id=item["id"], image=item["image"], height=guide.shape[0],
                                  width=guide.shape[1], labels=tuple(int(c) for c in item["labels"]),
                                  mask=labelmap.encode_index_png(guide),
                                  gt_mask=item["mask_png"])

    fingerprint = ctx.inputs_fingerprint("guide")
    if ctx.is_chief:
        records.clear_manifest(out_dir)
    ids = records.read_manifest(ctx.target_dir)["splits"][split]["ids"]
    stop = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        merging = pool.submit(parts.merge_split, out_dir, "train", part.count, count, eps, fingerprint, ids,
                              stop=stop) if ctx.is_chief else None
        try:
            parts.write_part(out_dir, "train", part, count, eps, fingerprint, examples, shard_stats)
        except BaseException:
            stop.set()  # this part's shards will not come: the merge stops waiting
            raise
        if merging is None:
            return {}
        entry, shard_states = merging.result()
    results = {"images": count, **metrics.GuideStats.merged(num_labels, shard_states).results()}
    if "saliency" in registry.GUIDES[cfg.guide.strategy]["needs"] and not self_training:
        print(f"guide: saliency quality on the {cfg.data.eval_split} images ({cfg.saliency.method} and MB+)")
        results.update(saliency_quality(ctx))
    if len(results) > 1:
        files.atomic_write_json(os.path.join(out_dir, "quality.json"), results)
        print("guide: supervision quality vs ground truth (percent): " +
              ", ".join(f"{k}={v:.1f}" for k, v in results.items() if k != "images"))
    else:
        print(f"guide: no masks: quality not measured (the panels are in {os.path.join(out_dir, 'panels')})")
    records.write_manifest(out_dir, "guide", {"train": entry}, cfg.num_classes, class_names,
                           {"guide": cfg.guide.strategy, "round": cfg.self_training.rounds})
    panels.write_tensorboard(os.path.join(out_dir, "logs"), "guide_panels",
                             panels.read_panels(os.path.join(out_dir, "panels"), entry["ids"][:cfg.guide.panels]))
    return results
