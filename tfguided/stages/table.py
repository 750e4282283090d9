"""The stage table: one entry per stage, from which everything about the stage graph is derived.

An entry names the config sections (or single `section.field`s) the stage itself reads, the
stages it may come after (their sections count too: a directory name changes when anything it
was built from changes), the stages a run actually needs, the data it reads, whether it trains
a network, its runner and, for a network, its builder. Derived here: the dependency walk, the
sections a directory name and the reuse check compare, the directories the data fingerprint
covers, the CLI's --stage choices and the dry run's networks. A new stage is one entry.
"""

import dataclasses

from tfguided import registry
from tfguided.stages import data, evaluate, export, guide, saliency, seed_eval, seeder, segmenter


def _never(ctx):
    return False


def _always(ctx):
    return True


@dataclasses.dataclass(frozen=True)
class Stage:
    """One entry of the stage table (module docstring); the functions take the run's Context."""
    name: str
    doc: str                # what it makes, for --help
    reads: tuple            # config sections, or section.field read for this stage's own artifacts only
    unnamed: tuple = ()     # fields it reads that never name a directory (how many panels, what to watch)
    after: tuple = ()       # every stage it may need: their sections are part of its own
    needs: object = None    # ctx -> the stages this run needs first (default: all of `after`)
    data: object = None     # ctx -> the converted data directories it reads itself
    trains: object = _never  # ctx -> whether it trains a network (multi_worker: all workers run it)
    runner: object = None   # (ctx, out_dir) -> results dict
    build: object = None    # config -> its Keras network, or None when there is none to build
    previous_round: object = None  # ctx -> the stages of the previous self-training round it needs
    then: str = None        # asking for this stage builds that one after it (segmenter: its evaluation)
    writes_data: bool = False  # the data stage: writes the data directories (done once their manifests
                               # are there), not a stage directory of its own
    per_image: bool = False  # its images are shared by the cluster's tasks (stages/parts.py)


def _target(ctx):
    return [ctx.target_dir]


def _target_and_saliency_sets(ctx):
    return [ctx.target_dir] + ([ctx.saliency_dir] if ctx.needs_saliency_set else [])


def _saliency_needs(ctx):
    return ("data", "seeder") if ctx.saliency_filters_targets else ("data",)


def _saliency_data(ctx):
    """A saliency net trains on the saliency set; MB+ maps are made of the training images."""
    return [ctx.saliency_dir] if ctx.needs_saliency_set else [ctx.target_dir]


def _guide_needs(ctx):
    if ctx.guide_strategy == registry.GROUND_TRUTH:
        raise ValueError("--guide=gt trains on the ground truth: there is no guide stage to run")
    if ctx.config.self_training.rounds > 1:
        return ("data",)  # and the previous round's segmenter (_previous_segmenter)
    needs = tuple(n for n in registry.GUIDES[ctx.guide_strategy]["needs"] if n != "masks")
    if "seeder" in needs and registry.SEEDERS[ctx.config.seeder.arch]["kind"] != "gap":
        raise ValueError(f"--seeder={ctx.config.seeder.arch} is for --stage=seed_eval (Table 1); "
                         f"guides take their seeds from a GAP seeder")
    return needs + (("data",) if not needs else ())


def _previous_segmenter(ctx):
    """A self-training round's guide is made by the previous round's segmenter."""
    return ("segmenter",) if ctx.config.self_training.rounds > 1 else ()


def _build_seeder(cfg):
    return seeder.build(cfg, cfg.num_classes) if registry.SEEDERS[cfg.seeder.arch]["kind"] == "gap" else None


def _build_saliency(cfg):
    return saliency.build(cfg) if registry.SALIENCY[cfg.saliency.method]["trains"] else None


TABLE = (
    Stage("data", "convert or generate the target and saliency sets", reads=("data",), runner=data.run,
          writes_data=True),
    Stage("seeder", "the GAP classifier whose class maps give the seeds", reads=("num_classes", "seeder"),
          after=("data",), data=_target, trains=_always, runner=seeder.run, build=_build_seeder),
    Stage("classifier", "the VGG-16 classifier (for G1 and the backprop seeders)",
          reads=("num_classes", "classifier"), after=("data",), data=_target, trains=_always,
          runner=seeder.run_classifier, build=lambda cfg: seeder.build_classifier(cfg, cfg.num_classes)),
    Stage("saliency", "the class-agnostic saliency (a net trained on boxes, or MB+ maps)", reads=("saliency",),
          after=("data", "seeder"), needs=_saliency_needs,
          data=_saliency_data, trains=lambda ctx: registry.SALIENCY[ctx.config.saliency.method]["trains"],
          runner=saliency.run, build=_build_saliency),
    Stage("guide", "guide labels for every training image", reads=("num_classes", "guide", "self_training"),
          unnamed=("guide.strategy", "guide.panels", "guide.labeller"), after=("seeder", "classifier", "saliency"),
          needs=_guide_needs, data=_target_and_saliency_sets, runner=guide.run,
          previous_round=_previous_segmenter, per_image=True),
    Stage("segmenter", "the DeepLab segmenter trained on the guide (then its evaluation)",
          reads=("num_classes", "segmenter"), unnamed=("segmenter.monitor_images",), after=("guide",),
          needs=lambda ctx: ("data",) if ctx.guide_strategy == registry.GROUND_TRUTH else ("guide",), data=_target,
          trains=_always, runner=segmenter.run, build=lambda cfg: segmenter.build(cfg, cfg.num_classes),
          then="evaluate"),
    Stage("evaluate", "mIoU with and without dense CRF on the eval split", reads=("evaluate",),
          unnamed=("evaluate.panels",), after=("segmenter",), data=_target, runner=evaluate.run, per_image=True),
    Stage("seed_eval", "the seeder's precision-recall curves, mP and mAP (Table 1, Figure 3)",
          reads=("seeder", "guide.tau", "guide.seed_tta"), after=("seeder", "classifier"),  # tau: panels
          needs=lambda ctx: ("classifier",) if registry.SEEDERS[ctx.config.seeder.arch]["kind"] == "backprop"
          else ("seeder",),
          runner=seed_eval.run, per_image=True),
    Stage("export", "the segmenter as a SavedModel (uint8 image of any size -> labels, probabilities)",
          reads=("evaluate.tta",), after=("segmenter",), runner=export.run),
)
STAGES = {stage.name: stage for stage in TABLE}
NOT_IN_NAMES = tuple(field for entry in TABLE for field in entry.unnamed)


def target_stage(name):
    """The stage a request for `name` ends with: its `then` stage if it has one."""
    return stage(name).then or name


def stage(name):
    """The table entry of stage `name`, or a ValueError naming the --stage choices."""
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
    """Whether stage `name` trains a network in this run (multi_worker: every worker runs it)."""
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
