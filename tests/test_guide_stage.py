"""What the guide stage's workers run (tfguided/guide/label.label_example): an encoded image, class
maps and saliency probabilities in, seeds / foreground / guide out, on a hand-made case with a
known answer; and the same labeller mapped over a tf.data.Dataset (tfguided/guide/dataset.py):
G2 up to its dense CRF, the seeds and G0 as label_image gives them, the others refused."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from conftest import label_worker as label

from tfguided import configs, registry
from tfguided.configs import GuideConfig
from tfguided.guide.dataset import guide_labels
from tfguided.guide.g2 import g2_args, guide_g2
from tfguided.guide.label import label_image


def _case():
    """A 32x32 image: class 2's map peaks on the left square, saliency covers both squares;
    the right square has no seed (a salient non-target object)."""
    image = np.full((32, 32, 3), 90, np.uint8)
    image[8:24, 2:14] = (200, 40, 40)
    image[8:24, 18:30] = (40, 200, 40)
    cams = np.full((4, 4, 3), -1.0, np.float32)  # class c at channel c-1, one cell per 8x8 block
    cams[1:3, 0:2, 1] = 5.0                      # class 2 on the left square's cells
    saliency = np.zeros((32, 32), np.float32)
    saliency[8:24, 2:14] = 0.9
    saliency[8:24, 18:30] = 0.8
    saliency[0:2, 0:2] = 0.3                     # below 50% of the max: not foreground
    return image, cams, saliency


def test_g2_labels_the_seeded_component_and_ignores_the_unseeded_one():
    image, cams, saliency = _case()
    guide, seeds, foreground = label(image, np.array([2]), cams, saliency, GuideConfig(strategy="g2"))
    np.testing.assert_array_equal(foreground, saliency >= 0.45)
    assert set(np.unique(seeds)) == {0, 2} and np.all(seeds[:, 20:] == 0)
    assert np.all(guide[8:24, 2:14] == 2)        # the seeded component takes the seed's class
    assert np.all(guide[8:24, 18:30] == 255)     # no seed touches it: ignore
    outside = np.ones((32, 32), bool)
    outside[8:24, 2:14] = outside[8:24, 18:30] = False
    bleeding = outside & (seeds > 0)
    assert bleeding.any() and np.all(guide[bleeding] == 255)  # seed outside its component
    assert np.all(guide[outside & (seeds == 0)] == 0)


def test_seeds_strategy_returns_the_seeds():
    image, cams, saliency = _case()
    guide, seeds, _ = label(image, np.array([2]), cams, saliency, GuideConfig(strategy="seeds"))
    np.testing.assert_array_equal(guide, seeds)


def test_the_labeller_maps_over_a_tf_dataset_as_the_workers_label():
    """guide_labels inside Dataset.map gives the worker's guide; class maps at the CAMs' geometry."""
    image, cams, saliency = _case()
    cfg = GuideConfig(strategy="g2")
    labels = np.array([2, 0], np.int64)  # padded: 0 is no label
    data = tf.data.Dataset.from_tensors((image, labels, cams, saliency))
    guides = list(data.map(guide_labels(cfg, cam_geometry=(8, 3.5))).as_numpy_iterator())
    expected, _, _ = label(image, np.array([2]), cams, saliency, cfg)
    assert len(guides) == 1 and guides[0].dtype == np.uint8
    np.testing.assert_array_equal(guides[0], expected)


def _guide(strategy):
    """The tiny preset's guide section with `strategy`."""
    return dataclasses.replace(configs.preset("tiny").guide, strategy=strategy)


def _two_classes_in_one_component():
    """A 48x48 image with one salient rectangle (rows 8-39, columns 4-43), red on its left half
    and green on its right; class maps at the image's size (geometry (1, 0)): class 1 on the
    left part, class 2 on the right, each inside the rectangle. Labels padded with 0."""
    image = np.full((48, 48, 3), 90, np.uint8)
    image[8:40, 4:24] = (200, 40, 40)
    image[8:40, 24:44] = (40, 200, 40)
    maps = np.zeros((48, 48, 2), np.float32)
    maps[14:34, 8:18, 0] = 1.0
    maps[14:34, 30:40, 1] = 1.0
    saliency = np.zeros((48, 48), np.float32)
    saliency[8:40, 4:44] = 0.9
    component = saliency > 0
    return image, np.array([1, 2, 0], np.int64), maps, saliency, component


def _in_tf_data(guide_fn, *example):
    """guide_fn mapped over a one-example Dataset; its one guide."""
    (guide,) = tf.data.Dataset.from_tensors(example).map(guide_fn).as_numpy_iterator()
    return guide


def _eagerly(guide_fn, *example):
    """guide_fn called on tensors outside any graph."""
    return guide_fn(*map(tf.constant, example)).numpy()


@pytest.mark.parametrize("run", [_eagerly, _in_tf_data], ids=["eagerly", "in_dataset_map"])
def test_g2_in_tf_data_reaches_the_dense_crf_of_a_component_two_seed_classes_touch(run):
    """Both seed classes touch the one salient component, so G2 labels it with its dense CRF:
    the labeller gives exactly what guide_g2 gives on the same seeds and foreground, and the CRF
    splits the component between the two classes."""
    image, labels, maps, saliency, component = _two_classes_in_one_component()
    cfg = _guide("g2")
    _, seeds, foreground = label_image(image, "", labels[labels > 0], maps, (1.0, 0.0), saliency, None, cfg)
    assert set(np.unique(seeds[component])) == {0, 1, 2}
    expected = guide_g2(image, seeds, foreground, **g2_args(cfg))
    assert set(np.unique(expected[component])) == {1, 2}  # the CRF's labels, no seedless pixel ignored
    guide = run(guide_labels(cfg), image, labels, maps, saliency)
    assert guide.dtype == np.uint8
    np.testing.assert_array_equal(guide, expected)


@pytest.mark.parametrize("strategy", ["seeds", "g0"])
def test_seeds_and_g0_in_tf_data_are_what_label_image_gives(strategy):
    """The seeds, and G0's per-image draw (the image id goes through tf.data: across ids it
    draws both labels), as label_image gives them called directly."""
    image, labels, maps, saliency, component = _two_classes_in_one_component()
    cfg = _guide(strategy)
    guide_fn = guide_labels(cfg)
    found = set()
    for image_id in (f"photo_{k}" for k in range(4)):
        expected, _, _ = label_image(image, image_id, labels[labels > 0], maps, (1.0, 0.0), saliency, None, cfg)
        np.testing.assert_array_equal(_in_tf_data(guide_fn, image, labels, maps, saliency, image_id), expected)
        found |= set(np.unique(expected[component]).tolist())
    assert found == ({0, 1, 2} if strategy == "seeds" else {1, 2})


@pytest.mark.parametrize("strategy", ["g1", "oracle"])
def test_labellers_that_cannot_run_in_tf_data_are_refused(strategy):
    """G1 needs the classifier, the oracle the ground-truth masks: neither is in the map."""
    with pytest.raises(ValueError) as refused:
        guide_labels(_guide(strategy))
    allowed = ", ".join(registry.GUIDES.where(in_tf_data=True))
    assert str(refused.value) == (f"guide.strategy={strategy!r}: in tf.data choose one of {allowed} "
                                  "(no classifier, no masks)")
    assert strategy not in registry.GUIDES.where(in_tf_data=True)


def _network_outputs(tmp_path):
    """Items as the guide stage's network_outputs gives them: photos of three sizes, class maps
    at a GAP-HighRes-like geometry per image, saliency as probabilities or an MB+ map PNG."""
    import cv2
    from tfguided.scoremaps import resized_geometry
    items = []
    for k, (height, width) in enumerate([(32, 32), (40, 28), (24, 36)]):
        image, labels, maps, saliency, _ = _two_classes_in_one_component()
        image, saliency = cv2.resize(image, (width, height)), cv2.resize(saliency, (width, height))
        if k == 2:  # the MB+ stage's map, by path
            path = str(tmp_path / "photo_2.png")
            cv2.imwrite(path, np.round(saliency * 65535).astype(np.uint16))  # as saliency/mbd.py map_png
            saliency = path
        items.append({"id": f"photo_{k}", "image": cv2.imencode(".png", image[..., ::-1])[1].tobytes(),
                      "labels": labels[labels > 0], "cams": maps[::6, ::6], "mask_png": b"", "gt": None,
                      "cam_geometry": resized_geometry(6.0, 2.5, 48, (height, width)), "saliency": saliency})
    return items


@pytest.mark.parametrize("strategy", ["seeds", "g0", "g2"])
def test_the_stage_labelling_in_tf_data_is_the_worker_processes(strategy, tmp_path):
    """guide.labeller=tf_data (labelled_items: Dataset.map through tf.numpy_function) gives what
    the worker processes give (parallel.ordered_map of label_example), item for item, in order."""
    from tfguided import parallel
    from tfguided.guide.dataset import labelled_items
    from tfguided.guide.label import label_args, label_example
    cfg = dataclasses.replace(_guide(strategy), labeller="tf_data")
    items = _network_outputs(tmp_path)
    expected = list(parallel.ordered_map(label_example, items, lambda item: label_args(item, cfg), workers=2))
    got = list(labelled_items(iter(items), cfg, in_flight=2))
    assert [item["id"] for item, _ in got] == [item["id"] for item, _ in expected] == ["photo_0", "photo_1", "photo_2"]
    for (_, mine), (_, theirs) in zip(got, expected):
        for a, b in zip(mine, theirs):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a, b)
                assert a.dtype == np.asarray(b).dtype


def test_the_tf_data_labeller_is_refused_for_a_guide_it_cannot_run_when_the_config_is_built():
    with pytest.raises(ValueError, match="guide.labeller=tf_data: guide.strategy=oracle needs the classifier or masks"):
        configs.override(configs.preset("tiny"), ["guide.strategy=oracle", "guide.labeller=tf_data"])
    with pytest.raises(ValueError, match="guide.labeller"):
        configs.override(configs.preset("tiny"), ["guide.labeller=threads"])
    assert configs.override(configs.preset("tiny"), ["guide.labeller=tf_data"]).guide.labeller == "tf_data"
