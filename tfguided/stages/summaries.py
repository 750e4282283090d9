"""A finished stage's figures in TensorBoard: its numeric results as scalars (the seeder's val
mAP, the guide's supervision and saliency quality, the evaluation's mIoU with and without CRF)
and the run's config through the HParams plugin, so runs compare side by side.

    tensorboard --logdir runs/        # Scalars: results/*; HParams: one row per stage directory
"""

import os

import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams

RUN = "results"  # under the stage's logs/, beside Keras' train / validation runs


def write(stage_dir, stage_name, results, config_values):
    """Scalars `results/<key>` at step 0 for every finite number in `results`, and
    `config_values` ({dotted.field: value}) as the run's hyperparameters.

    Args:
      stage_dir: the stage directory; written under its logs/results.
      stage_name: the directory's name, the HParams trial id.
      results: the stage's results dict.
      config_values: the config fields the stage depends on.
    Returns:
      The scalars written, {key: float}.
    """
    numbers = {k: float(v) for k, v in results.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")}
    values = {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in config_values.items()}
    writer = tf.summary.create_file_writer(os.path.join(stage_dir, "logs", RUN))
    with writer.as_default():
        hparams.hparams(values, trial_id=stage_name)
        for key, value in sorted(numbers.items()):
            tf.summary.scalar(f"{RUN}/{key}", value, step=0)
    writer.close()
    return numbers
