"""Label maps as PNG files: the VOC palette, reading palette/grayscale PNGs, writing palette PNGs.

Labels, as in VOC: 0 background, 1..K classes, 255 ignore ("void" in VOC).
OpenCV expands palette PNGs to colours, so `read_label_png` decodes them with a palette whose
colours are the indices; `write_label_png` writes 8-bit palette PNGs with zlib directly,
since neither OpenCV nor TensorFlow writes palette PNGs.
"""

import struct
import zlib

import cv2
import numpy as np

from tfguided import files

IGNORE = 255
VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
               "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def voc_palette(n=256):
    """The VOC devkit colour map (bit-interleaved): index -> (R, G, B), uint8 [n, 3]."""
    palette = np.zeros((n, 3), np.uint8)
    for index in range(n):
        c, r, g, b = index, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette[index] = (r, g, b)
    return palette


VOC_PALETTE = voc_palette()


def colorize(labels, ignore_white=True):
    """uint8 label map [H, W] -> RGB image [H, W, 3] in the VOC palette (255 in white if asked)."""
    palette = VOC_PALETTE.copy()
    if ignore_white:
        palette[IGNORE] = (255, 255, 255)
    return palette[np.asarray(labels, np.uint8)]


def _png_chunks(data, path):
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError(f"{path}: not a PNG file (bad signature)")
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise ValueError(f"{path}: truncated PNG (chunk {kind!r} is cut short)")
        yield kind, body
        if kind == b"IEND":
            return
        pos += 12 + length
    raise ValueError(f"{path}: truncated PNG (no IEND chunk)")


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


INDEX_PALETTE = np.stack([np.arange(256), np.zeros(256), np.zeros(256)], axis=1).astype(np.uint8)


def decode_label_png(data, path="<bytes>"):
    """PNG bytes -> uint8 label map [H, W]: the stored indices, for grayscale and palette PNGs.

    A palette PNG is decoded with its palette replaced by 256 entries whose red value is the
    index (and transparency dropped), so the indices come back exactly, including those past a
    short palette (void 255 in a file whose palette stops at 21 colours) or with repeated colours.
    """
    chunks = list(_png_chunks(data, path))
    header = dict(chunks).get(b"IHDR")
    if header is None:
        raise ValueError(f"{path}: PNG without IHDR chunk")
    bit_depth, color_type = header[8], header[9]
    if color_type == 3:
        data = PNG_SIGNATURE + b"".join(
            _chunk(kind, INDEX_PALETTE.tobytes() if kind == b"PLTE" else body)
            for kind, body in chunks if kind != b"tRNS")
    elif not (color_type == 0 and bit_depth == 8):
        raise ValueError(f"{path}: a label PNG must be 8-bit grayscale or palette, "
                         f"got PNG colour type {color_type}, bit depth {bit_depth}")
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise ValueError(f"{path}: PNG could not be decoded (corrupt or truncated data)")
    return decoded if color_type == 0 else np.ascontiguousarray(decoded[..., 2])


def encode_index_png(labels):
    """uint8 [H, W] -> grayscale PNG bytes holding the indices (what the TFRecords store)."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(labels, np.uint8))
    if not ok:
        raise ValueError("could not encode label map as PNG")
    return buf.tobytes()


def read_label_png(path):
    with open(path, "rb") as f:
        return decode_label_png(f.read(), path)


def encode_label_png(labels, palette=VOC_PALETTE):
    """uint8 label map [H, W] -> bytes of an 8-bit palette PNG (VOC palette by default)."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.dtype != np.uint8:
        raise ValueError(f"label map must be uint8 [H, W], got {labels.dtype} {labels.shape}")
    height, width = labels.shape
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    rows = np.concatenate([np.zeros((height, 1), np.uint8), labels], axis=1)  # filter 0 per row
    return (PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"PLTE", palette.astype(np.uint8).tobytes())
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + _chunk(b"IEND", b""))


def write_label_png(path, labels):
    files.atomic_write_bytes(path, encode_label_png(labels))
