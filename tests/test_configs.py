"""Presets and command-line overrides of the config dataclasses."""

import re

import pytest

from tfguided import configs
from tfguided.crf import CRF_PARAMS


def test_paper_defaults():
    cfg = configs.preset("voc12")
    assert (cfg.seeder.net.input_size, cfg.seeder.train.batch_size, cfg.seeder.train.steps) == (321, 15, 8000)
    assert (cfg.seeder.train.learning_rate, cfg.seeder.train.momentum) == (1e-3, 0.9)
    assert (cfg.seeder.train.weight_decay, cfg.seeder.train.decay_every) == (5e-4, 2000)
    assert cfg.segmenter.train.last_layer_lr_mult == 10.0 and cfg.segmenter.net.fc6_dilation == 12
    assert (cfg.guide.tau, cfg.guide.saliency_fraction, cfg.guide.min_component_fraction) == (0.2, 0.5, 0.01)
    assert cfg.evaluate.crf.params == "deeplab" and CRF_PARAMS["deeplab"]["bilateral_xy"] == 121
    assert CRF_PARAMS["sec"]["bilateral_weight"] == 10 and cfg.guide.undecided == "ignore"


def test_override_types_and_nesting():
    cfg = configs.override(configs.preset("tiny"), [
        "seeder.train.steps=7", "guide.tau=0.3", "seeder.net.batch_norm=false", "guide.crf.params=sec"])
    assert cfg.seeder.train.steps == 7 and cfg.guide.tau == 0.3
    assert cfg.seeder.net.batch_norm is False and cfg.guide.crf.params == "sec"
    assert configs.diff(cfg, configs.preset("tiny")) == {
        "seeder.train.steps": 7, "guide.tau": 0.3, "seeder.net.batch_norm": False, "guide.crf.params": "sec"}


@pytest.mark.parametrize("bad, message", [
    ("seeder.train.stepz=1", "no field 'stepz'"),
    ("seedr.train.steps=1", "no section 'seedr'"),
    ("seeder.train.steps=many", "expected a int"),
    ("seeder.net.batch_norm=maybe", "expected true or false"),
    ("seeder.train", "expected section.field=value"),
    ("seeder.net=1", "names a section"),
])
def test_bad_overrides_are_explained(bad, message):
    with pytest.raises(ValueError, match=message):
        configs.override(configs.preset("tiny"), [bad])


@pytest.mark.parametrize("bad, message", [
    ("guide.strategy=g9", "guide.strategy='g9': choose one of seeds, g0, g1, g2, oracle, gt"),
    ("guide.undecided=maybe", "guide.undecided='maybe': choose one of ignore, background"),
    ("guide.crf_seed=v3", "guide.crf_seed='v3': choose one of none, deeplab, sec"),
    ("evaluate.crf.params=v3", "evaluate.crf.params='v3': choose one of deeplab, sec"),
    ("segmenter.train.optimizer=rmsprop", "segmenter.train.optimizer='rmsprop': choose one of sgd, adam"),
    ("saliency.method=itti", "saliency.method='itti': choose one of net, pretrained, mbd"),
])
def test_enumerations_are_checked_when_the_config_is_built(bad, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        configs.override(configs.preset("tiny"), [bad])


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset"):
        configs.preset("huge")


@pytest.mark.slow
def test_voc12_dry_run_prints_the_papers_configuration_and_full_size_networks():
    """Issue 4: --dry_run resolves the paper preset and builds the full networks without data."""
    import json

    from conftest import run_cli
    out = run_cli(["train_main.py", "--preset=voc12", "--stage=segmenter", "--dry_run"]).stdout
    text = out[out.index("{"):]
    cfg = json.loads(text[:text.index("\n}\n") + 2])
    for section in ("seeder", "saliency", "segmenter"):
        train = cfg[section]["train"]
        assert (train["batch_size"], train["optimizer"], train["learning_rate"], train["momentum"],
                train["weight_decay"], train["last_layer_lr_mult"], train["decay_every"],
                train["decay_factor"], train["steps"]) == (15, "sgd", 1e-3, 0.9, 5e-4, 10.0, 2000, 0.1, 8000)
        assert cfg[section]["net"]["input_size"] == 321 and cfg[section]["net"]["width"] == 1.0
    assert cfg["classifier"]["train"]["batch_size"] == 40 and cfg["classifier"]["train"]["steps"] == 30000
    assert cfg["guide"]["tau"] == 0.2 and cfg["guide"]["saliency_fraction"] == 0.5
    assert cfg["evaluate"]["crf"]["params"] == "deeplab" and cfg["num_classes"] == 20
    assert "seeder: gap_highres, input (None, 321, 321, 3), output (None, 20), fc8 (None, 41, 41, 20)" in out
    assert "segmenter: segmenter, input (None, 321, 321, 3), output (None, 41, 41, 21)" in out
    assert "20,505,429 parameters" in out  # DeepLab-v1 LargeFOV with 21 classes
    assert cfg["saliency"]["net"]["backbone"] == "resnet101"  # §6.1: DeepLab-v2 ResNet-101
    assert "saliency: saliency, input (None, 321, 321, 3), output (None, 41, 41, 2)" in out
    assert "42,805,640 parameters" in out  # keras ResNet-101 without top (42,658,176) + ASPP 4 x 36,866


@pytest.mark.slow
def test_voc_mini_dry_run_builds_mobilenet_nets_on_the_real_data_paths():
    """Issue 4's real-photo preset: MobileNet-0.25 from the ImageNet file of ../shared/data, MB+
    saliency (no network to build), the segmenter at half size."""
    import os

    from tfguided.stages import pipeline
    cfg = configs.preset("voc_mini")
    assert os.path.basename(cfg.data.target_root) == "VOC2012" and cfg.data.train_split == "train"
    for section in ("seeder", "segmenter"):
        net = getattr(cfg, section).net
        assert (net.backbone, net.width, os.path.basename(net.init)) == (
            "mobilenet", 0.25, "mobilenet_2_5_224_tf_no_top.h5")
    assert cfg.saliency.method == "mbd" and cfg.segmenter.net.scale == 0.5 and cfg.guide.tau == 0.6
    out = pipeline.dry_run(cfg, "evaluate")
    assert "seeder: gap_highres, input (None, 256, 256, 3), output (None, 20), fc8 (None, 32, 32, 20)" in out
    assert "segmenter: segmenter, input (None, 192, 192, 3), output (None, 24, 24, 21)" in out
    assert "saliency:" not in out


@pytest.mark.parametrize("assignment, message", [
    ("guide.tau=1.5", "guide.tau=1.5: must be >= 0 and <= 1"),
    ("segmenter.train.optimizer=adamw", "choose one of"),
    ("guide.undecided=maybe", "guide.undecided='maybe': choose one of"),
    ("segmenter.train.steps=0", "segmenter.train.steps=0: must be >= 1"),
    ("seeder.train.batch_size=0", "seeder.train.batch_size=0: must be >= 1"),
    ("segmenter.train.learning_rate=-1", "learning_rate=-1.0: must be > 0"),
    ("segmenter.net.width=0", "segmenter.net.width=0.0: must be > 0"),
    ("seeder.arch=gap_huge", "seeder.arch='gap_huge': choose one of"),
    ("guide.connectivity=6", "guide.connectivity=6: choose one of 4, 8"),
    ("segmenter.net.convs=1,0,2,2,2", "at least one convolution"),
    ("seeder.net.head=deeplab_v3plus", "seeder.net.head='deeplab_v3plus': "),
    ("segmenter.net.head_units=0", "segmenter.net.head_units=0: must be >= 1"),
    ("segmenter.net.aspp_rates=6,0", "each an integer >= 1"),
    ("segmenter.net.aspp_rates=6,6", "distinct at output stride 8"),
])
def test_every_field_is_validated_when_the_config_is_built(assignment, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        configs.override(configs.preset("demo"), [assignment])


def test_every_preset_is_valid_and_json_files_are_strict(tmp_path):
    import json
    import math
    from tfguided import files
    for name in configs.PRESETS:
        configs.preset(name)
    files.atomic_write_json(str(tmp_path / "a.json"), {"x": float("nan"), "y": [math.inf, 1.5]})
    text = (tmp_path / "a.json").read_text()
    assert "NaN" not in text and "Infinity" not in text and json.loads(text) == {"x": None, "y": [None, 1.5]}
