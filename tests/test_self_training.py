"""Self-training rounds (issue 14, beyond the paper): the next guide from the previous round's
segmenter, restricted to the image labels, CRF-refined, unconfident pixels ignored."""

import json
import os

import numpy as np
import pytest

from conftest import run_cli
from tfguided import configs
from tfguided.crf import dense_crf
from tfguided.data import records
from tfguided.data.labelmap import IGNORE
from tfguided.guide.self_training import relabel, restrict_to_labels
from tfguided.stages.context import Context


def test_classes_outside_the_image_labels_are_removed_by_hand():
    probs = np.array([[[0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.0, 0.0, 1.0]]], np.float32)
    out = restrict_to_labels(probs, [1])
    np.testing.assert_allclose(out, [[[0.2 / 0.7, 0.5 / 0.7, 0], [0.5, 0.5, 0], [1, 0, 0]]], rtol=1e-6)


def test_relabel_is_the_crf_of_the_restricted_probabilities_with_unsure_pixels_ignored():
    """Against pydensecrf (crf.dense_crf) on the restricted probabilities: labels where the CRF
    is sure, 255 where its top probability is below the threshold; a class the image is not
    labelled with never appears."""
    rng = np.random.default_rng(0)
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, 30:] = (200, 40, 40)
    image = np.clip(image + rng.integers(0, 20, image.shape), 0, 255).astype(np.uint8)
    probs = np.full((40, 60, 4), 0.1, np.float32)
    probs[:, :30, 0] = 0.7          # left: background
    probs[:, 30:, 3] = 0.7          # right: class 3, not in the image's labels
    probs[:, 30:, 2] = 0.5          # ... with class 2 second
    probs[:, 28:32] = 0.25          # the border: undecided
    probs /= probs.sum(-1, keepdims=True)
    guide = relabel(image, probs, [2], min_confidence=0.8)
    refined = dense_crf(image, restrict_to_labels(probs, [2]), "deeplab", 10)
    expected = np.where(refined.max(-1) < 0.8, IGNORE, refined.argmax(-1))
    np.testing.assert_array_equal(guide, expected)
    assert set(np.unique(guide)) <= {0, 2, IGNORE} and (guide == 2).mean() > 0.3 and (guide == 0).mean() > 0.3
    assert (relabel(image, probs, [2], min_confidence=0.0) != IGNORE).all()


def test_round_names_and_the_refusal_with_ground_truth(tmp_path):
    """The round's settings name rounds 2 and later only; round 1 stays the plain G2 run, and
    changing how later rounds label rebuilds them, not round 1."""
    cfg = configs.override(configs.preset("tiny"), ["self_training.rounds=3", "self_training.min_confidence=0.9"])
    ctx = Context(cfg, str(tmp_path))
    assert ctx.stage_name("segmenter") == "segmenter-g2,self_training.min_confidence=0.9,self_training.rounds=3"
    assert ctx.previous_round().stage_name("guide") == (
        "guide-g2,self_training.min_confidence=0.9,self_training.rounds=2")
    assert ctx.previous_round().previous_round().stage_name("segmenter") == "segmenter-g2"
    assert ctx.stage_name("seeder") == "seeder"
    views = Context(configs.override(configs.preset("tiny"), ["self_training.rounds=2",
                                                              "self_training.tta.flip=true"]), str(tmp_path))
    assert views.stage_name("guide") == "guide-g2,self_training.rounds=2,self_training.tta.flip=True"
    assert views.stage_name("evaluate") == "evaluate-g2,self_training.rounds=2,self_training.tta.flip=True"
    gt = configs.override(configs.preset("tiny"), ["self_training.rounds=2"])
    gt.guide.strategy = "gt"
    with pytest.raises(ValueError, match="self_training.rounds=2: self-training rounds need a guide"):
        Context(gt, str(tmp_path))
    with pytest.raises(ValueError, match="has no effect with self_training.rounds=1"):
        configs.override(configs.preset("tiny"), ["self_training.min_confidence=0.5"])


@pytest.mark.slow
def test_a_second_round_on_the_tiny_preset(tiny_run):
    """--rounds=2 after the tiny chain: round 1 is reused; a round-2 guide made from round 1's
    segmenter and a round-2 segmenter are written and scored."""
    workdir, _ = tiny_run
    out = run_cli(["train_main.py", "--stage=segmenter", "--preset=tiny", f"--workdir={workdir}",
                   "--rounds=2"]).stdout
    assert "[segmenter] reusing" in out and "round 1's segmenter (self-training)" in out
    guide_dir = os.path.join(workdir, "guide-g2,self_training.rounds=2")
    manifest = records.read_manifest(guide_dir)
    assert manifest["round"] == 2 and manifest["splits"]["train"]["count"] == 240
    quality = json.load(open(os.path.join(guide_dir, "quality.json")))
    assert quality["pseudo_label_miou"] > 30
    labels = {ex["id"]: set(ex["labels"]) for ex in records.iterate_numpy(guide_dir, "train")}
    from tfguided.data import labelmap
    for ex in records.iterate_numpy(guide_dir, "train"):
        guide = labelmap.decode_label_png(ex["mask"])
        assert set(np.unique(guide)) <= {0, IGNORE} | labels[ex["id"]]
    metrics = json.load(open(os.path.join(workdir, "evaluate-g2,self_training.rounds=2", "metrics.json")))
    assert metrics["miou"] > 30


@pytest.mark.slow
def test_dry_run_lists_every_round_in_build_order():
    """--dry_run with rounds: each round's guide and segmenter directories, round 1 first (the
    names a real run builds, so a user sees what a third round adds before paying for it)."""
    from tfguided.stages import pipeline
    out = pipeline.dry_run(configs.override(configs.preset("tiny"), ["self_training.rounds=3"]), "guide")
    rounds = [line for line in out.splitlines() if line.startswith("self-training round")]
    assert rounds == ["self-training round 1: guide-g2 -> segmenter-g2",
                      "self-training round 2: guide-g2,self_training.rounds=2 -> segmenter-g2,self_training.rounds=2",
                      "self-training round 3: guide-g2,self_training.rounds=3 -> segmenter-g2,self_training.rounds=3"]
    assert "self-training round" not in pipeline.dry_run(configs.preset("tiny"), "guide")
