"""COCO instance annotations -> the target set (image-level labels from the annotations'
categories; masks for scoring), and optionally a saliency set of the photos that hold none of the
target classes (their largest box, GrabCut: the paper's protocol, §6.1).

    python -m tfrecords_tools coco --annotations=instances.json --images=DIR --out=OUT \\
        [--classes=cat,dog] [--keep_negatives] [--val_annotations=FILE --val_images=DIR] \\
        [--saliency_out=SAL]

The format is read by its own library, pycocotools: polygons and RLE (crowd regions store RLE)
become masks exactly as COCO's tools draw them. Classes: --classes picks categories by name and
sets their order (labels 1..K), else every category in the file in the order of its id. A
photo's mask paints its target instances, larger ones first, on background; crowd regions of
target classes are void (255); instances of other categories are background (salient
non-targets, the paper's distractors). Photos with none of the target classes are left out, or
kept as negatives with --keep_negatives. Without --val_annotations, --val_fraction of the photos
go to val, drawn from their file names.
"""

import collections
import contextlib
import dataclasses
import json
import os

import numpy as np

from tfguided import files
from tfguided.data import imageio, labelmap, records
from tfguided.sources.boxes import box_example, saliency_set_into
from tfguided.sources.common import check_class_names, hashed_split, shrunk, target_set_into


@dataclasses.dataclass
class Photo:
    """A photo of an annotations file: its image entry and annotations, its folder, its split and
    its file's category id -> label table."""
    image: dict
    anns: list
    folder: str
    split: str
    label_of: dict

    def has_target(self):
        return any(a["category_id"] in self.label_of for a in self.anns)


def read_annotations(path):
    """The COCO JSON at `path`, with its images, annotations and categories checked for what the
    conversion reads."""
    try:
        coco = json.loads(files.read_text(path))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    for key in ("images", "annotations", "categories"):
        if not isinstance(coco.get(key), list):
            raise ValueError(f"{path}: no {key!r} list: not a COCO instances file")
    images = {img["id"] for img in coco["images"]}
    categories = {c["id"] for c in coco["categories"]}
    for ann in coco["annotations"]:
        if ann.get("image_id") not in images or ann.get("category_id") not in categories:
            raise ValueError(f"{path}: annotation {ann.get('id')} names image {ann.get('image_id')} or category "
                             f"{ann.get('category_id')}, which the file does not list")
    return coco


def class_table(coco, subset, path):
    """(class names with background first, {category id: label}) for the categories named in
    `subset` (comma-separated, in that order), or all of them in the order of their ids.

    Args:
      coco: the annotations (`read_annotations`).
      subset: comma-separated category names, or "" for all.
      path: the annotations file, for messages.
    """
    by_name = {c["name"]: c["id"] for c in sorted(coco["categories"], key=lambda c: c["id"])}
    names = [n.strip() for n in subset.split(",") if n.strip()] if subset else list(by_name)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"--classes: {unknown} are not categories of {path} ({', '.join(by_name)})")
    check_class_names(names, "--classes" if subset else path)
    return ["background"] + names, {by_name[n]: k for k, n in enumerate(names, 1)}


def instance_mask(ann, height, width):
    """An annotation's segmentation (polygons, RLE or compressed RLE) as a bool [H, W] mask,
    drawn as pycocotools' COCO.annToMask draws it; None for an annotation without one.

    Args:
      ann: one annotation of the instances file.
      height, width: the photo's size.
    """
    from pycocotools import mask as mask_utils

    segmentation = ann.get("segmentation")
    if not segmentation:
        return None
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return mask_utils.decode(rle).astype(bool)


def semantic_mask(anns, height, width, label_of):
    """The photo's label map (module docstring), or None if a target class's annotation has no
    segmentation.

    Args:
      anns: the photo's annotations.
      height, width: the photo's size.
      label_of: {category id: label} of the target classes.
    Returns:
      uint8 [H, W]: labels 1..K, background 0, void (255) on crowd regions.
    """
    masks = [(ann, instance_mask(ann, height, width)) for ann in anns if ann["category_id"] in label_of]
    if any(mask is None for _, mask in masks):
        return None
    out = np.zeros((height, width), np.uint8)
    for ann, mask in masks:
        if ann.get("iscrowd"):
            out[mask] = labelmap.IGNORE
    for ann, mask in sorted((m for m in masks if not m[0].get("iscrowd")), key=lambda m: -m[1].sum()):
        out[mask] = label_of[ann["category_id"]]
    return out


def coco_example(image, anns, images_dir, label_of, max_pixels, masks, max_side=0):
    """One photo -> records.Example: its file's bytes (shrunk to `max_side` if longer), its labels
    and (`masks`) its label map.

    Args:
      image: the photo's image entry.
      anns: its annotations.
      images_dir: the folder its file_name is relative to.
      label_of: {category id: label} of the target classes.
      max_pixels: photos with more pixels are refused.
      masks: write its label map (`semantic_mask`).
      max_side: a longer side is shrunk to it, the mask alike (0: never).
    Returns:
      The records.Example.
    """
    path = os.path.join(images_dir, image["file_name"])
    data, pixels = imageio.read_image(path, max_pixels)
    check_size(path, pixels, image)
    labels = tuple(sorted({label_of[a["category_id"]] for a in anns if a["category_id"] in label_of}))
    mask = semantic_mask(anns, *pixels.shape[:2], label_of) if masks else None
    data, pixels, mask = shrunk(data, pixels, max_side, mask)
    return records.Example(id=image["file_name"], image=data, height=pixels.shape[0], width=pixels.shape[1],
                           labels=labels, mask=b"" if mask is None else labelmap.encode_index_png(mask))


def largest_box(anns):
    """The largest non-crowd box of `anns` as (left, top, right, bottom) inclusive pixels, or None."""
    boxes = [a["bbox"] for a in anns if not a.get("iscrowd") and a.get("bbox") and a["bbox"][2] * a["bbox"][3] > 0]
    if not boxes:
        return None
    x, y, w, h = max(boxes, key=lambda b: b[2] * b[3])
    return x, y, x + w - 1, y + h - 1


def photos(coco, images_dir, path):
    """[(image entry, its annotations)] in the file's order, each photo's file checked to exist.

    Args:
      coco: the annotations (`read_annotations`).
      images_dir: the folder the file_name entries are relative to.
      path: the annotations file, for messages.
    """
    anns = collections.defaultdict(list)
    for ann in coco["annotations"]:
        anns[ann["image_id"]].append(ann)
    out = []
    for image in coco["images"]:
        if not os.path.isfile(os.path.join(images_dir, image["file_name"])):
            raise FileNotFoundError(f"{path}: image {image['id']}: {os.path.join(images_dir, image['file_name'])}: "
                                    f"no such file")
        out.append((image, anns[image["id"]]))
    return out


def convert(annotations, images_dir, out_dir, classes="", keep_negatives=False, val_annotations=None,
            val_images=None, val_fraction=0.1, masks=True, saliency_out=None, grabcut_iterations=5,
            examples_per_shard=500, max_pixels=imageio.MAX_PIXELS, verbose=True, max_side=0):
    """Converts COCO annotations (module docstring); returns the target set's manifest.

    Args:
      annotations, images_dir: the instances JSON and its photos' folder (train, or both splits).
      classes: comma-separated category names to keep, in label order ("": all).
      keep_negatives: keep photos with none of the classes (image labels empty).
      val_annotations, val_images: a second file for val; else val_fraction of the photos.
      masks: write label maps where the annotations have segmentations (for scoring).
      saliency_out: also write a saliency set of the train photos with none of the classes.
      max_side: photos with a longer side are shrunk to it, masks and boxes alike (0: as they are).
    """
    coco = read_annotations(annotations)
    names, label_of = class_table(coco, classes, annotations)
    entries = [Photo(image, anns, images_dir, "train" if val_annotations else hashed_split(image["file_name"], val_fraction),
                     label_of) for image, anns in photos(coco, images_dir, annotations)]
    if val_annotations:
        val_coco = read_annotations(val_annotations)
        _, val_label_of = class_table(val_coco, ",".join(names[1:]), val_annotations)  # ids may differ per file
        entries += [Photo(image, anns, val_images or images_dir, "val", val_label_of)
                    for image, anns in photos(val_coco, val_images or images_dir, val_annotations)]
    kept = [e for e in entries if keep_negatives or e.has_target()]
    if saliency_out and not classes:
        raise ValueError("--saliency_out: the saliency set is the photos with none of the target classes; "
                         "name the targets with --classes")
    chosen = saliency_photos(entries) if saliency_out else []
    by_split = {split: [e for e in kept if e.split == split] for split in ("train", "val")}
    examples = {split: records.ExampleSequence(
        lambda e: coco_example(e.image, e.anns, e.folder, e.label_of, max_pixels, masks, max_side), by_split[split])
        for split in by_split}
    if verbose:
        print(f"coco: {len(kept)} of {len(entries)} photos hold one of {len(names) - 1} classes"
              + (" or are kept as negatives" if keep_negatives else f" ({len(entries) - len(kept)} left out)"))
    with contextlib.ExitStack() as stack:  # both sets are written, or neither changes
        staging = stack.enter_context(records.replaced_directory(out_dir))
        if saliency_out:
            saliency_set_into(stack.enter_context(records.replaced_directory(saliency_out)), "coco_boxes",
                              saliency_examples(chosen, grabcut_iterations, max_pixels, max_side), len(chosen),
                              examples_per_shard, {"source": os.path.abspath(annotations)}, verbose)
        return target_set_into(staging, "coco", names, examples, {s: len(v) for s, v in by_split.items()},
                               examples_per_shard, {"source": os.path.abspath(annotations),
                                                    "val_source": val_annotations and os.path.abspath(val_annotations),
                                                    "classes_subset": classes, "negatives_kept": keep_negatives},
                               verbose)


def saliency_photos(entries):
    """The saliency set's photos: the train photos with none of the target classes and a box,
    each as (Photo, its largest box)."""
    return [(e, box) for e in entries
            if e.split == "train" and not e.has_target() and (box := largest_box(e.anns)) is not None]


def saliency_examples(chosen, grabcut_iterations, max_pixels, max_side=0):
    """The saliency set's examples (a records.ExampleSequence): each photo with its largest box,
    GrabCut inside it giving the target (as MSRA's mean box does), its size checked against the
    annotations.

    Args:
      chosen: `saliency_photos`' (Photo, box) pairs.
      grabcut_iterations: GrabCut's iterations on each box.
      max_pixels: photos with more pixels are refused.
      max_side: a longer side is shrunk to it, the box alike (0: never).
    """
    def example(chosen_photo):
        photo, box = chosen_photo
        path = os.path.join(photo.folder, photo.image["file_name"])
        data, pixels = imageio.read_image(path, max_pixels)
        check_size(path, pixels, photo.image)
        scale = min(1.0, max_side / max(pixels.shape[:2])) if max_side else 1.0
        data, pixels, _ = shrunk(data, pixels, max_side)
        return box_example(photo.image["file_name"], data, pixels, [[v * scale for v in box]], grabcut_iterations)
    return records.ExampleSequence(example, chosen)


def check_size(path, pixels, image):
    """Refuses a photo whose size is not the one its annotations give."""
    if pixels.shape[:2] != (image["height"], image["width"]):
        raise ValueError(f"{path}: photo is {pixels.shape[1]}x{pixels.shape[0]}, the annotations say "
                         f"{image['width']}x{image['height']}")
