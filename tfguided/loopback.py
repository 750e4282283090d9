"""A command run as the N tasks of a tf.distribute cluster on this machine (TF_CONFIG on
127.0.0.1, one process per task): how the tests and bench/cluster.py try --strategy=multi_worker
without a cluster."""

import json
import os
import socket
import subprocess


def free_ports(n):
    """`n` TCP ports free on 127.0.0.1 now."""
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def tf_config(cluster, index):
    """TF_CONFIG of worker `index` of `cluster` ({"worker": [addresses]})."""
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def start_task(args, cluster, index, cwd=None, env=None):
    """Starts `args` as worker `index` of `cluster`; stdout and stderr merged, as text."""
    env = dict(os.environ if env is None else env, TF_CONFIG=tf_config(cluster, index))
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_cluster(args, workers, cwd=None, env=None, timeout=1800):
    """Runs `args` as `workers` tasks of a loopback cluster until all exit; returns
    [(returncode, output)] by task index. Every task is killed if one times out."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(workers)]}
    procs = [start_task(args, cluster, index, cwd, env) for index in range(workers)]
    try:
        outputs = [p.communicate(timeout=timeout)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    return [(p.returncode, out) for p, out in zip(procs, outputs)]
