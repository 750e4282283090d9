"""Stage `saliency`: a class-agnostic binary DeepLab segmenter on GrabCut masks of MSRA boxes (§6.1)."""

from tfguided.data import pipelines
from tfguided.models.deeplab import LargeFov
from tfguided.train import loop, losses


def build(cfg):
    net = cfg.saliency.net
    return LargeFov(2, net.width, net.fc_units, net.fc6_dilation, net.dropout, net.batch_norm,
                    cfg.saliency.train.weight_decay, net.input_size, name="saliency")


def run(ctx, out_dir):
    cfg = ctx.config
    train_cfg, size = cfg.saliency.train, cfg.saliency.net.input_size
    strategy = ctx.strategy()
    dataset = pipelines.training_dataset(
        ctx.msra_dir, "train", pipelines.segmentation_example(size, train=True),
        train_cfg.batch_size * strategy.num_replicas_in_sync, train_cfg.seed)
    _, history = loop.train(out_dir, "saliency", lambda: build(cfg),
                            losses.UpsampledSparseCrossEntropy(), dataset, train_cfg, strategy)
    return {"final_loss": history["loss"][-1]}
