"""Guide-stage and input-pipeline throughput on a preset's real data:
python bench/throughput.py --preset=voc_mini --workdir=runs/voc_mini --out=FILE.json
    [--override=guide.crf.downscale=2 ...] [--measure=input]

  guide     the guide stage's labelling loop (CAM seeds from the trained seeder, the saliency,
            G2 with its dense CRF on the images at their own size) over the training split:
            images/s, images/s per core (the goal: >= 25 on VOC-size images), the same
            after the first image (without loading the models and starting the worker
            processes: the rate on a long split), and the labels' quality against the ground
            truth (so a faster setting shows what it costs)
  labelling the per-image CPU work alone (`label_example`: decoding, CAM seeds, saliency
            threshold, G2 and its dense CRF) in one worker process per core, on the network
            outputs made beforehand: images/s per core after the first image. This is what the
            cores do on a GPU machine, where the networks run on the GPU; the `guide` figure
            also counts the networks on this machine's CPU. Median of --repeats passes (with
            their range: identical passes vary by up to 40% on a shared 2-core VM); then the
            same through tf.data (guide.labeller=tf_data: Dataset.map with tf.numpy_function in
            this process), for the labellers that run there
  input     the segmenter's tf.data training batches drawn alone (batches/s), against the
            training step consuming an in-memory batch (steps/s): their ratio (goal: >= 5)
  step      where a training step's seconds go, for the segmenter and the seeder
            (`step_profile`): in memory, forward alone, steps_per_execution=10, XLA,
            mixed_bfloat16, the real input, the callbacks, by op type, the segmenter's per-epoch
            val-mIoU monitor

Builds (or reuses) the workdir's guide stage and what it needs; prints the figures and writes
them as JSON.
"""

import argparse
import collections
import functools
import json
import os
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from tfguided import configs, files, parallel, registry  # noqa: E402
from tfguided.data import records  # noqa: E402
from tfguided.eval import metrics  # noqa: E402
from tfguided.guide import dataset, label  # noqa: E402
from tfguided.stages import guide, pipeline, seeder, segmenter, training  # noqa: E402
from tfguided.stages.context import Context  # noqa: E402
from tfguided.train import loop, losses, optim  # noqa: E402
from tfguided.train.strategy import configure_cpu_threads  # noqa: E402


def guide_throughput(ctx):
    """One pass of the guide stage's labelling over the training split: (images, seconds, seconds
    to the first labelled image (models loaded, worker processes started), quality); quality:
    the guide stage's supervision figures (quality.json)."""
    count = records.split_count(ctx.target_dir, ctx.config.data.train_split)
    stats = metrics.GuideStats(ctx.config.num_classes + 1)
    start = time.time()
    for done, item in enumerate(guide.labelled(ctx, ctx.config.data.train_split), 1):
        if done == 1:
            first = time.time() - start
        if item["gt"] is not None:
            stats.add(item["gt"], item["guide"], item["foreground"])
    assert done == count
    return done, time.time() - start, first, stats.results()


def labelling_rates(ctx, repeats, labellers):
    """{labeller: images/s of the guide stage's per-image labelling alone, after the first image,
    one figure per pass}, with the network outputs of the training split made beforehand; the
    labellers: processes (parallel.ordered_map) and tf_data (guide/dataset.py labelled_items)."""
    items = list(guide.network_outputs(ctx, ctx.config.data.train_split))
    args = functools.partial(label.label_args, guide_cfg=ctx.config.guide)
    streams = {"processes": lambda: parallel.ordered_map(label.label_example, items, args),
               "tf_data": lambda: dataset.labelled_items(iter(items), ctx.config.guide)}
    rates = {}
    for labeller in labellers:
        rates[labeller] = []
        for _ in range(repeats):
            for done, _ in enumerate(streams[labeller](), 1):
                if done == 1:
                    start = time.time()
            rates[labeller].append((done - 1) / (time.time() - start))
    return rates


def input_ratio(ctx, batches=60):
    """(pipeline batches/s, training steps/s) for the segmenter at its preset batch size."""
    data = training.batches(ctx, "segmenter", segmenter.training_data(ctx))
    iterator = iter(data)
    next(iterator)  # fill the cache and the prefetch buffer first
    start = time.time()
    for _ in range(batches):
        next(iterator)
    pipeline_rate = batches / (time.time() - start)
    seconds, _ = timed_steps(ctx, "segmenter", data.take(1).cache().repeat(), max(10, batches // 4))
    return pipeline_rate, 1 / seconds


# The trained nets a step profile can take: section -> (net, loss, training examples) of a context.
TRAINEES = {
    "segmenter": (lambda ctx: segmenter.build(ctx.config, ctx.config.num_classes),
                  lambda ctx: losses.segmentation_loss(ctx.config.segmenter.net), segmenter.training_data),
    "seeder": (lambda ctx: seeder.build(ctx.config, ctx.config.num_classes), lambda ctx: losses.multilabel_loss(),
               lambda ctx: seeder.training_data(ctx, "seeder")),
}


def timed_steps(ctx, section, data, steps, precision="float32", jit_compile="auto", steps_per_execution=1,
                callbacks=()):
    """(seconds per training step of `section`'s net over `steps` steps after 5 to trace and
    warm up, the net) for `data` under these compile settings and Keras `callbacks`."""
    build, loss, _ = TRAINEES[section]
    with loop.precision_policy(precision):
        net = build(ctx)
        net.compile(optim.build_optimizer(getattr(ctx.config, section).train), loss(ctx), jit_compile=jit_compile,
                    steps_per_execution=steps_per_execution)
    warm = max(5, steps_per_execution)
    net.fit(data, steps_per_epoch=warm, epochs=1, shuffle=False, verbose=0, callbacks=list(callbacks))
    start = time.time()
    net.fit(data, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0, callbacks=list(callbacks))
    return (time.time() - start) / steps, net


def op_types(net, data, steps, top=12):
    """{"op <type>": seconds per step} of the `top` op types by self time over `steps` training
    steps of the compiled `net` on `data`, from TensorFlow's profiler (its framework_op_stats
    tool), and the rest as "op other" (the dataset's and the idle time left out)."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        net.fit(data, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
        tf.profiler.experimental.stop()
        paths = [os.path.join(d, n) for d, _, names in os.walk(logdir) for n in names if n.endswith(".xplane.pb")]
        table, ok = plugin.xspace_to_tools_data(paths, "framework_op_stats", {})
    if not ok:
        raise RuntimeError(f"TensorFlow's profiler: {table[:200]!r}")
    table = json.loads(table)[0]
    columns = [c["id"] for c in table["cols"]]
    seconds = collections.Counter()
    for row in table["rows"]:
        row = dict(zip(columns, (c.get("v") for c in row["c"])))
        if row["type"] not in ("IDLE", "Dataset"):
            seconds[row["type"]] += row["total_self_time"] / 1e6 / steps
    ranked = seconds.most_common()
    return {**{f"op {name}": value for name, value in ranked[:top]}, "op other": sum(v for _, v in ranked[top:])}


def step_profile(ctx, section, steps=40):
    """Where a training step's time goes for `section` (TRAINEES; the preset's net and batch):
    the step on one in-memory batch (forward, backward, update), its forward pass alone, Keras'
    per-step overhead (steps_per_execution=10), XLA on the CPU (over steps // 4: it compiles
    long), bfloat16 (AMX/AVX512-BF16 CPUs), the real input pipeline and the training loop's
    callbacks, the in-memory step's time by op type (`op_types`) and, for the segmenter, the
    per-epoch val-mIoU monitor. Seconds per step (per epoch for the monitor), each alone."""
    data = training.batches(ctx, section, TRAINEES[section][2](ctx))
    one = data.take(1).cache().repeat()
    images, _ = next(iter(one))
    profile = {}
    profile["step_in_memory"], net = timed_steps(ctx, section, one, steps)
    forward = tf.function(lambda x: net(x, training=False))
    forward(images)
    start = time.time()
    for _ in range(steps):
        forward(images).numpy()
    profile["forward_only"] = (time.time() - start) / steps
    profile["step_steps_per_execution_10"], _ = timed_steps(ctx, section, one, steps, steps_per_execution=10)
    profile["step_xla"], _ = timed_steps(ctx, section, one, max(5, steps // 4), jit_compile=True)
    profile["step_mixed_bfloat16"], _ = timed_steps(ctx, section, one, steps, precision="mixed_bfloat16")
    profile["step_real_input"], _ = timed_steps(ctx, section, data, steps)
    profile["step_real_input_and_callbacks"], _ = timed_steps(
        ctx, section, data, steps, callbacks=(loop.StopOnNaN(section), loop.StopAtStep(10 ** 9), loop.StepTimer()))
    profile.update(op_types(net, one, steps=10))
    for monitor in segmenter.monitors(ctx) if section == "segmenter" else ():
        callback = monitor(net)
        callback.miou()
        start = time.time()
        callback.miou()
        profile["val_miou_monitor_per_epoch"] = time.time() - start
    return {k: round(v, 4) for k, v in profile.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="voc_mini")
    parser.add_argument("--workdir", default=None, help="default: runs/<preset>")
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--out", default=None, help="JSON file for the figures")
    parser.add_argument("--repeats", type=int, default=3, help="passes of the labelling-alone figure")
    parser.add_argument("--override", action="append", default=[],
                        help="section.field=value on top of the preset (repeatable), as train_main.py")
    parser.add_argument("--measure", default="guide,labelling,input",
                        help="which figures (module docstring): guide, labelling, input, step, or a list")
    args = parser.parse_args()
    measure = set(args.measure.split(","))
    if not measure or measure - {"guide", "labelling", "input", "step"}:
        parser.error(f"--measure={args.measure!r}: guide, labelling, input, step or a comma-separated list")
    configure_cpu_threads()
    cfg = configs.override(configs.preset(args.preset), args.override)
    ctx = Context(cfg, args.workdir or os.path.join("runs", args.preset), args.data_dir)
    pipeline.ensure(ctx, "guide")  # the seeder and saliency, and the shards the segmenter reads
    cores = parallel.cpu_count()
    figures = {"preset": args.preset, "overrides": args.override, "cores": cores, "guide": cfg.guide.strategy}
    if "guide" in measure:
        images, seconds, first, quality = guide_throughput(ctx)
        figures.update({
            "guide_images": images, "guide_seconds": round(seconds, 1),
            "guide_images_per_s": round(images / seconds, 2),
            "guide_images_per_s_per_core": round(images / seconds / cores, 2),
            "guide_seconds_to_first_image": round(first, 1),
            "guide_images_per_s_after_first": round((images - 1) / (seconds - first), 2),
            "guide_images_per_s_per_core_after_first": round((images - 1) / (seconds - first) / cores, 2),
            "guide_quality": {k: round(v, 2) for k, v in quality.items() if k != "images"}})
    if "labelling" in measure:
        labellers = ["processes"] + (["tf_data"] if cfg.guide.strategy in registry.GUIDES.where(in_tf_data=True)
                                     else [])
        for labeller, rates in labelling_rates(ctx, args.repeats, labellers).items():
            key = "labelling" if labeller == "processes" else f"labelling_{labeller}"
            figures.update({
                f"{key}_images_per_s": round(statistics.median(rates), 2),
                f"{key}_images_per_s_per_core": round(statistics.median(rates) / cores, 2),
                f"{key}_images_per_s_per_core_range": [round(min(rates) / cores, 2), round(max(rates) / cores, 2)]})
    if "input" in measure:
        pipeline_rate, step_rate = input_ratio(ctx)
        figures.update({"input_batches_per_s": round(pipeline_rate, 2), "train_steps_per_s": round(step_rate, 2),
                        "input_to_step_ratio": round(pipeline_rate / step_rate, 1),
                        "segmenter_batch": cfg.segmenter.train.batch_size})
    if "step" in measure:
        figures["step_seconds"] = {section: step_profile(ctx, section) for section in TRAINEES}
    print(json.dumps(figures, indent=2))
    if args.out:
        files.atomic_write_json(args.out, figures)


if __name__ == "__main__":
    main()
