"""End-to-end tracking throughput of the ``cpu-small`` network on CPU: FTDL vs FI, by views and people.

What is timed: :class:`~tessetrack.tracking.runner.SequenceRunner` over a synthetic scene, every
frame end to end — read + resize the V images, backbone, PDN (view fusion of the whole-space 32³
volume + 3D CNN + NMS), one tesseract per person (sampling + view fusion + 4D CNN), linking
(FTDL: learned matcher; FI: Hungarian on poses), pose head — for the paper's network (FTDL, T = 3)
and the instantaneous VoxelPose-like variant (FI, T = 1) side by side in the same run, as frames
per second and the time ratio FTDL / FI:

* vs the number of views (``--views``, default 1 2 3 5 8) at ``--at-people`` people (2);
* vs the number of people (``--people``, default 1 2 4) at ``--at-views`` views (5);
* the share of each stage of the time at 5 views, 3 people (forward hooks and timers around the
  runner's stages), and the top hot spot.

Weights are randomly initialised (``preset("cpu-small", variant)`` + ``build_model``, seed 0): the
speed does not depend on training. An untrained PDN would detect an arbitrary number of people,
so the number processed is made deterministic: the detection threshold is 0 and
``model.detector.max_people`` is set to the wanted count P, so NMS keeps exactly the P highest
peaks of the 32³ heatmap and P tesseracts are built, linked and posed at every frame (the script
checks this on the output tracks). The synthetic scenes (ring rig, P people, 256² images,
``--frames`` frames, seed 0) are rendered once into a temporary folder before any timing.

Timing: per configuration, one untimed warm-up run over the first T frames (the first window),
then one timed run over all ``--frames`` frames (wall clock, ``--threads`` torch threads); the
image files are read from disk as in ``tessetrack track``. A full run (7 configurations × 2
variants + the stage profile, 12 frames each) takes ~2–4 minutes on a 2-core CPU; close other
programs for final numbers.

Usage::

    python benchmarks/tracking_speed.py                       # 2 threads, the full sweeps
    python benchmarks/tracking_speed.py --quick               # smoke run: tiny sweeps, 4 frames
    python benchmarks/tracking_speed.py --threads 1 --views 3 5 --people 1 4 --frames 20

Writes ``benchmarks/results/tracking_speed_cpu.csv`` (raw rows: variant, views, people, frames,
seconds, fps, threads, cpu) and ``tracking_speed_cpu.png`` (fps vs views and fps vs people, one
line per variant).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from _common import RESULTS, cpu_name
from rich.console import Console
from rich.table import Table

from tessetrack.config import preset
from tessetrack.data import open_dataset
from tessetrack.model.tessetrack import TesseTrack, build_model
from tessetrack.structures import Tracks
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.tracking.runner import SequenceRunner

VARIANTS = ("FTDL", "FI")
IMAGE_SIZE = (256, 256)


@dataclass
class Row:
    variant: str
    views: int
    people: int
    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds


# --- scenes and models ---------------------------------------------------------------------------


class Scenes:
    """Synthetic scenes rendered on first use, one per (views, people), in a temporary folder."""

    def __init__(self, root: Path, frames: int) -> None:
        self.root, self.frames = root, frames
        self._made: dict[tuple[int, int], Path] = {}

    def __call__(self, views: int, people: int) -> Path:
        key = (views, people)
        if key not in self._made:
            out = self.root / f"ring_v{views}_p{people}"
            cfg = SynthConfig(
                rig="ring",
                num_cameras=views,
                num_people=people,
                num_frames=self.frames,
                image_size=IMAGE_SIZE,
                seed=0,
                detections=None,
            )
            generate_dataset(out, cfg)
            self._made[key] = out
        return self._made[key]


def build(variant: str) -> TesseTrack:
    """A randomly initialised cpu-small network of ``variant`` (seed 0), eval mode."""
    torch.manual_seed(0)
    return build_model(preset("cpu-small", variant)).eval()


def runner_for(model: TesseTrack, people: int) -> SequenceRunner:
    """A runner that builds exactly ``people`` tesseracts per frame (threshold 0, P peaks kept)."""
    model.detector.max_people = people
    return SequenceRunner(model, image_size=IMAGE_SIZE, detection_threshold=0.0)


def people_per_frame(tracks: Tracks) -> set[int]:
    return {len(f.people) for f in tracks.frames}


def time_run(model: TesseTrack, scene: Path, people: int) -> tuple[float, Tracks]:
    """Seconds of one tracked run over ``scene`` after a warm-up over its first window."""
    runner = runner_for(model, people)
    runner.run(open_dataset(scene, end=model.time_window))  # warm-up: the first window
    dataset = open_dataset(scene)
    t0 = time.perf_counter()
    tracks = runner.run(dataset)
    return time.perf_counter() - t0, tracks


# --- per-stage profile ---------------------------------------------------------------------------


class StageTimer:
    """Inclusive wall time of hooked modules and wrapped methods, summed over calls."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self._start: dict[str, float] = {}
        self._handles: list = []

    def module(self, name: str, module: torch.nn.Module | None) -> None:
        if module is None:
            return

        def pre(*_: object) -> None:
            self._start[name] = time.perf_counter()

        def post(*_: object) -> None:
            self.total[name] += time.perf_counter() - self._start[name]

        self._handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.total[name] += time.perf_counter() - t0

        return timed

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


def stage_profile(model: TesseTrack, scene: Path, people: int) -> tuple[dict[str, float], float]:
    """Exclusive seconds per stage of one tracked run (after a warm-up), and the total."""
    runner = runner_for(model, people)
    runner.run(open_dataset(scene, end=model.time_window))  # warm-up
    det, desc = model.detector, model.descriptor
    timer = StageTimer()
    runner._frame_entry = timer.wrap("frame", runner._frame_entry)
    model.extract_features = timer.wrap("backbone", model.extract_features)
    det.volume = timer.wrap("pdn_volume", det.volume)
    for name, mod in (
        ("pdn_fusion", det.fusion),
        ("pdn_cnn", det.net),
        ("tesseract", desc),
        ("tess_fusion", desc.fusion),
        ("tess_cnn", desc.blocks),
        ("matcher", model.matcher),
        ("pose_head", model.pose_head),
    ):
        timer.module(name, mod)
    dataset = open_dataset(scene)
    t0 = time.perf_counter()
    runner.run(dataset)
    total = time.perf_counter() - t0
    timer.remove()
    del model.extract_features, det.volume  # back to the class methods
    t = timer.total
    stages = {
        "read + resize images": t["frame"] - t["backbone"],
        "backbone (2D CNN)": t["backbone"],
        "PDN: project + sample views": t["pdn_volume"] - t["pdn_fusion"],
        "PDN: view fusion": t["pdn_fusion"],
        "PDN: 3D CNN": t["pdn_cnn"],
        "tesseracts: project + sample views": t["tesseract"] - t["tess_fusion"] - t["tess_cnn"],
        "tesseracts: view fusion": t["tess_fusion"],
        "tesseracts: 4D CNN": t["tess_cnn"],
        "matcher (GNN + Sinkhorn)": t["matcher"],
        "pose head (merge + 4D deconv + soft-argmax)": t["pose_head"],
    }
    stages["other (NMS, tracker, copies)"] = total - sum(stages.values())
    return stages, total


# --- outputs -------------------------------------------------------------------------------------


def write_csv(rows: list[Row], path: Path, threads: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu = cpu_name()
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["variant", "views", "people", "frames", "seconds", "fps", "threads", "cpu"])
        for r in rows:
            w.writerow(
                [r.variant, r.views, r.people, r.frames, f"{r.seconds:.3f}", f"{r.fps:.3f}",
                 threads, cpu]
            )  # fmt: skip


def plot(rows: list[Row], path: Path, args: argparse.Namespace, threads: int) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2))
    axes = fig.subplots(1, 2)
    sweeps = (
        ("views", "people", args.at_people, "number of views"),
        ("people", "views", args.at_views, "number of people (tesseracts per frame)"),
    )
    for ax, (x_name, fixed_name, fixed, label) in zip(axes, sweeps, strict=True):
        xs_all = args.views if x_name == "views" else args.people
        for variant in VARIANTS:
            pts = sorted(
                (getattr(r, x_name), r.fps)
                for r in rows
                if r.variant == variant
                and getattr(r, fixed_name) == fixed
                and getattr(r, x_name) in xs_all
            )
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=variant)
        ax.set_xticks(sorted(set(xs_all)))
        ax.set_xlabel(label)
        ax.set_ylabel("frames / s (end to end)")
        ax.set_title(f"fps vs {x_name} ({fixed} {fixed_name})")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(
        f"cpu-small tracking on {cpu_name()}, {threads} thread(s), {args.frames} frames of "
        f"{IMAGE_SIZE[0]}² images, random weights",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def print_sweep(rows: list[Row], console: Console) -> None:
    table = Table(title="cpu-small end-to-end tracking: frames / s")
    for col in ("views", "people", "FTDL fps", "FI fps", "time FTDL / FI"):
        table.add_column(col, justify="right")
    keys = sorted({(r.views, r.people) for r in rows})
    for v, p in keys:
        got = {r.variant: r for r in rows if (r.views, r.people) == (v, p)}
        a, b = got.get("FTDL"), got.get("FI")
        ratio = f"{a.seconds / b.seconds:.2f}×" if a and b else "-"
        table.add_row(
            str(v),
            str(p),
            f"{a.fps:.2f}" if a else "-",
            f"{b.fps:.2f}" if b else "-",
            ratio,
        )
    console.print(table)


def print_stages(
    profiles: dict[str, tuple[dict[str, float], float]], frames: int, console: Console
) -> None:
    table = Table(title="share of the tracking time per stage")
    table.add_column("stage")
    for variant in profiles:
        table.add_column(f"{variant} %", justify="right")
        table.add_column(f"{variant} ms/frame", justify="right")
    stages = list(next(iter(profiles.values()))[0])
    for stage in stages:
        cells = []
        for stats, total in profiles.values():
            sec = stats[stage]
            cells += [f"{100 * sec / total:.1f}", f"{1e3 * sec / frames:.1f}"]
        table.add_row(stage, *cells)
    console.print(table)
    for variant, (stats, total) in profiles.items():
        top = max(stats, key=stats.get)
        console.print(
            f"[bold]{variant}[/bold] top hot spot: {top} ({100 * stats[top] / total:.0f}% of "
            f"{total:.2f} s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--frames", type=int, default=12, help="frames per scene")
    parser.add_argument("--views", type=int, nargs="+", default=[1, 2, 3, 5, 8])
    parser.add_argument("--people", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--at-views", type=int, default=5, help="views of the people sweep")
    parser.add_argument("--at-people", type=int, default=2, help="people of the views sweep")
    parser.add_argument(
        "--profile",
        type=int,
        nargs=2,
        default=[5, 3],
        metavar=("VIEWS", "PEOPLE"),
        help="configuration of the per-stage profile",
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the per-stage profile")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sweeps, 4 frames")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.frames, args.views, args.people = 4, [1, 2], [1, 2]
        args.at_views, args.at_people, args.profile = 2, 1, [2, 2]
    torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    console = Console(width=130)
    configs = list(
        dict.fromkeys(
            [(v, args.at_people) for v in args.views] + [(args.at_views, p) for p in args.people]
        )
    )
    models = {variant: build(variant) for variant in VARIANTS}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="tracking_speed_") as tmp:
        scenes = Scenes(Path(tmp), args.frames)
        t0 = time.perf_counter()
        for v, p in configs:
            scenes(v, p)
        if not args.no_profile:
            scenes(*args.profile)
        console.log(f"rendered {len(configs)} scenes in {time.perf_counter() - t0:.0f} s")
        for v, p in configs:
            for variant in VARIANTS:  # side by side: same scene, one after the other
                seconds, tracks = time_run(models[variant], scenes(v, p), p)
                counts = people_per_frame(tracks)
                if counts != {p}:
                    console.print(
                        f"[red]{variant} V={v}: {sorted(counts)} people per frame, not {p}"
                    )
                rows.append(Row(variant, v, p, len(tracks.frames), seconds))
                r = rows[-1]
                console.log(
                    f"{variant:5s} views {v} people {p}: {r.frames} frames in {seconds:6.2f} s "
                    f"= {r.fps:5.2f} fps"
                )
        profiles = {}
        if not args.no_profile:
            v, p = args.profile
            for variant in VARIANTS:
                profiles[variant] = stage_profile(models[variant], scenes(v, p), p)
    print_sweep(rows, console)
    if profiles:
        console.print(f"per-stage profile at {args.profile[0]} views, {args.profile[1]} people:")
        print_stages(profiles, args.frames, console)
    csv_path = args.out / "tracking_speed_cpu.csv"
    png_path = args.out / "tracking_speed_cpu.png"
    write_csv(rows, csv_path, threads)
    plot(rows, png_path, args, threads)
    console.print(
        f"[green]wrote[/green] {csv_path} and {png_path} ({cpu_name()}, {threads} threads, "
        f"torch {torch.__version__})"
    )


if __name__ == "__main__":
    main()
