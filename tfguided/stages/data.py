"""Stage `data`: the converted target set and saliency set of this run.

With --data_dir both are converted already (python -m tfrecords_tools SOURCE): the stage checks
they are there. Without, the workdir's data folder is made: each set from its source
(data.target_source / data.saliency_source, registry.SOURCES) at its root folder, e.g. the real
photos of ../shared/data for the `voc_mini` and `voc_animals` presets, or the embedded demo data,
generated and converted by the same converters as real data. The saliency set only when the
saliency method reads one (the paper's net; not MB+).

On a multi-worker cluster every task converts its part of each set (records.converting_part:
the photos decoded and GrabCut run by N machines), and the chief merges the parts
(tfguided/data/merge.py) into the set one process would have written.
"""

import os
import shutil

from tfguided import registry
from tfguided.data import merge, records
from tfguided.stages import parts

ROLES = ("target", "saliency")


def role_source(data_cfg, role):
    """(source name, root folder) of the set playing `role` in the data section."""
    return getattr(data_cfg, f"{role}_source"), getattr(data_cfg, f"{role}_root")


def needed(ctx):
    """{role: converted folder} of the sets this run reads."""
    dirs = {"target": ctx.target_dir}
    if ctx.needs_saliency_set:
        dirs["saliency"] = ctx.saliency_dir
    return dirs


def run(ctx):
    """Checks the converted sets this run reads, or converts the missing ones from their sources
    (module docstring), then the class count against the preset. It has no stage directory: the
    sets go to ctx.target_dir and ctx.saliency_dir.

    Args:
      ctx: the run's stages.context.Context.
    Returns:
      {"<role>/<split>": number of examples} for every split of those sets.
    """
    cfg = ctx.config.data
    dirs = needed(ctx)
    missing = {role: d for role, d in dirs.items() if not os.path.exists(os.path.join(d, records.MANIFEST))}
    if missing and not ctx.generate_data:
        raise FileNotFoundError(
            f"--data_dir={ctx.data_dir}: no converted {' and no '.join(f'{r} set ({d})' for r, d in missing.items())}; "
            f"convert with python -m tfrecords_tools SOURCE --out=DIR (sources: "
            f"{', '.join(registry.SOURCES.names())}), the target set into --data_dir itself or its target/, "
            f"the saliency set into its saliency/")
    part = ctx.part()
    for role, out_dir in missing.items():
        name, root = role_source(cfg, role)
        if not name:
            raise FileNotFoundError(
                f"data.{role}_source is empty, so there is no {role} set: use --saliency=mbd, name one "
                f"with data.{role}_source and data.{role}_root, or convert one and pass --data_dir")
        source = registry.SOURCES.load(name)
        if source.from_config is None:
            raise ValueError(f"data.{role}_source={name}: converted by hand only (python -m tfrecords_tools "
                             f"{name} ...); pass the result with --data_dir")
        if part.count == 1:
            source.from_config(cfg, role, out_dir, ctx.data_dir)
        else:
            convert_part(ctx, part, role, out_dir, lambda: source.from_config(cfg, role, out_dir, ctx.data_dir))
    if not ctx.is_chief:
        return {}
    counts = {f"{role}/{split}": entry["count"] for role, d in dirs.items()
              for split, entry in records.read_manifest(d)["splits"].items()}
    ctx.class_names()  # checks the class count against the preset
    return counts


def convert_part(ctx, part, role, out_dir, convert):
    """A cluster task's share of converting the `role` set into `out_dir` (`convert` writes the
    whole set; within records.converting_part, only this task's part of it); the chief then
    waits for every task's part and merges them. A part a killed run left is converted again."""
    stale = os.path.join(out_dir, part.name)
    if os.path.isdir(stale):
        records.check_only_converted_data(stale)
        shutil.rmtree(stale)
    print(f"data: the {role} set, part {part.index + 1} of {part.count}, into {stale}")
    with records.converting_part(part):
        convert()
    if ctx.is_chief:
        parts.wait_until(lambda: merge.finished_parts(out_dir, part.count) == part.count or None,
                         f"the {part.count} parts of the {role} set in {out_dir}")
        merge.merge_parts(out_dir)
