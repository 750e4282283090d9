"""Stage `data`: converted TFRecords for the target set (voc/) and the saliency set (msra/).

With no --data_dir the workdir's data folder is made: from a VOC2012 folder if data.voc_root names
one (the `voc_mini` and `voc_animals` presets: the real photos of ../shared/data; image labels
from data.labels_tsv; a class subset if data.classes names one; the saliency set from
data.msra_root), else from the embedded demo data, generated and converted by the same converters as real data.
With --data_dir the converted folders must already be there.
"""

import os

from tfguided.data import records
from tfguided.progress import progress_bar
from tfguided.sources import msra, synthetic, voc


def run(ctx):
    cfg = ctx.config.data
    needed = [ctx.voc_dir] + ([ctx.msra_dir] if ctx.needs_msra or (ctx.generate_data and not cfg.voc_root)
                              else [])
    missing = [d for d in needed if not os.path.exists(os.path.join(d, records.MANIFEST))]
    if missing and not ctx.generate_data:
        raise FileNotFoundError(
            f"--data_dir={ctx.data_dir}: missing converted data {missing}; create it with "
            f"python -m tfrecords_tools voc --voc_root=... --out={ctx.voc_dir} and "
            f"python -m tfrecords_tools msra --msra_root=... --out={ctx.msra_dir}")
    if missing and cfg.voc_root:
        if cfg.train_split == "train_aug":
            raise ValueError(f"data.voc_root={cfg.voc_root}: train_aug needs SBD; convert with "
                             f"python -m tfrecords_tools voc --sbd_root=... and pass --data_dir")
        if ctx.msra_dir in missing and not cfg.msra_root:
            raise FileNotFoundError(
                f"data.voc_root={cfg.voc_root} gives no saliency set: use --saliency=mbd, name one "
                f"with data.msra_root, or convert MSRA-B (python -m tfrecords_tools msra) and pass --data_dir")
        if ctx.voc_dir in missing:
            print(f"data: converting {cfg.voc_root} into {ctx.voc_dir}")
            voc.convert(cfg.voc_root, ctx.voc_dir, (cfg.train_split, cfg.eval_split),
                        cfg.labels_tsv or None, examples_per_shard=cfg.examples_per_shard,
                        classes_subset=cfg.classes)
        if ctx.msra_dir in missing:
            print(f"data: converting the saliency set {cfg.msra_root} into {ctx.msra_dir}")
            msra.convert(cfg.msra_root, ctx.msra_dir, grabcut_iterations=cfg.grabcut_iterations,
                         examples_per_shard=cfg.examples_per_shard)
    elif missing:
        raw = os.path.join(ctx.data_dir, "raw")
        syn = cfg.synthetic
        print(f"data: generating the demo data ({syn.train} train, {syn.val} val, {syn.saliency} "
              f"saliency images, {syn.image_size}px) in {raw}")
        synthetic.generate(raw, syn, cfg.rng_seed,
                           progress_bar(syn.train + syn.val + syn.saliency, "image"))
        if ctx.voc_dir in missing:
            voc.convert(os.path.join(raw, "VOC2012"), ctx.voc_dir, ("train", "val"),
                        examples_per_shard=cfg.examples_per_shard)
        if ctx.msra_dir in missing:
            msra.convert(os.path.join(raw, "MSRA"), ctx.msra_dir,
                         grabcut_iterations=cfg.grabcut_iterations,
                         examples_per_shard=cfg.examples_per_shard)
    counts = {}
    for name, directory in (("voc", ctx.voc_dir), ("msra", ctx.msra_dir)):
        if directory not in needed:
            continue
        for split, entry in records.read_manifest(directory)["splits"].items():
            counts[f"{name}/{split}"] = entry["count"]
    ctx.class_names()  # checks the class count against the preset
    return counts
