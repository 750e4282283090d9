"""DeepLab-v3+ segmenter head (issue 14, beyond the paper): shapes, the exact geometry of its
decoder, ImageNet trunk weights, save/load and a training step through the package's loss."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import assert_round_trip, gradient_support_centre, shared_path
from tfguided import configs
from tfguided.models import deeplab, pretrained
from tfguided.train import losses

WEIGHTS = ("weights", "mobilenet_2_5_224_tf_no_top.h5")  # alpha 0.25, ImageNet


def _net(output_stride=16, size=None, classes=6, **kwargs):
    return deeplab.DeepLabV3Plus(classes, "mobilenet", output_stride, width=0.25, head_units=16,
                                 input_size=size, **kwargs)


def _aspp_dilations(model):
    return sorted(layer.dilation_rate[0] for layer in model.layers
                  if layer.name.startswith("aspp_rate") and isinstance(layer, keras.layers.Conv2D))


def _stride_4_cells(n):
    """Cells after two of MobileNet's stride-2 convs (3x3, one pixel padded after: n -> (n-2)//2+1)."""
    for _ in range(2):
        n = (n - 2) // 2 + 1
    return n


@pytest.mark.parametrize("output_stride", [8, 16, 32])
@pytest.mark.parametrize("size", [97, 128])
def test_logits_sit_on_the_stride_4_grid_for_every_trunk_stride(output_stride, size):
    """Whatever the trunk's stride, the decoder's logits are on the low-level (stride 4) grid:
    the cells of MobileNet's two pad-after stride-2 convs."""
    model = _net(output_stride)
    out = model(np.zeros((2, size, size + 5, 3), np.float32), training=False)
    assert out.shape == (2, _stride_4_cells(size), _stride_4_cells(size + 5), 6)
    assert (model.output_stride, model.output_offset) == (4, 3.0)
    net = configs.NetConfig(backbone="mobilenet", output_stride=output_stride, head="deeplab_v3plus")
    assert deeplab.output_geometry(net) == (4, 3.0)
    assert _aspp_dilations(model) == [r * 16 // output_stride for r in (6, 12, 18)]


def _resnet_stride_4_cells(n):
    """Cells after ResNet's conv1 (7x7 stride 2, 3 pixels padded each side) and pool1 (3x3
    stride 2, 1 padded): n -> ceil(n / 2) twice."""
    n = (n + 6 - 7) // 2 + 1
    return (n + 2 - 3) // 2 + 1


def test_resnet101_logits_sit_on_its_conv2_grid():
    """On ResNet-101 (trunk stride 8) the logits are on conv2's stride-4 grid, cells centred on
    4 i (the decoder's low-level branch, by gradient support), at odd sizes too."""
    model = deeplab.DeepLabV3Plus(3, "resnet101", 8, head_units=16)
    out = model(np.zeros((1, 65, 97, 3), np.float32), training=False)
    assert out.shape == (1, _resnet_stride_4_cells(65), _resnet_stride_4_cells(97), 3)
    assert (model.output_stride, model.output_offset) == (4, 0.0)
    net = configs.NetConfig(backbone="resnet101", head="deeplab_v3plus")
    assert deeplab.output_geometry(net) == (4, 0.0)
    branch = keras.Model(model.input, model.get_layer("decoder_low_relu").output)
    images = np.random.default_rng(3).uniform(0, 255, (2, 97, 97, 3))
    for i in (10, 13):
        assert gradient_support_centre(branch, images, i) == 4 * i


@pytest.mark.parametrize("output_stride, expected", [(16, [2, 4, 6]), (8, [4, 8, 12]), (32, [1, 2, 3])])
def test_aspp_rates_from_the_config_scale_with_the_trunk_stride(output_stride, expected):
    """`net.aspp_rates` are given at stride 16 (smaller inputs, smaller rates) and reach the
    model's dilated convolutions scaled by 16 / trunk stride, never below 1."""
    net_cfg = configs.NetConfig(backbone="mobilenet", width=0.25, head="deeplab_v3plus", head_units=16,
                                output_stride=output_stride, aspp_rates=(2, 4, 6), input_size=64, init="random")
    assert _aspp_dilations(deeplab.build(3, net_cfg, 5e-4, "segmenter")) == expected


@pytest.mark.parametrize("trunk_stride, expected", [(16, (4.0, 3.0)), (8, (2.0, 1.0)), (32, (8.0, 7.0))])
def test_the_decoder_layer_carries_the_trunk_grid_onto_the_stride_4_grid(trunk_stride, expected):
    """The model's own resampling layer: MobileNet cells at s i + s - 1 onto 4 j + 3 read coarse
    coordinate (j - (s - 4) / 4) / (s / 4)."""
    layer = _net(trunk_stride).get_layer("decoder_upsample")
    assert (layer.stride, layer.offset) == expected


def test_low_level_features_are_centred_on_the_logit_grid():
    """The decoder's low-level branch (gradient support) is centred on 4 i + 3, the geometry the
    logits are declared with."""
    model = _net(16, 96)
    branch = keras.Model(model.input, model.get_layer("decoder_low_relu").output)
    images = np.random.default_rng(1).uniform(0, 255, (2, 96, 96, 3))
    for i in (8, 12):
        assert gradient_support_centre(branch, images, i) == 4 * i + 3


@pytest.mark.parametrize("trunk_stride, trunk_offset", [(16, 15.0), (8, 7.0)])
def test_decoder_resamples_the_aspp_cells_with_both_geometries(trunk_stride, trunk_offset):
    """Known answer: coarse cells holding their own centre pixel (trunk_stride * i + offset),
    resampled onto the stride-4 grid, hold the fine cells' centres (4 j + 3) wherever both
    neighbours exist: bilinear interpolation of a linear ramp is exact."""
    coarse = trunk_stride * np.arange(7, dtype=np.float32) + trunk_offset
    maps = np.broadcast_to(coarse[None, :, None, None], (1, 7, 7, 1)).copy()
    reference = np.zeros((1, 7 * trunk_stride // 4, 5, 1), np.float32)
    layer = deeplab.GridResample(trunk_stride / 4, (trunk_offset - 3.0) / 4)
    out = layer(maps, reference).numpy()[0, :, 0, 0]
    fine = 4 * np.arange(len(out)) + 3.0
    inside = (fine >= coarse[0]) & (fine <= coarse[-1])
    assert inside.sum() >= 12
    np.testing.assert_allclose(out[inside], fine[inside], atol=1e-4)
    np.testing.assert_allclose(out[~inside], np.clip(fine[~inside], coarse[0], coarse[-1]), atol=1e-4)


def test_imagenet_trunk_save_load_and_a_training_step(tmp_path):
    """The MobileNet trunk takes the ImageNet file by name (the head starts random); the model
    saves and loads with its geometry; five steps of the package's loss lower it on a batch."""
    net_cfg = configs.NetConfig(backbone="mobilenet", width=0.25, head="deeplab_v3plus", head_units=16,
                                output_stride=16, input_size=64)
    model = deeplab.build(3, net_cfg, 1e-4, "segmenter")
    weights = pretrained.imagenet_weights(shared_path(*WEIGHTS), "mobilenet", 0.25)
    pretrained.initialise(model, weights)
    np.testing.assert_array_equal(model.get_layer("conv_pw_13").get_weights()[0], weights["conv_pw_13"][0])
    images = np.random.default_rng(2).uniform(0, 255, (4, 64, 64, 3)).astype(np.float32)
    again = assert_round_trip(model, images, tmp_path)
    assert (again.head, again.output_stride, again.output_offset) == ("deeplab_v3plus", 4, 3.0)
    labels = np.zeros((4, 64, 64), np.uint8)
    labels[:, 16:48, 16:48] = 2
    labels[:, :2] = 255
    loss = losses.segmentation_loss(net_cfg)
    assert (loss.stride, loss.offset) == (4, 3.0)
    optimizer = keras.optimizers.Adam(1e-3)
    first = float(loss(labels, model(images, training=False)))
    for _ in range(5):  # fit's steps, eagerly: tracing them costs several times more
        with tf.GradientTape() as tape:
            value = loss(labels, model(images, training=True))
        optimizer.apply(tape.gradient(value, model.trainable_variables), model.trainable_variables)
    assert float(loss(labels, model(images, training=False))) < first


def test_vgg16_has_no_v3plus_head():
    with pytest.raises(ValueError, match="net.backbone='vgg16' has no stride-4 features for its decoder"):
        configs.override(configs.preset("demo"), ["segmenter.net.head=deeplab_v3plus"])


def test_only_deeplab_nets_take_the_head():
    """A MobileNet seeder could build the head's geometry, but it is a classifier: refused."""
    with pytest.raises(ValueError, match="the head is a DeepLab net's"):
        configs.override(configs.preset("voc_animals"), ["seeder.net.head=deeplab_v3plus"])
    cfg = configs.override(configs.preset("voc_animals"), ["saliency.net.head=deeplab_v3plus"])
    assert cfg.saliency.net.head == "deeplab_v3plus"
