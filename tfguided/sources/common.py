"""What the readers of other people's files share: which files are images, a split drawn from a
file name, and the target set written with a manifest of its roles and classes."""

import hashlib
import os

import cv2
import numpy as np

from tfguided.data import imageio, records

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")  # what imageio.decode_tf reads
SPLITS = ("train", "val")


def is_image_file(name):
    """Whether a file name ends with one of IMAGE_EXTENSIONS, in any case."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def hashed_split(key, val_fraction):
    """'val' for a fixed `val_fraction` of keys (file names), 'train' for the rest: drawn from the
    key's sha1, so adding photos never moves the old ones to the other split."""
    draw = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) / 2 ** 32
    return "val" if draw < val_fraction else "train"


def check_class_names(names, where):
    """Refuses class names that cannot be told apart or that clash with the background's."""
    if "background" in names:
        raise ValueError(f"{where}: 'background' is the name of label 0; rename that class")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{where}: classes {repeated} named twice")
    if any(not n for n in names):
        raise ValueError(f"{where}: an empty class name")


def write_target_set(out_dir, kind, class_names, examples_by_split, counts, examples_per_shard, extra,
                     verbose=True):
    """Writes the target set (`target_set_into`) into `out_dir`, replacing earlier converted data
    there (records.replaced_directory: nothing of `out_dir` changes unless every example was
    written). Returns the manifest."""
    with records.replaced_directory(out_dir) as staging:
        return target_set_into(staging, kind, class_names, examples_by_split, counts, examples_per_shard, extra,
                               verbose)


def target_set_into(staging, kind, class_names, examples_by_split, counts, examples_per_shard, extra,
                    verbose=True):
    """Writes the target set's splits and manifest into `staging`.

    Args:
      staging: an empty folder (a records.replaced_directory's).
      kind: the source's name, recorded in the manifest.
      class_names: background first.
      examples_by_split: {split: iterable of records.Example} for train and val.
      counts: {split: number of examples}; an empty split is refused.
      examples_per_shard: shard size.
      extra: more manifest entries (where the data came from).
    Returns:
      The manifest.
    """
    empty = [split for split in SPLITS if not counts.get(split)]
    if empty:
        raise ValueError(f"no photo in split {empty[0]!r}; give some (a split column, or a larger --val_fraction)")
    entries = {}
    for split in SPLITS:
        if verbose:
            print(f"{kind}: {split}: {counts[split]} photos")
        entries[split] = records.write_split(staging, split, examples_by_split[split], counts[split],
                                             examples_per_shard, verbose)
    return records.write_manifest(staging, kind, entries, len(class_names) - 1, class_names,
                                  {"role": "target", **extra})


def relative_posix(path, root):
    """`path` relative to `root` with forward slashes (the id of a photo, on any system)."""
    return os.path.relpath(path, root).replace(os.sep, "/")


def shrunk(data, image, max_side, mask=None):
    """(bytes, pixels, mask) of a photo whose long side is over `max_side` (0: never) resized to
    it: the pixels by area averaging and stored again (JPEG at quality 95 for a JPEG, else PNG),
    the mask (class indices) by nearest neighbour; else the photo as it was.

    Args:
      data: the photo file's bytes.
      image: the decoded photo, RGB uint8 [H, W, 3].
      max_side: the longest side kept, in pixels (0: never shrink).
      mask: its label map [H, W], or None.
    """
    height, width = image.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return data, image, mask
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ext = ".jpg" if data[:2] == b"\xff\xd8" else ".png"
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext == ".jpg" else []
    data = cv2.imencode(ext, np.ascontiguousarray(image[..., ::-1]), params)[1].tobytes()
    if mask is not None:
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    return data, imageio.decode_image(data), mask
