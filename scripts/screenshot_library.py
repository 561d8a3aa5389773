"""The README's pictures of the Models library: the dialog over a 1280×720 window, both themes.

It builds a Hugging Face cache and a torch hub folder of small real models (random weights) in a
temporary folder, serves one catalogue model from the tests' stand-in hub on 127.0.0.1 (slowly,
so the light picture catches a download in progress), and paints the dialog over the window::

    PYTHONPATH=. python scripts/screenshot_library.py [OUT_DIR]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.mkdtemp(prefix="library-shots-"))
os.environ["HF_HUB_CACHE"] = str(WORK / "hf")  # before huggingface_hub is imported
os.environ["TORCH_HOME"] = str(WORK / "torch")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(ROOT / "tests" / "engine" / "library"))


def build_models() -> None:
    import timm
    import torch
    from fake_cache import cached_repo, save_hf, tiny_clip, tiny_dinov2_registers, tiny_gpt2, tiny_vision_encoder_decoder, tiny_vit_classifier

    files = {}
    for repo_id, model in (("google/vit-base-patch16-224", tiny_vit_classifier()), ("facebook/dinov2-with-registers-small", tiny_dinov2_registers()),
                           ("openai/clip-vit-base-patch16", tiny_clip()), ("nlpconnect/vit-gpt2-image-captioning", tiny_vision_encoder_decoder()),
                           ("openai-community/gpt2", tiny_gpt2())):
        files = save_hf(model, WORK / "saved" / repo_id.replace("/", "_"))
        cached_repo(WORK / "hf", repo_id, files)
    cached_repo(WORK / "hf", "someone/half-copied", files, missing_blobs=("model.safetensors",))
    checkpoints = WORK / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(timm.create_model("deit_tiny_distilled_patch16_224", pretrained=False).state_dict(),
               checkpoints / "deit_tiny_distilled_patch16_224-b40b3cf7.pth")


def main(out: Path) -> None:
    build_models()
    import numpy as np
    from PyQt6.QtCore import QPoint, QSettings
    from PyQt6.QtGui import QColor, QPainter, QPen
    from PyQt6.QtWidgets import QApplication
    from safetensors.numpy import save
    from standin_hub import StandInHub

    from explorer.ui import library
    from explorer.ui.theme import colors as theme_colors
    from explorer.ui.main_window import MainWindow
    from explorer.ui.workers import active_tasks

    weights = save({"w": np.random.default_rng(0).standard_normal(6_000_000).astype(np.float32)})
    config = {"model_type": "dinov2", "architectures": ["Dinov2Model"], "hidden_size": 384, "patch_size": 14, "image_size": 518}
    hub = StandInHub({"facebook/dinov2-small": {"config.json": json.dumps(config).encode(), "model.safetensors": weights}},
                     delay=0.05)
    os.environ["HF_ENDPOINT"] = hub.start()
    app = QApplication.instance() or QApplication([])
    window = MainWindow(settings=QSettings(str(WORK / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1280, 720)
    window.show()
    window.start_engine()
    window.open_path(ROOT / "resources" / "images" / "chelsea.png", background=False)

    def settle(until=lambda: active_tasks() == 0, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (window.engine.is_ready and until()):
            app.processEvents()
            time.sleep(0.01)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.01)

    settle()
    window.set_panel("vit")
    settle()
    dialog = library.show_library(window.context, "vit", window.current_page().panel, trained_dir=WORK / "trained")
    settle()
    out.mkdir(parents=True, exist_ok=True)
    for theme in ("dark", "light"):
        window.set_theme(theme)
        if theme == "dark":
            dialog.state.panel_filter = ""
            dialog.state.selected = "hf:facebook/dinov2-with-registers-small"
            settle()
        else:
            dialog.state.panel_filter = "vit"
            dialog.state.selected = "catalogue:facebook/dinov2-small"
            dialog.state.download_selected()
            settle(until=lambda: (dialog.state.progress or (0, ""))[0] > 0.4, seconds=30)
        picture = window.grab()
        painter = QPainter(picture)
        shot = dialog.grab()
        corner = QPoint((picture.width() - shot.width()) // 2, (picture.height() - shot.height()) // 2)
        painter.fillRect(picture.rect(), QColor(0, 0, 0, 90))  # the window behind, dimmed as under a dialog
        painter.drawPixmap(corner, shot)
        painter.setPen(QPen(QColor(theme_colors(theme).accent), 2))
        painter.drawRect(corner.x() - 1, corner.y() - 1, shot.width() + 1, shot.height() + 1)
        painter.end()
        picture.save(str(out / f"library-{theme}.png"))
        print(f"saved {out / f'library-{theme}.png'} ({picture.width()}×{picture.height()})")
    dialog.state.cancel()
    settle()
    hub.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
