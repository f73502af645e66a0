"""An image model's joints refined from its own 2D joint heatmaps, measured with exact ground truth:
the shipped ``synthetic-small`` (a keypoint head) on a rendered synthetic test scene (ring rig, 5
cameras, 3 people, 256² images — the settings of its training data, ``scripts/make_synthetic_small_
data.sh`` — seed 200, ``--split test``: motions never trained on), tracked as ``tessetrack track``
does with ``--refine none`` and with ``--refine triangulate`` (:mod:`tessetrack.tracking.peaks`):
MPJPE, PCP, MOTA, ID switches, and the tracking speed with and without the refinement.

What is timed, in one process: a warm-up over the first frames, then ``--repeats`` rounds of the
runner without peaks (``--refine none``) and of the runner keeping the peaks plus the refinement
(``--refine triangulate``), each over the whole scene; the fastest round of each counts (the CPU
may be shared). The network's tracks of both runs must be identical (keeping peaks changes nothing
upstream; checked). The refinement is also repeated with other gates (``--gates``) on the same
peaks.

    python benchmarks/image_refinement.py [--frames 40] [--checkpoint synthetic-small] \\
        [--scene DIR] [--threads 1] [--repeats 2]

Writes ``benchmarks/results/image_refinement.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import RESULTS, cpu_name
from rich.console import Console
from rich.table import Table

from tessetrack.eval.evaluate import evaluate
from tessetrack.io.atomic import atomic_write_text
from tessetrack.skeletons import get_joint_set
from tessetrack.structures import FramePoses, Tracks
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.tracking.inputs import open_input
from tessetrack.tracking.peaks import PeakConfig, refine_from_peaks
from tessetrack.tracking.runner import SequenceRunner, load_model


def scene_config(frames: int) -> SynthConfig:
    """``tessetrack synth OUT --rig ring --cameras 5 --people 3 --frames N --seed 200 --split test
    --image-size 256x256``."""
    return SynthConfig(rig="ring", num_cameras=5, num_people=3, num_frames=frames, seed=200,
                       split="test", image_size=(256, 256))  # fmt: skip


def scores(pred: Tracks, gt: Tracks) -> dict:
    """MPJPE (mm), PCP (%), MOTA (%) and ID switches of ``pred``."""
    m = evaluate(pred, gt, ("mpjpe", "pcp", "mot3d"))
    pcp = m["pcp"]
    return {"mpjpe_mm": m["mpjpe_mm"], "pcp": pcp.get("average") if isinstance(pcp, dict) else pcp,
            "mota": m.get("mota"), "id_switches": m.get("id_switches")}  # fmt: skip


def moved_share(before: Tracks, after: Tracks) -> float:
    """Share of the tracked joints the refinement moved (the others kept the network's)."""
    moved = [
        np.any(a.joints != b.joints, axis=-1)
        for fb, fa in zip(before.frames, after.frames, strict=True)
        for b, a in zip(fb.people, fa.people, strict=True)
    ]
    return float(np.mean(np.concatenate(moved))) if moved else 0.0


def same_tracks(a: Tracks, b: Tracks) -> bool:
    """Whether two runs gave the same IDs and joints at every frame."""
    return all(
        [p.id for p in fa.people] == [q.id for q in fb.people]
        and all(
            np.array_equal(p.joints, q.joints) for p, q in zip(fa.people, fb.people, strict=True)
        )
        for fa, fb in zip(a.frames, b.frames, strict=True)
    )


def measure(scene: Path, checkpoint: str, gates: list[float], repeats: int) -> dict:
    """Track ``scene`` with and without the refinement; scores, timings and the gate sweep."""
    data = open_input(scene)
    truth = tuple(FramePoses(f.frame, f.people) for f in data)
    gt = Tracks(joint_names=get_joint_set("panoptic19").joints, frames=truth, fps=data.fps)
    loaded = load_model(checkpoint)
    joint_set = loaded.config.model.pose_head.joint_set

    def run(keep: bool) -> SequenceRunner:
        return SequenceRunner(loaded.model, image_size=loaded.image_size, keep_peaks=keep)

    run(True).run(open_input(scene, end=3))  # warm-up
    times: dict[str, list[float]] = {"network": [], "network_keeping_peaks": [], "refinement": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        plain = run(False).run(data)
        t1 = time.perf_counter()
        runner = run(True)
        network = runner.run(data)
        t2 = time.perf_counter()
        refined = refine_from_peaks(network, runner.frame_peaks, joint_set=joint_set)
        t3 = time.perf_counter()
        for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            times[key].append(dt)
    best = {k: min(v) for k, v in times.items()}
    frames = len(network.frames)
    sweep = []
    for g in gates:
        config = PeakConfig(gate=g)
        again = refine_from_peaks(network, runner.frame_peaks, joint_set=joint_set, config=config)
        sweep.append({"gate": g, **scores(again, gt)})
    bytes_per_frame = [p.nbytes for p in runner.frame_peaks.values()]
    return {
        "checkpoint": checkpoint, "frames": frames, "cameras": len(data.cameras),
        "network_tracks_identical": same_tracks(plain, network),
        "none": scores(plain, gt), "triangulate": scores(refined, gt),
        "joints_moved_share": moved_share(network, refined),
        "seconds": best, "seconds_all_rounds": times,
        "fps": {"none": frames / best["network"],
                "triangulate": frames / (best["network_keeping_peaks"] + best["refinement"])},
        "peak_bytes_per_frame": max(bytes_per_frame) if bytes_per_frame else 0,
        "peak_settings": dataclasses.asdict(PeakConfig()), "gate_sweep": sweep,
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--checkpoint", default="synthetic-small")
    ap.add_argument("--scene", type=Path, default=None, help="rendered here when absent")
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: steadiest on a shared CPU)"
    )
    ap.add_argument("--gates", type=float, nargs="*", default=[0.1, 0.15, 0.25, 0.4])
    ap.add_argument("--repeats", type=int, default=2, help="timed rounds (the fastest counts)")
    ap.add_argument("--out", type=Path, default=RESULTS / "image_refinement.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        scene = args.scene or Path(tmp) / "test_0"
        if not scene.exists():
            generate_dataset(scene, scene_config(args.frames))
        result = measure(scene, args.checkpoint, args.gates, args.repeats)
    result.update(scene=dataclasses.asdict(scene_config(args.frames)), threads=args.threads,
                  cpu=cpu_name(), device="cpu")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=2, default=str) + "\n")
    table = Table(
        title=f"{args.checkpoint}: --refine none → triangulate ({result['frames']} frames)"
    )
    for col in ("MPJPE mm", "PCP %", "MOTA %", "ID sw.", "fps"):
        table.add_column(col)
    n, r, fps = result["none"], result["triangulate"], result["fps"]
    table.add_row(f"{n['mpjpe_mm']:.1f} → {r['mpjpe_mm']:.1f}", f"{n['pcp']:.1f} → {r['pcp']:.1f}",
                  f"{n['mota']:.1f} → {r['mota']:.1f}", f"{n['id_switches']} → {r['id_switches']}",
                  f"{fps['none']:.2f} → {fps['triangulate']:.2f}")  # fmt: skip
    Console(width=150).print(table)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
