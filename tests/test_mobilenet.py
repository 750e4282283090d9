"""MobileNet v1 backbone (issue 4): keras.applications' arithmetic and ImageNet file, dilated to an
output stride with the geometry tfguided/scoremaps.py assumes."""

import keras
import numpy as np
import pytest

from conftest import assert_round_trip, gradient_support_centre, shared_path
from tfguided.models import deeplab, gap, interface, mobilenet, pretrained

WEIGHTS = ("weights", "mobilenet_2_5_224_tf_no_top.h5")  # alpha 0.25, ImageNet


def _trunk_model(output_stride, width=0.25, size=None):
    inputs = keras.Input((size, size, 3))
    return keras.Model(inputs, mobilenet.mobilenet_trunk(inputs, width, 0.0, output_stride))


@pytest.fixture(scope="module")
def imagenet():
    return pretrained.imagenet_weights(shared_path(*WEIGHTS), "mobilenet", 0.25)


def test_undilated_trunk_with_the_imagenet_file_is_keras_mobilenet(imagenet):
    """At output stride 32 the trunk, given the real ImageNet file, computes what
    keras.applications.MobileNet computes on its own preprocessing (even sizes: same padding)."""
    reference = mobilenet.load_mobilenet(0.25, shared_path(*WEIGHTS))
    ours = interface.initialise_by_name(_trunk_model(32, size=224), imagenet, "mobilenet")
    images = np.random.default_rng(0).uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)
    expected = reference(keras.applications.mobilenet.preprocess_input(images.copy()), training=False)
    out = ours(images, training=False)
    assert out.shape == (2, 7, 7, 256)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-4)
    assert np.abs(expected.numpy()).mean() > 0.1  # real weights, not an all-zero output


@pytest.mark.parametrize("output_stride, cells", [(8, 40), (16, 20), (32, 10)])
def test_output_stride_sets_the_score_map_size(output_stride, cells):
    """Each stride-2 conv pads one pixel after: 321 -> 160 -> 80 -> 40 (cell 39 centred on 319)."""
    model = _trunk_model(output_stride, size=321)
    assert model.output.shape[1:3] == (cells, cells)
    dilations = [layer.dilation_rate[0] for layer in model.layers
                 if isinstance(layer, keras.layers.DepthwiseConv2D)]
    assert dilations == {8: [1] * 6 + [2] * 6 + [4], 16: [1] * 12 + [2], 32: [1] * 13}[output_stride]


def test_cells_are_centred_where_output_geometry_says():
    """The input pixels that reach a stride-8 cell (gradient support, block 5 of the trunk) form a
    box centred on 8 i + 7."""
    trunk = _trunk_model(8, size=96)
    model = keras.Model(trunk.input, trunk.get_layer("conv_pw_5_relu").output)
    images = np.random.default_rng(1).uniform(0, 255, (4, 96, 96, 3))
    stride, offset = mobilenet.output_geometry(8)
    for i in (4, 6):
        assert gradient_support_centre(model, images, i) == stride * i + offset


def test_deeplab_and_gap_heads_on_mobilenet(imagenet, tmp_path):
    seg = deeplab.LargeFov(21, width=0.25, fc_units=64, fc6_dilation=4, backbone="mobilenet",
                           input_size=321)
    assert seg.output.shape[1:] == (40, 40, 21) and (seg.output_stride, seg.output_offset) == (8, 7.0)
    pretrained.initialise(seg, imagenet)
    np.testing.assert_array_equal(seg.get_layer("conv_pw_13").get_weights()[0], imagenet["conv_pw_13"][0])
    x = np.random.default_rng(2).uniform(0, 255, (1, 321, 321, 3)).astype(np.float32)
    again = assert_round_trip(seg, x, tmp_path)
    assert again.backbone == "mobilenet" and again.output_stride == 8
    seeder = gap.GapNet("gap_highres", 20, width=0.25, fc_units=64, backbone="mobilenet",
                        output_stride=16, input_size=321)
    assert seeder.get_layer(gap.CAM_LAYER).output.shape[1:] == (20, 20, 20)
    assert (seeder.output_stride, seeder.output_offset) == (16, 15.0)


def test_weights_that_do_not_fit_are_refused(imagenet):
    with pytest.raises(ValueError, match="do not fit .* \\(net.width, or another network's file\\?\\)"):
        pretrained.initialise(deeplab.LargeFov(2, width=0.5, fc_units=8, backbone="mobilenet"), imagenet)
    with pytest.raises(ValueError, match="net.backbone=mobilenet for these weights"):
        pretrained.initialise(deeplab.LargeFov(2), imagenet)
    with pytest.raises(ValueError, match="vgg16 ImageNet weights for a net with net.backbone=mobilenet"):
        pretrained.initialise(deeplab.LargeFov(2, backbone="mobilenet"), interface.ImagenetWeights("vgg16", {}))


@pytest.mark.slow
def test_init_weights_file_kind_is_read_from_its_layers(tmp_path):
    """--init_weights goes to the networks of the file's backbone (voc_mini's classifier is VGG)."""
    import h5py

    assert pretrained.file_backbone(shared_path(*WEIGHTS)) == "mobilenet"
    with h5py.File(tmp_path / "vgg.h5", "w") as f:
        f.create_group("block1_conv1")
    assert pretrained.file_backbone(str(tmp_path / "vgg.h5")) == "vgg16"
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_group("dense")
    with pytest.raises(ValueError, match="the layers of no known backbone are in it: vgg16 \\(block1_conv1\\)"):
        pretrained.file_backbone(str(tmp_path / "other.h5"))
    (tmp_path / "notes.txt").write_text("not hdf5")
    with pytest.raises(FileNotFoundError, match="notes.txt: not a readable .h5"):
        pretrained.file_backbone(str(tmp_path / "notes.txt"))
    from conftest import run_cli
    out = run_cli(["train_main.py", "--preset=voc_mini", "--stage=seeder", "--dry_run",
                   f"--init_weights={shared_path(*WEIGHTS)}", "--override=seeder.net.input_size=64"]).stdout
    assert out.count('"init": "' + shared_path(*WEIGHTS)) == 3  # seeder, saliency, segmenter
    assert '"init": "random"' in out  # the VGG classifier


def test_unsupported_shapes_are_refused():
    with pytest.raises(ValueError, match="defined by its VGG-16 pools"):
        gap.GapNet("gap_roi", 3, backbone="mobilenet")
    with pytest.raises(ValueError, match="output stride 4"):
        deeplab.LargeFov(2, backbone="mobilenet", output_stride=4)
    with pytest.raises(ValueError, match="other strides: net.backbone=mobilenet"):
        deeplab.LargeFov(2, output_stride=16)
