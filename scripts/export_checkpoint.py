"""Turn a training run into a shipped checkpoint: weights + config + metadata, no optimizer state.

    python scripts/export_checkpoint.py runs/synthetic-small synthetic-small --command "scripts/train_shipped.sh synthetic-small" [--half]

RUN is a run folder (``last.safetensors``) or the run folder of a recipe (``tessetrack train --config
configs/MODEL.yaml``: one subfolder per stage, listed in ``RUN/recipe.json``), whose last stage is
exported. Writes ``src/tessetrack/checkpoints/NAME/`` with ``model.safetensors`` (loadable by name:
``--checkpoint NAME``) and copies the run's ``log.csv``, ``val.csv``, ``curves.png`` and
``report.json`` beside it, so the training command, its log and its validation metrics ship together.
``--half`` stores the float weights as float16 (half the size; ``load_state_dict`` copies them into
the model's float32 parameters). The training digest is then kept as ``weights_sha1_float32``.
A run that stopped before its last step is refused unless ``--unfinished`` is given.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from tessetrack.errors import CheckpointError, TesseTrackError
from tessetrack.io.atomic import atomic_write_text
from tessetrack.train.checkpoints import half_weights, load_checkpoint, save_checkpoint
from tessetrack.train.recipe import final_run_folder

DEST = Path(__file__).resolve().parents[1] / "src" / "tessetrack" / "checkpoints"


def export(run: Path, name: str, command: str, half: bool, unfinished: bool) -> Path:
    """Export the model of run folder ``run`` as the shipped checkpoint ``name``; returns its folder."""
    folder = final_run_folder(run)
    if not (folder / "last.safetensors").is_file():
        raise CheckpointError(
            f"{folder}: no last.safetensors: this run (a recipe: its last stage) has not been "
            "trained yet; run its training command"
        )
    ck = load_checkpoint(folder / "last.safetensors")
    step, steps = ck.meta.get("step"), ck.typed_config().train.steps
    if not unfinished and step != steps:
        raise CheckpointError(
            f"{folder}: the run stopped at step {step} of {steps}; finish it (rerun its training "
            "command) or pass --unfinished"
        )
    out = DEST / name
    out.mkdir(parents=True, exist_ok=True)
    meta = {**ck.meta, "name": name, "training_command": command}
    weights = ck.weights
    if half:
        weights = half_weights(weights)
        meta["weights_dtype"] = "float16"
        if "weights_sha1" in meta:  # the digest of the float32 weights, not of these
            meta["weights_sha1_float32"] = meta.pop("weights_sha1")
    save_checkpoint(out / "model.safetensors", weights, ck.typed_config(), meta)
    for f in ("log.csv", "val.csv", "curves.png"):
        if (folder / f).is_file():
            shutil.copy2(folder / f, out / f)
    if (folder / "report.json").is_file():  # the run's report, with the command that made it
        report = json.loads((folder / "report.json").read_text())
        report["training_command"] = command
        atomic_write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "run", type=Path, help="run folder (holds last.safetensors), or a recipe's run folder"
    )
    ap.add_argument("name", help="shipped checkpoint name")
    ap.add_argument(
        "--command", required=True, help="the command that trained it (recorded in the metadata)"
    )
    ap.add_argument("--half", action="store_true", help="store float weights as float16")
    ap.add_argument(
        "--unfinished", action="store_true", help="export a run that stopped before its last step"
    )
    args = ap.parse_args()
    try:
        out = export(args.run, args.name, args.command, args.half, args.unfinished)
    except TesseTrackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    size = (out / "model.safetensors").stat().st_size / 2**20
    print(
        f"wrote {out} ({size:.1f} MiB, step {load_checkpoint(out / 'model.safetensors').meta.get('step')})"
    )


if __name__ == "__main__":
    main()
