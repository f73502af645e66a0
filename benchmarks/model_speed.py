"""Speed and peak memory of each TesseTrack stage, forward and backward, and of a full training step.

Stages (paper Fig. 2): backbone (all F·V images) → view fusion + PDN (whole-space volume at both
anchors) → tesseract sampling + 4D CNN (every person, both anchors) → matcher (GNN + Sinkhorn) → pose
head (merge + 4D deconvolution + soft-argmax), then the full step (forward, eq. 4 loss, backward,
AdamW). Each stage runs on detached inputs of the size the full model gives it; "backward" is
``sum(outputs).backward()`` into that stage's parameters only.

Timing: ``--warmup`` untimed runs, then the median of ``--repeats`` timed runs (CUDA: synchronised).
Peak memory: CUDA ``torch.cuda.max_memory_allocated`` above the memory held before the run; CPU the
peak of the heap bytes in use (glibc ``mallinfo2``, sampled every 0.5 ms by a thread; RSS where
glibc lacks it) above the bytes in use before the run. Sampling can miss a spike shorter than the
interval, so compare presets and stages against each other, not against a GPU's exact counter.

Usage::

    python benchmarks/model_speed.py                                  # CPU, both presets
    python benchmarks/model_speed.py --device cuda --image-size 512  # on a GPU
    python benchmarks/model_speed.py --presets cpu-small --views 5 --people 4
    python benchmarks/model_speed.py --presets paper --warmup 0 --repeats 1 --append  # heavy: alone

Writes ``benchmarks/results/model_speed_<device>.csv`` and ``.png`` (one bar chart per metric).
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import dataclasses
import math
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from _common import RESULTS
from rich.console import Console
from rich.table import Table

from tessetrack.config import Config, apply_overrides, preset
from tessetrack.losses import ClipTargets, total_loss
from tessetrack.model.tessetrack import ClipBatch, TesseTrack, _take, build_model

# --- synthetic inputs ----------------------------------------------------------------------------


def _look_at(eye: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """R_cam_from_world, t of a camera at ``eye`` looking at ``target`` (z up, OpenCV axes)."""
    fwd = (target - eye) / (target - eye).norm()
    right = torch.linalg.cross(fwd, torch.tensor([0.0, 0.0, 1.0]))
    right = right / right.norm()
    down = torch.linalg.cross(fwd, right)
    R = torch.stack([right, down, fwd])
    return R, -R @ eye


def make_inputs(
    model: TesseTrack, *, views: int, people: int, image_size: int, seed: int = 0
) -> tuple[ClipBatch, ClipTargets]:
    """One clip (B = 1) of random images seen by a ring of cameras, ``people`` GT persons."""
    g = torch.Generator().manual_seed(seed)
    f, v, p, s = model.config.clip_length, views, people, image_size
    Rs, ts = [], []
    for i in range(v):
        a = 2 * math.pi * i / v
        eye = torch.tensor([5 * math.cos(a), 5 * math.sin(a), 2.0])
        R, t = _look_at(eye, torch.tensor([0.0, 0.0, 1.0]))
        Rs.append(R)
        ts.append(t)
    focal = 0.8 * s
    K = torch.tensor([[focal, 0.0, s / 2], [0.0, focal, s / 2], [0.0, 0.0, 1.0]])
    batch = ClipBatch(
        K=K.expand(1, f, v, 3, 3).clone(),
        R=torch.stack(Rs).expand(1, f, v, 3, 3).clone(),
        t=torch.stack(ts).expand(1, f, v, 3).clone(),
        dist=torch.zeros(1, f, v, 5),
        image_size=torch.full((1, f, v, 2), float(s)),
        view_mask=torch.ones(1, f, v, dtype=torch.bool),
        images=torch.rand(1, f, v, 3, s, s, generator=g),
        gt_centres=(torch.rand(1, 1, p, 3, generator=g) - 0.5)
        .mul(2.0)
        .add(torch.tensor([0.0, 0.0, 1.0]))
        .expand(1, 2, p, 3)
        .clone(),  # x, y in [-1, 1], z in [0, 2]
        gt_mask=torch.ones(1, 2, p, dtype=torch.bool),
    )
    joints = batch.gt_centres[:, :, :, None] + 0.2 * torch.randn(1, 2, p, 19, 3, generator=g)
    targets = ClipTargets(
        batch.gt_centres, batch.gt_mask, joints, torch.ones(1, 2, p, 19, dtype=torch.bool)
    )
    return batch, targets


def _to(obj, device: torch.device):
    fields = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in vars(obj).items()}
    return type(obj)(**fields)


# --- measurement ---------------------------------------------------------------------------------


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (n, ctypes.c_size_t)
        for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                  "fordblks", "keepcost")
    ]  # fmt: skip


def _heap_probe() -> Callable[[], int]:
    """Bytes of heap memory in use (glibc ``mallinfo2``: arena + mmapped chunks; CPU tensors live
    there), or the resident set size where glibc ≥ 2.33 is not available."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2

        def used() -> int:
            m = libc.mallinfo2()
            return int(m.uordblks + m.hblkhd)

        used()
        return used
    except (OSError, AttributeError):
        page = os.sysconf("SC_PAGE_SIZE")

        def rss() -> int:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * page

        return rss


class _PeakSampler:
    """Peak of ``probe()`` while active, sampled by a thread every ``interval`` seconds (torch ops
    release the GIL, so the thread sees the allocations of a running op)."""

    def __init__(self, probe: Callable[[], int], interval: float = 0.0005) -> None:
        self.probe, self.interval, self._stop = probe, interval, threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.probe())
            time.sleep(self.interval)

    def __enter__(self) -> _PeakSampler:
        self.base = self.peak = self.probe()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.probe())


def measure(
    fn: Callable[[], None], device: torch.device, warmup: int, repeats: int
) -> tuple[float, float]:
    """(median seconds, peak extra memory in MiB) of ``fn()``."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    probe = _heap_probe()
    for _ in range(warmup):
        fn()
    sync()
    times, peaks = [], []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.empty_cache()
            base = torch.cuda.memory_allocated(device)
            torch.cuda.reset_peak_memory_stats(device)
            t0 = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t0)
            peaks.append(torch.cuda.max_memory_allocated(device) - base)
        else:
            with _PeakSampler(probe) as mem:
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            peaks.append(mem.peak - mem.base)
    return statistics.median(times), max(peaks) / 2**20


@dataclass
class Row:
    preset: str
    stage: str
    pass_: str
    seconds: float
    peak_mib: float
    setup: str = ""


def _sum_outputs(x) -> torch.Tensor:
    """Sum of every float tensor in a (nested) output, for a backward pass."""
    if isinstance(x, torch.Tensor):
        return (
            x.float().sum()
            if x.is_floating_point() and x.requires_grad
            else x.new_zeros((), dtype=torch.float32)
        )
    if isinstance(x, (tuple, list)):
        return sum((_sum_outputs(y) for y in x), torch.zeros(()))
    if hasattr(x, "__dict__"):
        return _sum_outputs(list(vars(x).values()))
    return torch.zeros(())


def stage_inputs(model: TesseTrack, batch: ClipBatch) -> dict[str, tuple]:
    """Detached inputs of every stage, as the full forward builds them."""
    b, f, v = batch.view_mask.shape
    a0, a1 = model.anchors
    h = (model.time_window - 1) // 2
    with torch.no_grad():
        feats = model.extract_features(batch.images.flatten(0, 2))  # (B·F·V)×C×h×w
        feats = feats.reshape(b, f, v, *feats.shape[1:])  # B×F×V×C×h×w
        anchors = torch.tensor([a0, a1], device=feats.device)
        at = anchors[:, None]  # A×1
        det_in = (_take(feats, at)[:, 0], batch.views.map(lambda x: _take(x, at)[:, 0]))
        window = anchors[:, None] + torch.arange(-h, h + 1, device=feats.device)  # A×T
        centres = batch.gt_centres.flatten(0, 1)  # (B·A)×P×3
        desc_in = (_take(feats, window), centres, batch.views.map(lambda x: _take(x, window)))
        desc = model.descriptor(*desc_in)
        p = centres.shape[1]
        d_vec = desc.vector.reshape(b, 2, p, -1)  # B×A×P×D
        mask = batch.gt_mask
        match_in = (d_vec[:, 0], d_vec[:, 1], mask[:, 0], mask[:, 1])
        d = desc.tensor.reshape(b * 2 * p, 1, *desc.tensor.shape[2:])  # (B·A·P)×1×C×T×X'×Y'×Z'
        stack = torch.cat([d, d], dim=1)  # (B·A·P)×2×...: own + partner descriptor
        pose_in = (
            stack,
            torch.ones(b * 2 * p, 2, dtype=torch.bool, device=feats.device),
            desc.voxel_centres.flatten(0, 1),
        )
    return {
        "backbone": (model.extract_features, (batch.images.flatten(0, 2),)),
        "fusion+PDN": (model.detector, det_in),
        "tesseract 4D CNN": (model.descriptor, desc_in),
        "matcher": (model.matcher, match_in),
        "pose head": (model.pose_head, pose_in),
    }


def bench_preset(
    name: str, cfg: Config, device: torch.device, args: argparse.Namespace, console: Console
) -> list[Row]:
    torch.manual_seed(0)
    model = build_model(cfg).to(device)
    batch, targets = make_inputs(
        model, views=args.views, people=args.people, image_size=args.image_size
    )
    batch, targets = _to(batch, device), _to(targets, device)
    rows: list[Row] = []
    for stage, (fn, inputs) in stage_inputs(model, batch).items():
        if fn is None:
            continue

        def fwd(fn=fn, inputs=inputs) -> None:
            with torch.no_grad():
                fn(*inputs)

        def fwd_bwd(fn=fn, inputs=inputs) -> None:
            model.zero_grad(set_to_none=True)
            _sum_outputs(fn(*inputs)).backward()

        for pass_, call in (("forward", fwd), ("forward+backward", fwd_bwd)):
            sec, mib = measure(call, device, args.warmup, args.repeats)
            rows.append(Row(name, stage, pass_, sec, mib))
            console.log(f"{name:10s} {stage:18s} {pass_:17s} {sec * 1e3:9.1f} ms {mib:8.1f} MiB")

    if args.no_step:
        return rows
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        terms = total_loss(model(batch), targets, model.grid, cfg.loss)
        terms.total.backward()
        opt.step()

    sec, mib = measure(step, device, args.warmup, args.repeats)
    rows.append(Row(name, "training step", "forward+backward", sec, mib))
    console.log(
        f"{name:10s} {'training step':18s} {'fwd+bwd+AdamW':17s} {sec * 1e3:9.1f} ms {mib:8.1f} MiB"
    )
    return rows


def read_rows(path: Path) -> list[Row]:
    """Rows of an earlier run's CSV (for ``--append``)."""
    if not path.is_file():
        return []
    with path.open() as fh:
        return [
            Row(
                r["preset"],
                r["stage"],
                r["pass"],
                float(r["ms"]) / 1e3,
                float(r["peak_mib"]),
                r["setup"],
            )
            for r in csv.DictReader(fh)
        ]


def write_outputs(rows: list[Row], device: str, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / f"model_speed_{device}.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["preset", "stage", "pass", "ms", "peak_mib", "setup"])
        for r in rows:
            w.writerow(
                [r.preset, r.stage, r.pass_, f"{r.seconds * 1e3:.2f}", f"{r.peak_mib:.1f}", r.setup]
            )
    note = "; ".join(dict.fromkeys(f"{r.preset}: {r.setup}" for r in rows))

    from matplotlib.figure import Figure

    presets = sorted({r.preset for r in rows}, key=[r.preset for r in rows].index)
    stages = sorted({r.stage for r in rows}, key=[r.stage for r in rows].index)
    fig = Figure(figsize=(12, 4.5))
    axes = fig.subplots(1, 2)
    width = 0.8 / len(presets)
    for k, (metric, label) in enumerate(
        (("seconds", "forward+backward time (s, log)"), ("peak_mib", "peak memory (MiB, log)"))
    ):
        ax = axes[k]
        for i, pname in enumerate(presets):
            vals = [
                next(
                    (
                        getattr(r, metric)
                        for r in rows
                        if r.preset == pname and r.stage == s and r.pass_ == "forward+backward"
                    ),
                    0.0,
                )
                for s in stages
            ]
            ax.bar(
                [j + i * width for j in range(len(stages))],
                [max(v, 1e-6) for v in vals],
                width,
                label=pname,
            )
        ax.set_xticks([j + width * (len(presets) - 1) / 2 for j in range(len(stages))])
        ax.set_xticklabels(stages, rotation=20, ha="right")
        ax.set_yscale("log")
        ax.set_title(label)
        ax.legend()
    fig.suptitle(f"TesseTrack per-stage cost on {device}\n{note}", fontsize=7)
    fig.tight_layout()
    png_path = out / f"model_speed_{device}.png"
    fig.savefig(png_path, dpi=100)
    return csv_path, png_path


def print_table(rows: list[Row], console: Console) -> None:
    presets = sorted({r.preset for r in rows}, key=[r.preset for r in rows].index)
    table = Table(title="TesseTrack stages: median time (ms) / peak memory (MiB)")
    table.add_column("stage")
    table.add_column("pass")
    for p in presets:
        table.add_column(f"{p} ms", justify="right")
        table.add_column(f"{p} MiB", justify="right")
    ratio = ("paper", "cpu-small") if {"paper", "cpu-small"} <= set(presets) else None
    if ratio is None and len(presets) == 2:
        ratio = (presets[1], presets[0])
    if ratio:
        table.add_column(f"time {ratio[0]} / {ratio[1]}", justify="right")
        table.add_column(f"memory {ratio[0]} / {ratio[1]}", justify="right")
    keys = list(dict.fromkeys((r.stage, r.pass_) for r in rows))
    for stage, pass_ in keys:
        cells, found = [], {}
        for p in presets:
            r = next((r for r in rows if (r.preset, r.stage, r.pass_) == (p, stage, pass_)), None)
            cells += [f"{r.seconds * 1e3:.1f}", f"{r.peak_mib:.0f}"] if r else ["-", "-"]
            found[p] = r
        if ratio:
            num, den = found.get(ratio[0]), found.get(ratio[1])
            ok = num is not None and den is not None
            cells.append(f"{num.seconds / den.seconds:.0f}×" if ok else "-")
            cells.append(f"{num.peak_mib / den.peak_mib:.0f}×" if ok and den.peak_mib >= 1 else "-")
        table.add_row(stage, pass_, *cells)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--presets", nargs="+", default=["paper", "cpu-small"])
    parser.add_argument("--variant", default="FTDL")
    parser.add_argument(
        "--image-size", type=int, default=256, help="square input images (paper: full HD)"
    )
    parser.add_argument("--views", type=int, default=3)
    parser.add_argument("--people", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--override",
        nargs="*",
        default=[],
        help="dotted config overrides key=value for every preset",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--append",
        action="store_true",
        help="keep the other presets' rows of an earlier CSV (run heavy presets separately)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="re-print and re-plot the existing CSV, run nothing",
    )
    parser.add_argument("--no-step", action="store_true", help="skip the full training step")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    console = Console(width=130)
    from tessetrack.config import parse_override

    overrides = dict(parse_override(o) for o in args.override)
    note = (
        f"{args.variant}, 1 clip, {args.views} views, {args.people} people, {args.image_size}² images, "
        f"median of {args.repeats} after {args.warmup} warm-up, {torch.get_num_threads()} threads"
        + (f", overrides {' '.join(args.override)}" if args.override else "")
    )
    csv_path = args.out / f"model_speed_{device.type}.csv"
    if args.report_only:
        rows = read_rows(csv_path)
        print_table(rows, console)
        write_outputs(rows, device.type, args.out)
        return
    rows = [r for r in read_rows(csv_path) if r.preset not in args.presets] if args.append else []
    for name in args.presets:
        cfg = apply_overrides(preset(name, args.variant), overrides)
        new = bench_preset(name, cfg, device, args, console)
        rows += [dataclasses.replace(r, setup=note) for r in new]
    print_table(rows, console)
    csv_path, png_path = write_outputs(rows, device.type, args.out)
    console.print(f"[green]wrote[/green] {csv_path} and {png_path}")
    for line in dict.fromkeys(f"{r.preset}: {r.setup}" for r in rows):
        console.print(line)


if __name__ == "__main__":
    main()
