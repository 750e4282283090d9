"""Stage `saliency`: a class-agnostic binary DeepLab segmenter on GrabCut masks of MSRA boxes (§6.1).

With saliency.method = mbd (`--saliency=mbd`) there is nothing to train: the guide stage computes
MB+ saliency [52] per image (tfguided/saliency/mbd.py).
"""

from tfguided.data import pipelines
from tfguided.models import deeplab, pretrained
from tfguided.train import loop, losses


def build(cfg):
    return deeplab.build(2, cfg.saliency.net, cfg.saliency.train.weight_decay, name="saliency")


def training_batches(ctx):
    cfg = ctx.config.saliency
    return pipelines.training_dataset(
        ctx.msra_dir, "train", pipelines.segmentation_example(cfg.net.input_size, train=True, scale=cfg.net.scale),
        ctx.global_batch(cfg.train), cfg.train.seed)


def run(ctx, out_dir):
    cfg = ctx.config
    if cfg.saliency.method == "mbd":
        return {"method": "mbd"}  # computed per image by the guide stage; nothing to train
    if cfg.saliency.method != "net":
        raise ValueError(f"saliency.method={cfg.saliency.method!r}: choose net or mbd")
    net = cfg.saliency.net
    loss = losses.UpsampledSparseCrossEntropy(*deeplab.output_geometry(net.backbone, net.output_stride))
    weights = pretrained.imagenet_weights(net.init, net.backbone, net.width)
    _, history = loop.train(out_dir, "saliency", lambda: pretrained.initialise(build(cfg), weights), loss,
                            lambda: training_batches(ctx), cfg.saliency.train, ctx.strategy())
    return {"final_loss": history["loss"][-1]}
