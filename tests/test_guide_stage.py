"""The guide stage's per-image glue (tfguided/stages/guide.label_image): class maps + saliency
probabilities in, seeds / foreground / guide out, on a hand-made case with a known answer."""

import numpy as np

from tfguided.configs import GuideConfig
from tfguided.stages.guide import label_image


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
    guide, seeds, foreground = label_image(image, np.array([2]), cams, (8, 3.5), saliency,
                                           GuideConfig(strategy="g2"))
    np.testing.assert_array_equal(foreground, saliency >= 0.45)
    assert set(np.unique(seeds)) == {0, 2} and np.all(seeds[:, 20:] == 0)
    assert np.all(guide[8:24, 2:14] == 2)        # the seeded component takes the seed's class
    assert np.all(guide[8:24, 18:30] == 255)     # no seed touches it: ignore
    outside = np.ones((32, 32), bool)
    outside[8:24, 2:14] = outside[8:24, 18:30] = False
    bleeding = outside & (seeds > 0)
    assert bleeding.any() and np.all(guide[bleeding] == 255)  # seed outside its component
    assert np.all(guide[outside & (seeds == 0)] == 0)


def test_seeds_strategy_returns_the_seeds_and_unknown_strategy_is_refused():
    image, cams, saliency = _case()
    guide, seeds, _ = label_image(image, np.array([2]), cams, (8, 3.5), saliency,
                                  GuideConfig(strategy="seeds"))
    np.testing.assert_array_equal(guide, seeds)
    try:
        label_image(image, np.array([2]), cams, (8, 3.5), saliency, GuideConfig(strategy="g7"))
    except ValueError as e:
        assert "--guide='g7'" in str(e)
    else:
        raise AssertionError("unknown strategy accepted")
