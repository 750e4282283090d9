"""ResNet-101 + ASPP (DeepLab-v2, the paper's saliency net; issue 4): keras.applications'
arithmetic and names, dilated to output stride 8 with the geometry tfguided/scoremaps.py assumes."""

import keras
import numpy as np
import pytest

from conftest import assert_round_trip, gradient_support_centre
from tfguided import configs
from tfguided.models import interface, deeplab, pretrained, resnet


def _trunk_model(size, dilated=True):
    inputs = keras.Input((size, size, 3))
    return keras.Model(inputs, resnet.resnet101_trunk(inputs, 0.0, dilated))


@pytest.fixture(scope="module")
def reference():
    """keras.applications.ResNet101 (no download: random weights, BatchNorm statistics randomised
    too so that frozen-BN arithmetic is exercised)."""
    net = resnet.load_resnet101(None)
    rng = np.random.default_rng(0)
    for layer in net.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.0, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 2.0, var.shape)])
    return net


def test_undilated_trunk_with_copied_weights_is_keras_resnet101(reference):
    weights = {layer.name: layer.get_weights() for layer in reference.layers if layer.get_weights()}
    ours = interface.initialise_by_name(_trunk_model(224, dilated=False), weights, "resnet101")
    images = np.random.default_rng(1).uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)
    expected = reference(keras.applications.resnet.preprocess_input(images.copy()), training=False)
    out = ours(images, training=False)
    assert out.shape == (2, 7, 7, 2048)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    assert np.abs(expected.numpy()).mean() > 1e-3


def test_deeplab_v2_at_321_gives_41x41_from_dilated_conv4_conv5():
    model = deeplab.DeepLabV2(2, input_size=321)
    assert model.output.shape[1:] == (41, 41, 2)
    convs = {layer.name: layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)}
    assert convs["conv4_block1_1_conv"].strides == (1, 1) and convs["conv5_block1_0_conv"].strides == (1, 1)
    assert convs["conv3_block1_1_conv"].strides == (2, 2)
    assert {convs[f"conv4_block{i}_2_conv"].dilation_rate for i in range(1, 24)} == {(2, 2)}
    assert {convs[f"conv5_block{i}_2_conv"].dilation_rate for i in range(1, 4)} == {(4, 4)}
    assert not any(layer.trainable for layer in model.layers
                   if isinstance(layer, keras.layers.BatchNormalization))  # frozen, as DeepLab-v2
    assert [b.dilation_rate[0] for b in model.get_layer("fc8").branches] == [6, 12, 18, 24]


def test_aspp_is_the_sum_of_its_dilated_branches():
    aspp = resnet.Aspp(3, weight_decay=0.0)
    x = np.random.default_rng(2).normal(size=(1, 30, 30, 5)).astype(np.float32)
    out = aspp(x).numpy()
    expected = sum(keras.ops.conv(x, b.kernel, padding="same", dilation_rate=b.dilation_rate).numpy()
                   + b.bias.numpy() for b in aspp.branches)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_cells_are_centred_where_output_geometry_says():
    """Gradient support of a stride-8 cell (conv3_block1) is a box centred on 8 i."""
    trunk = _trunk_model(96)
    model = keras.Model(trunk.input, trunk.get_layer("conv3_block1_out").output)
    images = np.random.default_rng(3).uniform(0, 255, (2, 96, 96, 3))
    stride, offset = resnet.output_geometry()
    for i in (4, 6):
        assert gradient_support_centre(model, images, i) == stride * i + offset


def test_saved_and_loaded_with_its_geometry(tmp_path):
    model = deeplab.DeepLabV2(2, input_size=65, name="saliency")
    x = np.random.default_rng(4).uniform(0, 255, (1, 65, 65, 3)).astype(np.float32)
    again = assert_round_trip(model, x, tmp_path)
    assert (again.output_stride, again.output_offset, again.backbone) == (8, 0.0, "resnet101")


def test_misuse_is_refused_and_weight_files_recognised(tmp_path):
    with pytest.raises(ValueError, match="output stride 8"):
        deeplab.output_geometry(configs.NetConfig(backbone="resnet101", output_stride=16))
    with pytest.raises(ValueError, match="ASPP head"):
        deeplab.LargeFov(2, backbone="resnet101")
    with pytest.raises(ValueError, match="net.backbone=resnet101 for these weights"):
        pretrained.initialise(deeplab.LargeFov(2, width=0.0625, fc_units=8),
                              interface.ImagenetWeights("resnet101", {"conv1_conv": []}))
    import h5py

    with h5py.File(tmp_path / "r101.h5", "w") as f:
        for name in ("conv1_conv", "conv4_block23_out"):
            f.create_group(name)
    assert pretrained.file_backbone(str(tmp_path / "r101.h5")) == "resnet101"
