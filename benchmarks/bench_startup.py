"""Start-up: process start → main window shown, against `python -c "import torch"`, in one run.

The window is built to paint before torch is imported (torch loads afterwards in a
thread), so it should show in under a third of the torch import time.

    python benchmarks/bench_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def time_command(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def time_window_shown(env: dict[str, str], settings: str) -> float:
    """Wall time from spawning `python -m explorer` to its report that the window was shown."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "explorer", "--quit-after-show", "--settings", settings],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    for line in proc.stdout:
        if line.startswith("shown"):
            shown = time.perf_counter() - start
            break
    else:
        raise RuntimeError("the app never reported its window as shown")
    proc.wait()
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    with tempfile.TemporaryDirectory() as tmp:
        settings = os.path.join(tmp, "bench.ini")
        time_window_shown(env, settings)  # warm the file cache for both
        time_command([sys.executable, "-c", "import torch"], env)
        window, torch_import, bare = [], [], []
        for _ in range(args.runs):  # interleaved, so machine noise hits both alike
            window.append(time_window_shown(env, settings))
            torch_import.append(time_command([sys.executable, "-c", "import torch"], env))
            bare.append(time_command([sys.executable, "-c", "pass"], env))
    w, t, b = (statistics.median(x) for x in (window, torch_import, bare))
    print(f"runs: {args.runs} (medians; process start included in both)")
    print(f"python -c pass               {b * 1000:7.0f} ms")
    print(f"process start → window shown {w * 1000:7.0f} ms")
    print(f'python -c "import torch"     {t * 1000:7.0f} ms')
    print(f"window / torch import        {w / t:7.2f}  (goal < 0.33)")


if __name__ == "__main__":
    main()
