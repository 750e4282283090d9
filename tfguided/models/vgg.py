"""The VGG-16 trunk [42] with the per-variant pooling and dilation of Table 6.

`convs` sets the convolutions per block: VGG-16's (2, 2, 3, 3, 3) for the paper; the CPU
presets use VGG-11's (1, 1, 2, 2, 2), which trains from scratch in the few hundred steps a CPU
affords (BUILD_NOTES.md: seeder mAP 69 -> 90 in 300 steps), with the same pools, strides and
fc layers.

Layer names follow Caffe's (conv1_1 .. conv5_3, fc6, fc7, fc8).
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
        x = keras.layers.BatchNormalization(name=name + "_bn")(x)
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
