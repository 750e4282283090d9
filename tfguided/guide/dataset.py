"""The guide labeller in tf.data: a function to map over one's own `tf.data.Dataset`, and the
guide stage's labelling through it (guide.labeller=tf_data).

Guide labels made inside tf.data (the G2 rules and the dense CRF wrapped as a TensorFlow op):
`label_image` (tfguided/guide/label.py) through `tf.numpy_function`. By default the guide stage
runs the same labeller in worker processes (guide.labeller=processes), which is faster on
several cores: pydensecrf holds the GIL, so tf.data's parallel calls overlap only in part
(voc_animals on 2 cores: 159 photos/s against 214; BENCHMARKS.md "The guide labeller in tf.data").

    label = guide_labels(config.guide)
    ds = ds.map(lambda image, labels, maps, saliency: (image, label(image, labels, maps, saliency)))
"""

import collections

import numpy as np
import tensorflow as tf

from tfguided import registry
from tfguided.data import imageio
from tfguided.guide.label import label_image
from tfguided.saliency.mbd import read_map_png


def check_strategy(strategy):
    """Refuses a labeller that cannot run inside tf.data (it needs the classifier or masks)."""
    if strategy not in registry.GUIDES.where(in_tf_data=True):
        raise ValueError(f"guide.strategy={strategy!r}: in tf.data choose one of "
                         f"{', '.join(registry.GUIDES.where(in_tf_data=True))} (no classifier, no masks)")


def _text(value):
    value = np.asarray(value).item()  # bytes from tf.data, bytes or str from eager TensorFlow
    return value.decode() if isinstance(value, bytes) else value


def _or_none(array):
    """An input the strategy does not use travels as an empty array."""
    return None if array.size == 0 else array


def _label(guide_cfg, image, image_id, labels, class_maps, cam_geometry, saliency):
    """`label_image` on tf.numpy_function's arguments -> (guide, seeds, foreground), an unused
    one empty."""
    guide, seeds, foreground = label_image(image, _text(image_id), labels[labels > 0], _or_none(class_maps),
                                           tuple(cam_geometry), _or_none(saliency), None, guide_cfg)
    return (np.asarray(guide, np.uint8), np.zeros((0, 0), np.uint8) if seeds is None else seeds.astype(np.uint8),
            np.zeros((0, 0), bool) if foreground is None else foreground.astype(bool))


def guide_labels(guide_cfg, cam_geometry=(1.0, 0.0)):
    """(image uint8 [H, W, 3], labels int [L] (classes 1..K, 0 = padding), class maps float
    [h, w, K] (class c at channel c-1), saliency probabilities float [H, W], optional image id
    string: G0's draw) -> guide labels uint8 [H, W] (255 = ignore), for `Dataset.map`.

    `guide_cfg`: the config's guide section. `cam_geometry`: (stride, offset) of the class maps
    on the image; the default takes them at the image's own size.
    """
    check_strategy(guide_cfg.strategy)

    def label(image, labels, class_maps, saliency, image_id):
        return _label(guide_cfg, image, image_id, labels, class_maps, cam_geometry, saliency)[0]

    def guide_fn(image, labels, class_maps, saliency, image_id=""):
        guide = tf.numpy_function(label, [image, labels, class_maps, saliency, image_id], tf.uint8,
                                  stateful=False)
        guide.set_shape(image.shape[:2])
        return guide

    return guide_fn


def labelled_items(items, guide_cfg, in_flight=48):
    """The guide stage's labelling in tf.data: yields (item, (guide, seeds, foreground)) for each
    of the guide stage's network outputs (stages/guide.py network_outputs), in order, as
    parallel.ordered_map does with worker processes. The photos, class maps and saliency travel
    as tensors through `Dataset.map`, where the photo is decoded and labelled by `tf.numpy_function`
    (one call per core at a time, in order); the rest of each item waits beside the pipeline.

    Args:
      items: the network outputs (dicts), in order.
      guide_cfg: the config's guide section (a strategy that runs in tf.data).
      in_flight: items read ahead of the labelling.
    """
    check_strategy(guide_cfg.strategy)
    waiting = collections.deque()

    def tensors():
        for item in items:
            waiting.append(item)
            saliency = item["saliency"]
            saliency = read_map_png(saliency) if isinstance(saliency, str) else saliency
            yield (item["image"], item["id"], np.asarray(item["labels"], np.int64),
                   np.zeros((0, 0, 0), np.float32) if item["cams"] is None else item["cams"],
                   np.asarray(item["cam_geometry"] or ((0.0, 0.0), (0.0, 0.0)), np.float64),
                   np.zeros((0, 0), np.float32) if saliency is None else np.asarray(saliency, np.float32))

    def label(image_bytes, image_id, labels, class_maps, cam_geometry, saliency):
        image = imageio.decode_image(image_bytes, _text(image_id))
        return _label(guide_cfg, image, image_id, labels, class_maps, cam_geometry, saliency)

    signature = (tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string), tf.TensorSpec([None], tf.int64),
                 tf.TensorSpec([None, None, None], tf.float32), tf.TensorSpec([2, 2], tf.float64),
                 tf.TensorSpec([None, None], tf.float32))
    options = tf.data.Options()
    options.autotune.enabled = False  # as records.dataset: no optimisation thread holding the end
    dataset = (tf.data.Dataset.from_generator(tensors, output_signature=signature)
               .map(lambda *args: tf.numpy_function(label, list(args), (tf.uint8, tf.uint8, tf.bool),
                                                    stateful=False),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)  # autotune off: a call per core
               .prefetch(in_flight).with_options(options))
    for guide, seeds, foreground in dataset.as_numpy_iterator():
        yield waiting.popleft(), (guide, _or_none(seeds), _or_none(foreground))
