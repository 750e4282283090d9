"""The stage table: one entry per stage, from which everything about the stage graph is derived.

An entry names the config sections (or single `section.field`s) the stage itself reads, the
stages it may come after (their sections count too: a directory name changes when anything it
was built from changes), the stages a run actually needs, the data it reads, whether it trains
a network, its runner and, for a network, its builder. Derived here: the dependency walk, the
sections a directory name and the reuse check compare, the directories the data fingerprint
covers, the CLI's --stage choices and the dry run's networks. A new stage is one entry.
"""

import dataclasses

from tfguided.guide.label import GUIDE_NEEDS
from tfguided.seeds import backprop
from tfguided.stages import data, evaluate, export, guide, saliency, seed_eval, seeder, segmenter


def _never(ctx):
    return False


def _always(ctx):
    return True


@dataclasses.dataclass(frozen=True)
class Stage:
    name: str
    reads: tuple            # config sections, or section.field read for this stage's own artifacts only
    after: tuple = ()       # every stage it may need: their sections are part of its own
    needs: object = None    # ctx -> the stages this run needs first (default: all of `after`)
    data: object = None     # ctx -> the converted data directories it reads itself
    trains: object = _never  # ctx -> whether it trains a network (multi_worker: all workers run it)
    runner: object = None   # (ctx, out_dir) -> results dict
    build: object = None    # config -> its Keras network, or None when there is none to build
    previous_round: object = None  # ctx -> the stages of the previous self-training round it needs


def _voc(ctx):
    return [ctx.voc_dir]


def _voc_and_saliency_set(ctx):
    return [ctx.voc_dir] + ([ctx.msra_dir] if ctx.needs_msra else [])


def _saliency_needs(ctx):
    return ("data", "seeder") if ctx.saliency_filters_targets else ("data",)


def _saliency_data(ctx):
    """The saliency net trains on the saliency set; MB+ maps are made of the training images."""
    return [ctx.msra_dir] if ctx.needs_msra else [ctx.voc_dir]


def _guide_needs(ctx):
    if ctx.guide_strategy == "gt":
        raise ValueError("--guide=gt trains on the ground truth: there is no guide stage to run")
    if ctx.config.self_training.rounds > 1:
        return ("data",)  # and the previous round's segmenter (_previous_segmenter)
    needs = GUIDE_NEEDS[ctx.guide_strategy]
    if "seeder" in needs and not ctx.config.seeder.arch.startswith("gap_"):
        raise ValueError(f"--seeder={ctx.config.seeder.arch} is for --stage=seed_eval (Table 1); "
                         f"guides take their seeds from a GAP seeder")
    return needs


def _previous_segmenter(ctx):
    """A self-training round's guide is made by the previous round's segmenter."""
    return ("segmenter",) if ctx.config.self_training.rounds > 1 else ()


def _build_seeder(cfg):
    return seeder.build(cfg, cfg.num_classes) if cfg.seeder.arch.startswith("gap_") else None


def _build_saliency(cfg):
    return saliency.build(cfg) if cfg.saliency.method == "net" else None


TABLE = (
    Stage("data", reads=("data",)),
    Stage("seeder", reads=("num_classes", "seeder"), after=("data",), data=_voc,
          trains=_always, runner=seeder.run, build=_build_seeder),
    Stage("classifier", reads=("num_classes", "classifier"), after=("data",), data=_voc, trains=_always,
          runner=seeder.run_classifier, build=lambda cfg: seeder.build_classifier(cfg, cfg.num_classes)),
    Stage("saliency", reads=("saliency",), after=("data", "seeder"), needs=_saliency_needs,
          data=_saliency_data, trains=lambda ctx: ctx.config.saliency.method == "net", runner=saliency.run,
          build=_build_saliency),
    Stage("guide", reads=("num_classes", "guide", "self_training"), after=("seeder", "classifier", "saliency"),
          needs=_guide_needs, data=_voc_and_saliency_set, runner=guide.run,
          previous_round=_previous_segmenter),
    Stage("segmenter", reads=("num_classes", "segmenter"), after=("guide",),
          needs=lambda ctx: ("data",) if ctx.guide_strategy == "gt" else ("guide",), data=_voc,
          trains=_always, runner=segmenter.run, build=lambda cfg: segmenter.build(cfg, cfg.num_classes)),
    Stage("evaluate", reads=("evaluate",), after=("segmenter",), data=_voc, runner=evaluate.run),
    Stage("seed_eval", reads=("seeder", "guide.tau", "guide.seed_tta"), after=("seeder", "classifier"),  # tau: panels
          needs=lambda ctx: ("classifier",) if ctx.config.seeder.arch in backprop.METHODS else ("seeder",),
          runner=seed_eval.run),
    Stage("export", reads=("evaluate.tta",), after=("segmenter",), runner=export.run),
)
STAGES = {stage.name: stage for stage in TABLE}
RUN_DATA = data.run  # the data stage writes the data directories, not a stage directory


def stage(name):
    if name not in STAGES:
        raise ValueError(f"--stage={name!r}: choose one of {', '.join(STAGES)}")
    return STAGES[name]


def dependencies(ctx, name):
    """The stages `name` needs in this run, built first."""
    entry = stage(name)
    return tuple(entry.needs(ctx)) if entry.needs else entry.after


def previous_round(ctx, name):
    """The stages of the previous self-training round `name` needs (built in that round's context)."""
    entry = stage(name)
    return tuple(entry.previous_round(ctx)) if entry.previous_round else ()


def relevant_sections(ctx, name):
    """The sections this run of `name` depends on: its own, and those of the stages it needs
    (in this round and the previous one)."""
    needed = [(ctx, dep) for dep in dependencies(ctx, name)]
    needed += [(ctx.previous_round(), dep) for dep in previous_round(ctx, name)]
    inherited = [s for c, dep in needed for s in relevant_sections(c, dep) if "." not in s]
    return tuple(dict.fromkeys(inherited + list(stage(name).reads)))


def per_guide(name):
    """Whether the guide strategy is part of `name`'s directory: the guide and what comes after it."""
    return name == "guide" or any(per_guide(dep) for dep in stage(name).after)


def data_dirs(ctx, name):
    """The converted data `name` was built from: its own, then that of the stages it needs."""
    entry = stage(name)
    own = entry.data(ctx) if entry.data else []
    return list(dict.fromkeys(own + [d for dep in dependencies(ctx, name) for d in data_dirs(ctx, dep)]))


def trains_a_network(ctx, name):
    return stage(name).trains(ctx)


def networks_for(ctx, name):
    """The stages with a network to build that `name` needs, itself included, in build order
    (from `dependencies`, so a dry run refuses what a real run would)."""
    order = []

    def visit(current):
        for dep in dependencies(ctx, current):
            visit(dep)
        if stage(current).build and current not in order:
            order.append(current)

    visit(name)
    return order
