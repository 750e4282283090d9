"""Image files: reading with a check, decoding bytes, writing atomically (OpenCV, RGB order)."""

import os
import struct

import cv2
import numpy as np

from tfguided import files

IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)  # the mean colour networks are centred on
MAX_PIXELS = 40_000_000  # converters refuse larger images (--max_pixels): a mistaken scan or panorama


def decode_image(data, path="<bytes>"):
    """Encoded bytes -> RGB uint8 [H, W, 3]. Grayscale and CMYK images are converted to RGB and
    an alpha channel is dropped (OpenCV's IMREAD_COLOR), so every image reaches the nets as RGB.
    The stored pixels, as VOC's masks and TensorFlow's decoders see them: an EXIF orientation
    tag is ignored (OpenCV would rotate, and a mask of the stored image would no longer fit)."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None:
        raise ValueError(f"{path}: not a decodable image (corrupt or truncated)")
    return bgr[..., ::-1]


def header_size(data):
    """(height, width) from a PNG or JPEG header without decoding, or None for other formats."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return height, width
    pos = 2 if data[:2] == b"\xff\xd8" else len(data)
    while pos + 9 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            return struct.unpack(">HH", data[pos + 5:pos + 9])
        pos += 2 + length
    return None


def read_image(path, max_pixels=MAX_PIXELS):
    """(bytes, RGB uint8 [H, W, 3]) of an image file, after proving it is at most `max_pixels`
    large (from its header when it is a PNG or JPEG, before any decoding)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: image listed but file missing") from None
    size = header_size(data)
    if size:
        _check_pixels(path, *size, max_pixels)
    image = decode_image(data, path)
    _check_pixels(path, *image.shape[:2], max_pixels)
    return data, image


def read_image_file(path, max_pixels=MAX_PIXELS):
    """Returns (bytes, height, width) of an image file after proving it decodes (`read_image`)."""
    data, image = read_image(path, max_pixels)
    return data, image.shape[0], image.shape[1]


def _check_pixels(path, height, width, max_pixels):
    if height * width > max_pixels:
        raise ValueError(f"{path}: {width}x{height} is {height * width:,} pixels, over the limit of "
                         f"{max_pixels:,} (--max_pixels)")


def write_image(path, rgb, quality=95):
    """Writes an RGB uint8 image as JPEG or PNG (by extension), atomically."""
    ext = os.path.splitext(path)[1].lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(rgb[..., ::-1]), params)
    if not ok:
        raise ValueError(f"{path}: OpenCV could not encode the image as {ext}")
    files.atomic_write_bytes(path, buf.tobytes())
