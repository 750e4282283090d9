"""tf.data preprocessing ops give the same result eagerly and inside Dataset.map."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from tfguided.data import labelmap, pipelines, records


def _example():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (20, 30, 3)).astype(np.uint8)
    mask = rng.integers(0, 3, (20, 30)).astype(np.uint8)
    png = tf.io.encode_png(image).numpy()
    ex = records.Example(id="a", image=png, height=20, width=30, labels=(2, 3),
                         mask=labelmap.encode_index_png(mask))
    return records.parse(tf.constant(ex.serialize())), image, mask


def _both(fn, ex):
    eager = fn(ex)
    mapped = next(iter(tf.data.Dataset.from_tensors(ex).map(fn)))
    return eager, mapped


def test_decode_eager_and_mapped():
    ex, image, mask = _example()
    eager, mapped = _both(pipelines.decode, ex)
    for out in (eager, mapped):
        np.testing.assert_array_equal(out["pixels"].numpy(), image)
        np.testing.assert_array_equal(out["target"].numpy(), mask)


def test_decode_without_mask_gives_ignore():
    ex, image, _ = _example()
    ex = dict(ex, mask=tf.constant(b""))
    eager, mapped = _both(pipelines.decode, ex)
    for out in (eager, mapped):
        assert out["target"].shape == (20, 30) and np.all(out["target"].numpy() == 255)


def test_multi_hot_eager_and_mapped():
    fn = lambda labels: pipelines.multi_hot(labels, 4)
    labels = tf.constant([2, 3], tf.int64)
    for out in (fn(labels), next(iter(tf.data.Dataset.from_tensors(labels).map(fn)))):
        np.testing.assert_array_equal(out.numpy(), [0, 1, 1, 0])
    np.testing.assert_array_equal(fn(tf.constant([], tf.int64)).numpy(), [0, 0, 0, 0])


def test_classification_example_shapes_and_values():
    ex, image, _ = _example()
    fn = pipelines.classification_example(4, 16, train=False)
    (img_a, y_a), (img_b, y_b) = _both(fn, ex)
    np.testing.assert_allclose(img_a.numpy(), img_b.numpy())
    assert img_a.shape == (16, 16, 3) and img_a.dtype == tf.float32
    np.testing.assert_array_equal(y_a.numpy(), [0, 1, 1, 0])


def test_pad_and_random_crop_keeps_image_label_alignment():
    """Labels must follow the image through padding and cropping: encode the position in both."""
    yy, xx = np.mgrid[:20, :30]
    image = np.stack([yy * 10, xx * 8, np.zeros_like(xx)], -1).astype(np.uint8)
    target = ((yy * 30 + xx) % 250).astype(np.uint8)
    fn = lambda image, target, seed: pipelines.pad_and_random_crop(image, target, 24, seed)
    seeds = tf.constant([[i, 7] for i in range(5)], tf.int64)
    ds = tf.data.Dataset.from_tensor_slices((seeds,)).map(lambda s: fn(image, target, s))
    crops = list(ds)
    for (img, tgt), seed in zip(crops, seeds):  # eager and mapped: the same crop for the same seed
        eager_img, eager_tgt = fn(tf.constant(image), tf.constant(target), seed)
        np.testing.assert_array_equal(eager_img.numpy(), img.numpy())
        np.testing.assert_array_equal(eager_tgt.numpy(), tgt.numpy())
    assert len({c[1].numpy().tobytes() for c in crops}) > 1  # seeds pick different crops
    for img, tgt in crops:
        img, tgt = img.numpy(), tgt.numpy()
        assert img.shape == (24, 24, 3) and tgt.shape == (24, 24)
        real = tgt != 255
        assert real.any() and np.all(tgt[~real] == 255)
        ry, rx = np.round(img[..., 0] / 10).astype(int), np.round(img[..., 1] / 8).astype(int)
        np.testing.assert_array_equal(tgt[real], ((ry * 30 + rx) % 250)[real])


def test_random_flip_flips_both_or_neither_and_does_both():
    image = tf.constant(np.arange(2 * 3 * 3).reshape(2, 3, 3).astype(np.uint8))
    target = tf.constant(np.arange(6).reshape(2, 3).astype(np.uint8))
    outcomes = set()
    for i in range(30):
        seed = tf.constant([i, 3], tf.int64)
        img, tgt = pipelines.random_flip(seed, image, target)
        again, _ = pipelines.random_flip(seed, image, target)
        np.testing.assert_array_equal(again.numpy(), img.numpy())  # stateless: same seed, same draw
        flipped = np.array_equal(tgt.numpy(), target.numpy()[:, ::-1])
        assert flipped or np.array_equal(tgt.numpy(), target.numpy())
        expected = image.numpy()[:, ::-1] if flipped else image.numpy()
        np.testing.assert_array_equal(img.numpy(), expected)
        outcomes.add(flipped)
    assert outcomes == {True, False}


def test_training_dataset_batches(tiny_data):
    ds = pipelines.training_dataset(str(tiny_data / "voc"), "train",
                                    pipelines.segmentation_example(64, train=True), 4, seed=0)
    images, targets = next(iter(ds))
    assert images.shape == (4, 64, 64, 3) and targets.shape == (4, 64, 64)
    make = lambda: pipelines.training_dataset(str(tiny_data / "voc"), "train",
                                              pipelines.segmentation_example(64, train=True), 4, seed=0)
    for (a, ta), (b, tb) in zip(make().take(3), make().take(3)):  # parallel map, stateless seeds
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(ta.numpy(), tb.numpy())
    assert set(np.unique(targets.numpy())) <= {0, 1, 2, 3, 255}


def test_training_dataset_keeps_only_the_ids_asked_for(tiny_data):
    """keep_ids: the saliency images without target classes (§6.1); the rest never appear."""
    ids = [ex["id"].decode() for ex in records.iterate_numpy(str(tiny_data / "msra"), "train")]
    keep = ids[::3]
    ds = pipelines.training_dataset(str(tiny_data / "msra"), "train", lambda ex, seed: ex["id"], 5,
                                    seed=0, keep_ids=keep)
    seen = {i.decode() for batch in ds.take(4 * len(keep)) for i in batch.numpy()}
    assert seen == set(keep)
    with pytest.raises(ValueError, match="no train example left"):
        pipelines.training_dataset(str(tiny_data / "msra"), "train", lambda ex, seed: ex["id"], 5,
                                   seed=0, keep_ids=[])


def test_segmentation_example_at_a_scale_resizes_image_and_labels_together():
    """net.scale = 2: a 20x30 image becomes 40x60 (bilinear, as OpenCV's INTER_LINEAR), its
    labels 2x2 blocks of the original (nearest), padded with 255 to the 64x64 crop."""
    ex, image, mask = _example()
    fn = pipelines.segmentation_example(64, train=False, scale=2.0)
    (img_a, tgt_a), (img_b, tgt_b) = _both(fn, ex)
    np.testing.assert_array_equal(img_a.numpy(), img_b.numpy())
    np.testing.assert_array_equal(tgt_a.numpy(), tgt_b.numpy())
    img, tgt = img_a.numpy(), tgt_a.numpy()
    assert img.shape == (64, 64, 3) and tgt.shape == (64, 64)
    np.testing.assert_array_equal(tgt[:40, :60], mask.repeat(2, axis=0).repeat(2, axis=1))
    assert np.all(tgt[40:] == 255) and np.all(tgt[:, 60:] == 255)
    expected = cv2.resize(image.astype(np.float32), (60, 40), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(img[:40, :60], expected, atol=1e-3)
