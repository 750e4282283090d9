"""Image files: reading with a check, decoding bytes, writing atomically (RGB order).

One decoder turns every photo into pixels, from the conversion checks to training, the guide,
the evaluation, the exported SavedModel and `predict`: `decode_tf` (TensorFlow ops, usable in
`tf.data` and in a SavedModel) and `decode_image` (the same ops run eagerly, numpy out). JPEGs
are decoded with libjpeg's accurate integer DCT, as OpenCV, Pillow and libjpeg's own tools do
(TensorFlow's default fast DCT differs from them by up to 20 levels).
"""

import os
import re
import struct

import cv2
import numpy as np

from tfguided import files

IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)  # the mean colour networks are centred on
MAX_PIXELS = 40_000_000  # converters refuse larger images (--max_pixels): a mistaken scan or panorama


def decode_tf(data):
    """The package's image decoder as TensorFlow ops: encoded bytes (JPEG, PNG, GIF's first frame,
    BMP, WebP) -> RGB uint8 [H, W, 3]. Grayscale and CMYK images become RGB, an alpha channel is
    dropped, 16-bit PNGs are scaled to 8 bits. The stored pixels: an EXIF orientation tag is
    ignored, as VOC's masks of the stored image and TensorFlow's decoders assume."""
    import tensorflow as tf

    image = tf.cond(tf.io.is_jpeg(data),
                    lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
                    lambda: tf.io.decode_image(data, channels=3, expand_animations=False))
    return tf.ensure_shape(image, [None, None, 3])


def decode_image(data, path="<bytes>"):
    """Encoded bytes -> RGB uint8 [H, W, 3] (numpy): `decode_tf` run eagerly, with an error
    naming `path` when the bytes are not a decodable image."""
    import tensorflow as tf

    try:
        return decode_tf(tf.constant(data, tf.string)).numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
        raise ValueError(f"{path}: not a decodable image ({op_message(e)})") from None


def op_message(error):
    """A TensorFlow op error's own sentence, without the node name and op tag around it."""
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", error.message or "")
    text = re.sub(r"\s*\[Op:\w+\].*$", "", text.splitlines()[0] if text else "", flags=re.S)
    return text.strip() or "corrupt or truncated"


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


PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}  # by the IHDR colour type: grey, RGB, palette, grey+alpha, RGBA


def stored_channels(data):
    """How many channels the file stores (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA or CMYK): from a
    PNG's or JPEG's header, else by decoding; the decoder makes RGB of every one of them."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 25 and data[25] in PNG_CHANNELS:
        return PNG_CHANNELS[data[25]]
    import tensorflow as tf

    if data[:2] == b"\xff\xd8":
        return int(tf.io.extract_jpeg_shape(data)[2])
    return int(tf.io.decode_image(data, expand_animations=False).shape[-1])


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
