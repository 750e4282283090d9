"""GAP seeders (§4.1, Table 6, supp. B): fully convolutional VGG-16 variants with global average pooling.

The class maps ("CAMs") are fc8 applied at every position of the last feature map; the logits are
their spatial mean. This is GAP-then-fc8 of Table 6 with the two linear steps swapped, which
supp. B.1 notes is the same function; it makes the class maps a layer output (`fc8`).

The variants' layers are their entries in registry.SEEDERS:

    arch          pools after blocks 1..5             conv5 dil   fc6              fc7        out @321
    gap_lowres    2x2/2, 2x2/2, 2x2/2, 2x2/2, -       1           3x3 1024         -          21x21
    gap_highres   2x2/2, 2x2/2, 2x2/2, -, -           1           3x3 1024         3x3 1024   41x41
    gap_roi       2x2/2, 2x2/2, 2x2/2, -, ROI 3x3     1           1x1 1024         1x1 1024   41x41
    gap_deeplab   3x3/2, 3x3/2, 3x3/2, 3x3/1, -       2           3x3 d12 1024     1x1 1024   41x41
GAP-DeepLab's pool3 has stride 2 here, as in DeepLab-LargeFOV: Table 6 prints stride 1, which
contradicts its own 41x41 output (see BUILD_NOTES.md).
GAP-ROI (supp. B) replaces GAP-HighRes's sliding 3x3 fc6/fc7 by ROI pooling of every 3x3 window of
conv5 into one bin, then 1x1 fc6/fc7: a max over each 3x3 window is a 3x3 stride-1 max pool
(padded like Caffe's), so ROI pooling over the dense grid of windows is that pool.
On another backbone (registry.BACKBONES without `gap_pools`, e.g. MobileNet), GAP-HighRes's and
GAP-LowRes's fc head sits on its trunk at `output_stride` (the other two differ from them only
inside the VGG trunk).
"""

import keras

from tfguided import registry
from tfguided.models import vgg
from tfguided.models.interface import LAST_LAYER, TrunkSpec, backbone as get_backbone

CAM_LAYER = LAST_LAYER


@keras.saving.register_keras_serializable(package="tfguided")
class GapNet(keras.Model):
    """Multi-label classifier whose `fc8` layer output [B, h, w, K] holds the class maps."""

    def __init__(self, arch="gap_highres", num_classes=20, width=1.0, fc_units=1024,
                 batch_norm=False, weight_decay=5e-4, input_size=None, convs=vgg.VGG16_CONVS,
                 backbone="vgg16", output_stride=8, **kwargs):
        if arch not in registry.SEEDERS.where(kind="gap"):
            raise ValueError(f"unknown GAP architecture {arch!r}; choose one of "
                             f"{', '.join(registry.SEEDERS.where(kind='gap'))}")
        spec = registry.SEEDERS[arch].info
        gap_pools = registry.BACKBONES[backbone]["gap_pools"]
        if not gap_pools and not spec["any_trunk"]:
            raise ValueError(f"{arch} is defined by its VGG-16 pools; with net.backbone={backbone} "
                             f"use one of {', '.join(registry.SEEDERS.where(kind='gap', any_trunk=True))}")
        trunk_spec = TrunkSpec(width=width, batch_norm=batch_norm, convs=tuple(convs), output_stride=output_stride,
                               pools=spec["pools"] if gap_pools else None, conv5_dilation=spec["conv5_dilation"])
        geometry = get_backbone(backbone).geometry(trunk_spec)
        output_stride = geometry[0]
        inputs = keras.Input((input_size, input_size, 3), name="image")
        x = get_backbone(backbone).trunk(inputs, trunk_spec, weight_decay)
        for name in ("fc6", "fc7"):
            if spec[name] is not None:
                kernel, dilation = spec[name]
                x = vgg.conv(x, fc_units, kernel, name, weight_decay, False, dilation)
        cams = keras.layers.Conv2D(num_classes, 1, name=CAM_LAYER, dtype="float32",  # mixed precision:
                                   kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                                   kernel_regularizer=vgg.regularizer(weight_decay))(x)  # float32 logits
        logits = keras.layers.GlobalAveragePooling2D(name="gap", dtype="float32")(cams)
        super().__init__(inputs, logits, name=kwargs.pop("name", arch), **kwargs)
        self.convs, self.backbone = tuple(convs), backbone
        self.output_stride, self.output_offset = geometry
        self.arch, self.num_classes, self.width, self.fc_units = arch, num_classes, width, fc_units
        self.batch_norm, self.weight_decay, self.input_size = batch_norm, weight_decay, input_size

    def get_config(self):
        return {"arch": self.arch, "num_classes": self.num_classes, "width": self.width,
                "fc_units": self.fc_units, "batch_norm": self.batch_norm,
                "weight_decay": self.weight_decay, "input_size": self.input_size,
                "convs": list(self.convs), "backbone": self.backbone,
                "output_stride": self.output_stride, "name": self.name}

    def cam_model(self, any_size=False):
        """A model sharing these weights that returns the class maps [B, h, w, K]; with
        `any_size`, a copy of the weights in a net that takes any input size (test-time scales).

        The maps are fc8's weighted sums without its bias, as CAM [54] defines them: a bias
        shifts a whole map, and after division by the map's max it would decide the seed area.
        """
        if any_size and self.input_size is not None:
            free = GapNet(**{**self.get_config(), "input_size": None})
            free.set_weights(self.get_weights())
            return free.cam_model()
        fc8 = self.get_layer(CAM_LAYER)
        maps = keras.layers.Lambda(lambda x: x - fc8.bias, name="cam")(fc8.output)
        return keras.Model(self.input, maps)
