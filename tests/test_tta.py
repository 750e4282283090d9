"""Test-time augmentation (tfguided/inference.py, feature row 24): scales and flips averaged at
the image's size with the networks' exact geometry."""

import re

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfguided import configs
from tfguided.inference import full_size_fn, probabilities_fn, tta_views
from tfguided.models import deeplab
from tfguided.scoremaps import upsample


def _softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _one_view(model, image, scale):
    """One view by an independent computation: OpenCV's bilinear resize, the numpy `upsample`
    with the resized geometry written out per axis."""
    height, width = image.shape[:2]
    scaled = (int(np.round(height * scale)), int(np.round(width * scale)))
    resized = cv2.resize(image, scaled[::-1], interpolation=cv2.INTER_LINEAR) if scale != 1 else image
    logits = model(resized[None], training=False).numpy()[0]
    ry, rx = height / scaled[0], width / scaled[1]
    stride, offset = model.output_stride, model.output_offset
    return _softmax(upsample(logits, (height, width), (stride * ry, stride * rx),
                             ((offset + 0.5) * ry - 0.5, (offset + 0.5) * rx - 0.5)))


@pytest.mark.parametrize("net_scale, scales", [(1.0, (0.5, 1.0, 1.5)), (2.0, (0.75, 1.25))])
def test_views_average_the_reference_views_at_sizes_off_the_stride(net_scale, scales):
    """37 x 50 (not multiples of the stride 8): the TTA output is the mean of each scale's
    reference probabilities and of the mirror image's, flipped back."""
    model = deeplab.LargeFov(3, width=0.0625, fc_units=8, fc6_dilation=2)
    image = np.random.default_rng(3).uniform(0, 255, (37, 50, 3)).astype(np.float32)
    mirror = np.ascontiguousarray(image[:, ::-1])
    views = [_one_view(model, image, net_scale * s) for s in scales]
    views += [_one_view(model, mirror, net_scale * s)[:, ::-1] for s in scales]
    out = full_size_fn(model, net_scale, scales, flip=True)(image)
    assert out.shape == (37, 50, 3)
    np.testing.assert_allclose(out, np.mean(views, 0), atol=1e-4)
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)


def test_one_view_is_the_plain_network():
    """The default single view: the softmax of the logits upsampled by the numpy reference."""
    model = deeplab.LargeFov(2, width=0.0625, fc_units=8, fc6_dilation=2)
    images = np.random.default_rng(1).uniform(0, 255, (2, 41, 29, 3)).astype(np.float32)
    logits = model(images, training=False).numpy()
    expected = np.stack([_softmax(upsample(m, (41, 29), model.output_stride, model.output_offset)) for m in logits])
    np.testing.assert_allclose(probabilities_fn(model)(tf.constant(images)).numpy(), expected, atol=1e-5)


def _pixelwise_model():
    """A per-pixel network (1x1 convolutions, stride 1, offset 0): mirroring commutes with it."""
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 1, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(4, 1)(x))
    model.output_stride, model.output_offset = 1, 0.0
    return model


def test_flip_leaves_a_mirror_symmetric_network_unchanged():
    """Known answer: for a network that commutes with mirroring, flip TTA changes nothing; a
    mirror-asymmetric one (LargeFOV: its padding and cell grid sit to one side) does change."""
    image = tf.random.uniform([1, 33, 47, 3], 0, 255, seed=2)
    pixelwise = _pixelwise_model()
    np.testing.assert_allclose(probabilities_fn(pixelwise, flip=True)(image).numpy(),
                               probabilities_fn(pixelwise)(image).numpy(), atol=1e-6)
    largefov = deeplab.LargeFov(2, width=0.0625, fc_units=8, fc6_dilation=2)
    assert np.abs(probabilities_fn(largefov, flip=True)(image).numpy()
                  - probabilities_fn(largefov)(image).numpy()).max() > 1e-4


def test_tta_runs_inside_a_dataset_map():
    """Eagerly and inside tf.data (the compiled function traced in a map): the same result."""
    model = _pixelwise_model()
    run = probabilities_fn(model, 1.0, (0.5, 1.0), True)
    images = tf.random.uniform([3, 1, 20, 26, 3], 0, 255, seed=4)
    mapped = np.stack(list(tf.data.Dataset.from_tensor_slices(images).map(run).as_numpy_iterator()))
    eager = np.stack([run(im).numpy() for im in images])
    np.testing.assert_allclose(mapped, eager, atol=1e-6)


def test_views_and_their_refusals():
    assert tta_views((0.5, 1.0), flip=True) == [(0.5, False), (0.5, True), (1.0, False), (1.0, True)]
    assert tta_views() == [(1.0, False)]
    for bad in ((), (0.0,), (1.0, -1.0)):
        with pytest.raises(ValueError, match="each > 0"):
            tta_views(bad)


@pytest.mark.parametrize("assignment, message", [
    ("evaluate.tta.scales=1,0", "evaluate.tta.scales=(1.0, 0.0): at least one scale, each a number > 0"),
    ("guide.saliency_tta.scales=-0.5", "guide.saliency_tta.scales=(-0.5,): at least one scale"),
    ("evaluate.tta.flip=maybe", "expected true or false"),
    ("seeder.arch=mean_shape;guide.seed_tta.flip=true", "guide.seed_tta: test-time views are for the GAP"),
])
def test_config_refuses_bad_views(assignment, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        configs.override(configs.preset("demo"), assignment.split(";"))


def test_tta_is_off_in_every_preset_but_where_measured():
    """The paper's numbers stay reproducible: no preset but voc_animals (its saliency) and custom
    (voc_animals' nets for one's own photos) uses TTA."""
    for name in configs.PRESETS:
        cfg = configs.preset(name)
        assert (cfg.evaluate.tta.scales, cfg.evaluate.tta.flip) == ((1.0,), False), name
        assert (cfg.guide.seed_tta.scales, cfg.guide.seed_tta.flip) == ((1.0,), False), name
        if name not in ("voc_animals", "custom"):
            assert (cfg.guide.saliency_tta.scales, cfg.guide.saliency_tta.flip) == ((1.0,), False), name


def _reference_class_maps(cam_model, image, stride, offset, scales, flip, cells):
    """Independent of class_maps_fn's grid algebra: each base cell's centre (stride * j + offset)
    is carried into each view's pixels (half-pixel resize, then mirrored: V - 1 - x) and read from
    that view's own maps by per-axis linear interpolation (np.interp, clamped at the ends)."""
    size = image.shape[0]
    centres = stride * np.arange(cells) + offset
    total = 0.0
    for scale in scales:
        view_size = int(round(size * scale))
        view = cv2.resize(image, (view_size, view_size), interpolation=cv2.INTER_LINEAR)
        for mirrored in ((False, True) if flip else (False,)):
            shown = np.ascontiguousarray(view[:, ::-1]) if mirrored else view
            maps = cam_model(shown[None], training=False).numpy()[0]
            n = maps.shape[0]
            at = (centres + 0.5) * view_size / size - 0.5
            y_src = (at - offset) / stride
            x_src = ((view_size - 1 - at) if mirrored else at) - offset
            x_src = x_src / stride
            rows = np.stack([[np.interp(y_src, np.arange(n), maps[:, x, k]) for x in range(n)]
                             for k in range(maps.shape[-1])], -1)  # [n_x, cells_y, K]
            out = np.stack([[np.interp(x_src, np.arange(n), rows[:, y, k]) for y in range(cells)]
                            for k in range(maps.shape[-1])], -1)  # [cells_y, cells_x, K] after transpose
            total = total + out
    return total / (len(scales) * (2 if flip else 1))


@pytest.mark.parametrize("backbone, scales", [("vgg16", (0.75, 1.0, 1.5)), ("mobilenet", (1.0, 1.25))])
def test_seeder_class_maps_average_the_views_on_the_base_grid(backbone, scales):
    """GAP-HighRes on VGG-16 (offset 3.5) and on MobileNet (offset 7: its grid is not mirror
    symmetric) at S = 60, not a multiple of the stride: against the per-view reference."""
    from conftest import shared_path
    from tfguided.inference import class_maps_fn, seeder_maps_fn
    from tfguided.models import gap, pretrained
    width = 0.25 if backbone == "mobilenet" else 0.125
    net = gap.GapNet("gap_highres", 3, width=width, fc_units=8, input_size=60, backbone=backbone,
                     batch_norm=True)
    if backbone == "mobilenet":  # random MobileNet features vanish over 27 layers: the ImageNet file
        pretrained.initialise(net, pretrained.imagenet_weights(
            shared_path("weights", "mobilenet_2_5_224_tf_no_top.h5"), "mobilenet", width))
    image = np.random.default_rng(5).uniform(0, 255, (60, 60, 3)).astype(np.float32)
    base = net.cam_model()(image[None], training=False).numpy()[0]
    free = net.cam_model(any_size=True)
    np.testing.assert_allclose(free(image[None], training=False).numpy()[0], base, atol=1e-5)
    out = class_maps_fn(free, 60, net.output_stride, net.output_offset, scales, True)(image[None]).numpy()[0]
    assert out.shape == base.shape
    expected = _reference_class_maps(free, image, net.output_stride, net.output_offset, scales, True,
                                     base.shape[0])
    assert np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    single = seeder_maps_fn(net, 60)(image[None]).numpy()[0]
    np.testing.assert_allclose(single, base, rtol=1e-3, atol=1e-4 * np.abs(base).max())  # plain network, graph vs eager
