"""What the networks' parts agree on, importable without Keras: the `Backbone` a trunk module
defines and its lookup by name (registry.BACKBONES), the spec a net passes its trunk, the last
layer's name, the ASPP rate arithmetic.

A backbone module defines `BACKBONE = Backbone(...)`: the trunk builder, the geometry of its
output cells, the stride-4 features a decoder head joins, and its ImageNet weights (reading
keras.applications' file, copying it into a built net). The heads (models/deeplab.py), the GAP
seeders (models/gap.py), the loss and the initialisation (models/pretrained.py) reach trunks
only through `backbone(name)`.
"""

import dataclasses

from tfguided import registry

LAST_LAYER = "fc8"  # every net's last layer: the optimiser's x10 learning rate, the CAM layer


def aspp_dilations(rates, trunk_stride):
    """An ASPP's dilations on a trunk of `trunk_stride`: DeepLab-v3+ gives `rates` at stride 16."""
    return tuple(max(1, r * 16 // trunk_stride) for r in rates)


@dataclasses.dataclass(frozen=True)
class TrunkSpec:
    """The trunk settings a net passes on: NetConfig's fields that shape a trunk, and for VGG-16
    the GAP variants' pools of Table 6 (None: DeepLab-LargeFOV's)."""
    width: float = 1.0
    batch_norm: bool = False
    convs: tuple = (2, 2, 3, 3, 3)
    output_stride: int = 8
    pools: tuple = None
    conv5_dilation: int = 2


@dataclasses.dataclass(frozen=True)
class Backbone:
    """A trunk and its ImageNet weights.

    trunk: (inputs, spec: TrunkSpec, weight_decay) -> features; keras layer names are the
      weights file's, so `initialise` can copy by name.
    geometry: spec -> (stride, offset): output cell i is centred on input pixel
      stride * i + offset (tfguided/scoremaps.py); a ValueError for a stride it cannot give.
    low_level: (layer name, (stride, offset)) of the stride-4 features a decoder joins, or None.
    imagenet_weights: (init, width) -> {layer name: weight arrays}; init is 'imagenet' (a
      keras.applications download) or the path of its .h5 file.
    initialise: (model, weights) -> model, the weights copied in place.
    """
    trunk: object
    geometry: object
    low_level: tuple = None
    imagenet_weights: object = None
    initialise: object = None


class ImagenetWeights(dict):
    """{layer name: weight arrays} read from one backbone's ImageNet file; `backbone` says whose."""

    def __init__(self, backbone_name, layers):
        super().__init__(layers)
        self.backbone = backbone_name


def backbone(name):
    """The `Backbone` registered as `name`."""
    return registry.BACKBONES.load(name)


def initialise_by_name(model, weights, backbone_name):
    """Copies every layer of `weights` ({name: arrays}) into the layer of that name, checking
    shapes: the initialisation of trunks built with their weights file's layer names."""
    names = {layer.name for layer in model.layers}
    missing = sorted(set(weights) - names)
    if missing:
        raise ValueError(f"{model.name}: {backbone_name} weights, but the model has no layers {missing[:3]}... "
                         f"(net.backbone={backbone_name} for these weights)")
    for name, values in weights.items():
        layer = model.get_layer(name)
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if expected != [v.shape for v in values]:
            raise ValueError(f"{name}: {backbone_name} weights {[v.shape for v in values]} do not fit "
                             f"{expected} (net.width, or another network's file?)")
        layer.set_weights(values)
    return model


def weights_by_name(backbone_name, net):
    """The `ImagenetWeights` of every layer with weights of a headless keras.applications net."""
    return ImagenetWeights(backbone_name, {layer.name: layer.get_weights() for layer in net.layers
                                           if layer.get_weights()})
