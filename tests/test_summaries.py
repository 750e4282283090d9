"""A finished stage's results and config reach TensorBoard (issue 13, item 13)."""

import glob

import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tfguided.stages import summaries


def test_results_are_scalars_and_the_config_is_hparams(tmp_path):
    numbers = summaries.write(str(tmp_path), "evaluate-g2", {"miou": 51.5, "miou_crf": 55.0, "bad": float("nan"),
                                                            "path": "x", "n": 3},
                              {"guide.tau": 0.6, "segmenter.net.convs": (1, 2)})
    assert numbers == {"miou": 51.5, "miou_crf": 55.0, "n": 3.0}
    events = EventAccumulator(glob.glob(str(tmp_path / "logs" / "results"))[0], size_guidance={"tensors": 0})
    events.Reload()
    scalars = {tag: float(tf.make_ndarray(events.Tensors(tag)[0].tensor_proto))
               for tag in events.Tags()["tensors"] if tag.startswith("results/")}
    assert scalars == {"results/miou": 51.5, "results/miou_crf": 55.0, "results/n": 3.0}
    assert "_hparams_/session_start_info" in events.Tags()["tensors"]
