"""Stages `seeder` and `classifier`: multi-label image classifiers trained on the image labels.

The seeder is a GAP net whose class maps give the seeds (§4, Table 6, supp. B.2); the classifier
is VGG-16 with fully connected layers, for G1 and the backprop seeders (§6.1, supp. F). Both use
the sigmoid multi-label loss on images resized to the net's input, and report the classification
mAP on the eval split (Table 1's mAP).
"""

import os

import numpy as np

from tfguided import files, registry
from tfguided.data import labelmap, pipelines, records
from tfguided.eval import metrics
from tfguided.inference import fixed_size_fn
from tfguided.models.classifier import VggClassifier
from tfguided.models.gap import GapNet
from tfguided.seeds import mean_shape
from tfguided.stages import training
from tfguided.train import loop, losses


def build(cfg, num_classes):
    """The seeder: the GAP net of seeder.arch (registry.SEEDERS) on seeder.net.

    Args:
      cfg: the run's configs.Config.
      num_classes: the number of target classes (background not counted).
    Returns:
      The GapNet, a Keras model, not compiled.
    """
    net = cfg.seeder.net
    return GapNet(cfg.seeder.arch, num_classes, net.width, net.fc_units, net.batch_norm,
                  cfg.seeder.train.weight_decay, net.input_size, net.convs, net.backbone,
                  net.output_stride)


def build_classifier(cfg, num_classes):
    """The classifier: VGG-16 with fully connected layers on classifier.net; another backbone is
    refused.

    Args:
      cfg: the run's configs.Config.
      num_classes: the number of target classes (background not counted).
    Returns:
      The VggClassifier, a Keras model, not compiled.
    """
    net = cfg.classifier.net
    if net.backbone != "vgg16":
        raise ValueError(f"classifier.net.backbone={net.backbone!r}: the classifier is VGG-16 "
                         f"(its fc layers and the backprop seeders' layer walk need it)")
    return VggClassifier(num_classes, net.width, net.fc_units, net.dropout, net.batch_norm,
                         cfg.classifier.train.weight_decay, net.input_size, net.convs)


BUILDERS = {"seeder": build, "classifier": build_classifier}


def training_data(ctx, section):
    """A classifier's examples (training.batches): the training images resized to its input,
    with their image labels."""
    cfg = ctx.config
    size = getattr(cfg, section).net.input_size
    return (ctx.target_dir, cfg.data.train_split, pipelines.classification_example(cfg.num_classes, size, train=True),
            None)


def train_classifier(ctx, out_dir, section):
    """Trains the seeder or the classifier with the sigmoid multi-label loss, then (on the chief)
    measures its classification mAP on data.eval_split.

    Args:
      ctx: the run's stages.context.Context.
      out_dir: the stage directory.
      section: "seeder" or "classifier": the config section and the builder.
    Returns:
      final_loss, seconds_per_step and, on the chief, val_map (percent).
    """
    cfg, num_classes = ctx.config, ctx.config.num_classes
    model, history = training.fit(ctx, section, out_dir, lambda: BUILDERS[section](cfg, num_classes),
                                  losses.multilabel_loss(), training_data(ctx, section))
    if not ctx.is_chief:
        return loop.train_results(history)  # the rest is the chief's
    val_map = classification_map(model, ctx.target_dir, cfg.data.eval_split, num_classes,
                                 getattr(cfg, section).net.input_size)
    print(f"{section}: classification mAP on {cfg.data.eval_split}: {val_map:.1f}")
    return {**loop.train_results(history), "val_map": val_map}


def fit_mean_shape(ctx, out_dir):
    """The centre mean shape baseline's "training": the mean ground-truth class mask."""
    mean = mean_shape.MeanShape()
    for ex in records.iterate_numpy(ctx.target_dir, ctx.config.data.train_split):
        if ex["mask"]:
            mean.add(labelmap.decode_label_png(ex["mask"], ex["id"].decode()))
    with files.atomic_path(os.path.join(out_dir, mean_shape.FILE)) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, mean.shape)
    return {"objects": mean.count, "val_map": None}


def run(ctx, out_dir):
    """GAP seeders are trained; the mean shape baseline is computed. Seed panels depend on
    guide.tau, so they are drawn by seed_eval (and the guide's panels), not here: a tau override
    reuses the seeder.

    Args:
      ctx: the run's stages.context.Context.
      out_dir: the stage directory.
    Returns:
      A GAP seeder's final_loss, seconds_per_step and val_map (`train_classifier`); the mean
      shape's objects (the masks averaged) and val_map None.
    """
    if registry.SEEDERS[ctx.config.seeder.arch]["kind"] == "baseline":
        return fit_mean_shape(ctx, out_dir)
    return train_classifier(ctx, out_dir, "seeder")


def run_classifier(ctx, out_dir):
    """Stage `classifier`: trains the VGG-16 classifier for G1 and the backprop seeders.

    Args:
      ctx: the run's stages.context.Context.
      out_dir: the stage directory.
    Returns:
      final_loss, seconds_per_step and val_map (`train_classifier`).
    """
    return train_classifier(ctx, out_dir, "classifier")


def classification_map(model, data_dir, split, num_classes, size):
    """Mean average precision (percent) of the image-level scores on a split (Table 1, mAP).

    Args:
      model: the trained seeder or classifier.
      data_dir: the converted target set.
      split: its split to score.
      num_classes: the number of target classes.
      size: the network's input size, the images are resized to it.
    """
    predict = fixed_size_fn(model)
    ds = records.dataset(data_dir, split).map(
        pipelines.classification_example(num_classes, size, train=False)).batch(32)
    scores, targets = [], []
    for images, labels in ds:
        scores.append(predict(images).numpy())
        targets.append(labels.numpy())
    return metrics.mean_average_precision(np.concatenate(scores), np.concatenate(targets))
