"""Runs a stage after the stages it needs, like make: a finished stage (done.json) is reused."""

import os
import shutil
import time

from tfguided import files
from tfguided.models.interface import LAST_LAYER
from tfguided.stages import summaries, table
from tfguided.stages.context import Context, describe
from tfguided.stages.table import dependencies, trains_a_network
from tfguided.train.strategy import worker_task

LOG = "log.txt"  # each stage's console output, appended run after run

STAGES = tuple(table.STAGES)  # the CLI's --stage choices
target_stage = table.target_stage


def stage_help():
    """'name = what it makes; ...' of every stage, for --help."""
    return "; ".join(f"{entry.name} = {entry.doc}" for entry in table.TABLE)


def ensure(ctx, stage, log=print):
    """Builds `stage` and whatever it needs; returns its results dict.

    Args:
      ctx: the run's stages.context.Context.
      stage: the stage's name (table.STAGES).
      log: where the progress lines go.
    Returns:
      The stage's results: its runner's dict with "seconds", or the finished stage's (done.json).
    """
    for dep in dependencies(ctx, stage):
        ensure(ctx, dep, log)
    for dep in table.previous_round(ctx, stage):
        ensure(ctx.previous_round(), dep, log)
    if not ctx.is_chief:
        return ensure_as_worker(ctx, stage, log)
    entry = table.stage(stage)
    if entry.writes_data:
        if not ctx.generate_data:
            return entry.runner(ctx)
        with files.exclusive_lock(ctx.data_dir, f"stage {stage}"):
            return entry.runner(ctx)
    directory = ctx.stage_dir(stage)
    if ctx.is_done(stage):
        log(f"[{stage}] reusing {directory}")
        return ctx.results(stage)
    ctx.write_config(stage)
    with files.exclusive_lock(directory, f"stage {stage}"), files.console_copy(os.path.join(directory, LOG)):
        if ctx.is_done(stage):  # finished by the process that held the lock before
            log(f"[{stage}] reusing {directory}")
            return ctx.results(stage)
        log(f"[{stage}] running into {directory} (console copied to {LOG})")
        start = time.time()
        results = table.stage(stage).runner(ctx, directory)
        results["seconds"] = round(time.time() - start, 1)
        summaries.write(directory, ctx.stage_name(stage), results,
                        ctx.relevant_values(stage, ctx.config.to_dict()))
        ctx.mark_done(stage, results)
        log(f"[{stage}] done in {results['seconds']:.0f} s: {describe(results)}")
    return results


def ensure_as_worker(ctx, stage, log):
    """A multi_worker run's other workers: a network stage is trained together with the chief,
    in a scratch folder deleted afterwards (the stage's work after training is the chief's); a
    per-image stage's images are shared with the chief (stages/parts.py: this task writes its
    part into the stage directory, the chief merges), and so are the photos of the data stage's
    conversion (stages/data.py); any other stage is the chief's, waited for.

    Args:
      ctx, stage, log: as `ensure`.
    Returns:
      The chief's results of `stage` (Context.wait_done).
    """
    entry = table.stage(stage)
    if entry.writes_data:
        if ctx.generate_data:
            entry.runner(ctx)  # this task's part of each set still to convert (stages/data.py)
        return ctx.wait_done(stage, log=log)
    if not (entry.per_image or trains_a_network(ctx, stage)) or ctx.is_done(stage):
        return ctx.wait_done(stage, log=log)
    task_type, task_id = worker_task(ctx.cluster())
    if entry.per_image:
        part = ctx.part()
        log(f"[{stage}] part {part.index + 1} of {part.count} ({task_type} {task_id}) into {ctx.stage_dir(stage)}")
        entry.runner(ctx, ctx.stage_dir(stage))
        return ctx.wait_done(stage, log=log)
    scratch = os.path.join(ctx.stage_dir(stage), f".{task_type}-{task_id}")
    log(f"[{stage}] training with the chief ({task_type} {task_id}; scratch {scratch})")
    entry.runner(ctx, scratch)  # on failure the scratch keeps the worker's checkpoint for the rerun
    shutil.rmtree(scratch, ignore_errors=True)
    return ctx.wait_done(stage, log=log)


def dry_run(config, stage, data_dir=None):
    """The resolved configuration and a summary of every network `stage` builds, as text; with
    self-training rounds, each round's guide and segmenter directories in build order. The
    classes are checked against the data where it is known (`data_dir`, or the source to convert).

    Args:
      config: the run's configs.Config.
      stage: the stage asked for (table.STAGES).
      data_dir: the converted data, or None when the data stage would make it.
    Returns:
      The text to print.
    """
    lines = [config.to_json(), ""]
    ctx = Context(config, workdir="<dry run>", data_dir=data_dir)
    rounds = [ctx]
    while rounds[0].config.self_training.rounds > 1:
        rounds.insert(0, rounds[0].previous_round())
    if len(rounds) > 1:
        lines += [f"self-training round {k}: {c.stage_name('guide')} -> {c.stage_name('segmenter')}"
                  for k, c in enumerate(rounds, 1)]
    for name in table.networks_for(ctx, stage):
        model = table.stage(name).build(config)
        if model is None:
            continue  # nothing to build: a baseline seeder, or MB+ saliency
        outputs = {layer.name: tuple(layer.output.shape) for layer in model.layers if layer.name == LAST_LAYER}
        lines.append(f"{name}: {model.name}, input {tuple(model.input.shape)}, output "
                     f"{tuple(model.output.shape)}, {LAST_LAYER} {outputs.get(LAST_LAYER)}, "
                     f"{model.count_params():,} parameters")
    return "\n".join(lines)
