"""ImageNet initialisation (§6.1: "ImageNet pretrained models for initialisation"), for any
registered backbone (registry.BACKBONES, models/interface.py).

`net.init`: "random" (the CPU presets), "imagenet" (keras.applications downloads the file once),
or the path of the backbone's keras.applications .h5 file (`--init_weights=PATH`, no network
needed). What is copied where is the backbone's business: VGG-16 decimates its fc layers for
DeepLab (models/vgg.py), MobileNet and ResNet-101 copy their trunk layer by layer; heads start
random.
"""

from tfguided import registry
from tfguided.models.interface import backbone


def file_backbone(path):
    """The registered backbone whose ImageNet file `path` is (by the layer names in it: each
    backbone's `weights_layers`, and none of its `weights_not_layers`)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            names = set(f.keys()) | set(f["model_weights"].keys() if "model_weights" in f else ())
    except OSError as e:
        raise FileNotFoundError(f"--init_weights={path}: not a readable .h5 file ({e})") from e
    for name in registry.BACKBONES.names():
        entry = registry.BACKBONES[name]
        if entry.get("weights_layers") and set(entry["weights_layers"]) <= names \
                and not set(entry.get("weights_not_layers", ())) & names:
            return name
    known = ", ".join(f"{n} ({registry.BACKBONES[n]['weights_layers'][0]})"
                      for n in registry.BACKBONES.names() if registry.BACKBONES[n].get("weights_layers"))
    raise ValueError(f"--init_weights={path}: the layers of no known backbone are in it: {known}")


def imagenet_weights(init, backbone_name="vgg16", width=1.0):
    """None for init='random', else the backbone's `ImagenetWeights` read from 'imagenet' or a
    .h5 path (at alpha `width` for MobileNet). Called outside any distribution scope, so a large
    keras.applications net is built once, not per replica."""
    if init == "random":
        return None
    reader = backbone(backbone_name).imagenet_weights
    if reader is None:
        raise ValueError(f"net.backbone={backbone_name} has no ImageNet weights; use net.init=random")
    return reader(init, width)


def initialise(model, weights):
    """Copies `imagenet_weights(...)` into `model` in place, refusing another backbone's file."""
    if weights is None:
        return model
    model_backbone = getattr(model, "backbone", "vgg16")
    if weights.backbone != model_backbone:
        raise ValueError(f"{model.name}: {weights.backbone} ImageNet weights for a net with "
                         f"net.backbone={model_backbone}; give its own file, or net.backbone={weights.backbone} "
                         f"for these weights")
    return backbone(model_backbone).initialise(model, weights)
