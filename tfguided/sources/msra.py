"""MSRA-style saliency folders -> sharded TFRecords with GrabCut masks of the mean annotator box.

The label file follows MSRA's text format: the image count, then per image three lines:
its path relative to `<msra_root>/Image` (back- or forward slashes), `width height`, and the
annotators' boxes `left top right bottom;` (inclusive pixel coordinates) on one line.
"""

import os

import numpy as np

from tfguided import files
from tfguided.data import imageio, records
from tfguided.sources.boxes import box_example, write_saliency_set


def read_label_file(path):
    """-> list of (relative image path, width, height, [N, 4] boxes)."""
    lines = files.read_lines(path)
    if not lines:
        raise ValueError(f"{path}: empty label file")
    try:
        count = int(lines[0])
    except ValueError:
        raise ValueError(f"{path}: line 1 must be the image count, got {lines[0]!r}") from None
    if len(lines) != 1 + 3 * count:
        raise ValueError(f"{path}: {count} images announced, so {1 + 3 * count} non-empty lines "
                         f"expected, found {len(lines)}")
    entries = []
    for i in range(count):
        rel, dims, rects = lines[1 + 3 * i: 4 + 3 * i]
        try:
            width, height = (int(v) for v in dims.split())
            boxes = np.array([[float(v) for v in r.split()] for r in rects.split(";") if r.strip()])
        except ValueError:
            raise ValueError(f"{path}: entry {i + 1} ({rel}): bad size or box line") from None
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"{path}: entry {i + 1} ({rel}): boxes must be 4 numbers each")
        entries.append((rel.replace("\\", "/"), width, height, boxes))
    return entries


def msra_example(msra_root, rel, width, height, boxes, grabcut_iterations, max_pixels=imageio.MAX_PIXELS):
    """One label file entry -> a saliency example (`box_example`), after checking the photo's size
    against the label file; its id is `rel` without extension, '/' replaced by '_'.

    Args:
      msra_root: the folder with Image/.
      rel, width, height, boxes: the entry (`read_label_file`).
      grabcut_iterations: GrabCut's iterations on the mean box.
      max_pixels: photos with more pixels are refused.
    Returns:
      The records.Example.
    """
    path = os.path.join(msra_root, "Image", rel)
    data, image = imageio.read_image(path, max_pixels)
    if image.shape[:2] != (height, width):
        raise ValueError(f"{path}: image is {image.shape[1]}x{image.shape[0]}, label file says {width}x{height}")
    return box_example(os.path.splitext(rel)[0].replace("/", "_"), data, image, boxes, grabcut_iterations)


def convert(msra_root, out_dir, label_file=None, exclude_ids=None, grabcut_iterations=5,
            examples_per_shard=500, verbose=True, max_pixels=imageio.MAX_PIXELS):
    """Converts every listed image (minus `exclude_ids`, a file of ids) to split 'train'.

    Args:
      msra_root: the folder with Image/ and (by default) labels.txt.
      out_dir: where the saliency set goes (changed only if every image was converted).
      label_file: the label file, or None for <msra_root>/labels.txt.
      exclude_ids: a file of ids to leave out (e.g. images of target classes), or None.
      grabcut_iterations: GrabCut's iterations on each mean box.
      examples_per_shard: examples per TFRecord shard.
      verbose: print the count and a progress bar.
      max_pixels: images with more pixels are refused.
    Returns:
      The manifest.
    """
    label_file = label_file or os.path.join(msra_root, "labels.txt")
    if not os.path.exists(label_file):
        raise FileNotFoundError(f"{label_file}: MSRA label file missing (--label_file)")
    entries = read_label_file(label_file)
    if exclude_ids:
        excluded = set(files.read_lines(exclude_ids))
        entries = [e for e in entries if os.path.splitext(e[0])[0].replace("/", "_") not in excluded]
    if not entries:
        raise ValueError(f"{label_file}: no image left to convert")
    if verbose:
        print(f"msra: {len(entries)} images from {msra_root}")
    examples = records.ExampleSequence(lambda e: msra_example(msra_root, *e, grabcut_iterations, max_pixels), entries)
    return write_saliency_set(out_dir, "msra", examples, len(entries), examples_per_shard,
                              {"source": os.path.abspath(msra_root)}, verbose)

