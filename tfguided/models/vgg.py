"""The VGG-16 trunk [42] with the per-variant pooling and dilation of Table 6.

Layer names follow Caffe's (conv1_1 .. conv5_3, fc6, fc7, fc8) so ImageNet weights map by name.
`width` multiplies every channel count (1.0 = VGG-16); `batch_norm` inserts BatchNorm after each
trunk convolution (a CPU-preset choice for training slim nets from scratch; the paper has none).
The fc layers never get BatchNorm: it spreads their activations over every position, which
measurably blurs the class maps (tiny preset, tau 0.2: seed background recall 1.8% with BN on
fc6/fc7, 24% without).
Pooling uses 'same' padding, which reproduces Caffe's ceil-mode sizes (321 -> 161 -> 81 -> 41).
"""

import keras

VGG16_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


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


def vgg16_trunk(x, width, batch_norm, weight_decay, pools, conv5_dilation=1):
    """conv1_1 .. conv5_3 with `pools[i]` = None or (pool size, stride) after block i+1."""
    x = CaffePreprocess(name="preprocess")(x)
    for block, ((repeat, base), pool) in enumerate(zip(VGG16_BLOCKS, pools), 1):
        dilation = conv5_dilation if block == 5 else 1
        for i in range(1, repeat + 1):
            x = conv(x, channels(base, width), 3, f"conv{block}_{i}", weight_decay, batch_norm,
                     dilation)
        if pool is not None:
            x = keras.layers.MaxPooling2D(pool[0], pool[1], padding="same", name=f"pool{block}")(x)
    return x
