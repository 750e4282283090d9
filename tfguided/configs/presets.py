"""Named presets: the schema's fields set for a machine and a dataset. Each preset's docstring
gives its command, its time on 2 CPU cores and the figures it is expected to reach; how the
values were chosen is in BUILD_NOTES.md.

    python train_main.py --stage=segmenter                    # preset demo: the embedded demo
    python train_main.py --stage=segmenter --preset=tiny      # about a minute; what the tests run
"""

import os

from tfguided.configs.schema import (ClassifierConfig, Config, DataConfig, GuideConfig, NetConfig,
                                     SaliencyConfig, SeederConfig, SegmenterConfig, SyntheticConfig,
                                     TrainConfig, TTAConfig)

CPU_TAU = 0.7  # from-scratch CAMs are broad: the paper's seed operating point (BUILD_NOTES.md "tau")
VOC_MINI_TAU = 0.6  # BUILD_NOTES.md "The voc_mini preset", chosen on the training photos
VOC_MINI_SALIENCY_FRACTION = 0.3  # MB+ is no probability: 30% of its max (ibid.)


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

    python train_main.py --stage=segmenter     # ~7 min on 2 cores; mIoU 64.8, 71.5 with CRF
    """
    return Config(
        preset="demo", num_classes=6,
        data=DataConfig(synthetic=SyntheticConfig(), train_split="train", target_source="synthetic",
                        saliency_source="synthetic"),
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
    """Tests: 64 px, 3 classes, very slim nets; the whole chain in about a minute on 2 cores, val
    mIoU above 40 (45 with CRF; tests/test_end_to_end.py's floor).

    python train_main.py --stage=segmenter --preset=tiny --workdir=$(mktemp -d)
    """
    net = dict(width=0.125, input_size=64, fc_units=64, fc6_dilation=2)
    steps = dict(steps_per_epoch=40)
    return Config(
        preset="tiny", num_classes=3,
        data=DataConfig(synthetic=SyntheticConfig(image_size=64, num_classes=3, train=240,
                                                  val=48, saliency=300, annotators=3),
                        examples_per_shard=100, train_split="train", target_source="synthetic",
                        saliency_source="synthetic"),
        seeder=SeederConfig(net=_cpu_net(**net),
                            train=_cpu_train(steps=200, decay_every=160, **steps)),
        classifier=ClassifierConfig(net=_cpu_net(**net),
                                    train=_cpu_train(steps=200, decay_every=160, **steps)),
        saliency=SaliencyConfig(net=_cpu_net(**net), train=_cpu_train(steps=200, decay_every=160, **steps)),
        segmenter=SegmenterConfig(net=_cpu_net(**net), train=_cpu_train(steps=240, decay_every=200, **steps)),
        guide=GuideConfig(tau=CPU_TAU, panels=4),
    )


def _voc12():
    """The paper's settings (BUILD_NOTES.md, the paper's supp. B, C, E, F), every network at full size from ImageNet weights: the
    VOC12 train_aug set converted with SBD (--data_dir), the saliency net on MSRA-B. Expected
    (the paper's Table 2): val mIoU G2 51.2, 55.7 with CRF; about 6.5 h of training on one
    V100-class GPU (BENCHMARKS.md), a week on this 2-core CPU.

    python -m tfrecords_tools voc --voc_root=VOCdevkit/VOC2012 --sbd_root=benchmark_RELEASE \
        --splits=train_aug,val --out=data/voc
    python -m tfrecords_tools msra --msra_root=MSRA-B --out=data/msra
    python train_main.py --preset=voc12 --data_dir=data --stage=segmenter
    """
    return Config()


def _mobilenet(**kw):
    """The real-photo presets' nets: MobileNet v1 alpha 0.25 from the ImageNet file in ../shared."""
    return NetConfig(**{**dict(backbone="mobilenet", width=0.25, init=shared_data(
        "weights", "mobilenet_2_5_224_tf_no_top.h5"), fc_units=128, dropout=0.3, batch_norm=True), **kw})


def shared_data(*parts):
    """A path under the project's real-data folder: $TFGUIDED_SHARED_DATA, else ../shared/data
    beside the repository (README.md of that folder)."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tfguided/configs/..
    root = os.environ.get("TFGUIDED_SHARED_DATA", os.path.join(repo, "..", "shared", "data"))
    return os.path.normpath(os.path.join(root, *parts))


def _voc_mini():
    """Real photos on a CPU: the 330 VOC train / 346 val photos of ../shared/data/voc12_mini with
    image labels only, MobileNet v1 (alpha 0.25) from its ImageNet file, MB+ saliency, the
    segmenter at half the photos' size (scored at full size). Table 2 in ~45 min on 2 cores;
    val mIoU G2 18.5, 20.5 with CRF (full supervision 26.4, 27.5).

    python train_main.py --preset=voc_mini --stage=segmenter
    python bench/paper_tables.py --preset=voc_mini --tables=2 --guides=seeds,g0,g2,oracle,gt --out=FILE.json
    """
    return Config(
        preset="voc_mini", num_classes=20,
        data=DataConfig(train_split="train", target_root=shared_data("voc12_mini", "VOC2012"), saliency_source="",
                        labels_tsv=shared_data("voc12_lists", "image_labels.tsv")),
        seeder=SeederConfig(net=_mobilenet(input_size=256), train=_cpu_train(steps=600, decay_every=400)),
        classifier=ClassifierConfig(net=_cpu_net(input_size=224, fc_units=256),
                                    train=_cpu_train(steps=600, decay_every=400)),
        saliency=SaliencyConfig(method="mbd", net=_mobilenet(input_size=256, fc6_dilation=4),
                                train=_cpu_train(steps=600, decay_every=400)),
        guide=GuideConfig(tau=VOC_MINI_TAU, saliency_fraction=VOC_MINI_SALIENCY_FRACTION),
        segmenter=SegmenterConfig(net=_mobilenet(input_size=192, fc6_dilation=4, scale=0.5),
                                  train=_cpu_train(steps=400, decay_every=270)),
    )


ANIMALS = "cat,cow,dog,horse,sheep"
VOC_ANIMALS_SALIENCY_FRACTION = 0.3  # chosen on the training photos (BUILD_NOTES.md "voc_animals")


def _voc_animals():
    """Real photos, a five-class world: the 3,131 train / 305 val photos of
    ../shared/data/voc12_animals (half size, ~250x188) with image labels only, classes
    cat,cow,dog,horse,sheep (every other VOC class is background: salient distractors); the
    saliency net trained on GrabCut masks of the boxes of 484 photos without any of them
    (saliency_msra, the paper's §6.1 protocol); MobileNet v1 (alpha 0.25) from its ImageNet file
    for the seeder, the saliency net and the segmenter. Scored on val at the stored size. Each
    schedule at its plateau (one more doubling gains under a point; BUILD_NOTES.md "Learning
    curves on voc_animals"): seeder 1,200 steps (val mAP 81.6), saliency net 600, segmenter 1,350
    (val mIoU G2 49.4, 54.6 with CRF; full supervision 59.8, 64.5; with the 600-step seeder).
    The chain in ~45 min on 2 cores.

    python train_main.py --preset=voc_animals --stage=segmenter
    python bench/paper_tables.py --preset=voc_animals --tables=2 --guides=seeds,g0,g2,oracle,gt \
        --repeats=2 --out=FILE.json             # BUILD_NOTES.md "voc_animals"
    """
    return Config(
        preset="voc_animals", num_classes=5,
        data=DataConfig(train_split="train", target_root=shared_data("voc12_animals", "VOC2012"),
                        labels_tsv=shared_data("voc12_lists", "image_labels.tsv"),
                        saliency_root=shared_data("voc12_animals", "saliency_msra"), classes=ANIMALS),
        seeder=SeederConfig(net=_mobilenet(input_size=224), train=_cpu_train(steps=1200, decay_every=800)),
        classifier=ClassifierConfig(net=_cpu_net(input_size=224, fc_units=256),
                                    train=_cpu_train(steps=600, decay_every=400)),
        saliency=SaliencyConfig(net=_mobilenet(input_size=224, fc6_dilation=4),
                                train=_cpu_train(steps=600, decay_every=400)),
        guide=GuideConfig(tau=VOC_MINI_TAU, saliency_fraction=VOC_ANIMALS_SALIENCY_FRACTION,
                          saliency_tta=TTAConfig(flip=True)),
        segmenter=SegmenterConfig(net=_mobilenet(input_size=192, fc6_dilation=4),
                                  train=_cpu_train(steps=1350, decay_every=945, steps_per_epoch=90)),
    )


def _custom():
    """Your own photos (README.md "Your own photos"): a target set converted by `python -m
    tfrecords_tools folder` (or coco, voc), given with --data_dir, whose manifest sets the classes;
    MobileNet v1 (alpha 0.25) nets from ImageNet (keras.applications downloads the file once;
    offline: --init_weights=FILE), schedules of voc_animals' passes over the training photos
    (never fewer steps than for a few hundred photos), the saliency net shipped with the package
    (no boxes needed; --saliency=mbd or, with a saliency set, net instead). On voc12_animals'
    3,131 training photos given as a folder and a CSV: the same nets and steps as the
    voc_animals preset, so about its time (~40 min on 2 cores, no saliency net to train) and
    figures.

    python -m tfrecords_tools folder --images=DIR --labels=FILE --out=OUT
    python train_main.py --preset=custom --data_dir=OUT --stage=export
    """
    net = lambda **kw: _mobilenet(init="imagenet", **kw)
    return Config(
        preset="custom", num_classes=0,
        data=DataConfig(train_split="train", target_source="folder", saliency_source=""),
        seeder=SeederConfig(net=net(input_size=224), train=_cpu_train(steps=600, epochs=6.13, decay_every=400)),
        classifier=ClassifierConfig(net=_cpu_net(input_size=224, fc_units=256),
                                    train=_cpu_train(steps=300, epochs=3.07, decay_every=200)),
        saliency=SaliencyConfig(method="pretrained", net=net(input_size=224, fc6_dilation=4),
                                train=_cpu_train(steps=300, epochs=20, decay_every=200)),
        guide=GuideConfig(tau=VOC_MINI_TAU, saliency_fraction=VOC_ANIMALS_SALIENCY_FRACTION,
                          saliency_tta=TTAConfig(flip=True)),
        segmenter=SegmenterConfig(net=net(input_size=192, fc6_dilation=4),
                                  train=_cpu_train(steps=900, epochs=6.9, decay_every=630, steps_per_epoch=90)),
    )


PRESETS = {"voc12": _voc12, "demo": _demo, "tiny": _tiny, "voc_mini": _voc_mini, "voc_animals": _voc_animals,
           "custom": _custom}
