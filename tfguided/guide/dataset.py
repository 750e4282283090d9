"""The guide labeller in tf.data: a function to map over one's own `tf.data.Dataset`.

Guide labels made inside tf.data (the G2 rules and the dense CRF wrapped as a TensorFlow op):
`label_image` (tfguided/guide/label.py) through `tf.numpy_function`. The guide stage
itself runs the same labeller in worker processes, which is faster (pydensecrf holds the GIL).

    label = guide_labels(config.guide)
    ds = ds.map(lambda image, labels, maps, saliency: (image, label(image, labels, maps, saliency)))
"""

import numpy as np
import tensorflow as tf

from tfguided import registry
from tfguided.guide.label import label_image


def guide_labels(guide_cfg, cam_geometry=(1.0, 0.0)):
    """(image uint8 [H, W, 3], labels int [L] (classes 1..K, 0 = padding), class maps float
    [h, w, K] (class c at channel c-1), saliency probabilities float [H, W], optional image id
    string: G0's draw) -> guide labels uint8 [H, W] (255 = ignore), for `Dataset.map`.

    `guide_cfg`: the config's guide section. `cam_geometry`: (stride, offset) of the class maps
    on the image; the default takes them at the image's own size.
    """
    if guide_cfg.strategy not in registry.GUIDES.where(in_tf_data=True):
        raise ValueError(f"guide.strategy={guide_cfg.strategy!r}: in tf.data choose one of "
                         f"{', '.join(registry.GUIDES.where(in_tf_data=True))} (no classifier, no masks)")

    def label(image, labels, class_maps, saliency, image_id):
        image_id = np.asarray(image_id).item()  # bytes from tf.data, bytes or str from eager TensorFlow
        image_id = image_id.decode() if isinstance(image_id, bytes) else image_id
        guide, _, _ = label_image(image, image_id, labels[labels > 0], class_maps, cam_geometry,
                                  saliency, None, guide_cfg)
        return np.asarray(guide, np.uint8)

    def guide_fn(image, labels, class_maps, saliency, image_id=""):
        guide = tf.numpy_function(label, [image, labels, class_maps, saliency, image_id], tf.uint8,
                                  stateful=False)
        guide.set_shape(image.shape[:2])
        return guide

    return guide_fn
