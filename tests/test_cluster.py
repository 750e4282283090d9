"""The per-image stages shared by the tasks of a --strategy=multi_worker cluster (issue 23): two
loopback worker processes write the one-process guide records byte for byte and the same
evaluation; a task killed mid-guide keeps its finished shards when the job restarts."""

import os
import shutil
import sys

import pytest

from conftest import run_cli, run_loopback_workers
from tfguided import files
from tfguided.data import records

pytestmark = pytest.mark.slow  # each test runs the stages in worker subprocesses


def _main(workdir, stage, *overrides):
    return [sys.executable, "train_main.py", f"--stage={stage}", "--preset=tiny", "--strategy=multi_worker",
            f"--workdir={workdir}"] + [f"--override={o}" for o in overrides]


def _serialized(guide_dir):
    return [r for path in records.split_files(str(guide_dir), "train") for r in records.read_shard(path)[1]]


def _one_dir(workdir, pattern):
    (found,) = workdir.glob(pattern)
    return found


def test_two_workers_label_and_evaluate_as_one_process(tiny_run, tmp_path):
    """The tiny chain's guide, evaluation and seed evaluation again, as two tasks: each labels
    and scores half the photos; the records' bytes, the content fingerprint, quality.json,
    metrics.json and Table 1's curves are the one-process run's, also after a restart that
    resumes a killed task's part (labelling in tf.data then)."""
    one = tmp_path / "one"
    shutil.copytree(tiny_run[0], one)
    two = tmp_path / "two"
    shutil.copytree(one, two)
    for stage in ("guide-*", "evaluate-*"):
        shutil.rmtree(_one_dir(two, stage))
    chief, other = run_loopback_workers(_main(two, "guide"))
    assert "labelling 120 of 240 training images (part 1 of 2)" in chief and "[guide] done in" in chief
    assert "labelling 120 of 240 training images (part 2 of 2)" in other and "[guide] done in" not in other
    guide_one, guide_two = _one_dir(one, "guide-*"), _one_dir(two, "guide-*")
    assert sorted(p.name for p in guide_two.glob("train-part*.tfrecord")) == [  # 120 images in shards of 100
        f"train-part00{k}of002-0000{j}-of-00002.tfrecord" for k in (0, 1) for j in (0, 1)]
    assert _serialized(guide_two) == _serialized(guide_one)
    assert records.content_fingerprint(str(guide_two)) == records.content_fingerprint(str(guide_one))
    assert files.read_json(guide_two / "quality.json") == files.read_json(guide_one / "quality.json")

    chief, other = run_loopback_workers(_main(two, "evaluate"))
    assert "evaluate: 24 of 48 val images (part 1 of 2)" in chief
    assert "evaluate: 24 of 48 val images (part 2 of 2)" in other
    metrics_one = files.read_json(_one_dir(one, "evaluate-*") / "metrics.json")
    metrics_two = files.read_json(_one_dir(two, "evaluate-*") / "metrics.json")
    assert metrics_two == metrics_one and metrics_one["images_with_masks"] == 48
    assert sorted(p.name for p in _one_dir(two, "evaluate-*").glob("part*.json")) == [
        "part000of002.json", "part001of002.json"]

    # A task killed after the first shard of its part (as tests/test_kill_resume.py leaves it: the
    # shard and sidecar written, a temporary file of the next), the job restarted: each task keeps
    # what it finished and labels only the rest, into the same records - here with the labelling in
    # tf.data (guide.labeller=tf_data), which gives the worker processes' labels byte for byte.
    for name in ["done.json", records.MANIFEST, "train-part001of002-00001-of-00002.tfrecord",
                 "train-part001of002-00001-of-00002.tfrecord.json"]:
        os.remove(guide_two / name)
    (guide_two / ".train-part001of002-00001-of-00002.tfrecord.x1y2.tmp.tfrecord").write_bytes(b"\0" * 100)
    chief, other = run_loopback_workers(_main(two, "guide", "guide.labeller=tf_data"))
    assert "train: kept 2 finished shard(s) of 2 of part 1 of 2" in chief
    assert "train: kept 1 finished shard(s) of 2 of part 2 of 2" in other and "20/20 images" in other
    assert _serialized(guide_two) == _serialized(guide_one)
    assert not [p for p in guide_two.iterdir() if p.name.startswith(".") and p.name != ".lock"]

    run_cli(["train_main.py", "--stage=seed_eval", "--preset=tiny", f"--workdir={one}"])
    chief, other = run_loopback_workers(_main(two, "seed_eval"))
    assert "seed_eval: gap_highres on 24 of 48 val images (part 2 of 2)" in other
    for name in ("pr_curves.json", "table1.md"):
        assert (two / "seed_eval" / name).read_bytes() == (one / "seed_eval" / name).read_bytes()


def test_two_workers_convert_the_data_as_one_process(tiny_run, tmp_path):
    """The data stage on two tasks: each generates the demo's raw folders and converts its half of
    both sets (the saliency set's GrabCut included), the chief merges: the sets' content
    fingerprints are the one-process chain's."""
    chief, other = run_loopback_workers(_main(tmp_path, "data"))
    for role in ("target", "saliency"):
        assert f"data: the {role} set, part 1 of 2" in chief and f"data: the {role} set, part 2 of 2" in other
        one, two = os.path.join(tiny_run[0], "data", role), str(tmp_path / "data" / role)
        assert records.content_fingerprint(two) == records.content_fingerprint(one)
        assert not [name for name in os.listdir(two) if name.startswith(("part", "."))]
    assert "merge: train: 240 examples from 2 parts" in chief


def test_a_rerun_with_another_number_of_tasks_removes_the_parts_it_cannot_use(tmp_path):
    """Shards and sidecars of a 2-task run, unfinished, are deleted by name by a one-process
    run, never mixed into its records; a task's own temporary files go, other parts stay."""
    from tfguided.stages import parts
    out = tmp_path / "guide"
    out.mkdir()
    names = ["train-part000of002-00000-of-00001.tfrecord", "train-part000of002-00000-of-00001.tfrecord.json",
             ".train-part001of002-00000-of-00002.tfrecord.abc.tmp.tfrecord", "train-00000-of-00003.tfrecord",
             "train-00001-of-00002.tfrecord", "manifest.json", "train_aug-part000of002-00000-of-00001.tfrecord"]
    for name in names:
        (out / name).write_bytes(b"")
    log = []
    parts.remove_other_runs(str(out), "train", records.Part(0, 1), 40, 20, log.append)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "train-00001-of-00002.tfrecord",
                                                    "train_aug-part000of002-00000-of-00001.tfrecord"]
    assert len(log) == 4 and all(line.startswith("removing ") for line in log)
    for name in names:
        (out / name).write_bytes(b"")
    parts.remove_other_runs(str(out), "train", records.Part(1, 2), 40, 10, log.append)
    left = sorted(p.name for p in out.iterdir())
    assert ".train-part001of002-00000-of-00002.tfrecord.abc.tmp.tfrecord" not in left  # its own killed write
    assert "train-part000of002-00000-of-00001.tfrecord" in left  # part 1's: its task's business
    assert "train-00000-of-00003.tfrecord" not in left  # a one-process run's


def test_parts_are_contiguous_balanced_and_cover_every_example():
    from tfguided.data.records import Part
    for n in (0, 1, 7, 240, 10582):
        for count in (1, 2, 3, 4, 8):
            bounds = [Part(k, count).bounds(n) for k in range(count)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
            sizes = [stop - start for start, stop in bounds]
            assert max(sizes) - min(sizes) <= 1


def test_records_range_reads_those_examples_whatever_the_shards(tmp_path):
    """records.dataset's range skips whole shards by the manifest's counts, then records."""
    examples = [records.Example(id=f"i{k:02d}", image=b"", height=1, width=1) for k in range(40)]
    split = records.write_split(str(tmp_path), "train", examples, 40, examples_per_shard=7)
    records.write_manifest(str(tmp_path), "voc", {"train": split}, 1, ["background", "a"])
    assert len(split["shards"]) == 6
    for start, stop in ((0, 0), (0, 5), (7, 14), (8, 30), (35, 40), (39, 40), (0, 40)):
        got = [ex["id"].decode() for ex in records.iterate_numpy(str(tmp_path), "train", records_range=(start, stop))]
        assert got == split["ids"][start:stop], (start, stop)
