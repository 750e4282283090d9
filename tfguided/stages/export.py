"""Stage `export`: the trained segmenter as a SavedModel for serving.

Three endpoints, the network run at segmenter.net.scale with evaluate.tta's test-time views
and its cells mapped back with its geometry, exactly as in the evaluation:
  serve(image)            uint8 RGB [H, W, 3], any size -> labels uint8 [H, W] (argmax),
                          probabilities float32 [H, W, C]
  serve_batch(images)     uint8 RGB [N, H, W, 3], one size -> labels [N, H, W], probabilities
  serve_encoded(encoded)  string [N] of JPEG, PNG, GIF, BMP or WebP files, any sizes (a TF
                          Serving client's batch) -> labels_png string [N]: each label map as a
                          grayscale index PNG
Wrong input is refused before the network runs, with one message naming the endpoint, the input
and what the endpoint takes (the first line of the op's error text, under TensorFlow's fixed
"Graph execution error" header): channels other than 3, H or W = 0, for serve_batch N = 0, and
for serve_encoded a file that does not start as a JPEG, PNG, GIF, BMP or WebP file does (named
by its index). Each endpoint has one trace, for its uint8 (string) input: TensorFlow itself
refuses another dtype or rank, naming both in its TypeError ("Can not cast TensorSpec(...,
dtype=tf.float32) to TensorSpec(..., dtype=tf.uint8)"); a trace per refused dtype would give a
one-line message, but then a loaded endpoint retraces every new image size (measured: 9-13 s and
+240 MB for 60 sizes against 0.4 s), which no long-running server can afford.
It needs TensorFlow only (`tf.saved_model.load`); `class_names.txt` sits beside it. Written to a
temporary directory and renamed, so an interrupted export leaves no half model.
"""

import functools
import os
import shutil

import keras
import tensorflow as tf

from tfguided import files
from tfguided.data import imageio
from tfguided.inference import probabilities_fn
from tfguided.train import loop

SAVED_MODEL = "saved_model"
IMAGE_FILE = "a JPEG, PNG, GIF, BMP or WebP file"
FILE_SIGNATURES = (((0, b"\xff\xd8\xff"),), ((0, b"\x89PNG"),), ((0, b"GIF8"),), ((0, b"BM"),),
                   ((0, b"RIFF"), (8, b"WEBP")))  # each format's (offset, bytes) in IMAGE_FILE's order
ENDPOINTS = {  # name: (the input it takes, which is its serving signature; that input in words)
    "serve": (tf.TensorSpec([None, None, None], tf.uint8, name="images"),
              "uint8 RGB [H, W, 3] with H, W >= 1"),
    "serve_batch": (tf.TensorSpec([None, None, None, None], tf.uint8, name="images"),
                    "uint8 RGB [N, H, W, 3] with N, H, W >= 1"),
    "serve_encoded": (tf.TensorSpec([None], tf.string, name="images"), f"a string [N], each {IMAGE_FILE}"),
}


def _checked(tensor, *rules):
    """`tensor` once each (condition, message) rule held, checked in order: the first one failing
    is the error."""
    checks = []
    for condition, message in rules:
        with tf.control_dependencies(checks):
            checks = [tf.debugging.Assert(condition, [message], name="check_input")]
    with tf.control_dependencies(checks):
        return tf.identity(tensor)


def _text(*parts):
    """A string tensor: `parts` (str or integer tensors) joined."""
    return tf.strings.join([p if isinstance(p, str) else tf.strings.as_string(p) for p in parts])


def _checked_pixels(endpoint, images):
    """`images` (uint8 [H, W, C] or [N, H, W, C]) once RGB and not empty, as the network takes."""
    shape = tf.shape(images)
    rules = []
    if images.shape.rank == 4:
        rules.append((shape[0] > 0, f"{endpoint}: empty batch (N = 0): give at least one image"))
    rules.append((tf.equal(shape[-1], 3), _text(
        f"{endpoint}: expected RGB images with 3 channels, got ", shape[-1],
        " (drop an alpha channel with image[..., :3]; repeat a grey one 3 times)")))
    rules.append((tf.reduce_all(shape[-3:-1] > 0), _text(
        f"{endpoint}: images must be {ENDPOINTS[endpoint][1]}; got shape [",
        tf.strings.reduce_join(tf.strings.as_string(shape), separator=", "), "]")))
    return tf.ensure_shape(_checked(images, *rules), [None] * (images.shape.rank - 1) + [3])


def _checked_files(encoded):
    """`encoded` (string [N]) once each file starts as one of IMAGE_FILE's formats does (the
    decoder's own error names neither the file nor the endpoint)."""
    head = tf.strings.join([tf.strings.substr(encoded, 0, 12), b"\0" * 12])
    known = functools.reduce(tf.logical_or, [
        functools.reduce(tf.logical_and, [tf.equal(tf.strings.substr(head, offset, len(magic)), magic)
                                          for offset, magic in parts])
        for parts in FILE_SIGNATURES])
    n = tf.size(encoded)
    first_unknown = tf.reduce_min(tf.where(known, n, tf.range(n)))
    return _checked(encoded, (tf.reduce_all(known), _text(
        "serve_encoded: images[", first_unknown, f"] is not {IMAGE_FILE}")))


def _endpoint(name, fn):
    """`fn` as endpoint `name`'s tf.function with its one input signature (ENDPOINTS), which is
    also its serving signature; `fn`'s argument name is kept for keyword calls."""
    return tf.function(functools.wraps(fn)(lambda images: fn(images)), input_signature=[ENDPOINTS[name][0]],
                       autograph=False)


def serving_fns(model, scale, scales=(1.0,), flip=False):
    """The endpoints' tf.functions by name (module docstring).

    Args:
      model: the trained segmenter.
      scale: the scale the network runs at, as trained (segmenter.net.scale).
      scales, flip: the test-time views (inference.probabilities_fn), as in the evaluation.
    Returns:
      {endpoint name: its tf.function with its one input signature (ENDPOINTS)}.
    """
    probabilities = probabilities_fn(model, scale, scales, flip)

    def labelled(images):
        probs = probabilities(tf.cast(images, tf.float32))
        return {"labels": tf.cast(tf.argmax(probs, axis=-1), tf.uint8), "probabilities": probs}

    def one(image):
        return {k: v[0] for k, v in labelled(image[None]).items()}

    def serve(image):
        return one(_checked_pixels("serve", image))

    def serve_batch(images):
        return labelled(_checked_pixels("serve_batch", images))

    def serve_encoded(encoded):
        def png(data):
            return tf.io.encode_png(one(imageio.decode_tf(data))["labels"][..., None])
        return {"labels_png": tf.map_fn(png, _checked_files(encoded), fn_output_signature=tf.string)}
    fns = {"serve": serve, "serve_batch": serve_batch, "serve_encoded": serve_encoded}
    return {name: _endpoint(name, fn) for name, fn in fns.items()}


def export(model, scale, class_names, path, scales=(1.0,), flip=False):
    """Writes the SavedModel of `model` to `path` (replacing it) with `class_names.txt`.

    Args:
      model, scale, scales, flip: as `serving_fns`.
      class_names: the label names, background first.
      path: the SavedModel's directory.
    Returns:
      `path`.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, fn in serving_fns(model, scale, scales, flip).items():
        archive.add_endpoint(name, fn)
    tmp = path + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    archive.write_out(tmp, verbose=False)
    files.atomic_write_text(os.path.join(tmp, "class_names.txt"), "".join(n + "\n" for n in class_names))
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)
    return path


def run(ctx, out_dir):
    """Exports the segmenter stage's model as a SavedModel (module docstring) into
    out_dir/saved_model, with the evaluation's test-time views (evaluate.tta).

    Args:
      ctx: the run's stages.context.Context.
      out_dir: the stage directory.
    Returns:
      {"path": the SavedModel's absolute path}.
    """
    model = loop.load_model(ctx.stage_dir("segmenter"))
    tta = ctx.config.evaluate.tta
    path = export(model, ctx.config.segmenter.net.scale, ctx.class_names(), os.path.join(out_dir, SAVED_MODEL),
                  tta.scales, tta.flip)
    print(f"export: SavedModel in {path} (endpoints serve: uint8 image [H, W, 3] -> labels, "
          f"probabilities; serve_batch: [N, H, W, 3]; serve_encoded: image files -> label "
          f"PNGs); predict with: python -m tfguided.predict --model={path} IMAGES...")
    return {"path": os.path.abspath(path)}
