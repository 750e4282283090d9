"""COCO instance annotations as input (`python -m tfrecords_tools coco`, tfguided/sources/coco.py)
and plain box CSVs as a saliency set (`python -m tfrecords_tools boxes`, tfguided/sources/boxes.py):
the real coco128 file (polygons, crowd RLE, category ids with gaps), a COCO file written here from
VOC ground truth, refused inputs, and box CSVs against the MSRA converter.

Expected labels, masks and boxes are computed here from the JSON with plain Python and
pycocotools' own functions, or from the VOC masks, never from the converter's output.
"""

import collections
import copy
import csv
import json
import os
import re
import shutil
import types

import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from conftest import hidden_leftovers, run_cli, shared_path, snapshot
from tfguided.data import records
from tfguided.data.labelmap import VOC_CLASSES
from tfguided.sources import coco

TARGETS = ("cat", "dog", "person")


def examples_by_id(out_dir, splits=("train", "val")):
    return {split: {ex["id"].decode("utf-8"): ex for ex in records.iterate_numpy(out_dir, split)} for split in splits}


def decoded_mask(png_bytes):
    """A stored mask decoded by OpenCV (not the package's decoder)."""
    mask = cv2.imdecode(np.frombuffer(png_bytes, np.uint8), cv2.IMREAD_UNCHANGED)
    assert mask is not None and mask.ndim == 2 and mask.dtype == np.uint8
    return mask


def decode_segmentation(segmentation, height, width):
    """A COCO segmentation as a bool mask, by pycocotools: polygons frPyObjects + merge + decode,
    uncompressed RLE frPyObjects + decode, compressed RLE decode."""
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation["counts"], list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return mask_utils.decode(rle).astype(bool)


# ---------------------------------------------------------------- coco128, the real format

def coco128():
    return shared_path("coco128", "annotations", "instances_train2017.json"), shared_path("coco128", "train2017")


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# The saliency test's part of coco128 (GrabCut takes ~1.5 s per 640 px photo): its first 12 photos
# (7 train photos with none of the targets), 250 (no annotation at all), 438 and 540 (a crowd
# region's box is the largest: a crowd is not one main object, largest_box skips it).
SALIENCY_SUBSET = (9, 25, 30, 34, 36, 42, 49, 61, 64, 71, 72, 73, 250, 438, 540)


@pytest.fixture(scope="module")
def coco128_converted(tmp_path_factory):
    """coco128 converted by the command line with --classes=cat,dog,person, again with
    --keep_negatives (no masks), and a part of it (SALIENCY_SUBSET) with --saliency_out."""
    annotations, images = coco128()
    root = tmp_path_factory.mktemp("coco128")
    out, keep, saliency = str(root / "target"), str(root / "with_negatives"), str(root / "saliency")
    proc = run_cli(["-m", "tfrecords_tools", "coco", f"--annotations={annotations}", f"--images={images}",
                    f"--out={out}", "--classes=cat,dog,person"])
    coco.convert(annotations, images, keep, "cat,dog,person", keep_negatives=True, masks=False, verbose=False)
    js = load_json(annotations)
    subset = dict(js, images=[img for img in js["images"] if img["id"] in SALIENCY_SUBSET],
                  annotations=[a for a in js["annotations"] if a["image_id"] in SALIENCY_SUBSET])
    assert len(subset["images"]) == len(SALIENCY_SUBSET)
    subset_path = str(root / "subset.json")
    with open(subset_path, "w", encoding="utf-8") as f:
        json.dump(subset, f)
    coco.convert(subset_path, images, str(root / "subset_target"), "cat,dog,person", saliency_out=saliency,
                 grabcut_iterations=1, val_fraction=0.1, verbose=False)
    names = {c["id"]: c["name"] for c in js["categories"]}
    anns = collections.defaultdict(list)
    for ann in js["annotations"]:
        anns[ann["image_id"]].append(ann)
    return types.SimpleNamespace(json=js, names=names, anns=anns, images=images, out=out, keep=keep,
                                 saliency=saliency, proc=proc, subset=subset,
                                 by_file={img["file_name"]: img for img in js["images"]})


def expected_labels(anns, names, classes=TARGETS):
    return sorted({classes.index(names[a["category_id"]]) + 1 for a in anns if names[a["category_id"]] in classes})


def test_coco128_image_labels_class_order_and_negatives(coco128_converted):
    c = coco128_converted
    manifest = records.read_manifest(c.out)
    assert manifest["class_names"] == ["background", "cat", "dog", "person"] and manifest["num_classes"] == 3
    assert [cat["id"] for cat in c.json["categories"]] != list(range(1, 81))  # ids with gaps: a real test
    stored = examples_by_id(c.out)
    positives = {img["file_name"] for img in c.json["images"] if expected_labels(c.anns[img["id"]], c.names)}
    assert len(positives) == 71
    assert not set(stored["train"]) & set(stored["val"])
    assert set(stored["train"]) | set(stored["val"]) == positives  # images with none are left out
    for split in stored:
        for file_name, ex in stored[split].items():
            image = c.by_file[file_name]
            assert list(ex["labels"]) == expected_labels(c.anns[image["id"]], c.names), file_name
            assert (ex["height"], ex["width"]) == (image["height"], image["width"])
            with open(os.path.join(c.images, file_name), "rb") as f:
                assert ex["image"] == f.read()
    kept = examples_by_id(c.keep)
    assert set(kept["train"]) | set(kept["val"]) == set(c.by_file) and len(c.by_file) == 128
    for split in kept:
        assert set(stored[split]) <= set(kept[split])  # the split of a photo does not depend on the others
        for file_name, ex in kept[split].items():
            assert list(ex["labels"]) == expected_labels(c.anns[c.by_file[file_name]["id"]], c.names)
            assert ex["mask"] == b""  # --nomasks
    assert records.read_manifest(c.keep)["class_names"] == ["background", "cat", "dog", "person"]
    assert "57 left out" in c.proc.stdout


def test_coco128_masks_crowd_void_and_non_targets_background(coco128_converted):
    c = coco128_converted
    stored = examples_by_id(c.out)
    crowd_photos = painted_photos = 0
    for split in stored:
        for file_name, ex in stored[split].items():
            image = c.by_file[file_name]
            height, width = image["height"], image["width"]
            mask = decoded_mask(ex["mask"])
            assert mask.shape == (height, width)
            targets, crowds, others = [], [], np.zeros((height, width), bool)
            for ann in c.anns[image["id"]]:
                region = decode_segmentation(ann["segmentation"], height, width)
                if c.names[ann["category_id"]] not in TARGETS:
                    others |= region
                elif ann["iscrowd"]:
                    crowds.append(region)
                else:
                    targets.append((region, TARGETS.index(c.names[ann["category_id"]]) + 1))
            instances = np.zeros((height, width), bool)
            for region, _ in targets:
                instances |= region
            crowd = np.zeros((height, width), bool)
            for region in crowds:
                crowd |= region
            # a crowd region of a target class is void wherever no target instance covers it
            if crowds:
                crowd_photos += 1
                assert (crowd & ~instances).any()
                assert np.all(mask[crowd & ~instances] == 255), file_name
            assert np.all((mask == 255) <= crowd), f"{file_name}: void outside the crowd regions"
            # a non-target category's pixels are background
            assert np.all(mask[others & ~instances & ~crowd] == 0), file_name
            assert np.all(mask[~others & ~instances & ~crowd] == 0), file_name
            if not crowds:  # the whole map: target instances painted larger first, on background
                expected = np.zeros((height, width), np.uint8)
                for region, label in sorted(targets, key=lambda t: -int(t[0].sum())):
                    expected[region] = label
                np.testing.assert_array_equal(mask, expected, err_msg=file_name)
                painted_photos += len(targets) > 1
    assert crowd_photos >= 4 and painted_photos >= 20


def test_coco128_crowd_region_against_pycocotools_rle_decode(coco128_converted):
    """Image 257's crowd of people, its uncompressed RLE decoded by pycocotools.mask.decode
    directly: void in the stored mask except under the person instances."""
    c = coco128_converted
    image = next(img for img in c.json["images"] if img["id"] == 257)
    height, width = image["height"], image["width"]
    crowd_ann = [a for a in c.anns[257] if a["iscrowd"]]
    assert len(crowd_ann) == 1 and c.names[crowd_ann[0]["category_id"]] == "person"
    segmentation = crowd_ann[0]["segmentation"]
    assert isinstance(segmentation["counts"], list) and segmentation["size"] == [height, width]
    compressed = mask_utils.frPyObjects(segmentation, height, width)
    crowd = mask_utils.decode(compressed).astype(bool)
    assert crowd.sum() == int(mask_utils.area(compressed))
    stored = {**examples_by_id(c.out)["train"], **examples_by_id(c.out)["val"]}
    mask = decoded_mask(stored[image["file_name"]]["mask"])
    people = np.zeros((height, width), bool)
    for ann in c.anns[257]:
        if not ann["iscrowd"] and c.names[ann["category_id"]] == "person":
            rle = mask_utils.merge(mask_utils.frPyObjects(ann["segmentation"], height, width))
            people |= mask_utils.decode(rle) > 0
    assert people.any() and (crowd & ~people).sum() > 1000
    assert np.all(mask[crowd & ~people] == 255)
    assert np.all(mask[people] == 3)  # person is the third of --classes


def test_coco128_saliency_set_is_the_non_target_train_photos_with_their_largest_box(coco128_converted):
    c = coco128_converted
    train_ids = set(examples_by_id(c.keep, ("train",))["train"])  # every train photo (negatives kept)

    def largest_box(anns):
        boxes = [a["bbox"] for a in anns if not a["iscrowd"] and a["bbox"][2] * a["bbox"][3] > 0]
        if not boxes:
            return None
        x, y, w, h = max(boxes, key=lambda b: b[2] * b[3])
        return [x, y, x + w - 1, y + h - 1]

    expected = {}
    for file_name in train_ids & {img["file_name"] for img in c.subset["images"]}:
        anns = c.anns[c.by_file[file_name]["id"]]
        if not any(c.names[a["category_id"]] in TARGETS for a in anns) and largest_box(anns) is not None:
            expected[file_name] = largest_box(anns)
    manifest = records.read_manifest(c.saliency)
    assert manifest["class_names"] == ["background", "salient"] and set(manifest["splits"]) == {"train"}
    stored = examples_by_id(c.saliency, ("train",))["train"]
    assert set(stored) == set(expected) and len(expected) == 9
    for crowd_largest in (438, 540):  # the largest box is a crowd region's: the largest of the others is taken
        anns = c.anns[crowd_largest]
        assert max(anns, key=lambda a: a["bbox"][2] * a["bbox"][3])["iscrowd"] == 1
    for file_name, ex in stored.items():
        np.testing.assert_allclose(ex["boxes"], [expected[file_name]], atol=1e-3, err_msg=file_name)
        mask = decoded_mask(ex["mask"])
        assert mask.shape == (c.by_file[file_name]["height"], c.by_file[file_name]["width"])
        assert set(np.unique(mask)) <= {0, 1} and mask.any(), file_name
        x0, y0, x1, y1 = expected[file_name]
        inside = np.zeros(mask.shape, bool)
        inside[int(np.floor(y0)):int(np.ceil(y1)) + 1, int(np.floor(x0)):int(np.ceil(x1)) + 1] = True
        assert not (mask.astype(bool) & ~inside).any(), f"{file_name}: salient pixels outside its box"


# ---------------------------------------------------------------- a COCO file written from VOC masks

VOC_ROOT = ("voc12_animals", "VOC2012")
ANIMALS = ("cat", "cow", "dog", "horse", "sheep")
# category ids with gaps, differently numbered in the val file (ids are per file, names are not)
TRAIN_CATEGORY_IDS = {"sheep": 3, "cat": 17, "dog": 18, "horse": 19, "cow": 21}
VAL_CATEGORY_IDS = {"cow": 2, "horse": 5, "dog": 40, "cat": 41, "sheep": 90}
ID_ORDER = tuple(sorted(ANIMALS, key=TRAIN_CATEGORY_IDS.get))  # sheep, cat, dog, horse, cow


def voc_mask(image_id):
    with Image.open(shared_path(*VOC_ROOT, "SegmentationClass", image_id + ".png")) as im:
        return np.array(im)


def remapped(mask, order=ID_ORDER):
    out = np.zeros(mask.shape, np.uint8)
    for k, name in enumerate(order, 1):
        out[mask == VOC_CLASSES.index(name)] = k
    out[mask == 255] = 255
    return out


def voc_ids(split, count):
    with open(shared_path(*VOC_ROOT, "ImageSets", "Segmentation", f"{split}.txt")) as f:
        return f.read().split()[:count]


def compressed_rle(region):
    rle = mask_utils.encode(np.asfortranarray(region.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def voc_as_coco(voc, category_ids, first_image_id, crowd_photo=None):
    """A COCO instances dict of VOC photos: one annotation per connected region of an animal
    class (polygons from cv2.findContours; regions too small for a polygon as RLE), the largest
    region of `crowd_photo` as a crowd region (compressed RLE by pycocotools.mask.encode)."""
    out = {"info": {"description": "voc12_animals as COCO"}, "licenses": [],
           "categories": [{"id": i, "name": n, "supercategory": "animal"}
                          for n, i in sorted(category_ids.items(), key=lambda kv: -kv[1])],
           "images": [], "annotations": []}
    crowd = None
    for k, image_id in enumerate(voc):
        mask = voc_mask(image_id)
        height, width = mask.shape
        coco_id = first_image_id + 7 * k
        out["images"].append({"id": coco_id, "file_name": f"{coco_id:012d}.jpg", "height": height, "width": width})
        regions = []
        for name in ANIMALS:
            count, components = cv2.connectedComponents((mask == VOC_CLASSES.index(name)).astype(np.uint8), 8)
            regions += [(name, components == c) for c in range(1, count)]
        crowd_index = (max(range(len(regions)), key=lambda r: regions[r][1].sum())
                       if image_id == crowd_photo else None)
        for r, (name, region) in enumerate(regions):
            ys, xs = np.nonzero(region)
            ann = {"id": len(out["annotations"]) + 100, "image_id": coco_id, "category_id": category_ids[name],
                   "iscrowd": 0, "area": float(region.sum()),
                   "bbox": [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                            float(ys.max() - ys.min() + 1)]}
            contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            polygons = [[float(v) + 0.5 for v in contour.reshape(-1)] for contour in contours if len(contour) >= 3]
            if r == crowd_index:
                ann.update(iscrowd=1, segmentation=compressed_rle(region))
                crowd = (coco_id, region)
            elif polygons and len(polygons) == len(contours):
                ann["segmentation"] = polygons
            else:
                ann["segmentation"] = compressed_rle(region)
            out["annotations"].append(ann)
    return out, crowd


@pytest.fixture(scope="module")
def voc_coco(tmp_path_factory):
    """12 train and 8 val voc12_animals photos as two COCO files (train and val), converted."""
    root = tmp_path_factory.mktemp("voc_coco")
    train_ids, val_ids = voc_ids("train", 12), voc_ids("val", 8)
    crowd_photo = "2007_001073"  # eleven cow regions: the largest becomes a crowd region
    assert crowd_photo in train_ids
    train_json, crowd = voc_as_coco(train_ids, TRAIN_CATEGORY_IDS, 1001, crowd_photo=crowd_photo)
    val_json, _ = voc_as_coco(val_ids, VAL_CATEGORY_IDS, 5003)
    photos = {}
    for js, ids, folder in ((train_json, train_ids, "train"), (val_json, val_ids, "val")):
        os.makedirs(root / folder)
        for image, image_id in zip(js["images"], ids):
            shutil.copyfile(shared_path(*VOC_ROOT, "JPEGImages", image_id + ".jpg"), root / folder / image["file_name"])
            photos[image["file_name"]] = (image_id, folder)
    for name, js in (("train.json", train_json), ("val.json", val_json)):
        with open(root / name, "w", encoding="utf-8") as f:
            json.dump(js, f)
    out = str(root / "out")
    proc = run_cli(["-m", "tfrecords_tools", "coco", f"--annotations={root / 'train.json'}",
                    f"--images={root / 'train'}", f"--val_annotations={root / 'val.json'}",
                    f"--val_images={root / 'val'}", f"--out={out}"])
    return types.SimpleNamespace(root=root, train_json=train_json, val_json=val_json, photos=photos, out=out,
                                 proc=proc, crowd=crowd, crowd_file=f"{crowd[0]:012d}.jpg")


def test_coco_written_from_voc_masks_round_trips(voc_coco):
    v = voc_coco
    manifest = records.read_manifest(v.out)
    assert manifest["class_names"] == ["background", *ID_ORDER]  # every category, in the order of its id
    assert any(isinstance(a["segmentation"], list) for a in v.train_json["annotations"])
    stored = examples_by_id(v.out)
    assert {s: sorted(stored[s]) for s in stored} == {
        s: sorted(f for f, (_, folder) in v.photos.items() if folder == s) for s in ("train", "val")}
    intersection, union = np.zeros(6, np.int64), np.zeros(6, np.int64)
    for split in stored:
        for file_name, ex in stored[split].items():
            voc = remapped(voc_mask(v.photos[file_name][0]))
            present = sorted(int(k) for k in np.unique(voc) if 0 < k < 255)
            assert list(ex["labels"]) == present, file_name  # exactly the classes of the VOC mask
            mask = decoded_mask(ex["mask"])
            assert mask.shape == voc.shape
            valid = voc != 255
            if file_name == v.crowd_file:
                crowd = v.crowd[1]
                assert (mask[crowd] == 255).mean() > 0.95
                assert np.all((mask == 255) <= crowd)
                valid &= ~crowd
            else:
                assert not (mask == 255).any(), f"{file_name}: void without a crowd region"
            for k in range(1, 6):
                intersection[k] += np.sum((mask == k) & (voc == k) & valid)
                union[k] += np.sum(((mask == k) | (voc == k)) & valid)
    iou = intersection[1:] / np.maximum(union[1:], 1)
    assert all(union[1:] > 0), dict(zip(ID_ORDER, union[1:]))
    assert np.all(iou > 0.9), dict(zip(ID_ORDER, iou.round(3)))


# ---------------------------------------------------------------- refused inputs

def _converted_nothing(out_dirs, parent):
    for d in out_dirs:
        assert not os.path.exists(d), f"{d} was written"
    assert not hidden_leftovers(parent)


def _bad_json(voc_coco, tmp_path, change):
    js = copy.deepcopy(voc_coco.train_json)
    change(js)
    path = str(tmp_path / "bad.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(js, f)
    return path


def test_annotations_naming_an_unknown_image_or_category_are_refused(voc_coco, tmp_path):
    images = str(voc_coco.root / "train")
    for key, value, said in (("image_id", 999999, "names image 999999 or category "),
                             ("category_id", 77, r"or category 77, which the file does not list")):
        def change(js):
            js["annotations"][3][key] = value
        path = _bad_json(voc_coco, tmp_path, change)
        ann_id = voc_coco.train_json["annotations"][3]["id"]
        out = str(tmp_path / "out")
        with pytest.raises(ValueError, match=re.escape(f"{path}: annotation {ann_id} ") + ".*" + said):
            coco.convert(path, images, out, val_fraction=0.3, verbose=False)
        _converted_nothing([out], str(tmp_path))


def test_a_missing_photo_file_is_refused(voc_coco, tmp_path):
    def change(js):
        js["images"][2]["file_name"] = "gone.jpg"
    path = _bad_json(voc_coco, tmp_path, change)
    image_id = voc_coco.train_json["images"][2]["id"]
    out = str(tmp_path / "out")
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"{path}: image {image_id}: {os.path.join(str(voc_coco.root / 'train'), 'gone.jpg')}: no such file")):
        coco.convert(path, str(voc_coco.root / "train"), out, val_fraction=0.3, verbose=False)
    _converted_nothing([out], str(tmp_path))


@pytest.mark.parametrize("with_saliency", [False, True])
def test_a_photo_whose_size_differs_from_the_json_is_refused(voc_coco, tmp_path, with_saliency):
    """A target photo (a cat) that is not the size the JSON says: refused, and neither the target
    set nor the saliency set (--saliency_out) is written."""
    js = voc_coco.train_json
    cat = next(img for img in js["images"] if any(a["image_id"] == img["id"] and a["category_id"] ==
                                                   TRAIN_CATEGORY_IDS["cat"] for a in js["annotations"]))

    def change(bad):
        next(img for img in bad["images"] if img["id"] == cat["id"])["height"] += 3
    path = _bad_json(voc_coco, tmp_path, change)
    photo = os.path.join(str(voc_coco.root / "train"), cat["file_name"])
    out, saliency = str(tmp_path / "out"), str(tmp_path / "saliency")
    with pytest.raises(ValueError, match=re.escape(f"{photo}: photo is {cat['width']}x{cat['height']}, the annotations "
                                                   f"say {cat['width']}x{cat['height'] + 3}")):
        coco.convert(path, str(voc_coco.root / "train"), out, classes="cat,dog", val_fraction=0.3,
                     saliency_out=saliency if with_saliency else None, grabcut_iterations=1, verbose=False)
    _converted_nothing([out, saliency], str(tmp_path))


def test_a_saliency_photo_whose_size_differs_from_the_json_is_refused(voc_coco, tmp_path):
    """A photo with none of --classes (a dog, for cow,horse) goes to the saliency set with its
    largest box: its size must match the JSON too (the box is in the JSON's pixels)."""
    js = voc_coco.train_json
    target_ids = {TRAIN_CATEGORY_IDS["cow"], TRAIN_CATEGORY_IDS["horse"]}
    negative = next(img for img in js["images"] if not any(
        a["image_id"] == img["id"] and a["category_id"] in target_ids for a in js["annotations"]))

    def change(bad):
        next(img for img in bad["images"] if img["id"] == negative["id"])["width"] += 5
    path = _bad_json(voc_coco, tmp_path, change)
    photo = os.path.join(str(voc_coco.root / "train"), negative["file_name"])
    out, saliency = str(tmp_path / "out"), str(tmp_path / "saliency")
    with pytest.raises(ValueError, match=re.escape(photo) + ".*" + re.escape(f"{negative['width'] + 5}x")):
        coco.convert(path, str(voc_coco.root / "train"), out, classes="cow,horse",
                     val_annotations=str(voc_coco.root / "val.json"), val_images=str(voc_coco.root / "val"),
                     saliency_out=saliency, grabcut_iterations=1, verbose=False)
    _converted_nothing([out, saliency], str(tmp_path))


def test_classes_naming_a_category_the_file_lacks_are_refused(voc_coco, tmp_path):
    path = str(voc_coco.root / "train.json")
    out = str(tmp_path / "out")
    with pytest.raises(ValueError, match=re.escape(f"--classes: ['zebra'] are not categories of {path}")):
        coco.convert(path, str(voc_coco.root / "train"), out, classes="cat,zebra", val_fraction=0.3, verbose=False)
    _converted_nothing([out], str(tmp_path))


@pytest.mark.slow
def test_saliency_out_without_classes_is_refused_by_the_command_line(voc_coco, tmp_path):
    out, saliency = str(tmp_path / "out"), str(tmp_path / "saliency")
    proc = run_cli(["-m", "tfrecords_tools", "coco", f"--annotations={voc_coco.root / 'train.json'}",
                    f"--images={voc_coco.root / 'train'}", f"--out={out}", f"--saliency_out={saliency}"],
                   check=False)
    assert proc.returncode == 2, proc.stdout
    assert "error: --saliency_out:" in proc.stdout and "--classes" in proc.stdout
    assert "Traceback" not in proc.stdout
    _converted_nothing([out, saliency], str(tmp_path))


# ---------------------------------------------------------------- the boxes source against msra

def msra_entries(count):
    """The first `count` entries of voc12_animals' saliency_msra/labels.txt: (file, w, h, l t r b)."""
    with open(shared_path("voc12_animals", "saliency_msra", "labels.txt")) as f:
        lines = [line.strip() for line in f if line.strip()]
    out = []
    for i in range(count):
        name, size, box = lines[1 + 3 * i: 4 + 3 * i]
        boxes = [[int(v) for v in b.split()] for b in box.split(";") if b.strip()]
        assert len(boxes) == 1
        out.append((name, *(int(v) for v in size.split()), boxes[0]))
    return out


@pytest.mark.slow
def test_box_csv_gives_the_masks_of_the_msra_converter(tmp_path):
    entries = msra_entries(6)
    msra_root = tmp_path / "msra"
    os.makedirs(msra_root / "Image")
    photos = tmp_path / "photos"
    os.makedirs(photos)
    source = shared_path("voc12_animals", "saliency_msra", "Image")
    lines = [str(len(entries))]
    rows = []
    for name, width, height, (left, top, right, bottom) in entries:
        shutil.copyfile(os.path.join(source, name), msra_root / "Image" / name)
        shutil.copyfile(os.path.join(source, name), photos / name)
        lines += [name, f"{width} {height}", f"{left} {top} {right} {bottom};"]
        rows.append([name, left, top, right + 1, bottom + 1])
    (msra_root / "labels.txt").write_text("\n".join(lines) + "\n")
    boxes_csv = tmp_path / "boxes.csv"
    with open(boxes_csv, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "x0", "y0", "x1", "y1"])
        writer.writerows(rows)
    msra_out, boxes_out = str(tmp_path / "msra_out"), str(tmp_path / "boxes_out")
    run_cli(["-m", "tfrecords_tools", "msra", f"--msra_root={msra_root}", f"--out={msra_out}"])
    run_cli(["-m", "tfrecords_tools", "boxes", f"--images={photos}", f"--boxes={boxes_csv}", f"--out={boxes_out}"])
    manifest = records.read_manifest(boxes_out)
    assert manifest["class_names"] == ["background", "salient"] and manifest["splits"]["train"]["count"] == 6
    by_msra = list(records.iterate_numpy(msra_out, "train"))
    by_boxes = list(records.iterate_numpy(boxes_out, "train"))
    assert [ex["id"].decode() for ex in by_boxes] == [e[0] for e in entries]
    assert [ex["id"].decode() for ex in by_msra] == [os.path.splitext(e[0])[0] for e in entries]
    for entry, a, b in zip(entries, by_msra, by_boxes):
        assert b["image"] == a["image"]
        np.testing.assert_array_equal(b["boxes"], [entry[3]])  # inclusive l t r b, as MSRA's
        np.testing.assert_array_equal(b["boxes"], a["boxes"])
        assert b["mask"] == a["mask"], f"{entry[0]}: the masks differ"
        assert set(np.unique(decoded_mask(b["mask"]))) <= {0, 1}
