"""Optimiser details of supp. B/F and distributed training on two logical CPU replicas."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfguided import configs
from tfguided.models import deeplab
from tfguided.train import losses, optim
from tfguided.train.strategy import make_strategy


def _tiny_net(seed=0):
    keras.utils.set_random_seed(seed)
    return deeplab.LargeFov(3, width=0.0625, fc_units=8, fc6_dilation=2, dropout=0.0,
                            batch_norm=False, weight_decay=5e-4, input_size=32)


def _batch(n=4):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (n, 32, 32, 3)).astype(np.float32)
    y = rng.integers(0, 3, (n, 32, 32)).astype(np.uint8)
    y[:, :4] = 255
    return x, y


def _one_step_update(lr_mult):
    model = _tiny_net()
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    opt = optim.LayerLrSGD(lr_mult=lr_mult, learning_rate=0.01, momentum=0.9)
    model.compile(opt, losses.UpsampledSparseCrossEntropy())
    x, y = _batch()
    model.train_on_batch(x, y)
    return {v.path: v.numpy() - before[v.path] for v in model.trainable_variables}


def test_last_layer_lr_multiplier_is_exact_for_sgd():
    """Caffe lr_mult 10 on fc8: its first update is 10x, every other layer's is unchanged."""
    plain, boosted = _one_step_update(1.0), _one_step_update(10.0)
    for path in plain:
        factor = 10.0 if path.startswith("fc8/") else 1.0
        np.testing.assert_allclose(boosted[path], factor * plain[path], rtol=1e-4, atol=1e-9)
    assert np.abs(plain["fc8/kernel"]).max() > 0


def test_step_schedule_and_adam_refuses_multiplier():
    schedule = optim.step_schedule(1e-3, 2000, 0.1)
    np.testing.assert_allclose([float(schedule(s)) for s in (0, 1999, 2000, 4000, 7999)],
                               [1e-3, 1e-3, 1e-4, 1e-5, 1e-6], rtol=1e-5)
    with pytest.raises(ValueError, match="last_layer_lr_mult must be 1.0"):
        optim.build_optimizer(configs.TrainConfig(optimizer="adam", last_layer_lr_mult=10.0))


def test_weight_decay_is_caffe_style():
    """An L2 regulariser of wd/2 |w|^2 adds wd * w to the gradient, as Caffe's weight_decay does."""
    model = _tiny_net()
    kernel = model.get_layer("fc8").kernel
    with tf.GradientTape() as tape:
        penalty = model.get_layer("fc8").kernel_regularizer(kernel)
    np.testing.assert_allclose(tape.gradient(penalty, kernel).numpy(), 5e-4 * kernel.numpy(),
                               rtol=1e-5, atol=1e-12)


def test_ignore_pixels_do_not_count_in_the_loss():
    loss = losses.UpsampledSparseCrossEntropy()
    logits = np.zeros((1, 2, 2, 3), np.float32)
    logits[..., 1] = 2.0
    y = np.array([[[1, 1], [255, 255]]], np.uint8)
    expected = -np.log(np.exp(2) / (np.exp(2) + 2))
    np.testing.assert_allclose(float(loss(y, logits)), expected, rtol=1e-5)
    y_all_one = np.array([[[1, 1], [1, 1]]], np.uint8)
    np.testing.assert_allclose(float(loss(y_all_one, logits)), expected, rtol=1e-5)


def test_loss_upsamples_low_resolution_logits_with_the_network_geometry():
    """Logits at stride 8 are upsampled (cell i at pixel 8i) to the label size before the loss."""
    from tfguided.scoremaps import upsample
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(1, 3, 3, 4)).astype(np.float32)
    y = rng.integers(0, 4, (1, 24, 24)).astype(np.uint8)
    y[0, :5] = 255
    up = upsample(logits[0], (24, 24), 8, 0.0)
    log_p = up - np.log(np.exp(up).sum(-1, keepdims=True))
    valid = y[0] != 255
    expected = -np.mean(np.take_along_axis(log_p, y[0][..., None].astype(int) % 4, -1)[..., 0][valid])
    loss = losses.UpsampledSparseCrossEntropy(stride=8, offset=0.0)
    np.testing.assert_allclose(float(loss(y, logits)), expected, rtol=1e-5)


def test_epoch_plan_trains_exactly_the_asked_steps():
    from tfguided.train.loop import epoch_plan
    assert epoch_plan(8000, 500) == (16, 500)
    assert epoch_plan(8100, 500) == (17, 500)
    assert epoch_plan(100, 500) == (1, 100)
    assert epoch_plan(241, 50) == (5, 50)  # was 241 one-step epochs
    with pytest.raises(ValueError, match="positive"):
        epoch_plan(0, 5)


@pytest.mark.slow  # training runs in this process
def test_a_step_count_without_divisor_trains_exactly_in_few_epochs(tmp_path):
    """241 steps at 50 per epoch: 5 epochs (one checkpoint each), 241 optimiser steps."""
    from tfguided import configs
    from tfguided.train import loop
    x, y = _batch(2)
    cfg = configs.TrainConfig(steps=241, steps_per_epoch=50, optimizer="adam", last_layer_lr_mult=1.0)
    net, history = loop.train(str(tmp_path), "test", lambda: _tiny_net(seed=7), losses.UpsampledSparseCrossEntropy(),
                              lambda skip: tf.data.Dataset.from_tensor_slices((x, y)).batch(2).repeat(), cfg,
                              tf.distribute.get_strategy())
    assert len(history["loss"]) == 5
    assert int(net.optimizer.iterations) == 241


def _fit_losses(strategy, steps=4, global_batch=4):
    x, y = _batch(global_batch)  # the same batch every step: the loss must fall
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch).repeat()
    with strategy.scope():
        model = _tiny_net(seed=7)
        model.compile(optim.LayerLrSGD(lr_mult=10.0, learning_rate=1e-4, momentum=0.9),
                      losses.UpsampledSparseCrossEntropy())
    history = model.fit(ds, epochs=steps, steps_per_epoch=1, shuffle=False, verbose=0)
    return np.array(history.history["loss"])


@pytest.mark.slow  # training runs in this process
def test_two_replicas_match_one_replica_at_the_same_global_batch():
    two = make_strategy("mirrored")
    assert two.num_replicas_in_sync == 2  # conftest splits the CPU into two logical devices
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    losses_two, losses_one = _fit_losses(two), _fit_losses(one)
    assert losses_one[-1] < losses_one[0]
    np.testing.assert_allclose(losses_two, losses_one, rtol=2e-3)


@pytest.mark.slow  # training runs in this process
def test_seeder_stage_trains_on_two_replicas(tiny_data, tmp_path):
    """The project's own training path (stage -> loop.train -> fit) under MirroredStrategy with
    two replicas: global batch = per-replica batch x 2, and the stage saves its model."""
    from tfguided.stages import pipeline, seeder, training
    from tfguided.stages.context import Context
    cfg = configs.override(configs.preset("tiny"), [
        "seeder.train.steps=4", "seeder.train.steps_per_epoch=2", "seeder.train.batch_size=3"])
    ctx = Context(cfg, str(tmp_path), data_dir=str(tiny_data))
    assert ctx.strategy().num_replicas_in_sync == 2
    results = pipeline.ensure(ctx, "seeder", log=lambda m: None)
    assert np.isfinite(results["final_loss"]) and 0 <= results["val_map"] <= 100
    assert 0 < results["seconds_per_step"] < results["seconds"]  # median of steps 2..4
    model = keras.saving.load_model(str(tmp_path / ctx.stage_name("seeder") / "model.keras"),
                                     compile=False)
    assert model.output_shape == (None, 3)
    batches = training.batches(ctx, "seeder", seeder.training_data(ctx, "seeder"))
    images, labels = next(iter(batches))
    assert images.shape[0] == 6 and labels.shape == (6, 3)


@pytest.mark.slow  # training runs in this process
def test_a_stage_repeats_itself_whatever_ran_before_in_the_process(tiny_data, tmp_path):
    """loop.train seeds the random state before the dataset's augmentation ops are traced, so a
    different random state left by an earlier stage does not change the augmented batches."""
    from tfguided.stages import seeder, training
    from tfguided.stages.context import Context
    from tfguided.train import loop
    cfg = configs.override(configs.preset("tiny"), [
        "seeder.train.steps=1", "seeder.train.steps_per_epoch=1", "seeder.train.batch_size=12"])
    ctx = Context(cfg, str(tmp_path), data_dir=str(tiny_data), strategy_name="default")
    first_batches = []

    def make_dataset(skip_batches):
        dataset = training.batches(ctx, "seeder", seeder.training_data(ctx, "seeder"), skip_batches)
        first_batches.append(next(iter(dataset))[0].numpy())
        return dataset

    for name, earlier_seed in (("a", 1), ("b", 2)):
        tf.random.set_seed(earlier_seed)  # what another stage might leave behind
        loop.train(str(tmp_path / name), "seeder", lambda: seeder.build(cfg, 3), losses.multilabel_loss(),
                   make_dataset, cfg.seeder.train, ctx.strategy())
    np.testing.assert_array_equal(first_batches[0], first_batches[1])


def test_val_miou_monitor_matches_a_numpy_scoring():
    """ValMiou: logits upsampled with the net's geometry, argmax, void ignored, mIoU, in percent."""
    from tfguided.eval import metrics
    from tfguided.scoremaps import upsample
    from tfguided.train.monitor import ValMiou

    net = _tiny_net(3)
    rng = np.random.default_rng(5)
    images = rng.uniform(0, 255, (5, 32, 32, 3)).astype(np.float32)
    targets = rng.integers(0, 3, (5, 32, 32)).astype(np.uint8)
    targets[:, :4] = 255
    monitor = ValMiou(net, tf.data.Dataset.from_tensor_slices((images, targets)).batch(2), 3)
    conf = np.zeros((3, 3), np.int64)
    for image, target in zip(images, targets):
        logits = net(image[None], training=False)[0].numpy()
        pred = upsample(logits, (32, 32), net.output_stride, net.output_offset).argmax(-1)
        conf += metrics.confusion_matrix(target, pred, 3)
    logs = {}
    monitor.on_epoch_end(0, logs)
    assert logs["val_miou"] == pytest.approx(metrics.mean_iou(conf))
    assert 0 < logs["val_miou"] < 100


def _train_losses(tmp_path, **train):
    """Losses of 6 steps on one batch of the tiny net through loop.train with the given TrainConfig
    fields."""
    from tfguided.train import loop

    x, y = _batch(4)
    cfg = configs.TrainConfig(steps=6, steps_per_epoch=1, batch_size=4, optimizer="adam",
                              learning_rate=1e-3, last_layer_lr_mult=1.0, **train)
    data = lambda skip: tf.data.Dataset.from_tensors((x, y)).repeat()  # one batch: losses comparable
    net, history = loop.train(str(tmp_path), "segmenter", lambda: _tiny_net(7), losses.UpsampledSparseCrossEntropy(),
                              data, cfg, tf.distribute.get_strategy())
    return net, history["loss"]


@pytest.mark.slow  # training runs in this process
def test_mixed_bfloat16_computes_in_16_bits_with_float32_logits(tmp_path):
    net, mixed = _train_losses(tmp_path / "mixed", precision="mixed_bfloat16")
    assert net.get_layer("conv1_1").compute_dtype == "bfloat16"
    assert net.get_layer("fc8").compute_dtype == "float32" and net.output.dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"  # restored for what follows
    _, full = _train_losses(tmp_path / "full")
    assert np.all(np.isfinite(mixed)) and mixed[-1] < mixed[0]
    np.testing.assert_allclose(mixed, full, rtol=0.03)  # bfloat16 keeps 8 bits of mantissa


@pytest.mark.slow  # training runs in this process
def test_jit_compiled_training_matches_the_plain_one(tmp_path):
    _, jit = _train_losses(tmp_path / "jit", jit_compile=True)
    _, plain = _train_losses(tmp_path / "plain")
    np.testing.assert_allclose(jit, plain, rtol=1e-4)
    with pytest.raises(ValueError, match="train.precision='half'"):
        _train_losses(tmp_path / "bad", precision="half")


def test_a_backup_half_written_when_killed_is_dropped_not_fatal(tmp_path, capsys):
    """SIGKILL in the middle of the first checkpoint leaves an empty metadata file (and maybe
    broken weights); the rerun says so and trains from the start instead of crashing."""
    backup = tmp_path / "run" / "backup"
    backup.mkdir(parents=True)
    (backup / "training_metadata.json").write_text("")
    (backup / "latest.weights.h5").write_bytes(b"not hdf5")
    _, losses_after = _train_losses(tmp_path / "run")
    assert "unreadable" in capsys.readouterr().out and len(losses_after) == 6
    assert not backup.exists()


def test_step_timer_takes_the_median_after_the_first_step():
    from tfguided.train.loop import StepTimer
    timer = StepTimer()
    assert timer.seconds_per_step() is None
    timer.seconds = [5.0]
    assert timer.seconds_per_step() == 5.0
    timer.seconds = [5.0, 0.2, 0.4, 0.3]
    assert timer.seconds_per_step() == pytest.approx(0.3)
