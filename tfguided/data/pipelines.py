"""tf.data preprocessing ops: decoding, label targets, augmentation, batching.

Each op runs the same eagerly and inside `tf.data.Dataset.map` (the tests run both). The
random augmentations are stateless: each training example comes with its own seed from
`tf.data.Dataset.random`, so a run draws the same flips and crops whatever the parallelism
(a stateful op shared by parallel map calls hands out its numbers in thread order).
"""

import tensorflow as tf

from tfguided.data import imageio, records

from tfguided.data.labelmap import IGNORE

IMAGENET_MEAN = imageio.IMAGENET_MEAN_RGB  # a tuple: no TF op at import time


def decode(example):
    """Adds `pixels` (uint8 [H, W, 3]) and, where present, `target` (uint8 [H, W]) from the mask."""
    out = dict(example)
    image = imageio.decode_tf(example["image"])
    out["pixels"] = image
    mask = tf.cond(tf.strings.length(example["mask"]) > 0,
                   lambda: tf.io.decode_png(example["mask"], channels=1)[..., 0],
                   lambda: tf.fill(tf.shape(image)[:2], tf.constant(IGNORE, tf.uint8)))
    out["target"] = tf.ensure_shape(mask, [None, None])
    return out


def multi_hot(labels, num_classes):
    """Class indices 1..K -> float32 [K] multi-hot vector (no background entry)."""
    one_hot = tf.one_hot(tf.cast(labels, tf.int32) - 1, num_classes, dtype=tf.float32)
    return tf.minimum(tf.reduce_sum(one_hot, axis=0), 1.0)


def resize_image(pixels, size):
    """uint8 [H, W, 3] -> float32 [size, size, 3] (bilinear), 0..255."""
    return tf.image.resize(tf.cast(pixels, tf.float32), [size, size], method="bilinear")


def random_flip(seed, *tensors):
    """Flips all of `tensors` ([H, W, ...]) left-right together, or none of them, by a
    stateless draw from `seed` (int [2])."""
    flip = tf.random.stateless_uniform([], seed) < 0.5
    return tuple(tf.cond(flip, lambda t=t: tf.reverse(t, [1]), lambda t=t: t) for t in tensors)


def pad_and_random_crop(image, target, size, seed):
    """DeepLab's training crop: pad to >= size (image with the mean colour, labels with 255), crop
    where the stateless draw from `seed` (int [2]) says.

    Returns float32 [size, size, 3] and uint8 [size, size].
    """
    image = tf.cast(image, tf.float32) - IMAGENET_MEAN
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    pad_h, pad_w = tf.maximum(size - height, 0), tf.maximum(size - width, 0)
    image = tf.pad(image, [[0, pad_h], [0, pad_w], [0, 0]]) + IMAGENET_MEAN
    target = tf.pad(target, [[0, pad_h], [0, pad_w]], constant_values=IGNORE)
    stacked = tf.concat([image, tf.cast(target[..., None], tf.float32)], axis=-1)
    crop = tf.image.stateless_random_crop(stacked, [size, size, 4], seed=seed)
    return crop[..., :3], tf.cast(crop[..., 3], tf.uint8)


FIXED_SEED = (0, 0)  # for the ops' random choices outside training


def classification_example(num_classes, size, train):
    """Seeder input: the image resized to size x size (GAP nets are trained this way [18]),
    flipped at random in training; multi-hot labels. Takes (example, seed)."""
    def fn(ex, seed=FIXED_SEED):
        ex = decode(ex)
        image = resize_image(ex["pixels"], size)
        if train:
            image, = random_flip(seed, image)
        return image, multi_hot(ex["labels"], num_classes)
    return fn


def rescale(pixels, target, scale):
    """Image (bilinear, float32) and label map (nearest, uint8) resized by `scale`, each side
    rounded: how a DeepLab net sees its images when its net.scale != 1."""
    size = tf.cast(tf.round(tf.cast(tf.shape(pixels)[:2], tf.float32) * scale), tf.int32)
    image = tf.image.resize(tf.cast(pixels, tf.float32), size, method="bilinear")
    target = tf.image.resize(target[..., None], size, method="nearest")[..., 0]
    return image, target


def segmentation_example(size, train, scale=1.0):
    """Segmenter / saliency input: (images resized by `scale` if not 1; in training, a random
    flip, then) pad-and-crop to size x size at a random place; labels uint8 with 255 ignore.
    Takes (example, seed)."""
    def fn(ex, seed=FIXED_SEED):
        ex = decode(ex)
        image, target = ex["pixels"], ex["target"]
        if scale != 1:
            image, target = rescale(image, target, scale)
        flip_seed, crop_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        if train:
            image, target = random_flip(flip_seed, image, target)
        return pad_and_random_crop(image, target, size, crop_seed)
    return fn


def training_dataset(data_dir, split, example_fn, batch_size, seed, cache=True, keep_ids=None, skip_batches=0):
    """Shuffled, repeated, batched (drop remainder) training batches from a converted directory;
    `example_fn(example, seed)` gets a stateless seed per example. `keep_ids`: only these
    examples (a list of ids), e.g. the saliency images without target classes (§6.1).
    `skip_batches`: start after that many batches (a resumed training), skipped before the
    examples are decoded, so the batches that follow are exactly those of an unskipped run."""
    ds = records.dataset(data_dir, split)
    count = records.split_count(data_dir, split)
    if keep_ids is not None:
        if not keep_ids:
            raise ValueError(f"{data_dir}: no {split} example left to train on")
        kept = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            tf.constant(list(keep_ids)), tf.ones([len(keep_ids)], tf.bool)), default_value=False)
        ds, count = ds.filter(lambda ex: kept.lookup(ex["id"])), len(keep_ids)
    if cache:
        ds = ds.cache()
    ds = ds.shuffle(min(count, 10000), seed=seed, reshuffle_each_iteration=True).repeat()
    augmentation_seeds = tf.data.Dataset.random(seed=seed).batch(2, drop_remainder=True)  # int64 [2] each
    ds = tf.data.Dataset.zip((ds, augmentation_seeds)).skip(skip_batches * batch_size)
    ds = ds.map(example_fn, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def image_batches(data_dir, split, batch_size, size, full_size=True, records_range=None):
    """Batches of a split's images: resized to `size` as `seeder_input`, and (if `full_size`, for
    the saliency net) at their own size, mean-centred and zero-padded to the largest in the batch
    (DeepLab pads with the mean); with id, encoded image, mask, labels and shape. `records_range`
    (start, stop): only those examples (records.dataset)."""

    def add_inputs(ex):
        pixels = decode(ex)["pixels"]
        out = {"id": ex["id"], "image": ex["image"], "mask": ex["mask"], "labels": ex["labels"],
               "shape": tf.shape(pixels)[:2], "seeder_input": resize_image(pixels, size)}
        if full_size:
            out["centred"] = tf.cast(pixels, tf.float32) - IMAGENET_MEAN
        return out

    padding = {"id": "", "image": "", "mask": "", "labels": tf.constant(0, tf.int64), "shape": 0,
               "seeder_input": 0.0}
    if full_size:
        padding["centred"] = 0.0
    return records.dataset(data_dir, split, records_range=records_range).map(
        add_inputs, num_parallel_calls=tf.data.AUTOTUNE).padded_batch(batch_size, padding_values=padding)
