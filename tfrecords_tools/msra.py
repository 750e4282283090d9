"""`python -m tfrecords_tools msra`: the command line and the data stage's conversion of the
MSRA-B style saliency set (the reader: tfguided/sources/msra.py)."""

from tfguided.sources.msra import convert
from tfrecords_tools.source import Source


def define_flags(flags):
    """The flags of `python -m tfrecords_tools msra`."""
    flags.DEFINE_string("msra_root", None, "Folder with Image/ and the label file.")
    flags.DEFINE_string("label_file", None, "MSRA box label file (default <msra_root>/labels.txt).")
    flags.DEFINE_string("exclude_ids", None, "File of image ids to leave out (e.g. images of target "
                        "classes, as the paper does).")
    flags.DEFINE_integer("grabcut_iterations", 5, "GrabCut iterations on the mean box.")


def convert_flags(FLAGS):
    """Converts the MSRA folder into the saliency set at --out; returns the summary line."""
    if not FLAGS.msra_root:
        raise ValueError("msra needs --msra_root")
    manifest = convert(FLAGS.msra_root, FLAGS.out, FLAGS.label_file, FLAGS.exclude_ids, FLAGS.grabcut_iterations,
                       FLAGS.examples_per_shard, max_pixels=FLAGS.max_pixels)
    return f"msra: train={manifest['splits']['train']['count']}"


def from_config(data_cfg, role, out_dir, work_dir):
    """The data stage's conversion of data.saliency_root (MSRA layout).

    Args:
      data_cfg: the run's data config section.
      role: "saliency", the one set this source fills.
      out_dir: where the saliency set goes.
      work_dir: unused (no intermediate files).
    """
    print(f"data: converting the saliency set {data_cfg.saliency_root} into {out_dir}")
    convert(data_cfg.saliency_root, out_dir, grabcut_iterations=data_cfg.grabcut_iterations,
            examples_per_shard=data_cfg.examples_per_shard)


SOURCE = Source(define_flags=define_flags, convert=convert_flags, from_config=from_config)
