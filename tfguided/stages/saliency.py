"""Stage `saliency`: a class-agnostic binary DeepLab segmenter on GrabCut masks of MSRA boxes (§6.1)."""

from tfguided.data import pipelines
from tfguided.models import deeplab
from tfguided.models.deeplab import LargeFov
from tfguided.train import loop, losses


def build(cfg):
    net = cfg.saliency.net
    return LargeFov(2, net.width, net.fc_units, net.fc6_dilation, net.dropout, net.batch_norm,
                    cfg.saliency.train.weight_decay, net.input_size, net.convs, name="saliency")


def training_batches(ctx):
    cfg = ctx.config.saliency
    return pipelines.training_dataset(
        ctx.msra_dir, "train", pipelines.segmentation_example(cfg.net.input_size, train=True),
        ctx.global_batch(cfg.train), cfg.train.seed)


def run(ctx, out_dir):
    cfg = ctx.config
    loss = losses.UpsampledSparseCrossEntropy(deeplab.OUTPUT_STRIDE, deeplab.OUTPUT_OFFSET)
    _, history = loop.train(out_dir, "saliency", lambda: build(cfg), loss,
                            lambda: training_batches(ctx), cfg.saliency.train, ctx.strategy())
    return {"final_loss": history["loss"][-1]}
