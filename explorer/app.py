"""Command line and start-up: ``seqvis [IMAGE] [--panel NAME] [--theme light|dark] [--screenshot OUT.png]``.

Start-up order matters for how soon the window appears: Qt and the window
first (no torch import on this path), show and paint, then torch is imported
in a background thread and the visible panel builds when it is ready.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

_T0 = time.perf_counter()


def build_parser() -> argparse.ArgumentParser:
    from explorer import __version__
    from explorer.ui.panels import panel_keys

    parser = argparse.ArgumentParser(
        prog="seqvis",
        description="Sequence Vision Explorer: RNNs, attention, ViT, captioning and video models, live on your images.",
    )
    parser.add_argument("image", nargs="?", help="image to open (default: the last one, or a bundled sample)")
    parser.add_argument("--panel", choices=panel_keys(), help="panel to show first")
    parser.add_argument("--theme", choices=("light", "dark"), help="colour theme")
    parser.add_argument("--screenshot", metavar="OUT.png", help="render the window to a PNG and exit")
    parser.add_argument("--size", help="window size, e.g. 1280x720 (default: the last size; 1280x800 for --screenshot)")
    parser.add_argument("--settings", metavar="FILE.ini", help="use this settings file instead of the user's")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # For benchmarks/bench_startup.py: print the time the window was shown, then exit.
    parser.add_argument("--quit-after-show", action="store_true", help=argparse.SUPPRESS)
    return parser


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"seqvis: --size must look like 1280x800, not {text!r}") from None
    if not (320 <= width <= 8000 and 240 <= height <= 8000):
        raise SystemExit(f"seqvis: --size {text} is out of range (320x240 … 8000x8000)")
    return width, height


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    size = parse_size(args.size) if args.size else (1280, 800) if args.screenshot else None
    headless = args.screenshot or args.quit_after_show
    if headless and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from explorer.runtime import configure_numeric_libraries, share_interpreter_with_gui

    configure_numeric_libraries()  # before numpy and torch are imported
    share_interpreter_with_gui()

    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QApplication

    from explorer.ui.errors import install_excepthook
    from explorer.ui.main_window import APPLICATION, ORGANIZATION, MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    install_excepthook()
    settings = QSettings(args.settings, QSettings.Format.IniFormat) if args.settings else None
    window = MainWindow(settings=settings)
    if args.theme:
        window.set_theme(args.theme)
    if args.panel:
        window.set_panel(args.panel)
    if size is not None:
        window.resize(*size)
    if not open_initial_image(window, args.image, strict=bool(args.screenshot)):
        return 2
    window.show()
    app.processEvents()
    if args.quit_after_show:
        torch_loaded = "yes" if "torch" in sys.modules else "no"
        print(f"shown {time.perf_counter() - _T0:.4f} torch-imported={torch_loaded} "
              f"size={window.width()}x{window.height()}", flush=True)
        return 0
    window.start_engine()
    if args.screenshot:
        return take_screenshot(app, window, Path(args.screenshot))
    return app.exec()


def open_initial_image(window, image: str | None, *, strict: bool) -> bool:
    """The command-line image, else the last one opened, else a bundled sample."""
    from explorer.assets import sample_image_paths

    if image:
        ok = window.open_path(image, background=False)
        if not ok and strict:
            print(f"seqvis: could not open {image}: see the message above", file=sys.stderr)
            from explorer.ui.errors import MESSAGES

            if MESSAGES:
                print(f"seqvis: {MESSAGES[-1].text}", file=sys.stderr)
            return False
        if ok:
            return True
    last = window.settings.value("lastImage")
    if last and Path(str(last)).is_file() and window.open_path(str(last), background=False):
        return True
    samples = sample_image_paths()
    if samples:
        window.open_path(samples[0][0], background=False)
    return True


def wait_until_settled(app, window, timeout: float = 120.0) -> bool:
    """Process events until the engine is loaded, the page built and no worker runs."""
    from explorer.ui.workers import active_tasks

    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        app.processEvents()
        settled = window.engine.is_ready and window.current_page().built and active_tasks() == 0
        if settled:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 0.3:  # let queued redraws land
                return True
        else:
            quiet_since = None
        time.sleep(0.01)
    return False


def take_screenshot(app, window, path: Path) -> int:
    if not wait_until_settled(app, window):
        print("seqvis: the window did not settle within 120 s; saving it as it is", file=sys.stderr)
    app.processEvents()
    pixmap = window.grab()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not pixmap.save(str(path), "PNG"):
        print(f"seqvis: could not write {path}", file=sys.stderr)
        return 1
    print(f"saved {path} ({pixmap.width()}×{pixmap.height()})")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
