"""Conversion never loses finished work and never passes a wrong input silently (issue 13,
items 1-3 and 8), and class subsets on real animal photos (issue 12, item 1)."""

import os
import shutil

import numpy as np
import pytest

from conftest import shared_path
from tfguided import configs
from tfguided.data import labelmap, records
from tfguided.sources import voc
from tfguided.stages.context import Context

IDS = ["2007_000063", "2007_000175", "2007_000332", "2007_000491", "2007_000528"]  # cat dog sheep ...


def _animals_root(tmp_path, ids=IDS, val=()):
    """A VOC root with real voc12_animals photos (VOC-indexed truth) and their TSV labels."""
    real = shared_path("voc12_animals", "VOC2012")
    root = tmp_path / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in list(ids) + list(val):
        for sub, ext in (("JPEGImages", "jpg"), ("SegmentationClass", "png")):
            shutil.copy(f"{real}/{sub}/{i}.{ext}", root / sub / f"{i}.{ext}")
    (root / "ImageSets/Segmentation/train.txt").write_text("".join(i + "\n" for i in ids))
    (root / "ImageSets/Segmentation/val.txt").write_text("".join(i + "\n" for i in val))
    tsv = shared_path("voc12_lists", "image_labels.tsv")
    return root, tsv


def _shard_bytes(out):
    return {f: open(os.path.join(out, f), "rb").read() for f in sorted(os.listdir(out)) if f.endswith(".tfrecord")}


def test_reconversion_is_byte_identical_and_layout_free(tmp_path):
    root, tsv = _animals_root(tmp_path, IDS[:4], IDS[4:])
    a, b, c = (str(tmp_path / n) for n in "abc")
    voc.convert(str(root), a, labels_tsv=tsv, examples_per_shard=2, verbose=False)
    voc.convert(str(root), b, labels_tsv=tsv, examples_per_shard=2, verbose=False)
    assert _shard_bytes(a) == _shard_bytes(b) and len(_shard_bytes(a)) == 3
    voc.convert(str(root), c, labels_tsv=tsv, examples_per_shard=100, verbose=False)
    assert records.content_fingerprint(a) == records.content_fingerprint(c)
    voc.convert(str(root), a, labels_tsv=tsv, examples_per_shard=100, verbose=False)  # reshard in place
    assert sorted(_shard_bytes(a)) == sorted(_shard_bytes(c))  # no stale shards of the old layout


def test_a_failed_conversion_leaves_the_previous_output_as_it_was(tmp_path):
    root, tsv = _animals_root(tmp_path, IDS[:2])
    out = str(tmp_path / "out")
    voc.convert(str(root), out, splits=("train",), labels_tsv=tsv, verbose=False)
    before = {f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out)}
    with pytest.raises(FileNotFoundError, match="trian.txt"):
        voc.convert(str(root), out, splits=("trian",), labels_tsv=tsv, verbose=False)
    (root / "JPEGImages" / f"{IDS[1]}.jpg").write_bytes(b"\xff\xd8 broken")
    with pytest.raises(ValueError, match="not a decodable image"):
        voc.convert(str(root), out, splits=("train",), labels_tsv=tsv, verbose=False)
    assert {f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out)} == before
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]  # no staging folder left


def test_empty_split_and_overlapping_splits_are_refused(tmp_path):
    root, tsv = _animals_root(tmp_path, IDS[:2], IDS[1:3])
    with pytest.raises(ValueError, match=r"splits 'train' and 'val' share 1 ids"):
        voc.convert(str(root), str(tmp_path / "o"), labels_tsv=tsv, verbose=False)
    (root / "ImageSets/Segmentation/val.txt").write_text("")
    with pytest.raises(ValueError, match="split 'val' lists no image"):
        voc.convert(str(root), str(tmp_path / "o"), labels_tsv=tsv, verbose=False)
    assert not os.path.exists(tmp_path / "o")


def test_manifest_counts_that_disagree_with_the_shards_are_named(tmp_path):
    root, tsv = _animals_root(tmp_path, IDS[:3])
    out = str(tmp_path / "out")
    manifest = voc.convert(str(root), out, splits=("train",), labels_tsv=tsv, verbose=False)
    manifest["splits"]["train"]["shards"][0]["count"] = 4
    records.write_manifest(out, manifest.pop("kind"), manifest.pop("splits"), manifest.pop("num_classes"),
                           manifest.pop("class_names"), {k: v for k, v in manifest.items() if k != "format"})
    with pytest.raises(ValueError, match="holds 3 examples but .*manifest.json says 4"):
        records.split_files(out, "train")


def test_labels_that_disagree_with_masks_are_listed_once(tmp_path, capsys):
    root, tsv = _animals_root(tmp_path, IDS[:3])
    labelmap.write_label_png(str(root / "SegmentationClass" / f"{IDS[0]}.png"),
                             np.zeros_like(labelmap.read_label_png(str(root / "SegmentationClass" / f"{IDS[0]}.png"))))
    out = str(tmp_path / "out")
    manifest = voc.convert(str(root), out, splits=("train",), labels_tsv=tsv, verbose=True)
    assert capsys.readouterr().out.count("1 images have image labels that differ") == 1
    rows = open(os.path.join(out, voc.MISMATCHES)).read().splitlines()
    assert len(rows) == 2 and rows[1].startswith(IDS[0] + "\t") and manifest["label_mask_mismatches"] == 1


def test_class_subset_remaps_real_masks_and_labels(tmp_path):
    """Real photos with VOC-indexed truth -> the animals subset: labels 1..5, others background,
    void kept; a photo without any animal is left out."""
    root, tsv = _animals_root(tmp_path, IDS)
    no_animal = "2007_000032"  # aeroplane + person (voc12_mini)
    mini = shared_path("voc12_mini", "VOC2012")
    shutil.copy(f"{mini}/JPEGImages/{no_animal}.jpg", root / "JPEGImages")
    shutil.copy(f"{mini}/SegmentationClass/{no_animal}.png", root / "SegmentationClass")
    (root / "ImageSets/Segmentation/train.txt").write_text("".join(i + "\n" for i in IDS + [no_animal]))
    out = str(tmp_path / "out")
    manifest = voc.convert(str(root), out, splits=("train",), labels_tsv=tsv, verbose=False,
                           classes_subset="cat,cow,dog,horse,sheep")
    assert manifest["class_names"] == ["background", "cat", "cow", "dog", "horse", "sheep"]
    assert manifest["num_classes"] == 5 and manifest["splits"]["train"]["ids"] == IDS
    animals = {8: 1, 10: 2, 12: 3, 13: 4, 17: 5}
    for ex in records.iterate_numpy(out, "train"):
        source = labelmap.read_label_png(str(root / "SegmentationClass" / (ex["id"].decode() + ".png")))
        expected = np.vectorize(lambda v: animals.get(v, 255 if v == 255 else 0))(source)
        np.testing.assert_array_equal(labelmap.decode_label_png(ex["mask"]), expected)
        assert set(ex["labels"].tolist()) <= set(range(1, 6)) and len(ex["labels"])


def test_recovery_from_a_corrupt_shard_keeps_finished_stages(tmp_path):
    """A corrupt shard names how to recover; reconverting the same data (another shard size)
    gives the same data fingerprint, so a finished stage is reused, not refused."""
    root, tsv = _animals_root(tmp_path, IDS[:4], IDS[4:])
    data_dir = tmp_path / "data"
    voc.convert(str(root), str(data_dir / "voc"), labels_tsv=tsv, examples_per_shard=2, verbose=False)
    cfg = configs.override(configs.preset("tiny"), ["saliency.method=mbd"])
    ctx = Context(cfg, str(tmp_path / "work"), data_dir=str(data_dir))
    before = ctx.data_fingerprint("seeder")
    shard = data_dir / "voc" / "train-00000-of-00002.tfrecord"
    shard.write_bytes(shard.read_bytes()[:-3] + b"xyz")
    with pytest.raises(ValueError, match="corrupt shard.*convert the data again.*finished stages are kept"):
        records.split_files(str(data_dir / "voc"), "train")
    voc.convert(str(root), str(data_dir / "voc"), labels_tsv=tsv, examples_per_shard=3, verbose=False)
    assert ctx.data_fingerprint("seeder") == before
