"""bench/rehearsal.py's plumbing (issue 14) on a tiny input: the tiny preset's nets on 4 + 4 real
voc12_mini photos at full size, 2 steps each; the paper-scale run is the benchmark itself."""

import json
import os
import shutil

import pytest

from conftest import bench_module, run_cli, shared_path


def _small_saliency_set(out, images=6):
    """The first `images` boxes of voc12_animals' saliency set, in MSRA's layout (count, then per
    image: path, width height, boxes)."""
    source = shared_path("voc12_animals", "saliency_msra")
    lines = open(os.path.join(source, "labels.txt")).read().splitlines()[1:1 + 3 * images]
    os.makedirs(out / "Image")
    for name in lines[0::3]:
        shutil.copy(os.path.join(source, "Image", name), out / "Image" / name)
    (out / "labels.txt").write_text("\n".join([str(images)] + lines) + "\n")
    return out


@pytest.mark.slow
def test_rehearsal_runs_every_stage_in_its_own_process_and_reports(tmp_path):
    out = tmp_path / "rehearsal.json"
    msra = _small_saliency_set(tmp_path / "msra")
    proc = run_cli(["bench/rehearsal.py", "--preset=tiny", "--override=num_classes=20", "--steps=2",
                    "--images=4", f"--msra_root={msra}", f"--workdir={tmp_path / 'w'}", f"--out={out}"])
    result = json.loads(out.read_text())
    assert result["success"] and "chain succeeded" in proc.stdout
    order = ["data", "seeder", "saliency", "guide", "segmenter", "evaluate", "export"]
    assert sorted(result["stages"]) == sorted(order)
    assert [line.split(":")[0] for line in proc.stdout.splitlines() if ": ok in " in line] == order
    for stage in result["stages"].values():
        assert stage["ok"] and stage["seconds"] > 0 and stage["peak_mib"] > 200  # TensorFlow alone
    for name in ("seeder", "saliency", "segmenter"):
        net = result["networks"][name]
        assert net["seconds_per_step"] > 0 and net["parameters"] > 0
        assert net["train_gflops_per_step"] == 3 * net["forward_gflops_per_image"] * net["batch_size"]
        assert net["forward_gflops_per_image"] > 0
    assert 0 <= result["evaluate"]["miou_crf"] <= 100
    val = (tmp_path / "w" / "voc_subset" / "ImageSets" / "Segmentation" / "val.txt").read_text().split()
    assert len(val) == 4


def test_flops_of_a_convolution_by_hand():
    """8 x 8 x 3 -> 4 channels, 3x3 'same', no bias: 8*8*4 outputs x 27 multiply-adds x 2."""
    import keras
    rehearsal = bench_module("rehearsal")
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs))
    assert rehearsal.forward_gflops(model, 8) * 1e9 == 2 * 8 * 8 * 4 * 27
