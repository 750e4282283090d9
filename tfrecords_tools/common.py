"""What the converters share: reading and checking an image file, and a progress bar."""

import sys

import cv2
import keras
import numpy as np


def read_image_file(path):
    """Returns (bytes, height, width) of an image file after proving it decodes to 3 channels."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: image listed but file missing") from None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a decodable image (corrupt or truncated)")
    return data, image.shape[0], image.shape[1]


def progress_bar(total, name):
    """A Keras progress bar; redrawn live on a terminal, every 15 s in a log file."""
    bar = keras.utils.Progbar(total, unit_name=name, interval=0.05 if sys.stdout.isatty() else 15)
    return lambda done: bar.update(done)
