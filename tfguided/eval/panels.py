"""Picture panels: image | seeds | saliency | guide | ... side by side, VOC palette, 255 in white.

Written as PNGs under the stage directory and as TensorBoard image summaries.
"""

import os

import cv2
import numpy as np
import tensorflow as tf

from tfguided.data import imageio, labelmap

TITLE_HEIGHT = 14


def tile(item, shape):
    """An RGB image, a label map (uint8 2-D) or a bool mask -> RGB uint8 tile of `shape`."""
    item = np.asarray(item)
    if item.dtype == bool:
        rgb = np.repeat((item * 255).astype(np.uint8)[..., None], 3, axis=-1)
    elif item.ndim == 2:
        rgb = labelmap.colorize(item)
    else:
        rgb = item.astype(np.uint8)
    if rgb.shape[:2] != shape:
        rgb = cv2.resize(rgb, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return rgb


def panel(image, items):
    """`items` = [(title, array), ...] after the image; returns one RGB uint8 strip with titles."""
    shape = image.shape[:2]
    tiles = []
    for title, item in [("image", image)] + list(items):
        t = np.full((shape[0] + TITLE_HEIGHT, shape[1], 3), 255, np.uint8)
        t[TITLE_HEIGHT:] = tile(item, shape)
        cv2.putText(t, title, (2, TITLE_HEIGHT - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1,
                    cv2.LINE_AA)
        tiles.append(t)
        tiles.append(np.full((t.shape[0], 2, 3), 255, np.uint8))
    return np.concatenate(tiles[:-1], axis=1)


def read_panels(panel_dir, ids):
    """The panels written as `<id>.png` in `panel_dir` for `ids`, in order (those a stage's
    tasks wrote for their first images; stages/parts.py)."""
    return [imageio.read_image(os.path.join(panel_dir, i + ".png"))[1] for i in ids]


def write_tensorboard(log_dir, name, panels, step=0):
    """Panels of possibly different sizes -> one TensorBoard image summary each."""
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        for i, p in enumerate(panels):
            tf.summary.image(f"{name}/{i:02d}", p[None], step=step)
    writer.close()
