"""DeepLab-v1 LargeFOV [7]: the segmenter (§6.1) and, with two classes, the saliency network.

VGG-16 with 3x3 max pools (stride 2, 2, 2, 1, 1), conv5 dilated by 2, a 3x3 average pool, fc6
3x3 dilation 12 with 1024 channels, fc7 1x1 1024, dropout after each, fc8 1x1 -> class logits at
output stride 8 (41x41 for a 321x321 input). With backbone = mobilenet the same head sits on a
MobileNet v1 trunk dilated to `output_stride` (tfguided/models/mobilenet.py). `DeepLabV2` is the
paper's saliency net: ResNet-101 with the ASPP head (tfguided/models/resnet.py).
`DeepLabV3Plus` (beyond the paper) puts DeepLab-v3+'s head on any trunk with stride-4
features. Trunks come from the backbone registry (models/interface.py); `build` makes the net a
`NetConfig` names through the head registry (registry.HEADS: `build_paper_head`,
`build_v3plus_head`).
"""

import keras

from tfguided import registry
from tfguided.models import resnet, vgg
from tfguided.models.batch_norm import BatchNormalization
from tfguided.models.interface import LAST_LAYER, TrunkSpec, aspp_dilations, backbone as get_backbone
from tfguided.scoremaps import upsample_tf


def trunk_spec(width=1.0, batch_norm=False, convs=vgg.VGG16_CONVS, output_stride=8):
    """The TrunkSpec of a DeepLab net (VGG-16 with LargeFOV's pools)."""
    return TrunkSpec(width=width, batch_norm=batch_norm, convs=tuple(convs), output_stride=output_stride)


@keras.saving.register_keras_serializable(package="tfguided")
class LargeFov(keras.Model):
    """Per-pixel class logits [B, ceil(H/8), ceil(W/8), num_classes] (background included)."""

    def __init__(self, num_classes=21, width=1.0, fc_units=1024, fc6_dilation=12, dropout=0.5,
                 batch_norm=False, weight_decay=5e-4, input_size=None, convs=vgg.VGG16_CONVS,
                 backbone="vgg16", output_stride=8, **kwargs):
        if registry.BACKBONES[backbone]["paper_head"] != "largefov":
            raise ValueError(f"net.backbone={backbone} comes with the ASPP head (DeepLabV2), not LargeFOV's")
        spec = trunk_spec(width, batch_norm, convs, output_stride)
        geometry = get_backbone(backbone).geometry(spec)
        inputs = keras.Input((input_size, input_size, 3), name="image")
        x = get_backbone(backbone).trunk(inputs, spec, weight_decay)
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
    """DeepLab-v2: the trunk (ResNet-101, the paper's saliency net) at output stride 8 and ASPP
    -> logits [B, ceil(H/8), ceil(W/8), C]."""

    def __init__(self, num_classes=2, weight_decay=5e-4, input_size=None, backbone="resnet101", **kwargs):
        spec = trunk_spec()
        inputs = keras.Input((input_size, input_size, 3), name="image")
        x = get_backbone(backbone).trunk(inputs, spec, weight_decay)
        logits = resnet.Aspp(num_classes, weight_decay=weight_decay, name=LAST_LAYER, dtype="float32")(x)
        super().__init__(inputs, logits, name=kwargs.pop("name", "deeplab_v2"), **kwargs)
        self.backbone = backbone
        self.output_stride, self.output_offset = get_backbone(backbone).geometry(spec)
        self.num_classes, self.weight_decay, self.input_size = num_classes, weight_decay, input_size

    def get_config(self):
        return {"num_classes": self.num_classes, "weight_decay": self.weight_decay,
                "input_size": self.input_size, "backbone": self.backbone, "name": self.name}


# DeepLab-v3+ [Chen et al. 2018]: ASPP rates at output stride 16 (doubled at 8, halved at 32; the
# default is theirs for 513 crops, `net.aspp_rates` scales them to smaller inputs), the
# dropout after its projection, and the width of the projection of the decoder's low-level
# features (the backbone's stride-4 layer, with its cell geometry: Backbone.low_level).
V3PLUS_RATES = (6, 12, 18)
V3PLUS_DROPOUT = 0.1
LOW_LEVEL_UNITS = 48


@keras.saving.register_keras_serializable(package="tfguided")
class GridResample(keras.layers.Layer):
    """[B, h, w, C] cells -> the grid of a finer [B, H, W, *] reference, bilinear with the exact
    geometry: fine cell j reads coarse coordinate (j - offset) / stride (tfguided/scoremaps.py)."""

    def __init__(self, stride, offset, **kwargs):
        super().__init__(**kwargs)
        self.stride, self.offset = float(stride), float(offset)

    def call(self, x, reference):
        return upsample_tf(x, keras.ops.shape(reference)[1:3], self.stride, self.offset)

    def compute_output_shape(self, x_shape, reference_shape):
        return tuple(reference_shape[:3]) + (x_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "stride": self.stride, "offset": self.offset}


@keras.saving.register_keras_serializable(package="tfguided")
class BroadcastLike(keras.layers.Layer):
    """[B, 1, 1, C] -> [B, H, W, C] of a reference: the image-pooling branch spread over the grid."""

    def call(self, x, reference):
        return x + keras.ops.zeros_like(reference[..., :1], dtype=x.dtype)

    def compute_output_shape(self, x_shape, reference_shape):
        return tuple(reference_shape[:3]) + (x_shape[-1],)


def _conv_bn_relu(x, units, size, name, weight_decay, dilation=1):
    x = keras.layers.Conv2D(units, size, padding="same", dilation_rate=dilation, use_bias=False,
                            kernel_regularizer=vgg.regularizer(weight_decay), name=name)(x)
    return keras.layers.ReLU(name=name + "_relu")(BatchNormalization(name=name + "_bn")(x))


@keras.saving.register_keras_serializable(package="tfguided")
class DeepLabV3Plus(keras.Model):
    """DeepLab-v3+: the trunk at `trunk_stride`, ASPP (a 1x1 conv, three dilated 3x3 convs and
    image pooling, `head_units` wide, projected by a 1x1 conv), then the decoder: the ASPP
    output resampled onto the stride-4 low-level features with both grids' geometry, joined
    with their 48-channel projection, two 3x3 convs and fc8 -> logits at stride 4
    (`output_stride`, `output_offset`: the logits' geometry, as on every net here)."""

    def __init__(self, num_classes=21, backbone="mobilenet", trunk_stride=16, width=1.0, head_units=256,
                 dropout=V3PLUS_DROPOUT, weight_decay=5e-4, input_size=None, aspp_rates=V3PLUS_RATES, **kwargs):
        trunk = get_backbone(backbone)
        if trunk.low_level is None:
            raise ValueError(f"net.head=deeplab_v3plus: net.backbone={backbone} has no stride-4 features "
                             f"for its decoder; choose one of {', '.join(registry.BACKBONES.where(decoder=True))}")
        spec = trunk_spec(width, True, output_stride=trunk_stride)
        low_layer, (low_stride, low_offset) = trunk.low_level
        trunk_geometry = trunk.geometry(spec)
        inputs = keras.Input((input_size, input_size, 3), name="image")
        x = trunk.trunk(inputs, spec, weight_decay)
        low = keras.Model(inputs, x).get_layer(low_layer).output
        rates = aspp_dilations(aspp_rates, trunk_stride)
        pooled = keras.layers.GlobalAveragePooling2D(keepdims=True, name="aspp_pool")(x)
        branches = [_conv_bn_relu(x, head_units, 1, "aspp_1x1", weight_decay)]
        branches += [_conv_bn_relu(x, head_units, 3, f"aspp_rate{r}", weight_decay, r) for r in rates]
        branches.append(BroadcastLike(name="aspp_pool_spread")(
            _conv_bn_relu(pooled, head_units, 1, "aspp_pool_conv", weight_decay), x))
        x = keras.layers.Concatenate(name="aspp_concat")(branches)
        x = _conv_bn_relu(x, head_units, 1, "aspp_project", weight_decay)
        x = keras.layers.Dropout(dropout, name="aspp_drop")(x)
        x = GridResample(trunk_geometry[0] / low_stride, (trunk_geometry[1] - low_offset) / low_stride,
                         name="decoder_upsample")(x, low)
        low = _conv_bn_relu(low, LOW_LEVEL_UNITS, 1, "decoder_low", weight_decay)
        x = keras.layers.Concatenate(name="decoder_concat")([x, low])
        x = _conv_bn_relu(x, head_units, 3, "decoder_conv1", weight_decay)
        x = _conv_bn_relu(x, head_units, 3, "decoder_conv2", weight_decay)
        logits = keras.layers.Conv2D(num_classes, 1, name=LAST_LAYER, dtype="float32",
                                     kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                                     kernel_regularizer=vgg.regularizer(weight_decay))(x)
        super().__init__(inputs, logits, name=kwargs.pop("name", "deeplab_v3plus"), **kwargs)
        self.backbone, self.head = backbone, "deeplab_v3plus"
        self.output_stride, self.output_offset = low_stride, low_offset
        self.trunk_stride = trunk_stride
        self.num_classes, self.width, self.head_units, self.dropout = num_classes, width, head_units, dropout
        self.weight_decay, self.input_size, self.aspp_rates = weight_decay, input_size, tuple(aspp_rates)

    def get_config(self):
        return {"num_classes": self.num_classes, "backbone": self.backbone, "trunk_stride": self.trunk_stride,
                "width": self.width, "head_units": self.head_units, "dropout": self.dropout,
                "weight_decay": self.weight_decay, "input_size": self.input_size,
                "aspp_rates": list(self.aspp_rates), "name": self.name}


def net_spec(net):
    """The TrunkSpec of a `NetConfig`."""
    return trunk_spec(net.width, net.batch_norm, net.convs, net.output_stride)


def build_paper_head(num_classes, net, weight_decay, name):
    """The paper's DeepLab net on `net.backbone`: LargeFOV, or DeepLab-v2's ASPP where the
    backbone registry says its paper head is that (resnet101: width, fc, dropout, batch-norm
    fields do not apply)."""
    if registry.BACKBONES[net.backbone]["paper_head"] == "aspp":
        return DeepLabV2(num_classes, weight_decay, net.input_size, net.backbone, name=name)
    return LargeFov(num_classes, net.width, net.fc_units, net.fc6_dilation, net.dropout, net.batch_norm,
                    weight_decay, net.input_size, net.convs, net.backbone, net.output_stride, name=name)


def build_v3plus_head(num_classes, net, weight_decay, name):
    """DeepLab-v3+ on `net.backbone` (head_units wide; fc_*, dropout do not apply)."""
    return DeepLabV3Plus(num_classes, net.backbone, net.output_stride, net.width, net.head_units,
                         V3PLUS_DROPOUT, weight_decay, net.input_size, net.aspp_rates, name=name)


def build(num_classes, net, weight_decay, name):
    """The DeepLab net a `NetConfig` describes (`net.head` from registry.HEADS on `net.backbone`)."""
    return registry.HEADS.load(net.head)(num_classes, net, weight_decay, name)


def output_geometry(net):
    """(stride, offset) of a `NetConfig`'s logits on the input (tfguided/scoremaps.py): the
    trunk's, or for a decoder head the backbone's stride-4 features'."""
    trunk = get_backbone(net.backbone)
    if registry.HEADS[net.head]["decoder"]:
        if trunk.low_level is None:
            raise ValueError(f"net.head={net.head}: net.backbone={net.backbone} has no stride-4 features")
        trunk.geometry(net_spec(net))
        return trunk.low_level[1]
    return trunk.geometry(net_spec(net))
