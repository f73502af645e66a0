"""Camera intrinsics and lens distortion from views of a calibration board (Zhang's method, as
implemented by ``cv2.calibrateCamera``).

Per camera: the board views (:mod:`tessetrack.calibrate.views`), then three distortion models of
growing complexity, ``k1``; ``k1 k2 p1 p2``; ``k1 k2 p1 p2 k3``, each fitted by OpenCV. The model
is chosen by the data with the Bayesian information criterion over the 2·N corner coordinates::

    BIC = 2N · ln(RMS²) + (distortion parameters) · ln(2N)

(the intrinsics and the board poses are common to all models and cancel). Views whose own RMS is
above ``max(outlier_factor × median, 1 px)`` (a misdetected board, motion blur) are dropped once
and the camera is calibrated again. The output camera sits at the world origin looking along +z
(identity pose): only ``K``, ``dist`` and the image size mean something.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from os import PathLike

import cv2
import numpy as np

from tessetrack.calibrate.boards import Board
from tessetrack.calibrate.views import BoardViews, ViewSampling, collect_board_views
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera

__all__ = [
    "DISTORTION_MODELS",
    "IntrinsicsConfig",
    "IntrinsicsFit",
    "CameraIntrinsics",
    "fit_intrinsics",
    "calibrate_intrinsics",
]

logger = logging.getLogger(__name__)

PathT = str | PathLike[str]

#: ``progress(camera, frames_done, frames_total)``.
ProgressFn = Callable[[str, int, int], None]

_FIX_K3 = cv2.CALIB_FIX_K3
#: name -> (cv2.calibrateCamera flags, number of free distortion coefficients)
DISTORTION_MODELS: dict[str, tuple[int, int]] = {
    "k1": (_FIX_K3 | cv2.CALIB_FIX_K2 | cv2.CALIB_ZERO_TANGENT_DIST, 1),
    "k1k2p1p2": (_FIX_K3, 4),
    "k1k2p1p2k3": (0, 5),
}


@dataclass(frozen=True)
class IntrinsicsConfig:
    """Settings of :func:`calibrate_intrinsics`.

    Attributes:
        sampling: frame sampling and view filtering.
        min_views: board views a camera needs at least.
        outlier_factor: views with an RMS above this × the median (and above 1 px) are dropped.
        models: distortion models to choose from (keys of :data:`DISTORTION_MODELS`).
    """

    sampling: ViewSampling = field(default_factory=ViewSampling)
    min_views: int = 3
    outlier_factor: float = 3.0
    models: tuple[str, ...] = tuple(DISTORTION_MODELS)


@dataclass(frozen=True)
class IntrinsicsFit:
    """One camera's calibration from its views.

    Attributes:
        K: (3, 3) intrinsic matrix.
        dist: (5,) OpenCV distortion (k1, k2, p1, p2, k3).
        rms: reprojection RMS in pixels over the views used.
        model: the distortion model chosen.
        view_rms: (F,) RMS per view used.
        used: (F,) indices (into the views given) of the views used.
    """

    K: np.ndarray
    dist: np.ndarray
    rms: float
    model: str
    view_rms: np.ndarray
    used: np.ndarray


@dataclass(frozen=True)
class CameraIntrinsics:
    """What :func:`calibrate_intrinsics` found for one camera.

    Attributes:
        camera: the camera (identity pose), named as its folder or video.
        fit: the calibration.
        views: the board views it came from (counts of missed, blurry and duplicate views).
    """

    camera: Camera
    fit: IntrinsicsFit
    views: BoardViews


def _calibrate(
    object_points: list[np.ndarray],
    image_points: list[np.ndarray],
    size: tuple[int, int],
    flags: int,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """One ``cv2.calibrateCamera`` run -> (rms, K 3×3, dist (5,), per-view RMS (F,))."""
    obj = [p.astype(np.float32) for p in object_points]
    img = [p.astype(np.float32).reshape(-1, 1, 2) for p in image_points]
    rms, K, dist, _, _, _, _, per_view = cv2.calibrateCameraExtended(
        obj, img, size, None, None, flags=flags
    )
    return float(rms), K, np.asarray(dist, np.float64).ravel()[:5], per_view.ravel()


def _best_model(
    object_points: list[np.ndarray], image_points: list[np.ndarray], size: tuple[int, int],
    models: tuple[str, ...],
) -> tuple[str, tuple[float, np.ndarray, np.ndarray, np.ndarray]]:  # fmt: skip
    """The distortion model with the lowest BIC (module docstring) and its fit."""
    n = 2 * sum(len(p) for p in image_points)  # corner coordinates
    best: tuple[float, str, tuple[float, np.ndarray, np.ndarray, np.ndarray]] | None = None
    for name in models:
        flags, free = DISTORTION_MODELS[name]
        result = _calibrate(object_points, image_points, size, flags)
        bic = n * math.log(max(result[0], 1e-12) ** 2) + free * math.log(n)
        if best is None or bic < best[0]:
            best = (bic, name, result)
    assert best is not None  # models is never empty (checked by the caller)
    return best[1], best[2]


def fit_intrinsics(
    object_points: list[np.ndarray],
    image_points: list[np.ndarray],
    image_size: tuple[int, int],
    config: IntrinsicsConfig = IntrinsicsConfig(),
) -> IntrinsicsFit:
    """Calibrate one camera from F board views.

    Args:
        object_points: F arrays (N_f, 3): board corners in metres, board frame.
        image_points: F arrays (N_f, 2): their pixels.
        image_size: ``(width, height)``.
        config: model choice and outlier rejection.

    Returns:
        The fit over the views kept after outlier rejection.
    """
    unknown = [m for m in config.models if m not in DISTORTION_MODELS]
    if unknown or not config.models:
        raise InputError(f"distortion models must be among {', '.join(DISTORTION_MODELS)}")
    used = np.arange(len(image_points))
    model, (rms, K, dist, per_view) = _best_model(object_points, image_points, image_size,
                                                  config.models)  # fmt: skip
    bad = per_view > max(config.outlier_factor * float(np.median(per_view)), 1.0)
    if bad.any() and (~bad).sum() >= config.min_views:
        used = used[~bad]
        logger.info("dropping %d outlier board views (RMS %s px)", bad.sum(),
                    np.round(per_view[bad], 2).tolist())  # fmt: skip
        model, (rms, K, dist, per_view) = _best_model(
            [object_points[i] for i in used], [image_points[i] for i in used], image_size,
            config.models,
        )  # fmt: skip
    return IntrinsicsFit(K=K, dist=dist, rms=rms, model=model, view_rms=per_view, used=used)


def _fit_views(
    name: str, views: BoardViews, board: Board, config: IntrinsicsConfig
) -> CameraIntrinsics:
    points = board.object_points()  # N×3
    object_points = [points[d.ids] for d in views.detections]
    image_points = [d.corners for d in views.detections]
    fit = fit_intrinsics(object_points, image_points, views.image_size, config)
    width, height = views.image_size
    camera = Camera(name, fit.K, np.eye(3), np.zeros(3), fit.dist, width, height)
    return CameraIntrinsics(camera=camera, fit=fit, views=views)


def calibrate_intrinsics(
    sources: Mapping[str, PathT],
    board: Board,
    config: IntrinsicsConfig = IntrinsicsConfig(),
    progress: ProgressFn | None = None,
) -> dict[str, CameraIntrinsics]:
    """Intrinsics of every camera from its board images or video.

    Args:
        sources: ``camera name -> video file or image folder``
            (:func:`tessetrack.data.own_cameras.find_sources` builds it from a folder).
        board: the board in the images.
        config: sampling, filtering and model choice.
        progress: called as ``progress(camera, frames_done, frames_total)``.

    Returns:
        ``{camera: CameraIntrinsics}`` in the order of ``sources``.

    Raises:
        InputError: a camera (all such cameras are named) where the board was found in fewer than
            ``config.min_views`` distinct sharp views; an unreadable source.
    """
    collected: dict[str, BoardViews] = {}
    for name, source in sources.items():

        def camera_progress(done: int, total: int, name: str = name) -> None:
            if progress is not None:
                progress(name, done, total)

        collected[name] = collect_board_views(source, board, config.sampling, camera_progress)
    short = {n: v for n, v in collected.items() if len(v.detections) < config.min_views}
    if short:
        detail = "; ".join(
            f"{n}: {len(v.detections)} of {v.images} images ({v.missed} without the board, "
            f"{v.blurry} blurry, {v.duplicates} duplicates)"
            for n, v in short.items()
        )
        raise InputError(
            f"too few views of the {board.describe()} (at least {config.min_views} per camera "
            f"needed) in camera{'s' if len(short) > 1 else ''} {detail}; check --board",
            next(iter(short.values())).source.parent,
        )
    return {name: _fit_views(name, views, board, config) for name, views in collected.items()}
