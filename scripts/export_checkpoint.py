"""Turn a training run into a shipped checkpoint: weights + config + metadata, no optimizer state.

    python scripts/export_checkpoint.py runs/synthetic-small synthetic-small --command "tessetrack train ..." [--half]

Writes ``src/tessetrack/checkpoints/NAME/`` with ``model.safetensors`` (loadable by name:
``--checkpoint NAME``) and copies the run's ``log.csv``, ``val.csv``, ``curves.png`` and
``report.json`` beside it, so the training command, its log and its validation metrics ship together.
``--half`` stores the float weights as float16 (half the size; ``load_state_dict`` copies them into
the model's float32 parameters). The training digest is then kept as ``weights_sha1_float32``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from tessetrack.train.checkpoints import half_weights, load_checkpoint, save_checkpoint

DEST = Path(__file__).resolve().parents[1] / "src" / "tessetrack" / "checkpoints"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="training run folder (holds last.safetensors)")
    ap.add_argument("name", help="shipped checkpoint name")
    ap.add_argument(
        "--command", required=True, help="the command that trained it (recorded in the metadata)"
    )
    ap.add_argument("--half", action="store_true", help="store float weights as float16")
    args = ap.parse_args()
    ck = load_checkpoint(args.run / "last.safetensors")
    out = DEST / args.name
    out.mkdir(parents=True, exist_ok=True)
    meta = {**ck.meta, "name": args.name, "training_command": args.command}
    weights = ck.weights
    if args.half:
        weights = half_weights(weights)
        meta["weights_dtype"] = "float16"
        if "weights_sha1" in meta:  # the digest of the float32 weights, not of these
            meta["weights_sha1_float32"] = meta.pop("weights_sha1")
    save_checkpoint(out / "model.safetensors", weights, ck.typed_config(), meta)
    for f in ("log.csv", "val.csv", "curves.png"):
        if (args.run / f).is_file():
            shutil.copy2(args.run / f, out / f)
    if (args.run / "report.json").is_file():  # the run's report, with the command that made it
        report = json.loads((args.run / "report.json").read_text())
        report["training_command"] = args.command
        (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    size = (out / "model.safetensors").stat().st_size / 2**20
    print(f"wrote {out} ({size:.1f} MiB, step {meta.get('step')})")


if __name__ == "__main__":
    main()
