"""tf.distribute strategies by name (--strategy), and CPU threading.

mirrored      MirroredStrategy over every GPU; without GPUs, over every logical CPU device (the
              tests split the CPU into two logical devices to get two replicas). With a single
              device it is TensorFlow's default strategy: a one-replica MirroredStrategy only adds
              cross-device machinery (measured: 1028 vs 286 ms per seeder step on 2 cores).
multi_worker  MultiWorkerMirroredStrategy; the cluster comes from the TF_CONFIG variable. Every
              worker runs the same command; only the chief writes (tfguided/stages/pipeline.py).
              Keras 3 needs a work-around to fit under it (`fitting`).
default       TensorFlow's default (no distribution).
"""

import contextlib

import tensorflow as tf

from tfguided.choices import STRATEGIES

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


def cluster_resolver():
    """The cluster this process is a task of, from TF_CONFIG: the resolver MultiWorkerMirroredStrategy
    builds its cluster from. Reading it starts nothing, so the per-image stages share their work
    without the strategy (a restarted worker joins a stage its peers are in; stages/parts.py)."""
    return tf.distribute.cluster_resolver.TFConfigClusterResolver()


def worker_task(resolver):
    """(task type, task id) of this process in the cluster; ("chief", 0) without one."""
    if resolver is None or not resolver.cluster_spec().as_dict():
        return "chief", 0
    return resolver.task_type, resolver.task_id


def cluster_tasks(resolver):
    """The cluster's (task type, task id) pairs that share per-image work, in a fixed order (chief
    first, then the workers by id); [("chief", 0)] without a cluster."""
    spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
    tasks = [(kind, i) for kind in ("chief", "worker") for i in range(len(spec.get(kind, ())))]
    return tasks or [("chief", 0)]


def is_chief(resolver):
    """The process that writes artifacts: the `chief` task, else worker 0 (TensorFlow's rule)."""
    task_type, task_id = worker_task(resolver)
    if task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


def in_multi_worker_mode(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and \
        strategy.extended._in_multi_worker_mode()


def _average_logs_over_replicas():
    """Makes Keras average multi-worker logs with axis=None (it asks for axis 0, which scalars
    lack). Process-wide and once; other strategies go to Keras' own reduction unchanged."""
    from keras.src.backend.tensorflow import trainer
    keras_reduce = trainer.reduce_per_replica
    if getattr(keras_reduce, "multi_worker_safe", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if in_multi_worker_mode(strategy) and reduction in ("auto", "mean"):
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return keras_reduce(values, strategy, reduction)

    reduce_per_replica.multi_worker_safe = True
    trainer.reduce_per_replica = reduce_per_replica


@contextlib.contextmanager
def fitting(model, strategy):
    """The context in which `model.fit` runs under `strategy`.

    Keras 3 (3.15 with TF 2.21; keras-team/keras#20585, tensorflow/tensorflow#72388) cannot fit
    under a MultiWorkerMirroredStrategy spanning several workers, for two reasons: its symbolic
    build averages a distributed data batch outside a replica context, and it averages each
    scalar log along axis 0 across workers. The work-around, for that strategy only: the model
    forgets the strategy it was built under (Keras then builds while tracing the step and takes
    the strategy from the enclosing scope, which this context opens), and scalar logs are
    averaged over replicas with axis=None. tests/test_multi_worker.py trains on two processes.
    """
    if not in_multi_worker_mode(strategy):
        yield
        return
    try:
        _average_logs_over_replicas()
        if not hasattr(model, "_distribute_strategy"):
            raise AttributeError("Model._distribute_strategy is gone")
    except (ImportError, AttributeError) as e:
        raise RuntimeError(f"this Keras version changed the internals the multi_worker work-around "
                           f"needs ({e}; tfguided/train/strategy.py: fitting); use --strategy=mirrored")
    model._distribute_strategy = None
    with strategy.scope():
        yield


def configure_cpu_threads():
    """On a machine without GPUs, run one op at a time, each on all cores.

    TensorFlow's default lets independent ops run concurrently, each asking for every core; on
    a small CPU they fight (measured on 2 cores: 512 ms per seeder step, 286 ms with one
    inter-op thread). Must run before TensorFlow starts its runtime.
    """
    if not tf.config.list_physical_devices("GPU"):
        tf.config.threading.set_inter_op_parallelism_threads(1)
