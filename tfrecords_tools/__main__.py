"""Dataset converters' command line: python -m tfrecords_tools SOURCE --flags.

The sources are registry.SOURCES (python -m tfrecords_tools --help lists them; SOURCE --help
lists its flags); each writes sharded TFRecords and a manifest into --out, checking every input
before --out is touched. The readers themselves live in tfguided/sources/.

  python -m tfrecords_tools synthetic --out=DIR --preset=demo --seed=0
      writes DIR/VOC2012 (VOC layout) and DIR/MSRA (MSRA layout): the embedded demo data.
  python -m tfrecords_tools voc --voc_root=DIR/VOC2012 --out=OUT/target [--labels_tsv=FILE]
  python -m tfrecords_tools voc --voc_root=VOCdevkit/VOC2012 --sbd_root=benchmark_RELEASE/dataset \
      --splits=train_aug,val --out=OUT/target      # the paper's 10,582 trainaug, labels from the XML
  python -m tfrecords_tools msra --msra_root=DIR/MSRA --out=OUT/saliency

Several processes or machines share one conversion: each runs the same command with
--shard_index=K --num_shards=N (K = 0..N-1) and writes OUT/partKKKofNNN; then
  python -m tfrecords_tools merge --out=OUT
checks the N parts and makes OUT the set one process would have written (tfguided/data/merge.py).
"""

import os
import sys

from tfguided import cli

cli.import_tensorflow_quietly()

from absl import app, flags  # noqa: E402

from tfguided import registry  # noqa: E402
from tfguided.data import imageio, merge, records  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("out", None, "Output directory: TFRecord shards and manifest.json (synthetic: the raw "
                    "folders). Only a new, empty or earlier converted folder: other files in it are refused.")
flags.DEFINE_integer("examples_per_shard", 500, "Examples per TFRecord shard.")
flags.DEFINE_integer("num_shards", 1, "Processes (or machines) sharing this conversion: each converts a "
                     "contiguous 1/N of every split into --out/partKKKofNNN; `merge --out` then joins them. "
                     "(Not the TFRecord files: --examples_per_shard sets those.)", lower_bound=1)
flags.DEFINE_integer("shard_index", 0, "This process's part, 0..num_shards-1 (with --num_shards).", lower_bound=0)
flags.DEFINE_integer("max_pixels", imageio.MAX_PIXELS, "Refuse images with more pixels than this (a "
                     "mistaken scan or panorama would stall training).")


MERGE = "merge"


def chosen_source(argv):
    """The source named by the first argument that is not a flag, or None."""
    names = [a for a in argv[1:] if not a.startswith("-")]
    return names[0] if names else None


def usage():
    """The usage line, with every registered source and its description."""
    return (f"usage: python -m tfrecords_tools SOURCE --out=DIR --flags (SOURCE --help: its flags), or "
            f"python -m tfrecords_tools {MERGE} --out=DIR (the parts of a conversion in several processes); "
            f"sources: {registry.SOURCES.help()}")


def main(argv):
    """Converts the source named in `argv` (absl's arguments left after the flags) and prints its
    summary line; returns the exit status, 2 after printing a conversion error."""
    name = chosen_source(argv)
    if name not in registry.SOURCES.names() + (MERGE,) or len(argv) != 2:
        raise app.UsageError(f"{usage()} (got {argv[1:]})")
    if not FLAGS.out:
        raise app.UsageError("--out is required")
    if FLAGS.shard_index >= FLAGS.num_shards:
        raise app.UsageError(f"--shard_index={FLAGS.shard_index}: must be below --num_shards={FLAGS.num_shards}")
    try:
        if name == MERGE:
            manifest = merge.merge_parts(FLAGS.out)
            print(f"merge: {FLAGS.out}: " + ", ".join(f"{s}={e['count']}" for s, e in manifest["splits"].items()))
            return 0
        part = records.Part(FLAGS.shard_index, FLAGS.num_shards)
        with records.converting_part(part):
            print(registry.SOURCES.load(name).convert(FLAGS))
        if part.count > 1 and not os.path.exists(os.path.join(FLAGS.out, part.name, records.MANIFEST)):
            raise ValueError(f"{name} wrote no records into {FLAGS.out}, so --num_shards does not apply to it "
                             f"(convert what it wrote, in parts if you like)")
        if part.count > 1:
            print(f"part {part.index + 1} of {part.count} written into {FLAGS.out}/{part.name}; once all "
                  f"{part.count} are: python -m tfrecords_tools {MERGE} --out={FLAGS.out}")
    except (ValueError, FileNotFoundError, KeyError, PermissionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    source = chosen_source(sys.argv)
    if source in registry.SOURCES.names():
        entry = registry.SOURCES[source]
        entry.load().define_flags(flags)
        flags.adopt_module_key_flags(sys.modules[entry.target.partition(":")[0]])  # in its --help
    elif any(a in cli.HELP_FLAGS for a in sys.argv[1:]):
        print(usage())
    cli.run(main)
