"""What a training run writes besides checkpoints: ``log.csv`` (per logged step), ``val.csv``,
TensorBoard logs when the ``tensorboard`` package is installed, and at the end ``curves.png`` and
``report.json``. Every file is replaced atomically (:mod:`tessetrack.io.atomic`): an interrupted
run leaves whole files."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tessetrack.io.atomic import atomic_path, atomic_write_text

__all__ = ["TRAIN_COLUMNS", "VAL_COLUMNS", "CsvLog", "RunLogs", "plot_curves", "write_report"]

log = logging.getLogger(__name__)

#: The columns of ``log.csv`` and ``val.csv`` of a new run (a resumed run keeps its own header).
TRAIN_COLUMNS = ("step", "loss", "detection", "tracking", "pose", "lr", "sec_per_step", "keypoints")
VAL_COLUMNS = ("step", "loss", "detection", "tracking", "pose", "mpjpe_mm", "match_accuracy",
               "keypoints", "keypoint_hit")  # fmt: skip


def _csv_text(rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


class CsvLog:
    """A CSV file of one row per logged step, rewritten atomically at every row.

    A file that exists and is not empty (a resumed run) keeps its header and rows, minus the rows
    logged after ``resume_step`` (the resumed run logs them again).
    """

    def __init__(self, path: Path, columns: Sequence[str], resume_step: int | None = None) -> None:
        self.path = path
        self.rows: list[list[str]] = []
        if path.is_file() and path.stat().st_size:
            with path.open(newline="") as fh:
                self.rows = [r for r in csv.reader(fh)]
        if self.rows:
            if resume_step is not None:
                body = [r for r in self.rows[1:] if r and int(float(r[0])) <= resume_step]
                self.rows = [self.rows[0], *body]
        else:
            self.rows = [list(columns)]
        self.columns = list(self.rows[0])
        atomic_write_text(path, _csv_text(self.rows))

    def write(self, row: Mapping[str, Any]) -> None:
        """Append ``row`` (missing columns empty, unknown keys ignored)."""
        self.rows.append([str(row.get(c, "")) for c in self.columns])
        atomic_write_text(self.path, _csv_text(self.rows))


class RunLogs:
    """The CSV logs and TensorBoard writer of rank 0 (``resume_step``: see :class:`CsvLog`)."""

    def __init__(self, out: Path, resume_step: int | None = None) -> None:
        self.train = CsvLog(out / "log.csv", TRAIN_COLUMNS, resume_step)
        self.val = CsvLog(out / "val.csv", VAL_COLUMNS, resume_step)
        self.tb = _tensorboard(out / "tb")

    def write_train(self, step: int, losses: Mapping[str, float], **extra: float) -> None:
        """One ``log.csv`` row (losses and ``extra`` columns); the losses also to TensorBoard."""
        self.train.write({"step": step, **losses, **extra})
        self._scalars("train", step, losses)

    def write_val(self, step: int, val: Mapping[str, float]) -> None:
        """One ``val.csv`` row; also to TensorBoard."""
        self.val.write({"step": step, **val})
        self._scalars("val", step, val)

    def _scalars(self, prefix: str, step: int, values: Mapping[str, float]) -> None:
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(f"{prefix}/{k}", v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _tensorboard(folder: Path) -> Any:
    """A TensorBoard ``SummaryWriter`` into ``folder``, or None (with a warning) without the package."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.warning(
            "tensorboard not installed: logging to CSV only "
            '(pip install "tessetrack[tensorboard]" adds the TensorBoard logs)'
        )
        return None
    return SummaryWriter(str(folder))


def _read_columns(path: Path) -> dict[str, tuple[list[float], list[float]]]:
    """column → (steps, values) over the rows of a CSV log where the column is filled."""
    if not path.is_file():
        return {}
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    cols = {}
    for k in rows[0] if rows else {}:
        kept = [r for r in rows if r.get(k)]
        if kept:
            cols[k] = ([float(r["step"]) for r in kept], [float(r[k]) for r in kept])
    return cols


def plot_curves(out_dir: Path) -> None:
    """``curves.png``: train/val loss, val MPJPE or 2D joints found, val match accuracy."""
    from matplotlib.figure import Figure

    tr, va = _read_columns(out_dir / "log.csv"), _read_columns(out_dir / "val.csv")
    if "loss" not in tr:
        return
    fig = Figure(figsize=(11, 3.5))
    axes = fig.subplots(1, 3)
    axes[0].plot(*tr["loss"], label="train loss")
    if "loss" in va:
        axes[0].plot(*va["loss"], "o-", label="val loss")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("step")
    axes[0].legend()
    panels = (
        (1, "mpjpe_mm", "val MPJPE (mm)"),
        (1, "keypoint_hit", "val 2D joints found (%)"),
        (2, "match_accuracy", "val match accuracy (%)"),
    )
    for i, key, title in panels:
        if key in va:
            axes[i].plot(*va[key], "o-")
            axes[i].set_title(title)
            axes[i].set_xlabel("step")
    fig.tight_layout()
    with atomic_path(out_dir / "curves.png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")


def write_report(out_dir: Path, report: Mapping[str, Any]) -> None:
    """``report.json``: where the run ended, its last validation and its settings."""
    atomic_write_text(out_dir / "report.json", json.dumps(report, indent=2))
