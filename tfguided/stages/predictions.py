"""The segmenter's predictions at each image's own size: what the evaluation scores and what a
self-training round relabels (a helper of the evaluate and guide stages)."""

from tfguided.data import imageio, labelmap, records
from tfguided.inference import full_size_fn
from tfguided.train import loop


def full_size_predictions(ctx, split, segmenter_dir, tta, records_range=None):
    """Per example of `split`: the segmenter's probabilities at the image's size, what the
    evaluation scores and what a self-training round relabels (stages/guide.py).

    Args:
      ctx: the run's stages.context.Context.
      split: the split of the converted target set.
      segmenter_dir: the segmenter stage directory whose model predicts.
      tta: the test-time views, a config's tta section (scales, flip).
      records_range: (start, stop): only those examples (a task's part); None: all.
    Yields:
      (example, id, RGB image, ground truth or None, probabilities [H, W, C]).
    """
    predict = full_size_fn(loop.load_model(segmenter_dir), ctx.config.segmenter.net.scale, tta.scales, tta.flip)
    for ex in records.iterate_numpy(ctx.target_dir, split, records_range=records_range):
        image_id = ex["id"].decode()
        image = imageio.decode_image(ex["image"], image_id)
        gt = labelmap.decode_label_png(ex["mask"], image_id) if ex["mask"] else None
        yield ex, image_id, image, gt, predict(image)
