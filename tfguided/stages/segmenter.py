"""Stage `segmenter`: DeepLab-v1 LargeFOV trained on guide labels, or on ground truth for --guide=gt."""

from tfguided.data import pipelines
from tfguided.models.deeplab import LargeFov
from tfguided.train import loop, losses


def build(cfg, num_classes):
    net = cfg.segmenter.net
    return LargeFov(num_classes + 1, net.width, net.fc_units, net.fc6_dilation, net.dropout,
                    net.batch_norm, cfg.segmenter.train.weight_decay, net.input_size,
                    name="segmenter")


def training_source(ctx):
    """(directory, split) of the labels to train on: the guide shards, or the ground truth."""
    if ctx.guide_strategy == "gt":
        return ctx.voc_dir, ctx.config.data.train_split
    return ctx.stage_dir("guide"), "train"


def run(ctx, out_dir):
    cfg = ctx.config
    train_cfg, size = cfg.segmenter.train, cfg.segmenter.net.input_size
    strategy = ctx.strategy()
    data_dir, split = training_source(ctx)
    dataset = pipelines.training_dataset(
        data_dir, split, pipelines.segmentation_example(size, train=True),
        train_cfg.batch_size * strategy.num_replicas_in_sync, train_cfg.seed)
    _, history = loop.train(out_dir, "segmenter", lambda: build(cfg, cfg.num_classes),
                            losses.UpsampledSparseCrossEntropy(), dataset, train_cfg, strategy)
    return {"final_loss": history["loss"][-1], "trained_on": data_dir}
