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
"""

from __future__ import annotations

import os

SETTINGS = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_NUM_THREADS": "1"}


def configure_numeric_libraries() -> None:
    """Apply :data:`SETTINGS` (call before importing numpy or torch)."""
    for key, value in SETTINGS.items():
        os.environ.setdefault(key, value)
