"""What a data source gives the converters' command line and the data stage (registry.SOURCES).

A source module defines `SOURCE = Source(...)` and one `register` line names it: then
`python -m tfrecords_tools NAME --flags` converts it, `--data_dir` takes its output, and (with
`from_config`) a preset can name it as `data.target_source` or `data.saliency_source`.
"""

import dataclasses

COMMON_FLAGS = ("out", "examples_per_shard", "max_pixels")  # defined by tfrecords_tools for every source


@dataclasses.dataclass(frozen=True)
class Source:
    """A data format the converters read.

    define_flags: (absl.flags) -> None: defines the flags of `python -m tfrecords_tools NAME`
      beyond COMMON_FLAGS (only the chosen source's are defined, so names may repeat across
      sources).
    convert: (FLAGS) -> str: converts into FLAGS.out (every input checked before it is touched)
      and returns the summary line the command prints. Written through records.replaced_directory
      and records.write_split (as tfguided/sources/common.py's write_target_set does), a
      conversion can be shared by processes (--shard_index/--num_shards); give write_split the
      examples as a records.ExampleSequence and each part makes only its own photos.
    from_config: (data_cfg, role, out_dir, work_dir) -> None: the data stage's conversion of the
      set playing `role` ("target" or "saliency") from data.<role>_root (work_dir: a folder of the
      data stage's own for intermediate files); None if the source is converted by hand only.
    class_names: (data_cfg) -> the target set's class names, background first, that `from_config`
      would convert (read before converting, so a wrong data.classes is refused at once).
    """
    define_flags: object
    convert: object
    from_config: object = None
    class_names: object = None
