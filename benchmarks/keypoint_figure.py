"""Make docs/stage1_heatmaps.png: what stage-1 backbones see — the 2D joint heatmaps (max over the
joints) of one or more ``train.stage=keypoints`` checkpoints on one frame of a synthetic scene, one
row per checkpoint under the input views.

Usage::

    python benchmarks/keypoint_figure.py --scene runs/data/val_0 --frame 50 \\
        --model "small, squared error=runs/backbone-2d/last.safetensors" \\
        --model "unet, focal=runs/backbone-2d-unet/last.safetensors" [--output docs/stage1_heatmaps.png]

The checkpoints need ``model.backbone.keypoint_head`` (image-input variants); the frame's views are
read as the model saw them in training (resized to ``--size``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from tessetrack.data import open_dataset  # noqa: E402
from tessetrack.eval.scene_scoring import parse_models
from tessetrack.tracking.runner import load_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--scene", type=Path, required=True, help="a tessetrack synth scene with images"
    )
    ap.add_argument("--frame", type=int, default=50)
    ap.add_argument("--model", action="append", required=True, metavar="LABEL=CHECKPOINT")
    ap.add_argument("--size", type=int, default=256, help="square input size (training's)")
    ap.add_argument("--output", type=Path, default=Path("docs/stage1_heatmaps.png"))
    args = ap.parse_args()
    try:
        models = [
            (label, load_model(path).model) for label, path in parse_models(args.model).items()
        ]
    except ValueError as exc:
        ap.error(str(exc))

    ds = open_dataset(args.scene)
    if not 0 <= args.frame < len(ds):
        ap.error(f"{args.scene}: frame {args.frame} out of range (0 … {len(ds) - 1})")
    frame = ds[args.frame]
    names = sorted(frame.images)
    if not names:
        ap.error(f"{args.scene}: frame {args.frame} has no images (render the scene with images)")
    views = [cv2.resize(frame.images[n](), (args.size, args.size)) for n in names]
    x = torch.tensor(np.stack(views)).permute(0, 3, 1, 2).float() / 255.0

    fig, axes = plt.subplots(
        1 + len(models), len(views), figsize=(2.2 * len(views), 2.3 * (1 + len(models))),
        squeeze=False, layout="constrained",
    )  # fmt: skip
    for j, v in enumerate(views):
        axes[0, j].imshow(v)
        axes[0, j].set_title(names[j], fontsize=8)
    for i, (label, model) in enumerate(models, start=1):
        with torch.no_grad():
            heat = model.keypoint_heatmaps(x).amax(1).numpy()  # V×h×w
        for j, v in enumerate(views):
            grey = cv2.cvtColor(v, cv2.COLOR_RGB2GRAY)
            axes[i, j].imshow(grey, cmap="gray", alpha=1.0)
            axes[i, j].imshow(
                cv2.resize(heat[j], (args.size, args.size), interpolation=cv2.INTER_NEAREST),
                cmap="magma", vmin=0.0, vmax=1.0, alpha=0.7,
            )  # fmt: skip
        axes[i, 0].set_ylabel(label, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        f"2D joint heatmaps (max over joints), {args.scene} frame {args.frame}", fontsize=9
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
