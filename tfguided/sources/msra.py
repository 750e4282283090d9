"""MSRA-style saliency folders -> sharded TFRecords with GrabCut masks of the mean annotator box.

The label file follows MSRA's text format: the image count, then per image three lines:
its path relative to `<msra_root>/Image` (back- or forward slashes), `width height`, and the
annotators' boxes `left top right bottom;` (inclusive pixel coordinates) on one line.
"""

import os

import numpy as np

from tfguided.data import imageio, labelmap, records
from tfguided.saliency import grabcut
from tfguided.progress import progress_bar


def read_label_file(path):
    """-> list of (relative image path, width, height, [N, 4] boxes)."""
    with open(path) as f:
        lines = [line.strip() for line in f if line.strip()]
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
    path = os.path.join(msra_root, "Image", rel)
    data, h, w = imageio.read_image_file(path, max_pixels)
    if (w, h) != (width, height):
        raise ValueError(f"{path}: image is {w}x{h}, label file says {width}x{height}")
    image = imageio.decode_image(data)
    mask = grabcut.grabcut_mask(image, grabcut.mean_box(boxes), grabcut_iterations)
    image_id = os.path.splitext(rel)[0].replace("/", "_")
    return records.Example(id=image_id, image=data, height=h, width=w,
                           mask=labelmap.encode_index_png(mask.astype(np.uint8)),
                           boxes=tuple(boxes.reshape(-1)))


def convert(msra_root, out_dir, label_file=None, exclude_ids=None, grabcut_iterations=5,
            examples_per_shard=500, verbose=True, max_pixels=imageio.MAX_PIXELS):
    """Converts every listed image (minus `exclude_ids`, a file of ids) to split 'train'."""
    label_file = label_file or os.path.join(msra_root, "labels.txt")
    if not os.path.exists(label_file):
        raise FileNotFoundError(f"{label_file}: MSRA label file missing (--label_file)")
    entries = read_label_file(label_file)
    if exclude_ids:
        with open(exclude_ids) as f:
            excluded = {line.strip() for line in f if line.strip()}
        entries = [e for e in entries if os.path.splitext(e[0])[0].replace("/", "_") not in excluded]
    if not entries:
        raise ValueError(f"{label_file}: no image left to convert")
    if verbose:
        print(f"msra: {len(entries)} images from {msra_root}")
    progress = progress_bar(len(entries), "image") if verbose else None
    examples = (msra_example(msra_root, *e, grabcut_iterations, max_pixels) for e in entries)
    with records.replaced_directory(out_dir) as staging:  # out_dir untouched until it succeeded
        split = records.write_split(staging, "train", examples, len(entries), examples_per_shard, progress)
        manifest = records.write_manifest(staging, "msra", {"train": split}, 1, ["background", "salient"],
                                          {"source": os.path.abspath(msra_root)})
    return manifest
