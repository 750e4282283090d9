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

Builds (or reuses) the workdir's guide stage and what it needs; prints the figures and writes
them as JSON.
"""

import argparse
import functools
import json
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfguided import configs, files, parallel, registry  # noqa: E402
from tfguided.data import records  # noqa: E402
from tfguided.eval import metrics  # noqa: E402
from tfguided.guide import dataset, label  # noqa: E402
from tfguided.stages import guide, pipeline, segmenter, training  # noqa: E402
from tfguided.stages.context import Context  # noqa: E402
from tfguided.train import losses, optim  # noqa: E402
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
    cfg = ctx.config.segmenter
    data = training.batches(ctx, "segmenter", segmenter.training_data(ctx))
    iterator = iter(data)
    next(iterator)  # fill the cache and the prefetch buffer first
    start = time.time()
    for _ in range(batches):
        next(iterator)
    pipeline_rate = batches / (time.time() - start)
    net = segmenter.build(ctx.config, ctx.config.num_classes)
    net.compile(optim.build_optimizer(cfg.train), losses.segmentation_loss(cfg.net))
    one = data.take(1).cache().repeat()
    net.fit(one, steps_per_epoch=5, epochs=1, shuffle=False, verbose=0)  # trace and warm up
    start = time.time()
    steps = max(10, batches // 4)
    net.fit(one, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
    return pipeline_rate, steps / (time.time() - start)


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
                        help="which figures (module docstring): guide, labelling, input, or a list")
    args = parser.parse_args()
    measure = set(args.measure.split(","))
    if not measure or measure - {"guide", "labelling", "input"}:
        parser.error(f"--measure={args.measure!r}: guide, labelling, input or a comma-separated list")
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
    print(json.dumps(figures, indent=2))
    if args.out:
        files.atomic_write_json(args.out, figures)


if __name__ == "__main__":
    main()
