"""A conversion shared by several processes (`--shard_index/--num_shards`, records.converting_part)
and its merge (tfguided/data/merge.py): the merged set is the one-process set record for record
(the content fingerprint equal), a part makes only its own photos, and whatever does not fit
is refused by name before anything changes."""

import os

import pytest

from conftest import run_cli
from tfguided import configs
from tfguided.data import merge, records
from tfguided.sources import msra, synthetic, voc


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """The tiny preset's raw VOC and MSRA folders."""
    root = tmp_path_factory.mktemp("raw")
    synthetic.generate(str(root), configs.preset("tiny").data.synthetic, rng_seed=0)
    return root


CONVERTERS = {
    "voc": lambda raw, out, **kw: voc.convert(str(raw / "VOC2012"), out, verbose=False, **kw),
    "msra": lambda raw, out, **kw: msra.convert(str(raw / "MSRA"), out, verbose=False, **kw),  # GrabCut targets
}


def split_records(data_dir):
    """{split: (ids, every record's bytes in order)} of a converted folder."""
    manifest = records.read_manifest(data_dir)
    return {split: (entry["ids"], [r for path in records.split_files(data_dir, split)
                                   for r in records.read_shard(path)[1]])
            for split, entry in manifest["splits"].items()}


def tree(root):
    """{relative path: bytes} of every file under `root`."""
    return {os.path.relpath(os.path.join(d, n), root): open(os.path.join(d, n), "rb").read()
            for d, _, names in os.walk(root) for n in names}


@pytest.mark.parametrize("source", sorted(CONVERTERS))
def test_three_parts_merged_are_the_one_process_set(raw, tmp_path, source):
    convert = CONVERTERS[source]
    one, three = str(tmp_path / "one"), str(tmp_path / "three")
    convert(raw, one, examples_per_shard=50)
    for k in (2, 0, 1):  # any order
        with records.converting_part(records.Part(k, 3)):
            part = convert(raw, three, examples_per_shard=30)
        assert part["part"] == {"index": k, "count": 3}
        for split, entry in part["splits"].items():
            start, stop = records.Part(k, 3).bounds(entry["total"])
            assert entry["range"] == [start, stop] and entry["count"] == stop - start
    assert sorted(os.listdir(three)) == ["part000of003", "part001of003", "part002of003"]
    merge.merge_parts(three, verbose=False)
    merged = records.read_manifest(three)
    assert split_records(three) == split_records(one)
    assert records.content_fingerprint(three) == records.content_fingerprint(one)
    assert not any(name.startswith(("part", ".")) for name in os.listdir(three))
    assert "part" not in merged and sorted(merged["files"]) == sorted(os.listdir(three))
    first = records.read_manifest(one)
    assert {k: v for k, v in merged.items() if k not in ("splits", "files")} == \
        {k: v for k, v in first.items() if k not in ("splits", "files")}
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no staging left beside the sets


def test_a_part_makes_only_its_own_examples(tmp_path):
    made = []

    def make(i):
        made.append(i)
        return records.Example(id=f"im{i}", image=b"x%d" % i, height=1, width=1)

    with records.converting_part(records.Part(1, 3)):
        entry = records.write_split(str(tmp_path / "seq"), "train", records.ExampleSequence(make, range(10)), 10, 2)
        generated = records.write_split(str(tmp_path / "gen"), "train", (make(i) for i in range(10)), 10, 2)
    assert made[:3] == [3, 4, 5] and entry["ids"] == ["im3", "im4", "im5"] and entry["range"] == [3, 6]
    assert generated["ids"] == entry["ids"] and made[3:] == list(range(6))  # a generator: read past 0..2
    assert [s["count"] for s in entry["shards"]] == [2, 1]


def test_missing_foreign_and_mixed_parts_are_refused_by_name(raw, tmp_path):
    out = str(tmp_path / "msra")
    for k in (0, 2):
        with records.converting_part(records.Part(k, 3)):
            msra.convert(str(raw / "MSRA"), out, verbose=False)
    before = tree(out)
    with pytest.raises(ValueError, match=r"part001of003 not written .*--shard_index=K --num_shards=3"):
        merge.merge_parts(out, verbose=False)
    with pytest.raises(ValueError, match=r"holds part000of003 of a conversion in another number of processes "
                                         r"than 2 \(2 such part"):
        with records.converting_part(records.Part(1, 2)):
            msra.convert(str(raw / "MSRA"), out, verbose=False)
    excluded = tmp_path / "exclude.txt"
    excluded.write_text("sal_00000\n")
    with records.converting_part(records.Part(1, 3)):
        msra.convert(str(raw / "MSRA"), out, verbose=False, exclude_ids=str(excluded))
    with pytest.raises(ValueError, match=r"part001of003: not of the same conversion as .*part000of003 "
                                         r"\(totals differ\)"):
        merge.merge_parts(out, verbose=False)
    assert {k: v for k, v in tree(out).items() if not k.startswith("part001")} == before  # nothing changed
    with records.converting_part(records.Part(1, 3)):
        msra.convert(str(raw / "MSRA"), out, verbose=False)
    for where in ("part000of003/notes.txt", "part001of003.txt"):  # a user's files, never merged away
        (tmp_path / "msra" / where).write_text("mine")
        with pytest.raises(ValueError, match=rf"holds (1 file\(s\) the converter did not write \(|files \()"
                                             rf"{os.path.basename(where)}\)"):
            merge.merge_parts(out, verbose=False)
        os.remove(tmp_path / "msra" / where)
    shard = records.split_files(os.path.join(out, "part002of003"), "train")[0]
    good = open(shard, "rb").read()
    with open(shard, "wb") as f:  # damaged after its part was written
        f.write(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(ValueError, match=rf"{os.path.basename(shard)}: checksum or count differs from "
                                         rf".*part002of003.manifest.json; convert this part again"):
        merge.merge_parts(out, verbose=False)
    with open(shard, "wb") as f:
        f.write(good)
    merge.merge_parts(out, verbose=False)
    assert records.split_count(out, "train") == 300
    os.makedirs(tmp_path / "notes")
    (tmp_path / "notes" / "mine.txt").write_text("a user's file")
    with pytest.raises(ValueError, match="no part folder"):
        merge.merge_parts(str(tmp_path / "notes"), verbose=False)
    with pytest.raises(ValueError, match=r"notes: holds files \(mine.txt\) but no manifest.json"):
        with records.converting_part(records.Part(0, 2)):
            msra.convert(str(raw / "MSRA"), str(tmp_path / "notes"), verbose=False)
    assert tree(tmp_path / "notes") == {"mine.txt": b"a user's file"}


@pytest.mark.slow  # command lines
def test_command_line_parts_and_merge(raw, tmp_path):
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    msra.convert(str(raw / "MSRA"), one, verbose=False)
    args = ["-m", "tfrecords_tools", "msra", f"--msra_root={raw / 'MSRA'}", f"--out={two}", "--num_shards=2"]
    bad = run_cli(args + ["--shard_index=2"], check=False)
    assert bad.returncode != 0 and "--shard_index=2: must be below --num_shards=2" in bad.stdout
    for k in (0, 1):
        proc = run_cli(args + [f"--shard_index={k}"])
        assert f"part {k + 1} of 2 written into {two}/part00{k}of002" in proc.stdout
    generated = run_cli(["-m", "tfrecords_tools", "synthetic", f"--out={tmp_path / 'raw'}", "--preset=tiny",
                         "--num_shards=2"], check=False)  # raw folders, no records: nothing to share
    assert generated.returncode == 2 and "synthetic wrote no records" in generated.stdout
    proc = run_cli(["-m", "tfrecords_tools", "merge", f"--out={two}"])
    assert f"merge: {two}: train=300" in proc.stdout
    assert records.content_fingerprint(two) == records.content_fingerprint(one)
