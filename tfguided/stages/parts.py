"""A per-image stage's photos shared by the tasks of the tf.distribute cluster (issue 23).

Task k of N (train/strategy.py cluster_tasks: the chief, then the workers) takes the examples
[n*k//N, n*(k+1)//N) of a split: a contiguous range by record index, the same on every rerun,
so the parts laid end to end are the one-process order and the merged output is the
one-process output byte for byte. A task writes its part as shards named
`<split>-partKKKofNNN-SSSSS-of-MMMMM.tfrecord` (one process: the usual `<split>-SSSSS-of-MMMMM`),
each followed by a sidecar `<shard>.json` (the range it covers, its ids, count and checksum, the
fingerprint of the stage's inputs and its statistics of these images): a killed task keeps its finished
shards and labels only the rest. A stage whose output is figures writes one `partKKKofNNN.json`
per task instead. The chief merges as the parts come (the guide's shards in order, beside its
own labelling, so the merge ends soon after the last shard), checking each (count, checksum,
range and inputs; the ids in the split's order); a part of a run with another number of tasks
is deleted, by name (it is never mixed into this run's output).
"""

import hashlib
import os
import re
import time

from tfguided import files
from tfguided.data import records
from tfguided.data.records import Part


def shard_paths(part, out_dir, split, n, examples_per_shard):
    """Part `part`'s shard paths of `split` (of `n` examples) and the (start, stop) each covers, in order."""
    start, stop = part.bounds(n)
    num_shards = max(1, -(-(stop - start) // examples_per_shard))
    return [(os.path.join(out_dir, records.shard_name(part.prefix(split), j, num_shards)),
             (start + j * examples_per_shard, min(stop, start + (j + 1) * examples_per_shard)))
            for j in range(num_shards)]


def _shard_pattern(split):
    return re.compile(rf"^\.?{re.escape(split)}-(?:part(\d{{3}})of(\d{{3}})-)?\d{{5}}-of-\d{{5}}\.tfrecord")


def remove_other_runs(out_dir, split, part, n, examples_per_shard, log=print):
    """Deletes, by name, the shards of `split` (with their sidecars) this task's run cannot use:
    those of a run with another number of tasks and this part's own of another shard layout;
    and this part's temporary files, left by a killed write. Other parts of this run are their
    tasks' business."""
    if not os.path.isdir(out_dir):
        return
    pattern = _shard_pattern(split)
    mine = {os.path.basename(p) for p, _ in shard_paths(part, out_dir, split, n, examples_per_shard)}
    for name in sorted(os.listdir(out_dir)):
        match = pattern.match(name)
        if not match:
            continue
        index, count = int(match.group(1) or 0), int(match.group(2) or 1)
        shard = name.lstrip(".").split(".tfrecord")[0] + ".tfrecord"
        if count != part.count or (index == part.index and (name.startswith(".") or shard not in mine)):
            log(f"removing {name}: of a run with {count} task(s), of another shard layout or a killed write")
            os.remove(os.path.join(out_dir, name))


def _sidecar(path):
    return path + ".json"


def _kept(path, records_range, fingerprint):
    """A finished shard's sidecar if it is this run's (same range and inputs, checksum intact)."""
    side = _matching_sidecar(path, records_range, fingerprint)
    return side if side and os.path.exists(path) and files.sha256_file(path) == side["sha256"] else None


def write_part(out_dir, split, part, n, examples_per_shard, fingerprint, examples, shard_stats, log=print):
    """Writes this task's part of `split` as shards, keeping the finished ones of a killed run.

    Args:
      out_dir: the stage directory.
      split: the split name.
      part: this task's Part.
      n: the split's example count.
      examples_per_shard: examples per shard.
      fingerprint: what the shards are made from (Context.inputs_fingerprint; a kept shard must match).
      examples: (start, stop) -> an iterator of records.Example for those examples, in order.
      shard_stats: () -> the JSON statistics of the examples yielded since its last call.
    """
    os.makedirs(out_dir, exist_ok=True)
    remove_other_runs(out_dir, split, part, n, examples_per_shard, log)
    shards = shard_paths(part, out_dir, split, n, examples_per_shard)
    first = 0
    while first < len(shards) and _kept(*shards[first], fingerprint):
        first += 1
    if first:
        log(f"{split}: kept {first} finished shard(s) of {len(shards)} of part {part.index + 1} of {part.count}")
    if first == len(shards):
        return
    (_, (start, _)), stop = shards[first], shards[-1][1][1]
    began = time.time()
    iterator = iter(examples(start, stop))
    shard_stats()  # a fresh count for the first shard written
    for path, records_range in shards[first:]:
        shard = records.write_shard(path, iterator, records_range[1] - records_range[0])
        if shard["count"] != records_range[1] - records_range[0]:
            raise ValueError(f"{path}: expected {records_range[1] - records_range[0]} examples, got {shard['count']}")
        files.atomic_write_json(_sidecar(path), {**shard, "range": list(records_range), "data": fingerprint,
                                                 "stats": shard_stats()})
    log(f"{split}: part {part.index + 1} of {part.count}: {stop - start} images labelled in "
        f"{time.time() - began:.1f} s")


def wait_until(read, what, log=print, stop=None, poll=0.5):
    """`read()`'s value once it is not None (polled), saying every minute what it waits for;
    gives up when `stop` (an Event) is set."""
    last = time.time()
    while True:
        value = read()
        if value is not None:
            return value
        if stop is not None and stop.is_set():
            raise RuntimeError(f"stopped while waiting for {what}")
        if time.time() - last > 60:
            log(f"waiting for {what} (if its task died, restart the job: finished parts are kept)")
            last = time.time()
        time.sleep(poll)


def _matching_sidecar(path, records_range, fingerprint):
    """Shard `path`'s sidecar if it is there and of this run (its range and inputs; a stale one
    from a killed run is being replaced by its task), else None."""
    if not os.path.exists(_sidecar(path)):
        return None
    side = files.read_json(_sidecar(path))
    return side if side.get("range") == list(records_range) and side.get("data") == fingerprint else None


def merge_split(out_dir, split, count, n, examples_per_shard, fingerprint, ids, log=print, stop=None):
    """The chief's merge: takes the shards of all `count` parts of `split` in order, each as soon
    as its sidecar is there (so it runs beside the labelling and ends soon after the last shard),
    checks it against its sidecar (checksum, count, range, inputs) and the ids against `ids` (the
    split's order); returns the split's manifest entry and each shard's statistics, in order.
    `stop` (an Event): give up waiting (this task's own part failed)."""
    shards = [s for k in range(count) for s in shard_paths(Part(k, count), out_dir, split, n, examples_per_shard)]
    entry, stats, content = {"count": 0, "ids": [], "shards": []}, [], hashlib.sha256()
    for path, records_range in shards:
        side = wait_until(lambda: _matching_sidecar(path, records_range, fingerprint), os.path.basename(path),
                           log, stop)
        records.add_checked_shard(content, path, side["sha256"], side["count"], f"its sidecar {_sidecar(path)}",
                                  "delete both and run the stage again")
        entry["ids"] += side["ids"]
        entry["shards"].append({k: side[k] for k in ("file", "count", "sha256")})
        entry["count"] += side["count"]
        stats.append(side["stats"])
    if entry["ids"] != list(ids):
        raise ValueError(f"{out_dir}: the parts' ids are not the {split} split's in order")
    entry["content_sha256"] = content.hexdigest()
    return entry, stats


def figures(ctx, stage, out_dir, n, score):
    """A figures-only per-image stage's parts: this task scores its range of the `n` examples
    with `score((start, stop))` -> a JSON state, unless a killed run of it left that part
    finished; the chief then returns every task's state in task order (None on the others).

    Args:
      ctx: the run's stages.context.Context.
      stage: the stage's name (its inputs fingerprint keeps a finished part only for the same inputs).
      out_dir: the stage directory.
      n: the number of examples of the split scored.
      score: (start, stop) -> the JSON state of those examples.
    """
    part, fingerprint = ctx.part(), ctx.inputs_fingerprint(stage)
    records_range = part.bounds(n)
    if _kept_json_part(out_dir, part, records_range, fingerprint) is None:
        began = time.time()
        state = score(records_range)
        print(f"{stage}: part {part.index + 1} of {part.count}: {records_range[1] - records_range[0]} images "
              f"scored in {time.time() - began:.1f} s")
        files.atomic_write_json(os.path.join(out_dir, part.name + ".json"),
                                {"range": list(records_range), "data": fingerprint, "state": state})
    if not ctx.is_chief:
        return None
    return _merge_json_parts(out_dir, part.count, n, fingerprint)


def _kept_json_part(out_dir, part, records_range, fingerprint):
    """A finished figures-only part of this run (same range and inputs), or None."""
    path = os.path.join(out_dir, part.name + ".json")
    if not os.path.exists(path):
        return None
    stored = files.read_json(path)
    if stored.get("range") != list(records_range) or stored.get("data") != fingerprint:
        return None
    return stored["state"]


def _merge_json_parts(out_dir, count, n, fingerprint, log=print):
    """Every task's state, in task order, each once it is written for its range of the `n`
    examples of these inputs (a stale one is being replaced by its task); parts of a run with
    another number of tasks are deleted."""
    parts = [Part(k, count) for k in range(count)]
    states = [wait_until(lambda p=p: _kept_json_part(out_dir, p, p.bounds(n), fingerprint), p.name + ".json", log)
              for p in parts]
    for name in sorted(os.listdir(out_dir)):
        if re.fullmatch(r"part\d{3}of\d{3}\.json", name) and not name.endswith(f"of{count:03d}.json"):
            log(f"removing {name}: of a run with another number of tasks")
            os.remove(os.path.join(out_dir, name))
    return states
