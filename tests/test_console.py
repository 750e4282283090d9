"""The console and the stage directories (issue 13, items 9 and 14): one run per stage at a time,
each stage's output in its log.txt without control codes, Ctrl-C as one line."""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, run_cli
from tfguided import files


def test_a_held_lock_is_refused_naming_its_holder(tmp_path):
    with files.exclusive_lock(str(tmp_path), "stage seeder"):
        with pytest.raises(OSError, match=rf"stage seeder is being built by another process \(pid {os.getpid()} "):
            with files.exclusive_lock(str(tmp_path), "stage seeder"):
                pass
    with files.exclusive_lock(str(tmp_path), "stage seeder"):  # released after the block
        pass


@pytest.mark.slow
def test_a_second_run_of_a_stage_in_progress_is_refused(tmp_path):
    """The stage directory is locked by this process, as by a first run still training: the
    second run stops with the holder's pid instead of deleting its temporary files."""
    workdir = tmp_path / "work"
    with files.exclusive_lock(str(workdir / "seeder"), "stage seeder"):
        proc = run_cli(["train_main.py", "--stage=seeder", "--preset=tiny", f"--workdir={workdir}"], check=False)
    assert proc.returncode == 2, proc.stdout[-2000:]
    assert f"is being built by another process (pid {os.getpid()}" in proc.stdout


def test_console_copy_strips_control_codes(tmp_path, capsys):
    path = tmp_path / "log.txt"
    with files.console_copy(str(path)):
        print("\x1b[1m 1/3\x1b[0m\r 2/3\r 3/3")
        print("error: x", file=sys.stderr)
    assert path.read_text() == " 1/3\n 2/3\n 3/3\nerror: x\n"
    assert "\x1b[1m" in capsys.readouterr().out  # the terminal still gets them


@pytest.mark.slow
def test_ctrl_c_prints_one_line_and_the_stage_log_has_no_control_codes(tmp_path):
    workdir = tmp_path / "work"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    proc = subprocess.Popen([sys.executable, "train_main.py", "--stage=seeder", "--preset=tiny",
                             f"--workdir={workdir}"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    log = workdir / "seeder" / "log.txt"
    deadline = time.time() + 300
    # after the first epoch: a SIGINT while TensorFlow traces the step can end in its own fatal
    # error dump (BUILD_NOTES.md, Operations); once training runs it is a KeyboardInterrupt
    while time.time() < deadline and not (log.exists() and "Epoch 2/" in log.read_text()):
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-3000:]
    assert "interrupted; rerun the same command to resume" in out and "Traceback" not in out
    text = log.read_text()
    assert "[seeder] running into" in text and "\x1b" not in text
