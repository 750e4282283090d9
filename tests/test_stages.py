"""Stage directories and reuse (DESIGN.md §2): names carry config differences; done stages are reused."""

import dataclasses
import json
import os

import pytest

from tfguided import configs
from tfguided.data import records
from tfguided.stages import pipeline, table
from tfguided.stages.context import Context


def _ctx(tmp_path, *overrides, guide="g2"):
    cfg = configs.override(configs.preset("tiny"), list(overrides))
    cfg.guide.strategy = guide
    return Context(cfg, str(tmp_path))


def _fake_runners(monkeypatch, **runners):
    """The data stage does nothing, and each named stage runs `runners[name]`."""
    runners = {"data": lambda c: {}, **runners}
    for name, runner in runners.items():
        monkeypatch.setitem(table.STAGES, name, dataclasses.replace(table.STAGES[name], runner=runner))


def test_names_carry_only_relevant_differences(tmp_path):
    base = _ctx(tmp_path)
    assert [base.stage_name(s) for s in ("seeder", "saliency", "guide", "segmenter", "evaluate")] == [
        "seeder", "saliency", "guide-g2", "segmenter-g2", "evaluate-g2"]
    tau = _ctx(tmp_path, "guide.tau=0.3")
    assert tau.stage_name("seeder") == "seeder"  # reused: its seed panels are seed_eval's
    assert tau.stage_name("seed_eval") == "seed_eval,guide.tau=0.3"
    assert tau.stage_name("saliency") == "saliency"
    assert tau.stage_name("guide") == "guide-g2,guide.tau=0.3"
    assert tau.stage_name("evaluate") == "evaluate-g2,guide.tau=0.3"
    assert _ctx(tmp_path, "guide.panels=2").stage_name("guide") == "guide-g2"


def test_test_time_views_name_only_the_stages_that_use_them(tmp_path):
    """TTA is inference: the segmenter's views name evaluate and export (not the trained
    segmenter); the saliency net's and the seeder's name the guide (and seed_eval), not the
    trained networks."""
    views = _ctx(tmp_path, "evaluate.tta.scales=0.5,1", "evaluate.tta.flip=true")
    assert views.stage_name("segmenter") == "segmenter-g2"
    assert views.stage_name("evaluate") == "evaluate-g2,evaluate.tta.flip=True,evaluate.tta.scales=0.5+1.0"
    assert views.stage_name("export") == "export-g2,evaluate.tta.flip=True,evaluate.tta.scales=0.5+1.0"
    saliency_views = _ctx(tmp_path, "guide.saliency_tta.flip=true")
    assert saliency_views.stage_name("saliency") == "saliency"
    assert saliency_views.stage_name("guide") == "guide-g2,guide.saliency_tta.flip=True"
    seed_views = _ctx(tmp_path, "guide.seed_tta.scales=0.5,1")
    assert seed_views.stage_name("seeder") == "seeder"
    assert seed_views.stage_name("seed_eval") == "seed_eval,guide.seed_tta.scales=0.5+1.0"
    assert seed_views.stage_name("guide") == "guide-g2,guide.seed_tta.scales=0.5+1.0"


def test_names_leave_out_the_networks_a_guide_or_seeder_does_not_use(tmp_path):
    over = ("seeder.train.steps=5", "classifier.train.steps=6", "saliency.train.steps=7")
    assert _ctx(tmp_path, *over, guide="g0").stage_name("guide") == "guide-g0,saliency.train.steps=7"
    assert _ctx(tmp_path, *over, guide="g1").stage_name("segmenter") == (
        "segmenter-g1,classifier.train.steps=6,saliency.train.steps=7")
    assert _ctx(tmp_path, *over, guide="oracle").stage_name("guide") == "guide-oracle,seeder.train.steps=5"
    assert _ctx(tmp_path, *over).stage_name("seed_eval") == "seed_eval,seeder.train.steps=5"
    backprop = _ctx(tmp_path, "seeder.arch=vanilla", "seeder.crf.params=sec", "classifier.train.steps=6")
    assert backprop.stage_name("seed_eval") == (
        "seed_eval,classifier.train.steps=6,seeder.arch=vanilla,seeder.crf.params=sec")
    assert pipeline.dependencies(backprop, "seed_eval") == ("classifier",)
    with pytest.raises(ValueError, match="--seeder=vanilla is for --stage=seed_eval"):
        pipeline.dependencies(backprop, "guide")


def test_ground_truth_runs_ignore_guide_settings(tmp_path):
    gt = _ctx(tmp_path, "guide.tau=0.3", "seeder.train.steps=5", guide="gt")
    assert gt.stage_name("segmenter") == "segmenter-gt"
    assert pipeline.dependencies(gt, "segmenter") == ("data",)
    with pytest.raises(ValueError, match="no guide stage"):
        pipeline.dependencies(gt, "guide")


def test_long_names_are_hashed(tmp_path):
    ctx = _ctx(tmp_path, "seeder.train.steps=5", "seeder.train.learning_rate=0.002",
               "seeder.net.fc_units=32", "seeder.train.decay_every=3", "seeder.train.rng_seed=9")
    name = ctx.stage_name("seeder")
    assert name.startswith("seeder,cfg") and len(name) < 40


def _fake_data(ctx, tag="a"):
    for d in (ctx.target_dir, ctx.saliency_dir):
        os.makedirs(d, exist_ok=True)
        records.write_manifest(d, tag, {}, 3, ["bg", "a", "b", "c"])


def test_finished_stage_is_reused_not_rerun(tmp_path, monkeypatch):
    ctx = _ctx(tmp_path)
    _fake_data(ctx)
    calls = []
    _fake_runners(monkeypatch, seeder=lambda c, d: calls.append(d) or {"x": 1})
    assert pipeline.ensure(ctx, "seeder", log=lambda m: None)["x"] == 1
    assert pipeline.ensure(ctx, "seeder", log=lambda m: None)["x"] == 1
    assert calls == [os.path.join(str(tmp_path), "seeder")]
    assert os.path.exists(os.path.join(str(tmp_path), "seeder", "config.json"))
    _fake_data(ctx, tag="other")  # the same workdir with other data must not be reused silently
    with pytest.raises(ValueError, match="finished on other data"):
        pipeline.ensure(ctx, "seeder", log=lambda m: None)


def _finished(ctx, monkeypatch, stage):
    """Runs `stage` (a fake runner, fake data); returns its done.json's path and contents."""
    _fake_data(ctx)
    _fake_runners(monkeypatch, **{stage: lambda c, d: {"x": 1}})
    pipeline.ensure(ctx, stage, log=lambda m: None)
    done_path = os.path.join(ctx.stage_dir(stage), "done.json")
    return done_path, json.loads(open(done_path).read())


def test_stage_finished_under_another_preset_version_is_refused(tmp_path, monkeypatch):
    """Names are relative to the preset: if a preset's default changes between versions, the old
    `saliency` directory must not pass for the new one; settings of other sections do not matter."""
    ctx = _ctx(tmp_path)
    done_path, done = _finished(ctx, monkeypatch, "saliency")
    del done["config"]["saliency"]["net"]["scale"]  # as written before the field existed
    done["config"]["data"]["voc_root"] = "/elsewhere/VOC2012"  # the data's identity is the fingerprint's
    open(done_path, "w").write(json.dumps(done))
    other_section = _ctx(tmp_path)
    other_section.defaults.seeder.train.steps = other_section.config.seeder.train.steps = 3
    assert pipeline.ensure(other_section, "saliency", log=lambda m: None)["x"] == 1
    newer = _ctx(tmp_path)
    newer.defaults.saliency.net.scale = newer.config.saliency.net.scale = 2.0  # same name, other meaning
    assert newer.stage_name("saliency") == "saliency"
    with pytest.raises(ValueError, match=r"saliency: finished with other settings .*saliency\.net\.scale"):
        pipeline.ensure(newer, "saliency", log=lambda m: None)


def test_a_stage_finished_before_the_rng_seed_rename_is_reused_by_its_seed(tmp_path, monkeypatch):
    """done.json written when the fields were called `seed`: read as rng_seed, so the same seed
    reuses the stage and another one is refused by name."""
    ctx = _ctx(tmp_path)
    done_path, done = _finished(ctx, monkeypatch, "seeder")
    for section in (done["config"]["data"], done["config"]["seeder"]["train"]):
        section["seed"] = section.pop("rng_seed")
    open(done_path, "w").write(json.dumps(done))
    assert ctx.is_done("seeder")
    done["config"]["seeder"]["train"]["seed"] = 3
    open(done_path, "w").write(json.dumps(done))
    with pytest.raises(ValueError, match=r"seeder\.train\.rng_seed"):
        ctx.is_done("seeder")


def test_data_from_a_voc_folder_needs_no_saliency_set_with_mbd(tmp_path, tiny_data):
    """data.target_root (the voc_mini preset's source): the VOC folder is converted into the
    workdir; with MB+ saliency nothing else is needed, with the saliency net the missing saliency
    set is named."""
    voc_root = str(tiny_data / "raw" / "VOC2012")
    source = [f"data.target_source=voc", f"data.target_root={voc_root}", "data.saliency_source="]
    ctx = _ctx(tmp_path / "a", *source, "saliency.method=mbd")
    counts = pipeline.ensure(ctx, "data", log=lambda m: None)
    assert counts == {"target/train": 240, "target/val": 48}
    assert not os.path.exists(ctx.saliency_dir)
    with pytest.raises(FileNotFoundError, match="data.saliency_source is empty, so there is no saliency set: use "
                                                "--saliency=mbd"):
        pipeline.ensure(_ctx(tmp_path / "b", *source), "data", log=lambda m: None)


def test_missing_converted_data_is_explained(tmp_path):
    cfg = configs.preset("tiny")
    ctx = Context(cfg, str(tmp_path / "work"), data_dir=str(tmp_path / "nodata"))
    with pytest.raises(FileNotFoundError, match=r"no converted target set \(.*nodata/target\) and no saliency set .*python -m tfrecords_tools SOURCE"):
        pipeline.ensure(ctx, "seeder", log=lambda m: None)
