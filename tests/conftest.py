"""Test setup: two logical CPU devices (so MirroredStrategy has two replicas), shared fixtures."""

import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.environ.get("TFGUIDED_SHARED_DATA", os.path.join(REPO, "..", "shared", "data"))

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


def pytest_itemcollected(item):
    """Under pytest-xdist (`--dist loadgroup`, pytest.ini) a costly fixture is built once: the
    tests sharing the tiny chain (`tiny_run`) run in one worker, a module's tests sharing a
    module-scoped fixture in one worker; the other tests go wherever a worker is free. (Marked
    as each test is collected: xdist reads the groups in its own collection_modifyitems.)"""
    fixtures = getattr(item, "_fixtureinfo", None)
    defs = fixtures.name2fixturedefs if fixtures else {}
    if "tiny_run" in defs:
        item.add_marker(pytest.mark.xdist_group("tiny_run"))
    elif any(d[-1].scope == "module" for d in defs.values()):
        item.add_marker(pytest.mark.xdist_group(item.module.__name__))


def bench_module(name):
    """bench/<name>.py imported as a module (the benchmarks are scripts, not a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "bench", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared_path(*parts):
    """A path under ../shared/data; if it is absent, a skip saying so, or under CI=true a failure
    (CI must not pass by skipping the tests on real data)."""
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        message = f"real data not found at {path} (set TFGUIDED_SHARED_DATA)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI={os.environ['CI']}: {message}", pytrace=False)
        pytest.skip(message)
    return path


def run_cli(args, cwd=REPO, timeout=900, check=True, env=None):
    """Runs `python <args>` in a subprocess (`env`: variables to add); returns the
    CompletedProcess (stdout+stderr text)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": REPO, **(env or {})}
    proc = subprocess.run([sys.executable] + list(args), cwd=cwd, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-4000:]}")
    return proc


# Loads a saved model in a new Python where only tfguided.saved_models registered the classes:
# argv = model path, inputs .npy, outputs .npy; prints what `compiled_as` gives, as JSON.
FRESH_LOAD = """
import json, sys
import keras, numpy as np
import tfguided.saved_models
path, inputs, outputs = sys.argv[1:]
model = keras.saving.load_model(path)
np.save(outputs, model(np.load(inputs), training=False))
print(json.dumps([type(x).__name__ for x in (model, model.loss, getattr(model, "optimizer", None))]))
"""


def run_loopback_workers(args, workers=2, timeout=900):
    """Runs `args` (from the repository) as the workers of a loopback cluster
    (tfguided/loopback.py); their outputs by task index, after every one exits 0."""
    from tfguided import loopback
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    results = loopback.run_cluster(args, workers, cwd=REPO, env=env, timeout=timeout)
    for returncode, out in results:
        assert returncode == 0, out[-3000:]
    return [out for _, out in results]


def compiled_as(model):
    """[model class, loss class, optimizer class] names ("NoneType" where not compiled)."""
    return [type(x).__name__ for x in (model, model.loss, getattr(model, "optimizer", None))]


def assert_round_trip(model, inputs, tmp_path, atol=1e-5, fresh_process=False):
    """Saves `model` under `tmp_path` and loads it back with `keras.saving.load_model` (compiled,
    if it was): the same class, config, loss and optimizer classes, and predictions on `inputs`
    within `atol`. `fresh_process`: load it in a new Python as well, where nothing but
    `import tfguided.saved_models` registered the package's classes (how a user loads a
    workdir's model.keras). Returns the model loaded here."""
    import keras
    import numpy as np

    import tfguided.saved_models  # noqa: F401  (the classes a compiled model names)

    path = str(tmp_path / f"{model.name}.keras")
    model.save(path)
    expected = np.asarray(model(inputs, training=False))
    loaded = keras.saving.load_model(path)
    assert compiled_as(loaded) == compiled_as(model)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded(inputs, training=False), expected, atol=atol)
    if fresh_process:
        np.save(tmp_path / "inputs.npy", inputs)
        proc = subprocess.run([sys.executable, "-c", FRESH_LOAD, path, str(tmp_path / "inputs.npy"),
                               str(tmp_path / "outputs.npy")], cwd=REPO, capture_output=True, text=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": REPO}, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert json.loads(proc.stdout.splitlines()[-1]) == compiled_as(model)
        np.testing.assert_allclose(np.load(tmp_path / "outputs.npy"), expected, atol=atol)
    return loaded


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """The tiny synthetic dataset, generated and converted once per session."""
    from tfguided import configs
    from tfguided.sources import msra, synthetic, voc

    root = tmp_path_factory.mktemp("tiny_data")
    cfg = configs.preset("tiny").data
    synthetic.generate(str(root / "raw"), cfg.synthetic, rng_seed=0)
    voc.convert(str(root / "raw" / "VOC2012"), str(root / "voc"), verbose=False)
    msra.convert(str(root / "raw" / "MSRA"), str(root / "msra"), verbose=False)
    return root


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A workdir with the whole tiny chain run (`--stage=segmenter`), and its output; shared by
    the end-to-end and export tests (a test using it trains: mark it slow)."""
    workdir = str(tmp_path_factory.mktemp("tiny_run"))
    proc = run_cli(["train_main.py", "--stage=segmenter", "--preset=tiny", f"--workdir={workdir}"])
    return workdir, proc.stdout


def label_worker(image, labels, cams, saliency, guide_cfg, gt=None, image_id=""):
    """What the guide stage's worker processes run (label_example), on `image` encoded as PNG
    (lossless: the worker decodes exactly `image`); class maps at GAP-HighRes geometry."""
    import cv2
    from tfguided.guide.label import label_example
    data = cv2.imencode(".png", image[..., ::-1])[1].tobytes()
    return label_example(data, image_id, labels, cams, (8, 3.5), saliency, gt, guide_cfg)


def gradient_support_centre(model, images, i):
    """The mean of the first and last image rows that reach output cell (i, i) (by gradient):
    where the cell is centred, if its receptive field is symmetric."""
    import numpy as np
    import tensorflow as tf

    images = tf.constant(images, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(images)
        cell = tf.reduce_sum(model(images, training=False)[:, i, i])
    rows = np.nonzero(np.abs(tape.gradient(cell, images).numpy()).sum(axis=(0, 2, 3)))[0]
    return (rows.min() + rows.max()) / 2


def snapshot(directory):
    """{file name: bytes} of a folder (None if it does not exist): to show nothing was written."""
    if not os.path.exists(directory):
        return None
    return {name: open(os.path.join(directory, name), "rb").read() for name in sorted(os.listdir(directory))}


def hidden_leftovers(parent):
    """The dot-names in `parent`: staging folders or temporary files a failed run left."""
    return [name for name in os.listdir(parent) if name.startswith(".")]
