"""G2 guide labeller rules (paper supp. E, DESIGN.md §4) on small hand-made arrays.

Every expected guide below is written out by hand from the rules; the function under test is
never used to produce an expectation.
"""

import numpy as np
import pytest

from tfguided.guide.g2 import guide_g2

IGNORE = 255


def grey(height, width):
    return np.full((height, width, 3), 128, np.uint8)


def box(shape, top, bottom, left, right):
    """bool mask with rows top..bottom and columns left..right (inclusive) set."""
    mask = np.zeros(shape, bool)
    mask[top:bottom + 1, left:right + 1] = True
    return mask


def test_output_is_uint8_with_the_seed_shape():
    """The guide is a uint8 label map [H, W] (non-square, to catch a transposition)."""
    shape = (40, 50)
    seeds = np.zeros(shape, np.uint8)
    seeds[5:8, 40:43] = 3
    guide = guide_g2(grey(*shape), seeds, box(shape, 10, 29, 5, 24))
    assert guide.dtype == np.uint8
    assert guide.shape == shape
    assert np.all(guide[5:8, 40:43] == 3)


def test_component_touched_by_no_seed_is_ignored():
    """Supp. E, 0 categories: the component may be a non-target salient object -> ignore (255)."""
    shape = (40, 40)
    saliency = box(shape, 5, 14, 5, 14)
    guide = guide_g2(grey(*shape), np.zeros(shape, np.uint8), saliency)
    expected = np.zeros(shape, np.uint8)
    expected[5:15, 5:15] = IGNORE
    np.testing.assert_array_equal(guide, expected)


def test_component_touched_by_one_class_takes_it_everywhere():
    """Supp. E, 1 category: the whole component gets the seed's class.

    Two separate seeds of the same class count as one category, so there is no CRF split even
    though the component has two differently coloured halves.
    """
    shape = (40, 40)
    image = grey(*shape)
    image[10:30, 10:20] = (200, 30, 30)
    image[10:30, 20:30] = (30, 30, 200)
    saliency = box(shape, 10, 29, 10, 29)
    seeds = np.zeros(shape, np.uint8)
    seeds[12:14, 12:14] = 7
    seeds[25:27, 25:27] = 7
    guide = guide_g2(image, seeds, saliency)
    expected = np.zeros(shape, np.uint8)
    expected[10:30, 10:30] = 7
    np.testing.assert_array_equal(guide, expected)


def test_component_touched_by_two_classes_is_split_by_the_crf():
    """Supp. E, >= 2 categories: dense CRF inside the component, seeds as unaries.

    The component (rows/cols 10..49) is red on columns 10..29 and blue on 30..49. The class-1
    seed sits at columns 12..15 and the class-2 seed at 32..35, off-centre: the argmax of the
    blurred seeds alone (no CRF) gives the red columns 26..29 to class 2. The CRF's colour term
    must move the split to the colour edge.
    """
    shape = (60, 60)
    image = grey(*shape)
    image[10:50, 10:30] = (200, 30, 30)
    image[10:50, 30:50] = (30, 30, 200)
    saliency = box(shape, 10, 49, 10, 49)
    seeds = np.zeros(shape, np.uint8)
    seeds[27:33, 12:16] = 1
    seeds[27:33, 32:36] = 2
    guide = guide_g2(image, seeds, saliency)
    left, right = guide[10:50, 10:30], guide[10:50, 30:50]
    assert np.mean(left == 1) >= 0.95
    assert np.mean(right == 2) >= 0.95
    assert np.mean(guide[10:50, 26:30] == 1) >= 0.9  # unary argmax alone says class 2 here
    assert set(np.unique(guide[saliency]).tolist()) <= {1, 2}
    assert np.all(guide[~saliency] == 0)


def test_saliency_component_under_one_percent_is_not_a_component():
    """Supp. E: components are the saliency regions with area >= 1% of the image.

    40x40 image, 1% = 16 pixels. A 15-pixel region with no seed stays background (it would be
    255 if it were a component); a 16-pixel region with no seed is a component -> 255. A seed on
    a second 15-pixel region touches no component, so it is an isolated seed and is kept, while
    the rest of that small region stays background.
    """
    shape = (40, 40)
    saliency = box(shape, 2, 4, 2, 6) | box(shape, 20, 23, 20, 23) | box(shape, 30, 32, 30, 34)
    seeds = np.zeros(shape, np.uint8)
    seeds[31, 31:33] = 4
    guide = guide_g2(grey(*shape), seeds, saliency)
    expected = np.zeros(shape, np.uint8)
    expected[20:24, 20:24] = IGNORE
    expected[31, 31:33] = 4
    np.testing.assert_array_equal(guide, expected)


def test_saliency_component_of_exactly_one_percent_is_a_component():
    """Supp. E: 'area >= 1% of the image size' includes the boundary.

    70x70 image, 1% = 49 pixels exactly: a 7x7 region with no seed is a component -> 255.
    """
    shape = (70, 70)
    saliency = box(shape, 30, 36, 30, 36)
    guide = guide_g2(grey(*shape), np.zeros(shape, np.uint8), saliency)
    expected = np.zeros(shape, np.uint8)
    expected[30:37, 30:37] = IGNORE
    np.testing.assert_array_equal(guide, expected)


def test_seed_bleeding_out_of_its_component_is_ignored():
    """Supp. E: seed pixels of a touching seed that lie outside the component -> ignore."""
    shape = (40, 40)
    saliency = box(shape, 10, 29, 10, 29)
    seeds = np.zeros(shape, np.uint8)
    seeds[18:22, 26:34] = 3  # columns 26..29 inside, 30..33 outside
    guide = guide_g2(grey(*shape), seeds, saliency)
    expected = np.zeros(shape, np.uint8)
    expected[10:30, 10:30] = 3
    expected[18:22, 30:34] = IGNORE
    np.testing.assert_array_equal(guide, expected)


def test_seed_touching_two_components_labels_both():
    """Supp. E: a seed touching several components propagates its label to all of them.

    The seed crosses the gap between the two components; its pixels in the gap bleed -> 255.
    """
    shape = (40, 40)
    saliency = box(shape, 10, 19, 5, 14) | box(shape, 10, 19, 20, 29)
    seeds = np.zeros(shape, np.uint8)
    seeds[13:16, 12:23] = 5
    guide = guide_g2(grey(*shape), seeds, saliency)
    expected = np.zeros(shape, np.uint8)
    expected[10:20, 5:15] = 5
    expected[10:20, 20:30] = 5
    expected[13:16, 15:20] = IGNORE
    np.testing.assert_array_equal(guide, expected)


def test_isolated_seed_is_kept_and_everything_else_is_background():
    """Supp. E: a seed touching no component is a foreground the saliency missed -> kept.

    Pixels that are neither in a component nor in a seed are background (0).
    """
    shape = (40, 40)
    saliency = box(shape, 5, 14, 5, 14)
    seeds = np.zeros(shape, np.uint8)
    seeds[8:10, 8:10] = 2
    seeds[30:33, 30:33] = 9
    guide = guide_g2(grey(*shape), seeds, saliency)
    expected = np.zeros(shape, np.uint8)
    expected[5:15, 5:15] = 2
    expected[30:33, 30:33] = 9
    np.testing.assert_array_equal(guide, expected)


def test_no_saliency_and_no_seeds_is_all_background():
    """Supp. E: everything not covered by a rule is background."""
    shape = (40, 40)
    guide = guide_g2(grey(*shape), np.zeros(shape, np.uint8), np.zeros(shape, bool))
    np.testing.assert_array_equal(guide, np.zeros(shape, np.uint8))


def test_undecided_switch_background_vs_ignore():
    """guide.undecided: an untouched component and bleeding seed pixels are 255 under
    'ignore' (the paper) and 0 under 'background'."""
    shape = (40, 40)
    saliency = box(shape, 2, 11, 2, 11) | box(shape, 20, 29, 20, 29)
    seeds = np.zeros(shape, np.uint8)
    seeds[24:26, 27:33] = 6  # columns 27..29 inside the second component, 30..32 outside
    ignore = guide_g2(grey(*shape), seeds, saliency, undecided=255)
    background = guide_g2(grey(*shape), seeds, saliency, undecided=0)
    expected = np.zeros(shape, np.uint8)
    expected[20:30, 20:30] = 6
    expected_background = expected.copy()
    expected[2:12, 2:12] = IGNORE
    expected[24:26, 30:33] = IGNORE
    np.testing.assert_array_equal(ignore, expected)
    np.testing.assert_array_equal(background, expected_background)


def test_connectivity_8_joins_diagonal_squares_and_4_separates_them():
    """guide.connectivity: squares touching at one corner are one component under 8 (the
    authors' code) and two under 4; the seed in the first square reaches the second only under 8."""
    shape = (40, 40)
    saliency = box(shape, 5, 14, 5, 14) | box(shape, 15, 24, 15, 24)
    seeds = np.zeros(shape, np.uint8)
    seeds[8:10, 8:10] = 6
    eight = guide_g2(grey(*shape), seeds, saliency, connectivity=8)
    four = guide_g2(grey(*shape), seeds, saliency, connectivity=4)
    expected_eight = np.zeros(shape, np.uint8)
    expected_eight[5:15, 5:15] = 6
    expected_eight[15:25, 15:25] = 6
    expected_four = expected_eight.copy()
    expected_four[15:25, 15:25] = IGNORE
    np.testing.assert_array_equal(eight, expected_eight)
    np.testing.assert_array_equal(four, expected_four)


def test_min_seed_pixels_drops_small_seed_components():
    """guide.min_seed_pixels (authors' code: 25): seed components below the size are not seeds.

    With 5: a 4-pixel seed no longer labels its component (-> 255), a 9-pixel seed still does, a
    4-pixel isolated seed disappears (-> 0) and a 5-pixel isolated seed (at the size) is kept.
    """
    shape = (40, 40)
    saliency = box(shape, 2, 11, 2, 11) | box(shape, 2, 11, 20, 29)
    seeds = np.zeros(shape, np.uint8)
    seeds[5:7, 5:7] = 2      # 4 px in the first component
    seeds[5:8, 23:26] = 4    # 9 px in the second component
    seeds[30:32, 5:7] = 3    # 4 px isolated
    seeds[30, 20:25] = 8     # 5 px isolated
    expected_all = np.zeros(shape, np.uint8)
    expected_all[2:12, 2:12] = 2
    expected_all[2:12, 20:30] = 4
    expected_all[30:32, 5:7] = 3
    expected_all[30, 20:25] = 8
    expected_min5 = expected_all.copy()
    expected_min5[2:12, 2:12] = IGNORE
    expected_min5[30:32, 5:7] = 0
    np.testing.assert_array_equal(
        guide_g2(grey(*shape), seeds, saliency, min_seed_pixels=0), expected_all)
    np.testing.assert_array_equal(
        guide_g2(grey(*shape), seeds, saliency, min_seed_pixels=5), expected_min5)
