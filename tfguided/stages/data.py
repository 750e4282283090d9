"""Stage `data`: converted TFRecords for the target set (voc/) and the saliency set (msra/).

With no --data_dir the embedded demo data is generated into the workdir and converted by the same
converters as real data; with --data_dir the converted folders must already be there.
"""

import os

from tfguided.data import records
from tfguided.progress import progress_bar
from tfrecords_tools import msra, synthetic, voc


def run(ctx):
    cfg = ctx.config.data
    needed = [ctx.voc_dir] + ([ctx.msra_dir] if ctx.needs_msra or ctx.generate_data else [])
    missing = [d for d in needed if not os.path.exists(os.path.join(d, records.MANIFEST))]
    if missing and not ctx.generate_data:
        raise FileNotFoundError(
            f"--data_dir={ctx.data_dir}: missing converted data {missing}; create it with "
            f"python -m tfrecords_tools voc --voc_root=... --out={ctx.voc_dir} and "
            f"python -m tfrecords_tools msra --msra_root=... --out={ctx.msra_dir}")
    if missing:
        raw = os.path.join(ctx.data_dir, "raw")
        syn = cfg.synthetic
        print(f"data: generating the demo data ({syn.train} train, {syn.val} val, {syn.saliency} "
              f"saliency images, {syn.image_size}px) in {raw}")
        synthetic.generate(raw, syn, cfg.seed,
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
