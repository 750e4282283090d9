"""Runs a stage after the stages it needs, like make: a finished stage (done.json) is reused."""

import os
import shutil
import time

from tfguided import configs

from tfguided.stages import data, evaluate, export, guide, saliency, seed_eval, seeder, segmenter
from tfguided.guide.label import GUIDE_NEEDS
from tfguided.seeds import backprop
from tfguided.stages.context import Context, describe
from tfguided.train.strategy import worker_task

RUNNERS = {"seeder": seeder.run, "classifier": seeder.run_classifier, "saliency": saliency.run,
           "guide": guide.run, "segmenter": segmenter.run, "evaluate": evaluate.run,
           "seed_eval": seed_eval.run, "export": export.run}
STAGES = ("data", "seeder", "classifier", "saliency", "guide", "segmenter", "evaluate", "seed_eval",
          "export")


def dependencies(ctx, stage):
    if stage == "data":
        return ()
    if stage == "saliency" and ctx.saliency_filters_targets:
        return ("data", "seeder")
    if stage in ("seeder", "classifier", "saliency"):
        return ("data",)
    if stage == "guide":
        if ctx.guide_strategy == "gt":
            raise ValueError("--guide=gt trains on the ground truth: there is no guide stage to run")
        needs = GUIDE_NEEDS[ctx.guide_strategy]
        if "seeder" in needs and not ctx.config.seeder.arch.startswith("gap_"):
            raise ValueError(f"--seeder={ctx.config.seeder.arch} is for --stage=seed_eval (Table 1); "
                             f"guides take their seeds from a GAP seeder")
        return needs
    if stage == "segmenter":
        return ("data",) if ctx.guide_strategy == "gt" else ("guide",)
    if stage in ("evaluate", "export"):
        return ("segmenter",)
    if stage == "seed_eval":
        return ("classifier",) if ctx.config.seeder.arch in backprop.METHODS else ("seeder",)
    raise ValueError(f"--stage={stage!r}: choose one of {', '.join(STAGES)}")


def trains_a_network(ctx, stage):
    return stage in ("seeder", "classifier", "segmenter") or (
        stage == "saliency" and ctx.config.saliency.method == "net")


def ensure(ctx, stage, log=print):
    """Builds `stage` and whatever it needs; returns its results dict."""
    for dep in dependencies(ctx, stage):
        ensure(ctx, dep, log)
    if not ctx.is_chief:
        return ensure_as_worker(ctx, stage, log)
    if stage == "data":
        return data.run(ctx)
    directory = ctx.stage_dir(stage)
    if ctx.is_done(stage):
        log(f"[{stage}] reusing {directory}")
        return ctx.results(stage)
    log(f"[{stage}] running into {directory}")
    start = time.time()
    ctx.write_config(stage)
    results = RUNNERS[stage](ctx, directory)
    results["seconds"] = round(time.time() - start, 1)
    ctx.mark_done(stage, results)
    log(f"[{stage}] done in {results['seconds']:.0f} s: {describe(results)}")
    return results


def ensure_as_worker(ctx, stage, log):
    """A multi_worker run's other workers: a network stage is trained together with the chief,
    in a scratch folder deleted afterwards (the stage's work after training is the chief's);
    any other stage is the chief's, waited for."""
    if not trains_a_network(ctx, stage) or ctx.is_done(stage):
        return ctx.wait_done(stage, log=log)
    task_type, task_id = worker_task(ctx.strategy())
    scratch = os.path.join(ctx.stage_dir(stage), f".{task_type}-{task_id}")
    log(f"[{stage}] training with the chief ({task_type} {task_id}; scratch {scratch})")
    RUNNERS[stage](ctx, scratch)  # on failure the scratch keeps the worker's checkpoint for the rerun
    shutil.rmtree(scratch, ignore_errors=True)
    return ctx.wait_done(stage, log=log)


NETWORK_BUILDERS = {
    "seeder": lambda cfg: seeder.build(cfg, cfg.num_classes),
    "classifier": lambda cfg: seeder.build_classifier(cfg, cfg.num_classes),
    "saliency": saliency.build,
    "segmenter": lambda cfg: segmenter.build(cfg, cfg.num_classes),
}


def networks_for(ctx, stage):
    """The trained networks `stage` needs, itself included, in build order (from `dependencies`,
    so a dry run refuses what a real run would)."""
    order = []

    def visit(name):
        for dep in dependencies(ctx, name):
            visit(dep)
        if name in NETWORK_BUILDERS and name not in order:
            order.append(name)

    visit(stage)
    return order


def dry_run(config, stage):
    """The resolved configuration and a summary of every network `stage` builds, as text."""
    lines = [config.to_json(), ""]
    for name in networks_for(Context(config, workdir="<dry run>"), stage):
        if (name == "seeder" and not config.seeder.arch.startswith("gap_")) or (
                name == "saliency" and config.saliency.method != "net"):
            continue  # nothing to build: a baseline, or MB+ saliency
        model = NETWORK_BUILDERS[name](config)
        outputs = {layer.name: tuple(layer.output.shape) for layer in model.layers if layer.name == "fc8"}
        lines.append(f"{name}: {model.name}, input {tuple(model.input.shape)}, output "
                     f"{tuple(model.output.shape)}, fc8 {outputs.get('fc8')}, "
                     f"{model.count_params():,} parameters")
    return "\n".join(lines)
