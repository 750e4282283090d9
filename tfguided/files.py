"""Atomic file writes and checksums: an interrupted run never leaves a half-written artifact.

Every artifact (shards, manifests, PNGs, metrics) is written to a temporary name in the same
directory, fsync'ed, then renamed over the final name; a rename within a directory is atomic on
POSIX, so a reader sees either the old file, the new file or nothing.
"""

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import re
import socket
import sys
import tempfile
import time

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path, extension=None):
    """Yields a temporary path beside `path`; on success renames it to `path`, else deletes it.

    The temporary name ends with `extension`, by default that of `path` (Keras insists on
    `.keras`, and on `.weights.h5` for weights).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    extension = os.path.splitext(path)[1] if extension is None else extension
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp" + extension,
                               dir=directory)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_bytes(path, data):
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def finite(obj):
    """`obj` with every NaN or infinite float replaced by None (strict JSON has neither)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def atomic_write_json(path, obj):
    """Strict JSON (a NaN, e.g. a precision with nothing labelled, is written as null)."""
    atomic_write_text(path, json.dumps(finite(obj), indent=2, sort_keys=True, allow_nan=False) + "\n")


def read_text(path):
    """A text file as str, however another tool wrote it: UTF-8 with or without a byte-order mark
    (Excel's "CSV UTF-8" starts with one), CRLF or CR line ends read as \\n."""
    try:
        with open(path, encoding="utf-8-sig", newline=None) as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: file missing") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason}); save it as UTF-8") from None


def read_lines(path, comments=False):
    """The non-blank lines of a text file (`read_text`), stripped; with `comments`, lines starting
    with '#' are left out too."""
    lines = (line.strip() for line in read_text(path).split("\n"))
    return [line for line in lines if line and not (comments and line.startswith("#"))]


def read_json(path):
    try:
        with open(path, encoding="utf-8-sig") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e


def sha256_file(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_writable_dir(path, what="directory"):
    """Creates `path` if needed and proves it is writable, with an error naming it if not."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as e:
        raise PermissionError(f"{what} {path!r} is not writable: {e.strerror or e}") from e
    return path


@contextlib.contextmanager
def exclusive_lock(directory, what):
    """Holds `directory`/.lock for the block, or refuses at once, naming the process that holds
    it: two runs of one stage would delete each other's temporary files."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, ".lock"), "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            raise OSError(f"{directory}: {what} is being built by another process "
                          f"({f.read().strip() or 'unknown'}); wait for it to finish or stop it") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}: "
                f"{' '.join(sys.argv)}\n")
        f.flush()
        yield


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class _Tee:
    """A text stream writing to `stream` as is and to `log` without terminal control codes
    (colours, and carriage returns become line ends)."""

    def __init__(self, stream, log):
        self.stream, self.log = stream, log

    def write(self, text):
        self.stream.write(text)
        self.log.write(ANSI.sub("", text).replace("\r", "\n"))
        return len(text)

    def flush(self):
        self.stream.flush()
        self.log.flush()

    def isatty(self):
        return self.stream.isatty()

    def __getattr__(self, name):
        return getattr(self.stream, name)


LIBRARY_LOGGERS = ("tensorflow", "absl", "h5py")  # their INFO lines are not the package's own


@contextlib.contextmanager
def library_logs_to(stream):
    """Sends what TensorFlow, absl and h5py log through Python's logging to `stream` only, for
    the block (a SavedModel export alone logs screens of INFO lines)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    saved = []
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate))
        logger.handlers, logger.propagate = [handler], False
    try:
        yield
    finally:
        for logger, handlers, propagate in saved:
            logger.handlers, logger.propagate = handlers, propagate


@contextlib.contextmanager
def console_copy(path):
    """Copies what the block prints (stdout and stderr) into `path`, appended, plain text; what
    TensorFlow logs goes to `path` alone (`library_logs_to`)."""
    with open(path, "a") as log:
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(out, log), _Tee(err, log)
        try:
            with library_logs_to(log):
                yield
        finally:
            sys.stdout, sys.stderr = out, err
