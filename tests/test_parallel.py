"""parallel.ordered_map: worker processes give the inline results, in the items' order."""

import cv2
import numpy as np
import pytest

from tfguided import parallel
from tfguided.crf import crf_labels


def _cases(count):
    rng = np.random.default_rng(0)
    for i in range(count):
        image = rng.integers(0, 256, (20 + i, 17, 3), dtype=np.uint8)
        probs = rng.dirichlet(np.ones(3), (20 + i, 17)).astype(np.float32)
        yield f"img{i}", image, probs


def test_worker_processes_match_inline_in_order():
    args = lambda item: (item[1], item[2], "deeplab", 5)
    inline = list(parallel.ordered_map(crf_labels, _cases(7), args, workers=1))
    pooled = list(parallel.ordered_map(crf_labels, _cases(7), args, workers=2))
    assert [item[0] for item, _ in pooled] == [f"img{i}" for i in range(7)]
    for (_, a), (_, b) in zip(inline, pooled):
        np.testing.assert_array_equal(a, b)
    assert [a.shape for _, a in pooled] == [(20 + i, 17) for i in range(7)]


def test_a_worker_error_reaches_the_caller():
    bad = [("bad", np.zeros((4, 4, 3), np.uint8), np.ones((5, 4, 2), np.float32))]
    with pytest.raises(ValueError, match="differ"):
        list(parallel.ordered_map(crf_labels, bad, lambda item: (item[1], item[2]), workers=2))


def test_workers_run_opencv_on_one_thread():
    """One worker per core already fills the machine: each runs OpenCV single-threaded (this
    process keeps its own setting)."""
    before = cv2.getNumThreads()
    threads = [n for _, n in parallel.ordered_map(cv2.getNumThreads, range(4), lambda item: (), workers=2)]
    assert threads == [1, 1, 1, 1]
    assert cv2.getNumThreads() == before


MAIN_SCRIPT = """
import os, sys
with open(sys.argv[1], "a") as f:  # every process that runs this script leaves a line
    f.write(f"{os.getpid()}\\n")
if __name__ == "__main__":
    import tensorflow  # as every command of the package: the workers must not import it
    from tfguided import parallel
    pids = [pid for _, pid in parallel.ordered_map(os.getpid, range(6), lambda item: (), workers=2)]
    print(sorted(set(pids)), os.getpid(), "tensorflow" in sys.modules)
"""


@pytest.mark.slow
def test_workers_start_without_the_main_script(tmp_path):
    """Spawned workers would re-run the main script (train_main.py imports TensorFlow and Keras:
    2.2 s and ~580 MB per worker); they start from the package alone, and the script's own
    __spec__ and __file__ are back afterwards."""
    from conftest import run_cli
    script, ran = tmp_path / "main_script.py", tmp_path / "ran.txt"
    script.write_text(MAIN_SCRIPT)
    proc = run_cli([str(script), str(ran)])
    workers, parent, _ = proc.stdout.strip().splitlines()[-1].rsplit(" ", 2)
    assert eval(workers) and int(parent) not in eval(workers)  # the calls ran in workers
    assert ran.read_text().split() == [parent], "the workers ran the main script"
    main = __import__("__main__")
    spec, file = main.__spec__, getattr(main, "__file__", None)
    with parallel.main_script_hidden():
        assert main.__spec__ is None and not hasattr(main, "__file__")
    assert (main.__spec__, getattr(main, "__file__", None)) == (spec, file)
