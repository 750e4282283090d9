"""Learning curves on a preset: where more training stops paying.

  python bench/learning_curves.py --preset=voc_animals --out=bench/results_voc_animals_curves.json

  segmenter  val mIoU without / with CRF of the segmenters trained on G2 and on the ground truth
             (gt) at --segmenter_steps (the preset's seeder, saliency net and guide)
  seeder     the seeder's val mAP and the G2 pseudo-label mIoU on train at --seeder_steps (the
             preset's saliency net)
  saliency   the saliency net's mean foreground IoU on the val photos and the G2 pseudo-label
             mIoU on train at --saliency_steps (the preset's seeder; presets with a trained net)

Each point scales the preset's step decay with its steps (decay_every * steps / preset steps), so
every point ends at the same learning rate; everything else is the preset's. Every point is a
stage of the workdir (default runs/curves-<preset>), so a rerun reuses what an earlier one
finished and an interrupted run resumes. Writes FILE.json, FILE.md (the tables) and FILE.png
(the curves) after every point, and prints, per curve, the gain from each point to the next.
An existing FILE.json of the same preset and overrides is extended, not replaced: its points
stay and are not trained again (so a curve can be built over several sessions or machines, e.g.
--segmenter_steps=1350,2700 beside stored 450 and 900 points, or --curves=saliency beside stored
segmenter and seeder curves); to redo a point, delete it from FILE.json.
"""

import argparse
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tfguided import cli  # noqa: E402

cli.import_tensorflow_quietly()

from tfguided import configs, files  # noqa: E402
from tfguided.data import imageio  # noqa: E402
from tfguided.eval import plots  # noqa: E402
from tfguided.stages import pipeline  # noqa: E402
from tfguided.stages.context import Context  # noqa: E402
from tfguided.train.strategy import configure_cpu_threads  # noqa: E402


def schedule(train, section, steps):
    """Overrides training `section` for `steps` with the preset's decay scaled to them."""
    decay = max(1, round(train.decay_every * steps / train.steps))
    return (f"{section}.train.steps={steps}", f"{section}.train.decay_every={decay}")


def base_config(args):
    """The preset with --override applied: the schedules every point scales."""
    return configs.override(configs.preset(args.preset), list(args.override))


def context(args, guide, *overrides):
    cfg = configs.override(base_config(args), list(overrides))
    cfg.guide.strategy = guide
    return Context(cfg, args.workdir, args.data_dir, args.strategy)


def log(message):
    print(message, flush=True)


def stored(points, steps, curve):
    """Whether `points` hold a point at `steps` (kept from FILE.json, not trained again)."""
    if any(p["steps"] == steps for p in points):
        log(f"kept from --out: {curve} at {steps} steps")
        return True
    return False


def add_point(points, point):
    """Inserts `point` into `points`, kept in order of steps."""
    points.append(point)
    points.sort(key=lambda p: p["steps"])


def segmenter_curve(args, result, save):
    """result["segmenter"] = {guide: [{steps, miou, miou_crf, seconds}]} for guides g2 and gt."""
    preset = base_config(args).segmenter.train
    curve = result.setdefault("segmenter", {})
    for steps in args.segmenter_steps:
        for guide in ("g2", "gt"):  # both at a step count before the next: an interrupted run leaves pairs
            if stored(curve.setdefault(guide, []), steps, f"segmenter {guide}"):
                continue
            ctx = context(args, guide, *schedule(preset, "segmenter", steps))
            metrics = pipeline.ensure(ctx, "evaluate", log)
            add_point(curve[guide], {"steps": steps, "miou": metrics["miou"], "miou_crf": metrics["miou_crf"],
                                     "seconds": ctx.results("segmenter")["seconds"]})
            save(result)


# The guide's inputs with a curve: section -> (the JSON key of its own val score, that score's
# label, the stage whose results hold it, its name there).
GUIDE_INPUTS = {
    "seeder": ("val_map", "val mAP", "seeder", "val_map"),
    "saliency": ("val_fg_iou", "val fg IoU", "guide", "val_saliency_net_fg_iou_mean"),
}


def guide_input_curve(args, result, save, section):
    """result[section] = [{steps, <its val score>, pseudo_label_miou, seconds}]: the seeder or the
    saliency net trained for each of its steps (the preset's other stages) and the G2 guide it gives."""
    key, _, stage, name = GUIDE_INPUTS[section]
    preset = getattr(base_config(args), section).train
    rows = result.setdefault(section, [])
    for steps in getattr(args, f"{section}_steps"):
        if stored(rows, steps, section):
            continue
        ctx = context(args, "g2", *schedule(preset, section, steps))
        pipeline.ensure(ctx, "guide", log)
        add_point(rows, {"steps": steps, key: ctx.results(stage)[name],
                         "pseudo_label_miou": ctx.results("guide").get("pseudo_label_miou"),
                         "seconds": ctx.results(section)["seconds"]})
        save(result)


def stored_result(path, preset, overrides):
    """The curves already in `path` if it holds this preset with these overrides, else none."""
    if not os.path.exists(path):
        return {}
    stored = files.read_json(path)
    if (stored.get("preset"), stored.get("overrides")) != (preset, overrides):
        raise SystemExit(f"{path} holds the curves of preset {stored.get('preset')!r} with overrides "
                         f"{stored.get('overrides')}, not {preset!r} with {overrides}: give another --out")
    return {key: stored[key] for key in ("segmenter", *GUIDE_INPUTS) if key in stored}


def step_gains(points, key):
    """[(steps, next steps, gain)] for each pair of consecutive points that both have `key`."""
    return [(a["steps"], b["steps"], b[key] - a[key]) for a, b in zip(points, points[1:])
            if a.get(key) is not None and b.get(key) is not None]


def fmt(v):
    return "-" if v is None else f"{v:.1f}"


def fmt0(v):
    return "-" if v is None else f"{v:.0f}"


def markdown(result):
    out = [f"# Learning curves on preset {result['preset']}", ""]
    if "segmenter" in result:
        out += ["## Segmenter (val)", "", "| segmenter steps | G2 mIoU | G2 +CRF | gt mIoU | gt +CRF | "
                "G2 / gt (CRF) | G2 s | gt s |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        by_steps = {guide: {p["steps"]: p for p in points} for guide, points in result["segmenter"].items()}
        for steps in sorted(set().union(*by_steps.values())):  # a curve being built may lack a point
            g2, gt = (by_steps.get(guide, {}).get(steps, {}) for guide in ("g2", "gt"))
            ratio = f"{100 * g2['miou_crf'] / gt['miou_crf']:.1f}%" if g2 and gt else "-"
            out.append(f"| {steps} | {fmt(g2.get('miou'))} | {fmt(g2.get('miou_crf'))} | {fmt(gt.get('miou'))} | "
                       f"{fmt(gt.get('miou_crf'))} | {ratio} | {fmt0(g2.get('seconds'))} | "
                       f"{fmt0(gt.get('seconds'))} |")
        out.append("")
    for section, (key, label, _, _) in GUIDE_INPUTS.items():
        if section not in result:
            continue
        out += [f"## {section.capitalize()}", "", f"| {section} steps | {label} | G2 pseudo-label mIoU (train) | s |",
                "|---:|---:|---:|---:|"]
        for row in result[section]:
            out.append(f"| {row['steps']} | {fmt(row[key])} | {fmt(row['pseudo_label_miou'])} | "
                       f"{fmt0(row['seconds'])} |")
        out.append("")
    out += ["## Gain per step increase", ""]
    for name, points, key in curves(result):
        out.append(f"- {name}: " + ", ".join(f"{a} -> {b}: {gain:+.1f}" for a, b, gain in step_gains(points, key)))
    return "\n".join(out)


def curves(result):
    """(name, points, key) of every curve in `result`."""
    out = []
    for guide, points in result.get("segmenter", {}).items():
        out += [(f"{guide} mIoU", points, "miou"), (f"{guide} mIoU+CRF", points, "miou_crf")]
    for section, (key, label, _, _) in GUIDE_INPUTS.items():
        if section in result:
            out += [(f"{section} {label}", result[section], key),
                    (f"G2 pseudo-label mIoU ({section} curve)", result[section], "pseudo_label_miou")]
    return out


def figure(result):
    charts = []
    if "segmenter" in result:
        for key, title in (("miou", "val mIoU"), ("miou_crf", "val mIoU + CRF")):
            charts.append((title, "segmenter steps", "%", {
                guide: ([p["steps"] for p in points], [p[key] for p in points])
                for guide, points in result["segmenter"].items()}))
    for section, (key, label, _, _) in GUIDE_INPUTS.items():
        if section in result:
            steps = [p["steps"] for p in result[section]]
            charts.append((section, f"{section} steps", "%", {
                f"{section} {label}": (steps, [p[key] for p in result[section]]),
                "G2 pseudo-label mIoU": (steps, [p["pseudo_label_miou"] for p in result[section]])}))
    return plots.curves_figure(charts)


def steps_list(text):
    steps = [int(s) for s in text.split(",") if s]
    if not steps or any(s < 1 for s in steps) or steps != sorted(set(steps)):
        raise argparse.ArgumentTypeError(f"{text!r}: increasing positive step counts, e.g. 450,900,1350")
    return steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="voc_animals", choices=sorted(configs.PRESETS))
    parser.add_argument("--out", required=True, help="JSON file; FILE.md and FILE.png go beside it")
    parser.add_argument("--workdir", default=None, help="default: runs/curves-<preset>")
    parser.add_argument("--data_dir", default=None, help="converted data (default: the preset's)")
    parser.add_argument("--curves", default="segmenter,seeder,saliency",
                        help="comma-separated: segmenter, seeder, saliency")
    parser.add_argument("--segmenter_steps", type=steps_list, default=steps_list("450,900,1350,2700"),
                        help="segmenter curve: training steps of each point, increasing")
    parser.add_argument("--seeder_steps", type=steps_list, default=steps_list("600,1200,2400"),
                        help="seeder curve: training steps of each point, increasing")
    parser.add_argument("--saliency_steps", type=steps_list, default=steps_list("600,1200,2400"),
                        help="saliency curve: training steps of each point, increasing")
    parser.add_argument("--strategy", default="mirrored", help="tf.distribute strategy, as train_main.py")
    parser.add_argument("--override", action="append", default=[], help="section.field=value, repeatable")
    args = parser.parse_args()
    wanted = set(args.curves.split(","))
    if not wanted or wanted - {"segmenter", *GUIDE_INPUTS}:
        parser.error(f"--curves={args.curves!r}: comma-separated segmenter, seeder, saliency")
    saliency_method = base_config(args).saliency.method
    if "saliency" in wanted and saliency_method != "net":
        parser.error(f"--curves=saliency: preset {args.preset} trains no saliency net "
                     f"(saliency.method={saliency_method})")
    args.workdir = args.workdir or os.path.join("runs", f"curves-{args.preset}")
    result = {"preset": args.preset, "workdir": args.workdir, "overrides": args.override,
              **stored_result(args.out, args.preset, args.override)}
    configure_cpu_threads()
    start = time.time()
    stem = os.path.splitext(args.out)[0]

    def save(result):
        result["wall_seconds"] = round(time.time() - start, 1)
        files.atomic_write_json(args.out, result)
        files.atomic_write_text(stem + ".md", markdown(result) + "\n")
        imageio.write_image(stem + ".png", figure(result))

    if "segmenter" in wanted:
        segmenter_curve(args, result, save)
    for section in GUIDE_INPUTS:
        if section in wanted:
            guide_input_curve(args, result, save, section)
    save(result)
    print(markdown(result))
    print(f"wrote {args.out}, {stem}.md, {stem}.png in {result['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
