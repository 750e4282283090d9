"""Stage `saliency`: a class-agnostic binary DeepLab segmenter on GrabCut masks of MSRA boxes (§6.1),
trained only on the images without target classes when saliency.exclude_target_score > 0 (the
`voc12` preset: 0.5; it then needs the seeder, which judges that).

With saliency.method = mbd (`--saliency=mbd`) there is nothing to train: the stage computes MB+
saliency [52] for every training image (tfguided/saliency/mbd.py), one process per core, into
mbd_maps/<id>.png, which the guide stage reads; maps already there are kept, so an interrupted
run resumes.
"""

import os
import shutil

import tensorflow as tf

from tfguided import files, parallel
from tfguided.data import pipelines, records
from tfguided.inference import fixed_size_fn
from tfguided.models import deeplab, pretrained
from tfguided.progress import progress_bar
from tfguided.saliency import mbd
from tfguided.train import loop, losses


def build(cfg):
    return deeplab.build(2, cfg.saliency.net, cfg.saliency.train.weight_decay, name="saliency")


def training_batches(ctx, keep_ids=None):
    cfg = ctx.config.saliency
    return pipelines.training_dataset(
        ctx.msra_dir, "train", pipelines.segmentation_example(cfg.net.input_size, train=True, scale=cfg.net.scale),
        ctx.global_batch(cfg.train), cfg.train.rng_seed, keep_ids=keep_ids)


def target_free_ids(ctx, out_dir, batch_size=32):
    """§6.1 "We constrain the training only to data samples of non-Pascal categories": the ids of
    the saliency images in which the seeder (trained on the target classes' image labels) gives
    no class a probability >= saliency.exclude_target_score; written to target_free_ids.txt."""
    threshold = ctx.config.saliency.exclude_target_score
    seeder = loop.load_model(ctx.stage_dir("seeder"))
    predict = fixed_size_fn(seeder)
    size = ctx.config.seeder.net.input_size
    images = records.dataset(ctx.msra_dir, "train").map(
        lambda ex: (ex["id"], pipelines.resize_image(pipelines.decode(ex)["pixels"], size)),
        num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)
    kept, total = [], 0
    for ids, batch in images:
        top = tf.reduce_max(tf.sigmoid(predict(batch)), axis=-1).numpy()
        kept += [i.decode() for i, p in zip(ids.numpy(), top) if p < threshold]
        total += len(top)
    files.atomic_write_text(os.path.join(out_dir, "target_free_ids.txt"), "".join(i + "\n" for i in kept))
    print(f"saliency: {len(kept)} of {total} images without a target class (seeder probability "
          f"< {threshold}) to train on")
    return kept, total


def write_mbd_maps(ctx, out_dir):
    """The maps of the training split; maps left by an interrupted run are kept if they were made
    from the same data by the same MB+ (`source.json`), else all are remade."""
    split = ctx.config.data.train_split
    count = records.read_manifest(ctx.voc_dir)["splits"][split]["count"]
    maps_dir = os.path.dirname(mbd.map_path(out_dir, ""))
    source = {"data": ctx.data_fingerprint("saliency"), "split": split, "mbd": mbd.VERSION}
    stamp = os.path.join(maps_dir, "source.json")
    if os.path.exists(stamp) and files.read_json(stamp) != source:
        shutil.rmtree(maps_dir)
    files.atomic_write_json(stamp, source)
    todo = (ex for ex in records.iterate_numpy(ctx.voc_dir, split)
            if not os.path.exists(mbd.map_path(out_dir, ex["id"].decode())))
    ready = len([f for f in os.listdir(maps_dir) if f.endswith(".png") and not f.startswith(".")])
    print(f"saliency: MB+ maps of {count} {split} images ({ready} already there)")
    progress = progress_bar(count, "image")
    for n, (ex, png) in enumerate(parallel.ordered_map(mbd.map_png, todo, lambda ex: (ex["image"],)), 1):
        files.atomic_write_bytes(mbd.map_path(out_dir, ex["id"].decode()), png)
        progress(ready + n)
    return {"method": "mbd", "maps": count}


def run(ctx, out_dir):
    cfg = ctx.config
    if cfg.saliency.method == "mbd":
        return write_mbd_maps(ctx, out_dir)
    net = cfg.saliency.net
    loss = losses.segmentation_loss(net)
    kept, total = target_free_ids(ctx, out_dir) if ctx.saliency_filters_targets else (None, None)
    weights = pretrained.imagenet_weights(net.init, net.backbone, net.width)
    _, history = loop.train(out_dir, "saliency", lambda: pretrained.initialise(build(cfg), weights), loss,
                            lambda: training_batches(ctx, kept), cfg.saliency.train, ctx.strategy())
    results = loop.train_results(history)
    if kept is not None:
        results.update(images_kept=len(kept), images_total=total)
    return results
