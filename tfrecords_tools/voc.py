"""`python -m tfrecords_tools voc`: the command line and the data stage's conversion of the
PASCAL VOC2012 (+ SBD) target set (the reader: tfguided/sources/voc.py)."""

from tfguided.sources.voc import LABEL_SOURCES, convert, source_class_names
from tfrecords_tools.source import Source


def define_flags(flags):
    """The flags of `python -m tfrecords_tools voc`."""
    flags.DEFINE_string("voc_root", None, "The VOC2012 folder (JPEGImages, SegmentationClass, "
                        "ImageSets/Segmentation).")
    flags.DEFINE_list("splits", ["train", "val"], "Split lists under ImageSets/Segmentation to convert "
                      "(train_aug is built from VOC and SBD lists when it has no list file).")
    flags.DEFINE_list("classes", [], "Keep only these classes, e.g. cat,cow,dog,horse,sheep: labels 1..K in "
                      "this order, every other class becomes background in masks and image labels (void "
                      "stays void); images with none of them are left out. Default: all classes.")
    flags.DEFINE_string("labels_tsv", None, "Image-level labels, '<id>\\t<class indices>' per line "
                        "(default: <voc_root>/image_labels.tsv if present).")
    flags.DEFINE_enum("labels_from", "auto", list(LABEL_SOURCES), "Where image-level labels come from: "
                      "tsv = --labels_tsv; xml = the object names in Annotations/<id>.xml (VOC's own); masks = "
                      "the classes present in each mask; auto = the TSV if there is one, else xml if "
                      "Annotations/ exists, else masks.")
    flags.DEFINE_string("sbd_root", None, "SBD's benchmark_RELEASE/dataset (cls/*.mat, img/, train.txt, "
                        "val.txt): adds its masks and lets --splits=train_aug,val build the 10,582-image "
                        "train_aug (VOC train + SBD train + SBD val, minus VOC val).")


def convert_flags(FLAGS):
    """Converts the VOC (+ SBD) splits into the target set at --out; returns the summary line."""
    if not FLAGS.voc_root:
        raise ValueError("voc needs --voc_root")
    manifest = convert(FLAGS.voc_root, FLAGS.out, FLAGS.splits, FLAGS.labels_tsv, FLAGS.labels_from,
                       FLAGS.examples_per_shard, sbd_root=FLAGS.sbd_root, max_pixels=FLAGS.max_pixels,
                       classes_subset=",".join(FLAGS.classes))
    return "voc: " + ", ".join(f"{s}={e['count']}" for s, e in manifest["splits"].items())


def from_config(data_cfg, role, out_dir, work_dir):
    """The data stage's conversion of data.target_root (a VOC2012 folder without SBD).

    Args:
      data_cfg: the run's data config section.
      role: "target", the one set this source fills.
      out_dir: where the target set goes.
      work_dir: unused (no intermediate files).
    """
    if data_cfg.train_split == "train_aug":
        raise ValueError(f"data.target_root={data_cfg.target_root}: train_aug needs SBD; convert with "
                         f"python -m tfrecords_tools voc --sbd_root=... and pass --data_dir")
    print(f"data: converting {data_cfg.target_root} into {out_dir}")
    convert(data_cfg.target_root, out_dir, (data_cfg.train_split, data_cfg.eval_split), data_cfg.labels_tsv or None,
            examples_per_shard=data_cfg.examples_per_shard, classes_subset=data_cfg.classes)


SOURCE = Source(define_flags=define_flags, convert=convert_flags, from_config=from_config,
                class_names=lambda data_cfg: source_class_names(data_cfg.target_root))
