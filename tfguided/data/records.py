"""Sharded TFRecords with a manifest: the one on-disk format of every dataset and guide-label set.

One `tf.train.Example` schema serves all of them:
    id       bytes   image id (file stem)
    image    bytes   the encoded image (original JPEG bytes where the source is JPEG)
    height, width    int64
    labels   int64[] image-level class indices 1..K (no background)
    mask     bytes   grayscale PNG of a label map: ground truth (VOC), GrabCut foreground 0/1
                     (MSRA) or a guide (guide stage); empty when there is none
    gt_mask  bytes   ground truth carried beside a guide, for supervision quality; may be empty
    boxes    float[] annotator boxes, 4 per box (left, top, right, bottom), MSRA only

A directory holds `<split>-NNNNN-of-MMMMM.tfrecord` shards and `manifest.json` (shard names,
example counts, sha256 checksums, ids per split). Shards are written to temporary names and
renamed; the manifest is written last, so a directory with a manifest is complete. Readers verify
the manifest and name the shard that does not match it.
"""

import collections.abc
import contextlib
import contextvars
import dataclasses
import fcntl
import hashlib
import io
import itertools
import json
import os
import re
import shutil
import tempfile
import time

import tensorflow as tf

from tfguided import files
from tfguided.progress import progress_bar

MANIFEST = "manifest.json"
FORMAT = "tfguided-records-v1"


@dataclasses.dataclass
class Example:
    id: str
    image: bytes
    height: int
    width: int
    labels: tuple = ()
    mask: bytes = b""
    gt_mask: bytes = b""
    boxes: tuple = ()

    def serialize(self):
        def b(v):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v]))

        def i(v):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=list(v)))

        features = {
            "id": b(self.id.encode()), "image": b(self.image),
            "height": i([self.height]), "width": i([self.width]),
            "labels": i(self.labels), "mask": b(self.mask), "gt_mask": b(self.gt_mask),
            "boxes": tf.train.Feature(float_list=tf.train.FloatList(value=list(self.boxes))),
        }
        example = tf.train.Example(features=tf.train.Features(feature=features))
        return example.SerializeToString(deterministic=True)  # map order fixed: same bytes every run


FEATURES = {
    "id": tf.io.FixedLenFeature([], tf.string),
    "image": tf.io.FixedLenFeature([], tf.string),
    "height": tf.io.FixedLenFeature([], tf.int64),
    "width": tf.io.FixedLenFeature([], tf.int64),
    "labels": tf.io.VarLenFeature(tf.int64),
    "mask": tf.io.FixedLenFeature([], tf.string, default_value=b""),
    "gt_mask": tf.io.FixedLenFeature([], tf.string, default_value=b""),
    "boxes": tf.io.VarLenFeature(tf.float32),
}


def shard_name(split, index, count):
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


@dataclasses.dataclass(frozen=True)
class Part:
    """Process `index` of `count` sharing the work on a split: it takes the examples
    [n*index//count, n*(index+1)//count) of the split's n, a contiguous range by record index,
    the same on every rerun, so the parts laid end to end are the one-process order (a cluster's
    per-image stages, stages/parts.py; a conversion in several processes, `converting_part`)."""
    index: int = 0
    count: int = 1

    def __post_init__(self):
        if not 0 <= self.index < self.count:
            raise ValueError(f"part index {self.index} of {self.count}: must be 0 <= index < count")

    def bounds(self, n):
        """(start, stop) of this part's examples among `n`: contiguous, sizes within one."""
        return n * self.index // self.count, n * (self.index + 1) // self.count

    @property
    def name(self):
        """`partKKKofNNN`: what this part's files are named after."""
        return f"part{self.index:03d}of{self.count:03d}"

    def prefix(self, split):
        """The shard-name prefix of this part of `split`."""
        return split if self.count == 1 else f"{split}-{self.name}"


class ExampleSequence(collections.abc.Sequence):
    """`make(item)` for each of `items`, made only when read: a converter's examples, so that a
    part of the conversion (`converting_part`) slices out its own without making the others'."""

    def __init__(self, make, items):
        self.make, self.items = make, list(items)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ExampleSequence(self.make, self.items[index])
        return self.make(self.items[index])


_CONVERTING = contextvars.ContextVar("converting_part", default=None)


@contextlib.contextmanager
def converting_part(part):
    """Within it, a converter writes only `part`'s share of every split (Part.bounds), as a
    complete set of its own in <out>/partKKKofNNN (`replaced_directory`), which
    tfguided/data/merge.py joins once every part is written. Part(0, 1): the usual conversion."""
    token = _CONVERTING.set(part if part.count > 1 else None)
    try:
        yield
    finally:
        _CONVERTING.reset(token)


def write_split(out_dir, split, examples, num_examples, examples_per_shard=500, verbose=False):
    """Writes an iterable of `Example`s as shards of `split`; returns the split's manifest entry.

    `num_examples` fixes the shard count up front; `verbose` shows a progress bar of the
    examples written. Within `converting_part`, only the part's range of the split is
    written (entry "range" and "total"): an ExampleSequence is sliced, another iterable is
    read past the examples before the range (each of them made, then dropped).
    """
    part, whole = _CONVERTING.get(), None
    if part is not None:
        (start, stop), whole = part.bounds(num_examples), num_examples
        examples = examples[start:stop] if isinstance(examples, collections.abc.Sequence) else \
            itertools.islice(examples, start, stop)
        num_examples = stop - start
    num_shards = max(1, -(-num_examples // examples_per_shard))
    progress = progress_bar(num_examples, "image") if verbose else None
    entry = {"count": 0, "ids": [], "shards": []}
    content = hashlib.sha256()
    iterator = iter(examples)
    for index in range(num_shards):
        limit = examples_per_shard if index < num_shards - 1 else None
        done = entry["count"]
        shard = write_shard(os.path.join(out_dir, shard_name(split, index, num_shards)), iterator, limit,
                            content, progress and (lambda n: progress(done + n)))
        entry["ids"] += shard.pop("ids")
        entry["shards"].append(shard)
        entry["count"] += shard["count"]
    entry["content_sha256"] = content.hexdigest()
    if entry["count"] != num_examples:
        raise ValueError(f"{out_dir}: split {split!r} expected {num_examples} examples, "
                         f"wrote {entry['count']}")
    check_unique_ids(entry["ids"], f"{out_dir}: split {split!r}")
    if whole is not None:
        entry.update(range=[start, stop], total=whole)
    return entry


def check_unique_ids(ids, where):
    """Refuses a split whose ids repeat (`where` names it)."""
    if len(set(ids)) != len(ids):
        counts = collections.Counter(ids)
        raise ValueError(f"{where} has duplicate ids, e.g. {sorted(i for i, c in counts.items() if c > 1)[:5]}")


def write_shard(path, examples, limit=None, content=None, progress=None):
    """Writes the next `limit` (None: all) `Example`s of the iterator `examples` as one shard,
    atomically; `content` (a hashlib object) takes each serialized example as the content
    fingerprint counts it; `progress` gets the count after each. Returns {file, count, sha256,
    ids}."""
    ids = []
    with files.atomic_path(path) as tmp:
        with tf.io.TFRecordWriter(tmp) as writer:
            for example in (examples if limit is None else itertools.islice(examples, limit)):
                serialized = example.serialize()
                writer.write(serialized)
                if content is not None:
                    update_content(content, serialized)
                ids.append(example.id)
                if progress:
                    progress(len(ids))
    return {"file": os.path.basename(path), "count": len(ids), "sha256": files.sha256_file(path), "ids": ids}


STAGING, OLD, STAGING_LOCK = ".partial", ".old", ".lock"


@contextlib.contextmanager
def replaced_directory(out_dir):
    """Yields an empty staging folder beside `out_dir`; on success it replaces `out_dir` whole
    (no stale shards of an older layout), on failure it goes and `out_dir` stays as it was.

    Only converted data is replaced: an `out_dir` that holds files but no manifest, or any file
    the manifest does not list as written by the converter (a user's notes), is refused by name
    before anything is written. Staging folders that earlier runs left behind when they were
    killed are cleaned first (a running conversion holds a lock in its own, so it is left alone).
    """
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"{out_dir}: is a file; give a folder")
    check_only_converted_data(out_dir)
    part = _CONVERTING.get()
    if part is not None:
        _check_parts_of(out_dir, part)
        out_dir = os.path.join(out_dir, part.name)
        check_only_converted_data(out_dir)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    clean_killed_staging(out_dir)
    staging = tempfile.mkdtemp(prefix="." + os.path.basename(out_dir) + ".", suffix=STAGING, dir=parent)
    lock = open(os.path.join(staging, STAGING_LOCK), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        yield staging
        _record_written_files(staging)
        old = staging[:-len(STAGING)] + OLD
        if os.path.exists(out_dir):
            os.replace(out_dir, old)
        os.replace(staging, out_dir)  # the lock file goes along, still held
        os.remove(os.path.join(out_dir, STAGING_LOCK))
        shutil.rmtree(old, ignore_errors=True)
    finally:
        lock.close()
        shutil.rmtree(staging, ignore_errors=True)


def written_files(out_dir):
    """The names a converter wrote into `out_dir` (its manifest's `files`; for a manifest written
    before that list existed, the manifest, the shards and the mismatch report)."""
    manifest = read_manifest(out_dir)
    if "files" in manifest:
        return set(manifest["files"])
    shards = {shard["file"] for split in manifest["splits"].values() for shard in split["shards"]}
    return shards | {MANIFEST, "label_mask_mismatches.tsv"}


PART_FOLDER = re.compile(r"part(\d{3})of(\d{3})")  # a part's folder (`converting_part`)
PART_STAGING = re.compile(rf"\.part\d{{3}}of\d{{3}}\..+(?:{re.escape(STAGING)}|{re.escape(OLD)})")  # its staging


def _converter_folder(out_dir, name):
    """Whether `name` in `out_dir` is a part folder or its staging (a converter's, not a user's)."""
    return (PART_FOLDER.fullmatch(name) or PART_STAGING.fullmatch(name)) and os.path.isdir(os.path.join(out_dir, name))


def part_folders(out_dir):
    """{(index, count): path} of the part folders (`converting_part`) in `out_dir`."""
    names = os.listdir(out_dir) if os.path.isdir(out_dir) else []
    return {(int(m.group(1)), int(m.group(2))): os.path.join(out_dir, name) for name in sorted(names)
            if (m := PART_FOLDER.fullmatch(name)) and os.path.isdir(os.path.join(out_dir, name))}


def _check_parts_of(out_dir, part):
    """Refuses, by name, parts of a conversion into `out_dir` in another number of processes."""
    other = sorted(path for (_, count), path in part_folders(out_dir).items() if count != part.count)
    if other:
        raise ValueError(f"{out_dir}: holds {os.path.basename(other[0])} of a conversion in another number of "
                         f"processes than {part.count} ({len(other)} such part(s)): delete them or convert with "
                         f"their --num_shards")


def check_only_converted_data(out_dir):
    """Refuses a folder holding files that a converter did not write (part folders and their
    staging are a converter's)."""
    names = {n for n in os.listdir(out_dir) if not _converter_folder(out_dir, n)} if os.path.isdir(out_dir) else set()
    if not names:
        return
    if not os.path.exists(os.path.join(out_dir, MANIFEST)):
        listed = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
        raise ValueError(f"{out_dir}: holds files ({listed}) but no {MANIFEST}, so it is not converted data "
                         f"this would replace; give an empty or new folder")
    foreign = sorted(names - written_files(out_dir) - {STAGING_LOCK})
    if foreign:
        raise ValueError(f"{out_dir}: holds {len(foreign)} file(s) the converter did not write "
                         f"({', '.join(foreign[:5])}{', ...' if len(foreign) > 5 else ''}); converting "
                         f"there would delete them: move them out or give another --out")


def _record_written_files(staging):
    """Adds the list of every file in `staging` to its manifest (what a later run may replace)."""
    path = os.path.join(staging, MANIFEST)
    manifest = files.read_json(path)
    manifest["files"] = sorted(n for n in os.listdir(staging) if n != STAGING_LOCK)
    files.atomic_write_json(path, manifest)


def clean_killed_staging(out_dir, min_age_seconds=60):
    """Removes the staging folders of conversions into `out_dir` that were killed (their lock is
    free; one without a lock file only once it is `min_age_seconds` old). A run killed in the
    middle of its final swap (`out_dir` gone, its complete staging folder still there) is
    finished instead. Returns the paths removed."""
    parent, base = os.path.dirname(out_dir), os.path.basename(out_dir)
    if not os.path.isdir(parent):
        return []
    removed = []
    for name in sorted(os.listdir(parent)):
        if not (name.startswith(f".{base}.") and name.endswith(STAGING)):
            continue
        staging = os.path.join(parent, name)
        if _in_use(staging, min_age_seconds):
            continue
        old = staging[:-len(STAGING)] + OLD
        if not os.path.exists(out_dir) and os.path.exists(old) and os.path.exists(os.path.join(staging, MANIFEST)):
            os.replace(staging, out_dir)  # killed between the two renames of the final swap
            os.remove(os.path.join(out_dir, STAGING_LOCK))
        else:
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    for name in sorted(os.listdir(parent)):
        if name.startswith(f".{base}.") and name.endswith(OLD) and \
                not os.path.exists(os.path.join(parent, name[:-len(OLD)] + STAGING)) and os.path.exists(out_dir):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
            removed.append(os.path.join(parent, name))
    return removed


def _in_use(staging, min_age_seconds):
    """Whether a conversion is still writing `staging` (it holds the lock file's lock)."""
    path = os.path.join(staging, STAGING_LOCK)
    if not os.path.exists(path):
        return time.time() - os.path.getmtime(staging) < min_age_seconds
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


def clear_manifest(out_dir):
    """Call before (re)writing shards into `out_dir`: without a manifest the folder reads as
    incomplete, so an interrupted rewrite never passes for the old, complete one. (A killed
    writer's temporary files are the business of the task that writes them: stages/parts.py.)"""
    path = os.path.join(out_dir, MANIFEST)
    if os.path.exists(path):
        os.remove(path)


def write_manifest(out_dir, kind, splits, num_classes, class_names, extra=None):
    """Writes `out_dir`'s manifest (last: a folder with one is complete); within `converting_part`
    it says which part of how many the folder holds."""
    part = _CONVERTING.get()
    manifest = {"format": FORMAT, "kind": kind, "num_classes": num_classes,
                "class_names": list(class_names), "splits": splits, **(extra or {}),
                **({"part": {"index": part.index, "count": part.count}} if part else {})}
    files.atomic_write_json(os.path.join(out_dir, MANIFEST), manifest)
    return manifest


def content_fingerprint(data_dir):
    """sha256 of what a converted directory holds (kind, classes, each split's examples in order),
    independent of its shard layout and of where it was converted from: the same source converted
    again, with any shard size, gives the same fingerprint."""
    manifest = read_manifest(data_dir)
    summary = {"kind": manifest["kind"], "num_classes": manifest["num_classes"],
               "class_names": manifest["class_names"],
               "splits": {name: [split["count"], split.get("content_sha256") or split["shards"]]
                          for name, split in sorted(manifest["splits"].items())}}
    return hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()


def read_manifest(data_dir):
    path = os.path.join(data_dir, MANIFEST)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no manifest; convert the data first "
                                f"(python -m tfrecords_tools ...) or finish the interrupted run")
    manifest = files.read_json(path)
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    return manifest


def split_count(data_dir, split):
    """The number of examples the manifest of `data_dir` lists for `split`."""
    manifest = read_manifest(data_dir)
    if split not in manifest["splits"]:
        raise KeyError(f"{os.path.join(data_dir, MANIFEST)}: no split {split!r} (has {sorted(manifest['splits'])})")
    return manifest["splits"][split]["count"]


_VERIFIED = set()  # (shard path, size, mtime) already checksummed in this process


def split_files(data_dir, split, verify=True):
    """Shard paths of `split`, after checking each against the manifest checksum (once per process)."""
    manifest = read_manifest(data_dir)
    if split not in manifest["splits"]:
        raise KeyError(f"{os.path.join(data_dir, MANIFEST)}: no split {split!r} "
                       f"(has {sorted(manifest['splits'])})")
    paths = []
    for shard in manifest["splits"][split]["shards"]:
        path = os.path.join(data_dir, shard["file"])
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: shard listed in the manifest is missing")
        stat = os.stat(path)
        key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns, shard["sha256"])
        if verify and key not in _VERIFIED:
            if files.sha256_file(path) != shard["sha256"]:
                raise ValueError(f"{path}: corrupt shard (checksum differs from the manifest); convert "
                                 f"the data again into {data_dir} (python -m tfrecords_tools ..., or "
                                 f"delete the folder to let the data stage remake it): finished stages "
                                 f"are kept when the data is the same")
            counted = count_records(path)
            if counted != shard["count"]:
                raise ValueError(f"{path}: holds {counted} examples but {os.path.join(data_dir, MANIFEST)} "
                                 f"says {shard['count']}; convert the data again into {data_dir}")
            _VERIFIED.add(key)
        paths.append(path)
    return paths


def count_records(path):
    """The number of records in a TFRecord file, from its length headers (no parsing)."""
    count, size = 0, os.path.getsize(path)
    with open(path, "rb") as f:
        while f.tell() < size:
            f.seek(_record_length(f, path) + 4, os.SEEK_CUR)
            count += 1
    return count


def read_shard(path):
    """(sha256 of the file, its records as bytes in order), from one read of the file."""
    with open(path, "rb") as f:
        data = f.read()
    stream, out = io.BytesIO(data), []
    while stream.tell() < len(data):
        length = _record_length(stream, path)
        record = stream.read(length)
        stream.seek(4, os.SEEK_CUR)
        if len(record) < length:
            raise ValueError(f"{path}: truncated TFRecord file")
        out.append(record)
    return hashlib.sha256(data).hexdigest(), out


def add_checked_shard(content, path, sha256, count, recorded_in, fix):
    """Reads shard `path` once, refuses it unless its checksum and count are those its writer
    recorded (`sha256`, `count`, in the file `recorded_in`; `fix` says what to do) and adds its
    records to the split digest `content` (the merges of converter parts and of guide parts)."""
    actual, serialized = read_shard(path)
    if (actual, len(serialized)) != (sha256, count):
        raise ValueError(f"{path}: checksum or count differs from {recorded_in}; {fix}")
    for example in serialized:
        update_content(content, example)


def update_content(content, serialized):
    """Adds one serialized example to a split's content digest (`write_split`'s content_sha256)."""
    content.update(len(serialized).to_bytes(8, "little") + serialized)


def _record_length(f, path):
    header = f.read(12)
    if len(header) < 12:
        raise ValueError(f"{path}: truncated TFRecord file")
    return int.from_bytes(header[:8], "little")


def parse(serialized):
    """Serialized Example -> dict of tensors (labels and boxes dense)."""
    ex = tf.io.parse_single_example(serialized, FEATURES)
    ex["labels"] = tf.sparse.to_dense(ex["labels"])
    ex["boxes"] = tf.reshape(tf.sparse.to_dense(ex["boxes"]), [-1, 4])
    return ex


def dataset(data_dir, split, verify=True, records_range=None):
    """A tf.data.Dataset of parsed Examples (still encoded) from a converted directory, in order;
    `records_range` (start, stop): only those examples (a task's part, stages/parts.py), read
    from the shards that hold them.

    With tf.data's autotuning off (for it and every pipeline built on it): its optimisation
    thread can hold an iterator's destruction for seconds with the CPU idle (seen: the guide
    stage waited 8-9 s in one run of two at the end of its split, TF 2.21). AUTOTUNE then means
    one parallel call per core, and prefetch buffers still grow on demand.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    paths = split_files(data_dir, split, verify)
    if records_range is None:
        ds = tf.data.TFRecordDataset(paths)
    else:
        start, stop = records_range
        counts = [shard["count"] for shard in read_manifest(data_dir)["splits"][split]["shards"]]
        first = 0
        while first < len(counts) and start >= counts[first]:  # whole shards before the range
            start, stop, first = start - counts[first], stop - counts[first], first + 1
        ds = tf.data.TFRecordDataset(paths[first:]).skip(start).take(stop - start)
    return ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE).with_options(options)


def iterate_numpy(data_dir, split, verify=True, records_range=None):
    """Parsed Examples as python dicts (bytes, ints, numpy arrays), in file order (`dataset`)."""
    for ex in dataset(data_dir, split, verify, records_range).as_numpy_iterator():
        yield ex
