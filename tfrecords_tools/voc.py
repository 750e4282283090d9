"""VOC-layout folders -> sharded TFRecords (ids, original JPEG bytes, sizes, labels, masks).

Reads `<voc_root>/JPEGImages/<id>.jpg`, `SegmentationClass/<id>.png` (palette or grayscale; may be
absent for unlabelled splits) and `ImageSets/Segmentation/<split>.txt`. Image-level labels come
from a TSV (`<id>\\t<class indices>`, e.g. ../shared/data/voc12_lists/image_labels.tsv; found
automatically as `<voc_root>/image_labels.tsv`) or from the classes present in each mask.
Class names come from `<voc_root>/class_names.txt` when present, else the 21 VOC names.
"""

import os

import numpy as np

from tfguided.data import imageio, labelmap, records
from tfguided.progress import progress_bar

def read_lines(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: file missing")
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def read_image_labels(path):
    """TSV `<id>\\t<space-separated class indices>` -> {id: tuple of ints}."""
    labels = {}
    for n, line in enumerate(read_lines(path), 1):
        image_id, _, classes = line.partition("\t")
        try:
            labels[image_id] = tuple(sorted(int(c) for c in classes.split()))
        except ValueError:
            raise ValueError(f"{path}: line {n}: expected '<id><TAB><class indices>', "
                             f"got {line!r}") from None
    return labels


def read_split_ids(voc_root, split):
    path = os.path.join(voc_root, "ImageSets", "Segmentation", split + ".txt")
    ids = read_lines(path)
    seen = set()
    for image_id in ids:
        if image_id in seen:
            raise ValueError(f"{path}: duplicate id {image_id!r}")
        seen.add(image_id)
    return ids


def voc_example(voc_root, image_id, num_classes, image_labels, labels_tsv=None):
    """One id -> records.Example, after checking the mask against the image and the class set."""
    image_path = os.path.join(voc_root, "JPEGImages", image_id + ".jpg")
    data, height, width = imageio.read_image_file(image_path)
    mask_path = os.path.join(voc_root, "SegmentationClass", image_id + ".png")
    mask_bytes, from_mask = b"", None
    if os.path.exists(mask_path):
        mask = labelmap.read_label_png(mask_path)
        if mask.shape != (height, width):
            raise ValueError(f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but the image "
                             f"{image_path} is {width}x{height}")
        values = np.unique(mask)
        bad = [int(v) for v in values if v > num_classes and v != labelmap.IGNORE]
        if bad:
            raise ValueError(f"{mask_path}: label values {bad} outside 0..{num_classes} and 255")
        from_mask = tuple(int(v) for v in values if 0 < v <= num_classes)
        mask_bytes = labelmap.encode_index_png(mask)
    if image_labels is not None:
        if image_id not in image_labels:
            raise KeyError(f"{labels_tsv}: no image-level labels for {image_id!r}")
        labels = image_labels[image_id]
    elif from_mask is not None:
        labels = from_mask
    else:
        raise FileNotFoundError(f"{mask_path}: no mask and no label TSV, so {image_id!r} has no labels")
    bad = [c for c in labels if not 1 <= c <= num_classes]
    if bad:
        raise ValueError(f"image-level labels of {image_id!r}: classes {bad} outside 1..{num_classes}")
    return records.Example(id=image_id, image=data, height=height, width=width,
                           labels=labels, mask=mask_bytes)


def convert(voc_root, out_dir, splits=("train", "val"), labels_tsv=None, labels_from="auto",
            examples_per_shard=500, verbose=True):
    """Converts the listed splits; returns the manifest. labels_from: auto | tsv | masks."""
    if not os.path.isdir(voc_root):
        raise FileNotFoundError(f"--voc_root={voc_root}: no such directory")
    names_path = os.path.join(voc_root, "class_names.txt")
    class_names = read_lines(names_path) if os.path.exists(names_path) else list(labelmap.VOC_CLASSES)
    num_classes = len(class_names) - 1
    if labels_from not in ("auto", "tsv", "masks"):
        raise ValueError(f"--labels_from={labels_from!r}: choose auto, tsv or masks")
    if labels_tsv is None and labels_from != "masks":
        default = os.path.join(voc_root, "image_labels.tsv")
        labels_tsv = default if os.path.exists(default) else None
    if labels_from == "tsv" and labels_tsv is None:
        raise FileNotFoundError(f"--labels_from=tsv but no --labels_tsv and no {voc_root}/image_labels.tsv")
    image_labels = read_image_labels(labels_tsv) if labels_tsv and labels_from != "masks" else None
    os.makedirs(out_dir, exist_ok=True)
    records.clear_manifest(out_dir)
    entries = {}
    for split in splits:
        ids = read_split_ids(voc_root, split)
        if verbose:
            print(f"voc: {split}: {len(ids)} images from {voc_root}")
        progress = progress_bar(len(ids), "image") if verbose else None
        examples = (voc_example(voc_root, i, num_classes, image_labels, labels_tsv) for i in ids)
        entries[split] = records.write_split(out_dir, split, examples, len(ids),
                                             examples_per_shard, progress)
    return records.write_manifest(
        out_dir, "voc", entries, num_classes, class_names,
        {"source": os.path.abspath(voc_root), "labels_source": labels_tsv or "masks"})
