"""bench/saliency_targets.py: the remade saliency targets on hand-made boxes and masks, their
scores against object masks computed by hand, and a run on the tiny preset with 10-step nets
(each variant trains its own saliency net and guide, shares the seeder; a rerun reuses all)."""

import json
import os

import numpy as np
import pytest

from conftest import bench_module, run_cli
from tfguided.data import labelmap, records


def test_masks_remade_from_the_mean_box_and_grabcut():
    st = bench_module("saliency_targets")
    box = st.box_mask((6, 8), [[1, 1, 4, 3], [3, 1, 6, 3]])  # mean box: columns 2..5, rows 1..3
    expected = np.zeros((6, 8), bool)
    expected[1:4, 2:6] = True
    np.testing.assert_array_equal(box, expected)
    grabcut = np.zeros((6, 8), bool)
    grabcut[2, 3:5] = True
    undecided = st.remade_mask("grabcut_undecided", grabcut, box)
    assert undecided[2, 3] == 1 and undecided[1, 2] == 255 and undecided[0, 0] == 0 and undecided[5, 7] == 0
    assert (undecided == 1).sum() == 2 and (undecided == 255).sum() == 12 - 2
    np.testing.assert_array_equal(st.remade_mask("box", grabcut, box), box.astype(np.uint8))
    np.testing.assert_array_equal(st.remade_mask("grabcut", grabcut, box), grabcut.astype(np.uint8))


def test_mask_scores_against_objects_leave_void_and_undecided_out(tmp_path):
    st = bench_module("saliency_targets")
    objects = np.zeros((4, 4), np.uint8)
    objects[:2, :2] = 15  # a 4-pixel object (any class)
    objects[3, 3] = 255   # void
    labelmap.write_label_png(str(tmp_path / "a.png"), objects)
    mask = np.zeros((4, 4), np.uint8)
    mask[:2, :1] = 1      # 2 of the object's pixels
    mask[2, 0] = 1        # one background pixel
    mask[0, 3] = 255      # undecided: not scored
    mask[3, 3] = 1        # on void: not scored
    example = records.Example(id="a", image=b"", height=4, width=4, mask=labelmap.encode_index_png(mask))
    missing = records.Example(id="b", image=b"", height=4, width=4, mask=labelmap.encode_index_png(mask))
    scores = st.mask_scores([example, missing], str(tmp_path))
    assert scores["photos"] == 1
    assert scores["iou"] == pytest.approx(100 * 2 / 5)  # tp 2, fp 1, fn 2
    assert scores["precision"] == pytest.approx(100 * 2 / 3) and scores["recall"] == pytest.approx(50.0)


@pytest.mark.slow
def test_variants_train_their_own_saliency_net_on_their_masks(tmp_path):
    out, work = tmp_path / "targets.json", tmp_path / "work"
    args = ["bench/saliency_targets.py", "--preset=tiny", f"--workdir={work}", "--variants=grabcut,grabcut_undecided,box",
            "--fractions=0.3,0.5", f"--out={out}", "--override=seeder.train.steps=10",
            "--override=saliency.train.steps=10"]
    proc = run_cli(args)
    result = json.loads(out.read_text())
    assert [row["variant"] for row in result["variants"]] == ["grabcut", "grabcut_undecided", "box"]
    base_set = work / "base" / "data" / "saliency"
    base = {ex["id"]: ex for ex in records.iterate_numpy(str(base_set), "train")}
    for row in result["variants"]:
        assert row["photos"] == len(base) and [g["fraction"] for g in row["guides"]] == [0.3, 0.5]
        assert all(0 < g["pseudo_label_miou"] <= 100 and 0 <= g["val_fg_iou"] <= 100 for g in row["guides"])
        assert f"running into {work / row['variant'] / 'saliency'}" in proc.stdout
        for ex in records.iterate_numpy(str(work / row["variant"] / "data" / "saliency"), "train"):
            stored, mask = (labelmap.decode_label_png(e["mask"]) for e in (base[ex["id"]], ex))
            assert ex["image"] == base[ex["id"]]["image"]
            if row["variant"] == "grabcut":
                assert ex["mask"] == base[ex["id"]]["mask"]  # the preset's set, byte for byte
            elif row["variant"] == "grabcut_undecided":
                assert set(np.unique(mask)) <= {0, 1, 255}
                np.testing.assert_array_equal(mask == 1, stored > 0)
            else:
                assert set(np.unique(mask)) <= {0, 1} and (mask >= (stored > 0)).all()  # the box holds GrabCut's
    assert sum(1 for d in os.listdir(work / "grabcut") if d.startswith("guide-g2")) == 2  # one per fraction
    assert "| box |" in (tmp_path / "targets.md").read_text()
    rerun = run_cli(args)
    assert "running into" not in rerun.stdout and json.loads(out.read_text()) == result
