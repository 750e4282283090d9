"""Per-image CPU work (dense CRF, MB+ saliency) spread over the machine's cores, in order."""

import collections
import concurrent.futures
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time

import cv2


def cpu_count():
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def ordered_map(fn, items, args, workers=None, in_flight=None):
    """Yields (item, fn(*args(item))) for each item of `items`, in order.

    With more than one worker the calls run in worker processes (pydensecrf and numpy loops hold
    the GIL, so threads would not help), started with `spawn` because TensorFlow is not safe to
    fork; at most `in_flight` (default 2 x workers) calls are pending, so memory stays bounded on
    long splits; make it larger when `items` come in bursts (a network's batch), so the workers
    keep busy while the next burst is made. `fn` must be importable from a module of its own (not
    the main script: see `worker_pool`). workers=None: one per core; 1: inline. Each worker runs
    OpenCV on one thread (a worker per core already fills the machine; OpenCV's own pool would
    only contend: ~5% slower guide labelling). A worker whose parent dies (SIGKILL, preemption)
    exits within a second instead of lingering with its memory. The workers are started once per
    process and kept for its later calls (`worker_pool`): the stages of one run share them.
    """
    workers = cpu_count() if workers is None else workers
    if workers <= 1:
        for item in items:
            yield item, fn(*args(item))
        return
    in_flight = in_flight or 2 * workers
    pool, pending = worker_pool(workers), collections.deque()
    try:
        for item in items:
            pending.append((item, pool.submit(fn, *args(item))))
            if len(pending) >= in_flight:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
    finally:
        for _, future in pending:  # the caller stopped early or failed: drop what it will not read
            future.cancel()


_POOL = {}  # the process's worker pool and its size (`worker_pool`)


def worker_pool(workers):
    """This process's pool of `workers` spawned worker processes, started on first use and kept
    (a pool of another size, or one a dead worker broke, is replaced).

    The workers are started without the main script: a spawned process re-imports the script it
    was started from, and train_main.py (like every command here) imports TensorFlow and Keras
    (2.2 s of a core and ~580 MB per worker, measured). The evaluation's CRF workers never need
    them; the guide's labeller and MB+ import TensorFlow on their first photo (its decoder)."""
    pool = _POOL.get("pool")
    if pool is None or _POOL["workers"] != workers or pool._broken:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        context = multiprocessing.get_context("spawn")
        pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=start_worker,
                                                      initargs=(os.getpid(),))
        with main_script_hidden():  # submit spawns a worker while none is idle: all of them now
            for _ in range(workers):
                pool.submit(os.getpid)
        _POOL.update(pool=pool, workers=workers)
    return pool


@contextlib.contextmanager
def main_script_hidden():
    """Processes spawned inside do not run the main script (multiprocessing's spawn re-runs the
    `__main__` module named by its `__spec__` or `__file__`)."""
    main = sys.modules["__main__"]
    saved = {name: main.__dict__.pop(name) for name in ("__spec__", "__file__") if name in main.__dict__}
    main.__spec__ = None
    try:
        yield
    finally:
        del main.__spec__
        main.__dict__.update(saved)


def start_worker(parent_pid):
    """A worker's set-up: single-threaded OpenCV, Ctrl-C left to the parent (which prints one
    line and stops; the idle workers then exit with it), and exit with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)
    exit_with_parent(parent_pid)


def exit_with_parent(parent_pid, poll_seconds=0.5):
    """Starts a thread that ends this process once `parent_pid` is no longer its parent."""
    def watch():
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()
