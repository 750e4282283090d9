"""`python -m tfrecords_tools boxes`: a saliency set from a plain CSV of boxes (the reader:
tfguided/sources/boxes.py)."""

from tfguided.sources.boxes import convert
from tfrecords_tools.source import Source


def define_flags(flags):
    """The flags of `python -m tfrecords_tools boxes`."""
    flags.DEFINE_string("images", None, "The photos' folder; paths in --boxes are relative to it.")
    flags.DEFINE_string("boxes", None, "CSV or TSV with the header image,x0,y0,x1,y1: each photo's main object's "
                        "box in pixels (x1, y1 one past the right and bottom edges); rows of one photo are averaged.")
    flags.DEFINE_integer("grabcut_iterations", 5, "GrabCut iterations on each box.")


def convert_flags(FLAGS):
    """Converts the box CSV's photos into the saliency set at --out; returns the summary line."""
    if not FLAGS.images or not FLAGS.boxes:
        raise ValueError("boxes needs --images and --boxes")
    manifest = convert(FLAGS.images, FLAGS.boxes, FLAGS.out, FLAGS.grabcut_iterations, FLAGS.examples_per_shard,
                       FLAGS.max_pixels)
    return f"boxes: train={manifest['splits']['train']['count']} saliency photos"


SOURCE = Source(define_flags=define_flags, convert=convert_flags)
