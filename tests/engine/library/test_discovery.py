"""Finding models on this computer: a fake Hugging Face cache, torch hub checkpoints, added folders, recents.

The models are real families built from small configs with random weights (transformers,
timm, torchvision), saved the way each library saves them; what the library says about
them is checked against the libraries' own counts and configs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fake_cache import (
    cached_repo,
    folder_files,
    parameter_count,
    save_hf,
    tiny_clip,
    tiny_dinov2_registers,
    tiny_gpt2,
    tiny_vision_encoder_decoder,
    tiny_vit_classifier,
)

from explorer.engine import library
from explorer.engine.library import discover, folder_entries, hf_cache_entries

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, tuple[dict[str, bytes], object]]:
    """Saved folders of a few real families: {name: (files, model)}."""
    base = tmp_path_factory.mktemp("models")
    models = {"vit": tiny_vit_classifier(), "dinov2reg": tiny_dinov2_registers(), "clip": tiny_clip(),
              "captioner": tiny_vision_encoder_decoder(), "gpt2": tiny_gpt2()}
    return {name: (save_hf(model, base / name), model) for name, model in models.items()}


@pytest.fixture
def fake_cache(cache, built) -> Path:
    """A cache with five good models and three broken ones."""
    for repo_id, name in (("someone/tiny-vit", "vit"), ("someone/dinov2-reg", "dinov2reg"), ("someone/clip", "clip"),
                          ("someone/captioner", "captioner"), ("someone/chat", "gpt2")):
        cached_repo(cache, repo_id, built[name][0])
    files = built["vit"][0]
    cached_repo(cache, "broken/missing-blob", files, missing_blobs=("model.safetensors",))
    cached_repo(cache, "broken/bad-json", {**files, "config.json": b"{not json"})
    cached_repo(cache, "broken/no-weights", {"config.json": files["config.json"]})
    return cache


def by_title(entries):
    return {e.title: e for e in entries}


def test_the_cache_is_listed_with_what_each_model_is(fake_cache, built):
    entries = by_title(hf_cache_entries(fake_cache))
    vit = entries["someone/tiny-vit"]
    model = built["vit"][1]
    assert vit.where == "Hugging Face cache" and vit.group == "computer" and vit.panel == "vit" and vit.can_open
    d = vit.description
    assert (d.family, d.input_size, d.patch_size, d.layers, d.width, d.classes) == ("ViT/8", 32, 8, 2, 48, 5)
    assert d.parameters == model.num_parameters(), "parameters must be the tensors' sum, as the model counts them"
    assert Path(vit.source).is_dir() and (Path(vit.source) / "config.json").is_file()

    reg = entries["someone/dinov2-reg"].description
    assert reg.family == "DINOv2/14 with registers" and reg.panel == "vit"
    assert reg.parameters == built["dinov2reg"][1].num_parameters()
    assert any("4 register tokens" in note for note in reg.notes) and reg.input_size == 56

    clip = entries["someone/clip"].description
    clip_model = built["clip"][1]
    assert clip.family == "CLIP/8" and clip.panel == "vit" and clip.vocabulary == 99
    towers = dict(clip.towers)
    assert towers["vision tower"] == clip_model.vision_model.num_parameters()
    assert towers["text tower"] == clip_model.text_model.num_parameters()

    cap = entries["someone/captioner"].description
    assert cap.panel == "captioning" and cap.family == "VisionEncoderDecoder: ViT/8 → gpt2"
    assert cap.vocabulary == 77 and cap.input_size == 32
    assert cap.parameters == built["captioner"][1].num_parameters()


def test_models_the_app_cannot_run_are_listed_with_the_reason(fake_cache):
    entries = by_title(hf_cache_entries(fake_cache))
    chat = entries["someone/chat"]
    assert chat.panel is None and not chat.can_open
    assert "model_type 'gpt2' (GPT2LMHeadModel) is not an image model" in chat.reason
    missing = entries["broken/missing-blob"]
    assert "damaged" in missing.reason and "Blob missing" in missing.reason and "download it again" in missing.reason
    assert "not valid JSON" in entries["broken/bad-json"].reason
    assert "no weights beside it" in entries["broken/no-weights"].reason
    assert len(entries) == 8


def test_the_cache_follows_hf_home_and_hf_hub_cache(tmp_path, built):
    """huggingface_hub reads HF_HOME / HF_HUB_CACHE when it is imported: a fresh interpreter per setting."""
    home = tmp_path / "home"
    cached_repo(home / "hub", "someone/at-home", built["vit"][0])
    other = tmp_path / "elsewhere"
    cached_repo(other, "someone/elsewhere", built["vit"][0])
    code = "from explorer.engine.library import hf_cache_entries; print([e.title for e in hf_cache_entries()])"
    for env, expected in (({"HF_HOME": str(home)}, "someone/at-home"),
                          ({"HF_HOME": str(home), "HF_HUB_CACHE": str(other)}, "someone/elsewhere")):
        clean = {k: v for k, v in __import__("os").environ.items() if not k.startswith("HF_")}
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                                env={**clean, **env}, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == repr([expected]), (env, result.stdout)


def test_torch_hub_checkpoints_follow_torch_home(tmp_path, monkeypatch):
    import timm
    import torchvision

    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.manual_seed(0)
    deit = timm.create_model("deit_tiny_distilled_patch16_224", pretrained=False, img_size=64, num_classes=7)
    torch.save(deit.state_dict(), checkpoints / "deit_tiny_distilled-test.pth")
    dino = timm.create_model("vit_small_patch16_224", pretrained=False, img_size=48, num_classes=0)
    torch.save({"teacher": {f"backbone.{k}": v for k, v in dino.state_dict().items()}, "epoch": 3}, checkpoints / "dino-test.pth")
    tv = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                                              mlp_dim=64, num_classes=10)
    torch.save(tv.state_dict(), checkpoints / "vit_tv-test.pth")
    cnn = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))
    torch.save({"conv1.weight": cnn[0].weight.detach(), "layer1.0.bias": cnn[0].bias.detach()}, checkpoints / "resnet-test.pth")
    torch.save({"model": cnn}, checkpoints / "pickled-module.pth")
    (checkpoints / "truncated.pth").write_bytes(b"PK\x03\x04 not really")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert library.torch_checkpoints_dir() == checkpoints
    entries = by_title(e for e in discover(cache_dir=tmp_path / "none") if e.where == "torch hub checkpoints")

    d = entries["deit_tiny_distilled-test.pth"].description
    assert (d.family, d.panel, d.input_size, d.patch_size, d.classes, d.layers) == ("DeiT-Ti/16 distilled", "vit", 64, 16, 7, 12)
    assert d.parameters == sum(p.numel() for p in deit.parameters())
    d = entries["dino-test.pth"].description
    assert (d.family, d.input_size, d.classes) == ("ViT-S/16", 48, None) and d.parameters == parameter_count(dino.state_dict())
    assert any("no classification head" in note for note in d.notes)
    d = entries["vit_tv-test.pth"].description
    assert (d.family, d.kind, d.input_size, d.layers, d.classes) == ("ViT/8", "torchvision state dict", 32, 2, 10)
    assert d.parameters == sum(p.numel() for p in tv.parameters())
    assert "a convolutional network" in entries["resnet-test.pth"].reason
    assert "pickled Python objects" in entries["pickled-module.pth"].reason
    assert "not a readable PyTorch weight file" in entries["truncated.pth"].reason


def test_added_folders_recent_files_and_the_training_folder(tmp_path, built):
    added = tmp_path / "my models"
    nested = added / "projects" / "vit-run"
    nested.mkdir(parents=True)
    for name, data in built["vit"][0].items():
        (nested / name).write_bytes(data)
    too_deep = added / "a" / "b" / "c"
    too_deep.mkdir(parents=True)
    (too_deep / "deep.safetensors").write_bytes(built["vit"][0]["model.safetensors"])
    (added / "bundled-copy.safetensors").write_bytes((ROOT / "resources/models/vit_shapes.safetensors").read_bytes())
    entries = by_title(folder_entries(added, "added folder"))
    assert set(entries) == {"vit-run", "bundled-copy.safetensors"}, "a folder is searched two levels down, no deeper"
    assert entries["vit-run"].panel == "vit" and entries["vit-run"].description.classes == 5
    own = entries["bundled-copy.safetensors"].description
    assert (own.kind, own.panel, own.classes, own.input_size) == ("this app's format", "vit", 4, 64)

    gone = tmp_path / "gone.safetensors"
    found = discover(folders=[added, tmp_path / "unplugged"], recent=[nested, gone], trained_dir=tmp_path / "none",
                     cache_dir=tmp_path / "none", torch_dir=tmp_path / "none")
    titles = [e.title for e in found]
    assert titles.count("vit-run") == 1, "a recent folder inside an added folder is listed once"
    assert "no longer there" in by_title(found)["gone.safetensors"].reason
    assert "no longer there" in by_title(found)["unplugged"].reason


def test_bundled_models_are_described_from_their_files():
    from explorer.engine.infra.checkpoints import load_state_dict

    entries = library.bundled_entries()
    assert [e.source for e in entries] == ["shapes", "attention", "attention_boxes", "classic", "video_gru", "video_transformer"]
    panels = {e.source: e.panel for e in entries}
    assert panels == {"shapes": "vit", "attention": "captioning", "attention_boxes": "captioning", "classic": "captioning",
                      "video_gru": "video", "video_transformer": "video"}
    for entry in entries:
        assert entry.can_open and entry.group == "bundled"
        assert entry.description.parameters == parameter_count(load_state_dict(entry.path)), entry.title
    shapes = entries[0].description
    assert (shapes.input_size, shapes.patch_size, shapes.classes, shapes.layers, shapes.width) == (64, 8, 4, 4, 96)
    assert entries[1].description.vocabulary == 18


def test_the_catalogue_holds_what_the_issue_asks_for_and_knows_what_is_downloaded(cache, built):
    repos = {item.repo_id: item for item in library.CATALOGUE}
    for wanted in ("google/vit-base-patch16-224", "facebook/deit-tiny-patch16-224", "facebook/deit-tiny-distilled-patch16-224",
                   "facebook/dino-vits16", "facebook/dinov2-small", "facebook/dinov2-with-registers-small",
                   "openai/clip-vit-base-patch16", "google/siglip-base-patch16-224",
                   "nlpconnect/vit-gpt2-image-captioning", "Salesforce/blip-image-captioning-base"):
        assert wanted in repos, wanted
    assert any(r.startswith("timm/vit_") for r in repos)
    for item in library.CATALOGUE:
        assert item.licence and item.download_mb > 0 and item.parameters > 0 and item.panel in ("vit", "captioning")
    assert repos["Salesforce/blip-image-captioning-base"].panel == "captioning"

    snapshot = cached_repo(cache, "facebook/dino-vits16", built["vit"][0])
    found = [e for e in discover(cache_dir=cache, torch_dir=cache / "none") if e.group == "catalogue"]
    dino = next(e for e in found if e.repo_id == "facebook/dino-vits16")
    assert dino.downloaded and dino.source == str(snapshot) and not dino.from_files
    assert all(not e.downloaded and e.needs_download for e in found if e is not dino)
    assert ("Download", "87.0 MB (approximate)") in dino.facts()


def test_search_matches_every_word(fake_cache):
    entries = hf_cache_entries(fake_cache)
    hits = [e.title for e in entries if e.matches("vit  tiny")]
    assert hits == ["someone/tiny-vit"]
    assert [e.title for e in entries if e.matches("captioning")] == ["someone/captioner"]
    assert not [e for e in entries if e.matches("zzz")]


def test_a_timm_folder_is_described_from_its_pretrained_cfg(tmp_path):
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(1)
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, num_classes=3)
    folder = tmp_path / "timm-vit"
    folder.mkdir()
    save_file(model.state_dict(), str(folder / "model.safetensors"))
    config = {"architecture": "vit_tiny_patch16_224", "num_classes": 3,
              "pretrained_cfg": {"tag": "augreg_in21k", "input_size": [3, 32, 32], "mean": [0.5] * 3, "std": [0.5] * 3}}
    (folder / "config.json").write_text(json.dumps(config))
    (entry,) = folder_entries(folder, "added folder")
    d = entry.description
    assert (d.family, d.panel, d.input_size, d.patch_size, d.classes) == ("timm vit_tiny_patch16_224.augreg_in21k", "vit", 32, 16, 3)
    assert d.parameters == sum(p.numel() for p in model.parameters())
    assert any("mean (0.5, 0.5, 0.5)" in note for note in d.notes)
    assert folder_files(folder)  # the folder is left as it was
