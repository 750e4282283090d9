"""Progress bars for long loops (conversion, guide generation, evaluation, predict).

On a terminal the bar redraws in place; into a file or pipe it writes a plain line every
`interval` seconds and at the end, with no control characters, so redirected logs stay readable.
"""

import sys
import time


def progress_bar(total, name, stream=None, interval=None):
    """A callable taking the count done, that draws `done/total name` with rate and time left."""
    stream = stream or sys.stdout
    live = stream.isatty()
    interval = interval if interval is not None else (0.1 if live else 15.0)
    start = time.time()
    last = [start]

    def update(done):
        now = time.time()
        if now - last[0] < interval and done < total:
            return
        last[0] = now
        elapsed = now - start
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (total - done) / rate if rate > 0 else 0.0
        width = 20
        filled = int(width * done / total) if total else width
        text = (f"{done}/{total} {name}s [{'=' * filled}{'.' * (width - filled)}] "
                f"{elapsed:.0f} s, {rate:.1f} {name}s/s" + (f", {left:.0f} s left" if done < total else ""))
        stream.write(("\r" + text + ("\n" if done >= total else "")) if live else text + "\n")
        stream.flush()
    return update
