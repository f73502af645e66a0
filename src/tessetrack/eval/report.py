"""Rich tables of an :func:`~tessetrack.eval.evaluate.evaluate` result (for the CLI)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from rich.table import Table

__all__ = ["metrics_table", "per_joint_table"]

_LABELS: dict[str, tuple[str, str]] = {
    # key -> (label, unit)
    "mpjpe_mm": ("MPJPE", "mm"),
    "mpjpe_root_mm": ("MPJPE (root-relative)", "mm"),
    "pa_mpjpe_mm": ("PA-MPJPE", "mm"),
    "matched_poses": ("matched / GT poses", ""),
    "recall_500": ("Recall@500mm", "%"),
    "ap_mpjpe_mm": ("MPJPE of AP matches", "mm"),
    "mota": ("3D MOTA", "%"),
    "motp_mm": ("3D MOTP", "mm"),
    "precision": ("precision", "%"),
    "recall": ("recall", "%"),
    "id_switches": ("ID switches", ""),
}


def _fmt(value: object, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}{' ' + unit if unit else ''}"
    return f"{value}{' ' + unit if unit else ''}"


def metrics_table(result: Mapping[str, object], *, title: str = "tessetrack evaluate") -> Table:
    """One row per metric: MPJPE family, PCK thresholds, PCP per actor, AP thresholds, MOT."""
    table = Table(title=title)
    table.add_column("protocol")
    table.add_column("metric")
    table.add_column("value", justify="right")
    protocols = list(result.get("protocols", []))
    if "mpjpe" in protocols:
        for key in ("mpjpe_mm", "mpjpe_root_mm", "pa_mpjpe_mm"):
            if key in result:
                table.add_row("mpjpe", _LABELS[key][0], _fmt(result[key], "mm"))
        for t, v in dict(result.get("pck", {})).items():
            table.add_row("mpjpe", f"3D-PCK@{t}mm", _fmt(v, "%"))
        table.add_row(
            "mpjpe",
            _LABELS["matched_poses"][0],
            f"{result.get('matched_poses', 0)} / {result.get('gt_poses', 0)}",
        )
    if "pcp" in protocols:
        pcp = dict(result.get("pcp", {}))
        for key, v in pcp.items():
            if key == "per_limb":
                for limb, lv in dict(v).items():
                    table.add_row("pcp", f"PCP {limb.replace('_', ' ')}", _fmt(lv, "%"))
            else:
                table.add_row("pcp", f"PCP {key.replace('_', ' ')}", _fmt(v, "%"))
    if "ap" in protocols:
        for t, v in dict(result.get("ap", {})).items():
            table.add_row("ap", f"AP@{t}mm", _fmt(v, "%"))
        for key in ("recall_500", "ap_mpjpe_mm"):
            table.add_row("ap", _LABELS[key][0], _fmt(result.get(key), _LABELS[key][1]))
    if "mot3d" in protocols:
        for key in ("mota", "motp_mm", "precision", "recall", "id_switches"):
            table.add_row("mot3d", _LABELS[key][0], _fmt(result.get(key), _LABELS[key][1]))
    return table


def per_joint_table(result: Mapping[str, object]) -> Table | None:
    """Per-joint 3D MOT numbers, or None without the ``mot3d`` protocol."""
    per_joint = result.get("per_joint")
    if not per_joint:
        return None
    table = Table(title="3D MOT per joint")
    for col in ("joint", "MOTA %", "MOTP mm", "precision %", "recall %", "ID sw."):
        table.add_column(col, justify="left" if col == "joint" else "right")
    for joint, m in dict(per_joint).items():
        table.add_row(
            joint,
            _fmt(m["mota"]),
            _fmt(m["motp_mm"]),
            _fmt(m["precision"]),
            _fmt(m["recall"]),
            str(m["id_switches"]),
        )
    return table
