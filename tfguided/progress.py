"""Progress bars for long loops (conversion, guide generation, evaluation)."""

import sys

import keras


def progress_bar(total, name):
    """A Keras progress bar as a callable taking the count done; live on a terminal, every 15 s in a log."""
    bar = keras.utils.Progbar(total, unit_name=name, interval=0.05 if sys.stdout.isatty() else 15)
    return lambda done: bar.update(done)
