"""Convert a checkpoint of the PyTorch Show-Attend-Tell tutorial into a safetensors file the app opens.

The tutorial (github.com/sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning)
saves whole pickled modules (``torch.save({"encoder": encoder, "decoder":
decoder, ...})``). Reading such a file runs code stored in it, so Sequence
Vision Explorer refuses to open it. Run THIS script yourself, on a file you
trust, in an environment with torch and safetensors, to write plain tensors::

    python scripts/convert_sat_checkpoint.py BEST_checkpoint_coco_5_cap_per_img_5_min_word_freq.pth.tar \\
        --wordmap WORDMAP_coco_5_cap_per_img_5_min_word_freq.json --out sat_coco.safetensors

Unpickling needs the tutorial's ``models.py`` (the classes the modules were
saved as). The script looks for it in ``--tutorial-dir`` if given, then in the
checkpoint's own folder (where the tutorial's ``train.py`` saves it), then in
the current folder; if it is in none of them, it says so and asks for
``--tutorial-dir``. Then open ``sat_coco.safetensors`` in the Captioning panel
(Open model ▾ › Open model file…). It does not import the app.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


class ConversionError(Exception):
    """The checkpoint could not be converted; the message says why and what to do."""


def state_dicts_of(checkpoint) -> dict:
    """The encoder's and decoder's tensors, prefixed ``encoder.`` / ``decoder.`` (DataParallel unwrapped)."""
    if not isinstance(checkpoint, dict):
        raise ConversionError(f"the file holds a {type(checkpoint).__name__}, not the tutorial's checkpoint dictionary")
    tensors = {}
    for part in ("encoder", "decoder"):
        module = checkpoint.get(part)
        if module is None:
            raise ConversionError(f"the checkpoint has no '{part}' entry (keys: {', '.join(map(str, checkpoint))})")
        module = getattr(module, "module", module)  # nn.DataParallel
        state = module.state_dict() if hasattr(module, "state_dict") else module
        for key, value in state.items():
            key = key[len("module."):] if key.startswith("module.") else key
            tensors[f"{part}.{key}"] = value.detach().cpu().contiguous()
    return tensors


def search_folders(checkpoint_path: Path, tutorial_dir: Path | None) -> list[Path]:
    """Where the tutorial's code may be, in the order tried: the option, the checkpoint's folder, the current one."""
    folders = [tutorial_dir] if tutorial_dir is not None else []
    folders += [Path(checkpoint_path).resolve().parent, Path.cwd()]
    unique: list[Path] = []
    for folder in folders:
        folder = Path(folder).resolve()
        if folder not in unique:
            unique.append(folder)
    return unique


def read_checkpoint(checkpoint_path: Path, tutorial_dir: Path | None = None):
    """Unpickle the user's checkpoint with the tutorial's folder importable (and put ``sys.path`` back after)."""
    import torch

    if tutorial_dir is not None and not (Path(tutorial_dir) / "models.py").is_file():
        raise ConversionError(f"--tutorial-dir {tutorial_dir}: there is no models.py in that folder.")
    folders = search_folders(checkpoint_path, tutorial_dir)
    saved_path = list(sys.path)
    sys.path[:0] = [str(f) for f in folders]
    try:
        # The user's own, trusted file: unpickling it is the point of running this script themselves.
        return torch.load(str(checkpoint_path), map_location="cpu", weights_only=False)
    except ModuleNotFoundError as exc:
        tried = "\n  ".join(str(f) for f in folders)
        raise ConversionError(
            f"the checkpoint's pickled modules need the Python module '{exc.name}', which was not found.\n"
            f"Looked in:\n  {tried}\n"
            "If it is the tutorial's own code (models.py), pass --tutorial-dir /path/to/a-PyTorch-Tutorial-to-Image-"
            "Captioning (the folder with models.py); otherwise install the package that provides it."
        ) from exc
    except FileNotFoundError as exc:
        raise ConversionError(f"{checkpoint_path}: no such file.") from exc
    except Exception as exc:  # a broken or foreign file: say which
        raise ConversionError(f"{Path(checkpoint_path).name}: could not be read as a torch checkpoint ({exc}).") from exc
    finally:
        sys.path[:] = saved_path


def convert(checkpoint_path: Path, wordmap_path: Path, out: Path, encoded_image_size: int = 14, image_size: int = 256,
            tutorial_dir: Path | None = None) -> Path:
    from safetensors.torch import save_file

    checkpoint = read_checkpoint(Path(checkpoint_path), tutorial_dir)
    tensors = state_dicts_of(checkpoint)
    try:
        word_map = json.loads(Path(wordmap_path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConversionError(f"{wordmap_path}: not a readable word map ({exc}).") from exc
    epoch = checkpoint.get("epoch", -1)
    config = {
        "format": "sat-tutorial",
        "word_map": word_map,
        "encoded_image_size": encoded_image_size,
        "image_size": image_size,
        "source": Path(checkpoint_path).name,
        "epoch": epoch if isinstance(epoch, int) else -1,
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata={"config": json.dumps(config)})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="the tutorial's BEST_checkpoint_*.pth.tar")
    parser.add_argument("--wordmap", type=Path, required=True, help="the WORDMAP_*.json written by create_input_files.py")
    parser.add_argument("--out", type=Path, help="output .safetensors (default: beside the checkpoint)")
    parser.add_argument("--tutorial-dir", type=Path, help="the tutorial's folder, with its models.py "
                        "(default: the checkpoint's folder, then the current one)")
    parser.add_argument("--encoded-image-size", type=int, default=14, help="the encoder's grid (tutorial: 14)")
    parser.add_argument("--image-size", type=int, default=256, help="input resize (tutorial: 256)")
    args = parser.parse_args(argv)
    out = args.out or args.checkpoint.with_name(args.checkpoint.name.split(".")[0] + ".safetensors")
    try:
        path = convert(args.checkpoint, args.wordmap, out, args.encoded_image_size, args.image_size, args.tutorial_dir)
    except ConversionError as exc:
        print(f"convert_sat_checkpoint: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
