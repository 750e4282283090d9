"""The VGG-16 multi-label classifier (§6.1 "G1 classifier", §4.2 backprop seeders, supp. F).

VGG-16 as published [42]: five conv blocks with 2x2/2 pools, then fc6 (4096, over the flattened
7x7 map at 224 px), fc7 (4096), dropout after each, fc8 -> one logit per class (sigmoid loss).
The layers form one chain (no branches), which the backprop seeders walk (tfguided/seeds/backprop.py).
"""

import keras

from tfguided.models import vgg
from tfguided.models.interface import LAST_LAYER

POOLS = ((2, 2),) * 5


@keras.saving.register_keras_serializable(package="tfguided")
class VggClassifier(keras.Model):
    """Image [B, S, S, 3] (RGB 0..255) -> class logits [B, num_classes] (no background entry)."""

    def __init__(self, num_classes=20, width=1.0, fc_units=4096, dropout=0.5, batch_norm=False,
                 weight_decay=5e-4, input_size=224, convs=vgg.VGG16_CONVS, **kwargs):
        inputs = keras.Input((input_size, input_size, 3), name="image")
        x = vgg.vgg_trunk(inputs, width, batch_norm, weight_decay, POOLS, 1, convs)
        x = keras.layers.Flatten(name="flatten")(x)
        for name in ("fc6", "fc7"):
            x = keras.layers.Dense(fc_units, kernel_initializer="he_normal",
                                   kernel_regularizer=vgg.regularizer(weight_decay), name=name)(x)
            x = keras.layers.ReLU(name=name + "_relu")(x)  # its own layer: backprop seeders swap it
            x = keras.layers.Dropout(dropout, name="drop" + name[-1])(x)
        logits = keras.layers.Dense(num_classes, name=LAST_LAYER, dtype="float32",  # float32 logits
                                    kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                                    kernel_regularizer=vgg.regularizer(weight_decay))(x)
        super().__init__(inputs, logits, name=kwargs.pop("name", "classifier"), **kwargs)
        self.convs = tuple(convs)
        self.num_classes, self.width, self.fc_units, self.dropout = num_classes, width, fc_units, dropout
        self.batch_norm, self.weight_decay, self.input_size = batch_norm, weight_decay, input_size

    def get_config(self):
        return {"num_classes": self.num_classes, "width": self.width, "fc_units": self.fc_units,
                "dropout": self.dropout, "batch_norm": self.batch_norm,
                "weight_decay": self.weight_decay, "input_size": self.input_size,
                "convs": list(self.convs), "name": self.name}
