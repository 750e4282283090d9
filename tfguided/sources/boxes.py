"""Saliency sets from boxes (§6.1): photos of non-target classes, each with a box around its main
object, whose GrabCut segment is the saliency net's target. What every box source shares (MSRA's
annotators' boxes, COCO's largest box, a plain CSV), and the plain CSV reader itself:

    python -m tfrecords_tools boxes --images=DIR --boxes=FILE.csv --out=OUT

FILE: a CSV (or TSV) with the header image,x0,y0,x1,y1: the photo's path under DIR and its
main object's box in pixels (x0, y0 its top-left corner, x1, y1 one past its right and bottom
edges, as COCO's [x, y, width, height] gives them); several rows of one photo are averaged, as
MSRA's annotators' boxes are.
"""

import collections
import os

import numpy as np

from tfguided.data import imageio, labelmap, records
from tfguided.saliency import grabcut
from tfguided.sources.folder import read_table

SALIENCY_CLASSES = ["background", "salient"]
BOX_COLUMNS = ("x0", "y0", "x1", "y1")


def box_example(image_id, data, image, boxes, grabcut_iterations):
    """A saliency example: the photo's bytes, its boxes ([N, 4] left, top, right, bottom,
    inclusive pixels) and the GrabCut segment of their mean box as its 0/1 mask.

    Args:
      image_id: the example's id.
      data: the photo file's bytes, stored as they are.
      image: the decoded photo, RGB uint8 [H, W, 3].
      boxes: one box or several (annotators' boxes, averaged).
      grabcut_iterations: GrabCut's iterations.
    Returns:
      The records.Example.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    mask = grabcut.grabcut_mask(image, grabcut.mean_box(boxes), grabcut_iterations)
    return records.Example(id=image_id, image=data, height=image.shape[0], width=image.shape[1],
                           mask=labelmap.encode_index_png(mask.astype(np.uint8)), boxes=tuple(boxes.reshape(-1)))


def write_saliency_set(out_dir, kind, examples, count, examples_per_shard, extra, verbose=True):
    """Writes the saliency set (`saliency_set_into`) into `out_dir`, which changes only if every
    example was written. Returns the manifest."""
    with records.replaced_directory(out_dir) as staging:
        return saliency_set_into(staging, kind, examples, count, examples_per_shard, extra, verbose)


def saliency_set_into(staging, kind, examples, count, examples_per_shard, extra, verbose=True):
    """Writes the saliency set (split 'train' of `count` box examples) and its manifest into
    `staging` (an empty folder); returns the manifest."""
    if not count:
        raise ValueError("no photo for the saliency set")
    if verbose:
        print(f"{kind}: {count} saliency photos")
    split = records.write_split(staging, "train", examples, count, examples_per_shard, verbose)
    return records.write_manifest(staging, kind, {"train": split}, 1, SALIENCY_CLASSES, {"role": "saliency", **extra})


def read_box_table(path):
    """{photo path: ([N, 4] inclusive boxes, where it was listed)} of a box CSV, every value checked."""
    columns, rows = read_table(path, required=("image",) + BOX_COLUMNS)
    out = collections.OrderedDict()
    for line, cells in rows:
        where = f"{path}: line {line}"
        photo = cells[columns["image"]].replace("\\", "/") if columns["image"] < len(cells) else ""
        try:
            x0, y0, x1, y1 = (float(cells[columns[c]]) for c in BOX_COLUMNS)
        except (ValueError, IndexError):
            raise ValueError(f"{where}: x0, y0, x1, y1 must be numbers") from None
        if not photo or not (x1 > x0 and y1 > y0):
            raise ValueError(f"{where}: needs an image path and a box with x1 > x0 and y1 > y0")
        boxes, _ = out.setdefault(os.path.normpath(photo).replace(os.sep, "/"), ([], where))
        boxes.append((x0, y0, x1 - 1, y1 - 1))
    if not out:
        raise ValueError(f"{path}: no boxes listed")
    return out


def convert(images_dir, boxes_file, out_dir, grabcut_iterations=5, examples_per_shard=500,
            max_pixels=imageio.MAX_PIXELS, verbose=True):
    """Converts the photos of a box CSV into a saliency set (module docstring); returns the manifest.

    Args:
      images_dir: the photos' folder; the CSV's paths are relative to it.
      boxes_file: the box CSV or TSV.
      out_dir: where the saliency set goes (changed only if every photo was converted).
      grabcut_iterations: GrabCut's iterations on each photo's mean box.
      examples_per_shard: examples per TFRecord shard.
      max_pixels: photos with more pixels are refused.
      verbose: print the count and a progress bar.
    """
    table = read_box_table(boxes_file)
    for photo, (_, where) in table.items():
        if not os.path.isfile(os.path.join(images_dir, photo)):
            raise FileNotFoundError(f"{where}: {os.path.join(images_dir, photo)}: no such photo")

    def example(photo):
        boxes, where = table[photo]
        try:
            data, image = imageio.read_image(os.path.join(images_dir, photo), max_pixels)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        return box_example(photo, data, image, boxes, grabcut_iterations)
    return write_saliency_set(out_dir, "boxes", records.ExampleSequence(example, table), len(table), examples_per_shard,
                              {"source": os.path.abspath(images_dir), "boxes_file": os.path.abspath(boxes_file)},
                              verbose)
