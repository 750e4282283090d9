"""tf.distribute strategies by name (--strategy), and CPU threading.

mirrored      MirroredStrategy over every GPU; without GPUs, over every logical CPU device (the
              tests split the CPU into two logical devices to get two replicas). With a single
              device it is TensorFlow's default strategy: a one-replica MirroredStrategy only adds
              cross-device machinery (measured: 1028 vs 286 ms per seeder step on 2 cores).
multi_worker  MultiWorkerMirroredStrategy; the cluster comes from the TF_CONFIG variable. Every
              worker runs the same command; only the chief writes (tfguided/stages/pipeline.py).
default       TensorFlow's default (no distribution).
"""

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker")
_MADE = {}


def make_strategy(name="mirrored"):
    """The strategy called `name`; one instance per process, since two distributed strategies in
    one process start their collective-op keys at the same number and abort each other."""
    if name not in _MADE:
        _MADE[name] = _make(name)
    return _MADE[name]


def _make(name):
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        if len(devices) == 1:
            return tf.distribute.get_strategy()
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"--strategy={name!r}: choose one of {', '.join(STRATEGIES)}")


def worker_task(strategy):
    """(task type, task id) of this process in a multi-worker cluster; ("chief", 0) otherwise."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return "chief", 0
    return resolver.task_type, resolver.task_id


def is_chief(strategy):
    """The process that writes artifacts: the `chief` task, else worker 0 (TensorFlow's rule)."""
    task_type, task_id = worker_task(strategy)
    if task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in strategy.cluster_resolver.cluster_spec().as_dict()


def configure_cpu_threads():
    """On a machine without GPUs, run one op at a time, each on all cores.

    TensorFlow's default lets independent ops run concurrently, each asking for every core; on
    a small CPU they fight (measured on 2 cores: 512 ms per seeder step, 286 ms with one
    inter-op thread). Must run before TensorFlow starts its runtime.
    """
    if not tf.config.list_physical_devices("GPU"):
        tf.config.threading.set_inter_op_parallelism_threads(1)
