"""Stage `seeder`: the GAP classifier whose class maps give the seeds (§4, Table 6, supp. B.2)."""

import numpy as np

from tfguided.data import pipelines, records
from tfguided.eval import metrics
from tfguided.inference import fixed_size_fn
from tfguided.models.gap import GapNet
from tfguided.train import loop, losses


def build(cfg, num_classes):
    net = cfg.seeder.net
    return GapNet(cfg.seeder.arch, num_classes, net.width, net.fc_units, net.batch_norm,
                  cfg.seeder.train.weight_decay, net.input_size, net.convs)


def training_batches(ctx):
    cfg = ctx.config
    return pipelines.training_dataset(
        ctx.voc_dir, cfg.data.train_split,
        pipelines.classification_example(cfg.num_classes, cfg.seeder.net.input_size, train=True),
        ctx.global_batch(cfg.seeder.train), cfg.seeder.train.seed)


def run(ctx, out_dir):
    cfg, num_classes = ctx.config, ctx.config.num_classes
    size = cfg.seeder.net.input_size
    model, history = loop.train(out_dir, "seeder", lambda: build(cfg, num_classes),
                                losses.multilabel_loss(), training_batches(ctx), cfg.seeder.train,
                                ctx.strategy())
    val_map = classification_map(model, ctx.voc_dir, cfg.data.eval_split, num_classes, size)
    print(f"seeder: classification mAP on {cfg.data.eval_split}: {val_map:.1f}")
    return {"final_loss": history["loss"][-1], "val_map": val_map}


def classification_map(model, data_dir, split, num_classes, size):
    """Mean average precision (percent) of the image-level scores on a split (Table 1, mAP)."""
    predict = fixed_size_fn(model)
    ds = records.dataset(data_dir, split).map(
        pipelines.classification_example(num_classes, size, train=False)).batch(32)
    scores, targets = [], []
    for images, labels in ds:
        scores.append(predict(images).numpy())
        targets.append(labels.numpy())
    return metrics.mean_average_precision(np.concatenate(scores), np.concatenate(targets))
