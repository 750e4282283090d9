"""Which masks the saliency net should learn from its boxes (issue 24: the guide is the limit).

  python bench/saliency_targets.py --preset=voc_animals --workdir=DIR \
      --base_workdir=RUN --object_masks=../shared/data/voc12_mini/VOC2012/SegmentationClass \
      --extra_saliency=COCO_SALIENCY --out=bench/results_voc_animals_saliency_targets.json

The preset's saliency set (its photos and boxes) with each photo's mask made again:
  grabcut            GrabCut inside the box (§6.1, the preset's)
  grabcut_undecided  GrabCut's foreground 1, the rest of the box 255 (not learned), outside 0:
                     Khoreva et al.'s ignore regions [16]
  box                the whole box foreground
  grabcut_extra      the preset's set plus --extra_saliency's photos (a converted saliency set,
                     e.g. the non-target photos of COCO: python -m tfrecords_tools coco --saliency_out)
For each: a saliency net trained with the preset's schedule and the G2 guide at every
--fractions (guide.saliency_fraction), scored by the guide stage: the net's mean fg IoU on the
val photos and G2's pseudo-label mIoU on the training photos (the criterion the preset's
fraction was chosen by). With --object_masks (label PNGs named by photo id, any non-zero
index an object, 255 void; resized to the photo, nearest) the masks themselves are scored
against the photos' objects.

The converted target set and the seeder are those of --base_workdir (a run of the preset; the
data and seeder stages are built there if missing), linked and copied into each variant's
folder of --workdir, so only saliency nets and guides are trained (~6 min a variant on 2 cores).
Finished stages are reused, so a rerun resumes. Writes FILE.json and FILE.md.
"""

import argparse
import os
import shutil
import sys

import cv2
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tfguided import cli  # noqa: E402

cli.import_tensorflow_quietly()

from tfguided import configs, files  # noqa: E402
from tfguided.data import labelmap, records  # noqa: E402
from tfguided.eval import metrics  # noqa: E402
from tfguided.saliency import grabcut  # noqa: E402
from tfguided.sources import boxes as box_sets  # noqa: E402
from tfguided.stages import pipeline  # noqa: E402
from tfguided.stages.context import Context  # noqa: E402
from tfguided.train.strategy import configure_cpu_threads  # noqa: E402

VARIANTS = ("grabcut", "grabcut_undecided", "box", "grabcut_extra")


def box_mask(shape, boxes):
    """bool [H, W]: the mean of the example's boxes (inclusive pixels), as GrabCut was given it."""
    left, top, right, bottom = np.round(grabcut.mean_box(boxes)).astype(int)
    mask = np.zeros(shape, bool)
    mask[max(top, 0):bottom + 1, max(left, 0):right + 1] = True
    return mask


def remade_mask(variant, segment, box):
    """uint8 [H, W] saliency target of `variant` from the stored GrabCut segment and the box."""
    if variant == "grabcut_undecided":
        return np.where(segment, 1, np.where(box, labelmap.IGNORE, 0)).astype(np.uint8)
    if variant == "box":
        return box.astype(np.uint8)
    return segment.astype(np.uint8)


def variant_examples(variant, saliency_dir, extra_dir):
    """The variant's records.Examples: the base set's photos with remade masks (+ the extra set's)."""
    sources = [saliency_dir] + ([extra_dir] if variant == "grabcut_extra" else [])
    out = []
    for source in sources:
        for ex in records.iterate_numpy(source, "train"):
            segment = labelmap.decode_label_png(ex["mask"]) > 0
            mask = remade_mask(variant, segment, box_mask(segment.shape, ex["boxes"]))
            out.append(records.Example(id=ex["id"].decode(), image=ex["image"], height=int(ex["height"]),
                                       width=int(ex["width"]), mask=labelmap.encode_index_png(mask),
                                       boxes=tuple(ex["boxes"].reshape(-1))))
    return out


def write_variant_set(out_dir, variant, examples):
    """The variant's saliency set in `out_dir` (written once, atomically, as the converters do)."""
    if not os.path.exists(os.path.join(out_dir, records.MANIFEST)):
        box_sets.write_saliency_set(out_dir, "msra", examples, len(examples), 500, {"saliency_targets": variant},
                                    verbose=False)


def mask_scores(examples, masks_dir):
    """Mean per-photo IoU, precision and recall (percent) of the examples' masks against the
    objects of their label PNGs, for the photos that have one: Table 2's supervision counts
    (metrics.guide_quality_counts) with the undecided pixels (255) left out on both sides."""
    scores = []
    for ex in examples:
        path = os.path.join(masks_dir, ex.id + ".png")
        if not os.path.exists(path):
            continue
        mask = labelmap.decode_label_png(ex.mask)
        objects = cv2.resize(labelmap.read_label_png(path), mask.shape[::-1], interpolation=cv2.INTER_NEAREST)
        void = (objects == labelmap.IGNORE) | (mask == labelmap.IGNORE)
        tp, predicted, actual = metrics.guide_quality_counts(
            np.where(void, labelmap.IGNORE, objects > 0), np.where(void, labelmap.IGNORE, mask))[:3]
        scores.append((tp / max(predicted + actual - tp, 1), tp / max(predicted, 1), tp / max(actual, 1)))
    if not scores:
        return {}
    iou, precision, recall = 100 * np.mean(scores, axis=0)
    return {"photos": len(scores), "iou": iou, "precision": precision, "recall": recall}


def run_variant(args, cfg, base, variant):
    """Trains the variant's saliency net and its G2 guides; returns its row."""
    folder = os.path.join(args.workdir, variant)
    data_dir = os.path.join(folder, "data")
    if not os.path.exists(os.path.join(data_dir, "target")):
        shutil.copytree(base.target_dir, os.path.join(data_dir, "target"), copy_function=os.link)
    if not os.path.exists(os.path.join(folder, "seeder")):
        shutil.copytree(base.stage_dir("seeder"), os.path.join(folder, "seeder"))
    examples = variant_examples(variant, base.saliency_dir, args.extra_saliency)
    write_variant_set(os.path.join(data_dir, "saliency"), variant, examples)
    row = {"variant": variant, "photos": len(examples), "guides": []}
    if args.object_masks:
        row["masks_vs_objects"] = mask_scores(examples, args.object_masks)
    for fraction in args.fractions:
        ctx = Context(configs.override(cfg, [f"guide.saliency_fraction={fraction}"]), folder, data_dir, args.strategy)
        guide = pipeline.ensure(ctx, "guide", print)
        row["guides"].append({"fraction": fraction, "pseudo_label_miou": guide.get("pseudo_label_miou"),
                              "val_fg_iou": guide.get("val_saliency_net_fg_iou_mean"),
                              "train_fg_iou": guide.get("saliency_fg_iou_mean")})
    row["saliency_seconds"] = ctx.results("saliency")["seconds"]
    return row


def markdown(result):
    out = [f"# Saliency targets on preset {result['preset']}", "",
           "| targets | photos | masks vs objects IoU (P / R) | fraction | val fg IoU | G2 pseudo-label mIoU (train) |",
           "|---|---:|---|---:|---:|---:|"]
    for row in result["variants"]:
        scores = row.get("masks_vs_objects") or {}
        objects = f"{scores['iou']:.1f} ({scores['precision']:.1f} / {scores['recall']:.1f})" if scores else "-"
        for guide in row["guides"]:
            out.append(f"| {row['variant']} | {row['photos']} | {objects} | {guide['fraction']:g} | "
                       f"{guide['val_fg_iou']:.1f} | {guide['pseudo_label_miou']:.1f} |")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="voc_animals", help="A preset whose saliency method is the net.")
    parser.add_argument("--workdir", required=True, help="Where the variants' folders go.")
    parser.add_argument("--base_workdir", default=None, help="A run of the preset whose converted data and "
                        "seeder the variants share (default WORKDIR/base; built there if missing).")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"Comma-separated, of {', '.join(VARIANTS)}.")
    parser.add_argument("--fractions", default="0.3", help="guide.saliency_fraction values, comma-separated.")
    parser.add_argument("--extra_saliency", default=None, help="A converted saliency set added by grabcut_extra.")
    parser.add_argument("--object_masks", default=None, help="Label PNGs <id>.png of the saliency photos' objects.")
    parser.add_argument("--override", action="append", default=[], help="Config override section.field=value "
                        "applied to the preset for every variant (repeatable; train_main.py --list_overrides).")
    parser.add_argument("--strategy", default="default", help="tf.distribute strategy (train/strategy.py).")
    parser.add_argument("--out", required=True, help="FILE.json (and FILE.md).")
    args = parser.parse_args()
    args.variants = [v for v in args.variants.split(",") if v]
    args.fractions = [float(f) for f in args.fractions.split(",") if f]
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"--variants: unknown {', '.join(unknown)} (known: {', '.join(VARIANTS)})")
    if "grabcut_extra" in args.variants and not args.extra_saliency:
        parser.error("--variants=grabcut_extra needs --extra_saliency")
    configure_cpu_threads()
    cfg = configs.override(configs.preset(args.preset), args.override)
    if cfg.saliency.method != "net":
        parser.error(f"preset {args.preset}: saliency.method is {cfg.saliency.method}, not net")
    base = Context(cfg, args.base_workdir or os.path.join(args.workdir, "base"), None, args.strategy)
    pipeline.ensure(base, "seeder", print)
    result = {"preset": args.preset, "overrides": args.override, "variants": []}
    for variant in args.variants:
        result["variants"].append(run_variant(args, cfg, base, variant))
        files.atomic_write_json(args.out, result)
        files.atomic_write_text(os.path.splitext(args.out)[0] + ".md", markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
