"""The SavedModel's endpoints (stages/export.py): one image, a same-size batch, encoded files of
any sizes and formats; the serving signatures unchanged; any other input refused with one
message naming the endpoint, the input and what it takes."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from tfguided import configs
from tfguided.data import imageio
from tfguided.inference import full_size_fn
from tfguided.models import deeplab
from tfguided.stages import export


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cfg = configs.preset("tiny").segmenter
    net = deeplab.build(3, cfg.net, cfg.train.weight_decay, name="segmenter")
    path = str(tmp_path_factory.mktemp("export") / "saved_model")
    export.export(net, 1.0, ["background", "a", "b"], path)
    return net, tf.saved_model.load(path)


@pytest.fixture(scope="module")
def served(exported):
    return exported[1]


def _images(seed, n, height, width):
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3)).astype(np.uint8)


def _encoded(image, ext):
    return cv2.imencode(ext, image[..., ::-1])[1].tobytes()


def test_batch_endpoint_matches_the_single_image_endpoint(served):
    images = _images(0, 3, 37, 53)
    batch = served.serve_batch(tf.constant(images))
    assert batch["labels"].shape == (3, 37, 53) and batch["labels"].dtype == tf.uint8
    for i in range(3):
        one = served.serve(tf.constant(images[i]))
        np.testing.assert_allclose(batch["probabilities"][i].numpy(), one["probabilities"].numpy(), atol=1e-5)


def test_encoded_endpoint_takes_files_of_any_size_and_format(served):
    sizes = [(30, 41), (65, 50), (23, 31), (40, 29), (33, 33)]
    files = [_encoded(_images(seed, 1, h, w)[0], ext)
             for seed, ((h, w), ext) in enumerate(zip(sizes, [".png", ".jpg", ".bmp", ".webp", ".gif"]))]
    pngs = served.serve_encoded(tf.constant(files))["labels_png"].numpy()
    assert len(pngs) == len(files)
    for data, encoded in zip(pngs, files):
        labels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        image = imageio.decode_image(encoded)
        assert labels.shape == image.shape[:2]
        np.testing.assert_array_equal(labels, served.serve(tf.constant(image))["labels"].numpy())


def test_signatures_keep_their_uint8_inputs_and_give_the_networks_labels(exported):
    net, served = exported
    assert sorted(served.signatures) == ["serve", "serve_batch", "serve_encoded", "serving_default"]
    inputs = {name: sig.structured_input_signature for name, sig in served.signatures.items()}
    assert inputs["serve"] == inputs["serving_default"] == (
        (), {"images": tf.TensorSpec([None, None, None], tf.uint8, name="images")})
    assert inputs["serve_batch"] == ((), {"images": tf.TensorSpec([None] * 4, tf.uint8, name="images")})
    assert inputs["serve_encoded"] == ((), {"images": tf.TensorSpec([None], tf.string, name="images")})
    assert sorted(served.signatures["serve"].structured_outputs) == ["labels", "probabilities"]
    assert list(served.signatures["serve_encoded"].structured_outputs) == ["labels_png"]

    image = _images(3, 1, 45, 38)[0]
    expected = full_size_fn(net, 1.0)(image)
    by_signature = served.signatures["serving_default"](images=tf.constant(image))
    by_endpoint = served.serve(image=tf.constant(image))
    batch = served.signatures["serve_batch"](images=tf.constant(image[None]))
    np.testing.assert_allclose(by_signature["probabilities"].numpy(), expected, atol=1e-5)
    for labels in (by_signature["labels"], by_endpoint["labels"], batch["labels"][0]):
        assert labels.dtype == tf.uint8
        np.testing.assert_array_equal(labels.numpy(), by_signature["labels"].numpy())
    top2 = np.sort(expected, axis=-1)[..., -2:]
    clear = top2[..., 1] - top2[..., 0] > 1e-4  # pixels that are not near-ties
    np.testing.assert_array_equal(by_signature["labels"].numpy()[clear], expected.argmax(-1)[clear])


PNG = _encoded(np.zeros((4, 5, 3), np.uint8), ".png")
REFUSED = {  # case: (endpoint, input, the message its error's own text starts with)
    "empty_image": ("serve", np.zeros([0, 10, 3], np.uint8),
                    "serve: images must be uint8 RGB [H, W, 3] with H, W >= 1; got shape [0, 10, 3]"),
    "empty_batch": ("serve_batch", np.zeros([0, 16, 16, 3], np.uint8),
                    "serve_batch: empty batch (N = 0): give at least one image"),
    "batch_of_empty_images": ("serve_batch", np.zeros([2, 0, 5, 3], np.uint8),
                              "serve_batch: images must be uint8 RGB [N, H, W, 3] with N, H, W >= 1; got shape "
                              "[2, 0, 5, 3]"),
    "four_channels": ("serve", np.zeros([20, 20, 4], np.uint8),
                      "serve: expected RGB images with 3 channels, got 4 (drop an alpha channel"),
    "non_image_bytes": ("serve_encoded", np.array([PNG, PNG, b"GIF is not this", PNG], object),
                        "serve_encoded: images[2] is not a JPEG, PNG, GIF, BMP or WebP file"),
    "empty_file": ("serve_encoded", np.array([b""], object),
                   "serve_encoded: images[0] is not a JPEG, PNG, GIF, BMP or WebP file"),
}
WRONG_DTYPE_OR_RANK = {  # case: (endpoint, input, the signature TensorFlow names as expected)
    "float32_image": ("serve", np.full([20, 20, 3], 0.5, np.float32), "shape=(None, None, None), dtype=tf.uint8"),
    "float64_batch": ("serve_batch", np.full([2, 20, 20, 3], 0.5, np.float64),
                      "shape=(None, None, None, None), dtype=tf.uint8"),
    "batch_to_serve": ("serve", np.zeros([2, 20, 20, 3], np.uint8), "shape=(None, None, None), dtype=tf.uint8"),
    "one_file_not_in_a_list": ("serve_encoded", np.array(PNG, object), "shape=(None,), dtype=tf.string"),
    "pixels_to_serve_encoded": ("serve_encoded", np.zeros([2, 8, 8, 3], np.uint8), "shape=(None,), dtype=tf.string"),
}
RAW_ERRORS = ("Incompatible shapes", "Negative dimension", "Binding inputs", "Unknown image file format",
              "Can not cast", "segmenter")


def _op_message(error):
    """The op's own error text, below TensorFlow's "Graph execution error" header (the failing
    node's name and where it was defined)."""
    lines = str(error).splitlines()
    assert lines[0] == "Graph execution error:", str(error)
    rest = lines[1:]
    while rest and (not rest[0] or rest[0].startswith("Detected at node ") or rest[0] == "<stack traces unavailable>"):
        rest = rest[1:]
    return "\n".join(rest)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_wrong_input_is_refused_with_one_message_naming_endpoint_and_input(served, case):
    endpoint, value, message = REFUSED[case]
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        getattr(served, endpoint)(tf.constant(value))
    own = _op_message(info.value)
    assert own.startswith(f"assertion failed: [{message}"), own
    assert not any(raw in str(info.value) for raw in RAW_ERRORS), str(info.value)


@pytest.mark.parametrize("case", sorted(WRONG_DTYPE_OR_RANK))
def test_another_dtype_or_rank_is_refused_by_the_signature_before_anything_runs(served, case):
    """One trace per endpoint keeps a loaded endpoint from retracing each image size, so a wrong
    dtype or rank meets TensorFlow's own binding check: a TypeError that names the input the
    endpoint takes (the module docstring says why there is no one-line message here)."""
    endpoint, value, expected = WRONG_DTYPE_OR_RANK[case]
    with pytest.raises(TypeError) as info:
        getattr(served, endpoint)(tf.constant(value))
    assert "Can not cast TensorSpec" in str(info.value) and expected in str(info.value), str(info.value)[:600]
