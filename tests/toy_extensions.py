"""A newcomer's three extensions, written outside the package (README.md "Extending"): a guide
labeller, a backbone and a data source, each a few functions and one `register` line. Loaded by
naming this module in $TFGUIDED_EXTENSIONS (tests/test_extending.py)."""

import cv2
import keras
import numpy as np

from tfguided import registry
from tfguided.data import labelmap, records
from tfguided.data.imageio import IMAGENET_MEAN_RGB
from tfguided.models.interface import Backbone
from tfrecords_tools.source import Source

# --- a guide labeller: every salient pixel gets the image's first label -------------------------


def first_label(image, labels, seeds, foreground, guide_cfg, image_id="", score_fn=None):
    guide = np.zeros(foreground.shape, np.uint8)
    if len(labels):
        guide[foreground] = int(labels[0])
    return guide


registry.GUIDES.register("toy", "toy_extensions:first_label", "salient pixels get the first image label",
                         needs=("saliency",), in_tf_data=True)

# --- a backbone: three 3x3 convolutions, each followed by a 2x2 average pool (stride 8) ---------


def toy_trunk(inputs, spec, weight_decay):
    x = keras.layers.Rescaling(1 / 127.5, -1.0, name="toy_scale")(inputs)
    for i in range(3):
        x = keras.layers.Conv2D(max(8, int(32 * spec.width)), 3, padding="same", activation="relu",
                                name=f"toy_conv{i}")(x)
        x = keras.layers.AveragePooling2D(2, padding="same", name=f"toy_pool{i}")(x)
    return x


def toy_geometry(spec):
    if spec.output_stride != 8:
        raise ValueError(f"net.output_stride={spec.output_stride}: the toy trunk has output stride 8")
    return 8, 3.5  # three 2x2/2 pools: cell i centred on pixel 8i + 0.5 + 1 + 2


BACKBONE = Backbone(trunk=toy_trunk, geometry=toy_geometry)
registry.BACKBONES.register("toy", "toy_extensions:BACKBONE", "three convolutions and pools", output_strides=(8,),
                            decoder=False, paper_head="largefov", gap_pools=False)

# --- a data source: squares and discs on a grey floor, with their masks ----------------------------


def define_flags(flags):
    flags.DEFINE_integer("count", 40, "How many toy pictures to draw per split.")


def toy_example(rng, index, size=48):
    image = np.full((size, size, 3), IMAGENET_MEAN_RGB, np.uint8)
    mask = np.zeros((size, size), np.uint8)
    cls = 1 + index % 2
    y, x, r = rng.integers(10, size - 10), rng.integers(10, size - 10), rng.integers(5, 9)
    yy, xx = np.mgrid[:size, :size]
    shape = (np.abs(yy - y) <= r) & (np.abs(xx - x) <= r) if cls == 1 else (yy - y) ** 2 + (xx - x) ** 2 <= r * r
    image[shape], mask[shape] = ((220, 40, 40) if cls == 1 else (40, 40, 220)), cls
    encoded = cv2.imencode(".png", image[..., ::-1])[1].tobytes()
    return records.Example(id=f"toy_{index:04d}", image=encoded, height=size, width=size, labels=(cls,),
                           mask=labelmap.encode_index_png(mask))


def convert(FLAGS):
    rng = np.random.default_rng(0)
    with records.replaced_directory(FLAGS.out) as staging:
        splits = {}
        for split, offset in (("train", 0), ("val", 10_000)):
            examples = [toy_example(rng, offset + i) for i in range(FLAGS.count)]
            splits[split] = records.write_split(staging, split, examples, len(examples), FLAGS.examples_per_shard)
        records.write_manifest(staging, "toy", splits, 2, ["background", "square", "disc"], {"role": "target"})
    return f"toy: {FLAGS.count} pictures per split in {FLAGS.out}"


SOURCE = Source(define_flags=define_flags, convert=convert)
registry.SOURCES.register("toy", "toy_extensions:SOURCE", "squares and discs on a grey floor", roles=("target",))
