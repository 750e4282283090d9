"""Builds the saliency net shipped with the package (--saliency=pretrained) and measures it.

    python bench/pretrained_saliency.py --workdir=runs/pretrained_saliency [--out=FILE.json]

Trains the voc_animals preset's saliency net (MobileNet v1 alpha 0.25 from its ImageNet file,
LargeFOV head, 600 steps on 224 px crops) on ../shared/data/voc12_animals/saliency_msra: GrabCut
masks of one box around the main object of each of 484 VOC photos that hold none of the five
animal classes (the paper's §6.1 protocol), so scoring it on voc12_animals' val photos stays a
fair test. Copies its model.keras to tfguided/weights/saliency_mobilenet025.keras, then scores
the shipped net and MB+ on the 305 val photos (mean foreground IoU against the animals, share of
photos above 0.6, the foreground at 30% of the image's max as the preset uses it, the mirror view
averaged in) and prints the figures as JSON. The net is stored without its optimizer state.
"""

import argparse
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tfguided import cli  # noqa: E402

cli.import_tensorflow_quietly()

import keras  # noqa: E402

import tfguided.saved_models  # noqa: E402,F401  (the saliency net's classes)
from tfguided import configs, files  # noqa: E402
from tfguided.stages import guide, pipeline, saliency  # noqa: E402
from tfguided.stages.context import Context  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(REPO, "runs", "pretrained_saliency"))
    parser.add_argument("--out", default=None, help="JSON file for the figures")
    args = parser.parse_args()
    subprocess.run([sys.executable, os.path.join(REPO, "train_main.py"), "--preset=voc_animals", "--stage=saliency",
                    f"--workdir={args.workdir}"], check=True, cwd=REPO)
    trained = keras.saving.load_model(os.path.join(args.workdir, "saliency", "model.keras"), compile=False)
    with files.atomic_path(saliency.SHIPPED) as tmp:
        trained.save(tmp)  # the net alone: loaded uncompiled, it carries no optimizer state
    ctx = Context(configs.override(configs.preset("voc_animals"), ["saliency.method=pretrained"]), args.workdir)
    pipeline.ensure(ctx, "data", log=lambda m: None)
    quality = guide.saliency_quality(ctx)
    figures = {"weights": os.path.relpath(saliency.SHIPPED, REPO), "weights_sha256": files.sha256_file(saliency.SHIPPED),
               "weights_bytes": os.path.getsize(saliency.SHIPPED), **quality}
    print(json.dumps(figures, indent=2))
    if args.out:
        files.atomic_write_json(args.out, figures)


if __name__ == "__main__":
    main()
