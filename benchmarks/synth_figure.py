"""Make docs/synth_example.png: one synthetic frame from 5 views with the skeletons overlaid.

Usage: python benchmarks/synth_figure.py [--output docs/synth_example.png] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tessetrack.skeletons import PANOPTIC19  # noqa: E402
from tessetrack.synth.generate import SynthConfig, generate_dataset  # noqa: E402
from tessetrack.synth.writer import image_path  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("docs/synth_example.png"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frame", type=int, default=29)
    args = parser.parse_args()
    cfg = SynthConfig(
        num_cameras=5,
        num_people=5,
        num_frames=args.frame + 1,
        seed=args.seed,
        image_size=(320, 320),
        detections=None,
    )
    with tempfile.TemporaryDirectory() as tmp:
        res = generate_dataset(Path(tmp) / "figure", cfg)
        t = args.frame
        joints = res.rig.floor_to_world(res.scene.joints[t])  # P×19×3
        fig, axes = plt.subplots(1, 5, figsize=(20, 4.4))
        for ax, cam in zip(axes, res.rig.cameras, strict=True):
            img = cv2.imread(str(image_path(res.out, cam.name, t)))[..., ::-1]
            ax.imshow(img)
            uv = cam.project(np.nan_to_num(joints))
            for i in range(res.scene.num_people):
                if not res.scene.present[t, i]:
                    continue
                color = plt.cm.tab10(i % 10)
                for a, b in PANOPTIC19.limb_indices:
                    ax.plot(uv[i, [a, b], 0], uv[i, [a, b], 1], "-", color=color, lw=1.5)
                ax.plot(uv[i, :, 0], uv[i, :, 1], ".", color="k", ms=2)
            ax.set_title(f"camera {cam.name}")
            ax.set_xlim(0, cam.width - 1)
            ax.set_ylim(cam.height - 1, 0)
            ax.axis("off")
        fig.suptitle(
            f"tessetrack synth: ring rig, frame {t}, seed {args.seed} (Panoptic-19 ground truth)"
        )
        fig.tight_layout()
        args.output.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.output, dpi=80)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
