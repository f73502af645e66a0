"""People far from the cameras: the real 4-camera recording shrunk, and the built-in detector's tiles.

MediaPipe's person detector sees each image shrunk to 224 pixels and misses people under about a
fifth of its longer side; the built-in detector then searches the image again in overlapping tiles
(``BlazePoseConfig.tile_below``, ``tile_zoom``). To measure that on real footage, every frame of
the 4-camera recording is shrunk by ``--scale`` (default 1/3) and centred in a grey frame of the
same size, and the calibration changed to match (focal lengths and principal point), as if the
people stood that many times further away:

* people found in every 10th frame of every camera, the recording shrunk by 1, 1/2, 1/3, 1/4 and
  1/5, with and without tiles (images/s of each);
* the leave-one-camera-out benchmark (``real_video.py``) on the recording shrunk by ``--scale``,
  with and without tiles.

    python benchmarks/far_people.py [--scale 0.3333] [--work DIR]

Writes ``benchmarks/results/far_people.json`` (and prints the numbers).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from real_video import SHARED, run_recording

from tessetrack.detector import BlazePose, BlazePoseConfig
from tessetrack.io.atomic import atomic_write_text
from tessetrack.io.calibration import load_cameras, save_cameras

RECORDING = SHARED / "multiperson_videos_4cams"
NO_TILES = BlazePoseConfig(tile_below=0.0)


def shrink(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` shrunk by ``scale`` and centred in a grey frame of its own size."""
    h, w = image.shape[:2]
    sw, sh = round(w * scale), round(h * scale)
    out = np.full_like(image, 114)
    y0, x0 = (h - sh) // 2, (w - sw) // 2
    out[y0 : y0 + sh, x0 : x0 + sw] = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    return out


def shrunk_recording(scale: float, out: Path) -> Path:
    """The recording with every frame shrunk (:func:`shrink`), and its calibration to match."""
    cams = load_cameras(RECORDING / "calibration" / "Calib.qca.txt")
    (out / "videos").mkdir(parents=True, exist_ok=True)
    changed = {}
    for name, cam in cams.items():
        cap = cv2.VideoCapture(str(RECORDING / "videos" / f"{name}.mp4"))
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fourcc = cv2.VideoWriter_fourcc(*"MJPG")
        writer = cv2.VideoWriter(str(out / "videos" / f"{name}.avi"), fourcc,
                                 cap.get(cv2.CAP_PROP_FPS), (w, h))  # fmt: skip
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            writer.write(shrink(bgr, scale))
        writer.release()
        cap.release()
        sw, sh = round(w * scale), round(h * scale)
        K = cam.K.copy()
        K[0, :2] *= sw / w  # fx and the skew
        K[1, 1] *= sh / h
        # pixel centres: x' = (x + 0.5) * sw / w - 0.5, then the offset into the grey frame
        K[0, 2] = (K[0, 2] + 0.5) * sw / w - 0.5 + (w - sw) // 2
        K[1, 2] = (K[1, 2] + 0.5) * sh / h - 0.5 + (h - sh) // 2
        changed[name] = dataclasses.replace(cam, K=K)
    save_cameras(changed, out / "calibration.toml")
    return out


def people_found(scales: list[float]) -> list[dict]:
    """People the detector finds in every 10th frame of every camera, per scale, with and
    without tiles."""
    frames = []
    for video in sorted((RECORDING / "videos").glob("*.mp4")):
        cap = cv2.VideoCapture(str(video))
        index = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            if index % 10 == 0:
                frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            index += 1
        cap.release()
    rows = []
    with BlazePose(NO_TILES) as whole, BlazePose() as tiled:
        for scale in scales:
            images = [shrink(f, scale) for f in frames]
            row: dict = {"scale": scale, "images": len(images)}
            for key, det in (("whole_image", whole), ("tiles", tiled)):
                t0 = time.perf_counter()
                row[key] = sum(len(det(image)) for image in images)
                row[f"{key}_images_per_s"] = len(images) / (time.perf_counter() - t0)
            print(row, flush=True)
            rows.append(row)
    return rows


def _left_out(result: dict) -> dict:
    return {cam: {k: (round(v["median_pct_height"], 2), v["found"], v["people"])
                  for k, v in d.items() if k in ("network", "refined", "triangulation")}
            for cam, d in result["left_out"].items()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1 / 3)
    parser.add_argument("--checkpoint", default="detections-shelf")
    parser.add_argument("--work", type=Path, default=None, help="keep the shrunk recording here")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "far_people.json"
    )
    args = parser.parse_args()
    result: dict = {"people_found": people_found([1.0, 0.5, 1 / 3, 0.25, 0.2])}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        root = shrunk_recording(args.scale, work / f"shrunk_{args.scale:.3f}")
        calibration = root / "calibration.toml"
        for key, config in (("tiles", None), ("whole_image", NO_TILES)):
            run = run_recording(root, args.checkpoint, work / key, calibration=calibration,
                                detector_config=config)  # fmt: skip
            result[f"leave_one_out_{key}"] = run
            print(key, run["identities_all_cameras_refined"], _left_out(run), flush=True)
    result["scale"] = args.scale
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
