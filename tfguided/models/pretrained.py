"""ImageNet initialisation from VGG-16 (§6.1: "ImageNet pretrained models for initialisation").

The conv layers take keras.applications.VGG16's weights (same Caffe BGR-mean input convention,
`block{b}_conv{i}` -> `conv{b}_{i}`). DeepLab-LargeFOV's fc6 (3x3, 1024) and fc7 (1x1, 1024) are
VGG-16's fc6 (7x7x512x4096) and fc7 (4096x4096) decimated as DeepLab does: spatial taps 0, 3, 6
of the 7x7 kernel and every 4th channel. GAP nets' 3x3 fc6 gets the same decimated kernel; a 3x3
fc7 (GAP-HighRes) has no VGG counterpart and keeps its random initialisation.

`net.init`: "random" (the CPU presets), "imagenet" (keras.applications downloads the file once),
or a path to VGG-16's .h5 with the top (`--init_weights=PATH`, no network needed).
"""

import keras
import numpy as np

SPATIAL_TAPS = (0, 3, 6)
CHANNEL_STEP = 4


def load_vgg16(weights):
    """keras.applications VGG-16 with its fully connected top, from 'imagenet' or a .h5 path."""
    return keras.applications.VGG16(include_top=True, weights=weights)


def decimated_fc(vgg):
    """(fc6 kernel [3, 3, 512, 1024], fc6 bias, fc7 kernel [1, 1, 1024, 1024], fc7 bias)."""
    fc6, b6 = vgg.get_layer("fc1").get_weights()   # [7*7*512, 4096], flattened (h, w, c)
    fc7, b7 = vgg.get_layer("fc2").get_weights()   # [4096, 4096]
    taps = list(SPATIAL_TAPS)
    kernel6 = fc6.reshape(7, 7, 512, 4096)[taps][:, taps][..., ::CHANNEL_STEP]
    kernel7 = fc7[::CHANNEL_STEP, ::CHANNEL_STEP].reshape(1, 1, 1024, 1024)
    return kernel6, b6[::CHANNEL_STEP], kernel7, b7[::CHANNEL_STEP]


def _set(layer, kernel, bias):
    expected = [tuple(w.shape) for w in layer.get_weights()]
    if expected[0] != kernel.shape or (len(expected) > 1 and expected[1] != bias.shape):
        raise ValueError(f"{layer.name}: VGG-16 weights {kernel.shape} do not fit {expected}; ImageNet "
                         f"initialisation needs the full VGG-16 widths (net.width=1, fc_units=1024, "
                         f"no BatchNorm)")
    layer.set_weights([kernel, bias][:len(expected)])


def initialise(model, init):
    """Copies VGG-16 ImageNet weights into `model` (a GapNet, LargeFov or VggClassifier) in place."""
    if init == "random":
        return model
    vgg = load_vgg16(init)
    names = {layer.name for layer in model.layers}
    for layer in vgg.layers:
        if layer.name.startswith("block") and "_conv" in layer.name:
            block, conv = layer.name[len("block"):].split("_conv")
            ours = f"conv{block}_{conv}"
            if ours in names:
                _set(model.get_layer(ours), *layer.get_weights())
    fc6_layer = model.get_layer("fc6") if "fc6" in names else None
    if isinstance(fc6_layer, keras.layers.Dense):  # the classifier: VGG-16's own fc layers
        for ours, theirs in (("fc6", "fc1"), ("fc7", "fc2")):
            _set(model.get_layer(ours), *vgg.get_layer(theirs).get_weights())
        return model
    kernel6, b6, kernel7, b7 = decimated_fc(vgg)
    if fc6_layer is not None and fc6_layer.kernel.shape[:2] == (3, 3):
        _set(fc6_layer, kernel6, b6)
    if "fc7" in names and model.get_layer("fc7").kernel.shape[:2] == (1, 1):
        _set(model.get_layer("fc7"), kernel7, b7)
    return model
