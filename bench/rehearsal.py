"""Paper-scale rehearsal: the `voc12` preset end to end on real photos at full size.

  python bench/rehearsal.py --out=rehearsal.json [--steps=4] [--images=24] [--workdir=DIR]

The paper's networks at the paper's sizes (BUILD_NOTES.md): the VGG-16 GAP-HighRes seeder at 321,
batch 15; the DeepLab-v2 ResNet-101 saliency net at 321, batch 15, trained on the GrabCut masks
of `../shared/data/voc12_animals/saliency_msra` (484 boxes, MSRA layout) after the seeder's
target filter; G2 at the paper's tau and threshold; DeepLab-v1 LargeFOV at 321, batch 15, scored
at full size with the CRF; the export. Only the step counts are cut (`--steps` per net, the
learning-rate decay after the last) and the photos (`--images` train and val photos of
`../shared/data/voc12_mini`, ~500 x 375), and the nets start random: no VGG-16 or ResNet-101
weight file is offline (the preset's 'imagenet' would download). The random ResNet-101 saliency
net trains at a learning rate of RANDOM_RESNET_LR: at the paper's 1e-3, with its frozen BatchNorm
layers lacking ImageNet statistics, it diverges by its fourth step (speed and memory do not
depend on the rate); the seeder keeps the paper's, so its target filter still finds photos.

Each stage runs in a process of its own, so its peak resident memory is its own (os.wait4).
Writes per stage: success, wall seconds, peak memory; per trained net: seconds per step (median
after the first, loop.StepTimer), forward GFLOPs per image at its training size (TensorFlow's
profiler) and per training step (x3 for the backward pass, x batch), parameters. BENCHMARKS.md
turns them into estimates for the paper's 8,000 iterations.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfguided import configs, files  # noqa: E402

STAGES = ("data", "seeder", "saliency", "guide", "segmenter", "evaluate", "export")
TRAINED = ("seeder", "saliency", "segmenter")
BACKWARD_FACTOR = 3  # a training step ~ forward + backward (2x forward): the usual estimate
RANDOM_RESNET_LR = 1e-6


def subset_voc(voc_root, out, images):
    """A VOC2012 folder of the first `images` ids of voc_root's train and val lists (symlinked
    pictures and masks), so the chain runs on a few full-size photos."""
    os.makedirs(os.path.join(out, "ImageSets", "Segmentation"), exist_ok=True)
    for folder in ("JPEGImages", "SegmentationClass"):
        link = os.path.join(out, folder)
        if not os.path.islink(link):
            os.symlink(os.path.join(voc_root, folder), link)
    for split in ("train", "val"):
        with open(os.path.join(voc_root, "ImageSets", "Segmentation", f"{split}.txt")) as f:
            ids = f.read().split()[:images]
        files.atomic_write_text(os.path.join(out, "ImageSets", "Segmentation", f"{split}.txt"),
                                "".join(i + "\n" for i in ids))
    return out


def overrides(voc_root, labels_tsv, msra_root, steps):
    out = [f"data.target_source=voc", f"data.target_root={voc_root}", f"data.labels_tsv={labels_tsv}",
           f"data.saliency_source=msra", f"data.saliency_root={msra_root}",
           "data.train_split=train"]
    for net in ("seeder", "classifier", "saliency", "segmenter"):
        out += [f"{net}.net.init=random", f"{net}.train.steps={steps}",
                f"{net}.train.steps_per_epoch={steps}", f"{net}.train.decay_every={steps}"]
    return out + [f"saliency.train.learning_rate={RANDOM_RESNET_LR}"]


def config(assignments, preset="voc12"):
    return configs.override(configs.preset(preset), assignments)


def run_stage(stage, workdir, assignments, preset):
    """Builds `stage` (its predecessors already built) in a child process; (returncode, wall
    seconds, peak resident MiB of that process, its output's tail)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--_stage", stage, "--workdir", workdir,
           "--preset", preset, "--_overrides", json.dumps(assignments)]
    start = time.time()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        seconds = time.time() - start
        log.seek(0)
        tail = log.read()[-3000:]
    return proc.returncode, seconds, usage.ru_maxrss / 1024, tail


def build_in_this_process(stage, workdir, assignments, preset):
    from tfguided.stages import pipeline
    from tfguided.stages.context import Context
    from tfguided.train.strategy import configure_cpu_threads
    configure_cpu_threads()
    ctx = Context(config(assignments, preset), workdir)
    print(json.dumps(pipeline.ensure(ctx, stage), default=str))


def forward_gflops(model, size):
    """GFLOPs of one forward pass of `model` on one size x size image (TensorFlow's profiler:
    multiply-adds count 2)."""
    import tensorflow as tf
    from tensorflow.python.profiler import model_analyzer, option_builder
    concrete = tf.function(lambda x: model(x, training=False), autograph=False).get_concrete_function(
        tf.TensorSpec([1, size, size, 3], tf.float32))
    options = option_builder.ProfileOptionBuilder(
        option_builder.ProfileOptionBuilder.float_operation()).with_empty_output().build()
    return model_analyzer.profile(concrete.graph, options=options).total_float_ops / 1e9


def network_figures(cfg):
    """Per trained net: parameters and GFLOPs (forward per image, per training step)."""
    from tfguided.stages import table
    out = {}
    for name in TRAINED:
        section = getattr(cfg, name)
        model = table.stage(name).build(cfg)
        forward = forward_gflops(model, section.net.input_size)
        out[name] = {"model": model.name, "input_size": section.net.input_size,
                     "batch_size": section.train.batch_size, "parameters": model.count_params(),
                     "forward_gflops_per_image": forward,
                     "train_gflops_per_step": BACKWARD_FACTOR * forward * section.train.batch_size}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="JSON file of the figures")
    parser.add_argument("--workdir", default=None, help="default: a fresh temporary folder")
    parser.add_argument("--steps", type=int, default=4, help="training steps per network")
    parser.add_argument("--images", type=int, default=24, help="train and val photos of voc12_mini each")
    parser.add_argument("--preset", default="voc12", help="the paper's preset (tests: tiny-sized stand-ins)")
    parser.add_argument("--voc_root", default=configs.shared_data("voc12_mini", "VOC2012"))
    parser.add_argument("--labels_tsv", default=configs.shared_data("voc12_lists", "image_labels.tsv"))
    parser.add_argument("--msra_root", default=configs.shared_data("voc12_animals", "saliency_msra"))
    parser.add_argument("--override", action="append", default=[], help="section.field=value, repeatable")
    parser.add_argument("--_stage", help=argparse.SUPPRESS)
    parser.add_argument("--_overrides", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._stage:
        return build_in_this_process(args._stage, args.workdir, json.loads(args._overrides), args.preset)
    if not args.out:
        parser.error("--out is required")
    for path in (args.voc_root, args.labels_tsv, args.msra_root):
        if not os.path.exists(path):
            parser.error(f"{path}: not found (the rehearsal reads real photos from ../shared/data)")
    workdir = args.workdir or tempfile.mkdtemp(prefix="rehearsal-")
    voc = subset_voc(args.voc_root, os.path.join(workdir, "voc_subset"), args.images)
    assignments = overrides(voc, args.labels_tsv, args.msra_root, args.steps) + args.override
    cfg = config(assignments, args.preset)
    result = {"preset": args.preset, "steps": args.steps, "images": args.images, "workdir": workdir,
              "networks": network_figures(cfg), "stages": {}}
    start = time.time()
    for stage in STAGES:
        code, seconds, peak_mib, tail = run_stage(stage, os.path.join(workdir, "work"), assignments, args.preset)
        result["stages"][stage] = {"ok": code == 0, "seconds": round(seconds, 1), "peak_mib": round(peak_mib)}
        print(f"{stage}: {'ok' if code == 0 else 'FAILED'} in {seconds:.0f} s, peak {peak_mib:.0f} MiB", flush=True)
        if code != 0:
            result["stages"][stage]["error"] = tail
            print(tail)
            break
    from tfguided.stages.context import Context
    ctx = Context(cfg, os.path.join(workdir, "work"))
    for name in TRAINED:
        if result["stages"].get(name, {}).get("ok"):
            result["networks"][name]["seconds_per_step"] = ctx.results(name)["seconds_per_step"]
    if result["stages"].get("evaluate", {}).get("ok"):
        result["evaluate"] = {k: ctx.results("evaluate")[k] for k in ("miou", "miou_crf")}
    result["success"] = all(s["ok"] for s in result["stages"].values()) and len(result["stages"]) == len(STAGES)
    result["wall_seconds"] = round(time.time() - start, 1)
    files.atomic_write_json(args.out, result)
    for name, net in result["networks"].items():
        print(f"{name}: {net['model']} at {net['input_size']}, batch {net['batch_size']}: "
              f"{net['parameters']:,} parameters, {net['forward_gflops_per_image']:.1f} GFLOPs forward per "
              f"image, {net['train_gflops_per_step']:.0f} per training step, "
              f"{net.get('seconds_per_step') or float('nan'):.2f} s per step here")
    print(f"chain {'succeeded' if result['success'] else 'FAILED'} in {result['wall_seconds']:.0f} s; "
          f"wrote {args.out}")
    return 0 if result["success"] else 1


if __name__ == "__main__":
    sys.exit(main())
