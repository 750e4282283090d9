"""Stage `segmenter`: DeepLab-v1 LargeFOV trained on guide labels, or on ground truth for --guide=gt.

With segmenter.crf_loss = deeplab | sec, SEC's constrain-to-boundary loss is added (supp. C).
"""

import tensorflow as tf

from tfguided import registry
from tfguided.data import pipelines, records
from tfguided.models import deeplab
from tfguided.stages import training
from tfguided.train import loop, losses
from tfguided.train.crf_loss import ConstrainToBoundary
from tfguided.train.monitor import ValMiou


def build(cfg, num_classes):
    """The segmenter: the DeepLab net of segmenter.net, one output per class and background.

    Args:
      cfg: the run's configs.Config.
      num_classes: the number of target classes (background not counted).
    Returns:
      The Keras model, not compiled.
    """
    return deeplab.build(num_classes + 1, cfg.segmenter.net, cfg.segmenter.train.weight_decay, name="segmenter")


def training_source(ctx):
    """(directory, split) of the labels to train on: the guide shards, or the ground truth."""
    if ctx.guide_strategy == registry.GROUND_TRUTH:
        return ctx.target_dir, ctx.config.data.train_split
    return ctx.stage_dir("guide"), "train"


def training_data(ctx):
    """The segmenter's examples (training.batches): crops of the labelled images at net.scale."""
    net = ctx.config.segmenter.net
    return (*training_source(ctx), pipelines.segmentation_example(net.input_size, train=True, scale=net.scale), None)


def crf_loss_wrapper(cfg):
    """None, or the function wrapping the segmenter with the constrain-to-boundary loss."""
    params = cfg.segmenter.crf_loss
    if params == "none":
        return None
    return lambda net: ConstrainToBoundary(net, params, cfg.segmenter.crf_loss_weight)


def run(ctx, out_dir):
    """Trains the segmenter on the guide labels, or on the ground truth for --guide=gt, with the
    constrain-to-boundary loss when segmenter.crf_loss is set; saves out_dir/model.keras.

    Args:
      ctx: the run's stages.context.Context.
      out_dir: the stage directory.
    Returns:
      final_loss, seconds_per_step, trained_on (the directory of the labels) and, with
      segmenter.monitor_images, val_miou_crops (the last epoch's mIoU on fixed eval crops).
    """
    cfg = ctx.config
    _, history = training.fit(ctx, "segmenter", out_dir, lambda: build(cfg, cfg.num_classes),
                              losses.segmentation_loss(cfg.segmenter.net), training_data(ctx),
                              wrap=crf_loss_wrapper(cfg), monitors=monitors(ctx))
    results = {**loop.train_results(history), "trained_on": training_source(ctx)[0]}
    if "val_miou" in history:
        results["val_miou_crops"] = history["val_miou"][-1]
    return results


def monitors(ctx):
    """The val-mIoU callback on fixed crops of the first segmenter.monitor_images eval images
    that have ground truth (none: no val_miou is logged)."""
    cfg = ctx.config.segmenter
    if cfg.monitor_images <= 0:
        return ()
    masked = records.dataset(ctx.target_dir, ctx.config.data.eval_split).filter(
        lambda ex: tf.strings.length(ex["mask"]) > 0)
    crops = masked.take(cfg.monitor_images).map(
        pipelines.segmentation_example(cfg.net.input_size, train=False, scale=cfg.net.scale)).batch(16).cache()
    return (lambda net: ValMiou(net, crops, ctx.config.num_classes + 1),)
