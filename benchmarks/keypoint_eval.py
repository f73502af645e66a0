"""How well stage-1 backbones find 2D joints: the share of usable GT joints whose heatmap reaches a
level at the joint's pixel or within a radius of it, on random clips of a synthetic scene.

Usage::

    python benchmarks/keypoint_eval.py --scene runs/data/val_0 \\
        --model small=runs/backbone-2d/last.safetensors \\
        --model unet=runs/backbone-2d-unet/last.safetensors [--clips 8] [--seed 0]

The checkpoints need ``model.backbone.keypoint_head``. Clips are drawn as the trainer draws its
validation clips (``--seed`` is ``train.seed``: 8 clips with seed 0 are the validation clips of a
run with ``val_clips: 8``), 5 views at 256², all anchors. Prints one row per model: hits at
(level, radius) = (0.5, 0), (0.3, 1), (0.1, 1), radius in heatmap pixels (4 image pixels each).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _common import add_clip_arguments
from rich.console import Console
from rich.table import Table

from tessetrack.data import open_dataset
from tessetrack.eval.scene_scoring import parse_models, validation_clips
from tessetrack.tracking.runner import load_model
from tessetrack.train.clips import collate_clips
from tessetrack.train.evaluation import keypoint_hits
from tessetrack.train.steps import keypoint_step

#: (level, radius) pairs reported, the first being the trainer's ``keypoint_hit``.
CHECKS = ((0.5, 0), (0.3, 1), (0.1, 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_clip_arguments(ap, clips=8)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dataset = open_dataset(args.scene)

    table = Table(title=f"2D joints found on {args.clips} clips of {args.scene}")
    table.add_column("model")
    for level, radius in CHECKS:
        table.add_column(f"≥ {level} within {radius} px", justify="right")
    try:
        models = parse_models(args.model)
    except ValueError as exc:
        ap.error(str(exc))
    for label, path in models.items():
        loaded = load_model(path)
        model, model_config = loaded.model, loaded.config
        if model.keypoint_head is None:
            ap.error(f"{path}: this checkpoint has no 2D keypoint head")
        clips = validation_clips(dataset, model, args.clips, args.seed, args.size)
        counts = np.zeros((len(CHECKS), 2), dtype=np.int64)
        for clip in clips:
            batch, targets = collate_clips([clip], teacher_forcing=True)
            with torch.no_grad():
                _, heat = keypoint_step(model, batch, targets, model_config.loss)
            for i, (level, radius) in enumerate(CHECKS):
                counts[i] += keypoint_hits(
                    heat, targets.keypoints, targets.keypoint_mask, level, radius
                )
        table.add_row(label, *[f"{100.0 * h / max(1, n):.1f} %" for h, n in counts])
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
