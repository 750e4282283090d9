"""`python -m tfrecords_tools coco`: COCO instance annotations (the reader: tfguided/sources/coco.py)."""

from tfguided.sources.coco import convert
from tfrecords_tools.source import Source


def define_flags(flags):
    """The flags of `python -m tfrecords_tools coco`."""
    flags.DEFINE_string("annotations", None, "COCO instances JSON (e.g. instances_train2017.json): image labels "
                        "from its categories, masks from its polygons and RLE.")
    flags.DEFINE_string("images", None, "The folder of the photos the annotations' file_name entries name.")
    flags.DEFINE_list("classes", [], "Category names to keep, in label order (e.g. cat,dog); default: every "
                      "category, in the order of its id.")
    flags.DEFINE_bool("keep_negatives", False, "Keep photos with none of the classes as negatives (no image "
                      "label) instead of leaving them out.")
    flags.DEFINE_string("val_annotations", None, "A second instances JSON for the val split (e.g. "
                        "instances_val2017.json); default: --val_fraction of --annotations' photos.")
    flags.DEFINE_string("val_images", None, "The photos of --val_annotations (default: --images).")
    flags.DEFINE_float("val_fraction", 0.1, "Share of photos for val without --val_annotations, drawn from the "
                       "file names (adding photos never moves the old ones).")
    flags.DEFINE_bool("masks", True, "Write each photo's label map (for scoring; crowd regions void).")
    flags.DEFINE_string("saliency_out", None, "Also write a saliency set here: the train photos with none of "
                        "--classes, each with its largest box (GrabCut), for the paper's saliency net.")
    flags.DEFINE_integer("grabcut_iterations", 5, "GrabCut iterations on each saliency box.")
    flags.DEFINE_integer("max_side", 0, "Shrink photos whose long side is longer to this many pixels (masks and "
                         "boxes alike); 0: keep them as they are.")


def convert_flags(FLAGS):
    """Converts the COCO annotations into the target set at --out (and the saliency set at
    --saliency_out); returns the summary line."""
    if not FLAGS.annotations or not FLAGS.images:
        raise ValueError("coco needs --annotations and --images")
    manifest = convert(FLAGS.annotations, FLAGS.images, FLAGS.out, ",".join(FLAGS.classes), FLAGS.keep_negatives,
                       FLAGS.val_annotations, FLAGS.val_images, FLAGS.val_fraction, FLAGS.masks, FLAGS.saliency_out,
                       FLAGS.grabcut_iterations, FLAGS.examples_per_shard, FLAGS.max_pixels, max_side=FLAGS.max_side)
    return (f"coco: train={manifest['splits']['train']['count']}, val={manifest['splits']['val']['count']}, "
            f"classes {', '.join(manifest['class_names'][1:])}")


SOURCE = Source(define_flags=define_flags, convert=convert_flags)
