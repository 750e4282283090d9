"""One decoding rule for photos: the stored pixels (EXIF orientation ignored), as VOC and TensorFlow."""

import io

import numpy as np
import tensorflow as tf

from tfguided.data import imageio


def _jpeg_with_orientation(height, width, orientation):
    from PIL import Image
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[: height // 2] = (255, 0, 0)  # red on top: a rotation would move it
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", exif=exif.tobytes(), quality=95)
    return buffer.getvalue()


def test_orientation_6_jpeg_decodes_to_its_stored_pixels():
    data = _jpeg_with_orientation(40, 60, 6)
    image = imageio.decode_image(data)
    assert image.shape == (40, 60, 3)
    assert imageio.header_size(data) == (40, 60)
    reference = tf.io.decode_jpeg(data).numpy()
    assert np.abs(image.astype(int) - reference.astype(int)).mean() < 1  # decoders differ at edges
    assert image[5, 30, 0] > 200 and image[35, 30, 0] < 50
