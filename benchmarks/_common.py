"""Helpers shared by the benchmark scripts (run as ``python benchmarks/<name>.py``, which puts this
folder on ``sys.path``).

* :func:`cpu_name` — what the timings ran on;
* :func:`add_clip_arguments` — the command line of the scripts that score models on
  :func:`tessetrack.eval.scene_scoring.validation_clips`;
* accuracy runs on a synthetic test scene (``ablation.py``, ``cameras.py``):
  :func:`add_scene_arguments`, :func:`models_and_ground_truth`, :func:`write_rows` (CSV + JSON),
  :func:`fmt`, :func:`progress_bar` and :func:`wide_console` (rich). The steps themselves
  (``parse_models``, ``track_and_score``, ``spread_subsets``, ...) are in
  :mod:`tessetrack.eval.scene_scoring`.
"""

from __future__ import annotations

import csv
import json
import math
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tessetrack.eval.scene_scoring import (
    add_link_arguments,
    ground_truth,
    model_input,
    parse_models,
)
from tessetrack.io.atomic import atomic_path, atomic_write_text
from tessetrack.structures import Tracks

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


#: Where the benchmarks write their tables and plots by default.
RESULTS = Path(__file__).resolve().parent / "results"


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def add_clip_arguments(ap: Any, clips: int) -> None:
    """``--scene``, ``--model`` (repeatable), ``--clips`` (default ``clips``), ``--seed`` and
    ``--threads``: the arguments of the scripts that score models on
    :func:`~tessetrack.eval.scene_scoring.validation_clips`."""
    ap.add_argument("--scene", required=True, help="a tessetrack synth scene with images")
    ap.add_argument("--model", action="append", required=True, metavar="LABEL=CHECKPOINT")
    ap.add_argument("--clips", type=int, default=clips)
    ap.add_argument("--seed", type=int, default=0, help="the training run's train.seed")
    ap.add_argument("--threads", type=int, default=2)


def add_scene_arguments(ap: Any, name: str) -> None:
    """The options every accuracy benchmark shares: scene, models, frames, area, output, device."""
    ap.add_argument("--test", required=True, help="synthetic test scene (tessetrack synth)")
    ap.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="NAME=CHECKPOINT",
        help="a variant's name and checkpoint (.safetensors or shipped name); repeat",
    )
    ap.add_argument("--frames", type=int, default=None, help="only the first N frames")
    ap.add_argument(
        "--area",
        type=float,
        default=None,
        help="score only GT people within this many metres of the origin in x and y",
    )
    ap.add_argument("--name", default=name, help="file stem of the results")
    ap.add_argument("--out", default=str(RESULTS), help="results folder")
    ap.add_argument("--device", default="cpu", help="cpu | cuda")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    add_link_arguments(ap)


def models_and_ground_truth(args: Any) -> tuple[dict[str, str], Tracks]:
    """The ``--model`` checkpoints (each opened now, so a wrong path fails before the first run)
    and the scene's ground truth as :func:`add_scene_arguments` selected it."""
    models = parse_models(args.model)
    for checkpoint in models.values():
        model_input(checkpoint)
    return models, ground_truth(args.test, args.frames, args.area)


def write_rows(
    stem: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str], meta: dict[str, Any]
) -> None:
    """``stem.csv`` (``columns`` of every row) and ``stem.json`` (``meta`` + all rows)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(stem.with_suffix(".csv")) as tmp, tmp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)

    def clean(x: Any) -> Any:
        return None if isinstance(x, float) and not math.isfinite(x) else x

    payload = {**meta, "rows": [{k: clean(v) for k, v in r.items()} for r in rows]}
    atomic_write_text(stem.with_suffix(".json"), json.dumps(payload, indent=2) + "\n")


def fmt(value: Any) -> str:
    """A table cell: floats with one decimal, None/NaN as ``-``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def wide_console() -> Console:
    """A rich console; 160 columns wide when the output is not a terminal (a log file, a pipe)."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=160)


def progress_bar() -> Progress:
    """A rich progress display: one line per task with a bar, done/total and the time left."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
