"""Pictures of the ViT panel's steps 8–11 at 1280×720: a random-weight ViT-S/16 on a photo, the bundled model on a scene.

The ViT-S is ``timm.create_model('vit_small_patch16_224', pretrained=False)`` saved as
safetensors in a temporary folder (no download). Step 9 is shown with two heads
switched off and the head importance computed::

    PYTHONPATH=. python scripts/screenshot_vit_explain.py [OUT_DIR] [--theme light|dark] [--models both|photo|scene]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
STEPS = {8: "relevance", 9: "ablation", 10: "heads", 11: "lens"}


def random_vit_small(folder: Path) -> Path:
    import timm
    import torch

    from explorer.engine.infra.checkpoints import save_model

    torch.manual_seed(0)
    model = timm.create_model("vit_small_patch16_224", pretrained=False)
    return save_model(folder / "vit_small_patch16_224-random.safetensors", model.state_dict(), {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--theme", default="light", choices=("light", "dark"))
    parser.add_argument("--models", default="both", choices=("both", "photo", "scene"),
                        help="the random ViT-S on a photo, the bundled model on a scene, or both")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="vit-explain-shots-"))
    weights = random_vit_small(work)

    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QApplication

    from explorer.ui.main_window import MainWindow
    from explorer.ui.workers import active_tasks

    app = QApplication.instance() or QApplication([])
    window = MainWindow(settings=QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1280, 720)
    window.show()
    window.start_engine()
    window.set_theme(args.theme)

    def settle(seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (window.engine.is_ready and active_tasks() == 0):
            app.processEvents()
            time.sleep(0.01)
        for _ in range(30):
            app.processEvents()
            time.sleep(0.01)

    window.set_panel("vit")
    settle()
    panel = window.current_page().panel
    runs = {"photo": ("vit-s-photo", lambda: (window.open_path(ROOT / "resources" / "images" / "chelsea.png",
                                                               background=False), panel.load_model(weights))),
            "scene": ("bundled-scene", lambda: (panel.load_model("shapes"), panel.load_sample_scene()))}
    for name, load in [run for key, run in runs.items() if args.models in (key, "both")]:
        load()
        settle()
        state = panel.state
        for step, view in STEPS.items():
            state.step = step
            settle()
            if step == 9:
                state.set_heads_off({(state.layout.depth - 1, 0), (state.layout.depth // 2, 1)})
                settle()
                state.compute_importance()
                settle()
            if step == 8:
                panel.select_patch(state.layout.patches // 2 + state.layout.grid[1] // 2)
                settle()
            path = out / f"vit-{view}-{name}-{args.theme}.png"
            window.grab().save(str(path))
            print(f"saved {path}")
        state.set_heads_off(())
        settle()


if __name__ == "__main__":
    main()
