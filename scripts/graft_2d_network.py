"""Make an H model read images: graft a stage-1 2D network (backbone + 2D joint head) on it.

    python scripts/graft_2d_network.py --body synthetic-detections \\
        --net2d runs/backbone-2d-unet-v3/last.safetensors --out runs/htdl-images/last.safetensors \\
        [--peaks 0.3]

See :mod:`tessetrack.train.graft`. The result is a normal checkpoint (``tessetrack track
--checkpoint OUT`` reads the scene's images); it is checked by building its network and loading
its weights strictly before it is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tessetrack.config import Config
from tessetrack.model.tessetrack import build_model
from tessetrack.train.checkpoints import load_checkpoint, resolve_checkpoint, save_checkpoint
from tessetrack.train.graft import graft_image_heatmaps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--body", required=True, help="heatmap-input (H) checkpoint, name or path")
    ap.add_argument("--net2d", required=True, help="stage-1 checkpoint with a 2D joint head")
    ap.add_argument("--out", required=True, type=Path, help="the .safetensors file to write")
    ap.add_argument("--peaks", type=float, default=None, metavar="THRESHOLD",
                    help="redraw the 2D heatmaps from their maxima >= THRESHOLD "
                    "(model.backbone.image_heatmaps_peaks)")  # fmt: skip
    args = ap.parse_args()
    body = load_checkpoint(resolve_checkpoint(args.body))
    net2d = load_checkpoint(resolve_checkpoint(args.net2d))
    weights, config = graft_image_heatmaps(body, net2d)
    if args.peaks is not None:
        config["model"]["backbone"]["image_heatmaps_peaks"] = True
        config["model"]["backbone"]["image_heatmaps_threshold"] = args.peaks
    typed = Config.from_dict(config)
    build_model(typed).load_state_dict(weights, strict=True)

    # the parts' own records (their digests describe other weight sets: dropped)
    def record(ck):
        return {k: v for k, v in ck.meta.items() if k != "weights_sha1"}

    meta = {
        "grafted": {"body": str(args.body), "net2d": str(args.net2d)},
        "body_meta": record(body),
        "net2d_meta": record(net2d),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(args.out, weights, typed, meta)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
