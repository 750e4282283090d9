"""VOC2012 + SBD in their official formats (Annotations XML, cls/*.mat): the train_aug merge,
mask priority, and the image-label sources, on tiny fixtures built here."""

import os

import cv2
import numpy as np
import pytest
import scipy.io

from tfguided.data import labelmap, records
from tfguided.sources import voc

XML = """<annotation><folder>VOC2012</folder><filename>{id}.jpg</filename>
<size><width>24</width><height>16</height><depth>3</depth></size>{objects}</annotation>"""
OBJECT = "<object><name>{name}</name><pose>Left</pose><truncated>0</truncated><difficult>0</difficult>" \
         "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>8</xmax><ymax>8</ymax></bndbox></object>"


def mask(cls):
    m = np.zeros((16, 24), np.uint8)
    m[2:10, 3:12] = cls
    m[1, 3:12] = 255
    return m


def build(root):
    """VOC: a, b train; c val; PNG masks for a, b, c; XML for all. SBD: b, d train; c, e val;
    .mat masks for b (different from VOC's), c, d, e; e's photo only in SBD's img/."""
    vocr, sbd = root / "VOC2012", root / "sbd"
    for d in ("JPEGImages", "SegmentationClass", "Annotations", "ImageSets/Segmentation"):
        (vocr / d).mkdir(parents=True)
    for d in ("cls", "img"):
        (sbd / d).mkdir(parents=True)
    rng = np.random.default_rng(0)
    xml_names = {"a": ["dog", "person"], "b": ["cat"], "c": ["car"], "d": ["bus", "bus"], "e": ["sheep"]}
    for image_id, names in xml_names.items():
        folder = sbd / "img" if image_id == "e" else vocr / "JPEGImages"
        cv2.imwrite(str(folder / f"{image_id}.jpg"), rng.integers(0, 255, (16, 24, 3), dtype=np.uint8))
        (vocr / "Annotations" / f"{image_id}.xml").write_text(
            XML.format(id=image_id, objects="".join(OBJECT.format(name=n) for n in names)))
    for image_id, cls in (("a", 12), ("b", 8), ("c", 7)):
        labelmap.write_label_png(str(vocr / "SegmentationClass" / f"{image_id}.png"), mask(cls))
    for image_id, cls in (("b", 3), ("c", 7), ("d", 6), ("e", 17)):
        scipy.io.savemat(str(sbd / "cls" / f"{image_id}.mat"), {"GTcls": {
            "Segmentation": mask(cls), "CategoriesPresent": np.array([[cls]], np.uint8)}})
    (vocr / "ImageSets/Segmentation/train.txt").write_text("a\nb\n")
    (vocr / "ImageSets/Segmentation/val.txt").write_text("c\n")
    (sbd / "train.txt").write_text("b\nd\n")
    (sbd / "val.txt").write_text("c\ne\n")
    return str(vocr), str(sbd)


def by_id(out, split):
    return {ex["id"].decode(): ex for ex in records.iterate_numpy(out, split)}


def test_train_aug_merges_voc_and_sbd_without_voc_val(tmp_path):
    vocr, sbd = build(tmp_path)
    assert voc.train_aug_ids(vocr, sbd) == ["a", "b", "d", "e"]
    out = str(tmp_path / "out")
    manifest = voc.convert(vocr, out, splits=("train_aug", "val"), sbd_root=sbd, verbose=False)
    assert manifest["splits"]["train_aug"]["count"] == 4 and manifest["labels_source"] == "xml"
    ex = by_id(out, "train_aug")
    # masks: VOC's PNG wins over SBD's .mat for b; d and e come from SBD (e's photo from SBD img/)
    for image_id, cls in (("a", 12), ("b", 8), ("d", 6), ("e", 17)):
        np.testing.assert_array_equal(labelmap.decode_label_png(ex[image_id]["mask"]), mask(cls))
    # labels: the XML's object names (a has a person the mask does not show; d's two buses are one class)
    assert [tuple(ex[i]["labels"]) for i in "abde"] == [(12, 15), (8,), (6,), (17,)]


def test_labels_from_masks_and_refusals(tmp_path):
    vocr, sbd = build(tmp_path)
    out = str(tmp_path / "m")
    voc.convert(vocr, out, splits=("train_aug",), sbd_root=sbd, labels_from="masks", verbose=False)
    assert tuple(by_id(out, "train_aug")["a"]["labels"]) == (12,)
    with pytest.raises(FileNotFoundError, match="no --sbd_root to build train_aug"):
        voc.convert(vocr, str(tmp_path / "x"), splits=("train_aug",), verbose=False)
    (tmp_path / "VOC2012/Annotations/b.xml").write_text("<annotation><object><name>dragon</name>"
                                                        "</object></annotation>")
    with pytest.raises(ValueError, match=r"b.xml: object names \['dragon'\] are not classes"):
        voc.convert(vocr, str(tmp_path / "y"), splits=("train",), verbose=False)
    (tmp_path / "VOC2012/Annotations/b.xml").write_text("<annotation><object>")
    with pytest.raises(ValueError, match="b.xml: not valid XML"):
        voc.convert(vocr, str(tmp_path / "z"), splits=("train",), verbose=False)
    os.remove(tmp_path / "sbd/cls/d.mat")
    scipy.io.savemat(str(tmp_path / "sbd/cls/d.mat"), {"other": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="d.mat: not an SBD class file"):
        voc.convert(vocr, str(tmp_path / "w"), splits=("train_aug",), sbd_root=sbd,
                    labels_from="masks", verbose=False)


def test_sbd_ids_in_voc_val_stay_out_and_a_truncated_mat_is_named(tmp_path):
    vocr, sbd = build(tmp_path)
    (tmp_path / "sbd" / "train.txt").write_text("b\nd\nc\n")  # SBD train holds a VOC val image
    assert voc.train_aug_ids(vocr, sbd) == ["a", "b", "d", "e"]
    (tmp_path / "sbd" / "cls" / "d.mat").write_bytes(b"MATLAB 5.0")
    with pytest.raises(ValueError, match="d.mat: not an SBD class file"):
        voc.convert(vocr, str(tmp_path / "o"), splits=("train_aug",), sbd_root=sbd,
                    labels_from="masks", verbose=False)
