"""The VGG-16 trunk [42] with the per-variant pooling and dilation of Table 6.

`convs` sets the convolutions per block: VGG-16's (2, 2, 3, 3, 3) for the paper; the CPU
presets use VGG-11's (1, 1, 2, 2, 2), which trains from scratch in the few hundred steps a CPU
affords (BUILD_NOTES.md: seeder mAP 69 -> 90 in 300 steps), with the same pools, strides and
fc layers.

Layer names follow Caffe's (conv1_1 .. conv5_3, fc6, fc7, fc8).
ImageNet initialisation: the conv layers take keras.applications.VGG16's weights (same Caffe
BGR-mean input convention, `block{b}_conv{i}` -> `conv{b}_{i}`). DeepLab-LargeFOV's fc6 (3x3,
dilation 12, 1024) and fc7 (1x1, 1024) are VGG-16's fc6 (7x7x512x4096) and fc7 (4096x4096)
decimated as DeepLab does: spatial taps 0, 3, 6 of the 7x7 kernel and every 4th channel;
GAP-DeepLab's fc6/fc7 (the same shapes) too. The other GAP nets' fc layers (undilated or 1x1 fc6,
3x3 fc7) have no VGG counterpart and keep their random initialisation; the classifier takes
VGG-16's fc6/fc7 whole.
`width` multiplies every channel count (1.0 = VGG-16); `batch_norm` inserts BatchNorm after each
trunk convolution (a CPU-preset choice for training slim nets from scratch; the paper has none).
The fc layers never get BatchNorm: it spreads their activations over every position, which
measurably blurs the class maps (tiny preset, tau 0.2: seed background recall 1.8% with BN on
fc6/fc7, 24% without).
Pooling reproduces Caffe's sizes (321 -> 161 -> 81 -> 41): 2x2/2 pools with 'same' padding
(output cell j centred on input 2j + 0.5), 3x3/2 pools padded by one pixel on every side as
DeepLab does (centred on 2j, for odd and even sizes alike); see tfguided/scoremaps.py.
"""

import keras

from tfguided.data.imageio import IMAGENET_MEAN_RGB
from tfguided.models.batch_norm import BatchNormalization
from tfguided.models.interface import Backbone, ImagenetWeights

VGG16_CHANNELS = (64, 128, 256, 512, 512)
VGG16_CONVS = (2, 2, 3, 3, 3)  # convolutions per block; the CPU presets use VGG-11's (1, 1, 2, 2, 2)
CAFFE_BGR_MEAN = tuple(reversed(IMAGENET_MEAN_RGB))


def channels(base, width):
    return max(4, int(round(base * width)))


def regularizer(weight_decay):
    """Caffe's weight decay wd adds wd * w to the gradient: an L2 penalty of wd / 2 * |w|^2."""
    return keras.regularizers.L2(weight_decay / 2) if weight_decay else None


def conv(x, filters, kernel, name, weight_decay, batch_norm, dilation=1, relu=True):
    x = keras.layers.Conv2D(filters, kernel, padding="same", dilation_rate=dilation,
                            use_bias=not batch_norm, kernel_initializer="he_normal",
                            kernel_regularizer=regularizer(weight_decay), name=name)(x)
    if batch_norm:
        x = BatchNormalization(name=name + "_bn")(x)
    return keras.layers.ReLU(name=name + "_relu")(x) if relu else x


@keras.saving.register_keras_serializable(package="tfguided")
class CaffePreprocess(keras.layers.Layer):
    """RGB float 0..255 -> BGR minus the ImageNet mean: the input convention of Caffe VGG-16."""

    def call(self, x):
        x = keras.ops.flip(keras.ops.cast(x, "float32"), axis=-1)
        return x - keras.ops.convert_to_tensor(CAFFE_BGR_MEAN, "float32")


def max_pool(x, size, stride, name):
    if size == 3:  # Caffe/DeepLab: pad 1 on every side (max pooling after ReLU: zeros never win)
        x = keras.layers.ZeroPadding2D(1, name=name + "_pad")(x)
        return keras.layers.MaxPooling2D(3, stride, padding="valid", name=name)(x)
    return keras.layers.MaxPooling2D(size, stride, padding="same", name=name)(x)


def vgg_trunk(x, width, batch_norm, weight_decay, pools, conv5_dilation=1, convs=VGG16_CONVS):
    """conv1_1 .. conv5_3 with `pools[i]` = None or (pool size, stride) after block i+1."""
    x = CaffePreprocess(name="preprocess")(x)
    for block, (repeat, base, pool) in enumerate(zip(convs, VGG16_CHANNELS, pools), 1):
        dilation = conv5_dilation if block == 5 else 1
        for i in range(1, repeat + 1):
            x = conv(x, channels(base, width), 3, f"conv{block}_{i}", weight_decay, batch_norm,
                     dilation)
        if pool is not None:
            x = max_pool(x, pool[0], pool[1], f"pool{block}")
    return x


def output_geometry(pools):
    """(stride, offset): output cell i is centred on input pixel stride * i + offset."""
    stride, offset = 1, 0.0
    for pool in pools:
        if pool is not None:
            size, step = pool
            offset += stride * ((size - 1) / 2 - (1 if size == 3 else 0))
            stride *= step
    return stride, offset


# LargeFOV's pools (DeepLab-v1): 3x3 max pools, stride 2, 2, 2, 1, 1 (then conv5 dilated by 2).
LARGEFOV_POOLS = ((3, 2), (3, 2), (3, 2), (3, 1), (3, 1))
SPATIAL_TAPS = (0, 3, 6)
CHANNEL_STEP = 4


def trunk(inputs, spec, weight_decay):
    """The VGG trunk of `spec` (TrunkSpec): its pools, or LargeFOV's at output stride 8."""
    return vgg_trunk(inputs, spec.width, spec.batch_norm, weight_decay, spec.pools or LARGEFOV_POOLS,
                     spec.conv5_dilation, spec.convs)


def geometry(spec):
    """(stride, offset) of the trunk's cells: fixed by the pools (LargeFOV: stride 8)."""
    if spec.pools is None and spec.output_stride != 8:
        raise ValueError(f"net.output_stride={spec.output_stride}: the VGG-16 LargeFOV trunk has output "
                         f"stride 8 (other strides: net.backbone=mobilenet)")
    return output_geometry(spec.pools or LARGEFOV_POOLS)


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


def imagenet_weights(init, width=1.0):
    """{our layer name: [kernel, bias]}: the convs, the classifier's fc6/fc7 (`classifier_fc6/7`)
    and the decimated ones (`fc6`, `fc7`); the 138M-parameter VGG-16 is read once."""
    vgg = load_vgg16(init)
    weights = {}
    for layer in vgg.layers:
        if layer.name.startswith("block") and "_conv" in layer.name:
            block, conv_index = layer.name[len("block"):].split("_conv")
            weights[f"conv{block}_{conv_index}"] = layer.get_weights()
    weights["classifier_fc6"] = vgg.get_layer("fc1").get_weights()
    weights["classifier_fc7"] = vgg.get_layer("fc2").get_weights()
    kernel6, b6, kernel7, b7 = decimated_fc(vgg)
    weights["fc6"], weights["fc7"] = [kernel6, b6], [kernel7, b7]
    return ImagenetWeights("vgg16", weights)


def _check_full_vgg(model):
    if getattr(model, "width", 1.0) != 1.0 or getattr(model, "batch_norm", False) or \
            tuple(getattr(model, "convs", VGG16_CONVS)) != VGG16_CONVS:
        raise ValueError(f"{model.name}: ImageNet initialisation needs VGG-16 itself: net.width=1, "
                         f"net.batch_norm=false, net.convs=2,2,3,3,3 (or net.init=random)")


def _set(layer, kernel, bias, hint):
    expected = [tuple(w.shape) for w in layer.get_weights()]
    if expected != [kernel.shape, bias.shape]:
        raise ValueError(f"{layer.name}: VGG-16 weights {kernel.shape} do not fit {expected}; {hint}")
    layer.set_weights([kernel, bias])


def initialise(model, weights):
    """The convs into a GapNet, LargeFov or VggClassifier; the decimated fc6 only into a dilated
    3x3 fc6 (LargeFOV, GAP-DeepLab: the geometry it was decimated for), the decimated fc7 only
    after it, VGG-16's own fc layers into the classifier; other fc layers start random."""
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


BACKBONE = Backbone(trunk=trunk, geometry=geometry, low_level=None,
                    imagenet_weights=imagenet_weights, initialise=initialise)
