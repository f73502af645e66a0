"""Accuracy vs number of views (paper Fig. 4): MPJPE and 3D MOTA when tracking with k cameras.

For every k of ``--views`` and every ``--model NAME=CHECKPOINT``, up to ``--subsets`` sets of k of
the test scene's n cameras are tracked (``track_to_file(..., cameras=...)``) and scored
(``evaluate(pred, gt, ["mpjpe", "mot3d"])``). The sets are spread evenly around the ring and
rotated from one set to the next (``_common.spread_subsets``: camera
``floor(i·n/k + s·n/(k·subsets) + 0.5) mod n``, i = 0..k-1, s = set), so k = n gives one set.
The metrics are averaged over the sets; MPJPE is weighted by each set's matched poses (the mean
over every matched pose: a set that matched nobody does not count). Image models read the
rendered images, heatmap-input models the scene's simulated OpenPose detections
(``TEST/detections``). ``--frames N`` uses the first N frames.

Usage::

    python benchmarks/cameras.py --test runs/data/test_0 \\
        --model FTDL=runs/abl-FTDL/last.safetensors --model FIG=runs/abl-FIG/last.safetensors \\
        [--views 1,2,3,4,5] [--subsets 2] [--frames N] [--name cameras] [--out benchmarks/results]

``runs/data/test_0`` has 5 ring cameras. For up to 8 views, make a test scene with 8 ring cameras
(same people, motion and seed as ``test_0``; the ring rig spaces any number of cameras evenly)::

    tessetrack synth runs/data/test_8cam --rig ring --cameras 8 --people 3 --frames 300 \\
        --seed 200 --split test --image-size 256x256
    python benchmarks/cameras.py --test runs/data/test_8cam --views 1,2,3,4,5,6,8 --model ...

Writes ``OUT/NAME.csv`` (one row per model, k and camera set, then the per-k means, whose
``cameras`` column reads ``mean of S``), ``OUT/NAME.json`` (the same rows + the settings) and
``OUT/NAME.png`` (MPJPE vs views and MOTA vs views, one line per model).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
from _common import (
    add_scene_arguments,
    cpu_name,
    fmt,
    models_and_ground_truth,
    progress_bar,
    wide_console,
    write_rows,
)
from rich.table import Table

from tessetrack.data import open_dataset
from tessetrack.errors import TesseTrackError
from tessetrack.eval.scene_scoring import (
    METRIC_COLUMNS,
    spread_subsets,
    track_and_score,
    tracker_config,
)
from tessetrack.io.video import natural_key

#: Metrics averaged over the camera sets of one k (MPJPE: weighted by the matched poses).
AVERAGED = (
    "mpjpe_mm",
    "pck_100",
    "mota",
    "motp_mm",
    "id_switches",
    "precision",
    "recall",
    "seconds",
)


def parse_views(text: str) -> list[int]:
    """``"1,2,3"`` → ``[1, 2, 3]`` (sorted, distinct); ValueError for anything else."""
    try:
        views = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise ValueError(f"--views {text!r}: expected comma-separated integers") from None
    if not views or views[0] < 1:
        raise ValueError(f"--views {text!r}: expected numbers of cameras >= 1")
    return views


def mean(values: list, weights: list | None = None) -> float | None:
    """Weighted mean of the finite values (weights default 1); None when there is none."""
    weights = [1] * len(values) if weights is None else weights
    pairs = [
        (v, w) for v, w in zip(values, weights, strict=True) if v is not None and math.isfinite(v)
    ]
    total = sum(w for _, w in pairs)
    return round(sum(v * w for v, w in pairs) / total, 2) if pairs and total > 0 else None


def plot(means: list[dict], path: Path, title: str) -> None:
    """MPJPE vs views and MOTA vs views, one line per model."""
    from matplotlib.figure import Figure  # the Agg canvas, no display needed

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    models = list(dict.fromkeys(r["model"] for r in means))
    for i, (key, label) in enumerate((("mpjpe_mm", "MPJPE (mm)"), ("mota", "3D MOTA (%)"))):
        ax = fig.add_subplot(1, 2, i + 1)
        for name in models:
            rs = [r for r in means if r["model"] == name]
            ys = [r[key] if r[key] is not None else float("nan") for r in rs]
            ax.plot([r["views"] for r in rs], ys, marker="o", label=name)
        ax.set_xlabel("views")
        ax.set_ylabel(label)
        ax.set_xticks(sorted({r["views"] for r in means}))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_scene_arguments(ap, "cameras")
    ap.add_argument("--views", default="1,2,3,4,5", help="numbers of cameras, comma-separated")
    ap.add_argument("--subsets", type=int, default=2, help="camera sets per number of views")
    args = ap.parse_args()
    try:
        models, gt = models_and_ground_truth(args)
        views = parse_views(args.views)
        if args.subsets < 1:
            raise ValueError(f"--subsets must be >= 1, got {args.subsets}")
    except (ValueError, TesseTrackError) as exc:
        ap.error(str(exc))
    names = sorted(open_dataset(args.test).cameras, key=natural_key)
    if views[-1] > len(names):
        ap.error(
            f"--views asks for {views[-1]} cameras but {args.test} has {len(names)} "
            f"({', '.join(names)}); make a scene with more, e.g. `tessetrack synth DIR --rig ring "
            f"--cameras {views[-1]} ...` (see this script's docstring)"
        )
    torch.set_num_threads(args.threads)
    sets = {
        k: [[names[i] for i in s] for s in spread_subsets(len(names), k, args.subsets)]
        for k in views
    }

    rows: list[dict] = []
    t0 = time.perf_counter()
    with progress_bar() as bar:
        overall = bar.add_task("runs", total=len(models) * sum(len(s) for s in sets.values()))
        frames = bar.add_task("frames", total=len(gt.frames))
        for name, checkpoint in models.items():
            for k, subsets in sets.items():
                for cams in subsets:
                    bar.update(overall, description=f"{name}, {k} view(s): {','.join(cams)}")
                    bar.reset(frames, total=len(gt.frames))
                    row = track_and_score(
                        args.test,
                        checkpoint,
                        gt,
                        cameras=cams,
                        device=args.device,
                        progress=lambda done, _total: bar.update(frames, completed=done),
                        tracker=tracker_config(args),
                    )
                    rows.append({"model": name, "views": k, "cameras": " ".join(cams), **row})
                    bar.advance(overall)

    means = []
    for name in models:
        for k in views:
            rs = [r for r in rows if r["model"] == name and r["views"] == k]
            means.append(
                {
                    "model": name,
                    "views": k,
                    "cameras": f"mean of {len(rs)}",
                    "frames": rs[0]["frames"],
                    **{m: mean([r[m] for r in rs]) for m in AVERAGED},
                    # MPJPE over every matched pose of the k-view runs (NaN-free)
                    "mpjpe_mm": mean([r["mpjpe_mm"] for r in rs], [r["matched_poses"] for r in rs]),
                    "matched_poses": sum(r["matched_poses"] or 0 for r in rs),
                }
            )

    title = f"Accuracy vs views on {args.test} ({len(gt.frames)} frames)"
    cols = ["model", "views", *AVERAGED[:-1], "frames", "seconds"]
    table = Table(title=title + f", mean over up to {args.subsets} camera sets")
    for c in cols:
        table.add_column(METRIC_COLUMNS.get(c, c), justify="left" if c == "model" else "right")
    for r in means:
        table.add_row(*[fmt(r.get(c)) for c in cols])
    console = wide_console()
    console.print(table)

    stem = Path(args.out) / args.name
    meta = {
        "test": str(args.test),
        "cameras": names,
        "frames": len(gt.frames),
        "area_m": args.area,
        "subsets": args.subsets,
        "checkpoints": models,
        "device": args.device,
        "threads": args.threads,
        "cpu": cpu_name(),
        "seconds_total": round(time.perf_counter() - t0, 1),
    }
    write_rows(
        stem,
        [*rows, *means],
        ["model", "views", "cameras", *AVERAGED, "matched_poses", "frames", "input"],
        meta,
    )
    plot(means, stem.with_suffix(".png"), title)
    console.print(f"[green]wrote[/green] {stem}.csv/.json/.png")


if __name__ == "__main__":
    main()
