"""Saved models load with their training configuration (compile=True) after `import tfguided`."""

import subprocess
import sys

import numpy as np

from tfguided import configs
from tfguided.models import deeplab
from tfguided.train import losses, optim
from conftest import REPO


def test_a_compiled_segmenter_loads_compiled_in_a_fresh_process(tmp_path):
    cfg = configs.preset("tiny").segmenter
    net = deeplab.build(3, cfg.net, cfg.train.weight_decay, name="segmenter")
    net.compile(optimizer=optim.build_optimizer(configs.TrainConfig(), "fc8"),
                loss=losses.segmentation_loss(cfg.net))
    images = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    labels = np.random.default_rng(1).integers(0, 3, (2, 64, 64)).astype(np.uint8)
    net.fit(images, labels, epochs=1, verbose=0)
    path = str(tmp_path / "model.keras")
    net.save(path)
    code = ("import sys, keras, numpy as np, tfguided\n"
            f"m = keras.saving.load_model({path!r})\n"
            "print(type(m.loss).__name__, type(m.optimizer).__name__)\n"
            f"x = np.load({str(tmp_path / 'x.npy')!r}); np.save({str(tmp_path / 'y.npy')!r}, m.predict(x, verbose=0))\n")
    np.save(tmp_path / "x.npy", images)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["UpsampledSparseCrossEntropy", "LayerLrSGD"]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), net.predict(images, verbose=0), atol=1e-5)
