"""Stage `saliency`, and the package's saliency methods (registry.SALIENCY).

A method is an object with `run(ctx, out_dir)` (this stage: train a network, or precompute
maps) and `probabilities_fn(ctx)` (the guide's saliency: a function of image batches, or None
when the stage wrote a map per training image, found by `map_path(stage_dir, image_id)`).

NET (the paper's, §6.1): a class-agnostic binary DeepLab segmenter on GrabCut masks of the
saliency set's boxes, trained only on the images without target classes when
saliency.exclude_target_score > 0 (the `voc12` preset: 0.5; it then needs the seeder, which
judges that). MBD (`--saliency=mbd`): nothing to train; MB+ saliency [52] of every training
image (tfguided/saliency/mbd.py), one process per core, into mbd_maps/<id>.png; maps already
there are kept, so an interrupted run resumes.
"""

import os
import shutil

import keras
import tensorflow as tf

from tfguided import files, parallel, registry
from tfguided.data import pipelines, records
from tfguided.inference import fixed_size_fn, probabilities_fn
from tfguided.models import deeplab
from tfguided.progress import progress_bar
from tfguided.saliency import mbd
from tfguided.stages import training
from tfguided.train import loop, losses


def build(cfg):
    """The paper's saliency net: a two-class (background, salient) DeepLab net of saliency.net.

    Args:
      cfg: the run's configs.Config.
    Returns:
      The Keras model, not compiled.
    """
    return deeplab.build(2, cfg.saliency.net, cfg.saliency.train.weight_decay, name="saliency")


def training_data(ctx, keep_ids=None):
    """The saliency net's examples (training.batches): crops of the saliency set's images and
    GrabCut masks at net.scale, only `keep_ids` if given."""
    net = ctx.config.saliency.net
    return (ctx.saliency_dir, "train", pipelines.segmentation_example(net.input_size, train=True, scale=net.scale),
            keep_ids)


def target_free_ids(ctx, out_dir, batch_size=32):
    """§6.1 "We constrain the training only to data samples of non-Pascal categories": the ids of
    the saliency images in which the seeder (trained on the target classes' image labels) gives
    no class a probability >= saliency.exclude_target_score; written to target_free_ids.txt.

    Args:
      ctx: the run's stages.context.Context.
      out_dir: the saliency stage directory.
      batch_size: images per seeder batch.
    Returns:
      (the kept ids, the number of saliency images).
    """
    threshold = ctx.config.saliency.exclude_target_score
    seeder = loop.load_model(ctx.stage_dir("seeder"))
    predict = fixed_size_fn(seeder)
    size = ctx.config.seeder.net.input_size
    images = records.dataset(ctx.saliency_dir, "train").map(
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
    count = records.split_count(ctx.target_dir, split)
    maps_dir = os.path.dirname(mbd.map_path(out_dir, ""))
    source = {"data": ctx.data_fingerprint("saliency"), "split": split, "mbd": mbd.VERSION}
    stamp = os.path.join(maps_dir, "source.json")
    if os.path.exists(stamp) and files.read_json(stamp) != source:
        shutil.rmtree(maps_dir)
    files.atomic_write_json(stamp, source)
    todo = (ex for ex in records.iterate_numpy(ctx.target_dir, split)
            if not os.path.exists(mbd.map_path(out_dir, ex["id"].decode())))
    ready = len([f for f in os.listdir(maps_dir) if f.endswith(".png") and not f.startswith(".")])
    print(f"saliency: MB+ maps of {count} {split} images ({ready} already there)")
    progress = progress_bar(count, "image")
    for n, (ex, png) in enumerate(parallel.ordered_map(mbd.map_png, todo, lambda ex: (ex["image"],)), 1):
        files.atomic_write_bytes(mbd.map_path(out_dir, ex["id"].decode()), png)
        progress(ready + n)
    return {"method": "mbd", "maps": count}


def train_net(ctx, out_dir):
    """The `net` method's stage: trains the saliency net on the saliency set (§6.1), only on its
    images without target classes when saliency.exclude_target_score > 0.

    Args:
      ctx: the run's stages.context.Context.
      out_dir: the stage directory.
    Returns:
      final_loss and seconds_per_step (loop.train_results), and images_kept and images_total
      when the images were filtered.
    """
    cfg = ctx.config
    kept, total = target_free_ids(ctx, out_dir) if ctx.saliency_filters_targets else (None, None)
    _, history = training.fit(ctx, "saliency", out_dir, lambda: build(cfg), losses.segmentation_loss(cfg.saliency.net),
                              training_data(ctx, kept))
    results = loop.train_results(history)
    if kept is not None:
        results.update(images_kept=len(kept), images_total=total)
    return results


def net_probabilities_fn(ctx):
    """The trained saliency net as a probabilities function at the input's size: run at
    saliency.net.scale (as trained) with guide.saliency_tta's test-time views. On padded batches
    a mirrored view sees the padding on the other side of the image."""
    tta = ctx.config.guide.saliency_tta
    return probabilities_fn(loop.load_model(ctx.stage_dir("saliency")), ctx.config.saliency.net.scale,
                            tta.scales, tta.flip)


class SaliencyMethod:
    """A registry.SALIENCY entry's object: the stage's work and the guide's saliency."""

    def __init__(self, run, probabilities=None, maps=None):
        self.run, self._probabilities, self._maps = run, probabilities, maps

    def probabilities_fn(self, ctx):
        """float32 [B, H, W, 3] images (0..255) -> probabilities [B, H, W, 2], or None."""
        return self._probabilities(ctx) if self._probabilities else None

    def map_path(self, stage_dir, image_id):
        """The saliency map the stage wrote for a training image (methods without probabilities)."""
        return self._maps(stage_dir, image_id)


SHIPPED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights",
                       "saliency_mobilenet025.keras")  # bench/pretrained_saliency.py writes it


def pretrained_path(ctx):
    """The pretrained saliency net's file: saliency.weights, else the one shipped in the package."""
    path = ctx.config.saliency.weights or SHIPPED
    if not os.path.exists(path):
        raise FileNotFoundError(f"saliency.weights={path}: no such saliency model (a model.keras of a saliency "
                                f"stage, or '' for the shipped one)")
    return path


def check_pretrained(ctx, out_dir):
    """The pretrained method's stage: nothing to train; records which weights the guide will use."""
    path = pretrained_path(ctx)
    print(f"saliency: the pretrained net {path}")
    return {"method": "pretrained", "weights": path, "weights_sha256": files.sha256_file(path)}


def pretrained_probabilities_fn(ctx):
    """The pretrained net at its training scale (1) with guide.saliency_tta's views."""
    tta = ctx.config.guide.saliency_tta
    return probabilities_fn(keras.saving.load_model(pretrained_path(ctx), compile=False), 1.0, tta.scales, tta.flip)


NET = SaliencyMethod(train_net, probabilities=net_probabilities_fn)
PRETRAINED = SaliencyMethod(check_pretrained, probabilities=pretrained_probabilities_fn)
MBD = SaliencyMethod(write_mbd_maps, maps=mbd.map_path)


def run(ctx, out_dir):
    """Runs the stage of the saliency method saliency.method (module docstring): trains the net,
    writes the MB+ maps, or records the pretrained net's weights.

    Args:
      ctx: the run's stages.context.Context.
      out_dir: the stage directory.
    Returns:
      The method's results: `train_net`'s, `write_mbd_maps`' or `check_pretrained`'s.
    """
    return registry.SALIENCY.load(ctx.config.saliency.method).run(ctx, out_dir)
