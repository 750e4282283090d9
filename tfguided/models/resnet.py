"""ResNet-101 dilated to output stride 8 and DeepLab-v2's ASPP head [Chen et al. 2017]: the paper's
saliency network (§6.1: "DeepLabv2-ResNet101"; `net.backbone = resnet101`).

Layers and names are keras.applications.ResNet101's (conv1_conv .. conv5_block3_out, Caffe input
convention), so its ImageNet weights load by name. As in DeepLab-v2, conv4 and conv5 do not
stride (their first 1x1 convs run at stride 1) and their 3x3 convs are dilated by 2 and 4, and
the BatchNorm layers stay frozen at their ImageNet statistics (DeepLab-v2 trains with batch 10
and never updates them). Output cell i is centred on input pixel stride * i: the 7x7 conv1 and
the 3x3 pool are padded symmetrically and the strided 1x1 convs take every other cell.

ASPP: four 3x3 convs on the conv5 features with dilations 6, 12, 18, 24, each straight to the
class logits, summed; inside one layer named `fc8` so the last-layer learning rate applies to
all four (supp. F: x10).
"""

import keras

from tfguided.models import vgg
from tfguided.models.interface import Backbone, initialise_by_name, weights_by_name

BLOCKS = (("conv2", 64, 3, 1, 1), ("conv3", 128, 4, 2, 1), ("conv4", 256, 23, 1, 2),
          ("conv5", 512, 3, 1, 4))  # (stage, bottleneck width, blocks, stride, dilation)
OUTPUT_STRIDE = 8
ASPP_RATES = (6, 12, 18, 24)
BN_EPSILON = 1.001e-5  # keras.applications' value


def _conv(x, filters, size, name, weight_decay, stride=1, dilation=1):
    return keras.layers.Conv2D(filters, size, strides=stride, dilation_rate=dilation,
                               padding="same" if size > 1 else "valid",
                               kernel_regularizer=vgg.regularizer(weight_decay), name=name)(x)


def _bn(x, name):
    bn = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=name)
    bn.trainable = False
    return bn(x)


def bottleneck(x, filters, name, weight_decay, stride=1, dilation=1, project=False):
    """keras.applications' `block1`: 1x1 (strided) -> 3x3 (dilated) -> 1x1 x4, plus the shortcut."""
    shortcut = x
    if project:
        shortcut = _bn(_conv(x, 4 * filters, 1, name + "_0_conv", weight_decay, stride), name + "_0_bn")
    x = _conv(x, filters, 1, name + "_1_conv", weight_decay, stride)
    x = keras.layers.Activation("relu", name=name + "_1_relu")(_bn(x, name + "_1_bn"))
    x = _conv(x, filters, 3, name + "_2_conv", weight_decay, dilation=dilation)
    x = keras.layers.Activation("relu", name=name + "_2_relu")(_bn(x, name + "_2_bn"))
    x = _bn(_conv(x, 4 * filters, 1, name + "_3_conv", weight_decay), name + "_3_bn")
    x = keras.layers.Add(name=name + "_add")([shortcut, x])
    return keras.layers.Activation("relu", name=name + "_out")(x)


def resnet101_trunk(x, weight_decay, dilated=True):
    """conv1 .. conv5_block3_out (RGB 0..255 in); output stride 8, or 32 with dilated=False (the
    ImageNet classifier's own trunk, for checking the weights)."""
    x = vgg.CaffePreprocess(name="preprocess")(x)
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = keras.layers.Conv2D(64, 7, strides=2, kernel_regularizer=vgg.regularizer(weight_decay),
                            name="conv1_conv")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(_bn(x, "conv1_bn"))
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, filters, blocks, stride, dilation in BLOCKS:
        if not dilated:
            stride, dilation = (1 if stage == "conv2" else 2), 1
        for block in range(1, blocks + 1):
            x = bottleneck(x, filters, f"{stage}_block{block}", weight_decay,
                           stride if block == 1 else 1, dilation, project=block == 1)
    return x


@keras.saving.register_keras_serializable(package="tfguided")
class Aspp(keras.layers.Layer):
    """Atrous spatial pyramid pooling, DeepLab-v2: sum of dilated 3x3 convs to the logits."""

    def __init__(self, num_classes, rates=ASPP_RATES, weight_decay=5e-4, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.rates, self.weight_decay = num_classes, tuple(rates), weight_decay
        self.branches = [keras.layers.Conv2D(
            num_classes, 3, padding="same", dilation_rate=rate, name=f"rate{rate}", dtype=self.dtype_policy,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
            kernel_regularizer=vgg.regularizer(weight_decay)) for rate in self.rates]

    def build(self, input_shape):
        for branch in self.branches:
            branch.build(input_shape)

    def call(self, x):
        return sum(branch(x) for branch in self.branches)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_classes,)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "rates": list(self.rates),
                "weight_decay": self.weight_decay}


def output_geometry(stride=OUTPUT_STRIDE):
    """(stride, offset) of the logits (or of any layer at `stride`) on the input image: the
    symmetric padding and the strided 1x1 convs keep every cell centred on stride * i."""
    return stride, 0.0


def load_resnet101(weights):
    """keras.applications.ResNet101 without its top, from 'imagenet' or a .h5 path."""
    return keras.applications.ResNet101(include_top=False, weights=weights, input_shape=(224, 224, 3))



def geometry(spec):
    if spec.output_stride != OUTPUT_STRIDE:
        raise ValueError(f"net.output_stride={spec.output_stride}: DeepLab-v2 ResNet-101 has output "
                         f"stride {OUTPUT_STRIDE}")
    return output_geometry()


BACKBONE = Backbone(
    trunk=lambda inputs, spec, weight_decay: resnet101_trunk(inputs, weight_decay), geometry=geometry,
    low_level=("conv2_block3_out", output_geometry(4)),
    imagenet_weights=lambda init, width: weights_by_name("resnet101", load_resnet101(init)),
    initialise=lambda model, weights: initialise_by_name(model, weights, "resnet101"))
