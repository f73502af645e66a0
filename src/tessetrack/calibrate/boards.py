"""Calibration boards: their geometry and their detection in one image.

A board is named on the command line as ``checkerboard:RxC:SQUARE_M`` (R×C *inner* corners,
squares SQUARE_M metres wide) or ``charuco:RxC:SQUARE_M:MARKER_M[:DICT]`` (R×C *squares*, ArUco
markers MARKER_M wide from the OpenCV dictionary DICT, default ``DICT_4X4_50``).

The board frame: corner ``(i, j)`` (row i, column j) lies at ``(j·square, i·square, 0)`` metres,
so the board is the plane z = 0. Detections are returned as pixel positions in OpenCV's
convention (pixel (0, 0) is the centre of the top-left pixel) together with the indices of the
board corners they belong to (a checkerboard is seen whole or not at all; a ChArUco board may be
seen in part).

A checkerboard looks almost the same turned half round, and OpenCV may list its corners from
either end. When R + C is odd its two outer corner squares beyond corner 0 and beyond the last
corner differ in colour, and the corners are put in the order that has the *dark* one beyond
corner 0, so that every camera names the corners alike (needed for camera poses from a board;
:attr:`Board.oriented`). When R + C is even the two orders cannot be told apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np

from tessetrack.errors import InputError

__all__ = ["Board", "BoardDetection", "parse_board"]

_SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 1e-3)
_CLASSIC_FLAGS = (
    cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_FAST_CHECK
)


@dataclass(frozen=True)
class BoardDetection:
    """One view of a board.

    Attributes:
        ids: (N,) indices into :meth:`Board.object_points` of the corners seen.
        corners: (N, 2) their pixel positions.
    """

    ids: np.ndarray
    corners: np.ndarray


@dataclass(frozen=True)
class Board:
    """A planar calibration target.

    Attributes:
        kind: ``"checkerboard"`` or ``"charuco"``.
        rows, cols: inner corners (checkerboard) or squares (ChArUco) per column and per row.
        square_m: side of one square in metres.
        marker_m: side of one ArUco marker in metres (ChArUco only).
        dictionary: OpenCV ArUco dictionary name (ChArUco only).
    """

    kind: str
    rows: int
    cols: int
    square_m: float
    marker_m: float = 0.0
    dictionary: str = "DICT_4X4_50"

    @property
    def corner_grid(self) -> tuple[int, int]:
        """``(rows, cols)`` of the corners whose positions are known."""
        if self.kind == "charuco":
            return self.rows - 1, self.cols - 1
        return self.rows, self.cols

    def object_points(self) -> np.ndarray:
        """(N, 3) board corners in metres, row-major: corner (i, j) at ``(j·s, i·s, 0)``."""
        rows, cols = self.corner_grid
        i, j = np.mgrid[0:rows, 0:cols]
        xy = np.stack([j.ravel(), i.ravel()], axis=-1) * self.square_m  # N×2
        return np.concatenate([xy, np.zeros((len(xy), 1))], axis=1)

    @property
    def oriented(self) -> bool:
        """Whether every view names the corners alike (ChArUco; a checkerboard with R + C odd)."""
        return self.kind == "charuco" or (self.rows + self.cols) % 2 == 1

    def describe(self) -> str:
        """Short text for messages, e.g. ``checkerboard 4x7 (0.06 m squares)``."""
        return f"{self.kind} {self.rows}x{self.cols} ({self.square_m:g} m squares)"

    def detect(self, gray: np.ndarray) -> BoardDetection | None:
        """Find the board in an H×W uint8 grey image; None when it is not seen."""
        if self.kind == "charuco":
            return _detect_charuco(self, gray)
        return _detect_checkerboard(self, gray)


def _detect_checkerboard(board: Board, gray: np.ndarray) -> BoardDetection | None:
    """OpenCV's classic detector refined by ``cornerSubPix``; the sector-based detector
    (``findChessboardCornersSB``, sub-pixel by itself) where the classic one fails."""
    pattern = (board.cols, board.rows)  # OpenCV wants (points per row, points per column)
    found, corners = cv2.findChessboardCorners(gray, pattern, flags=_CLASSIC_FLAGS)
    if found:
        corners = cv2.cornerSubPix(gray, corners, (11, 11), (-1, -1), _SUBPIX_CRITERIA)
    else:
        found, corners = cv2.findChessboardCornersSB(gray, pattern)
    if not found:
        return None
    n = board.rows * board.cols
    corners = corners.reshape(n, 2).astype(np.float64)
    if board.oriented and _dark_beyond_last(board, gray, corners):
        corners = corners[::-1].copy()  # the other end: corner (i, j) <-> (R-1-i, C-1-j)
    return BoardDetection(np.arange(n), corners)


def _dark_beyond_last(board: Board, gray: np.ndarray, corners: np.ndarray) -> bool:
    """Whether the outer square beyond the last corner is darker than the one beyond corner 0
    (their centres found through the board-to-image homography, the mean of a small patch)."""
    grid = board.object_points()[:, :2] / board.square_m  # N×2, in squares
    H, _ = cv2.findHomography(grid, corners)
    if H is None:
        return False
    rows, cols = board.corner_grid
    probes = np.array([[[-0.5, -0.5], [cols - 0.5, rows - 0.5]]])  # (x = column, y = row)
    centres = cv2.perspectiveTransform(probes, H)[0]  # 2×2 pixels
    step = np.median(np.linalg.norm(np.diff(corners.reshape(rows, cols, 2), axis=1), axis=-1))
    r = max(int(step / 4), 1)
    means = []
    for x, y in np.round(centres).astype(int):
        if not (r <= x < gray.shape[1] - r and r <= y < gray.shape[0] - r):
            return False  # a square off the image: keep OpenCV's order
        means.append(float(gray[y - r : y + r + 1, x - r : x + r + 1].mean()))
    return means[1] < means[0]


def _detect_charuco(board: Board, gray: np.ndarray) -> BoardDetection | None:
    """``cv2.aruco.CharucoDetector``; views with fewer than 6 corners are discarded."""
    aruco = cv2.aruco
    dictionary = aruco.getPredefinedDictionary(getattr(aruco, board.dictionary))
    cv_board = aruco.CharucoBoard((board.cols, board.rows), board.square_m, board.marker_m,
                                  dictionary)  # fmt: skip
    corners, ids, _, _ = aruco.CharucoDetector(cv_board).detectBoard(gray)
    if ids is None or len(ids) < 6:
        return None
    return BoardDetection(ids.ravel().astype(np.int64), corners.reshape(-1, 2).astype(np.float64))


_NUMBER = r"([0-9.e+-]+)"
_PATTERN = re.compile(rf"^(checkerboard|charuco):(\d+)x(\d+):{_NUMBER}(?::{_NUMBER})?(?::(\w+))?$")


def parse_board(text: str) -> Board:
    """Parse ``checkerboard:RxC:SQUARE_M`` or ``charuco:RxC:SQUARE_M:MARKER_M[:DICT]``.

    Raises:
        InputError: malformed text, sizes that are not positive, too few corners, a marker
            larger than its square, or an unknown ArUco dictionary.
    """
    m = _PATTERN.match(text.strip().lower())
    usage = "expected checkerboard:RxC:SQUARE_M or charuco:RxC:SQUARE_M:MARKER_M[:DICT]"
    if m is None:
        raise InputError(f"board {text!r}: {usage} (e.g. checkerboard:4x7:0.06)")
    kind, rows, cols, square, marker, dictionary = m.groups()
    try:
        square_m = float(square)
        marker_m = float(marker) if marker else 0.0
    except ValueError:
        raise InputError(f"board {text!r}: {usage}") from None
    if kind == "checkerboard" and (marker or dictionary):
        raise InputError(f"board {text!r}: a checkerboard takes no marker size; {usage}")
    if int(rows) < 2 or int(cols) < 2 or not square_m > 0:
        raise InputError(f"board {text!r}: needs at least 2x2 corners and a positive square size")
    if kind == "charuco":
        if not 0 < marker_m < square_m:
            raise InputError(f"board {text!r}: the marker must be smaller than the square")
        name = (dictionary or "DICT_4X4_50").upper()
        if not hasattr(cv2.aruco, name):
            raise InputError(f"board {text!r}: unknown ArUco dictionary {name}")
        return Board(kind, int(rows), int(cols), square_m, marker_m, name)
    return Board(kind, int(rows), int(cols), square_m)
