"""The paper's comparison tables on a preset: python bench/paper_tables.py --preset=demo --out=FILE.json

  Table 1  seeders (Figure 3): mP, fg P@20%R, bg P@80%R, classification mAP
  Table 2  guide labellers seeds, g0, g1, g2, oracle, gt: supervision Fg/Bg P/R and pseudo-label
           mIoU on train; segmenter val mIoU without / with CRF; FS% = mIoU / gt mIoU
           (with --repeats=N, N G2 and N gt segmenters: the run-to-run spread), and the saliency's
           quality on the eval images for the net and MB+ (§5.1)
  Table 4  CRF variants (supp. C, Tables 4-5): crf-seed / crf-loss / crf-postproc with the SEC (v1)
           and DeepLab (v2) parameters, on GAP-HighRes and GAP-ROI seeds, against G2
  beyond   test-time views (segmenter, seeder, saliency net), a DeepLab-v3+ segmenter, a
           self-training round, each on the paper's G2 row; round 2 with TTA (the two that gain)
           and v3+, round 2 and TTA together,
           against the same segmenters on ground truth; and TTA's gain and cost (ms per photo)
           for a few view sets

  python bench/paper_tables.py --preset=voc_animals --tables=2 --guides=seeds,g0,g2,oracle,gt \
      --repeats=2 --out=FILE.json           # real photos, 5 classes: BUILD_NOTES.md "voc_animals"

Every row is a stage of the same workdir (default runs/paper_tables-<preset>), so a second run
reuses what the first finished and an interrupted run resumes. Writes FILE.json (keys table1,
table2, saliency, table4), FILE.md (the tables) and figure3.png beside it.
On the demo preset (2 CPU cores) the whole run takes about 45 minutes; see BUILD_NOTES.md.
"""

import argparse
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfguided import configs, files  # noqa: E402
from tfguided.data import imageio, records  # noqa: E402
from tfguided.eval import plots  # noqa: E402
from tfguided.inference import full_size_fn  # noqa: E402
from tfguided import registry  # noqa: E402
from tfguided.stages import pipeline, seed_eval  # noqa: E402
from tfguided.stages.context import Context  # noqa: E402
from tfguided.train import loop  # noqa: E402
from tfguided.train.strategy import configure_cpu_threads  # noqa: E402

SEEDERS = registry.SEEDERS.names()
GUIDES = registry.GUIDES.names() + (registry.GROUND_TRUTH,)
REPEATED = ("g2", registry.GROUND_TRUTH)  # Table 2's rows trained `--repeats` times
QUALITY = ("fg_precision", "fg_recall", "bg_precision", "bg_recall", "pseudo_label_miou")
# Table 4 rows: (seeder, guide, crf-seed, crf-loss, crf-postproc, reported mIoU column)
CRF_ROWS = (
    ("gap_highres", "seeds", "none", "none", "none", "miou"),
    ("gap_highres", "seeds", "none", "sec", "sec", "miou_crf"),
    ("gap_highres", "seeds", "none", "sec", "none", "miou"),
    ("gap_highres", "seeds", "none", "none", "sec", "miou_crf"),
    ("gap_highres", "seeds", "none", "deeplab", "deeplab", "miou_crf"),
    ("gap_highres", "seeds", "sec", "none", "none", "miou"),
    ("gap_highres", "g2", "none", "none", "deeplab", "miou_crf"),
    ("gap_roi", "seeds", "none", "none", "none", "miou"),
    ("gap_roi", "seeds", "none", "sec", "sec", "miou_crf"),
    ("gap_roi", "g2", "none", "none", "deeplab", "miou_crf"),
)
PARAM_NAMES = {"none": "-", "sec": "v1", "deeplab": "v2"}
# Beyond the paper: each switch on top of the paper's G2 row, then all of them; the gt
# rows train the same segmenters on the ground truth (what "% of full supervision" reads against).
# DeepLab-v3+ at trunk stride 16, as DeepLab-v3+ trains (its decoder brings the logits to stride 4),
# 64 wide: a CPU-sized head (DeepLab-v3+'s is 256) beside the CPU presets' 128-wide LargeFOV.
# The mirror view alone: on voc_animals' G2 segmenter it gains 1.0 / 0.2 mIoU (with CRF) at 1.6x
# the single view's cost, three scales + mirrors 0.8 / -1.0 at 5.2x (BUILD_NOTES.md "Beyond the paper").
TTA_DEFAULT = ("evaluate.tta.flip=true",)
V3PLUS = ("segmenter.net.head=deeplab_v3plus", "segmenter.net.output_stride=16", "segmenter.net.head_units=64")
ROUND2 = ("self_training.rounds=2",)
SEED_TTA = ("guide.seed_tta.flip=true",)  # the seeder's class maps with their mirror view, in the guide
SALIENCY_SCALES = ("guide.saliency_tta.scales=0.75,1,1.25",)  # the saliency net at three scales, in the guide
BEYOND_ROWS = (
    ("paper G2", "g2", ()),
    ("+ TTA (flip)", "g2", TTA_DEFAULT),
    ("+ seed TTA (flip)", "g2", SEED_TTA),
    ("+ saliency TTA (0.75, 1, 1.25)", "g2", SALIENCY_SCALES),
    ("+ DeepLab-v3+", "g2", V3PLUS),
    ("+ self-training round 2", "g2", ROUND2),
    ("+ self-training round 2 + TTA (flip)", "g2", ROUND2 + TTA_DEFAULT),
    ("all three", "g2", V3PLUS + ROUND2 + TTA_DEFAULT),
    ("gt", "gt", ()),
    ("gt + TTA", "gt", TTA_DEFAULT),
    ("gt + DeepLab-v3+", "gt", V3PLUS),
    ("gt + DeepLab-v3+ + TTA", "gt", V3PLUS + TTA_DEFAULT),
)
TTA_SETS = (("1", "1", False), ("1, flip", "1", True), ("0.75, 1, 1.25, flip", "0.75,1,1.25", True),
            ("0.5 .. 1.5, flip", "0.5,0.75,1,1.25,1.5", True))


def context(args, guide="g2", *overrides):
    cfg = configs.override(configs.preset(args.preset), list(args.override) + list(overrides))
    cfg.guide.strategy = guide
    return Context(cfg, args.workdir, args.data_dir, args.strategy)


def log(message):
    print(message, flush=True)


def table1(args):
    rows, curves = {}, {}
    for seeder in SEEDERS:
        ctx = context(args, "g2", f"seeder.arch={seeder}")
        rows[seeder] = pipeline.ensure(ctx, "seed_eval", log)
        curves[seeder] = files.read_json(os.path.join(ctx.stage_dir("seed_eval"), "pr_curves.json"))
        curves[seeder] = {k: [float("nan") if v is None else v for v in vals] for k, vals in curves[seeder].items()}
    return rows, plots.pr_figure(curves)


def table2(args):
    """Rows keyed by guide; `seconds`: the wall time of building the row in this run, with the
    stages it was first to need (the seeder with `seeds`, ...); about 0 when all were cached.
    `--repeats=N` adds rows `g2@rng_seed=k` and `gt@rng_seed=k` (k = 1..N-1): the G2 and gt
    segmenters trained again with another seed on the same labels, the run-to-run spread the gaps
    are read against (FS% divides by the `gt` row; `seed_means` compares the means)."""
    rows = {}
    runs = []
    for guide in args.guides:
        runs.append((guide, guide, ()))
        if guide in REPEATED:
            runs += [(f"{guide}@rng_seed={k}", guide, (f"segmenter.train.rng_seed={k}",))
                     for k in range(1, args.repeats)]
    for name, guide, overrides in runs:
        ctx = context(args, guide, *overrides)
        start = time.time()
        metrics = pipeline.ensure(ctx, "evaluate", log)
        quality = ctx.results("guide") if guide != "gt" else {}
        rows[name] = {**{k: quality.get(k) for k in QUALITY},
                      "miou": metrics["miou"], "miou_crf": metrics["miou_crf"],
                      "seconds": round(time.time() - start, 1)}
    for row in rows.values():
        row["fs_percent"] = 100 * row["miou"] / rows["gt"]["miou"]
        row["fs_percent_crf"] = 100 * row["miou_crf"] / rows["gt"]["miou_crf"]
    return rows


def seed_means(table2):
    """Per repeated guide in `table2`: val mIoU without / with CRF averaged over its segmenter
    seeds; for G2, FS% of those means (G2's mean over gt's mean)."""
    means = {}
    for guide in REPEATED:
        names = [name for name in table2 if name.split("@")[0] == guide]
        if names:
            means[guide] = {"seeds": len(names), **{k: sum(table2[n][k] for n in names) / len(names)
                                                     for k in ("miou", "miou_crf")}}
    if "g2" in means:
        gt = means[registry.GROUND_TRUTH]
        means["g2"].update(fs_percent=100 * means["g2"]["miou"] / gt["miou"],
                           fs_percent_crf=100 * means["g2"]["miou_crf"] / gt["miou_crf"])
    return means


def saliency_rows(args):
    """§5.1 on the eval images, from the guide stage of a saliency-based guide: mean fg IoU and
    share of images above 0.6 for the saliency net and MB+ (None where not measured)."""
    guide = next((g for g in args.guides if g in registry.GUIDES.names()
                  and "saliency" in registry.GUIDES[g]["needs"]), None)
    if guide is None:
        return {}
    quality = context(args, guide).results("guide")
    return {method: {"fg_iou_mean": quality.get(f"val_saliency_{method}_fg_iou_mean"),
                     "images_iou_over_0.6": quality.get(f"val_saliency_{method}_images_iou_over_0.6")}
            for method in registry.SALIENCY.names() if f"val_saliency_{method}_fg_iou_mean" in quality}


def table4(args):
    rows = []
    for seeder, guide, crf_seed, crf_loss, postproc, column in CRF_ROWS:
        overrides = [f"seeder.arch={seeder}", f"guide.crf_seed={crf_seed}", f"segmenter.crf_loss={crf_loss}"]
        if postproc != "none":
            overrides.append(f"evaluate.crf.params={postproc}")
        metrics = pipeline.ensure(context(args, guide, *overrides), "evaluate", log)
        rows.append({"seeder": seeder, "guide": guide, "crf_seed": crf_seed, "crf_loss": crf_loss,
                     "crf_postproc": postproc, "miou": metrics[column]})
    reference = rows[1]["miou"]  # GAP-HighRes with crf-loss v1 + crf-postproc v1, as in the paper
    for row in rows:
        row["delta_miou"] = row["miou"] - reference
    return rows


def beyond(args):
    """Rows of BEYOND_ROWS: val mIoU without / with CRF, the gain with CRF over the paper's G2
    row, % of the same segmenter trained on the ground truth (with CRF), seconds to build the row
    in this run, and the stages' own seconds whenever they were built: the row's segmenter and,
    in a self-training round, its relabelling guide."""
    rows = {}
    for name, guide, overrides in BEYOND_ROWS:
        start = time.time()
        ctx = context(args, guide, *overrides)
        metrics = pipeline.ensure(ctx, "evaluate", log)
        rows[name] = {"overrides": list(overrides), "miou": metrics["miou"], "miou_crf": metrics["miou_crf"],
                      "seconds": round(time.time() - start, 1),
                      "segmenter_seconds": ctx.results("segmenter")["seconds"],
                      "relabel_seconds": (ctx.results("guide")["seconds"]
                                          if ctx.config.self_training.rounds > 1 else None)}
    paper = rows["paper G2"]["miou_crf"]
    for name, row in rows.items():
        row["gain_crf"] = row["miou_crf"] - paper
        row["same_segmenter_gt"] = same_segmenter_gt(row["overrides"])
        row["fs_percent_crf"] = 100 * row["miou_crf"] / rows[row["same_segmenter_gt"]]["miou_crf"]
    return rows


def same_segmenter_gt(overrides):
    """The gt row of BEYOND_ROWS whose segmenter and views are those of `overrides` (what the
    guide is made of aside: seed views, the self-training round)."""
    wanted = {o for o in overrides if o.startswith(("segmenter.", "evaluate."))}
    return next(name for name, guide, gt_overrides in BEYOND_ROWS if guide == "gt" and set(gt_overrides) == wanted)


def tta_costs(args, photos=40):
    """Per set of TTA_SETS, on the paper G2 segmenter: val mIoU without / with CRF and the
    network's milliseconds per photo at its own size (first `photos` val photos, after one
    untimed photo for tracing), and that cost relative to a single view."""
    rows = {}
    for name, scales, flip in TTA_SETS:
        ctx = context(args, "g2", f"evaluate.tta.scales={scales}", f"evaluate.tta.flip={flip}")
        metrics = pipeline.ensure(ctx, "evaluate", log)
        tta = ctx.config.evaluate.tta
        predict = full_size_fn(loop.load_model(ctx.stage_dir("segmenter")), ctx.config.segmenter.net.scale,
                               tta.scales, tta.flip)
        images = [imageio.decode_image(ex["image"]) for _, ex in
                  zip(range(photos + 1), records.iterate_numpy(ctx.target_dir, ctx.config.data.eval_split))]
        predict(images[0])
        start = time.perf_counter()
        for image in images[1:]:
            predict(image)
        rows[name] = {"miou": metrics["miou"], "miou_crf": metrics["miou_crf"],
                      "ms_per_photo": 1000 * (time.perf_counter() - start) / (len(images) - 1)}
    single = rows[TTA_SETS[0][0]]
    for row in rows.values():
        row["cost_x"] = row["ms_per_photo"] / single["ms_per_photo"]
        row["gain_crf"] = row["miou_crf"] - single["miou_crf"]
    return rows


def fmt(v):
    return "-" if v is None else f"{v:.1f}"


def markdown(result):
    out = [f"# Paper tables on preset {result['preset']}", ""]
    if "table1" in result:
        out += ["## Table 1: seeders", "", seed_eval.table1_markdown(result["table1"]), ""]
    if "table2" in result:
        out += ["## Table 2: guide labellers", "",
                "| guide | Fg P | Fg R | Bg P | Bg R | pseudo mIoU | mIoU | mIoU+CRF | FS% | FS% CRF | s |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, r in result["table2"].items():
            out.append(f"| {name} | " + " | ".join(fmt(r.get(k)) for k in QUALITY + (
                "miou", "miou_crf", "fs_percent", "fs_percent_crf", "seconds")) + " |")
        out.append("")
        means = result["seed_means"]
        if "g2" in means:
            g2, gt = means["g2"], means[registry.GROUND_TRUTH]
            out += [f"Means over the segmenter seeds: G2 ({g2['seeds']}) {g2['miou']:.1f} / {g2['miou_crf']:.1f} "
                    f"with CRF, gt ({gt['seeds']}) {gt['miou']:.1f} / {gt['miou_crf']:.1f}: FS% "
                    f"{g2['fs_percent']:.1f} / {g2['fs_percent_crf']:.1f} with CRF.", ""]
    if result.get("saliency"):
        out += ["## Saliency on the eval images (§5.1, fg at guide.saliency_fraction of the max)", "",
                "| saliency | mean fg IoU | images IoU > 0.6 (%) |", "|---|---:|---:|"]
        for name, r in result["saliency"].items():
            out.append(f"| {name} | {fmt(r['fg_iou_mean'])} | {fmt(r['images_iou_over_0.6'])} |")
        out.append("")
    if "beyond" in result:
        out += ["## Beyond the paper", "",
                "| row | mIoU | mIoU+CRF | gain CRF | % of same segmenter on gt (CRF) | segmenter s | "
                "relabel s | s this run |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, r in result["beyond"].items():
            out.append(f"| {name} | {fmt(r['miou'])} | {fmt(r['miou_crf'])} | {r['gain_crf']:+.1f} | "
                       f"{fmt(r['fs_percent_crf'])} | {fmt(r['segmenter_seconds'])} | "
                       f"{fmt(r['relabel_seconds'])} | {fmt(r['seconds'])} |")
        out += ["", "| test-time views | mIoU | mIoU+CRF | gain CRF | ms / photo | cost |",
                "|---|---:|---:|---:|---:|---:|"]
        for name, r in result["tta"].items():
            out.append(f"| {name} | {fmt(r['miou'])} | {fmt(r['miou_crf'])} | {r['gain_crf']:+.1f} | "
                       f"{r['ms_per_photo']:.0f} | {r['cost_x']:.1f}x |")
        out.append("")
    if "table4" in result:
        out += ["## Table 4: CRF variants (v1 = SEC, v2 = DeepLab parameters)", "",
                "| seeds | crf-seed | crf-loss | crf-postproc | mIoU | delta |", "|---|---|---|---|---:|---:|"]
        for r in result["table4"]:
            seeds = r["seeder"] + (" + saliency: G2" if r["guide"] == "g2" else "")
            out.append(f"| {seeds} | {PARAM_NAMES[r['crf_seed']]} | {PARAM_NAMES[r['crf_loss']]} | "
                       f"{PARAM_NAMES[r['crf_postproc']]} | {fmt(r['miou'])} | {r['delta_miou']:+.1f} |")
        out.append("")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo", choices=sorted(configs.PRESETS))
    parser.add_argument("--out", required=True, help="JSON file; the Markdown goes beside it (.md)")
    parser.add_argument("--workdir", default=None, help="default: runs/paper_tables-<preset>")
    parser.add_argument("--data_dir", default=None, help="converted voc/ and msra/ (default: the demo data)")
    parser.add_argument("--tables", default="1,2,4", help="which tables, e.g. 2 or 1,4; beyond = the "
                        "switches beyond the paper (TTA, DeepLab-v3+, a self-training round) and TTA's cost")
    parser.add_argument("--guides", default=",".join(GUIDES),
                        help="Table 2 rows (gt is always run: FS%% divides by it), e.g. seeds,g0,g2,oracle,gt")
    parser.add_argument("--repeats", type=int, default=1, help="Table 2: train the G2 and the gt segmenters "
                        "this many times each (rng_seed 0..N-1), for the spread and FS%% of the means")
    parser.add_argument("--strategy", default="mirrored")
    parser.add_argument("--override", action="append", default=[], help="section.field=value, repeatable")
    args = parser.parse_args()
    args.workdir = args.workdir or os.path.join("runs", f"paper_tables-{args.preset}")
    if args.repeats < 1:
        parser.error(f"--repeats={args.repeats}: train each segmenter at least once (1 or more)")
    requested = args.guides.split(",")
    if set(requested) - set(GUIDES):
        parser.error(f"--guides: unknown {sorted(set(requested) - set(GUIDES))}; choose from {GUIDES}")
    args.guides = [g for g in GUIDES if g in requested or g == "gt"]
    configure_cpu_threads()
    start = time.time()
    result = {"preset": args.preset, "workdir": args.workdir, "overrides": args.override}
    wanted = set(args.tables.split(","))
    if wanted & {"1", "4"} and configs.preset(args.preset).seeder.net.backbone != "vgg16":
        parser.error(f"Tables 1 and 4 compare the VGG-16 seeders (GAP-ROI, GAP-DeepLab, backprop); "
                     f"preset {args.preset!r} has a MobileNet seeder: use --tables=2")
    if "1" in wanted:
        result["table1"], figure = table1(args)
        imageio.write_image(os.path.join(os.path.dirname(os.path.abspath(args.out)), "figure3.png"), figure)
    if "2" in wanted:
        result["table2"] = table2(args)
        result["seed_means"] = seed_means(result["table2"])
        result["saliency"] = saliency_rows(args)
    if "4" in wanted:
        result["table4"] = table4(args)
    if "beyond" in wanted:
        result["beyond"] = beyond(args)
        result["tta"] = tta_costs(args)
    result["wall_seconds"] = round(time.time() - start, 1)
    files.atomic_write_json(args.out, result)
    text = markdown(result)
    files.atomic_write_text(os.path.splitext(args.out)[0] + ".md", text + "\n")
    print(text)
    print(f"wrote {args.out} in {result['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
