"""Sharded TFRecords + manifest: round trip, checksums, atomic writes."""

import os

import numpy as np
import pytest

from tfguided.data import labelmap, records


def _examples(n):
    rng = np.random.default_rng(0)
    for i in range(n):
        mask = rng.integers(0, 4, (5, 7)).astype(np.uint8)
        yield records.Example(id=f"im{i}", image=b"jpeg%d" % i, height=5, width=7, labels=(1, 3),
                              mask=labelmap.encode_index_png(mask), boxes=(1.0, 2.0, 3.0, 4.0) * (i % 3))


def test_round_trip_and_sharding(tmp_path):
    entry = records.write_split(str(tmp_path), "train", _examples(7), 7, examples_per_shard=3)
    records.write_manifest(str(tmp_path), "test", {"train": entry}, 3, ["bg", "a", "b", "c"])
    assert [s["count"] for s in entry["shards"]] == [3, 3, 1]
    assert [s["file"] for s in entry["shards"]][0] == "train-00000-of-00003.tfrecord"
    got = list(records.iterate_numpy(str(tmp_path), "train"))
    expected = list(_examples(7))
    assert [g["id"].decode() for g in got] == [e.id for e in expected]
    for g, e in zip(got, expected):
        assert g["image"] == e.image and (g["height"], g["width"]) == (5, 7)
        assert tuple(g["labels"]) == (1, 3)
        np.testing.assert_array_equal(labelmap.decode_label_png(g["mask"]), labelmap.decode_label_png(e.mask))
        np.testing.assert_allclose(g["boxes"], np.reshape(e.boxes, (-1, 4)))
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp") or f.startswith(".")]


def test_corrupt_shard_is_named(tmp_path):
    entry = records.write_split(str(tmp_path), "train", _examples(4), 4, examples_per_shard=2)
    records.write_manifest(str(tmp_path), "test", {"train": entry}, 3, ["bg", "a", "b", "c"])
    shard = tmp_path / entry["shards"][1]["file"]
    data = bytearray(shard.read_bytes())
    data[20] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"train-00001-of-00002\.tfrecord: corrupt shard"):
        records.split_files(str(tmp_path), "train")


def test_missing_manifest_and_split_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="no manifest"):
        records.read_manifest(str(tmp_path))
    entry = records.write_split(str(tmp_path), "train", _examples(1), 1)
    records.write_manifest(str(tmp_path), "test", {"train": entry}, 3, ["bg", "a", "b", "c"])
    with pytest.raises(KeyError, match="no split 'val'"):
        records.split_files(str(tmp_path), "val")


def test_count_mismatch_and_duplicate_ids_refused(tmp_path):
    with pytest.raises(ValueError, match="expected 5 examples, wrote 4"):
        records.write_split(str(tmp_path), "a", _examples(4), 5)
    dup = [records.Example(id="x", image=b"", height=1, width=1)] * 2
    with pytest.raises(ValueError, match="duplicate ids"):
        records.write_split(str(tmp_path), "b", dup, 2)


@pytest.mark.slow
def test_serialisation_is_byte_identical_across_processes():
    """Protobuf's map order follows the process's hash seed unless serialisation is
    deterministic: the same example must give the same bytes in every process (a reconversion
    must not change the data fingerprint)."""
    import subprocess
    import sys
    code = ("import hashlib; from tfguided.data.records import Example; print(hashlib.sha256(Example("
            "id='a', image=b'x', height=1, width=2, labels=(1, 2), mask=b'm').serialize()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONHASHSEED=str(seed)),
                              capture_output=True, text=True, check=True).stdout.strip()
               for seed in (1, 2, 3, 4)}
    assert len(digests) == 1


def test_content_fingerprint_ignores_the_shard_layout(tmp_path):
    fingerprints = set()
    for per_shard in (2, 3, 100):
        out = str(tmp_path / f"s{per_shard}")
        entry = records.write_split(out, "train", _examples(7), 7, examples_per_shard=per_shard)
        records.write_manifest(out, "test", {"train": entry}, 3, ["bg", "a", "b", "c"],
                               {"source": out})
        fingerprints.add(records.content_fingerprint(out))
    assert len(fingerprints) == 1
    other = str(tmp_path / "other")
    entry = records.write_split(other, "train", _examples(6), 6)
    records.write_manifest(other, "test", {"train": entry}, 3, ["bg", "a", "b", "c"])
    assert records.content_fingerprint(other) not in fingerprints
