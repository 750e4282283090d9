"""Stage `data`: the converted target set and saliency set of this run.

With --data_dir both are converted already (python -m tfrecords_tools SOURCE): the stage checks
they are there. Without, the workdir's data folder is made: each set from its source
(data.target_source / data.saliency_source, registry.SOURCES) at its root folder, e.g. the real
photos of ../shared/data for the `voc_mini` and `voc_animals` presets, or the embedded demo data,
generated and converted by the same converters as real data. The saliency set only when the
saliency method reads one (the paper's net; not MB+).
"""

import os

from tfguided import registry
from tfguided.data import records

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
        source.from_config(cfg, role, out_dir, ctx.data_dir)
    counts = {f"{role}/{split}": entry["count"] for role, d in dirs.items()
              for split, entry in records.read_manifest(d)["splits"].items()}
    ctx.class_names()  # checks the class count against the preset
    return counts
