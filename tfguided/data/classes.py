"""Class subsets: train and score only some of a dataset's classes ("segment only my 5 classes").

A subset names classes of the source's class list (e.g. `cat,cow,dog,horse,sheep` of VOC's 20).
Its labels are 1..K in the subset's order; every other class becomes background (0) and void
stays void (255), in masks and in image labels alike: the other classes' objects are then
salient non-targets, the paper's distractors.
"""

import numpy as np

from tfguided.data.labelmap import IGNORE


def parse_names(spec):
    """Comma-separated class names -> a list (blanks around each name dropped)."""
    return [n.strip() for n in spec.split(",") if n.strip()]


def parse_subset(spec, class_names):
    """`spec` (comma-separated names, or "" for all) -> the subset's class names, background first."""
    if not spec:
        return list(class_names)
    names = parse_names(spec)
    unknown = [n for n in names if n not in class_names[1:]]
    if unknown:
        raise ValueError(f"class subset {spec!r}: {unknown} not among the classes "
                         f"({', '.join(class_names[1:])})")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"class subset {spec!r}: {repeated} named twice")
    return [class_names[0]] + names


def remap_table(class_names, subset_names):
    """uint8 [256] lookup table: source label -> subset label (others 0, void stays void)."""
    table = np.zeros(256, np.uint8)
    table[IGNORE] = IGNORE
    for new, name in enumerate(subset_names[1:], 1):
        table[class_names.index(name)] = new
    return table


def remap_mask(mask, table):
    """A label map in source labels -> the same map in subset labels."""
    return table[np.asarray(mask, np.uint8)]


def remap_labels(labels, table):
    """Image-level labels (source indices) -> sorted subset indices, other classes dropped."""
    return tuple(sorted({int(table[c]) for c in labels} - {0, IGNORE}))
