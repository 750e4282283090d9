"""A user's files are never lost and never misread: conversion into a folder that holds other
files, leftovers of killed conversions, text inputs written by other tools (byte-order mark,
CRLF), class names that do not match the data, two runs racing for the data stage."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO, run_cli
from tfguided import configs, files
from tfguided.data import records
from tfguided.sources import voc
from tfguided.stages import pipeline
from tfguided.stages.context import Context


def _tiny_voc_root(tiny_data, tmp_path):
    """A copy of the tiny demo's VOC folder (images, masks, lists, labels TSV) to change."""
    root = tmp_path / "VOC2012"
    shutil.copytree(tiny_data / "raw" / "VOC2012", root)
    return root


def test_converting_into_a_folder_with_a_users_file_is_refused_and_keeps_it(tiny_data, tmp_path):
    root, out = _tiny_voc_root(tiny_data, tmp_path), tmp_path / "out"
    voc.convert(str(root), str(out), verbose=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "NOTES.txt").write_text("my notes")
    with pytest.raises(ValueError, match=r"out: holds 1 file\(s\) the converter did not write \(NOTES.txt\)"):
        voc.convert(str(root), str(out), verbose=False)
    assert (out / "NOTES.txt").read_text() == "my notes"
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != "NOTES.txt"} == before
    os.remove(out / "NOTES.txt")
    voc.convert(str(root), str(out), examples_per_shard=100, verbose=False)  # its own files: replaced
    assert sorted(p.name for p in out.iterdir()) == sorted(records.read_manifest(str(out))["files"])


@pytest.mark.slow
def test_a_killed_conversions_staging_folder_is_cleaned_by_the_next_run(tiny_data, tmp_path):
    root, out = _tiny_voc_root(tiny_data, tmp_path), tmp_path / "out"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    proc = subprocess.Popen([sys.executable, "-m", "tfrecords_tools", "voc", f"--voc_root={root}", f"--out={out}",
                             "--examples_per_shard=20"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    staging = []
    while time.time() < deadline and proc.poll() is None:
        staging = [p for p in tmp_path.iterdir() if p.name.startswith(".out.") and p.name.endswith(".partial")]
        if staging and any(p.name.endswith(".tfrecord") for p in staging[0].iterdir()):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert staging and staging[0].exists(), "a killed conversion leaves its staging folder"
    voc.convert(str(root), str(out), verbose=False)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")], "leftovers not cleaned"
    assert records.read_manifest(str(out))["splits"]["train"]["count"] == 240


def test_a_running_conversions_staging_folder_is_left_alone(tmp_path):
    """Only the leftovers of dead runs go: a staging folder whose lock is held stays."""
    import fcntl
    out = tmp_path / "out"
    live = tmp_path / ".out.abc.partial"
    live.mkdir()
    with open(live / records.STAGING_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert records.clean_killed_staging(str(out)) == [] and live.exists()
    assert records.clean_killed_staging(str(out)) == [str(live)] and not live.exists()


def test_text_inputs_with_a_byte_order_mark_and_crlf_are_read(tiny_data, tmp_path):
    """Excel's "CSV UTF-8" and Windows editors: a BOM before the first id, CRLF line ends, in
    the labels TSV, the split lists and class_names.txt."""
    root = _tiny_voc_root(tiny_data, tmp_path)
    for path in [root / "image_labels.tsv", root / "class_names.txt",
                 *(root / "ImageSets" / "Segmentation").glob("*.txt")]:
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    out = tmp_path / "out"
    manifest = voc.convert(str(root), str(out), labels_from="tsv", verbose=False)
    reference = voc.convert(str(tiny_data / "raw" / "VOC2012"), str(tmp_path / "ref"), labels_from="tsv",
                            verbose=False)
    assert manifest["class_names"] == reference["class_names"]
    assert records.content_fingerprint(str(out)) == records.content_fingerprint(str(tmp_path / "ref"))
    assert files.read_lines(str(root / "class_names.txt"))[0] == "background"


@pytest.mark.slow
def test_class_names_the_source_lacks_are_refused_at_the_dry_run():
    proc = run_cli(["train_main.py", "--preset=tiny", "--override=data.classes=disc,trangle", "--dry_run"],
                   check=False)
    assert proc.returncode == 2, proc.stdout[-2000:]
    assert "data.classes=disc,trangle" in proc.stdout and "['trangle'] not among the classes" in proc.stdout


@pytest.mark.slow
def test_data_converted_with_other_classes_is_refused_by_name(tiny_data, tmp_path):
    """--data_dir holds the demo's 3 classes; naming two of them is not silently ignored."""
    config = configs.override(configs.preset("tiny"), ["data.classes=disc,triangle"])
    assert config.num_classes == 2  # naming the classes sets their count
    with pytest.raises(ValueError, match=r"data.classes=disc,triangle: .*voc was converted with the classes "
                                         r"wagon,disc,triangle; convert the data with --classes=disc,triangle"):
        Context(config, str(tmp_path), data_dir=str(tiny_data))
    proc = run_cli(["train_main.py", "--preset=tiny", "--override=data.classes=disc,triangle", "--dry_run",
                    f"--data_dir={tiny_data}"], check=False)
    assert proc.returncode == 2 and "was converted with the classes wagon,disc,triangle" in proc.stdout


def test_a_class_subset_of_the_demo_data_is_converted_as_named(tmp_path):
    config = configs.override(configs.preset("tiny"), ["data.classes=triangle,disc",
                                                       "data.synthetic.train=30", "data.synthetic.val=10"])
    ctx = Context(config, str(tmp_path))
    pipeline.ensure(ctx, "data", log=lambda m: None)
    assert ctx.class_names() == ["background", "triangle", "disc"]
    labels = [set(ex["labels"].tolist()) for ex in records.iterate_numpy(ctx.target_dir, "train")]
    assert labels and all(ls and ls <= {1, 2} for ls in labels)


@pytest.mark.slow
def test_a_second_run_racing_for_the_data_stage_is_refused(tmp_path):
    """Two commands started a second apart on a fresh workdir: the data stage is locked like
    every other stage, so the second stops instead of writing the same folder."""
    workdir = tmp_path / "work"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    first = subprocess.Popen([sys.executable, "train_main.py", "--stage=data", "--preset=tiny",
                              f"--workdir={workdir}"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    lock = workdir / "data" / ".lock"
    deadline = time.time() + 120
    while time.time() < deadline and not (lock.exists() and lock.read_text()):
        assert first.poll() is None, first.stdout.read()[-2000:]
        time.sleep(0.01)
    first.send_signal(signal.SIGSTOP)  # still generating the data while the second one starts
    try:
        second = run_cli(["train_main.py", "--stage=data", "--preset=tiny", f"--workdir={workdir}"], check=False)
    finally:
        first.send_signal(signal.SIGCONT)
    out, _ = first.communicate(timeout=600)
    assert first.returncode == 0, out[-2000:]
    assert second.returncode == 2, second.stdout[-2000:]
    assert f"stage data is being built by another process (pid {first.pid}" in second.stdout


def test_no_masks_on_the_eval_split_logs_no_val_miou(tiny_data, tmp_path):
    """Training without ground truth: the monitor has nothing to score, so no NaN is logged."""
    from tfguided.stages import segmenter
    root = _tiny_voc_root(tiny_data, tmp_path)
    for image_id in files.read_lines(str(root / "ImageSets" / "Segmentation" / "val.txt")):
        os.remove(root / "SegmentationClass" / f"{image_id}.png")
    voc.convert(str(root), str(tmp_path / "data" / "voc"), labels_from="tsv", verbose=False)
    ctx = Context(configs.preset("tiny"), str(tmp_path / "work"), data_dir=str(tmp_path / "data"))
    (monitor,) = segmenter.monitors(ctx)
    callback = monitor(segmenter.build(ctx.config, 3))
    logs = {"loss": 1.0}
    callback.on_epoch_end(0, logs)
    assert logs == {"loss": 1.0}


@pytest.mark.slow
def test_tensorflows_log_lines_go_to_the_stage_log_not_the_console(tiny_run, tmp_path):
    """The export logs screens of INFO lines through TensorFlow's logger: the console shows the
    package's own lines, log.txt keeps TensorFlow's."""
    workdir, _ = tiny_run
    copy = tmp_path / "work"
    shutil.copytree(workdir, copy, ignore=shutil.ignore_patterns("export*"))
    proc = run_cli(["train_main.py", "--stage=export", "--preset=tiny", f"--workdir={copy}"])
    console = proc.stdout
    log = (copy / "export-g2" / "log.txt").read_text()
    assert "[export] done" in console and "INFO" not in console and "NaN" not in console, console[-3000:]
    assert "INFO tensorflow" in log
    assert np.all([line.startswith(("[", "export:", "{", "}", " ", "error")) or not line.strip()
                   for line in console.splitlines()]), console
