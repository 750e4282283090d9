"""G0, G1, the oracle and crf-seed on hand-made arrays with known answers (§5, supp. C)."""

import numpy as np
import pytest
from conftest import label_worker as label

from tfguided.configs import GuideConfig
from tfguided.data.imageio import IMAGENET_MEAN_RGB
from tfguided.guide.g0 import guide_g0, image_rng
from tfguided.guide.g1 import guide_g1
from tfguided.guide.label import ground_truth_foreground
from tfguided.seeds.cam import crf_seeds, seeds_from_maps

RED, GREEN, GREY = (220, 30, 30), (30, 220, 30), (128, 128, 128)


def two_squares():
    """A red square (left) and a green square (right) on grey; saliency = both squares."""
    image = np.full((40, 40, 3), GREY, np.uint8)
    image[10:30, 2:18] = RED
    image[10:30, 22:38] = GREEN
    fg = np.zeros((40, 40), bool)
    fg[10:30, 2:18] = fg[10:30, 22:38] = True
    return image, fg


def colour_scores(images):
    """A stub classifier: class 1 scores the share of red pixels, class 2 of green ones."""
    images = np.asarray(images)
    red = (images[..., 0] > 200) & (images[..., 1] < 60)
    green = (images[..., 1] > 200) & (images[..., 0] < 60)
    return np.stack([red.mean(axis=(1, 2)), green.mean(axis=(1, 2))], axis=1)


def test_g0_gives_every_salient_pixel_one_random_image_label():
    _, fg = two_squares()
    picks = set()
    for image_id in ("a", "b", "c", "d", "e", "f", "g", "h"):
        guide = guide_g0([3, 5], fg, image_rng(image_id))
        values = np.unique(guide[fg])
        assert len(values) == 1 and values[0] in (3, 5)
        assert np.all(guide[~fg] == 0)
        picks.add(int(values[0]))
        np.testing.assert_array_equal(guide, guide_g0([3, 5], fg, image_rng(image_id)))  # reproducible
    assert picks == {3, 5}
    assert not guide_g0([], fg, image_rng("x")).any()


def test_g1_labels_each_component_with_the_class_it_keeps():
    """Keeping only the red square keeps class 1's score and removes class 2's, so the red
    component is class 1 and the green one class 2 (the reverse of "the score that drops most")."""
    image, fg = two_squares()
    guide = guide_g1(image, [1, 2], fg, colour_scores)
    assert np.all(guide[10:30, 2:18] == 1) and np.all(guide[10:30, 22:38] == 2)
    assert np.all(guide[~fg] == 0)


def test_g1_zeroes_outside_the_component_to_the_mean_colour():
    image, fg = two_squares()
    seen = []

    def recording_scores(images):
        seen.append(np.asarray(images))
        return colour_scores(images)

    guide_g1(image, [1, 2], fg, recording_scores)
    batch = seen[0]
    assert batch.shape == (3, 40, 40, 3)              # the image, then one per component
    np.testing.assert_array_equal(batch[0], image)
    left = batch[1]
    np.testing.assert_allclose(left[0, 0], IMAGENET_MEAN_RGB, rtol=1e-6)
    np.testing.assert_array_equal(left[10:30, 2:18], image[10:30, 2:18])
    np.testing.assert_allclose(left[10:30, 22:38], np.broadcast_to(IMAGENET_MEAN_RGB, (20, 16, 3)), rtol=1e-6)


def test_g1_single_label_needs_no_classifier_and_small_components_stay_background():
    image, fg = two_squares()
    fg[0:2, 0:2] = True  # 4 px < 1% of 1600: not a component

    def no_classifier(images):
        raise AssertionError("classifier called for a one-label image")

    guide = guide_g1(image, [4], fg, no_classifier)
    assert np.all(guide[10:30, 2:18] == 4) and np.all(guide[10:30, 22:38] == 4)
    assert np.all(guide[0:2, 0:2] == 0)


def test_oracle_is_g2_with_the_ground_truth_foreground():
    """The oracle's saliency is the ground-truth objects (void excluded); seeds come from the CAMs."""
    image, _ = two_squares()
    gt = np.zeros((40, 40), np.uint8)
    gt[10:30, 2:18] = 1
    gt[10:30, 22:38] = 2
    gt[9, 2:18] = 255
    cams = np.full((5, 5, 2), -1.0, np.float32)
    cams[2, 1, 0] = 5.0   # class 1 on the left square, class 2 on the right one
    cams[2, 3, 1] = 5.0
    guide, seeds, fg = label(image, np.array([1, 2]), cams, None, GuideConfig(strategy="oracle", tau=0.5),
                             gt=gt)
    np.testing.assert_array_equal(fg, ground_truth_foreground(gt))
    assert not fg[9].any()
    assert np.all(guide[10:30, 2:18] == 1) and np.all(guide[10:30, 22:38] == 2)
    with pytest.raises(ValueError, match="oracle needs ground-truth"):
        label(image, np.array([1]), cams, None, GuideConfig(strategy="oracle"))


def test_strategies_use_only_their_inputs():
    image, fg = two_squares()
    saliency = fg.astype(np.float32)
    cams = np.zeros((5, 5, 2), np.float32)
    guide, seeds, foreground = label(image, np.array([2]), None, saliency, GuideConfig(strategy="g0"),
                                     image_id="x")
    assert seeds is None and np.all(guide[fg] == 2) and np.all(guide[~fg] == 0)
    guide, seeds, foreground = label(image, np.array([2]), cams, None, GuideConfig(strategy="seeds"))
    assert foreground is None and guide is seeds


def test_crf_seed_without_iterations_is_the_seed_rule():
    """The unaries put background at tau against each class map: 0 CRF iterations = the seeds."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (24, 30, 3), dtype=np.uint8)
    maps = rng.uniform(0, 1, (24, 30, 2)).astype(np.float32)
    maps[np.abs(maps - 0.4) < 1e-3] = 0.5  # keep clear of ties at tau
    expected = seeds_from_maps(maps, [3, 7], 0.4)
    np.testing.assert_array_equal(crf_seeds(image, maps, [3, 7], 0.4, "sec", iterations=0), expected)


def test_crf_seed_snaps_a_leaking_seed_to_the_colour_edge():
    """A class map spilling 5 px past a black/white edge: the CRF returns the spill to background."""
    image = np.full((40, 40, 3), 255, np.uint8)
    image[:, :20] = 0
    maps = np.zeros((40, 40, 1), np.float32)
    maps[:, :25] = 1.0
    plain = seeds_from_maps(maps, [1], 0.5)
    assert np.all(plain[:, 20:25] == 1)
    refined = crf_seeds(image, maps, [1], 0.5, "sec")
    assert np.all(refined[:, :18] == 1) and np.all(refined[:, 20:] == 0)
