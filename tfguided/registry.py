"""The extension points: one name -> entry table each for backbones, heads, seeders, guide
labellers, saliency methods and data sources.

Modelled on TF Model Garden's `register_backbone_builder` (a name maps to a builder, registered
by one line) with big_vision's dispatch by module name: an entry's target is a
"module:attribute" string imported on first use, and the facts other code checks before that
(which classes a guide labeller needs, the strides a backbone offers, the roles a data source
fills) are plain keyword values of the entry. Listing names, validating a config or writing
`--help` therefore imports no TensorFlow.

Everything that offers a choice reads these tables: the command lines' flags and help texts,
`configs.validate`, the dry run, the benches, README's list. A new backbone, head, labeller,
saliency method or data format is one new file and one `register` line: here for the
package's own, or in a module of one's own named in $TFGUIDED_EXTENSIONS (comma-separated
module names, imported before the first look-up; README.md "Extending").
"""

import dataclasses
import importlib
import os

EXTENSIONS_VARIABLE = "TFGUIDED_EXTENSIONS"
_extensions_loaded = []


@dataclasses.dataclass(frozen=True)
class Entry:
    """One registered choice: its name, the "module:attribute" it stands for, a one-line
    description and the facts other code reads without importing the target."""
    name: str
    target: str
    doc: str
    info: dict

    def load(self):
        """The registered object (the module is imported now, the first time)."""
        module, _, attribute = self.target.partition(":")
        try:
            return getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as e:
            raise ImportError(f"{self.name}: cannot load {self.target} ({e})") from e

    def __getitem__(self, key):
        return self.info[key]

    def get(self, key, default=None):
        return self.info.get(key, default)


class Registry:
    """A name -> `Entry` table of one kind of extension, e.g. `BACKBONES`."""

    def __init__(self, kind, setting):
        self.kind, self.setting, self._entries = kind, setting, {}

    def register(self, name, target, doc, **info):
        """Adds `name` (refused if taken: two extensions must not shadow each other).

        Args:
          name: the value a user gives (`--guide=NAME`, `net.backbone=NAME`, ...).
          target: "module:attribute" of the object that implements it.
          doc: one line for `--help` and README.
          **info: the facts other code reads without importing `target` (per registry below).
        Returns:
          The new `Entry`.
        """
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered already ({self._entries[name].target})")
        if ":" not in target:
            raise ValueError(f"{self.kind} {name!r}: target {target!r} is not 'module:attribute'")
        self._entries[name] = Entry(name, target, doc, info)
        return self._entries[name]

    def names(self):
        """The registered names, in registration order (extensions loaded first)."""
        load_extensions()
        return tuple(self._entries)

    def __contains__(self, name):
        return name in self.names()

    def __getitem__(self, name):
        """The `Entry` called `name`, or a ValueError that names the setting and the choices."""
        if name not in self.names():
            raise ValueError(f"{self.setting}={name!r}: unknown {self.kind}; choose one of "
                             f"{', '.join(self.names())}")
        return self._entries[name]

    def load(self, name):
        """The object registered as `name` (imported now)."""
        return self[name].load()

    def where(self, **facts):
        """The names whose entries have these `info` values, e.g. GUIDES.where(in_tf_data=True)."""
        return tuple(n for n in self.names() if all(self._entries[n].get(k) == v for k, v in facts.items()))

    def help(self):
        """'name: doc; name: doc ...', for a flag's help text."""
        return "; ".join(f"{n} = {self._entries[n].doc}" for n in self.names())


def load_extensions():
    """Imports the modules named in $TFGUIDED_EXTENSIONS once, so their `register` lines run."""
    if _extensions_loaded:
        return
    _extensions_loaded.append(True)
    for module in filter(None, (m.strip() for m in os.environ.get(EXTENSIONS_VARIABLE, "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ImportError(f"${EXTENSIONS_VARIABLE}: cannot import {module!r} ({e})") from e


# Backbones: the trunk under every network (a models.interface.Backbone). info: output_strides
# (those it can give), decoder (stride-4 features a decoder head can join), paper_head (the head
# the paper puts on it: largefov or aspp), weights_layers / weights_not_layers (layer names its
# keras.applications ImageNet .h5 file holds / does not hold: how --init_weights recognises it),
# gap_pools (the GAP seeders' pooling variants of Table 6 apply to it).
BACKBONES = Registry("backbone", "net.backbone")
BACKBONES.register("vgg16", "tfguided.models.vgg:BACKBONE", "VGG-16, the paper's (Table 6, DeepLab-LargeFOV)",
                   output_strides=(8,), decoder=False, paper_head="largefov", weights_layers=("block1_conv1",),
                   gap_pools=True)
BACKBONES.register("mobilenet", "tfguided.models.mobilenet:BACKBONE",
                   "MobileNet v1, alpha = net.width, dilated to net.output_stride (CPU-sized real-photo presets)",
                   output_strides=(8, 16, 32), decoder=True, paper_head="largefov", weights_layers=("conv_pw_1",),
                   gap_pools=False)
BACKBONES.register("resnet101", "tfguided.models.resnet:BACKBONE",
                   "ResNet-101 dilated to stride 8, frozen BatchNorm (the paper's saliency net, DeepLab-v2)",
                   output_strides=(8,), decoder=True, paper_head="aspp", weights_layers=("conv4_block23_out",),
                   weights_not_layers=("conv4_block24_out",),
                   gap_pools=False)

# Heads: what turns a trunk's features into a DeepLab net's logits. info: decoder (needs the
# backbone's stride-4 features).
HEADS = Registry("head", "net.head")
HEADS.register("paper", "tfguided.models.deeplab:build_paper_head",
               "the paper's: LargeFOV (fc6 dilated, fc7, fc8), or DeepLab-v2's ASPP on resnet101", decoder=False)
HEADS.register("deeplab_v3plus", "tfguided.models.deeplab:build_v3plus_head",
               "DeepLab-v3+: ASPP with image pooling and a stride-4 decoder (beyond the paper)", decoder=True)

# Seeders (§4, Table 1): what localises each labelled class. info: kind (gap = a GAP net of
# Table 6 trained by the seeder stage, whose class maps give the seeds of every guide; backprop
# = a saliency backprop method on the classifier; baseline = no network), for --stage=seed_eval
# alone unless kind is gap.
SEEDERS = Registry("seeder", "--seeder")
# The GAP nets' layers (models/gap.py): pools after blocks 1..5 ((size, stride) or None), conv5's
# dilation, fc6 and fc7 ((kernel, dilation) or None); any_trunk: defined by its fc head alone, so
# it also sits on backbones without the VGG pools.
SEEDERS.register("gap_lowres", "tfguided.models.gap:GapNet", "GAP-LowRes: 4 pools, 21x21 maps at 321",
                 kind="gap", pools=((2, 2), (2, 2), (2, 2), (2, 2), None), conv5_dilation=1, fc6=(3, 1), fc7=None,
                 any_trunk=True)
SEEDERS.register("gap_highres", "tfguided.models.gap:GapNet", "GAP-HighRes: 3 pools, 41x41 maps (the paper's)",
                 kind="gap", pools=((2, 2), (2, 2), (2, 2), None, None), conv5_dilation=1, fc6=(3, 1), fc7=(3, 1),
                 any_trunk=True)
SEEDERS.register("gap_roi", "tfguided.models.gap:GapNet", "GAP-ROI: 3x3 ROI pooling, then 1x1 fc6/fc7",
                 kind="gap", pools=((2, 2), (2, 2), (2, 2), None, (3, 1)), conv5_dilation=1, fc6=(1, 1),
                 fc7=(1, 1), any_trunk=False)
SEEDERS.register("gap_deeplab", "tfguided.models.gap:GapNet", "GAP-DeepLab: LargeFOV's pools and dilations",
                 kind="gap", pools=((3, 2), (3, 2), (3, 2), (3, 1), None), conv5_dilation=2, fc6=(3, 12),
                 fc7=(1, 1), any_trunk=False)
for _method in ("vanilla", "guided", "excitation"):
    SEEDERS.register(_method, "tfguided.seeds.backprop:signals", f"{_method} backprop on the classifier",
                     kind="backprop")
SEEDERS.register("mean_shape", "tfguided.seeds.mean_shape:MeanShape", "the centre mean shape (no image content)",
                 kind="baseline")

# Guide labellers (§5): per image, (image, labels, seeds, foreground, guide section, id, score
# function) -> guide labels. info: needs (what the labeller reads: seeder = the CAM seeds,
# saliency = the saliency foreground, classifier = a classifier score function, masks = the
# ground-truth foreground, the oracle's), in_tf_data (can run inside tf.data through
# tfguided/guide/dataset.py: no classifier, no ground truth).
GUIDES = Registry("guide labeller", "--guide")
GUIDES.register("seeds", "tfguided.guide.label:seeds_only", "CAM seeds only (Table 2, row 1)",
                needs=("seeder",), in_tf_data=True)
GUIDES.register("g0", "tfguided.guide.g0:label", "saliency foreground with a random image label",
                needs=("saliency",), in_tf_data=True)
GUIDES.register("g1", "tfguided.guide.g1:label", "each salient component labelled by the classifier",
                needs=("saliency", "classifier"), in_tf_data=False)
GUIDES.register("g2", "tfguided.guide.g2:label", "seeds propagated in the saliency (the paper's)",
                needs=("seeder", "saliency"), in_tf_data=True)
GUIDES.register("oracle", "tfguided.guide.g2:label", "G2 with the ground-truth foreground as saliency",
                needs=("seeder", "masks"), in_tf_data=False)
GROUND_TRUTH = "gt"  # --guide=gt: no labeller, the segmenter trains on the masks (full supervision)

# Saliency methods: where the guide's saliency comes from. The target is an object with
# `run(ctx, out_dir)` (the saliency stage) and `batch_saliency(ctx)` (the guide stage's per-image
# saliency). info: trains (a network, with the saliency set: the paper's), saliency_set (reads the
# converted saliency set).
SALIENCY = Registry("saliency method", "--saliency")
SALIENCY.register("net", "tfguided.stages.saliency:NET",
                  "the DeepLab saliency net trained on GrabCut masks of boxes (the paper's)",
                  trains=True, saliency_set=True)
SALIENCY.register("pretrained", "tfguided.stages.saliency:PRETRAINED",
                  "the class-agnostic saliency net shipped with the package (trained on boxes of non-animal "
                  "VOC photos), or saliency.weights: no training, no saliency data", trains=False, saliency_set=False)
SALIENCY.register("mbd", "tfguided.stages.saliency:MBD",
                  "hand-crafted Minimum Barrier Distance saliency (MB+), no training and no saliency data",
                  trains=False, saliency_set=False)

# Data sources: a format the converters read (`python -m tfrecords_tools NAME`). The target is a
# `tfrecords_tools.source.Source`: the command line's flags and conversion, and the data stage's
# conversion from data.<role>_source / <role>_root. info: reads_root (False: data.<role>_root is
# not read, so setting it is refused). info: roles (the sets it can fill: target = photos and image
# labels, masks optional; saliency = photos of non-target classes with boxes).
SOURCES = Registry("data source", "python -m tfrecords_tools")
SOURCES.register("synthetic", "tfrecords_tools.synthetic:SOURCE",
                 "the embedded demo: procedural shapes in VOC and MSRA layout", roles=("target", "saliency"),
                 reads_root=False)
SOURCES.register("voc", "tfrecords_tools.voc:SOURCE",
                 "a PASCAL VOC2012 folder (+ SBD for train_aug): photos, masks, image labels",
                 roles=("target",))
SOURCES.register("folder", "tfrecords_tools.folder:SOURCE",
                 "a folder of photos and a CSV of their class names (or class subfolders)", roles=("target",))
SOURCES.register("coco", "tfrecords_tools.coco:SOURCE",
                 "COCO instance annotations: labels from categories, masks from polygons and RLE (+ a saliency "
                 "set of the non-target photos' largest boxes)", roles=("target", "saliency"))
SOURCES.register("boxes", "tfrecords_tools.boxes:SOURCE", "a CSV of one box per photo (image,x0,y0,x1,y1) -> "
                 "GrabCut saliency targets", roles=("saliency",))
SOURCES.register("msra", "tfrecords_tools.msra:SOURCE",
                 "an MSRA-B style saliency folder: photos and annotators' boxes -> GrabCut masks",
                 roles=("saliency",))
