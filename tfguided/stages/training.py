"""What the training stages (seeder, classifier, saliency, segmenter) share: the network of a
config section built under the run's strategy, initialised from its backbone's ImageNet file
(net.init) and fitted on its examples by loop.train."""

from tfguided.data import pipelines
from tfguided.models import pretrained
from tfguided.train import loop


def batches(ctx, section, data, skip_batches=0):
    """The training batches of config section `section`: `train.batch_size` images per replica.

    Args:
      ctx: the run's stages.context.Context.
      section: the config section that trains, e.g. "seeder" or "segmenter".
      data: (converted directory, split, example function (example, seed) -> inputs, ids to
        keep or None), as the stages' `training_data` give it.
      skip_batches: how many batches to skip (a resumed training starts where it stopped).
    Returns:
      The tf.data.Dataset of global batches (pipelines.training_dataset).
    """
    data_dir, split, example_fn, keep_ids = data
    train = getattr(ctx.config, section).train
    return pipelines.training_dataset(data_dir, split, example_fn, ctx.global_batch(train), train.rng_seed,
                                      keep_ids=keep_ids, skip_batches=skip_batches)


def fit(ctx, section, out_dir, build, loss, data, wrap=None, monitors=()):
    """Trains `build()`'s network (ImageNet weights copied in per `section`.net.init) on `data`
    (`batches`) with `loss` for `section`.train.steps; resumable, saves out_dir/model.keras.

    Returns:
      (the trained network, the history: loss per epoch, seconds per step, ...), as loop.train.
    """
    net, train = getattr(ctx.config, section).net, getattr(ctx.config, section).train
    weights = pretrained.imagenet_weights(net.init, net.backbone, net.width)  # read once, outside the strategy
    return loop.train(out_dir, section, lambda: pretrained.initialise(build(), weights), loss,
                      lambda skip: batches(ctx, section, data, skip), train, ctx.strategy(), wrap=wrap,
                      monitors=monitors)
