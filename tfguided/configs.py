"""Configuration: one dataclass per stage with the paper's defaults, and named presets.

The dataclass defaults are the paper's numbers (DESIGN.md §4, supp. B, C, E, F). A preset
overrides fields for a machine size: `demo` (CPU, minutes) and `tiny` (tests, seconds) shrink
images and widths; `--override=section.field=value` on the command line overrides any field.

    python train_main.py --stage=segmenter                    # preset demo: the embedded demo
    python train_main.py --stage=segmenter --preset=tiny      # about a minute; what the tests run
"""

import copy
import dataclasses
import json
import os

from tfguided.crf import CRF_PARAMS
from tfguided.guide.label import STRATEGIES
from tfguided.guide.regions import UNDECIDED
from tfguided.inference import tta_views
from tfguided.models.deeplab import BACKBONES, HEADS, aspp_dilations, output_geometry
from tfguided.models.gap import ARCHS
from tfguided.seeds.backprop import METHODS as BACKPROP_METHODS
from tfguided.train.loop import PRECISIONS
from tfguided.train.optim import OPTIMIZERS



@dataclasses.dataclass
class SyntheticConfig:
    """Size of the generated demo dataset (tfguided/sources/synthetic.py)."""
    image_size: int = 128
    num_classes: int = 6
    train: int = 1000
    val: int = 250
    saliency: int = 600
    annotators: int = 5
    max_objects: int = 3


@dataclasses.dataclass
class DataConfig:
    synthetic: SyntheticConfig = dataclasses.field(default_factory=SyntheticConfig)
    rng_seed: int = 0            # the synthetic demo data's generator
    examples_per_shard: int = 500
    grabcut_iterations: int = 5  # MSRA boxes -> GrabCut targets (§6.1)
    train_split: str = "train_aug"  # §6.1: VOC train + SBD, 10,582 images
    eval_split: str = "val"
    voc_root: str = ""             # no --data_dir: convert this VOC2012 folder ("" = the demo data)
    labels_tsv: str = ""           # its image labels ("" = the converter's default)
    msra_root: str = ""            # with voc_root: the saliency set to convert (MSRA layout: Image/,
                                   # labels.txt), boxes -> GrabCut masks (§6.1)
    classes: str = ""              # a class subset of voc_root's classes, e.g. "cat,cow,dog,horse,sheep"
                                   # (labels 1..K in this order, others background; "" = all)


@dataclasses.dataclass
class TrainConfig:
    """Optimisation shared by all networks: supp. B.2 / F (SGD, batch 15, step decay)."""
    batch_size: int = 15
    optimizer: str = "sgd"        # sgd | adam
    learning_rate: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4    # Caffe-style L2 on kernels
    last_layer_lr_mult: float = 10.0
    decay_every: int = 2000       # iterations; lr x decay_factor
    decay_factor: float = 0.1
    steps: int = 8000
    steps_per_epoch: int = 500    # how often Keras logs and checkpoints
    rng_seed: int = 0             # weights, shuffling and augmentation
    precision: str = "float32"    # float32 | mixed_float16 (GPUs) | mixed_bfloat16 (TPUs, recent
                                  # CPUs): the nets compute in 16 bits, logits and loss stay float32
    jit_compile: bool = False     # XLA-compile the training step (not with segmenter.crf_loss)


@dataclasses.dataclass
class NetConfig:
    """Network shape: the paper's full VGG-16 widths at width=1.0, input 321."""
    width: float = 1.0
    input_size: int = 321
    batch_norm: bool = False
    fc_units: int = 1024
    fc6_dilation: int = 12       # LargeFOV only
    dropout: float = 0.5
    convs: tuple = (2, 2, 3, 3, 3)  # convolutions per VGG block: VGG-16
    init: str = "imagenet"       # imagenet | random | path to a .h5 (tfguided/models/pretrained.py)
    backbone: str = "vgg16"      # vgg16 (the paper) | mobilenet (v1, alpha = width, always with
                                 # BatchNorm, `convs` unused; not for the classifier) | resnet101
                                 # (DeepLab-v2 with ASPP, the paper's saliency net; width, fc_*,
                                 # dropout, batch_norm, convs unused; with head deeplab_v3plus,
                                 # fc_* and dropout unused on any backbone)
    head: str = "paper"          # DeepLab nets: paper (LargeFOV; DeepLab-v2 ASPP on resnet101) |
                                 # deeplab_v3plus (mobilenet, resnet101; issue 14)
    head_units: int = 256        # deeplab_v3plus: its ASPP and decoder width (DeepLab-v3+'s 256)
    aspp_rates: tuple = (6, 12, 18)  # deeplab_v3plus: ASPP dilations at output stride 16 (scaled by
                                 # 16 / output_stride); DeepLab-v3+'s, for 33 x 33 feature maps (513 crops)
    output_stride: int = 8       # mobilenet: 8 | 16 | 32; VGG-16's is fixed by Table 6 (LargeFOV refuses
                                 # other values, the GAP nets take their arch's)
    scale: float = 1.0           # DeepLab nets (segmenter, saliency): images resized by this before
                                 # the net, in training and in use; outputs mapped back to the image


@dataclasses.dataclass
class CrfConfig:
    params: str = "deeplab"      # deeplab | sec (supp. C.1)
    iterations: int = 10
    downscale: float = 1.0       # > 1: run on the image shrunk by this (kernels keep their reach
                                 # in the image): a speed switch; the paper's CRF runs at full size


@dataclasses.dataclass
class TTAConfig:
    """Test-time augmentation (feature row 24; off for the paper's numbers): the network also
    runs on the image resized by each scale (relative to net.scale) and, with flip, mirrored;
    the probabilities are averaged at the image's size (tfguided/inference.py)."""
    scales: tuple = (1.0,)
    flip: bool = False


@dataclasses.dataclass
class SeederConfig:
    """The seeder (§4, Table 1): a GAP net of Table 6 (trained here), a backprop seeder on the
    classifier (vanilla | guided | excitation) or the centre mean shape baseline (mean_shape)."""
    arch: str = "gap_highres"
    net: NetConfig = dataclasses.field(default_factory=NetConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    crf: CrfConfig = dataclasses.field(default_factory=CrfConfig)  # backprop seeders' final CRF


@dataclasses.dataclass
class ClassifierConfig:
    """VGG-16 multi-label classifier for G1 and the backprop seeders (§6.1, supp. F: batch 40,
    lr 1e-3 x0.1 every 5000 iterations, 30000 iterations; VGG-16's 224 input and 4096-wide fc)."""
    net: NetConfig = dataclasses.field(default_factory=lambda: NetConfig(input_size=224, fc_units=4096))
    train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(batch_size=40, decay_every=5000, steps=30000))


@dataclasses.dataclass
class SaliencyConfig:
    """Class-agnostic binary segmenter trained on GrabCut masks of MSRA boxes (§6.1), or the
    hand-crafted MB+ saliency [52] that needs no training data (method = mbd)."""
    method: str = "net"          # net | mbd
    net: NetConfig = dataclasses.field(default_factory=lambda: NetConfig(backbone="resnet101"))  # §6.1
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    exclude_target_score: float = 0.0  # §6.1 "only non-Pascal categories": leave out saliency images
                                       # the seeder gives any class a probability >= this (0: keep all)


@dataclasses.dataclass
class GuideConfig:
    """Guide labeller (§5, supp. E); connectivity, min_seed_pixels and undecided are the switches
    for where the authors' code differs from the paper (BUILD_NOTES.md)."""
    strategy: str = "g2"         # seeds | g0 | g1 | g2 | oracle | gt (the --guide flag)
    rng_seed: int = 0            # G0's per-image random draw
    tau: float = 0.2             # §6.1: seed background where every normalised class map < tau
    saliency_fraction: float = 0.5  # §6.1: saliency fg = prob >= 50% of the image's max prob
    min_component_fraction: float = 0.01
    crf: CrfConfig = dataclasses.field(default_factory=CrfConfig)
    crf_seed: str = "none"          # supp. C "crf-seed": none | deeplab | sec (CRF on the seeds)
    crf_unary_sigma: float = 10.0   # authors' code: Gaussian-blurred seed masks as CRF unaries
    connectivity: int = 8           # authors' code: 8
    min_seed_pixels: int = 0        # paper: none; authors' code: 25
    undecided: str = "ignore"       # ignore (255, paper) | background (0)
    seed_tta: TTAConfig = dataclasses.field(default_factory=TTAConfig)  # the seeder's class-map views
    saliency_tta: TTAConfig = dataclasses.field(default_factory=TTAConfig)  # the saliency net's views
    panels: int = 8                 # PNG panels written for the first N images


@dataclasses.dataclass
class SelfTrainingConfig:
    """Self-training rounds (issue 14, beyond the paper; rounds = 1 is the paper): round k > 1's
    guide is round k-1's segmenter's CRF-refined predictions on the training images, restricted
    to their image labels (tfguided/guide/self_training.py); only rounds > 1 read this section."""
    rounds: int = 1              # --rounds
    min_confidence: float = 0.8  # pixels whose CRF probability is below this are ignored (255)
    tta: TTAConfig = dataclasses.field(default_factory=TTAConfig)  # the labelling segmenter's views


@dataclasses.dataclass
class SegmenterConfig:
    """DeepLab-v1 LargeFOV trained on the guide labels (§6.1, supp. F)."""
    net: NetConfig = dataclasses.field(default_factory=NetConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    crf_loss: str = "none"       # supp. C "crf-loss": none | deeplab | sec (CRF parameter set)
    crf_loss_weight: float = 1.0  # SEC [18] adds its constrain-to-boundary loss with weight 1
    monitor_images: int = 64     # eval images scored (val_miou in TensorBoard) every Keras epoch; 0: off


@dataclasses.dataclass
class EvalConfig:
    """Scoring the segmenter (§6.1); `tta` also goes into the exported SavedModel."""
    crf: CrfConfig = dataclasses.field(default_factory=CrfConfig)
    tta: TTAConfig = dataclasses.field(default_factory=TTAConfig)
    panels: int = 8                 # PNG panels (image | truth | prediction | +CRF) written


@dataclasses.dataclass
class Config:
    preset: str = "voc12"
    num_classes: int = 20
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    seeder: SeederConfig = dataclasses.field(default_factory=SeederConfig)
    classifier: ClassifierConfig = dataclasses.field(default_factory=ClassifierConfig)
    saliency: SaliencyConfig = dataclasses.field(default_factory=lambda: SaliencyConfig(exclude_target_score=0.5))
    guide: GuideConfig = dataclasses.field(default_factory=GuideConfig)
    self_training: SelfTrainingConfig = dataclasses.field(default_factory=SelfTrainingConfig)
    segmenter: SegmenterConfig = dataclasses.field(default_factory=SegmenterConfig)
    evaluate: EvalConfig = dataclasses.field(default_factory=EvalConfig)

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


# From-scratch CAMs are broader than ImageNet-initialised ones: at the paper's tau = 0.2 the demo's
# seeds have fg recall 90% / bg recall 45%; at 0.7, 53% / 92%, near the paper's seeds (37% / 95%,
# Table 2). Measured on the demo: G2 FS% 62.6 at tau 0.2, 80.8 at 0.7 (BUILD_NOTES.md).
CPU_TAU = 0.7
# voc_mini's guide (BUILD_NOTES.md "voc_mini"): on its 330 training photos G2's pseudo-label mIoU is
# 27.3 at the paper's tau 0.2 and saliency 50%, 29.6 at tau 0.6 with MB+ at 30% of its maximum
# (MB+ is not a probability: 30% gives its best foreground IoU, 37.7 against 35.3 at 50%).
VOC_MINI_TAU = 0.6
VOC_MINI_SALIENCY_FRACTION = 0.3


def class_defaults(cls=None):
    """A `cls` (default: Config) whose every section is at its own class's defaults, not at the
    value a parent's field gives it (SaliencyConfig's net is ResNet-101, NetConfig()'s VGG-16;
    Config's saliency filters target classes, SaliencyConfig()'s does not):
    what a field missing from an older stored config meant when it was written."""
    cls = cls or Config
    sections = {f.name: class_defaults(f.default_factory().__class__) for f in dataclasses.fields(cls)
                if f.default_factory is not dataclasses.MISSING
                and dataclasses.is_dataclass(f.default_factory())}
    return cls(**sections)


def _cpu_train(**kw):
    base = dict(batch_size=16, optimizer="adam", learning_rate=1e-3, weight_decay=1e-4,
                last_layer_lr_mult=1.0, steps_per_epoch=50)
    base.update(kw)
    return TrainConfig(**base)


def _cpu_net(**kw):
    base = dict(width=0.125, input_size=128, batch_norm=True, fc_units=128, fc6_dilation=4,
                dropout=0.3, convs=(1, 1, 2, 2, 2), init="random")
    base.update(kw)
    return NetConfig(**base)


def _demo():
    """CPU demo: 128 px shapes, VGG-16 topologies at 1/8 width (the seeder and the saliency net at
    1/4; the saliency net sees the images at twice their size, trained on 224 px crops of them:
    BUILD_NOTES.md).

    python train_main.py --stage=segmenter     # ~9 min on 2 cores; mIoU 65.4, 72.2 with CRF
    """
    return Config(
        preset="demo", num_classes=6,
        data=DataConfig(synthetic=SyntheticConfig(), train_split="train"),
        seeder=SeederConfig(net=_cpu_net(width=0.25),
                            train=_cpu_train(steps=300, decay_every=200)),
        classifier=ClassifierConfig(net=_cpu_net(width=0.25, fc_units=256),
                                    train=_cpu_train(steps=300, decay_every=200)),
        saliency=SaliencyConfig(net=_cpu_net(width=0.25, input_size=224, scale=2.0),
                                train=_cpu_train(steps=300, decay_every=200)),
        segmenter=SegmenterConfig(net=_cpu_net(), train=_cpu_train(steps=900, decay_every=600)),
        guide=GuideConfig(tau=CPU_TAU),
    )


def _tiny():
    """Tests: 64 px, 3 classes, very slim nets; the whole chain in about a minute.

    python train_main.py --stage=segmenter --preset=tiny --workdir=$(mktemp -d)
    """
    net = dict(width=0.125, input_size=64, fc_units=64, fc6_dilation=2)
    steps = dict(steps_per_epoch=40)
    return Config(
        preset="tiny", num_classes=3,
        data=DataConfig(synthetic=SyntheticConfig(image_size=64, num_classes=3, train=240,
                                                  val=48, saliency=300, annotators=3),
                        examples_per_shard=100, train_split="train"),
        seeder=SeederConfig(net=_cpu_net(**net),
                            train=_cpu_train(steps=200, decay_every=160, **steps)),
        classifier=ClassifierConfig(net=_cpu_net(**net),
                                    train=_cpu_train(steps=200, decay_every=160, **steps)),
        saliency=SaliencyConfig(net=_cpu_net(**net), train=_cpu_train(steps=200, decay_every=160, **steps)),
        segmenter=SegmenterConfig(net=_cpu_net(**net), train=_cpu_train(steps=240, decay_every=200, **steps)),
        guide=GuideConfig(tau=CPU_TAU, panels=4),
    )


def shared_data(*parts):
    """A path under the project's real-data folder: $TFGUIDED_SHARED_DATA, else ../shared/data
    beside the repository (README.md of that folder)."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    root = os.environ.get("TFGUIDED_SHARED_DATA", os.path.join(repo, "..", "shared", "data"))
    return os.path.normpath(os.path.join(root, *parts))


def _voc_mini():
    """Real photos on a CPU: the 330 VOC train / 346 val photos of ../shared/data/voc12_mini with
    image labels only, MobileNet v1 (alpha 0.25) from its ImageNet file, MB+ saliency, the
    segmenter at half the photos' size (scored at full size). Table 2 in ~45 min on 2 cores.

    python train_main.py --preset=voc_mini --stage=segmenter
    python bench/paper_tables.py --preset=voc_mini --tables=2 --guides=seeds,g0,g2,oracle,gt --out=FILE.json
    """
    mobilenet = dict(backbone="mobilenet", width=0.25, init=shared_data(
        "weights", "mobilenet_2_5_224_tf_no_top.h5"), fc_units=128, dropout=0.3, batch_norm=True)
    return Config(
        preset="voc_mini", num_classes=20,
        data=DataConfig(train_split="train", voc_root=shared_data("voc12_mini", "VOC2012"),
                        labels_tsv=shared_data("voc12_lists", "image_labels.tsv")),
        seeder=SeederConfig(net=NetConfig(input_size=256, **mobilenet),
                            train=_cpu_train(steps=600, decay_every=400)),
        classifier=ClassifierConfig(net=_cpu_net(input_size=224, fc_units=256),
                                    train=_cpu_train(steps=600, decay_every=400)),
        saliency=SaliencyConfig(method="mbd", net=NetConfig(input_size=256, fc6_dilation=4, **mobilenet),
                                train=_cpu_train(steps=600, decay_every=400)),
        guide=GuideConfig(tau=VOC_MINI_TAU, saliency_fraction=VOC_MINI_SALIENCY_FRACTION),
        segmenter=SegmenterConfig(net=NetConfig(input_size=192, fc6_dilation=4, scale=0.5, **mobilenet),
                                  train=_cpu_train(steps=400, decay_every=270)),
    )


ANIMALS = "cat,cow,dog,horse,sheep"
# voc_animals' saliency net (BUILD_NOTES.md "voc_animals"), tuned on the training photos: G2's
# pseudo-labels 52.3 mIoU with the foreground at 30% of the image's max, 48.5 at the paper's 50%
# (the net's fg IoU on them 46.3 against 42.3); with the mirror image averaged in, 53.6 (fg IoU
# 47.5) for 12% more guide time (three scales and flips: 55.1 for 2.4x the guide time).
VOC_ANIMALS_SALIENCY_FRACTION = 0.3


def _voc_animals():
    """Real photos, a five-class world: the 3,131 train / 305 val photos of
    ../shared/data/voc12_animals (half size, ~250x188) with image labels only, classes
    cat,cow,dog,horse,sheep (every other VOC class is background: salient distractors); the
    saliency net trained on GrabCut masks of the boxes of 484 photos without any of them
    (saliency_msra, the paper's §6.1 protocol); MobileNet v1 (alpha 0.25) from its ImageNet file
    for the seeder, the saliency net and the segmenter. Scored on val at the stored size.

    python train_main.py --preset=voc_animals --stage=segmenter
    python bench/paper_tables.py --preset=voc_animals --tables=2 --guides=seeds,g0,g2,oracle,gt \
        --g2_repeats=2 --out=FILE.json          # BUILD_NOTES.md "voc_animals"
    """
    mobilenet = dict(backbone="mobilenet", width=0.25, init=shared_data(
        "weights", "mobilenet_2_5_224_tf_no_top.h5"), fc_units=128, dropout=0.3, batch_norm=True)
    return Config(
        preset="voc_animals", num_classes=5,
        data=DataConfig(train_split="train", voc_root=shared_data("voc12_animals", "VOC2012"),
                        labels_tsv=shared_data("voc12_lists", "image_labels.tsv"),
                        msra_root=shared_data("voc12_animals", "saliency_msra"), classes=ANIMALS),
        seeder=SeederConfig(net=NetConfig(input_size=224, **mobilenet),
                            train=_cpu_train(steps=600, decay_every=400)),
        classifier=ClassifierConfig(net=_cpu_net(input_size=224, fc_units=256),
                                    train=_cpu_train(steps=600, decay_every=400)),
        saliency=SaliencyConfig(net=NetConfig(input_size=224, fc6_dilation=4, **mobilenet),
                                train=_cpu_train(steps=600, decay_every=400)),
        guide=GuideConfig(tau=VOC_MINI_TAU, saliency_fraction=VOC_ANIMALS_SALIENCY_FRACTION,
                          saliency_tta=TTAConfig(flip=True)),
        segmenter=SegmenterConfig(net=NetConfig(input_size=192, fc6_dilation=4, **mobilenet),
                                  train=_cpu_train(steps=450, decay_every=315, steps_per_epoch=90)),
    )


PRESETS = {"voc12": Config, "demo": _demo, "tiny": _tiny, "voc_mini": _voc_mini, "voc_animals": _voc_animals}


def choices():
    """{(section class, field): allowed values}: the one table of the enumerations `validate`
    checks (a range check would be one more entry)."""
    crf = tuple(CRF_PARAMS)
    return {
        (GuideConfig, "strategy"): STRATEGIES + ("gt",),
        (GuideConfig, "undecided"): tuple(UNDECIDED),
        (GuideConfig, "crf_seed"): ("none",) + crf,
        (CrfConfig, "params"): crf,
        (SegmenterConfig, "crf_loss"): ("none",) + crf,
        (TrainConfig, "optimizer"): OPTIMIZERS,
        (SaliencyConfig, "method"): ("net", "mbd"),
        (SeederConfig, "arch"): tuple(ARCHS) + BACKPROP_METHODS + ("mean_shape",),
        (NetConfig, "backbone"): BACKBONES,
        (NetConfig, "head"): HEADS,
        (NetConfig, "output_stride"): (8, 16, 32),
        (TrainConfig, "precision"): PRECISIONS,
        (GuideConfig, "connectivity"): (4, 8),
    }


def _range(low=None, high=None, low_open=False, high_open=False):
    """(test, text) of a numeric range."""
    def test(v):
        return ((low is None or (v > low if low_open else v >= low))
                and (high is None or (v < high if high_open else v <= high)))
    text = " and ".join(t for t in (
        low is not None and f"{'>' if low_open else '>='} {low:g}",
        high is not None and f"{'<' if high_open else '<='} {high:g}") if t)
    return test, "must be " + text


POSITIVE, AT_LEAST_1, NOT_NEGATIVE, FRACTION = _range(0, low_open=True), _range(1), _range(0), _range(0, 1)


def ranges():
    """{(section class, field): (test, text)}: the numeric ranges `validate` checks."""
    return {
        (Config, "num_classes"): AT_LEAST_1,
        (SyntheticConfig, "image_size"): _range(32), (SyntheticConfig, "num_classes"): AT_LEAST_1,
        (SyntheticConfig, "train"): AT_LEAST_1, (SyntheticConfig, "val"): AT_LEAST_1,
        (SyntheticConfig, "saliency"): AT_LEAST_1, (SyntheticConfig, "annotators"): AT_LEAST_1,
        (SyntheticConfig, "max_objects"): AT_LEAST_1,
        (DataConfig, "examples_per_shard"): AT_LEAST_1, (DataConfig, "grabcut_iterations"): AT_LEAST_1,
        (TrainConfig, "batch_size"): AT_LEAST_1, (TrainConfig, "learning_rate"): POSITIVE,
        (TrainConfig, "momentum"): _range(0, 1, high_open=True), (TrainConfig, "weight_decay"): NOT_NEGATIVE,
        (TrainConfig, "last_layer_lr_mult"): POSITIVE, (TrainConfig, "decay_every"): AT_LEAST_1,
        (TrainConfig, "decay_factor"): _range(0, 1, low_open=True), (TrainConfig, "steps"): AT_LEAST_1,
        (TrainConfig, "steps_per_epoch"): AT_LEAST_1,
        (NetConfig, "width"): POSITIVE, (NetConfig, "input_size"): _range(32), (NetConfig, "fc_units"): AT_LEAST_1,
        (NetConfig, "fc6_dilation"): AT_LEAST_1, (NetConfig, "head_units"): AT_LEAST_1,
        (NetConfig, "dropout"): _range(0, 1, high_open=True),
        (NetConfig, "scale"): POSITIVE,
        (CrfConfig, "iterations"): AT_LEAST_1, (CrfConfig, "downscale"): _range(1),
        (SaliencyConfig, "exclude_target_score"): FRACTION,
        (GuideConfig, "tau"): FRACTION, (GuideConfig, "saliency_fraction"): _range(0, 1, low_open=True),
        (GuideConfig, "min_component_fraction"): _range(0, 1, high_open=True),
        (GuideConfig, "crf_unary_sigma"): POSITIVE, (GuideConfig, "min_seed_pixels"): NOT_NEGATIVE,
        (GuideConfig, "panels"): NOT_NEGATIVE,
        (SelfTrainingConfig, "rounds"): AT_LEAST_1, (SelfTrainingConfig, "min_confidence"): FRACTION,
        (SegmenterConfig, "crf_loss_weight"): NOT_NEGATIVE, (SegmenterConfig, "monitor_images"): NOT_NEGATIVE,
        (EvalConfig, "panels"): NOT_NEGATIVE,
    }


def _positive_ints(values):
    return all(isinstance(v, int) and v >= 1 for v in values)


def validate(config, prefix=""):
    """Refuses, by the field's dotted name, a value of the wrong type, outside its field's
    choices or outside its range (`choices`, `ranges`); returns `config`. Called whenever a
    config is built, so --dry_run and the first second of a run refuse what a stage would."""
    table, limits = choices(), ranges()
    for f in dataclasses.fields(config):
        value, key, name = getattr(config, f.name), (type(config), f.name), prefix + f.name
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(value):
            validate(value, name + ".")
            continue
        if not isinstance(value, type(default)) and not (isinstance(default, float) and isinstance(value, int)):
            raise ValueError(f"{name}={value!r}: expected a {type(default).__name__}")
        if key in table and value not in table[key]:
            raise ValueError(f"{name}={value!r}: choose one of {', '.join(map(str, table[key]))}")
        if key in limits and not limits[key][0](value):
            raise ValueError(f"{name}={value!r}: {limits[key][1]}")
        if key == (NetConfig, "head") and value != "paper":
            try:
                output_geometry(config.backbone, config.output_stride, value)
            except ValueError as e:
                raise ValueError(f"{name}={value!r}: {e}") from None
        if f.name == "convs" and not _positive_ints(value):
            raise ValueError(f"{name}={value!r}: every block needs at least one convolution")
        if f.name == "aspp_rates" and not (value and _positive_ints(value)
                                           and len(set(aspp_dilations(value, config.output_stride))) == len(value)):
            raise ValueError(f"{name}={value!r}: at least one rate, each an integer >= 1, distinct at "
                             f"output stride {config.output_stride} (rate * 16 / output_stride)")
        if key == (TTAConfig, "scales"):
            try:
                tta_views(value)
            except (TypeError, ValueError):
                raise ValueError(f"{name}={value!r}: at least one scale, each a number > 0") from None
    if isinstance(config, Config):
        _check_combinations(config)
    return config


def _check_combinations(config):
    """Settings that are valid alone but not together: refused rather than silently unused."""
    for section in ("seeder", "classifier"):
        if getattr(config, section).net.head != "paper":
            raise ValueError(f"{section}.net.head={getattr(config, section).net.head!r}: the head is a "
                             f"DeepLab net's (segmenter, saliency); the {section} is a classifier")
    if config.guide.seed_tta != TTAConfig() and not config.seeder.arch.startswith("gap_"):
        raise ValueError(f"guide.seed_tta: test-time views are for the GAP seeders' class maps, not "
                         f"seeder.arch={config.seeder.arch}")
    rounds = config.self_training.rounds
    if rounds > 1 and config.guide.strategy == "gt":
        raise ValueError(f"self_training.rounds={rounds}: self-training rounds need a guide; "
                         f"--guide=gt trains on the ground truth")
    if rounds == 1 and config.self_training != SelfTrainingConfig():
        raise ValueError(f"self_training: {diff(config.self_training, SelfTrainingConfig())} has no "
                         f"effect with self_training.rounds=1 (set --rounds)")


def preset(name):
    if name not in PRESETS:
        raise ValueError(f"--preset={name!r}: unknown preset; choose one of {sorted(PRESETS)}")
    return validate(PRESETS[name]())


def _coerce(value, current, key):
    if isinstance(current, tuple):
        try:
            return tuple(type(current[0])(v) for v in value.split(","))
        except ValueError as e:
            raise ValueError(f"override {key}={value!r}: expected comma-separated "
                             f"{type(current[0]).__name__}s") from e
    if isinstance(current, bool):
        if value.lower() in ("1", "true", "yes"):
            return True
        if value.lower() in ("0", "false", "no"):
            return False
        raise ValueError(f"override {key}={value!r}: expected true or false")
    try:
        return type(current)(value)
    except ValueError as e:
        raise ValueError(f"override {key}={value!r}: expected a {type(current).__name__}") from e


def override(config, assignments):
    """Returns a copy of `config` with `section.field=value` assignments applied."""
    config = copy.deepcopy(config)
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep:
            raise ValueError(f"override {assignment!r}: expected section.field=value")
        *sections, field = key.strip().split(".")
        obj = config
        for part in sections:
            if not dataclasses.is_dataclass(obj) or not hasattr(obj, part):
                raise ValueError(f"override {key!r}: no section {part!r}")
            obj = getattr(obj, part)
        if not dataclasses.is_dataclass(obj) or field not in {f.name for f in dataclasses.fields(obj)}:
            raise ValueError(f"override {key!r}: no field {field!r}")
        current = getattr(obj, field)
        if dataclasses.is_dataclass(current):
            raise ValueError(f"override {key!r} names a section, not a field")
        setattr(obj, field, _coerce(value.strip(), current, key))
    return validate(config)


def fields(config, prefix=""):
    """`{dotted.field: value}` of every field `override` can set."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out.update(fields(value, prefix + f.name + "."))
        else:
            out[prefix + f.name] = value
    return out


def diff(config, reference):
    """`{dotted.field: value}` of the fields where `config` differs from `reference`."""
    before = fields(reference)
    return {key: value for key, value in fields(config).items() if value != before[key]}
