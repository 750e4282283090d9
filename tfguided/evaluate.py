"""Score a folder of PNG label maps against ground-truth PNGs, as the VOC devkit does.

    python -m tfguided.evaluate --pred_dir=DIR --gt_dir=DIR [--ids=FILE] [--num_classes=21]
    python -m tfguided.evaluate --pred_dir=DIR --gt_dir=VOC2012/SegmentationClass \
        --classes=cat,cow,dog,horse,sheep          # a class subset's predictions vs VOC's truth

One int64 confusion matrix over all images; void (255) ground-truth pixels are skipped; IoU per
class = TP / (TP + FP + FN) over the whole set; mIoU = their mean. Palette PNGs (VOC's) and
8-bit grayscale index PNGs are both read as indices. Any method's output can be scored, ours
or a peer's. Prints the per-class table; `--out` writes JSON. With `--classes` the predictions
are in a subset's labels (0 background, 1..K the named classes in that order, as a segmenter
trained with data.classes writes them) and the ground truth is mapped onto the subset: its other
classes become background, void stays void (tfguided/data/classes.py).
"""

import os
import sys

import numpy as np
from absl import app, flags

from tfguided import cli, files
from tfguided.data import classes, labelmap
from tfguided.eval import metrics
from tfguided.progress import progress_bar

FLAGS = flags.FLAGS
flags.DEFINE_string("pred_dir", None, "Folder of predicted label maps, <id>.png.")
flags.DEFINE_string("gt_dir", None, "Folder of ground-truth label maps, <id>.png (255 = void).")
flags.DEFINE_string("ids", None, "Text file with one image id per line (e.g. VOC's "
                    "ImageSets/Segmentation/val.txt). Default: every <id>.png in --gt_dir.")
flags.DEFINE_integer("num_classes", 21, "Number of labels including background (VOC: 21).")
flags.DEFINE_string("class_names", None, "Text file with one class name per line (background "
                    "first). Default: the VOC names for 21 labels, else class_0, class_1, ...")
flags.DEFINE_list("classes", [], "Score a class subset: the names, in the predictions' label order "
                  "(e.g. cat,cow,dog,horse,sheep); the ground truth's other classes count as "
                  "background. Sets the number of labels and their names.")
flags.DEFINE_string("gt_class_names", None, "With --classes: text file with the ground truth's class "
                    "names, one per line, background first. Default: the 21 VOC names.")
flags.DEFINE_string("out", None, "Also write the results (mIoU, per-class IoU, confusion) as JSON here.")


def read_ids(ids_file, gt_dir):
    if ids_file is None:
        if not os.path.isdir(gt_dir):
            raise FileNotFoundError(f"--gt_dir={gt_dir}: no such directory")
        ids = sorted(name[:-4] for name in os.listdir(gt_dir) if name.endswith(".png"))
        if not ids:
            raise ValueError(f"--gt_dir={gt_dir}: no .png label maps in it")
        return ids
    ids = files.read_lines(ids_file)
    if not ids:
        raise ValueError(f"--ids={ids_file}: no ids in the file")
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"--ids={ids_file}: duplicate ids {dup[:5]}")
    return ids


def read_names(path, flag):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--{flag}={path}: no such file")
    return files.read_lines(path)


def class_names_for(num_labels, names_file=None):
    if names_file:
        names = read_names(names_file, "class_names")
        if len(names) != num_labels:
            raise ValueError(f"--class_names={names_file}: {len(names)} names for {num_labels} labels")
        return names
    if num_labels == len(labelmap.VOC_CLASSES):
        return list(labelmap.VOC_CLASSES)
    return [f"class_{k}" for k in range(num_labels)]


def score_folders(pred_dir, gt_dir, ids, num_labels, progress=None, gt_table=None, gt_labels=None):
    """int64 confusion matrix [num_labels, num_labels] of every id's prediction vs ground truth
    (mapped through `gt_table`, a class subset's lookup table, after its values are checked
    against its own `gt_labels` labels).

    Refuses, naming the file: a missing prediction or ground truth, different sizes, and
    label values outside 0..num_labels-1 (255 allowed in the ground truth only).
    """
    gt_labels = gt_labels or num_labels
    missing = [p for i in ids for p in (os.path.join(pred_dir, i + ".png"), os.path.join(gt_dir, i + ".png"))
               if not os.path.exists(p)]
    if missing:
        raise FileNotFoundError(f"{len(missing)} label maps missing, e.g. {missing[:3]}")
    conf = np.zeros((num_labels, num_labels), np.int64)
    for n, image_id in enumerate(ids, 1):
        pred_path, gt_path = os.path.join(pred_dir, image_id + ".png"), os.path.join(gt_dir, image_id + ".png")
        pred, gt = labelmap.read_label_png(pred_path), labelmap.read_label_png(gt_path)
        if pred.shape != gt.shape:
            raise ValueError(f"{pred_path}: size {pred.shape[1]}x{pred.shape[0]} differs from the ground "
                             f"truth {gt_path} ({gt.shape[1]}x{gt.shape[0]})")
        for path, values, count, allowed in ((pred_path, pred, num_labels, ()),
                                             (gt_path, gt, gt_labels, (labelmap.IGNORE,))):
            bad = np.setdiff1d(np.unique(values), [*range(count), *allowed])
            if bad.size:
                raise ValueError(f"{path}: label values {bad[:10].tolist()} outside 0..{count - 1}"
                                 + (" and 255 (void)" if allowed else "")
                                 + ("; check --num_classes" if gt_table is None else "; check --classes"))
        if gt_table is not None:
            gt = classes.remap_mask(gt, gt_table)
        conf += metrics.confusion_matrix(gt, pred, num_labels)
        if progress:
            progress(n)
    return conf


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}; every option is a --flag")
    if not FLAGS.pred_dir or not FLAGS.gt_dir:
        raise app.UsageError("--pred_dir and --gt_dir are required")
    if FLAGS.num_classes < 2:
        raise app.UsageError(f"--num_classes={FLAGS.num_classes}: need at least 2 (background + a class)")
    try:
        ids = read_ids(FLAGS.ids, FLAGS.gt_dir)
        gt_table = None
        if FLAGS.classes:
            gt_names = (read_names(FLAGS.gt_class_names, "gt_class_names") if FLAGS.gt_class_names
                        else list(labelmap.VOC_CLASSES))
            names = classes.parse_subset(",".join(FLAGS.classes), gt_names)
            gt_table = classes.remap_table(gt_names, names)
        else:
            names = class_names_for(FLAGS.num_classes, FLAGS.class_names)
        conf = score_folders(FLAGS.pred_dir, FLAGS.gt_dir, ids, len(names),
                             progress_bar(len(ids), "image"), gt_table, gt_table is not None and len(gt_names))
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    results = {"images": len(ids), "miou": metrics.mean_iou(conf),
               "pixel_accuracy": metrics.pixel_accuracy(conf),
               "per_class_iou": metrics.per_class_dict(conf, names), "confusion": conf.tolist()}
    print(metrics.iou_table({"IoU": conf}, names))
    print(f"mIoU={results['miou']:.2f} over {len(ids)} images")
    if FLAGS.out:
        files.atomic_write_json(FLAGS.out, results)
    return 0


if __name__ == "__main__":
    cli.run(main)
