"""The embedded demo data: deterministic, and it contains what the paper is about (issue 2 item 3)."""

import os

import numpy as np
import pytest

from tfguided import configs, files
from tfguided.data import labelmap
from tfguided.sources import msra, synthetic, voc


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    cfg = configs.preset("tiny").data.synthetic
    a = tmp_path_factory.mktemp("a")
    synthetic.generate(str(a), cfg, rng_seed=3)
    return cfg, a


def _file_bytes(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            out[os.path.relpath(os.path.join(dirpath, n), root)] = open(os.path.join(dirpath, n), "rb").read()
    return out


def test_same_seed_same_bytes_other_seed_other_bytes(generated, tmp_path):
    cfg, a = generated
    synthetic.generate(str(tmp_path / "b"), cfg, rng_seed=3)
    synthetic.generate(str(tmp_path / "c"), cfg, rng_seed=4)
    assert _file_bytes(a) == _file_bytes(tmp_path / "b")
    assert _file_bytes(a) != _file_bytes(tmp_path / "c")


def test_voc_layout_and_scene_statistics(generated):
    cfg, a = generated
    root = a / "VOC2012"
    labels = voc.read_image_labels(str(root / "image_labels.tsv"))
    names = files.read_lines(str(root / "class_names.txt"))
    assert names[0] == "background" and len(names) == cfg.num_classes + 1
    ids = voc.read_split_ids(str(root), "train")
    assert len(ids) == cfg.train and len(voc.read_split_ids(str(root), "val")) == cfg.val
    multi, small, large, void = 0, 0, 0, 0
    for i in ids:
        mask = labelmap.read_label_png(str(root / "SegmentationClass" / f"{i}.png"))
        present = tuple(int(c) for c in np.unique(mask) if 0 < c < 255)
        assert present == labels[i] and present, i  # labels = classes present, never none
        multi += len(present) >= 2
        areas = [np.mean(mask == c) for c in present]
        small += min(areas) < 0.02
        large += max(areas) > 0.1
        void += np.any(mask == 255)
    n = len(ids)
    assert multi / n > 0.25, "several classes per image"
    assert small / n > 0.1 and large / n > 0.1, "small and large objects"
    assert void == n, "VOC-style void borders"


def test_rails_context_co_occurs_with_wagon():
    """Rails are drawn for (nearly) every wagon scene and rarely otherwise: the train/rails problem."""
    rng = np.random.default_rng(0)
    names = ["background"] + list(synthetic.TARGET_KINDS)
    with_wagon, without = [], []
    for _ in range(150):
        calls = []
        original = synthetic.draw_rails
        synthetic.draw_rails = lambda *a, **k: calls.append(1) or original(*a, **k)
        try:
            _, mask = synthetic.scene(rng, 64, names)
        finally:
            synthetic.draw_rails = original
        (with_wagon if np.any(mask == names.index("wagon")) else without).append(bool(calls))
    assert np.mean(with_wagon) > 0.9 and np.mean(without) < 0.2


def test_distractors_are_painted_but_background_in_the_truth(monkeypatch):
    """scene() paints non-target objects (label 0) into the image; where no later object covers
    them, the ground truth there is background, like non-VOC objects in VOC."""
    names = ["background"] + list(synthetic.TARGET_KINDS)
    calls = []
    original = synthetic.paint_object

    def recording(img, labels, rng, polys, centre, radius, angle, label, hue=None):
        mask = original(img, labels, rng, polys, centre, radius, angle, label, hue)
        calls.append((label, mask.copy()))
        return mask

    monkeypatch.setattr(synthetic, "paint_object", recording)
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(40):
        calls.clear()
        image, truth = synthetic.scene(rng, 64, names)
        for n, (label, mask) in enumerate(calls):
            if label != 0 or mask.sum() < 200:
                continue
            visible = mask.copy()
            for _, later in calls[n + 1:]:
                visible &= ~later
            small = visible.reshape(64, 2, 64, 2).all(axis=(1, 3))  # fully visible 1x pixels
            inside = small & (truth != 255)
            if inside.sum() < 10:
                continue
            assert np.all(truth[inside] == 0)
            saturation = image.max(-1).astype(int) - image.min(-1)
            assert np.median(saturation[inside]) > 60  # vivid, i.e. salient
            checked += 1
    assert checked >= 5
    assert not set(synthetic.NON_TARGET_KINDS) & set(names)


def test_saliency_set_has_several_annotators_and_converts(generated, tmp_path):
    cfg, a = generated
    entries = msra.read_label_file(str(a / "MSRA" / "labels.txt"))
    assert len(entries) == cfg.saliency
    assert all(len(boxes) == cfg.annotators >= 3 for _, _, _, boxes in entries)
    for _, w, h, boxes in entries:
        assert np.all(boxes[:, 0] <= boxes[:, 2]) and np.all(boxes[:, 2] < w) and np.all(boxes[:, 3] < h)
    manifest = msra.convert(str(a / "MSRA"), str(tmp_path / "msra"), verbose=False)
    assert manifest["splits"]["train"]["count"] == cfg.saliency
