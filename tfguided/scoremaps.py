"""Score maps at an output stride -> image resolution, with the network's exact pixel geometry.

A network with output stride s puts the centre of output cell i at input pixel s*i + offset:
offset (s-1)/2 after 2x2/2 pools (the GAP nets: 3.5 at stride 8), 0 after Caffe-style 3x3/2
pools padded by 1 (LargeFOV, GAP-DeepLab), s-1 after MobileNet's stride-2 convs padded after. Bilinear upsampling must use that mapping; a generic
image resize assumes its own and shifts the maps by up to s/2 pixels. `upsample` (numpy) and
`upsample_tf` (TensorFlow, any batch and size) compute the same thing. Stride and offset may be
(y, x) pairs: a network run on an image resized to S x S has, on the original H x W image,
stride s*H/S and offset (o + 0.5)*H/S - 0.5 along y (`resized_geometry`). TensorFlow is imported
by `upsample_tf` alone, so the numpy labellers that use `upsample` stay light.
"""

import numpy as np


def source_coords(n_out, n_in, stride, offset):
    """For each output pixel: the two neighbouring cells and the weight of the second."""
    src = np.clip((np.arange(n_out, dtype=np.float64) - offset) / stride, 0, n_in - 1)
    low = np.floor(src).astype(np.int64)
    high = np.minimum(low + 1, n_in - 1)
    return low, high, (src - low).astype(np.float32)


def _pair(v):
    """A scalar, a 0-d tensor, or a (y, x) pair as a tuple, list or numpy array -> a (y, x) pair."""
    is_pair = isinstance(v, (tuple, list)) or (isinstance(v, np.ndarray) and v.ndim == 1)
    return tuple(v) if is_pair else (v, v)


def resized_geometry(stride, offset, input_size, image_shape):
    """Geometry on the original image of a network run on the image resized to input_size^2."""
    scale = np.asarray(image_shape, np.float64) / input_size
    return tuple(stride * scale), tuple((offset + 0.5) * scale - 0.5)


def upsample(maps, shape, stride, offset):
    """[h, w, C] (or [h, w]) score maps -> [H, W, C] bilinear, float32.

    Computed class-major (each class a contiguous [H, W] plane: several times faster than
    interleaved channels for the few classes of an image); the result is a [H, W, C] view of it.
    """
    maps = np.asarray(maps, np.float32)
    squeeze = maps.ndim == 2
    planes = maps[None] if squeeze else np.moveaxis(maps, -1, 0)
    (sy, sx), (oy, ox) = _pair(stride), _pair(offset)
    y0, y1, wy = source_coords(shape[0], maps.shape[0], sy, oy)
    x0, x1, wx = source_coords(shape[1], maps.shape[1], sx, ox)
    rows = planes[:, y0] * (1 - wy)[None, :, None] + planes[:, y1] * wy[None, :, None]
    out = rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx
    return out[0] if squeeze else np.moveaxis(out, 0, -1)


def _coords_tf(n_out, n_in, stride, offset):
    import tensorflow as tf

    src = (tf.range(n_out, dtype=tf.float32) - offset) / stride
    src = tf.clip_by_value(src, 0.0, tf.cast(n_in - 1, tf.float32))
    low = tf.floor(src)
    high = tf.minimum(low + 1, tf.cast(n_in - 1, tf.float32))
    return tf.cast(low, tf.int32), tf.cast(high, tf.int32), src - low


def upsample_tf(maps, size, stride, offset):
    """[B, h, w, C] -> [B, H, W, C] with `size` = (H, W) (tensors or ints), float32; stride and
    offset as in `upsample` (numbers, scalar tensors, or (y, x) pairs of them)."""
    import tensorflow as tf

    maps = tf.cast(maps, tf.float32)
    (sy, sx), (oy, ox) = _pair(stride), _pair(offset)
    y0, y1, wy = _coords_tf(size[0], tf.shape(maps)[1], sy, oy)
    x0, x1, wx = _coords_tf(size[1], tf.shape(maps)[2], sx, ox)
    rows = (tf.gather(maps, y0, axis=1) * (1 - wy)[None, :, None, None]
            + tf.gather(maps, y1, axis=1) * wy[None, :, None, None])
    return (tf.gather(rows, x0, axis=2) * (1 - wx)[None, None, :, None]
            + tf.gather(rows, x1, axis=2) * wx[None, None, :, None])
