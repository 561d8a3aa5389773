"""Opening a captioner: a bundled name, a weight file, a model folder or a Hugging Face model id.

Every file goes through :func:`explorer.engine.infra.checkpoints.load_state_dict`;
nothing opened can run code. A file that is not a captioner raises
:class:`~explorer.engine.captioning.captioner.CaptionModelError` saying what it holds instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image

from explorer.engine.captioning.captioner import CONVERTER_HINT, Captioner, CaptionModelError
from explorer.engine.captioning.networks import ModelConfig, Vocabulary, build, to_pixels
from explorer.engine.infra.checkpoints import CheckpointError, load_config, load_state_dict
from explorer.engine.infra.progress import Reporter

#: Bundled captioners: name → (file in resources/models, title).
BUNDLED: dict[str, tuple[str, str]] = {
    "attention": ("caption_attention.safetensors", "Attention decoder (Show, Attend and Tell)"),
    "attention_boxes": ("caption_attention_boxes.safetensors", "Attention decoder, attention taught from boxes"),
    "classic": ("caption_classic.safetensors", "Classic CNN→RNN decoder"),
}


class SceneCaptioner(Captioner):
    """A captioner of this project's own architecture (bundled or retrained)."""

    synthetic = True

    def __init__(self, model: torch.nn.Module, vocab: Vocabulary, config: dict[str, Any], name: str) -> None:
        super().__init__()
        self.model = model.eval()
        self.vocab = vocab
        self.config = model.config
        self.name = name
        self.kind = self.config.kind
        self.title = BUNDLED.get(name, ("", "Attention decoder" if self.kind == "attention" else "Classic CNN→RNN decoder"))[1]
        self.metrics = dict(config.get("metrics", {}))
        g = self.config.image_size // 8
        self.grid = (g, g) if self.kind == "attention" else None
        if self.kind == "attention":
            supervised = bool(config.get("model", {}).get("attention_supervision", 0))
            self.attention_note = (
                "These maps were TAUGHT: in training, the scene generator's boxes told the attention where each "
                "named object is (box supervision)." if supervised
                else "These maps were learned without supervision: training gave only the captions, never where the objects are."
            )

    @property
    def stepper(self):
        return self.model

    def pixels(self, image: Image.Image) -> torch.Tensor:
        return to_pixels([image], self.config.image_size)  # (1, 3, S, S)

    def word(self, token: int) -> str:
        return self.vocab.word(token)


def bundled_path(name: str) -> Path:
    from explorer.assets import resource_path

    return resource_path("models", BUNDLED[name][0])


def load(source: str | Path, reporter: Reporter | None = None) -> Captioner:
    """A captioner from a bundled name (``"attention"``, ``"classic"``), a weight file, a model
    folder, or a Hugging Face model id (``owner/name``), downloaded with progress when online.

    Raises:
        CaptionModelError: the file or folder is not a captioner (or is broken).
    """
    if isinstance(source, str) and source in BUNDLED:
        path = bundled_path(source)
        if not path.is_file():
            raise CaptionModelError(
                f"the bundled {source} captioner is missing ({path.name}); retrain it with "
                "python scripts/train_captioner.py"
            )
        return load_file(path, name=source)
    path = Path(source)
    if path.is_dir():
        from explorer.engine.captioning.huggingface import load_folder

        return load_folder(path)
    if not path.exists():
        from explorer.engine.infra.hub import HubDownloadError, download_folder, looks_like_repo_id

        if isinstance(source, str) and looks_like_repo_id(source):
            try:
                folder = download_folder(source, reporter=reporter)
            except HubDownloadError as exc:
                raise CaptionModelError(str(exc)) from exc
            from explorer.engine.captioning.huggingface import load_folder

            return load_folder(folder)
        raise CaptionModelError(f"{path.name}: no such file or folder.")
    return load_file(path)


def load_file(path: str | Path, name: str | None = None) -> Captioner:
    path = Path(path)
    try:
        state = load_state_dict(path)
    except CheckpointError as exc:
        raise CaptionModelError(f"{exc} {CONVERTER_HINT}" if "pickled" in str(exc) else str(exc)) from exc
    config = load_config(path) if path.suffix.lower() == ".safetensors" else {}
    if config.get("format") == "sat-tutorial":
        from explorer.engine.captioning.show_attend_tell import from_converted

        return from_converted(state, config, name or path.stem)
    task = str(config.get("task", ""))
    if not task.startswith("caption-"):
        what = f"a model for the task {task!r}" if task else f"{len(state)} tensors without a captioner's config"
        raise CaptionModelError(
            f"{path.name}: not a captioning model (it holds {what}). Open a captioner saved by "
            f"scripts/train_captioner.py or the Training panel, or a Hugging Face folder. {CONVERTER_HINT}"
        )
    model_config = dict(config.get("model", {}))
    try:
        vocab = Vocabulary(model_config["vocabulary"])
        model = build(ModelConfig.from_dict(model_config))
        model.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CaptionModelError(f"{path.name}: the weights do not fit the captioner its config describes ({first}).") from exc
    return SceneCaptioner(model, vocab, config, name or path.stem)
