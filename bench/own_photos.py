"""voc12_animals given as a user would give it, against the VOC route of the voc_animals preset.

    python bench/own_photos.py --workdir=runs/own_photos --routes=voc,folder,coco \
        [--folder_seeds=0,1] [--out=FILE.json]

Routes (the same nets and budget: the voc_animals preset, so the format must cost nothing):
  voc     the preset itself: the VOC2012 folder and image_labels.tsv of ../shared/data/voc12_animals,
          the saliency set from saliency_msra (MSRA's layout)
  folder  the photos as a folder and a CSV of class names (`python -m tfrecords_tools folder`): the
          3,131 train photos without masks, the 305 val photos with index-PNG masks for scoring;
          the saliency set as in voc
  coco    one COCO instances JSON written from the masks (an annotation per animal class per photo,
          polygons from the class regions' outer contours; void as a crowd region of the photo's
          largest class) plus the 484 saliency photos with their box as an annotation of a non-target
          category, and a second JSON for val; `python -m tfrecords_tools coco --saliency_out`
          makes both the target set and the saliency set (largest box, GrabCut)
The CSV and the JSON list the photos in the order of the VOC lists, so each route feeds training
the same examples in the same order. Prints, per route, the G2 val mIoU with and without CRF, the
saliency's val fg IoU and the seconds, and writes them as JSON.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tfguided import configs, files  # noqa: E402
from tfguided.data import classes, labelmap  # noqa: E402
from tfguided.sources import msra, voc  # noqa: E402

ANIMALS = configs.presets.ANIMALS.split(",")
COCO_IDS = {"cat": 17, "dog": 18, "horse": 19, "sheep": 20, "cow": 21}  # COCO's own ids: gaps included
OTHER_ID = 90  # the saliency photos' objects: a category that is no target


def voc_subset():
    """(VOC root, ids by split, image labels in subset indices, the subset's lookup table)."""
    root = configs.shared_data("voc12_animals", "VOC2012")
    tsv = voc.read_image_labels(configs.shared_data("voc12_lists", "image_labels.tsv"))
    table = classes.remap_table(list(labelmap.VOC_CLASSES), ["background"] + ANIMALS)
    ids = {split: voc.read_split_ids(root, split) for split in ("train", "val")}
    return root, ids, {i: classes.remap_labels(tsv[i], table) for s in ids.values() for i in s}, table


def write_folder(out):
    """photos/ (links to the JPEGs), masks/ (val index PNGs) and labels.csv."""
    root, ids, labels, table = voc_subset()
    os.makedirs(os.path.join(out, "photos", "masks"), exist_ok=True)
    rows = ["image,labels,split,mask"]
    for split in ("train", "val"):
        for i in ids[split]:
            link = os.path.join(out, "photos", f"{i}.jpg")
            if not os.path.exists(link):
                os.symlink(os.path.join(root, "JPEGImages", f"{i}.jpg"), link)
            mask = ""
            if split == "val":
                mask = f"masks/{i}.png"
                gt = classes.remap_mask(labelmap.read_label_png(os.path.join(root, "SegmentationClass", f"{i}.png")),
                                        table)
                files.atomic_write_bytes(os.path.join(out, "photos", mask), labelmap.encode_index_png(gt))
            rows.append(f"{i}.jpg,{';'.join(ANIMALS[c - 1] for c in labels[i])},{split},{mask}")
    files.atomic_write_text(os.path.join(out, "labels.csv"), "\n".join(rows) + "\n")


def polygons(region):
    """COCO polygons [[x, y, ...]] of a bool region: its outer contours (3+ points), as COCO's
    annotators draw objects (a hole is filled; COCO keeps RLE for crowds)."""
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]


def coco_json(photo_ids, root, table, saliency_entries=()):
    """A COCO instances dict of `photo_ids` (one annotation per animal class) and the saliency
    photos (one box of a non-target category each)."""
    from pycocotools import mask as mask_utils

    categories = [{"id": COCO_IDS[n], "name": n, "supercategory": "animal"} for n in ANIMALS]
    categories.append({"id": OTHER_ID, "name": "other", "supercategory": "other"})
    images, annotations = [], []
    for k, i in enumerate(photo_ids, 1):
        gt = classes.remap_mask(labelmap.read_label_png(os.path.join(root, "SegmentationClass", f"{i}.png")), table)
        images.append({"id": k, "file_name": f"{i}.jpg", "height": gt.shape[0], "width": gt.shape[1]})
        present = [c for c in range(1, len(ANIMALS) + 1) if (gt == c).any()]
        for c in present:
            annotations.append({"id": len(annotations) + 1, "image_id": k, "category_id": COCO_IDS[ANIMALS[c - 1]],
                                "iscrowd": 0, "segmentation": polygons(gt == c), "area": float((gt == c).sum()),
                                "bbox": list(cv2.boundingRect((gt == c).astype(np.uint8)))})
        if present and (gt == labelmap.IGNORE).any():
            largest = max(present, key=lambda c: (gt == c).sum())
            rle = mask_utils.encode(np.asfortranarray((gt == labelmap.IGNORE).astype(np.uint8)))
            rle["counts"] = rle["counts"].decode()
            annotations.append({"id": len(annotations) + 1, "image_id": k, "category_id": COCO_IDS[ANIMALS[largest - 1]],
                                "iscrowd": 1, "segmentation": rle, "area": float((gt == labelmap.IGNORE).sum()),
                                "bbox": list(cv2.boundingRect((gt == labelmap.IGNORE).astype(np.uint8)))})
    for k, (rel, width, height, boxes) in enumerate(saliency_entries, len(images) + 1):
        images.append({"id": k, "file_name": rel, "height": height, "width": width})
        for left, top, right, bottom in boxes:
            annotations.append({"id": len(annotations) + 1, "image_id": k, "category_id": OTHER_ID, "iscrowd": 0,
                                "bbox": [left, top, right - left + 1, bottom - top + 1],
                                "area": float((right - left + 1) * (bottom - top + 1)), "segmentation": []})
    return {"images": images, "annotations": annotations, "categories": categories}


def write_coco(out):
    """train.json (the train photos and the saliency photos, linked into one folder) and val.json."""
    root, ids, _, table = voc_subset()
    saliency_root = configs.shared_data("voc12_animals", "saliency_msra")
    entries = msra.read_label_file(os.path.join(saliency_root, "labels.txt"))
    photos = os.path.join(out, "photos")
    os.makedirs(photos, exist_ok=True)
    for name, source in [(f"{i}.jpg", os.path.join(root, "JPEGImages", f"{i}.jpg")) for s in ids.values() for i in s] + \
            [(rel, os.path.join(saliency_root, "Image", rel)) for rel, *_ in entries]:
        if not os.path.exists(os.path.join(photos, name)):
            os.symlink(source, os.path.join(photos, name))
    files.atomic_write_json(os.path.join(out, "train.json"), coco_json(ids["train"], root, table, entries))
    files.atomic_write_json(os.path.join(out, "val.json"), coco_json(ids["val"], root, table))


def run(args, log):
    """Runs a command, its output into `log`; returns its seconds."""
    start = time.time()
    with open(log, "a") as f:
        subprocess.run([sys.executable] + args, check=True, cwd=REPO, stdout=f, stderr=subprocess.STDOUT)
    return round(time.time() - start, 1)


def route_figures(workdir, data_dir, log, extra=()):
    args = ["train_main.py", "--preset=voc_animals", f"--workdir={workdir}", "--stage=evaluate", *extra]
    seconds = run(args + ([f"--data_dir={data_dir}"] if data_dir else []), log)
    evaluate = next(d for d in sorted(os.listdir(workdir)) if d.startswith("evaluate-g2")
                    and all(e.partition("=")[2] in d for e in extra))
    metrics = files.read_json(os.path.join(workdir, evaluate, "metrics.json"))
    quality = files.read_json(os.path.join(workdir, "guide-g2", "quality.json")) if os.path.exists(
        os.path.join(workdir, "guide-g2", "quality.json")) else {}
    return {"miou": metrics["miou"], "miou_crf": metrics["miou_crf"], "chain_seconds": seconds,
            "val_saliency_net_fg_iou_mean": quality.get("val_saliency_net_fg_iou_mean"),
            "pseudo_label_miou": quality.get("pseudo_label_miou")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(REPO, "runs", "own_photos"))
    parser.add_argument("--routes", default="voc,folder,coco")
    parser.add_argument("--folder_seeds", default="0", help="segmenter seeds of the folder route (the spread)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    log = os.path.join(args.workdir, "log.txt")
    figures = {}
    for route in args.routes.split(","):
        work = os.path.join(args.workdir, route)
        if route == "voc":
            figures["voc"] = route_figures(os.path.join(work, "work"), None, log)
            continue
        data = os.path.join(work, "data")
        start = time.time()
        if route == "folder":
            write_folder(os.path.join(work, "raw"))
            if not os.path.exists(os.path.join(data, "target", "manifest.json")):
                run(["-m", "tfrecords_tools", "folder", f"--images={work}/raw/photos", f"--labels={work}/raw/labels.csv",
                     f"--class_names={','.join(ANIMALS)}", f"--out={data}/target"], log)
                run(["-m", "tfrecords_tools", "msra", f"--msra_root={configs.shared_data('voc12_animals', 'saliency_msra')}",
                     f"--out={data}/saliency"], log)
        else:
            write_coco(os.path.join(work, "raw"))
            if not os.path.exists(os.path.join(data, "target", "manifest.json")):
                run(["-m", "tfrecords_tools", "coco", f"--annotations={work}/raw/train.json", f"--images={work}/raw/photos",
                     f"--val_annotations={work}/raw/val.json", f"--classes={','.join(ANIMALS)}",
                     f"--out={data}/target", f"--saliency_out={data}/saliency"], log)
        conversion = round(time.time() - start, 1)
        for seed in args.folder_seeds.split(",") if route == "folder" else ["0"]:
            extra = [f"--override=segmenter.train.rng_seed={seed}"] if seed != "0" else []
            name = route if seed == "0" else f"{route}@segmenter_seed={seed}"
            figures[name] = {**route_figures(os.path.join(work, "work"), data, log, extra),
                             "conversion_seconds": conversion}
    print(json.dumps(figures, indent=2))
    if args.out:
        files.atomic_write_json(args.out, figures)


if __name__ == "__main__":
    main()
