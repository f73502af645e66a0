"""Hot spots of a ``cpu-small`` training step, before and after their rewrite, side by side.

A profile of a ``cpu-small`` training step (heatmap input, 5 views, tesseract 16³, T = 3) is
dominated by convolutions, and in it the 1×1 ``Conv1d`` scoring net of ``ViewFusion.weights``
was far slower than its ~100 M multiply-adds justify. This script times, in one run and at the
sizes of that preset, the OLD implementation (a copy kept below), the NEW one (the library's
current code) and the alternatives that were tried and not adopted:

* **view-fusion scores** (``ViewFusion.scores``, input (B·V, C, N), hidden 16):
  ``old`` = one call of the two 1×1 ``nn.Conv1d`` on the whole tensor; ``new`` = the same
  modules called on blocks of ≤ 32 768 positions (``ViewFusion.chunk``: the input, the hidden
  layer and their gradients stay in the CPU cache); ``matmul`` = the two layers as ``addmm`` on a
  channels-first (C, B·V·N) copy (what ``einsum``/``F.linear`` on a channels-last view amount to).
* **Conv4d** (kernel kt×3×3×3, same padding, input (P, C, T, 16³ / 8³ / 4³)): ``old`` = the sum
  over the kt temporal taps of ``conv3d`` on a default-layout copy per tap; ``new`` = one
  time-major channels-last copy, each tap a ``channels_last_3d`` view; ``stacked`` = the kt
  time-shifted inputs stacked along the channels into a single ``conv3d``.
* **training step**: a full ``cpu-small`` step (forward, eq. 4 loss, backward) with heatmap
  input, 5 views and 4 people, with both rewrites switched off (``old``) and on (``new``).

Sizes: B·V rows = anchors (2) × window (T = 3) × views (5) = 30 for the tesseracts of a training
step, 15 (T × V) when tracking; N = people × 16³ for tesseracts, 32³ for the whole-space volume
(rows = 2 anchors × 5 views in training, 5 views when tracking); C = 16 (backbone features) or 19
(joint heatmaps). Tesseract batches: 2 anchors × 6 people = 12 in training, 3 people tracking.

Timing: every case runs its implementations interleaved (old, new, alternative, old, ...), one
untimed round first, then ``--repeats`` timed rounds; the table shows the ratio of the fastest
round of ``old`` to that of each implementation. With one thread (the default) the clock is the
process CPU time, which other programs on the machine do not inflate (their cache traffic still
can: compare ratios, not absolute times, and rerun on a quiet machine for final numbers). Before
timing, every implementation is checked against ``old`` on the same inputs: outputs in float32,
outputs and gradients in float64 (relative L2 error ≤ 1e-4 / 1e-9); the training step's loss too.

Usage::

    python benchmarks/hotspots.py                 # 1 thread, ~3 minutes on a 2-core CPU
    python benchmarks/hotspots.py --quick         # smaller sizes, 2 rounds: a smoke run
    python benchmarks/hotspots.py --threads 2 --no-step

Writes ``benchmarks/results/hotspots_cpu.csv`` (one row per case × implementation: min and
median ms, speed-up over ``old``).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from _common import RESULTS, cpu_name
from rich.console import Console
from rich.table import Table
from torch import Tensor

from tessetrack.config import apply_overrides, preset
from tessetrack.losses import total_loss
from tessetrack.model.tessetrack import build_model
from tessetrack.ops.conv4d import _quad
from tessetrack.ops.unproject import ViewFusion

# the module, not the function `tessetrack.ops.conv4d` that the package re-exports under its name
conv4d_module = importlib.import_module("tessetrack.ops.conv4d")
BLOCK = 32768  # ViewFusion's default chunk


# --- the OLD implementations (as they were before the rewrite) and the alternatives --------------


def old_conv4d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, ...] = 1,
    padding: int | tuple[int, ...] = 0,
) -> Tensor:
    """``tessetrack.ops.conv4d.conv4d`` before the rewrite: one default-layout copy per tap."""
    st, *s3 = _quad(stride, "stride", minimum=1)
    pt, *p3 = _quad(padding, "padding")
    b, _, t = x.shape[:3]
    kt = weight.shape[2]
    t_out = (t + 2 * pt - kt) // st + 1
    xt = x.transpose(1, 2)  # B×T×C×X×Y×Z
    if pt > 0:
        xt = F.pad(xt, (0, 0, 0, 0, 0, 0, 0, 0, pt, pt))  # B×(T+2p)×C×X×Y×Z

    def tap(k: int) -> Tensor:
        xs = xt[:, k : k + st * (t_out - 1) + 1 : st]  # B×T'×C×X×Y×Z
        return F.conv3d(xs.flatten(0, 1), weight[:, :, k], None, s3, p3)  # (B·T')×C_out×...

    out = tap(0)
    for k in range(1, kt):
        out = out + tap(k)
    out = out.reshape(b, t_out, *out.shape[1:]).transpose(1, 2)  # B×C_out×T'×X'×Y'×Z'
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1, 1, 1)
    return out


def stacked_conv4d(
    x: Tensor, weight: Tensor, bias: Tensor | None, padding: tuple[int, int, int, int]
) -> Tensor:
    """Alternative: the kt time-shifted inputs along the channels, one ``conv3d`` (stride 1)."""
    pt, *p3 = padding
    b, c, t = x.shape[:3]
    c_out, _, kt = weight.shape[:3]
    t_out = t + 2 * pt - kt + 1
    xt = F.pad(x.transpose(1, 2), (0, 0, 0, 0, 0, 0, 0, 0, pt, pt))  # B×(T+2p)×C×X×Y×Z
    xs = torch.cat([xt[:, k : k + t_out] for k in range(kt)], dim=2)  # B×T'×(kt·C)×X×Y×Z
    w = weight.transpose(1, 2).reshape(c_out, kt * c, *weight.shape[3:])  # C_out×(kt·C)×...
    out = F.conv3d(xs.flatten(0, 1), w, bias, 1, p3)  # (B·T')×C_out×X×Y×Z
    return out.reshape(b, t_out, *out.shape[1:]).transpose(1, 2)  # B×C_out×T'×X×Y×Z


def old_scores(fusion: ViewFusion, x: Tensor) -> Tensor:
    """``ViewFusion`` scores before the rewrite: one ``Conv1d`` call on all (B·V)·N positions."""
    return fusion.score(x)  # (B·V)×1×N


def matmul_scores(fusion: ViewFusion, x: Tensor) -> Tensor:
    """Alternative: the 1×1 convolutions as ``addmm`` on a channels-first (C, B·V·N) copy."""
    m, c, n = x.shape
    w1, b1 = fusion.score[0].weight.squeeze(-1), fusion.score[0].bias  # H×C, H
    w2, b2 = fusion.score[2].weight.squeeze(-1), fusion.score[2].bias  # 1×H, 1
    x2 = x.transpose(0, 1).reshape(c, m * n)  # C×(M·N)
    h = torch.relu(torch.addmm(b1[:, None], w1, x2))  # H×(M·N)
    return torch.addmm(b2[:, None], w2, h).reshape(1, m, n).transpose(0, 1)  # M×1×N


# --- measurement ---------------------------------------------------------------------------------


@dataclass
class Row:
    op: str
    case: str
    shape: str
    pass_: str
    impl: str
    ms_min: float
    ms_median: float
    speedup: float = 1.0  # old min / this min


def _clock(threads: int) -> Callable[[], float]:
    return time.process_time if threads == 1 else time.perf_counter


def _grads_of(out: Tensor, inputs: list[Tensor]) -> list[Tensor]:
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    return list(torch.autograd.grad(out, inputs, g))


Impls = dict[str, Callable[[], Tensor]]


def check(make: Callable[[torch.dtype], tuple[Impls, list[Tensor]]], backward: bool) -> None:
    """Every implementation computes what ``old`` does: float32 outputs, float64 gradients.

    Errors are relative L2. Gradients are compared in float64 because in float32 a ReLU whose
    input is ~1e-8 may fall on either side in two summation orders, which moves single entries
    of the parameters' gradients by a visible amount although both are right.
    """
    for dtype, tol in ((torch.float32, 1e-4), (torch.float64, 1e-9)):
        impls, inputs = make(dtype)
        ref = impls["old"]()
        want = [ref.detach()]
        if backward and dtype == torch.float64:
            want += _grads_of(ref, inputs)
        for name, fn in impls.items():
            out = fn()
            got = [out.detach()] + (_grads_of(out, inputs) if len(want) > 1 else [])
            for i, (g, r) in enumerate(zip(got, want, strict=True)):
                err = float((g - r).norm() / r.norm().clamp_min(1e-30))
                if err > tol:
                    what = "output" if i == 0 else f"gradient {i}"
                    raise AssertionError(f"{name}: {dtype} {what} differs from old by {err:.1e}")


def race(
    impls: Impls,
    inputs: list[Tensor],
    *,
    backward: bool,
    repeats: int,
    clock: Callable[[], float],
) -> dict[str, list[float]]:
    """Seconds of each implementation per round, rounds interleaved."""
    times: dict[str, list[float]] = {k: [] for k in impls}
    for _ in range(repeats + 1):  # the first round is a warm-up
        for name, fn in impls.items():
            if backward:
                t0 = clock()
                out = fn()
                out.backward(torch.ones_like(out))
                times[name].append(clock() - t0)
                for x in inputs:
                    x.grad = None
            else:
                with torch.no_grad():
                    t0 = clock()
                    fn()
                    times[name].append(clock() - t0)
    return {k: v[1:] for k, v in times.items()}


def rows_of(op: str, case: str, shape: str, pass_: str, times: dict[str, list[float]]) -> list[Row]:
    base = min(times["old"])
    return [
        Row(op, case, shape, pass_, k, 1e3 * min(v), 1e3 * statistics.median(v), base / min(v))
        for k, v in times.items()
    ]


def bench_scores(args: argparse.Namespace, clock: Callable[[], float]) -> list[Row]:
    """ViewFusion scoring net: old (one call), new (blocks), matmul (alternative)."""
    s = 4 if args.quick else 1  # --quick: a quarter of the voxels
    cases = [
        # case, rows B·V, C, N, backward
        ("tesseracts, training, heatmaps, 6 people", 30, 19, 6 * 4096 // s, True),
        ("tesseracts, training, features, 2 people", 30, 16, 2 * 4096 // s, True),
        ("whole space 32³, training, features", 10, 16, 32768 // s, True),
        ("whole space 32³, training, heatmaps", 10, 19, 32768 // s, True),
        ("tesseracts, tracking, features, 3 people", 15, 16, 3 * 4096 // s, False),
        ("whole space 32³, tracking, features", 5, 16, 32768 // s, False),
    ]
    rows: list[Row] = []
    for case, m, c, n, backward in cases:

        def make(dtype: torch.dtype, m=m, c=c, n=n, backward=backward) -> tuple[Impls, list]:
            torch.manual_seed(0)
            fusion = ViewFusion(c, hidden=16).to(dtype)
            x = torch.randn(m, c, n, dtype=dtype, requires_grad=backward)
            impls = {
                "old": partial(old_scores, fusion, x),
                "new": partial(fusion.scores, x),
                "matmul": partial(matmul_scores, fusion, x),
            }
            return impls, [x, *fusion.parameters()] if backward else []

        check(make, backward)
        times = race(*make(torch.float32), backward=backward, repeats=args.repeats, clock=clock)
        pass_ = "forward+backward" if backward else "forward"
        rows += rows_of("ViewFusion scores", case, f"{m}×{c}×{n}", pass_, times)
        args.log(rows[-3:])
    return rows


def bench_conv4d(args: argparse.Namespace, clock: Callable[[], float]) -> list[Row]:
    """Conv4d: old (default layout per tap), new (channels-last views), stacked taps."""
    cases = [
        # case, batch, C_in, C_out, space, kt, spatial kernel, backward
        ("descriptor block 1, heatmaps", 12, 19, 16, 16, 3, 3, True),
        ("descriptor block 1, features", 12, 16, 16, 16, 3, 3, True),
        ("descriptor block 2", 12, 16, 32, 8, 3, 3, True),
        ("descriptor block 3", 12, 32, 32, 4, 3, 3, True),
        ("pose-head refine 16³ (skips)", 12, 35, 19, 16, 3, 3, True),
        ("pose-head to_heatmaps T→1", 12, 19, 19, 16, 3, 1, True),
        ("descriptor block 1, heatmaps, tracking", 3, 19, 16, 16, 3, 3, False),
        ("descriptor block 1, features, tracking", 3, 16, 16, 16, 3, 3, False),
    ]
    if args.quick:
        cases = [(c, max(1, b // 4), *rest) for c, b, *rest in cases]
    rows: list[Row] = []
    for case, b, cin, cout, s, kt, ks, backward in cases:
        pad = (kt // 2, ks // 2, ks // 2, ks // 2) if ks > 1 else (0, 0, 0, 0)

        def make(dtype: torch.dtype, b=b, cin=cin, cout=cout, s=s, kt=kt, ks=ks, pad=pad,
                 backward=backward) -> tuple[Impls, list]:  # fmt: skip
            torch.manual_seed(0)
            x = torch.randn(b, cin, 3, s, s, s, dtype=dtype, requires_grad=backward)
            w = (0.05 * torch.randn(cout, cin, kt, ks, ks, ks, dtype=dtype)).requires_grad_(
                backward
            )
            bias = torch.randn(cout, dtype=dtype, requires_grad=backward)
            impls = {
                "old": partial(old_conv4d, x, w, bias, 1, pad),
                "new": partial(conv4d_module.conv4d, x, w, bias, 1, pad),
                "stacked": partial(stacked_conv4d, x, w, bias, pad),
            }
            return impls, [x, w, bias] if backward else []

        check(make, backward)
        times = race(*make(torch.float32), backward=backward, repeats=args.repeats, clock=clock)
        pass_ = "forward+backward" if backward else "forward"
        shape = f"{b}×{cin}→{cout}×3×{s}³ k{kt}×{ks}³"
        rows += rows_of("Conv4d", case, shape, pass_, times)
        args.log(rows[-3:])
    return rows


def bench_step(args: argparse.Namespace, clock: Callable[[], float]) -> list[Row]:
    """A cpu-small training step with heatmap input, both rewrites off (old) and on (new)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from model_speed import make_inputs

    views, people = (3, 2) if args.quick else (5, 4)
    overrides = {
        "model.variant.input": "heatmaps",  # the detections-* recipe
        "model.pose_head.refine": True,
        "model.pose_head.skips": True,
    }
    cfg = apply_overrides(preset("cpu-small", "FTDL"), overrides)
    torch.manual_seed(0)
    model = build_model(cfg)
    batch, targets = make_inputs(model, views=views, people=people, image_size=256)
    g = torch.Generator().manual_seed(2)
    heat = torch.rand(*batch.images.shape[:3], 19, 64, 64, generator=g)  # B×F×V×J×h×w
    batch = dataclasses.replace(batch, images=None, heatmaps=heat)
    fusions = [m for m in model.modules() if isinstance(m, ViewFusion)]
    new_conv4d = conv4d_module.conv4d

    def use(old: bool) -> None:
        conv4d_module.conv4d = old_conv4d if old else new_conv4d  # Conv4d.forward's global
        for f in fusions:
            f.chunk = 2**62 if old else BLOCK  # one block: the old single Conv1d call

    def step(old: bool) -> tuple[float, float]:
        use(old)
        model.zero_grad(set_to_none=True)
        t0 = clock()
        loss = total_loss(model(batch), targets, model.grid, cfg.loss).total
        loss.backward()
        dt = clock() - t0
        use(False)
        return dt, loss.item()

    (_, loss_old), (_, loss_new) = step(True), step(False)  # warm-up
    if abs(loss_new - loss_old) > 1e-4 * abs(loss_old):
        raise AssertionError(f"training step: loss {loss_new} (new) vs {loss_old} (old)")
    times: dict[str, list[float]] = {"old": [], "new": []}
    for _ in range(max(1, args.repeats // 2)):
        times["old"].append(step(True)[0])
        times["new"].append(step(False)[0])
    case = f"heatmaps, {views} views, {people} people, tesseract 16³, T=3"
    rows = rows_of("training step", case, "B=1 clip", "forward+backward", times)
    args.log(rows)
    return rows


# --- outputs -------------------------------------------------------------------------------------


def write_csv(rows: list[Row], path: Path, threads: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu = cpu_name()
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["op", "case", "shape", "pass", "impl", "ms_min", "ms_median", "speedup_vs_old",
             "threads", "cpu"]
        )  # fmt: skip
        for r in rows:
            w.writerow(
                [r.op, r.case, r.shape, r.pass_, r.impl, f"{r.ms_min:.2f}", f"{r.ms_median:.2f}",
                 f"{r.speedup:.2f}", threads, cpu]
            )  # fmt: skip


def print_table(rows: list[Row], console: Console, threads: int) -> None:
    table = Table(title=f"Hot spots: speed-up over the old implementation ({threads} thread(s))")
    for col in ("op", "case", "shape", "pass", "new", "alternative"):
        table.add_column(col, justify="right" if col in ("new", "alternative") else "left")
    keys = list(dict.fromkeys((r.op, r.case, r.shape, r.pass_) for r in rows))
    for key in keys:
        group = {r.impl: r for r in rows if (r.op, r.case, r.shape, r.pass_) == key}
        alt = [r for k, r in group.items() if k not in ("old", "new")]
        alt_cell = ", ".join(f"{r.impl} {r.speedup:.2f}×" for r in alt) or "-"
        table.add_row(*key, f"{group['new'].speedup:.2f}×", alt_cell)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed rounds per case (5; --quick: 2)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 rounds: smoke run")
    parser.add_argument("--no-step", action="store_true", help="skip the full training step")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    torch.set_num_threads(args.threads)
    console = Console(width=140)

    def log(rows: list[Row]) -> None:
        for r in rows:
            console.log(
                f"{r.op:18s} {r.case:42s} {r.pass_:16s} {r.impl:8s} {r.ms_min:9.1f} ms "
                f"{r.speedup:5.2f}×"
            )

    args.log = log
    clock = _clock(args.threads)
    rows = bench_scores(args, clock) + bench_conv4d(args, clock)
    if not args.no_step:
        rows += bench_step(args, clock)
    print_table(rows, console, args.threads)
    path = args.out / "hotspots_cpu.csv"
    write_csv(rows, path, args.threads)
    console.print(f"[green]wrote[/green] {path}  ({cpu_name()}, torch {torch.__version__})")


if __name__ == "__main__":
    main()
