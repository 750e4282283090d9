"""Optimisers with the paper's schedule (supp. B.2, F): step decay x0.1 every N iterations, and
Caffe's lr_mult on the last layer (fc8 learns 10x faster).

For SGD, multiplying a variable's gradient by m is exactly an lr_mult of m (momentum is linear in
the gradients, and Caffe scales the weight-decay term too). Adam is invariant to gradient scale,
so a multiplier there would silently do nothing: it is refused.
"""

import keras

from tfguided.choices import OPTIMIZERS
from tfguided.models.interface import LAST_LAYER


def step_schedule(learning_rate, decay_every, decay_factor):
    return keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=decay_every, decay_rate=decay_factor, staircase=True)


@keras.saving.register_keras_serializable(package="tfguided")
class LayerLrSGD(keras.optimizers.SGD):
    """SGD whose gradients for variables under `lr_mult_prefixes` are scaled by `lr_mult`."""

    def __init__(self, lr_mult=1.0, lr_mult_prefixes=(LAST_LAYER + "/",), **kwargs):
        super().__init__(**kwargs)
        self.lr_mult, self.lr_mult_prefixes = lr_mult, tuple(lr_mult_prefixes)

    def apply(self, grads, trainable_variables=None):
        variables = trainable_variables if trainable_variables is not None else self._trainable_variables
        if self.lr_mult != 1.0:
            grads = [g * self.lr_mult if g is not None and v.path.startswith(self.lr_mult_prefixes)
                     else g for g, v in zip(grads, variables)]
        return super().apply(grads, trainable_variables)

    def get_config(self):
        return {**super().get_config(), "lr_mult": self.lr_mult,
                "lr_mult_prefixes": list(self.lr_mult_prefixes)}


def build_optimizer(train_cfg, last_layer=LAST_LAYER):
    schedule = step_schedule(train_cfg.learning_rate, train_cfg.decay_every, train_cfg.decay_factor)
    if train_cfg.optimizer == "sgd":
        return LayerLrSGD(lr_mult=train_cfg.last_layer_lr_mult, lr_mult_prefixes=(last_layer + "/",),
                          learning_rate=schedule, momentum=train_cfg.momentum)
    if train_cfg.optimizer == "adam":
        if train_cfg.last_layer_lr_mult != 1.0:
            raise ValueError("optimizer=adam ignores gradient scale, so last_layer_lr_mult must be 1.0 "
                             f"(got {train_cfg.last_layer_lr_mult})")
        return keras.optimizers.Adam(learning_rate=schedule)
    raise ValueError(f"optimizer={train_cfg.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
