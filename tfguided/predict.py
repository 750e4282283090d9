"""Label photos with an exported segmenter: VOC-palette PNG label maps and overlays.

    python -m tfguided.predict --model=runs/demo/export-g2/saved_model --out=pred [--crf=deeplab] IMAGES...

Needs only TensorFlow, OpenCV and (for --crf) pydensecrf: the model is the SavedModel of
`train_main.py --stage=export`. For each image: <out>/<name>.png (palette label map, the VOC
devkit's format, readable by `python -m tfguided.evaluate`) and <out>/<name>_overlay.jpg.
"""

import os
import sys

import numpy as np
import tensorflow as tf
from absl import app, flags

from tfguided import files
from tfguided.data import imageio, labelmap

flags.DEFINE_string("model", None, "SavedModel directory written by --stage=export.")
flags.DEFINE_string("out", "predictions", "Folder for <name>.png label maps and <name>_overlay.jpg.")
flags.DEFINE_enum("crf", None, ["deeplab", "sec"], "Refine with a dense CRF (parameter set, supp. C.1).")
flags.DEFINE_integer("crf_iterations", 10, "Mean-field iterations of the CRF.")
flags.DEFINE_float("alpha", 0.5, "Opacity of the label colours in the overlay.")
FLAGS = flags.FLAGS


def load(path):
    """(the loaded model, whose `serve` maps uint8 [H, W, 3] to a dict of labels and
    probabilities; the class names). Keep the model referenced while serving: its variables
    go with it."""
    if not os.path.exists(os.path.join(path, "saved_model.pb")):
        raise FileNotFoundError(f"--model={path}: not a SavedModel directory (make one with "
                                f"train_main.py --stage=export)")
    with open(os.path.join(path, "class_names.txt")) as f:
        class_names = f.read().split()
    return tf.saved_model.load(path), class_names


def overlay(image, labels, alpha):
    """The image with each non-background label's colour blended in (background left as is)."""
    colours = labelmap.colorize(labels).astype(np.float32)
    blend = np.where((labels > 0)[..., None], (1 - alpha) * image + alpha * colours, image)
    return blend.round().astype(np.uint8)


def predict_file(model, path, out_dir, crf=None, crf_iterations=10, alpha=0.5):
    """Labels one image file; returns the label map (uint8 [H, W]) after writing both outputs."""
    _, image = imageio.read_image(path)
    result = model.serve(tf.constant(image))
    labels = result["labels"].numpy()
    if crf:
        from tfguided.crf import crf_labels  # pydensecrf only when asked for

        labels = crf_labels(image, result["probabilities"].numpy(), crf, crf_iterations)
    stem = os.path.join(out_dir, os.path.splitext(os.path.basename(path))[0])
    files.atomic_write_bytes(stem + ".png", labelmap.encode_label_png(labels))
    imageio.write_image(stem + "_overlay.jpg", overlay(image, labels, alpha))
    return labels


def main(argv):
    images = argv[1:]
    if not FLAGS.model or not images:
        print("usage: python -m tfguided.predict --model=DIR [--out=DIR] [--crf=deeplab] IMAGES...",
              file=sys.stderr)
        return 2
    try:
        model, class_names = load(FLAGS.model)
        for path in images:
            labels = predict_file(model, path, FLAGS.out, FLAGS.crf, FLAGS.crf_iterations, FLAGS.alpha)
            found = [class_names[c] for c in np.unique(labels) if 0 < c < len(class_names)]
            print(f"{path}: {', '.join(found) or 'background only'}")
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    app.run(main)
