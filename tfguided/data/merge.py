"""Joins the parts of a conversion written by several processes or machines into one converted
set, the same as one process writes (issue 23):

    python -m tfrecords_tools SOURCE ... --out=OUT --shard_index=K --num_shards=N   # K = 0..N-1
    python -m tfrecords_tools merge --out=OUT

Each part is a complete folder OUT/partKKKofNNN holding its contiguous range of every split
(records.converting_part). The merge checks that all N parts are there and agree (kind,
classes, where the data came from, ranges laid end to end), reads every shard once (checksum,
count, the content digest in the split's order), then links the shards into OUT under the
usual names, with one manifest: the records, ids and content fingerprint are the one-process
conversion's, only the shard boundaries may differ. OUT changes only if all of it succeeds.
"""

import hashlib
import os
import shutil

from tfguided import files
from tfguided.data import records

PER_PART_COUNTS = ("label_mask_mismatches",)  # manifest counts of a part's own photos (voc), summed
PART_KEYS = ("splits", "files", "part") + PER_PART_COUNTS  # what each part's manifest has of its own


def finished_parts(out_dir, count):
    """How many of the `count` parts in `out_dir` are written (their manifest is there)."""
    return sum(os.path.exists(os.path.join(path, records.MANIFEST))
               for (_, n), path in records.part_folders(out_dir).items() if n == count)


def complete_parts(out_dir):
    """The manifests and folders of all N parts in `out_dir`, in order; refuses, by name, missing
    or unfinished parts and parts of conversions in different numbers of processes."""
    found = records.part_folders(out_dir)
    counts = sorted({count for _, count in found})
    if not counts:
        raise ValueError(f"{out_dir}: no part folder (partKKKofNNN) to merge: write them first with "
                         f"python -m tfrecords_tools SOURCE ... --out={out_dir} --shard_index=K --num_shards=N")
    if len(counts) > 1:
        raise ValueError(f"{out_dir}: holds parts of conversions in {' and '.join(map(str, counts))} processes: "
                         f"delete the folders of the one to drop")
    count = counts[0]
    missing = [f"part{k:03d}of{count:03d}" for k in range(count)
               if not os.path.exists(os.path.join(found.get((k, count), "-"), records.MANIFEST))]
    if missing:
        raise ValueError(f"{out_dir}: {', '.join(missing)} not written (or still running, or killed): run its "
                         f"conversion with --shard_index=K --num_shards={count} first")
    folders = [found[(k, count)] for k in range(count)]
    for folder in folders:  # a file someone added to a part would go with the merge
        records.check_only_converted_data(folder)
    return [records.read_manifest(f) for f in folders], folders


def _conversion(manifest):
    """What every part of one conversion has alike: source, classes, flags and the split sizes."""
    same = {k: v for k, v in manifest.items() if k not in PART_KEYS}
    same["totals"] = {split: entry.get("total") for split, entry in manifest["splits"].items()}
    return same


def _check_agree(manifests, folders):
    """Refuses parts that are not of one conversion, naming the first that differs and how."""
    first = _conversion(manifests[0])
    for k, (manifest, folder) in enumerate(zip(manifests, folders)):
        if manifest.get("part") != {"index": k, "count": len(folders)}:
            raise ValueError(f"{folder}: its manifest says part {manifest.get('part')}, not {k} of {len(folders)}")
        mine = _conversion(manifest)
        if mine != first:
            differ = sorted(key for key in set(mine) | set(first) if mine.get(key) != first.get(key))
            raise ValueError(f"{folder}: not of the same conversion as {folders[0]} ({', '.join(differ)} differ): "
                             f"convert every part with the same source and flags")


def _link(source, target):
    """`target` as a hard link to `source` (no copy; the part keeps its file until the swap), or a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _merge_split(staging, split, manifests, folders, num_shards):
    """Links the parts' shards of `split` into `staging` as its `num_shards` shards,
    each checked on one read; returns the split's manifest entry."""
    entry, content, expected = {"count": 0, "ids": [], "shards": []}, hashlib.sha256(), 0
    total = manifests[0]["splits"][split]["total"]
    for manifest, folder in zip(manifests, folders):
        part = manifest["splits"][split]
        if part.get("range") != [expected, expected + part["count"]]:
            raise ValueError(f"{folder}: split {split!r} covers {part.get('range')}, expected to start at {expected}")
        expected += part["count"]
        for shard in part["shards"]:
            path = os.path.join(folder, shard["file"])
            records.add_checked_shard(content, path, shard["sha256"], shard["count"],
                                      os.path.join(folder, records.MANIFEST), "convert this part again")
            name = records.shard_name(split, len(entry["shards"]), num_shards)
            _link(path, os.path.join(staging, name))
            entry["shards"].append({"file": name, "count": shard["count"], "sha256": shard["sha256"]})
        entry["ids"] += part["ids"]
    if expected != total:
        raise ValueError(f"{folders[-1]}: the parts of split {split!r} end at {expected} of {total}")
    records.check_unique_ids(entry["ids"], f"split {split!r} of the parts in {os.path.dirname(folders[0])}")
    entry["count"], entry["content_sha256"] = expected, content.hexdigest()
    return entry


def _merge_tables(staging, manifests, folders, order):
    """The other files the parts hold (a source's TSV whose rows start with an example id, e.g.
    voc's label/mask mismatches): one file, one header, rows in the merged order of their ids."""
    names = sorted({n for m in manifests for n in m["files"]} - {records.MANIFEST} -
                   {s["file"] for m in manifests for e in m["splits"].values() for s in e["shards"]})
    for name in names:
        header, rows = None, []
        for folder in folders:
            path = os.path.join(folder, name)
            if os.path.exists(path):
                lines = files.read_text(path).splitlines(keepends=True)
                header, rows = lines[0], rows + lines[1:]
        rows.sort(key=lambda row: order.get(row.split("\t", 1)[0], len(order)))
        files.atomic_write_text(os.path.join(staging, name), header + "".join(rows))


def merge_parts(out_dir, verbose=True):
    """Replaces the parts in `out_dir` with the one converted set they make (module docstring);
    returns its manifest."""
    manifests, folders = complete_parts(out_dir)
    _check_agree(manifests, folders)
    splits = list(manifests[0]["splits"])
    with records.replaced_directory(out_dir) as staging:
        entries = {}
        for split in splits:
            num_shards = sum(len(m["splits"][split]["shards"]) for m in manifests)
            entries[split] = _merge_split(staging, split, manifests, folders, num_shards)
            if verbose:
                print(f"merge: {split}: {entries[split]['count']} examples from {len(folders)} parts, "
                      f"{num_shards} shards")
        order = {i: n for n, i in enumerate(i for split in splits for i in entries[split]["ids"])}
        _merge_tables(staging, manifests, folders, order)
        first = manifests[0]
        extra = {k: v for k, v in first.items() if k not in PART_KEYS + ("format", "kind", "num_classes",
                                                                          "class_names")}
        extra.update({k: sum(m[k] for m in manifests) for k in PER_PART_COUNTS if k in first})
        return records.write_manifest(staging, first["kind"], entries, first["num_classes"], first["class_names"],
                                      extra)
