"""Convert a checkpoint of the PyTorch Show-Attend-Tell tutorial into a safetensors file the app opens.

The tutorial (github.com/sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning)
saves whole pickled modules (``torch.save({"encoder": encoder, "decoder":
decoder, ...})``). Reading such a file runs code stored in it, so Sequence
Vision Explorer refuses to open it. Run THIS script yourself, in the
environment (and folder) where you trained the model — where the tutorial's
``models.py`` can be imported and you trust the file — to write plain tensors::

    cd a-PyTorch-Tutorial-to-Image-Captioning
    python /path/to/convert_sat_checkpoint.py BEST_checkpoint_coco_5_cap_per_img_5_min_word_freq.pth.tar \\
        --wordmap WORDMAP_coco_5_cap_per_img_5_min_word_freq.json --out sat_coco.safetensors

Then open ``sat_coco.safetensors`` in the Captioning panel (Model ▾ › Open
model file…). Needs only torch and safetensors; it does not import the app.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def state_dicts_of(checkpoint) -> dict:
    """The encoder's and decoder's tensors, prefixed ``encoder.`` / ``decoder.`` (DataParallel unwrapped)."""
    tensors = {}
    for part in ("encoder", "decoder"):
        module = checkpoint.get(part) if isinstance(checkpoint, dict) else None
        if module is None:
            raise SystemExit(f"the checkpoint has no '{part}' entry (keys: {', '.join(map(str, checkpoint))})")
        module = getattr(module, "module", module)  # nn.DataParallel
        state = module.state_dict() if hasattr(module, "state_dict") else module
        for key, value in state.items():
            key = key[len("module."):] if key.startswith("module.") else key
            tensors[f"{part}.{key}"] = value.detach().cpu().contiguous()
    return tensors


def convert(checkpoint_path: Path, wordmap_path: Path, out: Path, encoded_image_size: int = 14, image_size: int = 256) -> Path:
    import torch
    from safetensors.torch import save_file

    # The user's own, trusted file: unpickling it is the point of running this script themselves.
    checkpoint = torch.load(str(checkpoint_path), map_location="cpu", weights_only=False)
    tensors = state_dicts_of(checkpoint)
    word_map = json.loads(Path(wordmap_path).read_text())
    config = {
        "format": "sat-tutorial",
        "word_map": word_map,
        "encoded_image_size": encoded_image_size,
        "image_size": image_size,
        "source": Path(checkpoint_path).name,
        "epoch": int(checkpoint.get("epoch", -1)) if isinstance(checkpoint.get("epoch", -1), int) else -1,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata={"config": json.dumps(config)})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="the tutorial's BEST_checkpoint_*.pth.tar")
    parser.add_argument("--wordmap", type=Path, required=True, help="the WORDMAP_*.json written by create_input_files.py")
    parser.add_argument("--out", type=Path, help="output .safetensors (default: beside the checkpoint)")
    parser.add_argument("--encoded-image-size", type=int, default=14, help="the encoder's grid (tutorial: 14)")
    parser.add_argument("--image-size", type=int, default=256, help="input resize (tutorial: 256)")
    args = parser.parse_args(argv)
    out = args.out or args.checkpoint.with_name(args.checkpoint.name.split(".")[0] + ".safetensors")
    path = convert(args.checkpoint, args.wordmap, out, args.encoded_image_size, args.image_size)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
