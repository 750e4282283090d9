"""What the guide stage's workers run (tfguided/guide/label.label_example): an encoded image, class
maps and saliency probabilities in, seeds / foreground / guide out, on a hand-made case with a
known answer; and the same labeller mapped over a tf.data.Dataset (tfguided/guide/dataset.py)."""

import numpy as np
import tensorflow as tf
from conftest import label_worker as label

from tfguided.configs import GuideConfig
from tfguided.guide.dataset import guide_labels


def _case():
    """A 32x32 image: class 2's map peaks on the left square, saliency covers both squares;
    the right square has no seed (a salient non-target object)."""
    image = np.full((32, 32, 3), 90, np.uint8)
    image[8:24, 2:14] = (200, 40, 40)
    image[8:24, 18:30] = (40, 200, 40)
    cams = np.full((4, 4, 3), -1.0, np.float32)  # class c at channel c-1, one cell per 8x8 block
    cams[1:3, 0:2, 1] = 5.0                      # class 2 on the left square's cells
    saliency = np.zeros((32, 32), np.float32)
    saliency[8:24, 2:14] = 0.9
    saliency[8:24, 18:30] = 0.8
    saliency[0:2, 0:2] = 0.3                     # below 50% of the max: not foreground
    return image, cams, saliency


def test_g2_labels_the_seeded_component_and_ignores_the_unseeded_one():
    image, cams, saliency = _case()
    guide, seeds, foreground = label(image, np.array([2]), cams, saliency, GuideConfig(strategy="g2"))
    np.testing.assert_array_equal(foreground, saliency >= 0.45)
    assert set(np.unique(seeds)) == {0, 2} and np.all(seeds[:, 20:] == 0)
    assert np.all(guide[8:24, 2:14] == 2)        # the seeded component takes the seed's class
    assert np.all(guide[8:24, 18:30] == 255)     # no seed touches it: ignore
    outside = np.ones((32, 32), bool)
    outside[8:24, 2:14] = outside[8:24, 18:30] = False
    bleeding = outside & (seeds > 0)
    assert bleeding.any() and np.all(guide[bleeding] == 255)  # seed outside its component
    assert np.all(guide[outside & (seeds == 0)] == 0)


def test_seeds_strategy_returns_the_seeds():
    image, cams, saliency = _case()
    guide, seeds, _ = label(image, np.array([2]), cams, saliency, GuideConfig(strategy="seeds"))
    np.testing.assert_array_equal(guide, seeds)


def test_the_labeller_maps_over_a_tf_dataset_as_the_workers_label():
    """guide_labels inside Dataset.map gives the worker's guide; class maps at the CAMs' geometry."""
    image, cams, saliency = _case()
    cfg = GuideConfig(strategy="g2")
    labels = np.array([2, 0], np.int64)  # padded: 0 is no label
    data = tf.data.Dataset.from_tensors((image, labels, cams, saliency))
    guides = list(data.map(guide_labels(cfg, cam_geometry=(8, 3.5))).as_numpy_iterator())
    expected, _, _ = label(image, np.array([2]), cams, saliency, cfg)
    assert len(guides) == 1 and guides[0].dtype == np.uint8
    np.testing.assert_array_equal(guides[0], expected)
