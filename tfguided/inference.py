"""Running trained networks on images: batched at a fixed size, or one image at its own size.

At its own size, the logits are upsampled to the image with the network's exact geometry and
turned into probabilities (DeepLab's test protocol, §6.1). Test-time augmentation (beyond the
paper, off for its numbers): the network also runs on the image resized by each of
`scales` and, with `flip`, on its mirror image; every view's probabilities are mapped back onto
the image with the same geometry (a mirrored view's flipped back) and averaged.
"""

import tensorflow as tf

from tfguided.scoremaps import resized_geometry, upsample_tf


def fixed_size_fn(model):
    """A compiled function: float32 [B, S, S, 3] -> the model's outputs (inference mode)."""
    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)


def tta_views(scales=(1.0,), flip=False):
    """The (scale, mirrored) views of test-time augmentation, in the order they are averaged."""
    if not scales or any(isinstance(s, bool) or not s > 0 for s in scales):
        raise ValueError(f"test-time scales {tuple(scales)}: need at least one, each > 0")
    return [(s, mirrored) for s in scales for mirrored in ((False, True) if flip else (False,))]


def _view_probabilities(model, images, size, scale):
    """Softmax probabilities [B, H, W, C] at `size` = (H, W) of the net run on `images` resized
    by `scale`, its cells mapped back onto the input (scoremaps.resized_geometry's rule, per axis)."""
    stride, offset = model.output_stride, model.output_offset
    if scale != 1:
        scaled = tf.maximum(tf.cast(tf.round(tf.cast(size, tf.float32) * scale), tf.int32), 1)
        images = tf.image.resize(images, scaled, method="bilinear")
        ratio = tf.cast(size, tf.float32) / tf.cast(scaled, tf.float32)  # (y, x)
        stride = (stride * ratio[0], stride * ratio[1])
        offset = ((offset + 0.5) * ratio[0] - 0.5, (offset + 0.5) * ratio[1] - 0.5)
    logits = upsample_tf(model(images, training=False), size, stride, offset)
    return tf.nn.softmax(logits, axis=-1)


def probabilities_fn(model, scale=1.0, scales=(1.0,), flip=False):
    """A compiled function: float32 [B, H, W, 3] -> softmax probabilities [B, H, W, C] at the
    input size (any H, W), upsampled with the network's geometry. `scale`: the images are
    resized by it before the network, as it was trained (net.scale); `scales` and `flip`: the
    test-time views (module docstring), each scale relative to `scale`."""
    views = tta_views(scales, flip)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def run(images):
        size = tf.shape(images)[1:3]
        total = 0.0
        for view_scale, mirrored in views:
            view = tf.reverse(images, [2]) if mirrored else images
            probs = _view_probabilities(model, view, size, scale * view_scale)
            total += tf.reverse(probs, [2]) if mirrored else probs
        return total / len(views)
    return run


def full_size_fn(model, scale=1.0, scales=(1.0,), flip=False):
    """A function: uint8/float [H, W, 3] (any size) -> numpy softmax probabilities [H, W, C], the
    network run at `scale` with the test-time views `scales`, `flip` (probabilities_fn)."""
    run = probabilities_fn(model, scale, scales, flip)
    return lambda image: run(tf.cast(image, tf.float32)[None])[0].numpy()


def class_maps_fn(cam_model, input_size, stride, offset, scales=(1.0,), flip=False):
    """A compiled function: float32 [B, S, S, 3] seeder inputs (S = input_size) -> class maps
    [B, n, n, K] on the grid the network gives at S (cell i at stride * i + offset), averaged
    over the test-time views: the inputs resized to round(S * scale) and, with `flip`, mirrored.
    A view's cells, mapped onto the input by scoremaps.resized_geometry (a mirrored view's grid
    flipped back first: its cell i then sits at V - 1 - (stride * (n' - 1 - i) + offset)), are
    resampled onto the base grid. `cam_model` must take any input size
    (models.gap.GapNet.cam_model(any_size=True))."""
    cells = _cells(cam_model, input_size)
    resampling = []
    for view_scale, mirrored in tta_views(scales, flip):
        view_size = max(1, int(round(input_size * view_scale)))
        view_cells = _cells(cam_model, view_size)
        mirrored_offset = view_size - 1 - stride * (view_cells - 1) - offset
        strides, offsets = zip(*(resized_geometry(stride, o, view_size, (input_size,))
                                 for o in (offset, mirrored_offset if mirrored else offset)))
        # base cell j sits at input pixel stride * j + offset, i.e. at (that - offsets) / strides
        resampling.append((view_size, mirrored, tuple(s[0] / stride for s in strides),
                           tuple((o[0] - offset) / stride for o in offsets)))

    @tf.function(input_signature=[tf.TensorSpec([None, input_size, input_size, 3], tf.float32)])
    def run(images):
        total = 0.0
        for view_size, mirrored, grid_stride, grid_offset in resampling:
            view = images if view_size == input_size else tf.image.resize(images, [view_size, view_size])
            maps = cam_model(tf.reverse(view, [2]) if mirrored else view, training=False)
            maps = tf.reverse(maps, [2]) if mirrored else maps
            total += upsample_tf(maps, (cells, cells), grid_stride, grid_offset)
        return total / len(resampling)
    return run


def _cells(cam_model, input_size):
    """Cells per side of the class maps at input_size (the network's shape arithmetic)."""
    return int(cam_model.compute_output_shape((1, input_size, input_size, 3))[1])


def seeder_maps_fn(seeder, input_size, scales=(1.0,), flip=False):
    """The GAP seeder's class maps on [B, S, S, 3] inputs at its grid: the network itself for a
    single view (the paper), else `class_maps_fn` over the test-time views."""
    if tta_views(scales, flip) == [(1.0, False)]:
        return fixed_size_fn(seeder.cam_model())
    return class_maps_fn(seeder.cam_model(any_size=True), input_size, seeder.output_stride,
                         seeder.output_offset, scales, flip)
