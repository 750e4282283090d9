"""`python -m tfrecords_tools folder`: a folder of photos and a CSV of their class names (the
reader: tfguided/sources/folder.py)."""

from tfguided.sources.folder import convert
from tfrecords_tools.source import Source


def define_flags(flags):
    """The flags of `python -m tfrecords_tools folder`."""
    flags.DEFINE_string("images", None, "The photos' folder; paths in --labels are relative to it. Without "
                        "--labels, its subfolders name the classes (keras' image_dataset_from_directory layout).")
    flags.DEFINE_string("labels", None, "CSV or TSV with a header: image (path under --images), labels (class "
                        "names separated by ';' or '|'; empty: a negative), optional split (train/val) and mask "
                        "(a PNG of class indices, for scoring only).")
    flags.DEFINE_list("class_names", [], "The classes' names in label order (1..K), e.g. crack,rust,dent; "
                      "default: the names found, sorted. A name not in this list is refused.")
    flags.DEFINE_integer("max_side", 0, "Shrink photos whose long side is longer to this many pixels (masks "
                         "alike), e.g. 500 for phone photos: the CPU presets work at a few hundred pixels; 0: keep "
                         "them as they are.")
    flags.DEFINE_float("val_fraction", 0.1, "Share of photos for val where --labels has no split column, drawn "
                       "from the file names (adding photos never moves the old ones).")


def convert_flags(FLAGS):
    """Converts the photos of --images into the target set at --out; returns the summary line."""
    if not FLAGS.images:
        raise ValueError("folder needs --images")
    manifest = convert(FLAGS.images, FLAGS.out, FLAGS.labels, FLAGS.class_names or None, FLAGS.val_fraction,
                       FLAGS.examples_per_shard, FLAGS.max_pixels, max_side=FLAGS.max_side)
    return (f"folder: train={manifest['splits']['train']['count']}, val={manifest['splits']['val']['count']}, "
            f"classes {', '.join(manifest['class_names'][1:])}; train with --data_dir={FLAGS.out}")


SOURCE = Source(define_flags=define_flags, convert=convert_flags)
