"""What every command line shares: a quiet TensorFlow import, and absl's app.run, except that
asking for help succeeds."""

import os
import sys
import tempfile

from absl import app

HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull", "--helpxml")


def run(main):
    """app.run(main); --help and its kin print the flags and exit 0 (absl exits 1)."""
    try:
        app.run(main)
    except SystemExit as e:
        if e.code == 1 and any(arg in HELP_FLAGS for arg in sys.argv[1:]):
            sys.exit(0)
        raise


def import_tensorflow_quietly():
    """Imports TensorFlow (and Keras) with the C++ start-up lines it writes to the process's
    stderr kept off the console (absl's "before InitializeLog" notice and oneDNN's, twice): no
    setting silences them, so file descriptor 2 points elsewhere for the import. Shown if the
    import fails. Call before anything else imports TensorFlow; later messages are unaffected."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
