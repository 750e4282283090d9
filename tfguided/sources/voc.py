"""VOC-layout folders (plus SBD) -> sharded TFRecords (ids, original JPEG bytes, sizes, labels, masks).

Reads `<voc_root>/JPEGImages/<id>.jpg`, `SegmentationClass/<id>.png` (palette or grayscale; may be
absent for unlabelled splits) and `ImageSets/Segmentation/<split>.txt`. With `--sbd_root`
(SBD's `benchmark_RELEASE/dataset`: `cls/<id>.mat`, `img/<id>.jpg`, `train.txt`, `val.txt`) the
split `train_aug` is VOC train + SBD train + SBD val minus VOC val (10,582 images for the real
sets, §6.1); an image's mask is VOC's PNG where there is one, else SBD's `GTcls.Segmentation`.
Image-level labels (`--labels_from`): `xml` = the object names in `Annotations/<id>.xml`, VOC's
own image labels; `tsv` = `<id>\t<class indices>` lines (e.g. ../shared/data/voc12_lists/
image_labels.tsv, found automatically as `<voc_root>/image_labels.tsv`); `masks` = the classes
present in each mask; `auto` = tsv if there is one, else xml if `Annotations/` exists, else masks.
Class names come from `<voc_root>/class_names.txt` when present, else the 21 VOC names.
"""

import os
import xml.etree.ElementTree as ElementTree

import numpy as np

from tfguided import files
from tfguided.data import classes, imageio, labelmap, records

LABEL_SOURCES = ("auto", "tsv", "xml", "masks")
MISMATCHES = "label_mask_mismatches.tsv"


def read_image_labels(path):
    """TSV `<id>\\t<space-separated class indices>` -> {id: tuple of ints}."""
    labels = {}
    for n, line in enumerate(files.read_lines(path, comments=True), 1):
        image_id, _, classes = line.partition("\t")
        try:
            labels[image_id] = tuple(sorted(int(c) for c in classes.split()))
        except ValueError:
            raise ValueError(f"{path}: line {n}: expected '<id><TAB><class indices>', "
                             f"got {line!r}") from None
    return labels


def read_id_list(path):
    """The ids of a list file, in order ('#' comments and blank lines left out); an id listed
    twice is refused."""
    ids = files.read_lines(path, comments=True)
    seen = set()
    for image_id in ids:
        if image_id in seen:
            raise ValueError(f"{path}: duplicate id {image_id!r}")
        seen.add(image_id)
    return ids


def read_split_ids(voc_root, split, sbd_root=None):
    """The ids of a split; `train_aug` is built from VOC and SBD lists when no list file exists.

    Args:
      voc_root: the VOC2012 folder.
      split: the name of a list under ImageSets/Segmentation.
      sbd_root: SBD's dataset folder, or None.
    """
    path = os.path.join(voc_root, "ImageSets", "Segmentation", split + ".txt")
    if split == "train_aug" and not os.path.exists(path):
        return train_aug_ids(voc_root, sbd_root)
    return read_id_list(path)


def train_aug_ids(voc_root, sbd_root):
    """VOC train + SBD train + SBD val, minus VOC val (the paper's 10,582 trainaug), sorted."""
    if sbd_root is None:
        raise FileNotFoundError(f"{voc_root}/ImageSets/Segmentation/train_aug.txt missing and no "
                                f"--sbd_root to build train_aug from")
    voc_val = set(read_split_ids(voc_root, "val"))
    ids = set(read_split_ids(voc_root, "train"))
    for split in ("train", "val"):
        ids |= set(read_id_list(os.path.join(sbd_root, split + ".txt")))
    return sorted(ids - voc_val)


def read_xml_labels(voc_root, image_id, class_names):
    """The classes of the objects in `Annotations/<id>.xml`, as sorted indices.

    Args:
      voc_root: the VOC2012 folder.
      image_id: the image's id.
      class_names: the classes, background first; an object's class is its name's index.
    """
    path = os.path.join(voc_root, "Annotations", image_id + ".xml")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: annotation missing, so {image_id!r} has no image labels")
    try:
        names = [obj.findtext("name", "").strip() for obj in ElementTree.parse(path).getroot().iter("object")]
    except ElementTree.ParseError as e:
        raise ValueError(f"{path}: not valid XML ({e})") from None
    unknown = sorted({n for n in names if n not in class_names[1:]})
    if unknown:
        raise ValueError(f"{path}: object names {unknown} are not classes ({', '.join(class_names[1:])})")
    return tuple(sorted({class_names.index(n) for n in names}))


def read_sbd_mask(sbd_root, image_id):
    """SBD's class segmentation `cls/<id>.mat` (GTcls.Segmentation) as uint8 [H, W], or None."""
    path = os.path.join(sbd_root, "cls", image_id + ".mat") if sbd_root else None
    if path is None or not os.path.exists(path):
        return None
    import scipy.io  # only SBD needs it
    try:
        seg = scipy.io.loadmat(path)["GTcls"]["Segmentation"][0, 0]
    except (KeyError, ValueError, IndexError, TypeError, OSError, scipy.io.matlab.MatReadError) as e:
        raise ValueError(f"{path}: not an SBD class file with GTcls.Segmentation ({e})") from None
    return np.asarray(seg, np.uint8)


def read_mask(voc_root, sbd_root, image_id):
    """(label map, its path) from VOC's PNG, else SBD's .mat; (None, VOC's path) if neither.

    Args:
      voc_root: the VOC2012 folder.
      sbd_root: SBD's dataset folder, or None.
      image_id: the image's id.
    """
    png = os.path.join(voc_root, "SegmentationClass", image_id + ".png")
    if os.path.exists(png):
        return labelmap.read_label_png(png), png
    mask = read_sbd_mask(sbd_root, image_id)
    if mask is not None:
        return mask, os.path.join(sbd_root, "cls", image_id + ".mat")
    return None, png


def image_path(voc_root, sbd_root, image_id):
    """The photo's path: VOC's JPEGImages/<id>.jpg, else SBD's img/<id>.jpg where only that exists.

    Args:
      voc_root: the VOC2012 folder.
      sbd_root: SBD's dataset folder, or None.
      image_id: the image's id.
    """
    path = os.path.join(voc_root, "JPEGImages", image_id + ".jpg")
    if not os.path.exists(path) and sbd_root:
        sbd_path = os.path.join(sbd_root, "img", image_id + ".jpg")
        if os.path.exists(sbd_path):
            return sbd_path
    return path


def voc_example(voc_root, image_id, class_names, labels_from, image_labels=None, labels_tsv=None,
                sbd_root=None, max_pixels=imageio.MAX_PIXELS, table=None, mismatches=None):
    """One id -> records.Example, after checking the mask against the image and the class set.
    `table`: a class subset's lookup (data/classes.py) applied to the mask and the labels;
    `mismatches`: a list that collects (id, labels, mask classes) where the two disagree.

    Args:
      voc_root: the VOC2012 folder.
      image_id: the image's id.
      class_names: the source's classes, background first.
      labels_from: tsv, xml or masks (`resolve_label_source`).
      image_labels: {id: labels} of the TSV, for tsv.
      labels_tsv: the TSV's path, for messages.
      sbd_root: SBD's dataset folder, or None.
      max_pixels: images with more pixels are refused.
      table, mismatches: as above, or None.
    Returns:
      The records.Example.
    """
    num_classes = len(class_names) - 1
    path = image_path(voc_root, sbd_root, image_id)
    data, height, width = imageio.read_image_file(path, max_pixels)
    mask, mask_path = read_mask(voc_root, sbd_root, image_id)
    mask_bytes, from_mask, source_classes = b"", None, None
    if mask is not None:
        if mask.shape != (height, width):
            raise ValueError(f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but the image "
                             f"{path} is {width}x{height}")
        values = np.unique(mask)
        bad = [int(v) for v in values if v > num_classes and v != labelmap.IGNORE]
        if bad:
            raise ValueError(f"{mask_path}: label values {bad} outside 0..{num_classes} and 255")
        source_classes = tuple(int(v) for v in values if 0 < v <= num_classes)
        if table is not None:
            mask = classes.remap_mask(mask, table)
        from_mask = tuple(int(v) for v in np.unique(mask) if 0 < v != labelmap.IGNORE)
        mask_bytes = labelmap.encode_index_png(mask)
    labels = source_labels(voc_root, image_id, class_names, labels_from, image_labels, labels_tsv,
                           source_classes)
    if table is not None:
        labels = classes.remap_labels(labels, table)
    if mismatches is not None and from_mask is not None and labels_from != "masks" and set(labels) != set(from_mask):
        mismatches.append((image_id, labels, from_mask))
    return records.Example(id=image_id, image=data, height=height, width=width,
                           labels=labels, mask=mask_bytes)


def source_labels(voc_root, image_id, class_names, labels_from, image_labels, labels_tsv,
                  from_mask=None, sbd_root=None):
    """An image's labels in the source's classes, checked: from the TSV, the XML or its mask
    (`from_mask`, the mask's classes; read here when not given).

    Args:
      voc_root, image_id, class_names, labels_from, image_labels, labels_tsv, sbd_root: as
        `voc_example`.
      from_mask: the classes of the image's mask, or None.
    Returns:
      The labels, class indices 1..K; an image without any is refused.
    """
    num_classes = len(class_names) - 1
    if labels_from == "tsv":
        if image_id not in image_labels:
            raise KeyError(f"{labels_tsv}: no image-level labels for {image_id!r}")
        labels = image_labels[image_id]
    elif labels_from == "xml":
        labels = read_xml_labels(voc_root, image_id, class_names)
    else:
        if from_mask is None:
            mask, mask_path = read_mask(voc_root, sbd_root, image_id)
            if mask is None:
                raise FileNotFoundError(f"{mask_path}: no mask and no label source, so {image_id!r} "
                                        f"has no labels")
            from_mask = tuple(int(v) for v in np.unique(mask) if 0 < v <= num_classes)
        labels = from_mask
    if not labels:
        raise ValueError(f"image-level labels of {image_id!r} ({labels_from}): none; every image "
                         f"needs at least one class (leave background-only images out of the lists)")
    bad = [c for c in labels if not 1 <= c <= num_classes]
    if bad:
        raise ValueError(f"image-level labels of {image_id!r}: classes {bad} outside 1..{num_classes}")
    return tuple(labels)


def resolve_label_source(voc_root, labels_from, labels_tsv):
    """(source, tsv path): `auto` becomes tsv, xml or masks by what the folder holds.

    Args:
      voc_root: the VOC2012 folder.
      labels_from: one of LABEL_SOURCES (--labels_from).
      labels_tsv: the TSV's path, or None for <voc_root>/image_labels.tsv if it exists.
    Returns:
      (tsv, xml or masks; the TSV's path for tsv, else None).
    """
    if labels_from not in LABEL_SOURCES:
        raise ValueError(f"--labels_from={labels_from!r}: choose one of {', '.join(LABEL_SOURCES)}")
    if labels_tsv is None and labels_from in ("auto", "tsv"):
        default = os.path.join(voc_root, "image_labels.tsv")
        labels_tsv = default if os.path.exists(default) else None
    if labels_from == "tsv" and labels_tsv is None:
        raise FileNotFoundError(f"--labels_from=tsv but no --labels_tsv and no {voc_root}/image_labels.tsv")
    if labels_from == "auto":
        if labels_tsv:
            labels_from = "tsv"
        elif os.path.isdir(os.path.join(voc_root, "Annotations")):
            labels_from = "xml"
        else:
            labels_from = "masks"
    return labels_from, labels_tsv if labels_from == "tsv" else None


def check_splits(ids_by_split, voc_root):
    """Refuses an empty split and an id in two splits (an image trained and scored on)."""
    for split, ids in ids_by_split.items():
        if not ids:
            raise ValueError(f"{voc_root}: split {split!r} lists no image")
    names = list(ids_by_split)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = sorted(set(ids_by_split[a]) & set(ids_by_split[b]))
            if shared:
                raise ValueError(f"{voc_root}: splits {a!r} and {b!r} share {len(shared)} ids (e.g. "
                                 f"{shared[:3]}): an image would be trained on and scored on")


def source_class_names(voc_root):
    """The folder's class names, background first: `class_names.txt` if present, else VOC's 21."""
    path = os.path.join(voc_root, "class_names.txt")
    return files.read_lines(path) if os.path.exists(path) else list(labelmap.VOC_CLASSES)


def convert(voc_root, out_dir, splits=("train", "val"), labels_tsv=None, labels_from="auto",
            examples_per_shard=500, verbose=True, sbd_root=None, max_pixels=imageio.MAX_PIXELS,
            classes_subset=""):
    """Converts the listed splits (train_aug too, with SBD); returns the manifest.

    Every list, label source and class name is checked before `out_dir` is touched; the new
    data replaces `out_dir` whole on success and a failed run leaves it as it was.
    `classes_subset` (e.g. "cat,cow,dog,horse,sheep"): keep only these classes (labels 1..K in
    that order, other classes background, data/classes.py); images whose labels hold none of
    them are left out. Images whose labels and mask disagree are listed in
    label_mask_mismatches.tsv with one warning.

    Args:
      voc_root: the VOC2012 folder.
      out_dir: where the target set goes.
      splits: the lists under ImageSets/Segmentation to convert.
      labels_tsv, labels_from: where the image labels come from (`resolve_label_source`).
      examples_per_shard: examples per TFRecord shard.
      verbose: print the counts and progress bars.
      sbd_root: SBD's benchmark_RELEASE or its dataset folder, or None.
      max_pixels: images with more pixels are refused.
      classes_subset: comma-separated class names to keep, or "" for all.
    """
    if not os.path.isdir(voc_root):
        raise FileNotFoundError(f"--voc_root={voc_root}: no such directory")
    if sbd_root is not None:
        if not os.path.isdir(sbd_root):
            raise FileNotFoundError(f"--sbd_root={sbd_root}: no such directory")
        if os.path.isdir(os.path.join(sbd_root, "dataset", "cls")):
            sbd_root = os.path.join(sbd_root, "dataset")  # given benchmark_RELEASE itself
        if "train_aug" not in splits and verbose:
            print(f"voc: warning: --sbd_root given but not --splits=train_aug: SBD only adds masks "
                  f"to the listed splits {list(splits)}")
    source_names = source_class_names(voc_root)
    class_names = classes.parse_subset(classes_subset, source_names)
    table = classes.remap_table(source_names, class_names) if classes_subset else None
    labels_from, labels_tsv = resolve_label_source(voc_root, labels_from, labels_tsv)
    image_labels = read_image_labels(labels_tsv) if labels_from == "tsv" else None
    ids_by_split = {split: read_split_ids(voc_root, split, sbd_root) for split in splits}
    check_splits(ids_by_split, voc_root)
    left_out = {}
    if table is not None or labels_from == "tsv":
        for split, ids in ids_by_split.items():
            kept = [i for i in ids if table is None or classes.remap_labels(source_labels(
                voc_root, i, source_names, labels_from, image_labels, labels_tsv, sbd_root=sbd_root), table)]
            left_out[split], ids_by_split[split] = len(ids) - len(kept), kept
        check_splits(ids_by_split, voc_root)
    entries, mismatches = {}, []
    with records.replaced_directory(out_dir) as staging:
        for split, ids in ids_by_split.items():
            if verbose:
                print(f"voc: {split}: {len(ids)} images from {voc_root}" + (f" and {sbd_root}" if sbd_root else "")
                      + (f" ({left_out[split]} without any of {classes_subset} left out)"
                         if left_out.get(split) else ""))
            examples = records.ExampleSequence(lambda i: voc_example(
                voc_root, i, source_names, labels_from, image_labels, labels_tsv, sbd_root, max_pixels, table,
                mismatches), ids)
            entries[split] = records.write_split(staging, split, examples, len(ids), examples_per_shard, verbose)
        if mismatches:
            files.atomic_write_text(os.path.join(staging, MISMATCHES), "id\tlabels\tmask classes\n" + "".join(
                f"{i}\t{' '.join(map(str, a))}\t{' '.join(map(str, b))}\n" for i, a, b in mismatches))
            print(f"voc: warning: {len(mismatches)} images have image labels that differ from their "
                  f"mask's classes (the labels are used); listed in {os.path.join(out_dir, MISMATCHES)}")
        manifest = records.write_manifest(
            staging, "voc", entries, len(class_names) - 1, class_names,
            {"role": "target", "source": os.path.abspath(voc_root), "sbd_source": sbd_root and os.path.abspath(sbd_root),
             "labels_source": labels_tsv or labels_from, "classes_subset": classes_subset,
             "label_mask_mismatches": len(mismatches)})
    return manifest

