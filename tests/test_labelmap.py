"""Label-map PNGs (DESIGN.md §6): the VOC palette, palette/grayscale PNG decoding, encoding."""

import pathlib

import cv2
import numpy as np
import pytest

from conftest import shared_path
from tfguided.data.labelmap import (colorize, decode_label_png, encode_label_png, read_label_png,
                                    voc_palette)


def test_voc_palette_known_entries():
    """The VOC devkit colour map: background black, aeroplane, bicycle, person, void."""
    palette = voc_palette()
    assert palette.shape == (256, 3) and palette.dtype == np.uint8
    assert palette[0].tolist() == [0, 0, 0]
    assert palette[1].tolist() == [128, 0, 0]
    assert palette[2].tolist() == [0, 128, 0]
    assert palette[15].tolist() == [192, 128, 128]
    assert palette[255].tolist() == [224, 224, 192]
    assert len({tuple(c) for c in palette.tolist()}) == 256


def test_encode_decode_round_trip():
    """Every uint8 value survives encode -> decode, and OpenCV reads the written palette PNG
    as the VOC colours of the labels."""
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.arange(256, dtype=np.uint8).repeat(2)).reshape(16, 32)
    data = encode_label_png(labels)
    np.testing.assert_array_equal(decode_label_png(data), labels)
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(bgr[..., ::-1], voc_palette()[labels])


def test_decode_grayscale_png_returns_indices():
    """An 8-bit grayscale PNG holds the label indices directly."""
    labels = np.array([[0, 1, 2, 255], [20, 7, 0, 3]], np.uint8)
    ok, buf = cv2.imencode(".png", labels)
    assert ok
    decoded = decode_label_png(buf.tobytes())
    assert decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, labels)


def test_short_palette_keeps_the_stored_indices():
    """A palette PNG whose palette stops at 3 colours, holding void (255) and 30: the stored
    indices come back (OpenCV alone reads indices past the palette as black, i.e. 0), and a
    palette with repeated colours still gives its indices."""
    labels = np.array([[0, 1, 2], [255, 30, 1]], np.uint8)
    np.testing.assert_array_equal(decode_label_png(encode_label_png(labels, voc_palette()[:3])), labels)
    grey = np.zeros((256, 3), np.uint8)
    np.testing.assert_array_equal(decode_label_png(encode_label_png(labels, grey)), labels)


def test_real_voc_masks_match_a_colour_lookup():
    """Real VOC2012 palette PNGs: indices equal the colours looked up in the VOC palette, and
    take only values 0..20 and 255."""
    lookup = {tuple(colour): index for index, colour in enumerate(voc_palette().tolist())}
    masks = pathlib.Path(shared_path("voc12_mini", "VOC2012", "SegmentationClass"))
    paths = sorted(masks.glob("*.png"))[:5]
    assert len(paths) == 5
    for path in paths:
        rgb = cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]
        reference = np.array([lookup[tuple(c)] for c in rgb.reshape(-1, 3).tolist()],
                             np.uint8).reshape(rgb.shape[:2])
        labels = read_label_png(str(path))
        np.testing.assert_array_equal(labels, reference, err_msg=str(path))
        assert set(np.unique(labels).tolist()) <= set(range(21)) | {255}
        assert np.any((labels > 0) & (labels < 21)), path


def test_truncated_png_raises_with_the_path(tmp_path):
    """A PNG cut in half is an error naming the file, not a silently wrong label map."""
    data = encode_label_png(np.random.default_rng(1).integers(0, 21, (40, 40)).astype(np.uint8))
    path = tmp_path / "cut.png"
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="cut.png") as info:
        read_label_png(str(path))
    assert str(path) in str(info.value)


def test_colorize_ignore_white():
    """colorize: VOC colours; void (255) white when asked, the VOC void colour otherwise."""
    labels = np.array([[0, 1], [15, 255]], np.uint8)
    white = colorize(labels, ignore_white=True)
    plain = colorize(labels, ignore_white=False)
    assert white.shape == (2, 2, 3) and white.dtype == np.uint8
    np.testing.assert_array_equal(white, [[[0, 0, 0], [128, 0, 0]],
                                          [[192, 128, 128], [255, 255, 255]]])
    assert plain[1, 1].tolist() == [224, 224, 192]
