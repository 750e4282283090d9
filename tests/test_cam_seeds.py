"""CAM seeds (§4.2, DESIGN.md §4): maps of the image's classes, upsampled, divided by their own
max, background where every class < tau (0.2), else the argmax class."""

import numpy as np

from tfguided.scoremaps import upsample
from tfguided.seeds.cam import cam_seeds, normalised_class_maps, seeds_from_maps


def bilinear_half_pixel(maps, height, width):
    """Reference upsampling in plain numpy: bilinear, pixel centres aligned, edges clamped."""
    h, w = maps.shape[:2]

    def axis(out, size):
        src = np.clip((np.arange(out) + 0.5) * size / out - 0.5, 0, size - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, size - 1)
        return lo, hi, src - lo

    y0, y1, wy = axis(height, h)
    x0, x1, wx = axis(width, w)
    wy, wx = wy[:, None, None], wx[None, :, None]
    top = maps[y0][:, x0] * (1 - wx) + maps[y0][:, x1] * wx
    bottom = maps[y1][:, x0] * (1 - wx) + maps[y1][:, x1] * wx
    return top * (1 - wy) + bottom * wy


SAME_SIZE = (1, 0.0)  # maps already at the image size


def rows(*values):
    """Maps [2, W, K] from K per-column profiles (two identical rows)."""
    return np.tile(np.stack(values, axis=-1)[None].astype(np.float32), (2, 1, 1))


def test_low_res_maps_are_upsampled_bilinearly_then_normalised():
    """Low-res class maps are resized to the image size (bilinear) before normalising; checked
    against a numpy half-pixel reference on a non-square target (the geometry of maps whose cells
    tile the image, tfguided/scoremaps.py)."""
    rng = np.random.default_rng(0)
    cams = rng.uniform(0.0, 1.0, (4, 4, 3)).astype(np.float32)
    labels = [1, 3]
    half_pixel = ((4, 3), (1.5, 1.0))  # 4x4 -> 16x12: stride H/h, offset (stride - 1) / 2
    maps = normalised_class_maps(cams, labels, (16, 12), half_pixel)
    reference = bilinear_half_pixel(cams[..., [0, 2]].astype(np.float64), 16, 12)
    reference /= reference.reshape(-1, 2).max(axis=0)
    assert maps.shape == (16, 12, 2)
    np.testing.assert_allclose(maps, reference, atol=1e-5)
    expected = np.where(reference.max(-1) >= 0.2, np.array([1, 3])[reference.argmax(-1)], 0)
    np.testing.assert_array_equal(cam_seeds(cams, labels, (16, 12), geometry=half_pixel), expected)


def test_two_column_map_upsampled_splits_the_image_in_halves():
    """A 2x2 map with class 1 on the left column and class 2 on the right gives, at 8x8, class 1
    on the left four columns and class 2 on the right four."""
    cams = np.zeros((2, 2, 2), np.float32)
    cams[:, 0, 0] = 1.0
    cams[:, 1, 1] = 1.0
    expected = np.zeros((8, 8), np.uint8)
    expected[:, :4] = 1
    expected[:, 4:] = 2
    np.testing.assert_array_equal(cam_seeds(cams, [1, 2], (8, 8), geometry=(4, 1.5)), expected)


def test_each_class_is_divided_by_its_own_max():
    """Per-class max normalisation: scaling one class's map by 100 does not change the seeds.

    Class 1 = [1, .8, .5, .3, .1, 0]; class 2 = [0, .1, .3, .6, .9, .5] / .9 after normalising
    = [0, .11, .33, .67, 1, .56] -> seeds [1, 1, 1, 2, 2, 2]. Without normalisation the x100
    class 1 would also win columns 3 and 4.
    """
    m1 = np.array([1.0, 0.8, 0.5, 0.3, 0.1, 0.0])
    m2 = np.array([0.0, 0.1, 0.3, 0.6, 0.9, 0.5])
    expected = np.tile(np.array([1, 1, 1, 2, 2, 2], np.uint8), (2, 1))
    np.testing.assert_array_equal(cam_seeds(rows(m1, m2), [1, 2], (2, 6), geometry=SAME_SIZE), expected)
    np.testing.assert_array_equal(cam_seeds(rows(100 * m1, m2), [1, 2], (2, 6), geometry=SAME_SIZE), expected)


def test_tau_threshold():
    """Background where every normalised class map is below tau (default 0.2): 0.19 -> 0,
    0.21 -> the class; a higher tau removes more."""
    cams = rows(np.array([1.0, 0.21, 0.19, 0.0]))
    np.testing.assert_array_equal(cam_seeds(cams, [1], (2, 4), geometry=SAME_SIZE), np.tile([1, 1, 0, 0], (2, 1)))
    np.testing.assert_array_equal(cam_seeds(cams, [1], (2, 4), tau=0.5, geometry=SAME_SIZE),
                                  np.tile([1, 0, 0, 0], (2, 1)))


def test_argmax_only_among_the_image_labels():
    """Only the image's ground-truth classes compete: strong maps of other classes are ignored,
    and seed values are the labels themselves (class c is channel c - 1), in any label order."""
    cams = np.zeros((2, 4, 5), np.float32)
    cams[..., 0] = 50.0                                   # class 1, not a label
    cams[..., 2] = 50.0                                   # class 3, not a label
    cams[:, :, 4] = [1.0, 0.6, 0.1, 0.0]                  # class 5
    cams[:, :, 1] = [0.0, 0.2, 0.3, 1.0]                  # class 2
    seeds = cam_seeds(cams, [5, 2], (2, 4), geometry=SAME_SIZE)
    np.testing.assert_array_equal(seeds, np.tile(np.array([5, 5, 2, 2], np.uint8), (2, 1)))
    assert seeds.dtype == np.uint8


def test_class_with_all_negative_map_gives_no_seeds():
    """A class whose map never rises above zero has no positive evidence: no seeds of it, even
    where the other class's map is below tau."""
    m1 = np.array([1.0, 0.5, 0.1, 0.0])
    m2 = np.array([-5.0, -1.0, -0.5, -0.01])
    cams = rows(m1, m2)
    np.testing.assert_array_equal(cam_seeds(cams, [1, 2], (2, 4), geometry=SAME_SIZE), np.tile([1, 1, 0, 0], (2, 1)))
    np.testing.assert_array_equal(normalised_class_maps(cams, [1, 2], (2, 4), SAME_SIZE)[..., 1],
                                  np.zeros((2, 4)))
    np.testing.assert_array_equal(cam_seeds(cams, [2], (2, 4), geometry=SAME_SIZE), np.zeros((2, 4)))


def test_no_labels_gives_all_background():
    """An image without target classes has no seeds: all background, at the image size."""
    cams = np.ones((3, 3, 4), np.float32)
    seeds = cam_seeds(cams, [], (10, 7))
    assert seeds.dtype == np.uint8
    np.testing.assert_array_equal(seeds, np.zeros((10, 7), np.uint8))


def test_seeds_match_a_plain_numpy_argmax_with_ties():
    """The per-class-plane seed rule equals numpy's argmax over the label axis (first label on
    ties) thresholded at tau, on quantised random maps full of ties and at tau exactly, for 1-4
    labels; the maps match a plain per-class max normalisation of the upsampled CAMs."""
    rng = np.random.default_rng(3)
    for num_labels in range(1, 5):
        labels = list(rng.choice(np.arange(1, 21), num_labels, replace=False))
        cams = rng.integers(-2, 6, (5, 7, 20)).astype(np.float32)
        maps = normalised_class_maps(cams, labels, (19, 26), (4, 1.5))
        up = upsample(cams[..., [c - 1 for c in labels]], (19, 26), 4, 1.5)
        peaks = up.reshape(-1, num_labels).max(axis=0)
        np.testing.assert_array_equal(maps, np.where(peaks > 0, up / np.where(peaks > 0, peaks, 1), 0))
        for tau in (0.2, 0.6, 0.8):
            expected = np.where(maps.max(axis=-1) >= tau, np.asarray(labels)[maps.argmax(axis=-1)], 0)
            np.testing.assert_array_equal(seeds_from_maps(maps, labels, tau), expected)
