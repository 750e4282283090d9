"""The MobileNet v1 trunk [Howard et al. 2017], dilated to an output stride, for CPU-sized nets on
real photos (the `voc_mini` and `voc_animals` presets, `net.backbone = mobilenet`).

Layers, names and arithmetic are keras.applications.MobileNet's (conv1, conv_dw_1 .. conv_pw_13,
BatchNorm, ReLU6), so its ImageNet weights load by name; `width` is its alpha. For an output
stride below 32 the later stride-2 depthwise convs run at stride 1 and every depthwise conv after
them is dilated by the stride skipped, as TF-slim's mobilenet_v1 does for DeepLab: the layer that
would have strided keeps the current rate, the ones after it double it.

Every stride-2 conv pads one pixel at the bottom and right (keras.applications pads the depthwise
ones so; its conv1 pads 'same', identical on even sizes), so output cell i is centred on input
pixel stride * i + stride - 1 for any input size (`output_geometry`).
"""

import keras

from tfguided.models import vgg
from tfguided.models.batch_norm import BatchNormalization
from tfguided.models.interface import Backbone, initialise_by_name, weights_by_name

# (pointwise filters at alpha 1, depthwise stride) of blocks 1..13; conv1: 32 filters, stride 2.
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1),
          (512, 1), (512, 1), (1024, 2), (1024, 1))
OUTPUT_STRIDES = (8, 16, 32)


@keras.saving.register_keras_serializable(package="tfguided")
class MobileNetPreprocess(keras.layers.Layer):
    """RGB float 0..255 -> [-1, 1]: keras.applications.mobilenet.preprocess_input."""

    def call(self, x):
        return keras.ops.cast(x, "float32") / 127.5 - 1.0


def output_geometry(output_stride):
    """(stride, offset) of the trunk's output cells on the input image."""
    check_output_stride(output_stride)
    return cell_geometry(output_stride)


def cell_geometry(stride):
    """(stride, offset) of the cells of any layer at `stride` (a power of 2): each stride-2 conv
    pads after, so cell i is centred on pixel stride * i + stride - 1."""
    return stride, float(stride - 1)


def check_output_stride(output_stride):
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(f"MobileNet output stride {output_stride}: choose one of {OUTPUT_STRIDES}")


def _bn_relu6(x, name):
    x = BatchNormalization(name=name + "_bn")(x)
    return keras.layers.ReLU(6.0, name=name + "_relu")(x)


def mobilenet_trunk(x, width, weight_decay, output_stride=8):
    """conv1 .. conv_pw_13 (RGB 0..255 in). Weight decay on the full and pointwise kernels, none
    on the depthwise ones (TF-slim's `regularize_depthwise=False`)."""
    check_output_stride(output_stride)
    x = MobileNetPreprocess(name="preprocess")(x)
    x = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name="conv1_pad")(x)
    x = keras.layers.Conv2D(int(32 * width), 3, strides=2, padding="valid", use_bias=False,
                            kernel_regularizer=vgg.regularizer(weight_decay), name="conv1")(x)
    x = _bn_relu6(x, "conv1")
    stride, rate = 2, 1
    for block, (filters, block_stride) in enumerate(BLOCKS, 1):
        layer_rate = rate
        if block_stride == 2 and stride == output_stride:
            block_stride, rate = 1, rate * 2
        elif block_stride == 2:
            stride *= 2
        if block_stride == 2:
            x = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block}")(x)
        x = keras.layers.DepthwiseConv2D(3, strides=block_stride, dilation_rate=layer_rate,
                                         padding="valid" if block_stride == 2 else "same",
                                         use_bias=False, name=f"conv_dw_{block}")(x)
        x = _bn_relu6(x, f"conv_dw_{block}")
        x = keras.layers.Conv2D(int(filters * width), 1, use_bias=False,
                                kernel_regularizer=vgg.regularizer(weight_decay),
                                name=f"conv_pw_{block}")(x)
        x = _bn_relu6(x, f"conv_pw_{block}")
    return x


def load_mobilenet(width, weights):
    """keras.applications.MobileNet without its top at 224 px, from 'imagenet' or a .h5 path."""
    return keras.applications.MobileNet(input_shape=(224, 224, 3), alpha=width, include_top=False,
                                        weights=weights)



LOW_LEVEL_STRIDE = 4  # the decoder's features: conv_pw_3, after the second stride-2 conv


def trunk(inputs, spec, weight_decay):
    return mobilenet_trunk(inputs, spec.width, weight_decay, spec.output_stride)


BACKBONE = Backbone(
    trunk=trunk, geometry=lambda spec: output_geometry(spec.output_stride),
    low_level=("conv_pw_3_relu", cell_geometry(LOW_LEVEL_STRIDE)),
    imagenet_weights=lambda init, width: weights_by_name("mobilenet", load_mobilenet(width, init)),
    initialise=lambda model, weights: initialise_by_name(model, weights, "mobilenet"))
