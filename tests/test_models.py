"""Network topologies against Table 6 and DeepLab-LargeFOV, and Keras serialisation."""

import keras
import numpy as np
import pytest

from conftest import assert_round_trip
from tfguided.models import classifier, deeplab, gap


@pytest.mark.parametrize("arch, size", [("gap_lowres", 21), ("gap_highres", 41), ("gap_roi", 41),
                                        ("gap_deeplab", 41)])
def test_gap_heatmap_sizes_at_321_full_width(arch, size):
    """Table 6: output heatmaps (20, 21, 21) for GAP-LowRes, (20, 41, 41) for the others."""
    model = gap.GapNet(arch, 20, input_size=321)
    assert tuple(model.get_layer("fc8").output.shape) == (None, size, size, 20)
    assert tuple(model.output.shape) == (None, 20)


def test_gap_highres_layers_follow_table_6():
    model = gap.GapNet("gap_highres", 20, input_size=321)
    names = [layer.name for layer in model.layers]
    assert "pool3" in names and "pool4" not in names and "pool5" not in names
    assert model.get_layer("fc6").kernel.shape == (3, 3, 512, 1024)
    assert model.get_layer("fc7").kernel.shape == (3, 3, 1024, 1024)
    assert model.get_layer("conv5_3").kernel.shape == (3, 3, 512, 512)
    lowres = gap.GapNet("gap_lowres", 20, input_size=321)
    assert "fc7" not in [layer.name for layer in lowres.layers]
    dl = gap.GapNet("gap_deeplab", 20, input_size=321)
    assert dl.get_layer("fc6").dilation_rate == (12, 12)
    assert dl.get_layer("conv5_1").dilation_rate == (2, 2)


def test_gap_roi_pools_every_3x3_window_then_1x1_fc_layers():
    """Supp. B / Table 6: pool5 = ROI pooling of each 3x3 conv5 window to one bin; fc6, fc7 1x1."""
    model = gap.GapNet("gap_roi", 20, input_size=321)
    assert model.get_layer("fc6").kernel.shape == (1, 1, 512, 1024)
    assert model.get_layer("fc7").kernel.shape == (1, 1, 1024, 1024)
    assert tuple(model.get_layer("pool5").output.shape) == (None, 41, 41, 512)
    assert (model.output_stride, model.output_offset) == (8, 3.5)  # same grid as GAP-HighRes

    small = gap.GapNet("gap_roi", 3, width=0.0625, fc_units=8, input_size=40)
    probe = keras.Model(small.input, [small.get_layer("conv5_3_relu").output,
                                      small.get_layer("pool5").output])
    x = np.random.default_rng(2).uniform(0, 255, (1, 40, 40, 3)).astype(np.float32)
    conv5, pool5 = (t.numpy()[0] for t in probe(x))
    padded = np.pad(conv5, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    windows = np.stack([padded[dy:dy + 5, dx:dx + 5] for dy in range(3) for dx in range(3)])
    np.testing.assert_allclose(pool5, windows.max(axis=0), rtol=1e-6)


def test_vgg16_classifier_at_224_is_vgg16():
    """Supp. F classifiers: VGG-16 [42], fc6 over the flattened 7x7x512 map, 4096-wide fc6/fc7."""
    model = classifier.VggClassifier(20)
    assert model.output_shape == (None, 20)
    assert model.get_layer("fc6").kernel.shape == (7 * 7 * 512, 4096)
    assert model.get_layer("fc7").kernel.shape == (4096, 4096)
    assert len([l for l in model.layers if l.name.startswith("conv") and not l.name.endswith("relu")]) == 13
    assert model.count_params() == 134_342_484  # VGG-16's 138.36M with fc8 of 20, not 1000 classes


def test_largefov_topology_at_321():
    model = deeplab.LargeFov(21, input_size=321)
    assert tuple(model.output.shape) == (None, 41, 41, 21)
    assert model.get_layer("fc6").kernel.shape == (3, 3, 512, 1024)
    assert model.get_layer("fc6").dilation_rate == (12, 12)
    assert model.get_layer("fc7").kernel.shape == (1, 1, 1024, 1024)
    assert model.get_layer("conv5_2").dilation_rate == (2, 2)


def test_cams_average_to_logits_and_drop_the_bias():
    """Logits are the spatial mean of fc8's maps (GAP); cam_model gives those maps minus the bias."""
    model = gap.GapNet("gap_highres", 3, width=0.0625, fc_units=16, batch_norm=True, input_size=32)
    fc8 = model.get_layer("fc8")
    fc8.bias.assign(np.array([1.0, -2.0, 0.5], np.float32))
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    cams = model.cam_model()(x).numpy()
    logits = model(x).numpy()
    np.testing.assert_allclose(cams.mean(axis=(1, 2)) + [1.0, -2.0, 0.5], logits, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("build", [
    lambda: gap.GapNet("gap_lowres", 4, width=0.0625, fc_units=8, input_size=32),
    lambda: deeplab.LargeFov(3, width=0.0625, fc_units=8, fc6_dilation=2, batch_norm=True, input_size=32),
    lambda: classifier.VggClassifier(3, width=0.0625, fc_units=8, batch_norm=True, input_size=32),
])
def test_save_and_load_round_trip(build, tmp_path):
    x = np.random.default_rng(1).uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    assert_round_trip(build(), x, tmp_path)


def test_unknown_arch_is_refused():
    with pytest.raises(ValueError, match="unknown GAP architecture 'gap_foo'"):
        gap.GapNet("gap_foo", 3)
