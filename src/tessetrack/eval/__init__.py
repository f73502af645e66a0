"""Evaluation: pose accuracy (MPJPE, PA-MPJPE, 3D-PCK), Shelf/Campus PCP, Panoptic AP, 3D MOT.

:func:`evaluate` runs the protocols on predicted and ground-truth tracks and returns the SPEC.md
metrics dictionary; :mod:`tessetrack.eval.report` renders it as rich tables.
"""

from __future__ import annotations

from tessetrack.eval.ap import panoptic_ap
from tessetrack.eval.evaluate import PROTOCOLS, evaluate, evaluate_files, load_ground_truth
from tessetrack.eval.mot3d import mot3d
from tessetrack.eval.pcp import pcp
from tessetrack.eval.pose_metrics import match_poses, mpjpe, pa_mpjpe, pck, root_relative_mpjpe

__all__ = [
    "PROTOCOLS",
    "evaluate",
    "evaluate_files",
    "load_ground_truth",
    "mpjpe",
    "root_relative_mpjpe",
    "pa_mpjpe",
    "pck",
    "match_poses",
    "pcp",
    "panoptic_ap",
    "mot3d",
]
