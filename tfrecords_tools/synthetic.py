"""`python -m tfrecords_tools synthetic`: the embedded demo data (tfguided/sources/synthetic.py),
generated as raw VOC and MSRA folders; the data stage converts them into both sets."""

import os

from tfguided import configs, files
from tfguided.progress import progress_bar
from tfguided.sources import msra, synthetic, voc
from tfrecords_tools.source import Source

COMPLETE = os.path.join("MSRA", "labels.txt")  # written last: the raw folders are complete


def define_flags(flags):
    """The flags of `python -m tfrecords_tools synthetic`."""
    flags.DEFINE_enum("preset", "demo", sorted(configs.PRESETS), "Size of the generated data: the "
                      "preset's data.synthetic section.")
    flags.DEFINE_integer("seed", 0, "Random seed; the same seed gives the same files.")
    flags.DEFINE_bool("labels_csv", False, "Also write OUT/labels.csv: every photo of OUT/VOC2012/JPEGImages with "
                      "its class names and split, the spreadsheet `python -m tfrecords_tools folder` reads (a "
                      "stand-in for one's own photos).")


def convert_flags(FLAGS):
    """Writes FLAGS.out/VOC2012 (VOC layout) and FLAGS.out/MSRA (MSRA layout)."""
    cfg = configs.preset(FLAGS.preset).data.synthetic
    info = synthetic.generate(FLAGS.out, cfg, FLAGS.seed, progress_bar(cfg.train + cfg.val + cfg.saliency, "image"))
    if FLAGS.labels_csv:
        write_labels_csv(os.path.join(FLAGS.out, "VOC2012"), os.path.join(FLAGS.out, "labels.csv"))
    return f"synthetic: wrote {info} to {FLAGS.out}"


def write_labels_csv(voc_root, path):
    """The demo's photos as a user's spreadsheet: image (file name), labels (class names, ';'), split."""
    names = voc.source_class_names(voc_root)
    labels = voc.read_image_labels(os.path.join(voc_root, "image_labels.tsv"))
    rows = ["image,labels,split"]
    for split in ("train", "val"):
        for image_id in voc.read_split_ids(voc_root, split):
            rows.append(f"{image_id}.jpg,{';'.join(names[c] for c in labels[image_id])},{split}")
    files.atomic_write_text(path, "\n".join(rows) + "\n")


def from_config(data_cfg, role, out_dir, work_dir):
    """Generates the raw folders into work_dir/raw once (deterministic from data.rng_seed), then
    converts the one `role` asks for: VOC2012 (class subset data.classes) or MSRA.

    Args:
      data_cfg: the run's data config section (data.synthetic: the sizes).
      role: "target" or "saliency".
      out_dir: where the converted set goes.
      work_dir: the data stage's folder; the raw folders go in its raw/.
    """
    raw, syn = os.path.join(work_dir, "raw"), data_cfg.synthetic
    if not os.path.exists(os.path.join(raw, COMPLETE)):
        print(f"data: generating the demo data ({syn.train} train, {syn.val} val, {syn.saliency} "
              f"saliency images, {syn.image_size}px) in {raw}")
        synthetic.generate(raw, syn, data_cfg.rng_seed, progress_bar(syn.train + syn.val + syn.saliency, "image"))
    if role == "target":
        voc.convert(os.path.join(raw, "VOC2012"), out_dir, ("train", "val"),
                    examples_per_shard=data_cfg.examples_per_shard, classes_subset=data_cfg.classes)
    else:
        msra.convert(os.path.join(raw, "MSRA"), out_dir, grabcut_iterations=data_cfg.grabcut_iterations,
                     examples_per_shard=data_cfg.examples_per_shard)


SOURCE = Source(define_flags=define_flags, convert=convert_flags, from_config=from_config,
                class_names=lambda data_cfg: synthetic.demo_class_names(data_cfg.synthetic.num_classes))
