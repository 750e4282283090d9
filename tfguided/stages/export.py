"""Stage `export`: the trained segmenter as a SavedModel for serving (issue 5).

The serving signature takes one uint8 RGB image [H, W, 3] of any size and returns `labels`
(uint8 [H, W], argmax) and `probabilities` (float32 [H, W, C]) at that size: the network runs
at segmenter.net.scale and its cells are mapped back with its geometry, as in the evaluation.
It needs TensorFlow only (`tf.saved_model.load`); `class_names.txt` sits beside it. Written to a
temporary directory and renamed, so an interrupted export leaves no half model.
"""

import os
import shutil

import keras
import tensorflow as tf

from tfguided import files
from tfguided.inference import probabilities_fn
from tfguided.train import loop

SAVED_MODEL = "saved_model"


def serving_fn(model, scale):
    """uint8 [H, W, 3] -> {"labels": uint8 [H, W], "probabilities": float32 [H, W, C]}."""
    probabilities = probabilities_fn(model, scale)

    def serve(image):
        probs = probabilities(tf.cast(image, tf.float32)[None])[0]
        return {"labels": tf.cast(tf.argmax(probs, axis=-1), tf.uint8), "probabilities": probs}
    return serve


def export(model, scale, class_names, path):
    """Writes the SavedModel of `model` to `path` (replacing it) with `class_names.txt`."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", serving_fn(model, scale),
                         input_signature=[tf.TensorSpec([None, None, 3], tf.uint8, name="image")])
    tmp = path + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    archive.write_out(tmp, verbose=False)
    files.atomic_write_text(os.path.join(tmp, "class_names.txt"), "".join(n + "\n" for n in class_names))
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)
    return path


def run(ctx, out_dir):
    model = loop.load_model(ctx.stage_dir("segmenter"))
    path = export(model, ctx.config.segmenter.net.scale, ctx.class_names(), os.path.join(out_dir, SAVED_MODEL))
    print(f"export: SavedModel in {path} (signature 'serve': uint8 image [H, W, 3] -> labels, "
          f"probabilities); predict with: python -m tfguided.predict --model={path} IMAGES...")
    return {"path": os.path.abspath(path)}
