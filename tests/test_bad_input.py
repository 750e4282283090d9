"""Bad input at run time (issue 5): each gets an error naming the flag, file or stage and what is
wrong. (Converter inputs: tests/test_voc_converter.py, test_voc_sbd.py, test_records.py and
test_labelmap.py: corrupt JPEG, truncated PNG, mask size, label values, no labels, missing file,
duplicate ids, pixel limit, grayscale/CMYK/alpha, corrupt shard, missing manifest.)"""

import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import run_cli
from tfguided import configs
from tfguided.stages.context import Context
from tfguided.train import loop


@pytest.mark.slow
def test_invalid_flag_values_are_named():
    for args, message in [
        (["--override=seeder.train.steps=many"], "override seeder.train.steps='many': expected a int"),
        (["--override=seeder.nosuch=1"], "override 'seeder.nosuch': no field 'nosuch'"),
        (["--preset=voc13"], "--preset"),
        (["--guide=g9"], "--guide"),
    ]:
        proc = run_cli(["train_main.py", "--workdir=/tmp/tfguided-never-written"] + args, check=False)
        assert proc.returncode != 0 and message in proc.stdout, (args, proc.stdout[-1500:])


def test_manifest_of_another_class_set_is_refused(tiny_data):
    cfg = configs.override(configs.preset("tiny"), ["num_classes=5"])
    ctx = Context(cfg, "unused", data_dir=str(tiny_data))
    with pytest.raises(ValueError, match="the data has 3 classes but preset 'tiny' expects 5"):
        ctx.class_names()


def test_nan_loss_stops_training_with_a_message(tmp_path):
    inputs = keras.Input((4,))
    model = lambda: keras.Model(inputs, keras.layers.Dense(1, name="fc8")(inputs))
    data = lambda skip: tf.data.Dataset.from_tensors((np.full((2, 4), np.nan, np.float32),
                                                 np.zeros((2, 1), np.float32))).repeat()
    train = configs.TrainConfig(steps=3, steps_per_epoch=3, optimizer="adam", last_layer_lr_mult=1.0)
    with pytest.raises(FloatingPointError, match=r"toy: loss became nan at step 1; lower the learning rate"):
        loop.train(str(tmp_path), "toy", model, "mse", data, train, tf.distribute.get_strategy())
    assert not os.path.exists(tmp_path / loop.MODEL_FILE)


@pytest.mark.slow
def test_missing_predecessor_model_is_named(tiny_run, tmp_path):
    workdir, _ = tiny_run
    copy = tmp_path / "copy"
    shutil.copytree(workdir, copy)
    os.remove(copy / "seeder" / loop.MODEL_FILE)
    proc = run_cli(["train_main.py", "--stage=guide", "--preset=tiny", f"--workdir={copy}",
                    "--guide=seeds", "--override=guide.min_component_fraction=0.02"],  # a guide not made yet
                   check=False, timeout=240)  # exits once it has said so: its worker pool must not hold it
    assert proc.returncode == 2
    assert f"{copy / 'seeder' / loop.MODEL_FILE}: trained model missing; run its stage first" in proc.stdout


@pytest.mark.slow
def test_unwritable_workdir_is_named(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    proc = run_cli(["train_main.py", "--preset=tiny", f"--workdir={blocker / 'runs'}"], check=False)
    assert proc.returncode == 2 and f"--workdir={blocker / 'runs'}: cannot write there" in proc.stdout
