"""Dataset converters' command line: python -m tfrecords_tools {synthetic|voc|msra} --flags.

The readers and converters themselves live in tfguided/sources/.

  python -m tfrecords_tools synthetic --out=DIR --preset=demo --seed=0
      writes DIR/VOC2012 (VOC layout) and DIR/MSRA (MSRA layout): the embedded demo data.
  python -m tfrecords_tools voc --voc_root=DIR/VOC2012 --out=OUT/voc [--labels_tsv=FILE]
  python -m tfrecords_tools voc --voc_root=VOCdevkit/VOC2012 --sbd_root=benchmark_RELEASE/dataset \
      --splits=train_aug,val --out=OUT/voc      # the paper's 10,582 trainaug, labels from the XML
  python -m tfrecords_tools msra --msra_root=DIR/MSRA --out=OUT/msra
"""

import sys

from absl import app, flags

from tfguided import cli, configs
from tfguided.data import imageio

FLAGS = flags.FLAGS
flags.DEFINE_string("out", None, "Output directory (synthetic: raw folders; voc/msra: TFRecord shards "
                    "and manifest.json).")
flags.DEFINE_enum("preset", "demo", sorted(configs.PRESETS), "synthetic: size preset of the generated "
                  "data (its data.synthetic section).")
flags.DEFINE_integer("seed", 0, "synthetic: random seed; the same seed gives the same files.")
flags.DEFINE_string("voc_root", None, "voc: the VOC2012 folder (JPEGImages, SegmentationClass, "
                    "ImageSets/Segmentation).")
flags.DEFINE_list("splits", ["train", "val"], "voc: split lists under ImageSets/Segmentation to convert "
                  "(train_aug is built from VOC and SBD lists when it has no list file).")
flags.DEFINE_list("classes", [], "voc: keep only these classes, e.g. cat,cow,dog,horse,sheep: labels "
                  "1..K in this order, every other class becomes background in masks and image labels "
                  "(void stays void); images with none of them are left out. Default: all classes.")
flags.DEFINE_string("labels_tsv", None, "voc: image-level labels, '<id>\\t<class indices>' per line "
                    "(default: <voc_root>/image_labels.tsv if present).")
flags.DEFINE_enum("labels_from", "auto", ["auto", "tsv", "xml", "masks"], "voc: where image-level "
                  "labels come from: tsv = --labels_tsv; xml = the object names in Annotations/<id>.xml "
                  "(VOC's own); masks = the classes present in each mask; auto = the TSV if there is "
                  "one, else xml if Annotations/ exists, else masks.")
flags.DEFINE_string("sbd_root", None, "voc: SBD's benchmark_RELEASE/dataset (cls/*.mat, img/, train.txt, "
                    "val.txt): adds its masks and lets --splits=train_aug,val build the 10,582-image "
                    "train_aug (VOC train + SBD train + SBD val, minus VOC val).")
flags.DEFINE_string("msra_root", None, "msra: folder with Image/ and the label file.")
flags.DEFINE_string("label_file", None, "msra: MSRA box label file (default <msra_root>/labels.txt).")
flags.DEFINE_string("exclude_ids", None, "msra: file of image ids to leave out (e.g. images of "
                    "target classes, as the paper does).")
flags.DEFINE_integer("grabcut_iterations", 5, "msra: GrabCut iterations on the mean box.")
flags.DEFINE_integer("examples_per_shard", 500, "voc/msra: examples per TFRecord shard.")
flags.DEFINE_integer("max_pixels", imageio.MAX_PIXELS, "voc/msra: refuse images with more pixels than this "
                     "(a mistaken scan or panorama would stall training).")

COMMANDS = ("synthetic", "voc", "msra")


def main(argv):
    if len(argv) != 2 or argv[1] not in COMMANDS:
        raise app.UsageError(f"usage: python -m tfrecords_tools {{{'|'.join(COMMANDS)}}} --flags "
                             f"(got {argv[1:]})")
    if not FLAGS.out:
        raise app.UsageError("--out is required")
    try:
        convert(argv[1])
    except (ValueError, FileNotFoundError, KeyError, PermissionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def convert(command):
    if command == "synthetic":
        from tfguided.progress import progress_bar
        from tfguided.sources import synthetic
        cfg = configs.preset(FLAGS.preset).data.synthetic
        total = cfg.train + cfg.val + cfg.saliency
        info = synthetic.generate(FLAGS.out, cfg, FLAGS.seed, progress_bar(total, "image"))
        print(f"synthetic: wrote {info} to {FLAGS.out}")
    elif command == "voc":
        from tfguided.sources import voc
        if not FLAGS.voc_root:
            raise app.UsageError("voc needs --voc_root")
        manifest = voc.convert(FLAGS.voc_root, FLAGS.out, FLAGS.splits, FLAGS.labels_tsv,
                               FLAGS.labels_from, FLAGS.examples_per_shard, sbd_root=FLAGS.sbd_root,
                               max_pixels=FLAGS.max_pixels, classes_subset=",".join(FLAGS.classes))
        print("voc: " + ", ".join(f"{s}={e['count']}" for s, e in manifest["splits"].items()))
    else:
        from tfguided.sources import msra
        if not FLAGS.msra_root:
            raise app.UsageError("msra needs --msra_root")
        manifest = msra.convert(FLAGS.msra_root, FLAGS.out, FLAGS.label_file, FLAGS.exclude_ids,
                                FLAGS.grabcut_iterations, FLAGS.examples_per_shard,
                                max_pixels=FLAGS.max_pixels)
        print(f"msra: train={manifest['splits']['train']['count']}")


if __name__ == "__main__":
    cli.run(main)
