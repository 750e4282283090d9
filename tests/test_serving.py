"""The SavedModel's endpoints (stages/export.py): one image, a same-size batch, encoded files of
any sizes; wrong channel counts and float input refused."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from tfguided import configs
from tfguided.models import deeplab
from tfguided.stages import export


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    cfg = configs.preset("tiny").segmenter
    net = deeplab.build(3, cfg.net, cfg.train.weight_decay, name="segmenter")
    path = str(tmp_path_factory.mktemp("export") / "saved_model")
    export.export(net, 1.0, ["background", "a", "b"], path)
    return tf.saved_model.load(path)


def _images(seed, n, height, width):
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3)).astype(np.uint8)


def test_batch_endpoint_matches_the_single_image_endpoint(served):
    images = _images(0, 3, 37, 53)
    batch = served.serve_batch(tf.constant(images))
    assert batch["labels"].shape == (3, 37, 53) and batch["labels"].dtype == tf.uint8
    for i in range(3):
        one = served.serve(tf.constant(images[i]))
        np.testing.assert_allclose(batch["probabilities"][i].numpy(), one["probabilities"].numpy(), atol=1e-5)


def test_encoded_endpoint_takes_files_of_any_size(served):
    small, large = _images(1, 1, 30, 41)[0], _images(2, 1, 65, 50)[0]
    files = [cv2.imencode(".png", small[..., ::-1])[1].tobytes(),
             cv2.imencode(".jpg", large[..., ::-1])[1].tobytes()]
    pngs = served.serve_encoded(tf.constant(files))["labels_png"].numpy()
    assert len(pngs) == 2
    for data, encoded in zip(pngs, files):
        labels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        image = tf.io.decode_image(encoded, channels=3).numpy()
        assert labels.shape == image.shape[:2]
        np.testing.assert_array_equal(labels, served.serve(tf.constant(image))["labels"].numpy())


def test_four_channels_and_float_input_are_refused(served):
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected RGB images with 3 channels"):
        served.serve(tf.zeros([20, 20, 4], tf.uint8))
    with pytest.raises((TypeError, ValueError)):
        served.serve(tf.zeros([20, 20, 3], tf.float32))
