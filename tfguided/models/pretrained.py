"""ImageNet initialisation from VGG-16 (§6.1: "ImageNet pretrained models for initialisation").

The conv layers take keras.applications.VGG16's weights (same Caffe BGR-mean input convention,
`block{b}_conv{i}` -> `conv{b}_{i}`). DeepLab-LargeFOV's fc6 (3x3, dilation 12, 1024) and fc7
(1x1, 1024) are VGG-16's fc6 (7x7x512x4096) and fc7 (4096x4096) decimated as DeepLab does:
spatial taps 0, 3, 6 of the 7x7 kernel and every 4th channel; GAP-DeepLab's fc6/fc7 (the same
shapes) too. The other GAP nets' fc layers (undilated or 1x1 fc6, 3x3 fc7) have no VGG
counterpart and keep their random initialisation; the classifier takes VGG-16's fc6/fc7 whole.

`net.init`: "random" (the CPU presets), "imagenet" (keras.applications downloads the file once),
or a path to VGG-16's .h5 with the top (`--init_weights=PATH`, no network needed). With
`net.backbone = mobilenet` the file is MobileNet v1's without the top at the net's alpha
(e.g. ../shared/data/weights/mobilenet_2_5_224_tf_no_top.h5 for 0.25): every trunk layer is copied
by name and the head starts random; with `net.backbone = resnet101` (the saliency net, DeepLab-v2)
it is ResNet-101's without the top, copied the same way.
"""

import keras

from tfguided.models import mobilenet, resnet

SPATIAL_TAPS = (0, 3, 6)
CHANNEL_STEP = 4


def file_backbone(path):
    """'mobilenet', 'resnet101' or 'vgg16': which network a Keras .h5 weights file holds (by its
    layer names; ResNet-101 has 23 conv4 blocks, ResNet-152 36)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            names = set(f.keys()) | set(f["model_weights"].keys() if "model_weights" in f else ())
    except OSError as e:
        raise FileNotFoundError(f"--init_weights={path}: not a readable .h5 file ({e})") from e
    if "conv_pw_1" in names:
        return "mobilenet"
    if "conv4_block23_out" in names and "conv4_block24_out" not in names:
        return "resnet101"
    if "block1_conv1" in names:
        return "vgg16"
    raise ValueError(f"--init_weights={path}: no VGG-16 (block1_conv1), MobileNet v1 (conv_pw_1) "
                     f"or ResNet-101 (conv4_block23_out) layers in it")


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


def imagenet_weights(init, backbone="vgg16", width=1.0):
    """None for init='random', else {our layer name: [kernel, bias]} as numpy arrays: the convs,
    the classifier's fc6/fc7 (`classifier_fc6/7`) and the decimated ones (`fc6`, `fc7`); for
    MobileNet, {layer name: weights} of its trunk.

    Called outside any distribution scope, so the 138M-parameter VGG-16 is built once, not per
    replica.
    """
    if init == "random":
        return None
    if backbone == "mobilenet":
        return weights_by_name(mobilenet.load_mobilenet(width, init))
    if backbone == "resnet101":
        return weights_by_name(resnet.load_resnet101(init))
    vgg = load_vgg16(init)
    weights = {}
    for layer in vgg.layers:
        if layer.name.startswith("block") and "_conv" in layer.name:
            block, conv = layer.name[len("block"):].split("_conv")
            weights[f"conv{block}_{conv}"] = layer.get_weights()
    weights["classifier_fc6"] = vgg.get_layer("fc1").get_weights()
    weights["classifier_fc7"] = vgg.get_layer("fc2").get_weights()
    kernel6, b6, kernel7, b7 = decimated_fc(vgg)
    weights["fc6"], weights["fc7"] = [kernel6, b6], [kernel7, b7]
    return weights


def weights_by_name(net):
    """{layer name: weight list} of every layer with weights (a headless keras.applications net)."""
    return {layer.name: layer.get_weights() for layer in net.layers if layer.get_weights()}


def _check_full_vgg(model):
    if getattr(model, "width", 1.0) != 1.0 or getattr(model, "batch_norm", False) or \
            tuple(getattr(model, "convs", (2, 2, 3, 3, 3))) != (2, 2, 3, 3, 3):
        raise ValueError(f"{model.name}: ImageNet initialisation needs VGG-16 itself: net.width=1, "
                         f"net.batch_norm=false, net.convs=2,2,3,3,3 (or net.init=random)")


def _set(layer, kernel, bias, hint):
    expected = [tuple(w.shape) for w in layer.get_weights()]
    if expected != [kernel.shape, bias.shape]:
        raise ValueError(f"{layer.name}: VGG-16 weights {kernel.shape} do not fit {expected}; {hint}")
    layer.set_weights([kernel, bias])


def initialise(model, weights):
    """Copies `imagenet_weights(...)` into `model` (a GapNet, LargeFov or VggClassifier) in place.

    The decimated fc6 goes only into a dilated 3x3 fc6 (LargeFOV, GAP-DeepLab: the geometry it was
    decimated for), and the decimated fc7 only after it; other fc layers start random.
    """
    if weights is None:
        return model
    for backbone, marker in (("mobilenet", "conv_pw_1"), ("resnet101", "conv1_conv")):
        if marker in weights:
            return _initialise_by_name(model, weights, backbone)
    if getattr(model, "backbone", "vgg16") != "vgg16":
        raise ValueError(f"{model.name}: net.backbone={model.backbone} needs its own ImageNet "
                         f"weights, not VGG-16's")
    _check_full_vgg(model)
    names = {layer.name for layer in model.layers}
    for name in names:
        if name.startswith("conv") and name in weights:
            _set(model.get_layer(name), *weights[name], "the trunk must be VGG-16's")
    if "fc6" not in names:
        return model
    fc6 = model.get_layer("fc6")
    if isinstance(fc6, keras.layers.Dense):  # the classifier: VGG-16's own fc layers
        hint = "the classifier needs net.fc_units=4096 and net.input_size=224"
        _set(fc6, *weights["classifier_fc6"], hint)
        _set(model.get_layer("fc7"), *weights["classifier_fc7"], hint)
    elif fc6.kernel.shape[:2] == (3, 3) and fc6.dilation_rate[0] > 1:
        hint = "DeepLab's decimated fc layers need net.fc_units=1024"
        _set(fc6, *weights["fc6"], hint)
        if "fc7" in names and model.get_layer("fc7").kernel.shape[:2] == (1, 1):
            _set(model.get_layer("fc7"), *weights["fc7"], hint)
    return model


def _initialise_by_name(model, weights, backbone):
    """Copies a MobileNet or ResNet-101 trunk's weights layer by layer, checking every shape."""
    names = {layer.name for layer in model.layers}
    missing = sorted(set(weights) - names)
    if missing:
        raise ValueError(f"{model.name}: {backbone} weights, but the model has no layers {missing[:3]}... "
                         f"(net.backbone={backbone} for these weights)")
    for name, values in weights.items():
        layer = model.get_layer(name)
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if expected != [v.shape for v in values]:
            hint = "net.width must be the file's alpha" if backbone == "mobilenet" else "not ResNet-101's file?"
            raise ValueError(f"{name}: {backbone} weights {[v.shape for v in values]} do not fit "
                             f"{expected}; {hint}")
        layer.set_weights(values)
    return model
