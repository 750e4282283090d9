"""Wall time of the demo, end to end, per stage: python bench/end_to_end.py [--preset=demo] [--guide=g2].

Runs `train_main.py --stage=segmenter` in a fresh workdir (so every stage runs), prints the wall
time and each stage's own seconds (from its done.json) and mIoU, and writes them as JSON.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--guide", default="g2")
    parser.add_argument("--workdir", default=None, help="default: a new temporary directory")
    parser.add_argument("--out", default=None, help="JSON file for the figures")
    args = parser.parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix=f"bench-{args.preset}-")
    start = time.time()
    subprocess.run([sys.executable, os.path.join(REPO, "train_main.py"), "--stage=segmenter",
                    f"--preset={args.preset}", f"--guide={args.guide}", f"--workdir={workdir}"],
                   check=True, cwd=REPO)
    wall = time.time() - start
    stages = {}
    for name in sorted(os.listdir(workdir)):
        done = os.path.join(workdir, name, "done.json")
        if os.path.exists(done):
            with open(done) as f:
                stages[name] = json.load(f)["results"].get("seconds")
    with open(os.path.join(workdir, f"evaluate-{args.guide}", "metrics.json")) as f:
        metrics = json.load(f)
    figures = {"preset": args.preset, "guide": args.guide, "wall_seconds": round(wall, 1),
               "stage_seconds": stages, "miou": metrics["miou"], "miou_crf": metrics["miou_crf"],
               "cpu_count": os.cpu_count(), "workdir": workdir}
    print(json.dumps(figures, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
