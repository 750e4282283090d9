"""ImageNet initialisation (issue 4): VGG-16's convs copied, fc6/fc7 decimated as DeepLab does."""

import keras
import numpy as np
import pytest

from tfguided.models import deeplab, gap, pretrained
from tfguided.models import vgg as vgg_module
from tfguided.models.classifier import VggClassifier


@pytest.fixture(scope="module")
def vgg():
    """keras.applications VGG-16 with the top, random weights (no download), and marked fc weights."""
    model = keras.applications.VGG16(include_top=True, weights=None)
    fc6, b6 = model.get_layer("fc1").get_weights()
    fc6[:] = 0
    fc6[(3 * 7 + 6) * 512 + 5, 8] = 1.0    # h=3, w=6 (taps 1, 2), c=5, o=8 (kept as 2): kept
    fc6[(1 * 7 + 3) * 512 + 0, 8] = 2.0    # h=1 is not a tap: dropped
    fc6[(0 * 7 + 0) * 512 + 0, 9] = 3.0    # o=9 is not a kept channel: dropped
    b6[:] = np.arange(4096)
    model.get_layer("fc1").set_weights([fc6, b6])
    fc7, b7 = model.get_layer("fc2").get_weights()
    fc7[:] = 0
    fc7[12, 20] = 4.0                      # in 12 -> 3, out 20 -> 5: kept
    fc7[13, 20] = 5.0                      # in 13: dropped
    model.get_layer("fc2").set_weights([fc7, b7])
    return model


def test_decimation_picks_taps_0_3_6_and_every_4th_channel(vgg):
    k6, b6, k7, b7 = vgg_module.decimated_fc(vgg)
    assert k6.shape == (3, 3, 512, 1024) and k7.shape == (1, 1, 1024, 1024)
    assert k6[1, 2, 5, 2] == 1.0 and k6.sum() == 1.0
    np.testing.assert_array_equal(b6, np.arange(0, 4096, 4))
    assert k7[0, 0, 3, 5] == 4.0 and k7.sum() == 4.0


def test_largefov_and_classifier_take_the_vgg_weights(vgg, monkeypatch):
    monkeypatch.setattr(vgg_module, "load_vgg16", lambda weights: vgg)
    weights = pretrained.imagenet_weights("vgg16.h5")
    assert pretrained.imagenet_weights("random") is None
    model = pretrained.initialise(deeplab.LargeFov(21), weights)
    for ours, theirs in (("conv1_1", "block1_conv1"), ("conv3_3", "block3_conv3"), ("conv5_3", "block5_conv3")):
        for a, b in zip(model.get_layer(ours).get_weights(), vgg.get_layer(theirs).get_weights()):
            np.testing.assert_array_equal(a, b)
    assert model.get_layer("fc6").get_weights()[0][1, 2, 5, 2] == 1.0
    assert model.get_layer("fc7").get_weights()[0][0, 0, 3, 5] == 4.0
    classifier = pretrained.initialise(VggClassifier(20), weights)
    np.testing.assert_array_equal(classifier.get_layer("fc6").get_weights()[0],
                                  vgg.get_layer("fc1").get_weights()[0])
    with pytest.raises(ValueError, match="needs VGG-16 itself"):
        pretrained.initialise(deeplab.LargeFov(21, width=0.5), weights)
    with pytest.raises(ValueError, match="needs VGG-16 itself"):
        pretrained.initialise(deeplab.LargeFov(21, batch_norm=True), weights)
    with pytest.raises(ValueError, match="fc_units=4096 and net.input_size=224"):
        pretrained.initialise(VggClassifier(20, input_size=128), weights)


def test_gap_nets_take_decimated_fc_only_where_the_geometry_is_deeplabs(vgg, monkeypatch):
    """GAP-DeepLab's fc6 is LargeFOV's (3x3, dilation 12): decimated fc6/fc7. GAP-HighRes's
    undilated 3x3 fc6 and 3x3 fc7 have no VGG counterpart: random, convs still copied."""
    monkeypatch.setattr(vgg_module, "load_vgg16", lambda weights: vgg)
    weights = pretrained.imagenet_weights("vgg16.h5")
    dl = pretrained.initialise(gap.GapNet("gap_deeplab", 20), weights)
    assert dl.get_layer("fc6").get_weights()[0][1, 2, 5, 2] == 1.0
    assert dl.get_layer("fc7").get_weights()[0][0, 0, 3, 5] == 4.0
    hr = gap.GapNet("gap_highres", 20)
    before = hr.get_layer("fc6").get_weights()[0].copy()
    pretrained.initialise(hr, weights)
    np.testing.assert_array_equal(hr.get_layer("fc6").get_weights()[0], before)
    np.testing.assert_array_equal(hr.get_layer("conv4_2").get_weights()[0],
                                  vgg.get_layer("block4_conv2").get_weights()[0])
