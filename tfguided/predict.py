"""Label photos with an exported segmenter: VOC-palette PNG label maps and overlays.

    python -m tfguided.predict --model=runs/demo/export-g2/saved_model --out=pred [--crf=deeplab] \
        photo.jpg FOLDER 'shots/*.png' ...

Needs only TensorFlow, OpenCV and (for --crf) pydensecrf: the model is the SavedModel of
`train_main.py --stage=export`. Inputs are image files, folders (their images, not recursive) and
glob patterns. For each image: <out>/<name>.png (palette label map, the VOC devkit's format,
readable by `python -m tfguided.evaluate`) and <out>/<name>_overlay.jpg, where <name> is the
file's stem, or its path relative to the inputs' common folder (`a__x`) when two inputs share a
stem. <out>/predictions.tsv has a row for every input: `input`, `output` (<name>.png), `classes`
(the classes found, comma-separated) and `error` (empty, or why the file could not be read).

Predict never writes over an input nor reads its own outputs back: an --out folder holding an
input, or two inputs that would get one output name, is refused before anything is written.
An unreadable file (undecodable, truncated, over --max_pixels, gone) is skipped, the others are
labelled, and the skipped files are listed at the end. Exit status: 0 when every input was
labelled, 1 when some were skipped, 2 for a usage error (nothing labelled).
"""

import glob
import os
import sys

from tfguided import cli

cli.import_tensorflow_quietly()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from tfguided import files  # noqa: E402
from tfguided.data import imageio, labelmap  # noqa: E402
from tfguided.progress import progress_bar  # noqa: E402

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")  # what imageio.decode_tf reads

flags.DEFINE_string("model", None, "SavedModel directory written by --stage=export, or a glob pattern "
                    "matching exactly one (e.g. 'runs/custom/export-g2*/saved_model').")
flags.DEFINE_string("out", "predictions", "Folder for <name>.png label maps, <name>_overlay.jpg and "
                    "predictions.tsv; not a folder holding an input (the outputs would replace it).")
flags.DEFINE_enum("crf", None, ["deeplab", "sec"], "Refine with a dense CRF (parameter set, supp. C.1).")
flags.DEFINE_integer("crf_iterations", 10, "Mean-field iterations of the CRF.")
flags.DEFINE_float("alpha", 0.5, "Opacity of the label colours in the overlay.")
flags.DEFINE_integer("max_pixels", imageio.MAX_PIXELS, "Refuse images with more pixels than this "
                     "(a panorama or scan would need tens of GB); raise it for large photos.")
FLAGS = flags.FLAGS


def model_directory(path):
    """The SavedModel directory `path` names; a glob pattern (`runs/custom/export-g2*/saved_model`,
    which a shell leaves alone inside `--model=...`) must match exactly one."""
    if glob.has_magic(path):
        found = sorted(p for p in glob.glob(path) if os.path.exists(os.path.join(p, "saved_model.pb")))
        if len(found) != 1:
            raise FileNotFoundError(f"--model={path}: the pattern matches {len(found)} SavedModel directories"
                                    + (f" ({', '.join(found)}); name one" if found else
                                       " (make one with train_main.py --stage=export)"))
        return found[0]
    if not os.path.exists(os.path.join(path, "saved_model.pb")):
        raise FileNotFoundError(f"--model={path}: not a SavedModel directory (make one with "
                                f"train_main.py --stage=export)")
    return path


def load(path):
    """(the loaded model, whose `serve` maps uint8 [H, W, 3] to a dict of labels and
    probabilities; the class names) of the SavedModel `path` names (model_directory). Keep the
    model referenced while serving: its variables go with it."""
    path = model_directory(path)
    class_names = files.read_lines(os.path.join(path, "class_names.txt"))
    return tf.saved_model.load(path), class_names


def overlay(image, labels, alpha):
    """The image with each non-background label's colour blended in (background left as is)."""
    colours = labelmap.colorize(labels).astype(np.float32)
    blend = np.where((labels > 0)[..., None], (1 - alpha) * image + alpha * colours, image)
    return blend.round().astype(np.uint8)


def expand_inputs(args):
    """Image paths from files, folders and glob patterns, in the order given (a folder's and a
    pattern's images sorted); a name that matches nothing is an error."""
    paths = []
    for arg in args:
        if os.path.isdir(arg):
            found = sorted(os.path.join(arg, n) for n in os.listdir(arg) if n.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise FileNotFoundError(f"{arg}: folder holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        elif glob.has_magic(arg):
            found = sorted(p for p in glob.glob(arg) if os.path.isfile(p))
            if not found:
                raise FileNotFoundError(f"{arg}: pattern matches no file")
        elif os.path.isfile(arg):
            found = [arg]
        else:
            raise FileNotFoundError(f"{arg}: no such file or folder")
        paths += [p for p in found if p not in paths]
    return paths


def output_names(paths):
    """One unique output name per input path: its stem, or where stems clash, its path relative
    to the inputs' common folder with `__` for separators (and its extension if still clashing)."""
    stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    common = os.path.commonpath([os.path.abspath(os.path.dirname(p)) for p in paths])
    names = []
    for path, stem in zip(paths, stems):
        name = stem
        if stems.count(stem) > 1:
            relative, ext = os.path.splitext(os.path.relpath(os.path.abspath(path), common))
            name = relative.replace(os.sep, "__")
            if sum(os.path.splitext(os.path.relpath(os.path.abspath(p), common))[0] == relative
                   for p in paths) > 1:
                name += "_" + ext.lstrip(".")
        names.append(name)
    return names


def check_outputs(paths, names, out_dir):
    """Refuses an --out folder that holds an input (its label map would be written over it, or
    read back as an input by the next run) and two inputs given one output name."""
    if os.path.isdir(out_dir):
        inside = [p for p in paths if any(os.path.samefile(os.path.dirname(q), out_dir)
                                          for q in (os.path.abspath(p), os.path.realpath(p)))]
        if inside:
            one = len(inside) == 1
            shown = ", ".join(inside[:3]) + (f" and {len(inside) - 3} more" if len(inside) > 3 else "")
            raise ValueError(f"--out={out_dir}: holds the input{'' if one else 's'} {shown}; " +
                             ("its label map would be written over it or read back as an input" if one else
                              "their label maps would be written over them or read back as inputs") +
                             " next time: give --out a folder of its own")
    first = {}
    for path, name in zip(paths, names):
        if name in first:
            raise ValueError(f"{first[name]} and {path} would both be labelled as {name}.png: rename one, "
                             f"or label them in separate runs")
        first[name] = path


def check_out_dir(out_dir):
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"--out={out_dir}: is a file; give a folder for the label maps")
    return files.ensure_writable_dir(out_dir, "--out folder")


def predict_image(model, image, crf=None, crf_iterations=10):
    """The label map (uint8 [H, W]) of an RGB uint8 image, refined by a dense CRF if `crf`."""
    result = model.serve(tf.constant(image))
    labels = result["labels"].numpy()
    if crf:
        from tfguided.crf import crf_labels  # pydensecrf only when asked for

        labels = crf_labels(image, result["probabilities"].numpy(), crf, crf_iterations)
    return labels


def write_outputs(out_dir, name, image, labels, alpha=0.5):
    """Writes <out_dir>/<name>.png (palette label map) and <name>_overlay.jpg."""
    stem = os.path.join(out_dir, name)
    files.atomic_write_bytes(stem + ".png", labelmap.encode_label_png(labels))
    imageio.write_image(stem + "_overlay.jpg", overlay(image, labels, alpha))


def unreadable_reason(path, error):
    """Why `path` could not be read, without the path the message starts with."""
    text = str(error)
    return text[len(path) + 2:] if text.startswith(path + ": ") else text


def main(argv):
    inputs = argv[1:]
    if not FLAGS.model or not inputs:
        print("usage: python -m tfguided.predict --model=DIR [--out=DIR] [--crf=deeplab] "
              "IMAGES|FOLDERS|'PATTERNS'...", file=sys.stderr)
        return 2
    try:
        paths = expand_inputs(inputs)
        names = output_names(paths)
        check_outputs(paths, names, FLAGS.out)
        model_dir = model_directory(FLAGS.model)  # before --out is made: a usage error writes nothing
        out_dir = check_out_dir(FLAGS.out)
        model, class_names = load(model_dir)
        progress = progress_bar(len(paths), "image", stream=sys.stderr) if len(paths) > 1 else None
        rows, skipped = ["input\toutput\tclasses\terror\n"], []
        for n, (path, name) in enumerate(zip(paths, names), 1):
            try:
                _, image = imageio.read_image(path, FLAGS.max_pixels)
            except (ValueError, OSError) as e:
                skipped.append((path, unreadable_reason(path, e)))
                rows.append(f"{path}\t\t\t{skipped[-1][1]}\n")
            else:
                labels = predict_image(model, image, FLAGS.crf, FLAGS.crf_iterations)
                write_outputs(out_dir, name, image, labels, FLAGS.alpha)
                found = ", ".join(class_names[c] for c in np.unique(labels) if 0 < c < len(class_names))
                rows.append(f"{path}\t{name}.png\t{found}\t\n")
                if len(paths) <= 10:
                    print(f"{path}: {found or 'background only'}" + (f" -> {name}.png" if name !=
                          os.path.splitext(os.path.basename(path))[0] else ""))
            if progress:
                progress(n)
        files.atomic_write_text(os.path.join(out_dir, "predictions.tsv"), "".join(rows))
    except (ValueError, FileNotFoundError, PermissionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths) - len(skipped)} label maps and overlays to {out_dir} (list: predictions.tsv)",
          flush=True)
    if skipped:
        print(f"skipped {len(skipped)} of {len(paths)} images, unreadable:\n" +
              "".join(f"  {path}: {reason}\n" for path, reason in skipped), end="", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    cli.run(main)
