"""The per-image stages on several loopback workers against one process (issue 23):
python bench/cluster.py --preset=tiny --workers=1,2            # the quick check, ~5 min
python bench/cluster.py --preset=demo --workers=1,2,4 --out=FILE.json
python bench/cluster.py --preset=demo --workers=1 --labellers=processes,tf_data   # the guide's labelling

Builds the preset's chain once in one process (`--stage=segmenter`: the seeder, the saliency,
the guide, the segmenter and its evaluation) in WORKDIR/one; then, for each worker count N,
copies it without the guide and evaluation directories and runs `--stage=guide`, then
`--stage=evaluate`, as N processes of a TF_CONFIG cluster on 127.0.0.1 (tfguided/loopback.py).
Checks that every guide record's bytes, the content fingerprint, quality.json and metrics.json
equal the one-process run's (exit status 1, naming what differs, when they do not), and prints,
per stage and task, the photos and seconds, with the critical path (the slowest task) against
the one-worker time / N. The machine's cores are shared by the N tasks here, so the seconds
show the split and the overhead, not a speed-up: BENCHMARKS.md models N machines from them.
With --labellers=...,tf_data the guide stage also runs with its labelling in tf.data
(guide.labeller=tf_data) per worker count, checked the same way, timed against the worker processes.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfguided import files, loopback  # noqa: E402
from tfguided.data import records  # noqa: E402

PART_LINE = re.compile(r"part (\d+) of (\d+): (\d+) images (?:labelled|scored) in ([\d.]+) s")
STAGES = ("guide", "evaluate")


def log(message):
    print(message, flush=True)


def stage_dir(workdir, stage):
    found = sorted(d for d in os.listdir(workdir) if d == stage or d.startswith(stage + "-"))
    if len(found) != 1:
        raise SystemExit(f"{workdir}: expected one {stage} directory, found {found}")
    return os.path.join(workdir, found[0])


def serialized(guide_dir):
    return [r for path in records.split_files(guide_dir, "train") for r in records.read_shard(path)[1]]


def differences(one, other, stages):
    """What differs between two workdirs' outputs of `stages` (empty: nothing)."""
    diffs = []
    guide_one, guide_other = stage_dir(one, "guide"), stage_dir(other, "guide")
    a, b = serialized(guide_one), serialized(guide_other)
    if a != b:
        k = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        diffs.append(f"{guide_other}: guide record {k} differs from {guide_one}'s ({len(b)} vs {len(a)} records)")
    if records.content_fingerprint(guide_one) != records.content_fingerprint(guide_other):
        diffs.append(f"{os.path.join(guide_other, records.MANIFEST)}: content fingerprint differs")
    for stage, name in (("guide", "quality.json"), ("evaluate", "metrics.json"))[:len(stages)]:
        path = os.path.join(stage_dir(other, stage), name)
        if files.read_json(path) != files.read_json(os.path.join(stage_dir(one, stage), name)):
            diffs.append(f"{path}: differs from the one-process run's")
    return diffs


def main_args(preset, workdir, stage, strategy, labeller="processes"):
    return [sys.executable, os.path.join(REPO, "train_main.py"), f"--stage={stage}", f"--preset={preset}",
            f"--workdir={workdir}", f"--strategy={strategy}", f"--override=guide.labeller={labeller}"]


def run_workers(preset, workdir, workers, stages, labeller):
    """Runs `stages` as `workers` tasks; {stage: {seconds, tasks: [{photos, seconds}]}}."""
    figures = {}
    for stage in stages:
        start = time.time()
        results = loopback.run_cluster(main_args(preset, workdir, stage, "multi_worker", labeller), workers,
                                       cwd=REPO)
        seconds = time.time() - start
        tasks = []
        for index, (returncode, output) in enumerate(results):
            if returncode:
                raise SystemExit(f"{stage}: task {index} of {workers} failed:\n{output[-3000:]}")
            (k, n, photos, task_seconds), = [m.groups() for m in PART_LINE.finditer(output)]
            assert (int(k), int(n)) == (index + 1, workers)
            tasks.append({"photos": int(photos), "seconds": float(task_seconds)})
        figures[stage] = {"seconds": round(seconds, 1), "tasks": tasks}
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny", help="the preset whose chain is built and shared")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--workdir", default=None, help="default runs/cluster-<preset>; the one-process "
                        "chain in WORKDIR/one is reused by a rerun")
    parser.add_argument("--out", default=None, help="write the figures here as JSON")
    parser.add_argument("--labellers", default="processes", help="guide.labeller values, comma-separated: "
                        "processes (evaluate run too), tf_data (the guide only)")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    workdir = os.path.abspath(args.workdir or os.path.join("runs", f"cluster-{args.preset}"))
    one = os.path.join(workdir, "one")
    log(f"one process: the {args.preset} chain in {one}")
    proc = subprocess.run(main_args(args.preset, one, "segmenter", "default"), cwd=REPO, capture_output=True,
                          text=True)
    if proc.returncode:
        raise SystemExit(f"the one-process chain failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    result, failed = {"preset": args.preset, "workers": {}}, False
    for labeller in args.labellers.split(","):
        stages = STAGES if labeller == "processes" else STAGES[:1]
        for workers in counts:
            key = str(workers) if labeller == "processes" else f"{workers} {labeller}"
            other = os.path.join(workdir, f"workers-{key.replace(' ', '-')}")
            shutil.rmtree(other, ignore_errors=True)
            shutil.copytree(one, other, ignore=lambda d, names: [n for n in names if d == one and
                                                                   n.split("-")[0].split(",")[0] in STAGES])
            log(f"{workers} worker(s), labeller {labeller}: {', '.join(stages)} in {other}")
            figures = run_workers(args.preset, other, workers, stages, labeller)
            diffs = differences(one, other, stages)
            figures["identical"] = not diffs
            result["workers"][key] = figures
            for stage in stages:
                tasks = figures[stage]["tasks"]
                log(f"  {stage}: {figures[stage]['seconds']:.0f} s in all; " + "; ".join(
                    f"task {k}: {t['photos']} photos in {t['seconds']:.1f} s" for k, t in enumerate(tasks)))
            for diff in diffs:
                log(f"  DIFFERS: {diff}")
            failed |= bool(diffs)
    base = result["workers"].get("1")
    if base:
        for key, figures in result["workers"].items():
            workers = int(key.split()[0])
            for stage in STAGES:
                if stage not in figures:
                    continue
                ideal = base[stage]["tasks"][0]["seconds"] / workers
                slowest = max(t["seconds"] for t in figures[stage]["tasks"])
                figures[stage]["critical_path_over_ideal"] = round(slowest / ideal, 2) if ideal else None
                log(f"{key} worker(s), {stage}: slowest task {slowest:.1f} s = "
                    f"{slowest / ideal:.2f} x (one worker's {ideal * workers:.1f} s with processes / {workers})")
    if args.out:
        files.atomic_write_json(args.out, result)
    log("outputs identical to one process" if not failed else "outputs DIFFER from one process")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
