"""A user's own tagged photos as first-class input: a folder of photos and a CSV of their class
names (`python -m tfrecords_tools folder`, tfguided/sources/folder.py) converted, checked and
trained on, with real VOC photos of ../shared/data/voc12_animals renamed, re-encoded and
re-tagged the way a user's own files come.

The expected values (labels, masks, counts, class orders) are all computed here from the VOC
files and the CSVs this module writes, never from the converter's own output.
"""

import csv
import glob
import json
import os
import re
import shutil
import types

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import hidden_leftovers, run_cli, shared_path, snapshot
from tfguided.data import records
from tfguided.data.labelmap import VOC_CLASSES
from tfguided.sources import folder

ANIMALS = ("cat", "cow", "dog", "horse", "sheep")
CLASS_NAMES = ("background",) + ANIMALS
VOC_INDEX = {name: VOC_CLASSES.index(name) for name in ANIMALS}  # cat 8, cow 10, dog 12, horse 13, sheep 17
UNICODE_NAMES = ("Zebrastreifen ü", "rusty bolt")


# ---------------------------------------------------------------- the VOC files, read here

def voc_root():
    return shared_path("voc12_animals", "VOC2012")


def voc_ids(split):
    with open(os.path.join(voc_root(), "ImageSets", "Segmentation", f"{split}.txt")) as f:
        return f.read().split()


def voc_image_labels():
    """{VOC id: set of VOC class indices} from ../shared/data/voc12_lists/image_labels.tsv."""
    out = {}
    with open(shared_path("voc12_lists", "image_labels.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            image_id, indices = line.rstrip("\n").split("\t")
            out[image_id] = {int(v) for v in indices.split()}
    return out


def animal_names(indices):
    """The animals among VOC class indices, by name, in ANIMALS' order."""
    return [name for name in ANIMALS if VOC_INDEX[name] in indices]


def voc_photo(image_id):
    return os.path.join(voc_root(), "JPEGImages", image_id + ".jpg")


def voc_mask(image_id):
    """The VOC ground truth's palette indices, read with Pillow (not the package's decoder)."""
    with Image.open(os.path.join(voc_root(), "SegmentationClass", image_id + ".png")) as im:
        assert im.mode == "P"
        return np.array(im)


def remap_to_animals(mask, order=ANIMALS):
    """VOC indices -> 1..5 for the animals in `order`, every other class 0, void 255 kept."""
    out = np.zeros(mask.shape, np.uint8)
    for k, name in enumerate(order, 1):
        out[mask == VOC_INDEX[name]] = k
    out[mask == 255] = 255
    return out


def single_animal_ids(split, names, per_class, labels=None):
    """{name: [VOC ids]} of `split` photos whose only animal is `name` (first ones of the list)."""
    labels = labels or voc_image_labels()
    out = {name: [] for name in names}
    for image_id in voc_ids(split):
        found = animal_names(labels[image_id])
        if len(found) == 1 and found[0] in out and len(out[found[0]]) < per_class:
            out[found[0]].append(image_id)
    assert all(len(v) == per_class for v in out.values()), out
    return out


# ---------------------------------------------------------------- writing a user's folder

def write_photo(src, dst, how="copy"):
    """The VOC photo `src` as `dst`: its own bytes, or re-encoded by OpenCV as PNG, grayscale
    (JPEG or PNG, by `dst`'s extension) or RGBA PNG (alpha 200)."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if how == "copy":
        shutil.copyfile(src, dst)
        return
    bgr = cv2.imread(src, cv2.IMREAD_COLOR)
    if how == "png":
        assert cv2.imwrite(dst, bgr)
    elif how == "grey":
        assert cv2.imwrite(dst, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    elif how == "rgba":
        bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
        bgra[..., 3] = 200
        assert cv2.imwrite(dst, bgra)
    else:
        raise AssertionError(how)


def write_index_png(path, labels, palette=False):
    """A mask file as a user makes one: 8-bit grayscale PNG by OpenCV, or a palette PNG by Pillow."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if palette:
        im = Image.fromarray(labels, mode="P")
        im.putpalette([v for i in range(256) for v in ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)])
        im.save(path)
    else:
        assert cv2.imwrite(path, labels)


def write_csv(path, header, rows, delimiter=",", encoding="utf-8", newline="\n"):
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, delimiter=delimiter, lineterminator=newline)
        writer.writerow(header)
        writer.writerows(rows)


def examples_by_id(out_dir):
    """{split: {id: example dict}} of a converted folder, read back with iterate_numpy."""
    return {split: {ex["id"].decode("utf-8"): ex for ex in records.iterate_numpy(out_dir, split)}
            for split in ("train", "val")}


def decoded_mask(png_bytes):
    """A stored mask decoded by OpenCV (not the package's decoder)."""
    mask = cv2.imdecode(np.frombuffer(png_bytes, np.uint8), cv2.IMREAD_UNCHANGED)
    assert mask is not None and mask.ndim == 2 and mask.dtype == np.uint8
    return mask


# ---------------------------------------------------------------- test 1's folder, shared with the chain

def build_user_folder(root):
    """~30 voc12_animals photos under new names (PNG re-encodes, a subfolder, a space in a name,
    a grayscale and an RGBA photo), a negative (a non-animal photo of saliency_msra with an empty
    labels cell), a CSV with split and mask columns; masks for 7 of the 9 val photos."""
    images = os.path.join(root, "my photos")
    labels = voc_image_labels()
    train, val = voc_ids("train")[:20], voc_ids("val")[:9]
    special = {0: ("trip/photo 00.jpg", "copy"), 1: ("trip/2019/photo_01.jpg", "copy"),
               2: ("my photo 02.jpg", "copy"), 3: ("photo_03.png", "png"), 4: ("photo_04_grey.jpg", "grey"),
               5: ("photo_05_rgba.png", "rgba"), 6: ("photo_06.png", "png")}
    rows = []
    for k, image_id in enumerate(train):
        name, how = special.get(k, (f"photo_{k:02d}.jpg", "copy"))
        write_photo(voc_photo(image_id), os.path.join(images, name), how)
        rows.append(dict(image=name, names=animal_names(labels[image_id]), split="train", mask=None, voc=image_id))
    for k, image_id in enumerate(val):
        name = f"val/v{k:02d}.png" if k in (1, 4) else f"val/v{k:02d}.jpg"
        write_photo(voc_photo(image_id), os.path.join(images, name), "png" if k in (1, 4) else "copy")
        row = dict(image=name, names=animal_names(labels[image_id]), split="val", mask=None, voc=image_id)
        if k < 7:
            row["mask"] = f"masks/v{k:02d}.png"
            row["mask_array"] = remap_to_animals(voc_mask(image_id))
            write_index_png(os.path.join(images, row["mask"]), row["mask_array"], palette=k == 2)
        rows.append(row)
    negative = sorted(os.listdir(shared_path("voc12_animals", "saliency_msra", "Image")))[0]
    write_photo(shared_path("voc12_animals", "saliency_msra", "Image", negative),
                os.path.join(images, "negatives", "street.jpg"))
    assert not animal_names(labels[os.path.splitext(negative)[0]])  # truly none of the five animals
    rows.append(dict(image="negatives/street.jpg", names=[], split="train", mask=None, voc=None))
    labels_csv = os.path.join(root, "labels.csv")
    write_csv(labels_csv, ["image", "labels", "split", "mask"],
              [[r["image"], ";".join(r["names"]), r["split"], r["mask"] or ""] for r in rows])
    return types.SimpleNamespace(images=images, labels=labels_csv, rows=rows)


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory):
    """Test 1's folder converted once by the command line (also the slow chain's data)."""
    root = str(tmp_path_factory.mktemp("own_photos"))
    data = build_user_folder(root)
    data.out = os.path.join(root, "converted")
    data.proc = run_cli(["-m", "tfrecords_tools", "folder", f"--images={data.images}", f"--labels={data.labels}",
                         f"--out={data.out}"])
    return data


def test_folder_and_csv_convert_with_labels_masks_and_negatives(user_folder):
    data = user_folder
    manifest = records.read_manifest(data.out)
    assert manifest["class_names"] == list(CLASS_NAMES)
    assert manifest["num_classes"] == 5
    expected_ids = {split: sorted(r["image"] for r in data.rows if r["split"] == split) for split in ("train", "val")}
    assert {s: manifest["splits"][s]["count"] for s in ("train", "val")} == {"train": 21, "val": 9}
    assert manifest["negatives"] == 1
    stored = examples_by_id(data.out)
    assert {s: sorted(stored[s]) for s in stored} == expected_ids  # ids: paths relative to the folder
    masked = 0
    for row in data.rows:
        ex = stored[row["split"]][row["image"]]
        path = os.path.join(data.images, row["image"])
        assert list(ex["labels"]) == sorted(CLASS_NAMES.index(n) for n in row["names"]), row["image"]
        with open(path, "rb") as f:
            assert ex["image"] == f.read(), f"{row['image']}: not the photo's own bytes"
        height, width = cv2.imread(path, cv2.IMREAD_UNCHANGED).shape[:2]
        assert (ex["height"], ex["width"]) == (height, width)
        if row["mask"]:
            np.testing.assert_array_equal(decoded_mask(ex["mask"]), row["mask_array"], err_msg=row["image"])
            masked += 1
        else:
            assert ex["mask"] == b"", row["image"]
    assert masked == 7
    assert [r for r in data.rows if not r["names"]] and stored["train"]["negatives/street.jpg"]["labels"].size == 0
    # the stored bytes are the grey JPEG and the RGBA PNG; the package's decoder makes RGB of them
    from tfguided.data import imageio
    grey_path, rgba_path = (os.path.join(data.images, n) for n in ("photo_04_grey.jpg", "photo_05_rgba.png"))
    grey = imageio.decode_image(stored["train"]["photo_04_grey.jpg"]["image"])
    by_opencv = cv2.imread(grey_path, cv2.IMREAD_UNCHANGED)
    assert by_opencv.ndim == 2 and grey.shape == by_opencv.shape + (3,)
    assert np.abs(grey.astype(int) - by_opencv[..., None]).max() <= 1
    rgba = imageio.decode_image(stored["train"]["photo_05_rgba.png"]["image"])
    by_opencv = cv2.imread(rgba_path, cv2.IMREAD_UNCHANGED)
    assert by_opencv.shape[2] == 4
    np.testing.assert_array_equal(rgba, by_opencv[..., 2::-1])
    assert "2 photos are grayscale or have an alpha channel" in data.proc.stdout
    assert "7 photos with a mask" in data.proc.stdout and "1 negatives" in data.proc.stdout
    assert "Traceback" not in data.proc.stdout


# ---------------------------------------------------------------- test 2: keras' layout

@pytest.mark.slow
def test_class_subfolders_convert_without_a_csv_and_loose_photos_are_refused(tmp_path):
    ids = single_animal_ids("train", ("dog", "horse", "cat"), per_class=4)
    images = tmp_path / "by_class"
    expected = {}
    for name, voc in ids.items():
        for k, image_id in enumerate(voc):
            rel = f"{name}/{'puppies/' if name == 'dog' and k == 0 else ''}{name}_{k}.{'png' if k == 1 else 'jpg'}"
            write_photo(voc_photo(image_id), str(images / rel), "png" if k == 1 else "copy")
            expected[rel] = name
    (images / "cat" / "notes.txt").write_text("not a photo")
    out = tmp_path / "out"
    proc = run_cli(["-m", "tfrecords_tools", "folder", f"--images={images}", f"--out={out}", "--val_fraction=0.4"])
    manifest = records.read_manifest(str(out))
    assert manifest["class_names"] == ["background", "cat", "dog", "horse"]  # the subfolders, sorted
    stored = examples_by_id(str(out))
    assert stored["train"] and stored["val"]
    assert sorted([*stored["train"], *stored["val"]]) == sorted(expected)
    for split in stored:
        for image_id, ex in stored[split].items():
            assert list(ex["labels"]) == [manifest["class_names"].index(expected[image_id])], image_id
    assert "classes cat, dog, horse" in proc.stdout

    write_photo(voc_photo(ids["cat"][0]), str(images / "stray cat.jpg"))
    before = snapshot(str(out))
    refused = run_cli(["-m", "tfrecords_tools", "folder", f"--images={images}", f"--out={out}"], check=False)
    assert refused.returncode == 2, refused.stdout
    assert "stray cat.jpg" in refused.stdout and "sit in the folder itself" in refused.stdout
    assert "Traceback" not in refused.stdout
    assert snapshot(str(out)) == before and not hidden_leftovers(str(tmp_path))


# ---------------------------------------------------------------- test 3: --class_names

@pytest.mark.slow
def test_class_names_flag_sets_the_order_and_refuses_other_classes(tmp_path):
    ids = single_animal_ids("train", ("sheep", "cat", "dog"), per_class=3)
    images = tmp_path / "photos"
    rows = []
    for name in ("sheep", "cat", "dog"):
        for k, image_id in enumerate(ids[name]):
            write_photo(voc_photo(image_id), str(images / f"{name}{k}.jpg"))
    rows = [["sheep0.jpg", "sheep", "train"], ["cat0.jpg", "cat", "train"], ["sheep1.jpg", "sheep", "val"],
            ["cat1.jpg", "cat;sheep", "train"], ["cat2.jpg", "cat", "val"], ["sheep2.jpg", "", "train"]]
    good = tmp_path / "good.csv"
    write_csv(str(good), ["image", "labels", "split"], rows)
    out = tmp_path / "out"
    proc = run_cli(["-m", "tfrecords_tools", "folder", f"--images={images}", f"--labels={good}", f"--out={out}",
                    "--class_names=sheep,cat"])
    assert records.read_manifest(str(out))["class_names"] == ["background", "sheep", "cat"]
    stored = examples_by_id(str(out))
    expected = {"sheep0.jpg": [1], "cat0.jpg": [2], "sheep1.jpg": [1], "cat1.jpg": [1, 2], "cat2.jpg": [2],
                "sheep2.jpg": []}
    assert {i: list(ex["labels"]) for s in stored for i, ex in stored[s].items()} == expected
    assert "classes sheep, cat" in proc.stdout

    bad = tmp_path / "with a dog.csv"
    write_csv(str(bad), ["image", "labels", "split"], rows[:3] + [["dog0.jpg", "dog", "train"]] + rows[3:])
    before = snapshot(str(out))
    with pytest.raises(ValueError, match=re.escape(f"{bad}: line 5: class 'dog' is not one of --class_names")):
        folder.convert(str(images), str(out), str(bad), ["sheep", "cat"], verbose=False)
    assert snapshot(str(out)) == before and not hidden_leftovers(str(tmp_path))


# ---------------------------------------------------------------- test 4: bad inputs, CSV dialects

SMALL = [  # (VOC id of voc12_animals, file name, labels cell, split)
    ("2007_000528", "cat.jpg", "cat", "train"),
    ("2007_000904", "cow and horse.jpg", "cow;horse", "train"),
    ("2007_000063", "dog.jpg", "dog", "train"),
    ("2007_001416", "sheep.jpg", "sheep", "train"),
    ("2007_000175", "val/sheep.jpg", "sheep", "val"),
    ("2007_000464", "val/cow.jpg", "cow", "val"),
]


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory):
    """Six photos covering the five animals, a good CSV (a mask on one val photo), and the files
    the bad rows point at; the good CSV converted into `out`."""
    root = str(tmp_path_factory.mktemp("small_folder"))
    images = os.path.join(root, "photos")
    for image_id, name, _, _ in SMALL:
        write_photo(voc_photo(image_id), os.path.join(images, name))
    val_mask = remap_to_animals(voc_mask("2007_000464"))
    write_index_png(os.path.join(images, "masks", "cow.png"), val_mask)
    write_index_png(os.path.join(images, "masks", "small.png"), np.zeros((8, 10), np.uint8))
    wrong = val_mask.copy()
    wrong[:3, :3], wrong[-2:, -2:] = 6, 9
    write_index_png(os.path.join(images, "masks", "out_of_range.png"), wrong)
    with open(os.path.join(images, "broken.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 this is not really a JPEG" + bytes(200))
    rows = [[name, cell, split, "masks/cow.png" if name == "val/cow.jpg" else ""] for _, name, cell, split in SMALL]
    good = os.path.join(root, "labels.csv")
    write_csv(good, ["image", "labels", "split", "mask"], rows)
    out = os.path.join(root, "out")
    folder.convert(images, out, good, verbose=False)
    return types.SimpleNamespace(root=root, images=images, rows=rows, good=good, out=out,
                                 fingerprint=records.content_fingerprint(out))


def test_small_folder_reference_conversion(small_folder):
    """The reference the bad inputs are refused against holds what its CSV says."""
    manifest = records.read_manifest(small_folder.out)
    assert manifest["class_names"] == list(CLASS_NAMES) and manifest["negatives"] == 0
    stored = examples_by_id(small_folder.out)
    for _, name, cell, split in SMALL:
        assert list(stored[split][name]["labels"]) == sorted(CLASS_NAMES.index(n) for n in cell.split(";"))
    np.testing.assert_array_equal(decoded_mask(stored["val"]["val/cow.jpg"]["mask"]),
                                  remap_to_animals(voc_mask("2007_000464")))


def _bad_cases(images):
    """name -> (the rows: the good ones with some replaced or added, the exception, a regex on its
    message: the CSV's name and line and the offending file's name). The good CSV's rows are its
    lines 2..7 (dog.jpg on line 4, val/sheep.jpg on line 6, val/cow.jpg on 7); an added row is line 8."""
    photo = lambda name: re.escape(os.path.join(images, name))
    line = lambda n: r"labels\.csv: line %d: " % n
    return {
        "missing photo": ({"gone.jpg": ["gone.jpg", "cat", "train", ""]}, FileNotFoundError,
                          line(8) + photo("gone.jpg") + ": no such photo file"),
        "missing mask": ({"dog.jpg": ["dog.jpg", "dog", "val", "masks/gone.png"]}, FileNotFoundError,
                         line(4) + photo("masks/gone.png") + ": no such mask file"),
        "undecodable photo": ({"broken.jpg": ["broken.jpg", "cat", "train", ""]}, ValueError,
                              line(8) + photo("broken.jpg") + ": not a decodable image"),
        "duplicate row": ({"again": ["dog.jpg", "dog", "train", ""]}, ValueError,
                          line(8) + r"dog\.jpg listed again \(first at .*labels\.csv: line 4\)"),
        "conflicting labels": ({"again": ["dog.jpg", "dog;cat", "train", ""]}, ValueError,
                               line(8) + r"conflicting labels for dog\.jpg"),
        "mask of another size": ({"val/sheep.jpg": ["val/sheep.jpg", "sheep", "val", "masks/small.png"]}, ValueError,
                                 line(6) + photo("masks/small.png") + r": mask is 10x8 but the photo "
                                 + photo("val/sheep.jpg") + r" is \d+x\d+"),
        "mask values out of range": ({"val/cow.jpg": ["val/cow.jpg", "cow", "val", "masks/out_of_range.png"]},
                                     ValueError, line(7) + photo("masks/out_of_range.png")
                                     + r": label values \[6, 9\] outside 0\.\.5"),
        "split not train or val": ({"extra.jpg": ["extra.jpg", "cat", "test", ""]}, ValueError,
                                   line(8) + r"split 'test': use train or val"),
    }


BAD_CASES = ["missing photo", "missing mask", "undecodable photo", "duplicate row", "conflicting labels",
             "mask of another size", "mask values out of range", "split not train or val"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_refused_by_name_and_nothing_is_written(small_folder, case, tmp_path):
    changes, error, pattern = _bad_cases(small_folder.images)[case]
    rows = [changes.get(r[0], r) for r in small_folder.rows]
    rows += [r for key, r in changes.items() if key not in {g[0] for g in small_folder.rows}]
    labels = str(tmp_path / "labels.csv")
    write_csv(labels, ["image", "labels", "split", "mask"], rows)
    before = snapshot(small_folder.out)
    with pytest.raises(error, match=pattern):
        folder.convert(small_folder.images, small_folder.out, labels, verbose=False)
    assert snapshot(small_folder.out) == before, "the earlier conversion was changed"
    fresh = str(tmp_path / "fresh out")
    with pytest.raises(error, match=pattern):
        folder.convert(small_folder.images, fresh, labels, verbose=False)
    assert not os.path.exists(fresh)
    assert not hidden_leftovers(str(tmp_path)) and not hidden_leftovers(small_folder.root)


def test_a_csv_without_an_image_column_is_refused_by_name(small_folder, tmp_path):
    labels = str(tmp_path / "no image column.csv")
    write_csv(labels, ["picture", "labels", "split"], [r[:3] for r in small_folder.rows])
    out = str(tmp_path / "out")
    with pytest.raises(ValueError, match=re.escape(labels) + r": line 1: no image column in the header"):
        folder.convert(small_folder.images, out, labels, verbose=False)
    assert not os.path.exists(out) and not hidden_leftovers(str(tmp_path))


@pytest.mark.parametrize("dialect", ["bom_crlf", "semicolons", "tsv", "pipes_no_mask_column_order"])
def test_csv_dialects_convert_to_the_same_records(small_folder, dialect, tmp_path):
    """Excel's "CSV UTF-8" (BOM, CRLF), a semicolon CSV (names quoted), a TSV, and columns in
    another order with '|' between names: the same records as the plain CSV."""
    rows = small_folder.rows
    header = ["image", "labels", "split", "mask"]
    if dialect == "bom_crlf":
        path = str(tmp_path / "labels.csv")
        write_csv(path, header, rows, encoding="utf-8-sig", newline="\r\n")
        with open(path, "rb") as f:
            raw = f.read()
        assert raw.startswith(b"\xef\xbb\xbfimage,") and raw.count(b"\r\n") == len(rows) + 1
    elif dialect == "semicolons":
        path = str(tmp_path / "labels.csv")
        write_csv(path, header, rows, delimiter=";")
        with open(path, encoding="utf-8") as f:
            assert '"cow;horse"' in f.read()
    elif dialect == "tsv":
        path = str(tmp_path / "labels.tsv")
        write_csv(path, header, rows, delimiter="\t")
    else:
        path = str(tmp_path / "labels.csv")
        write_csv(path, ["Split", "Mask", "Tags", "File"],
                  [[r[2], r[3], r[1].replace(";", " | "), r[0]] for r in rows])
    out = str(tmp_path / "out")
    folder.convert(small_folder.images, out, path, verbose=False)
    assert records.content_fingerprint(out) == small_folder.fingerprint


def test_unicode_and_space_class_names_reach_the_manifest(small_folder, tmp_path):
    cells = {"cat.jpg": UNICODE_NAMES[0], "cow and horse.jpg": f"{UNICODE_NAMES[1]};{UNICODE_NAMES[0]}",
             "dog.jpg": UNICODE_NAMES[1], "sheep.jpg": "", "val/sheep.jpg": UNICODE_NAMES[0],
             "val/cow.jpg": UNICODE_NAMES[1]}
    path = str(tmp_path / "étiquettes.csv")
    write_csv(path, ["image", "labels", "split"], [[name, cells[name], split] for name, _, split, _ in
                                                    small_folder.rows])
    out = str(tmp_path / "out")
    folder.convert(small_folder.images, out, path, verbose=False)
    with open(os.path.join(out, records.MANIFEST), encoding="utf-8") as f:
        manifest = json.load(f)
    expected_names = ["background"] + sorted(UNICODE_NAMES)  # the names found, sorted (none given)
    assert manifest["class_names"] == expected_names and manifest["negatives"] == 1
    stored = examples_by_id(out)
    for name, _, split, _ in small_folder.rows:
        wanted = sorted(expected_names.index(n) for n in cells[name].split(";") if n)
        assert list(stored[split][name]["labels"]) == wanted, name


# ---------------------------------------------------------------- tests 5, 6: the chain on own photos

NAN = re.compile(r"\bnan\b", re.IGNORECASE)
CHAIN_STEPS = ["--override=seeder.train.steps=60", "--override=seeder.train.decay_every=40",
               "--override=segmenter.train.steps=60", "--override=segmenter.train.decay_every=40"]


def train(data_dir, workdir, num_classes, stage, saliency="mbd"):
    return run_cli(["train_main.py", "--preset=tiny", f"--override=num_classes={num_classes}", *CHAIN_STEPS,
                    f"--data_dir={data_dir}", f"--saliency={saliency}", f"--workdir={workdir}", f"--stage={stage}"])


def saved_model_of(workdir):
    found = glob.glob(os.path.join(workdir, "export-*", "saved_model"))
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def own_photos_chain(user_folder, tmp_path_factory):
    """The tiny chain on test 1's converted folder: export, evaluate, predict on one photo."""
    root = tmp_path_factory.mktemp("own_chain")
    workdir = str(root / "work")
    export = train(user_folder.out, workdir, 5, "export")
    evaluate = train(user_folder.out, workdir, 5, "evaluate")
    photo = os.path.join(user_folder.images, "val", "v03.jpg")
    predicted = str(root / "predicted")
    predict = run_cli(["-m", "tfguided.predict", f"--model={saved_model_of(workdir)}", f"--out={predicted}", photo])
    return types.SimpleNamespace(workdir=workdir, export=export, evaluate=evaluate, predict=predict,
                                 predicted=predicted, photo=photo)


@pytest.mark.slow
def test_tiny_chain_on_own_photos_exports_evaluates_and_predicts(own_photos_chain, user_folder):
    chain = own_photos_chain
    metrics_files = glob.glob(os.path.join(chain.workdir, "evaluate-*", "metrics.json"))
    assert len(metrics_files) == 1, metrics_files
    with open(metrics_files[0]) as f:
        metrics = json.load(f)
    masked_val = sum(1 for r in user_folder.rows if r["split"] == "val" and r["mask"])
    val = sum(1 for r in user_folder.rows if r["split"] == "val")
    assert (metrics["images"], metrics["images_with_masks"]) == (val, masked_val) == (9, 7)
    assert isinstance(metrics["image_map"], float) and 0 <= metrics["image_map"] <= 100
    assert 0 <= metrics["miou"] <= 100 and 0 <= metrics["miou_crf"] <= 100
    assert set(metrics["per_class_iou"]) == set(CLASS_NAMES)
    confusion = np.array(metrics["confusion"])
    assert confusion.shape == (6, 6)
    # mIoU over the masked val photos only: the confusion matrix counts exactly their non-void pixels
    expected_pixels = sum(int(np.sum(r["mask_array"] != 255)) for r in user_folder.rows if r.get("mask"))
    assert confusion.sum() == expected_pixels
    assert f"{masked_val} of {val} images with masks" in chain.evaluate.stdout + chain.export.stdout

    model = saved_model_of(chain.workdir)
    with open(os.path.join(model, "class_names.txt"), encoding="utf-8") as f:
        assert f.read().splitlines() == list(CLASS_NAMES)
    label_map = np.array(Image.open(os.path.join(chain.predicted, "v03.png")))
    assert label_map.shape == cv2.imread(chain.photo).shape[:2]
    assert label_map.min() >= 0 and label_map.max() <= 5
    with open(os.path.join(chain.predicted, "predictions.tsv"), encoding="utf-8") as f:
        table = list(csv.DictReader(f, delimiter="\t"))
    assert len(table) == 1 and table[0]["input"] == chain.photo and table[0]["error"] == ""
    found = [n.strip() for n in table[0]["classes"].split(",") if n.strip()]
    assert set(found) <= set(ANIMALS)
    assert set(found) == {CLASS_NAMES[c] for c in np.unique(label_map) if c > 0}
    for proc in (chain.export, chain.evaluate, chain.predict):
        assert not NAN.search(proc.stdout), proc.stdout[-3000:]


@pytest.mark.slow
def test_tiny_chain_without_any_mask_and_with_unicode_class_names(tmp_path):
    """No mask anywhere (no mask column): the chain runs to export, the guide and the evaluation
    say so instead of printing NaN, the evaluation still draws panels; the class names
    'Zebrastreifen ü' and 'rusty bolt' reach the export's class_names.txt and predict's table.
    Saliency: the pretrained net shipped in tfguided/weights (no saliency data, as a user has none)."""
    rename = {"cat": UNICODE_NAMES[0], "dog": UNICODE_NAMES[1]}
    ids = {"train": single_animal_ids("train", ("cat", "dog"), per_class=8),
           "val": single_animal_ids("val", ("cat", "dog"), per_class=2)}
    images = tmp_path / "fotos"
    rows = []
    for split, by_class in ids.items():
        for name, voc in by_class.items():
            for k, image_id in enumerate(voc):
                rel = f"{split}/{rename[name]} {k}.jpg"
                write_photo(voc_photo(image_id), str(images / rel))
                rows.append([rel, rename[name], split])
    labels = str(tmp_path / "tags.csv")
    write_csv(labels, ["image", "labels", "split"], rows)
    out = str(tmp_path / "converted")
    convert = run_cli(["-m", "tfrecords_tools", "folder", f"--images={images}", f"--labels={labels}", f"--out={out}"])
    assert "0 photos with a mask" in convert.stdout
    assert records.read_manifest(out)["class_names"] == ["background"] + sorted(UNICODE_NAMES)
    workdir = str(tmp_path / "work")
    export = train(out, workdir, 2, "export", saliency="pretrained")  # the net shipped in tfguided/weights
    evaluate = train(out, workdir, 2, "evaluate", saliency="pretrained")
    outputs = export.stdout + evaluate.stdout
    assert "no masks: quality not measured" in outputs
    assert re.search(r"evaluate: no masks on the 4 val images", outputs), outputs[-3000:]
    panels = glob.glob(os.path.join(workdir, "evaluate-*", "panels", "**", "*.png"), recursive=True)
    assert panels, "the evaluation drew no panels"
    metrics_files = glob.glob(os.path.join(workdir, "evaluate-*", "metrics.json"))
    assert len(metrics_files) == 1
    with open(metrics_files[0]) as f:
        text = f.read()
    metrics = json.loads(text)
    assert metrics["images_with_masks"] == 0 and "miou" not in metrics and 0 <= metrics["image_map"] <= 100
    model = saved_model_of(workdir)
    with open(os.path.join(model, "class_names.txt"), encoding="utf-8") as f:
        assert f.read().splitlines() == ["background"] + sorted(UNICODE_NAMES)
    predicted = str(tmp_path / "predicted")
    predict = run_cli(["-m", "tfguided.predict", f"--model={model}", f"--out={predicted}",
                       str(images / rows[-1][0])])
    with open(os.path.join(predicted, "predictions.tsv"), encoding="utf-8") as f:
        table = list(csv.DictReader(f, delimiter="\t"))
    assert set(n.strip() for n in table[0]["classes"].split(",") if n.strip()) <= set(UNICODE_NAMES)
    for name in glob.glob(os.path.join(workdir, "**", "*.json"), recursive=True):
        with open(name, encoding="utf-8") as f:
            assert not NAN.search(f.read()), name
    for proc in (convert, export, evaluate, predict):
        assert not NAN.search(proc.stdout), proc.stdout[-3000:]
