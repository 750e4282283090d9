"""A folder of photos and a spreadsheet of their class names -> the target set; no masks needed.

    python -m tfrecords_tools folder --images=DIR --labels=FILE --out=OUT [--class_names=a,b,c]

FILE is a CSV (commas, or semicolons as some spreadsheets write them) or a TSV, with a header:
  image   the photo's path relative to DIR, subfolders allowed (also accepted: path, file, filename)
  labels  its class names, several separated by ';' or '|', an empty cell for a photo with none
          of the classes, kept as a negative (also accepted: classes, tags, label, class)
  split   optional: train or val; without it, --val_fraction of the photos go to val, drawn from
          the file name (adding photos never moves the old ones)
  mask    optional: a PNG of class indices (grayscale or palette) of the photo, for scoring only
Without FILE each photo's one class is the name of the subfolder of DIR it sits in (the layout of
keras.utils.image_dataset_from_directory). Classes: --class_names fixes their names and order,
else the names found, sorted; label 0 is the background. Any image TensorFlow decodes (JPEG, PNG,
BMP, GIF's first frame, WebP), by the package's one decoder; grey and RGBA photos become RGB.
Every row is checked before OUT is touched, errors naming the file and the line.
"""

import collections
import csv
import dataclasses
import io
import os

import numpy as np

from tfguided import files
from tfguided.data import imageio, labelmap, records
from tfguided.sources.common import (IMAGE_EXTENSIONS, SPLITS, check_class_names, hashed_split, is_image_file,
                                     relative_posix, shrunk, write_target_set)

COLUMNS = {"image": ("image", "path", "file", "filename", "file_name"),
           "labels": ("labels", "classes", "tags", "label", "class"),
           "split": ("split",), "mask": ("mask",)}
NAME_SEPARATORS = (";", "|")


@dataclasses.dataclass
class Row:
    """One photo: where it was listed (for messages), its path relative to the images folder,
    its class names, split and mask path (None where not given)."""
    where: str
    path: str
    names: tuple
    split: str = None
    mask: str = None


def read_table(path, required=("image", "labels")):
    """({column role or name: index}, [(line number, cells)]) of a CSV or TSV with a header, read
    BOM- and CRLF-safe; the roles of COLUMNS under any of their names, other columns by their own;
    the `required` ones must be there."""
    text = files.read_text(path)
    first = text.split("\n", 1)[0]
    delimiter = ("\t" if path.lower().endswith((".tsv", ".tab")) or "\t" in first
                 else "," if "," in first or ";" not in first else ";")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = []
    for cells in reader:
        if any(c.strip() for c in cells):
            rows.append((reader.line_num, [c.strip() for c in cells]))
    if not rows:
        raise ValueError(f"{path}: empty; expected a header (image,labels[,split][,mask]) and a row per photo")
    header = {name.lower(): i for i, name in enumerate(rows[0][1])}
    columns = dict(header)
    for role, names in COLUMNS.items():
        found = [header[n] for n in names if n in header]
        if found:
            columns[role] = found[0]
    for role in required:
        if role not in columns:
            raise ValueError(f"{path}: line {rows[0][0]}: no {role} column in the header {rows[0][1]} (name "
                             f"it {' or '.join(COLUMNS.get(role, (role,))[:3])})")
    return columns, rows[1:]


def split_names(cell):
    """'cat; dog|sofa' -> ('cat', 'dog', 'sofa')."""
    for separator in NAME_SEPARATORS[1:]:
        cell = cell.replace(separator, NAME_SEPARATORS[0])
    return tuple(n.strip() for n in cell.split(NAME_SEPARATORS[0]) if n.strip())


def rows_from_table(path):
    """The rows of a labels file, each checked alone (a path, a known split)."""
    columns, table = read_table(path)
    out = []
    for line, cells in table:
        cell = lambda role: cells[columns[role]] if role in columns and columns[role] < len(cells) else ""
        where = f"{path}: line {line}"
        photo = cell("image").replace("\\", "/")
        if not photo:
            raise ValueError(f"{where}: no image path")
        split = cell("split").lower() or None
        if split == "validation":
            split = "val"
        if split is not None and split not in SPLITS:
            raise ValueError(f"{where}: split {cell('split')!r}: use train or val")
        out.append(Row(where, os.path.normpath(photo).replace(os.sep, "/"), split_names(cell("labels")), split,
                       cell("mask") or None))
    return out


def rows_from_subfolders(images_dir):
    """keras' image_dataset_from_directory layout: each photo's class is its subfolder's name."""
    rows, loose = [], []
    for folder, _, names in sorted(os.walk(images_dir)):
        for name in sorted(names):
            if not is_image_file(name):
                continue
            path = relative_posix(os.path.join(folder, name), images_dir)
            if "/" not in path:
                loose.append(path)
            else:
                rows.append(Row(os.path.join(images_dir, path), path, (path.split("/")[0],)))
    if loose:
        raise ValueError(f"{images_dir}: {len(loose)} photos sit in the folder itself ({', '.join(loose[:3])}); "
                         f"without --labels every photo's class is its subfolder's name: move them into one, "
                         f"or list every photo with its classes in a CSV (--labels)")
    if not rows:
        raise ValueError(f"{images_dir}: no photos ({', '.join(IMAGE_EXTENSIONS)}) in its subfolders")
    return rows


def check_rows(rows, images_dir, class_names):
    """Refuses, naming the file and line, what cannot be converted, before anything is read:
    a missing photo or mask, a class not in `class_names`, a photo listed twice.

    Args:
      rows: the Rows of the labels file or the subfolders.
      images_dir: the folder their paths are relative to.
      class_names: the classes, background first.
    """
    first = {}
    for row in rows:
        if row.path in first:
            earlier = first[row.path]
            if set(earlier.names) == set(row.names):
                raise ValueError(f"{row.where}: {row.path} listed again (first at {earlier.where}); list each photo once")
            raise ValueError(f"{row.where}: conflicting labels for {row.path}: {', '.join(row.names) or 'none'} here, "
                             f"{', '.join(earlier.names) or 'none'} at {earlier.where}")
        first[row.path] = row
        unknown = [n for n in row.names if n not in class_names[1:]]
        if unknown:
            raise ValueError(f"{row.where}: class {unknown[0]!r} is not one of --class_names "
                             f"({', '.join(class_names[1:])})")
        for kind, rel in (("photo", row.path), ("mask", row.mask)):
            if rel and not os.path.isfile(os.path.join(images_dir, rel)):
                raise FileNotFoundError(f"{row.where}: {os.path.join(images_dir, rel)}: no such {kind} file")


def folder_example(row, images_dir, class_names, max_pixels, counts, max_side=0):
    """One row -> records.Example (the photo's own bytes, or shrunk to `max_side`), after decoding
    it and checking its mask.

    Args:
      row: the photo's Row.
      images_dir: the folder its paths are relative to.
      class_names: the classes, background first; a label is a name's index.
      max_pixels: photos with more pixels are refused.
      counts: a collections.Counter of not_rgb, masks and shrunk photos, counted up here.
      max_side: a longer side is shrunk to it, the mask alike (0: never).
    Returns:
      The records.Example.
    """
    path = os.path.join(images_dir, row.path)
    try:
        data, image = imageio.read_image(path, max_pixels)
    except (ValueError, FileNotFoundError) as e:
        raise ValueError(f"{row.where}: {e}") from None
    counts["not_rgb"] += imageio.stored_channels(data) != 3
    labels_map = None
    if row.mask:
        mask_path = os.path.join(images_dir, row.mask)
        try:
            labels_map = labelmap.read_label_png(mask_path)
        except ValueError as e:
            raise ValueError(f"{row.where}: {e}") from None
        if labels_map.shape != image.shape[:2]:
            raise ValueError(f"{row.where}: {mask_path}: mask is {labels_map.shape[1]}x{labels_map.shape[0]} but the "
                             f"photo {path} is {image.shape[1]}x{image.shape[0]}")
        bad = sorted(int(v) for v in np.unique(labels_map) if v >= len(class_names) and v != labelmap.IGNORE)
        if bad:
            raise ValueError(f"{row.where}: {mask_path}: label values {bad[:5]} outside 0..{len(class_names) - 1} "
                             f"and 255")
        counts["masks"] += 1
    if max_side and max(image.shape[:2]) > max_side:
        data, image, labels_map = shrunk(data, image, max_side, labels_map)
        counts["shrunk"] += 1
    labels = tuple(sorted(class_names.index(n) for n in set(row.names)))
    return records.Example(id=row.path, image=data, height=image.shape[0], width=image.shape[1], labels=labels,
                           mask=b"" if labels_map is None else labelmap.encode_index_png(labels_map))


def convert(images_dir, out_dir, labels_file=None, class_names=None, val_fraction=0.1,
            examples_per_shard=500, max_pixels=imageio.MAX_PIXELS, verbose=True, max_side=0):
    """Converts the photos of `images_dir` with their classes (module docstring); returns the manifest.

    Args:
      images_dir: the photos' folder.
      out_dir: where the target set goes (replaced only if it holds earlier converted data).
      labels_file: the CSV or TSV, or None for the subfolder layout.
      class_names: the classes' names in label order (None: the names found, sorted).
      val_fraction: the share of photos drawn for val where no split column says.
      max_side: photos with a longer side are shrunk to it (0: stored as they are).
    """
    if not os.path.isdir(images_dir):
        raise FileNotFoundError(f"--images={images_dir}: no such folder")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"--val_fraction={val_fraction}: must be >= 0 and < 1")
    rows = rows_from_table(labels_file) if labels_file else rows_from_subfolders(images_dir)
    found = sorted({n for row in rows for n in row.names})
    names = list(class_names) if class_names else found
    check_class_names(names, "--class_names" if class_names else labels_file or images_dir)
    if not names:
        raise ValueError(f"{labels_file or images_dir}: no class named anywhere")
    names = ["background"] + names
    check_rows(rows, images_dir, names)
    by_split = collections.defaultdict(list)
    for row in rows:
        by_split[row.split or hashed_split(row.path, val_fraction)].append(row)
    counts = collections.Counter()
    examples = {split: records.ExampleSequence(
        lambda row: folder_example(row, images_dir, names, max_pixels, counts, max_side), by_split[split])
        for split in SPLITS}
    manifest = write_target_set(
        out_dir, "folder", names, examples, {split: len(by_split[split]) for split in SPLITS}, examples_per_shard,
        {"source": os.path.abspath(images_dir), "labels_file": labels_file and os.path.abspath(labels_file),
         "negatives": sum(not row.names for row in rows)}, verbose)
    if verbose and counts["not_rgb"]:
        print(f"folder: {counts['not_rgb']} photos are grayscale or have an alpha channel; the networks see them "
              f"as RGB (alpha dropped)")
    if verbose and counts["shrunk"]:
        print(f"folder: {counts['shrunk']} photos shrunk to {max_side} px on their long side (--max_side)")
    if verbose:
        print(f"folder: {counts['masks']} photos with a mask (scored), {manifest['negatives']} negatives")
    return manifest
