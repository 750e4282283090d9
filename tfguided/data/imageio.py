"""Image files: reading with a check, decoding bytes, writing atomically (OpenCV, RGB order)."""

import os

import cv2
import numpy as np

from tfguided import files

IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)  # the mean colour networks are centred on
MAX_PIXELS = 40_000_000  # converters refuse larger images (--max_pixels): a mistaken scan or panorama


def decode_image(data, path="<bytes>"):
    """Encoded bytes -> RGB uint8 [H, W, 3]. Grayscale and CMYK images are converted to RGB and
    an alpha channel is dropped (OpenCV's IMREAD_COLOR), so every image reaches the nets as RGB."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"{path}: not a decodable image (corrupt or truncated)")
    return bgr[..., ::-1]


def read_image_file(path, max_pixels=MAX_PIXELS):
    """Returns (bytes, height, width) of an image file after proving it decodes and is at most
    `max_pixels` large."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: image listed but file missing") from None
    height, width = decode_image(data, path).shape[:2]
    if height * width > max_pixels:
        raise ValueError(f"{path}: {width}x{height} is {height * width:,} pixels, over the limit of "
                         f"{max_pixels:,} (--max_pixels)")
    return data, height, width


def write_image(path, rgb, quality=95):
    """Writes an RGB uint8 image as JPEG or PNG (by extension), atomically."""
    ext = os.path.splitext(path)[1].lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(rgb[..., ::-1]), params)
    if not ok:
        raise ValueError(f"{path}: OpenCV could not encode the image as {ext}")
    files.atomic_write_bytes(path, buf.tobytes())
