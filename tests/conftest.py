"""Shared fixtures and the suite's guarantees.

- Qt runs offscreen: no display is needed, and pytest-qt aborts without one.
- Every test starts from a fixed seed (:func:`test_seed`): Python's ``random``, NumPy's
  global generator and torch are seeded from the test's id through a stable hash (not
  ``hash()``, which Python salts per process), so a test draws the same numbers on every
  run and machine. A failing test prints its seed. ``SEQVIS_SEED=<n>`` shifts every seed.
- ``SEQVIS_REQUIRE_REFERENCES=1`` (set by ``.ci/run``) turns a skip caused by a missing
  package (``pytest.importorskip``: timm, torchvision, scipy, transformers, PyAV, ...) into a
  failure, so CI never passes without comparing against the references.
- ``SEQVIS_DATA_DIGEST=<file>`` writes one digest per test of the random state it used
  (the global generators and every NumPy generator it made); two runs that write the same
  file drew the same data (``tests/test_reproducibility.py`` checks it).
"""

from __future__ import annotations

import hashlib
import os
import random
import re

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from explorer.runtime import configure_numeric_libraries  # noqa: E402

configure_numeric_libraries()  # as the app runs (before numpy/torch are imported)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SEED_BASE = int(os.environ.get("SEQVIS_SEED", "0"))
REQUIRE_REFERENCES = os.environ.get("SEQVIS_REQUIRE_REFERENCES", "") not in ("", "0")
DIGEST_FILE = os.environ.get("SEQVIS_DATA_DIGEST", "")

#: What pytest.importorskip says when a package is missing or too old.
_MISSING_PACKAGE = re.compile(r"could not import '([\w.]+)'|module '([\w.]+)' has __version__")


def stable_seed(node_id: str, base: int = SEED_BASE) -> int:
    """A seed in [0, 2³¹) from a test's id: the same on every run, process and machine."""
    digest = hashlib.sha256(f"{base}:{node_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFF_FFFF


@pytest.fixture(autouse=True)
def test_seed(request) -> int:
    """Seed ``random``, NumPy's global generator and torch (CPU and CUDA) for this test; the seed."""
    import torch

    seed = stable_seed(request.node.nodeid)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    request.node.user_properties.append(("seed", seed))
    return seed


@pytest.fixture
def rng(test_seed) -> np.random.Generator:
    """A NumPy generator seeded from this test's seed."""
    return np.random.default_rng(test_seed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        seed = dict(item.user_properties).get("seed")
        if seed is not None:
            report.sections.append(
                ("seed", f"{item.nodeid} ran with seed {seed} (stable hash of the test id, SEQVIS_SEED={SEED_BASE})")
            )
    elif report.skipped and REQUIRE_REFERENCES:
        _fail_missing_reference(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and REQUIRE_REFERENCES:
        _fail_missing_reference(report)


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _fail_missing_reference(report) -> None:
    """Turn a skip for a missing package into a failure that says what to install."""
    reason = _skip_reason(report)
    found = _MISSING_PACKAGE.search(reason)
    if found is None:
        return
    package = found.group(1) or found.group(2)
    report.outcome = "failed"
    report.longrepr = (
        f"SEQVIS_REQUIRE_REFERENCES is set, so a missing reference package fails instead of skipping: "
        f"{reason}. Install the test extra (see the README's test command) so that {package!r} imports."
    )


# -- data digests for the reproducibility check ---------------------------------------------------
if DIGEST_FILE:

    @pytest.fixture(autouse=True)
    def _data_digest(request, test_seed, monkeypatch):
        """Record every NumPy generator the test makes; at the end, digest all random states."""
        import torch

        made: list[np.random.Generator] = []
        real = np.random.default_rng

        def recording_default_rng(*args, **kwargs):
            generator = real(*args, **kwargs)
            made.append(generator)
            return generator

        monkeypatch.setattr(np.random, "default_rng", recording_default_rng)
        yield
        digest = hashlib.sha256()
        digest.update(repr(random.getstate()).encode())
        digest.update(repr(np.random.get_state(legacy=False)).encode())
        digest.update(torch.get_rng_state().numpy().tobytes())
        for generator in made:
            digest.update(repr(generator.bit_generator.state).encode())
        with open(DIGEST_FILE, "a", encoding="utf-8") as handle:
            handle.write(f"{request.node.nodeid}\t{len(made)}\t{digest.hexdigest()}\n")


@pytest.fixture
def settings(tmp_path):
    """A throw-away settings file, so tests never touch the user's settings."""
    from PyQt6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def context(qapp, settings):
    """The shared app state (current image, theme) that panels are built with."""
    from explorer.ui.context import AppContext
    from explorer.ui.theme import apply_theme

    apply_theme(qapp, "light")
    return AppContext(settings)


@pytest.fixture
def sample_image():
    from explorer.assets import sample_image_paths
    from explorer.engine.infra.images import load_image

    path, _title = sample_image_paths()[0]
    return load_image(path)


@pytest.fixture(autouse=True)
def _clear_messages():
    """Each test starts with no messages shown to the user."""
    from explorer.ui import errors

    errors.MESSAGES.clear()
    yield
    errors.MESSAGES.clear()


@pytest.fixture
def window(qtbot, settings):
    """The main window, shown offscreen, with the engine (torch) loaded."""
    from explorer.ui.main_window import MainWindow

    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.show()
    win.start_engine()
    qtbot.waitUntil(lambda: win.engine.is_ready, timeout=60_000)
    return win


@pytest.fixture
def wait_for_tasks(qtbot):
    """``wait_for_tasks()`` blocks until every background task finished and its callbacks ran."""
    from explorer.ui.workers import active_tasks

    def wait(timeout: int = 30_000) -> None:
        qtbot.waitUntil(lambda: active_tasks() == 0, timeout=timeout)

    return wait
