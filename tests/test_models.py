"""Network topologies against Table 6 and DeepLab-LargeFOV, and Keras serialisation."""

import keras
import numpy as np
import pytest

from tfguided.models import deeplab, gap


@pytest.mark.parametrize("arch, size", [("gap_lowres", 21), ("gap_highres", 41), ("gap_deeplab", 41)])
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
])
def test_save_and_load_round_trip(build, tmp_path):
    model = build()
    x = np.random.default_rng(1).uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), rtol=1e-5, atol=1e-5)


def test_unknown_arch_is_refused():
    with pytest.raises(ValueError, match="unknown GAP architecture 'gap_foo'"):
        gap.GapNet("gap_foo", 3)
