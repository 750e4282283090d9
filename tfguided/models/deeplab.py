"""DeepLab-v1 LargeFOV [7]: the segmenter (§6.1) and, with two classes, the saliency network.

VGG-16 with 3x3 max pools (stride 2, 2, 2, 1, 1), conv5 dilated by 2, a 3x3 average pool, fc6
3x3 dilation 12 with 1024 channels, fc7 1x1 1024, dropout after each, fc8 1x1 -> class logits at
output stride 8 (41x41 for a 321x321 input). With backbone = mobilenet the same head sits on a
MobileNet v1 trunk dilated to `output_stride` (tfguided/models/mobilenet.py). `DeepLabV2` is the
paper's saliency net: ResNet-101 with the ASPP head (tfguided/models/resnet.py); `build` picks
the model a `NetConfig` names.
"""

import keras

from tfguided.models import mobilenet, resnet, vgg

BACKBONES = ("vgg16", "mobilenet", "resnet101")

LAST_LAYER = "fc8"
POOLS = ((3, 2), (3, 2), (3, 2), (3, 1), (3, 1))
OUTPUT_STRIDE, OUTPUT_OFFSET = vgg.output_geometry(POOLS)


@keras.saving.register_keras_serializable(package="tfguided")
class LargeFov(keras.Model):
    """Per-pixel class logits [B, ceil(H/8), ceil(W/8), num_classes] (background included)."""

    def __init__(self, num_classes=21, width=1.0, fc_units=1024, fc6_dilation=12, dropout=0.5,
                 batch_norm=False, weight_decay=5e-4, input_size=None, convs=vgg.VGG16_CONVS,
                 backbone="vgg16", output_stride=8, **kwargs):
        inputs = keras.Input((input_size, input_size, 3), name="image")
        x, geometry = backbone_trunk(inputs, backbone, output_stride, width, batch_norm,
                                     weight_decay, convs)
        x = keras.layers.AveragePooling2D(3, 1, padding="same", name="pool5a")(x)
        x = vgg.conv(x, fc_units, 3, "fc6", weight_decay, False, fc6_dilation)
        x = keras.layers.Dropout(dropout, name="drop6")(x)
        x = vgg.conv(x, fc_units, 1, "fc7", weight_decay, False)
        x = keras.layers.Dropout(dropout, name="drop7")(x)
        logits = keras.layers.Conv2D(num_classes, 1, name=LAST_LAYER, dtype="float32",  # float32 logits
                                     kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                                     kernel_regularizer=vgg.regularizer(weight_decay))(x)
        super().__init__(inputs, logits, name=kwargs.pop("name", "largefov"), **kwargs)
        self.convs, self.backbone = tuple(convs), backbone
        self.output_stride, self.output_offset = geometry
        self.num_classes, self.width, self.fc_units = num_classes, width, fc_units
        self.fc6_dilation, self.dropout, self.batch_norm = fc6_dilation, dropout, batch_norm
        self.weight_decay, self.input_size = weight_decay, input_size

    def get_config(self):
        return {"num_classes": self.num_classes, "width": self.width, "fc_units": self.fc_units,
                "fc6_dilation": self.fc6_dilation, "dropout": self.dropout,
                "batch_norm": self.batch_norm, "weight_decay": self.weight_decay,
                "input_size": self.input_size, "convs": list(self.convs),
                "backbone": self.backbone, "output_stride": self.output_stride, "name": self.name}


@keras.saving.register_keras_serializable(package="tfguided")
class DeepLabV2(keras.Model):
    """DeepLab-v2: ResNet-101 at output stride 8 and ASPP -> logits [B, ceil(H/8), ceil(W/8), C]."""

    def __init__(self, num_classes=2, weight_decay=5e-4, input_size=None, **kwargs):
        inputs = keras.Input((input_size, input_size, 3), name="image")
        x = resnet.resnet101_trunk(inputs, weight_decay)
        logits = resnet.Aspp(num_classes, weight_decay=weight_decay, name=LAST_LAYER, dtype="float32")(x)
        super().__init__(inputs, logits, name=kwargs.pop("name", "deeplab_v2"), **kwargs)
        self.backbone = "resnet101"
        self.output_stride, self.output_offset = resnet.output_geometry()
        self.num_classes, self.weight_decay, self.input_size = num_classes, weight_decay, input_size

    def get_config(self):
        return {"num_classes": self.num_classes, "weight_decay": self.weight_decay,
                "input_size": self.input_size, "name": self.name}


def build(num_classes, net, weight_decay, name):
    """The DeepLab net a `NetConfig` describes: ResNet-101 + ASPP for backbone resnet101 (its
    width, fc and batch-norm fields do not apply), else LargeFOV on VGG-16 or MobileNet."""
    if net.backbone == "resnet101":
        output_geometry(net.backbone, net.output_stride)
        return DeepLabV2(num_classes, weight_decay, net.input_size, name=name)
    return LargeFov(num_classes, net.width, net.fc_units, net.fc6_dilation, net.dropout, net.batch_norm,
                    weight_decay, net.input_size, net.convs, net.backbone, net.output_stride, name=name)


def output_geometry(backbone="vgg16", output_stride=OUTPUT_STRIDE):
    """(stride, offset) of the logits on the input (tfguided/scoremaps.py)."""
    if backbone == "mobilenet":
        return mobilenet.output_geometry(output_stride)
    if backbone == "resnet101":
        if output_stride != resnet.OUTPUT_STRIDE:
            raise ValueError(f"net.output_stride={output_stride}: DeepLab-v2 ResNet-101 has output "
                             f"stride {resnet.OUTPUT_STRIDE}")
        return resnet.output_geometry()
    if backbone != "vgg16":
        raise ValueError(f"net.backbone={backbone!r}: choose one of {BACKBONES}")
    if output_stride != OUTPUT_STRIDE:
        raise ValueError(f"net.output_stride={output_stride}: the VGG-16 LargeFOV trunk has output "
                         f"stride {OUTPUT_STRIDE} (other strides: net.backbone=mobilenet)")
    return OUTPUT_STRIDE, OUTPUT_OFFSET


def backbone_trunk(inputs, backbone, output_stride, width, batch_norm, weight_decay, convs):
    """(features, (stride, offset)): DeepLab's VGG-16 trunk (output stride 8 only) or MobileNet."""
    geometry = output_geometry(backbone, output_stride)
    if backbone == "resnet101":
        raise ValueError("net.backbone=resnet101 comes with the ASPP head (DeepLabV2), not LargeFOV's")
    if backbone == "mobilenet":
        return mobilenet.mobilenet_trunk(inputs, width, weight_decay, output_stride), geometry
    return vgg.vgg_trunk(inputs, width, batch_norm, weight_decay, POOLS, 2, convs), geometry
