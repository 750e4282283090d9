"""The `voc` converter on the real VOC photos in ../shared/data: ids, bytes, sizes, labels kept."""

import os
import struct

import cv2
import numpy as np
import pytest

from conftest import shared_path
from tfguided.data import labelmap, records
from tfguided.sources import voc


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = shared_path("voc12_mini", "VOC2012")
    tsv = shared_path("voc12_lists", "image_labels.tsv")
    out = str(tmp_path_factory.mktemp("vocmini"))
    manifest = voc.convert(root, out, labels_tsv=tsv, examples_per_shard=200, verbose=False)
    return root, tsv, out, manifest


def test_counts_and_ids_match_the_split_lists(converted):
    root, _, out, manifest = converted
    for split, expected in (("train", 330), ("val", 346)):
        ids = voc.read_split_ids(root, split)
        assert manifest["splits"][split]["count"] == expected == len(ids)
        assert manifest["splits"][split]["ids"] == ids
        assert [ex["id"].decode() for ex in records.iterate_numpy(out, split)] == ids
    assert manifest["num_classes"] == 20 and manifest["class_names"][15] == "person"
    assert len(manifest["splits"]["val"]["shards"]) == 2  # 346 examples at 200 per shard


def test_round_trip_preserves_bytes_sizes_and_label_values(converted):
    root, tsv, out, _ = converted
    tsv_labels = voc.read_image_labels(tsv)
    for n, ex in enumerate(records.iterate_numpy(out, "train")):
        image_id = ex["id"].decode()
        with open(os.path.join(root, "JPEGImages", image_id + ".jpg"), "rb") as f:
            assert ex["image"] == f.read()
        original = labelmap.read_label_png(os.path.join(root, "SegmentationClass", image_id + ".png"))
        mask = labelmap.decode_label_png(ex["mask"])
        assert (ex["height"], ex["width"]) == original.shape == mask.shape
        np.testing.assert_array_equal(mask, original)
        assert tuple(ex["labels"]) == tsv_labels[image_id]
        if n == 40:
            break


def test_tsv_labels_agree_with_mask_labels_for_every_image(converted):
    root, _, out, _ = converted
    from_masks = str(os.path.join(out, "..", "from_masks"))
    manifest = voc.convert(root, from_masks, labels_from="masks", verbose=False)
    assert manifest["labels_source"] == "masks"
    for split in ("train", "val"):
        a = {e["id"]: tuple(e["labels"]) for e in records.iterate_numpy(out, split)}
        b = {e["id"]: tuple(e["labels"]) for e in records.iterate_numpy(from_masks, split)}
        assert a == b


def _mini_root(tmp_path, ids, mask_transform=None):
    """A VOC root with `ids` copied from the real set (masks optionally transformed)."""
    real = shared_path("voc12_mini", "VOC2012")
    root = tmp_path / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True)
    for i in ids:
        (root / "JPEGImages" / f"{i}.jpg").write_bytes(open(f"{real}/JPEGImages/{i}.jpg", "rb").read())
        mask = labelmap.read_label_png(f"{real}/SegmentationClass/{i}.png")
        labelmap.write_label_png(str(root / "SegmentationClass" / f"{i}.png"),
                                 mask_transform(mask) if mask_transform else mask)
    (root / "ImageSets/Segmentation/train.txt").write_text("\n".join(ids) + "\n")
    return root


def test_mask_size_mismatch_is_refused_by_name(tmp_path):
    root = _mini_root(tmp_path, ["2007_000032"], lambda m: m[:-1])
    with pytest.raises(ValueError, match=r"2007_000032\.png: mask is 500x280"):
        voc.convert(str(root), str(tmp_path / "out"), splits=("train",), verbose=False)
    assert not os.path.exists(tmp_path / "out" / records.MANIFEST)


def test_label_values_outside_the_class_set_are_refused(tmp_path):
    root = _mini_root(tmp_path, ["2007_000032"], lambda m: np.where(m == 1, 42, m).astype(np.uint8))
    with pytest.raises(ValueError, match=r"label values \[42\] outside 0..20"):
        voc.convert(str(root), str(tmp_path / "out"), splits=("train",), verbose=False)


def test_missing_image_and_duplicate_ids_are_named(tmp_path):
    root = _mini_root(tmp_path, ["2007_000032", "2007_000039"])
    (root / "JPEGImages" / "2007_000039.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"2007_000039\.jpg: image listed but file missing"):
        voc.convert(str(root), str(tmp_path / "out"), splits=("train",), verbose=False)
    (root / "ImageSets/Segmentation/train.txt").write_text("2007_000032\n2007_000032\n")
    with pytest.raises(ValueError, match="duplicate id '2007_000032'"):
        voc.convert(str(root), str(tmp_path / "out"), splits=("train",), verbose=False)


def test_corrupt_jpeg_is_named(tmp_path):
    root = _mini_root(tmp_path, ["2007_000032"])
    path = root / "JPEGImages" / "2007_000032.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    with pytest.raises(ValueError, match=r"2007_000032\.jpg: not a decodable image"):
        voc.convert(str(root), str(tmp_path / "out"), splits=("train",), verbose=False)
    assert cv2.imread(str(path)) is None


def test_image_without_labels_is_refused(tmp_path):
    root = _mini_root(tmp_path, ["2007_000032"], lambda m: np.where(m == 255, 255, 0).astype(np.uint8))
    with pytest.raises(ValueError, match=r"labels of '2007_000032' \(masks\): none"):
        voc.convert(str(root), str(tmp_path / "out"), splits=("train",), verbose=False, labels_from="masks")
    assert not os.path.exists(tmp_path / "out" / records.MANIFEST)


def test_over_large_image_is_refused_at_the_pixel_limit(tmp_path):
    root = _mini_root(tmp_path, ["2007_000032"])  # 500 x 281
    with pytest.raises(ValueError, match=r"2007_000032\.jpg: 500x281 is 140,500 pixels, over the limit of 140,000"):
        voc.convert(str(root), str(tmp_path / "out"), splits=("train",), verbose=False, max_pixels=140_000)
    voc.convert(str(root), str(tmp_path / "out"), splits=("train",), verbose=False, max_pixels=140_500)
    from tfguided.data import imageio

    huge = tmp_path / "huge.png"  # a header claiming 10 gigapixels: refused before any decoding
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" +
                     struct.pack(">II", 100_000, 100_000) + b"\x08\x02\x00\x00\x00" + b"\0" * 4)
    with pytest.raises(ValueError, match=r"huge\.png: 100000x100000 is 10,000,000,000 pixels"):
        imageio.read_image_file(str(huge))


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK"])
def test_grayscale_alpha_and_cmyk_images_are_converted_to_rgb(tmp_path, mode):
    """Documented in imageio.decode_image: every image reaches the nets as RGB."""
    from PIL import Image

    root = _mini_root(tmp_path, ["2007_000032"])
    path = root / "JPEGImages" / "2007_000032.jpg"
    rgb = Image.open(path).convert("RGB")
    Image.open(path).convert(mode).save(path, format="PNG" if mode == "RGBA" else "JPEG", quality=98)
    voc.convert(str(root), str(tmp_path / "out"), splits=("train",), verbose=False)
    ex = next(records.iterate_numpy(str(tmp_path / "out"), "train"))
    from tfguided.data import imageio

    image = imageio.decode_image(ex["image"])
    assert image.shape == (281, 500, 3) and image.dtype == np.uint8
    reference = np.asarray(rgb.convert("L").convert("RGB") if mode == "L" else rgb, np.float32)
    assert np.abs(image.astype(np.float32) - reference).mean() < 12  # JPEG and CMYK round trips
