"""Camera calibration: intrinsics from a board, extrinsics from a board or from the people in a
synchronized recording. Importing this package reads no file and has no side effects."""

from __future__ import annotations

from tessetrack.calibrate.boards import Board, BoardDetection, parse_board
from tessetrack.calibrate.intrinsics import (
    CameraIntrinsics,
    IntrinsicsConfig,
    IntrinsicsFit,
    calibrate_intrinsics,
    fit_intrinsics,
)
from tessetrack.calibrate.views import BoardViews, ViewSampling, collect_board_views

__all__ = [
    "Board",
    "BoardDetection",
    "parse_board",
    "BoardViews",
    "ViewSampling",
    "collect_board_views",
    "CameraIntrinsics",
    "IntrinsicsConfig",
    "IntrinsicsFit",
    "calibrate_intrinsics",
    "fit_intrinsics",
]
