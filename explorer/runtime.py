"""Process-wide settings for the numeric libraries, applied before they are imported.

Both matter on small machines shared with other programs (measured on 2 cores
with one busy elsewhere):

- ``OMP_WAIT_POLICY=PASSIVE``: torch's OpenMP threads otherwise spin while they
  wait for each other; when a core is taken they spin against it and a ViT
  training step runs 10× slower with 2 threads than with 1 (27 vs 270 samples/s).
  Passive waiting gives 270 with either.
- ``OPENBLAS_NUM_THREADS=1``: NumPy's work here is many small matrix-vector
  products (an RNN step, an attention edit) where OpenBLAS threads cost more than
  they save, about 2× (benchmarks/bench_rnn.py).

A value the user has already set is kept.

:func:`share_interpreter_with_gui` shortens Python's thread switch interval: a
worker thread (training, inference) holding the GIL makes the GUI thread wait up
to the interval each time it needs the GIL back, and a plot redraw needs it
dozens of times. With the default 5 ms the Training panel's event loop stalled
50–65 ms; with 1 ms, 24–30 ms (benchmarks/bench_training.py).
"""

from __future__ import annotations

import os
import sys

SETTINGS = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_NUM_THREADS": "1"}


def configure_numeric_libraries() -> None:
    """Apply :data:`SETTINGS` (call before importing numpy or torch)."""
    for key, value in SETTINGS.items():
        os.environ.setdefault(key, value)


#: Seconds a thread may hold the GIL before it is asked to hand it over (Python's default 0.005).
GUI_SWITCH_INTERVAL = 0.001


def share_interpreter_with_gui() -> None:
    """Let the GUI thread get the GIL back quickly from busy worker threads."""
    sys.setswitchinterval(GUI_SWITCH_INTERVAL)


def _libc():
    """glibc, or None elsewhere (macOS, Windows, musl): the heap there is left as it is."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def release_free_memory() -> bool:
    """Hand the heap's free pages back to the system (glibc ``malloc_trim``); False where it cannot.

    The workers' large temporaries (a traced ViT, a decoded clip, a training batch) are freed
    into per-thread heaps that glibc keeps: in a 10,000-action session the resident size grew
    300–400 MB between trims with no live object behind it (benchmarks/bench_soak.py). A trim
    takes a few milliseconds; the main window runs one when the app has been idle a while.
    """
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
