"""Stage `export`: the trained segmenter as a SavedModel for serving (issue 5).

Three endpoints, the network run at segmenter.net.scale with evaluate.tta's test-time views
and its cells mapped back with its geometry, exactly as in the evaluation:
  serve(image)            uint8 RGB [H, W, 3], any size -> labels uint8 [H, W] (argmax),
                          probabilities float32 [H, W, C]
  serve_batch(images)     uint8 RGB [N, H, W, 3], one size -> labels [N, H, W], probabilities
  serve_encoded(images)   string [N] of JPEG/PNG files, any sizes (a TF Serving client's batch)
                          -> labels_png string [N]: each label map as a grayscale index PNG
Anything but 3 channels is refused with a message; float input does not match the uint8
signature (scale and cast photos to uint8 0..255 first).
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


def _rgb(images):
    """`images` after checking its last axis holds 3 channels (RGB)."""
    check = tf.debugging.assert_equal(tf.shape(images)[-1], 3, message=(
        "expected RGB images with 3 channels (drop an alpha channel with image[..., :3]; repeat "
        "a grey one 3 times)"))
    with tf.control_dependencies([check]):
        return tf.ensure_shape(tf.identity(images), [None, None, None, 3])


def serving_fns(model, scale, scales=(1.0,), flip=False):
    """The endpoints' functions (module docstring); `scales`, `flip`: test-time views."""
    probabilities = probabilities_fn(model, scale, scales, flip)

    def serve_batch(images):
        probs = probabilities(tf.cast(_rgb(images), tf.float32))
        return {"labels": tf.cast(tf.argmax(probs, axis=-1), tf.uint8), "probabilities": probs}

    def serve(image):
        return {k: v[0] for k, v in serve_batch(image[None]).items()}

    def serve_encoded(encoded):
        def one(data):
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
            return tf.io.encode_png(serve(tf.ensure_shape(image, [None, None, 3]))["labels"][..., None])
        return {"labels_png": tf.map_fn(one, encoded, fn_output_signature=tf.string)}
    return {"serve": (serve, [None, None, None], tf.uint8),
            "serve_batch": (serve_batch, [None, None, None, None], tf.uint8),
            "serve_encoded": (serve_encoded, [None], tf.string)}


def export(model, scale, class_names, path, scales=(1.0,), flip=False):
    """Writes the SavedModel of `model` to `path` (replacing it) with `class_names.txt`."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (fn, shape, dtype) in serving_fns(model, scale, scales, flip).items():
        archive.add_endpoint(name, fn, input_signature=[tf.TensorSpec(shape, dtype, name="images")])
    tmp = path + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    archive.write_out(tmp, verbose=False)
    files.atomic_write_text(os.path.join(tmp, "class_names.txt"), "".join(n + "\n" for n in class_names))
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)
    return path


def run(ctx, out_dir):
    model = loop.load_model(ctx.stage_dir("segmenter"))
    tta = ctx.config.evaluate.tta
    path = export(model, ctx.config.segmenter.net.scale, ctx.class_names(), os.path.join(out_dir, SAVED_MODEL),
                  tta.scales, tta.flip)
    print(f"export: SavedModel in {path} (endpoints serve: uint8 image [H, W, 3] -> labels, "
          f"probabilities; serve_batch: [N, H, W, 3]; serve_encoded: JPEG/PNG strings -> label "
          f"PNGs); predict with: python -m tfguided.predict --model={path} IMAGES...")
    return {"path": os.path.abspath(path)}
