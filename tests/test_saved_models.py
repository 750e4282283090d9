"""Saved models load with their training configuration (compile=True) after `import tfguided.saved_models`:
every kind a stage saves, compiled as its stage compiles it, trained one step, loaded in a fresh process."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import assert_round_trip
from tfguided import configs
from tfguided.models import classifier, deeplab, gap
from tfguided.train import losses, optim

SGD = configs.TrainConfig()  # the paper's: LayerLrSGD, fc8 at 10x
ADAM = configs.TrainConfig(optimizer="adam", last_layer_lr_mult=1.0)  # the CPU presets'
TINY_MOBILENET = dict(backbone="mobilenet", width=0.25, init="random")


def _deeplab(num_classes, name, **net):
    """A DeepLab net of `net` fields and the loss its stage trains it with."""
    net_cfg = configs.NetConfig(**net)
    return deeplab.build(num_classes, net_cfg, 5e-4, name), losses.segmentation_loss(net_cfg)


def _segmenter():
    cfg = configs.preset("tiny").segmenter
    return deeplab.build(3, cfg.net, cfg.train.weight_decay, "segmenter"), losses.segmentation_loss(cfg.net)


KINDS = {  # name: (() -> (model, loss), its stage's train config, image-level labels?)
    "gap_seeder": (lambda: (gap.GapNet("gap_highres", 3, width=0.0625, fc_units=8, input_size=64, name="seeder"),
                            losses.multilabel_loss()), ADAM, True),
    "vgg_classifier": (lambda: (classifier.VggClassifier(3, width=0.0625, fc_units=8, batch_norm=True, input_size=64,
                                                         name="classifier"), losses.multilabel_loss()), SGD, True),
    "saliency": (lambda: _deeplab(2, "saliency", fc_units=8, fc6_dilation=2, input_size=64, **TINY_MOBILENET),
                 ADAM, False),
    "deeplab_v3plus": (lambda: _deeplab(3, "segmenter", head="deeplab_v3plus", head_units=16, output_stride=16,
                                        input_size=64, **TINY_MOBILENET), ADAM, False),
    "segmenter": (_segmenter, SGD, False),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_compiled_model_loads_compiled_in_a_fresh_process(kind, tmp_path):
    """Trained one step (optimizer state, BatchNorm statistics), saved, loaded where only
    tfguided.saved_models registered the classes: the same predictions, loss and optimizer classes."""
    build, train_cfg, image_labels = KINDS[kind]
    model, loss = build()
    model.compile(optimizer=optim.build_optimizer(train_cfg), loss=loss)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    classes = model.output_shape[-1]
    labels = (rng.integers(0, 2, (2, classes)).astype(np.float32) if image_labels
              else rng.integers(0, classes, (2, 64, 64)).astype(np.uint8))
    with tf.GradientTape() as tape:  # fit's step, eagerly: tracing it costs ten times more
        value = model.compute_loss(images, labels, model(images, training=True))
    model.optimizer.apply(tape.gradient(value, model.trainable_variables), model.trainable_variables)
    assert int(model.optimizer.iterations) == 1
    assert_round_trip(model, images, tmp_path, fresh_process=True)
