"""The configuration's schema: one dataclass per stage with the paper's numbers as defaults
(the paper's §6.1 and supp. B, C, E, F; BUILD_NOTES.md). Plain data, importing nothing of tfguided: the presets
(presets.py) set fields for a machine size, validation.py checks every value, overrides.py
applies `--override=section.field=value`.
"""

import dataclasses
import json


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
    """The datasets by role (§6.1): the target set (photos with image labels; masks, where there
    are any, only for scoring) and the saliency set (photos of non-target classes with boxes).
    With --data_dir they are converted already; without, the data stage converts each from its
    source (registry.SOURCES) at its root folder."""
    synthetic: SyntheticConfig = dataclasses.field(default_factory=SyntheticConfig)
    rng_seed: int = 0            # the synthetic demo data's generator
    examples_per_shard: int = 500
    grabcut_iterations: int = 5  # saliency boxes -> GrabCut targets (§6.1)
    train_split: str = "train_aug"  # §6.1: VOC train + SBD, 10,582 images
    eval_split: str = "val"
    target_source: str = "voc"     # no --data_dir: the target set's format (the paper's: VOC2012 + SBD)
    target_root: str = ""          # its folder (voc: the VOC2012 folder)
    labels_tsv: str = ""           # its image labels ("" = the source's own)
    saliency_source: str = "msra"  # no --data_dir: the saliency set's format (the paper's: MSRA-B)
    saliency_root: str = ""        # its folder (msra: Image/ and labels.txt)
    classes: str = ""              # a class subset of the target set's classes, e.g. "cat,cow,dog,horse,sheep"
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
    epochs: float = 0.0           # > 0: train max(steps, epochs x training images / batch_size) steps,
                                  # decay_every scaled alike (a preset for data of any size)
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
    backbone: str = "vgg16"      # registry.BACKBONES: the paper's VGG-16; MobileNet v1 (alpha = width,
                                 # always with BatchNorm, `convs` unused; not for the classifier);
                                 # ResNet-101 (DeepLab-v2's ASPP, the paper's saliency net; width,
                                 # fc_*, dropout, batch_norm, convs unused)
    head: str = "paper"          # DeepLab nets, registry.HEADS: the paper's (LargeFOV, or ASPP where
                                 # the backbone says so) or DeepLab-v3+ (fc_* and dropout unused)
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
    """Test-time augmentation (beyond the paper; off for its numbers): the network also
    runs on the image resized by each scale (relative to net.scale) and, with flip, mirrored;
    the probabilities are averaged at the image's size (tfguided/inference.py)."""
    scales: tuple = (1.0,)
    flip: bool = False


@dataclasses.dataclass
class SeederConfig:
    """The seeder (§4, Table 1): a GAP net of Table 6 (trained here), a backprop seeder on the
    classifier or the centre mean shape baseline (registry.SEEDERS)."""
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
    method: str = "net"          # registry.SALIENCY: the paper's net, or MB+ (no training, no data)
    net: NetConfig = dataclasses.field(default_factory=lambda: NetConfig(backbone="resnet101"))  # §6.1
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    weights: str = ""            # method pretrained: a saliency model.keras ("" = the one shipped with the
                                 # package, tfguided/weights/, bench/pretrained_saliency.py rebuilds it)
    exclude_target_score: float = 0.0  # §6.1 "only non-Pascal categories": leave out saliency images
                                       # the seeder gives any class a probability >= this (0: keep all)


@dataclasses.dataclass
class GuideConfig:
    """Guide labeller (§5, supp. E); connectivity, min_seed_pixels and undecided are the switches
    for where the authors' code differs from the paper (BUILD_NOTES.md)."""
    strategy: str = "g2"         # registry.GUIDES, or gt (the --guide flag)
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
    labeller: str = "processes"     # processes: a worker process per core | tf_data: Dataset.map (guide/dataset.py)


@dataclasses.dataclass
class SelfTrainingConfig:
    """Self-training rounds (beyond the paper; rounds = 1 is the paper): round k > 1's
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
    num_classes: int = 20        # 0: the converted data's (its manifest), as the custom preset does
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
