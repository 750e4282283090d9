"""Learning curves on a preset: where more training stops paying.

  python bench/learning_curves.py --preset=voc_animals --out=bench/results_voc_animals_curves.json

  segmenter  val mIoU without / with CRF of the segmenters trained on G2 and on the ground truth
             (gt) at --segmenter_steps (the preset's seeder, saliency net and guide)
  seeder     the seeder's val mAP and the G2 pseudo-label mIoU on train at --seeder_steps (the
             preset's saliency net)

Each point scales the preset's step decay with its steps (decay_every * steps / preset steps), so
every point ends at the same learning rate; everything else is the preset's. Every point is a
stage of the workdir (default runs/curves-<preset>), so a rerun reuses what an earlier one
finished and an interrupted run resumes. Writes FILE.json, FILE.md (the tables) and FILE.png
(the curves), and prints, per curve, the gain from each point to the next.
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


def segmenter_curve(args):
    """{guide: [{steps, miou, miou_crf, seconds}]} for guides g2 and gt."""
    preset = base_config(args).segmenter.train
    curve = {}
    for guide in ("g2", "gt"):
        curve[guide] = []
        for steps in args.segmenter_steps:
            ctx = context(args, guide, *schedule(preset, "segmenter", steps))
            metrics = pipeline.ensure(ctx, "evaluate", log)
            curve[guide].append({"steps": steps, "miou": metrics["miou"], "miou_crf": metrics["miou_crf"],
                                 "seconds": ctx.results("segmenter")["seconds"]})
    return curve


def seeder_curve(args):
    """[{steps, val_map, pseudo_label_miou, seconds}]: the seeder and the G2 guide it gives."""
    preset = base_config(args).seeder.train
    rows = []
    for steps in args.seeder_steps:
        ctx = context(args, "g2", *schedule(preset, "seeder", steps))
        pipeline.ensure(ctx, "guide", log)
        seeder = ctx.results("seeder")
        rows.append({"steps": steps, "val_map": seeder["val_map"],
                     "pseudo_label_miou": ctx.results("guide").get("pseudo_label_miou"),
                     "seconds": seeder["seconds"]})
    return rows


def step_gains(points, key):
    """[(steps, next steps, gain)] for each pair of consecutive points that both have `key`."""
    return [(a["steps"], b["steps"], b[key] - a[key]) for a, b in zip(points, points[1:])
            if a.get(key) is not None and b.get(key) is not None]


def fmt(v):
    return "-" if v is None else f"{v:.1f}"


def markdown(result):
    out = [f"# Learning curves on preset {result['preset']}", ""]
    if "segmenter" in result:
        out += ["## Segmenter (val)", "", "| segmenter steps | G2 mIoU | G2 +CRF | gt mIoU | gt +CRF | "
                "G2 / gt (CRF) | G2 s | gt s |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for g2, gt in zip(result["segmenter"]["g2"], result["segmenter"]["gt"]):
            out.append(f"| {g2['steps']} | {fmt(g2['miou'])} | {fmt(g2['miou_crf'])} | {fmt(gt['miou'])} | "
                       f"{fmt(gt['miou_crf'])} | {100 * g2['miou_crf'] / gt['miou_crf']:.1f}% | "
                       f"{g2['seconds']:.0f} | {gt['seconds']:.0f} |")
        out.append("")
    if "seeder" in result:
        out += ["## Seeder", "", "| seeder steps | val mAP | G2 pseudo-label mIoU (train) | s |",
                "|---:|---:|---:|---:|"]
        for row in result["seeder"]:
            out.append(f"| {row['steps']} | {fmt(row['val_map'])} | {fmt(row['pseudo_label_miou'])} | "
                       f"{row['seconds']:.0f} |")
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
    if "seeder" in result:
        out += [("seeder val mAP", result["seeder"], "val_map"),
                ("G2 pseudo-label mIoU", result["seeder"], "pseudo_label_miou")]
    return out


def figure(result):
    charts = []
    if "segmenter" in result:
        for key, title in (("miou", "val mIoU"), ("miou_crf", "val mIoU + CRF")):
            charts.append((title, "segmenter steps", "%", {
                guide: ([p["steps"] for p in points], [p[key] for p in points])
                for guide, points in result["segmenter"].items()}))
    if "seeder" in result:
        points = result["seeder"]
        charts.append(("seeder", "seeder steps", "%", {
            "seeder val mAP": ([p["steps"] for p in points], [p["val_map"] for p in points]),
            "G2 pseudo-label mIoU": ([p["steps"] for p in points], [p["pseudo_label_miou"] for p in points])}))
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
    parser.add_argument("--curves", default="segmenter,seeder", help="segmenter, seeder or both")
    parser.add_argument("--segmenter_steps", type=steps_list, default=steps_list("450,900,1350,2700"),
                        help="segmenter curve: training steps of each point, increasing")
    parser.add_argument("--seeder_steps", type=steps_list, default=steps_list("600,1200,2400"),
                        help="seeder curve: training steps of each point, increasing")
    parser.add_argument("--strategy", default="mirrored", help="tf.distribute strategy, as train_main.py")
    parser.add_argument("--override", action="append", default=[], help="section.field=value, repeatable")
    args = parser.parse_args()
    wanted = set(args.curves.split(","))
    if not wanted or wanted - {"segmenter", "seeder"}:
        parser.error(f"--curves={args.curves!r}: segmenter, seeder or segmenter,seeder")
    args.workdir = args.workdir or os.path.join("runs", f"curves-{args.preset}")
    configure_cpu_threads()
    start = time.time()
    result = {"preset": args.preset, "workdir": args.workdir, "overrides": args.override}
    if "segmenter" in wanted:
        result["segmenter"] = segmenter_curve(args)
    if "seeder" in wanted:
        result["seeder"] = seeder_curve(args)
    result["wall_seconds"] = round(time.time() - start, 1)
    stem = os.path.splitext(args.out)[0]
    files.atomic_write_json(args.out, result)
    files.atomic_write_text(stem + ".md", markdown(result) + "\n")
    imageio.write_image(stem + ".png", figure(result))
    print(markdown(result))
    print(f"wrote {args.out}, {stem}.md, {stem}.png in {result['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
