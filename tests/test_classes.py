"""Class subsets (tfguided/data/classes.py): hand-made labels and masks with known answers."""

import numpy as np
import pytest

from tfguided.data import classes
from tfguided.data.labelmap import VOC_CLASSES

ANIMALS = "cat,cow,dog,horse,sheep"


def test_subset_names_and_table():
    names = classes.parse_subset(ANIMALS, list(VOC_CLASSES))
    assert names == ["background", "cat", "cow", "dog", "horse", "sheep"]
    table = classes.remap_table(list(VOC_CLASSES), names)
    assert [int(table[i]) for i in (0, 8, 10, 12, 13, 17, 15, 9, 255)] == [0, 1, 2, 3, 4, 5, 0, 0, 255]
    assert classes.parse_subset("", ["bg", "a"]) == ["bg", "a"]


def test_masks_and_image_labels_are_remapped():
    """person (15) and chair (9) become background, void stays void, cat 8 -> 1, sheep 17 -> 5;
    the subset's order decides the labels ("dog,cat": dog 1, cat 2)."""
    mask = np.array([[0, 8, 8, 15], [255, 17, 9, 255]], np.uint8)
    table = classes.remap_table(list(VOC_CLASSES), classes.parse_subset(ANIMALS, list(VOC_CLASSES)))
    np.testing.assert_array_equal(classes.remap_mask(mask, table), [[0, 1, 1, 0], [255, 5, 0, 255]])
    assert classes.remap_labels((8, 9, 15, 17), table) == (1, 5)
    assert classes.remap_labels((9, 15), table) == ()
    swapped = classes.remap_table(list(VOC_CLASSES), classes.parse_subset("dog,cat", list(VOC_CLASSES)))
    assert classes.remap_labels((8, 12), swapped) == (1, 2) and int(swapped[12]) == 1


def test_unknown_and_repeated_classes_are_named():
    with pytest.raises(ValueError, match=r"\['kitten'\] not among the classes"):
        classes.parse_subset("cat,kitten", list(VOC_CLASSES))
    with pytest.raises(ValueError, match=r"\['cat'\] named twice"):
        classes.parse_subset("cat,dog,cat", list(VOC_CLASSES))
