"""Camera poses (extrinsics) of a rig whose intrinsics are known, from a synchronized recording:

* from the people in it: the built-in detector's joints (or detections given), the rig estimated
  by :mod:`tessetrack.calibrate.people`, then put in metres, z up, floor at z = 0
  (:mod:`tessetrack.calibrate.world_frame`);
* from a board several cameras see at once: :mod:`tessetrack.calibrate.board_rig`, metres from
  the board's squares, the world frame on the board.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import cv2
import numpy as np

from tessetrack.calibrate.board_rig import (
    BoardRigConfig,
    BoardRigResult,
    board_sightings,
    calibrate_from_board,
)
from tessetrack.calibrate.boards import Board
from tessetrack.calibrate.compare import pair_distances, rotation_deg
from tessetrack.calibrate.people import (
    PeopleConfig,
    PeopleObservations,
    RigEstimate,
    estimate_rig,
    people_observations,
    refine_rig,
)
from tessetrack.calibrate.world_frame import WorldFrame, check_heights, world_frame
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.io.calibration import load_cameras
from tessetrack.io.detections import Detections2D, load_detections

__all__ = ["FARTHEST_TURN_DEG", "CameraFit", "ExtrinsicsResult", "calibrate_from_people",
           "refine_from_people", "far_turns", "calibrate_extrinsics",
           "calibrate_extrinsics_from_board"]  # fmt: skip

logger = logging.getLogger(__name__)

PathT = str | PathLike[str]

#: ``progress(images_done, images_total)`` of the detector.
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class CameraFit:
    """How well one camera's joints fit the calibrated rig.

    Attributes:
        observations: joints of the reconstructed people used in the bundle adjustment.
        median_px: median reprojection error in the camera's pixels.
        rms_px: root mean square reprojection error (outliers included).
    """

    observations: int
    median_px: float
    rms_px: float


@dataclass(frozen=True)
class ExtrinsicsResult:
    """Calibrated cameras (metres, z up, floor at z = 0) and their fit.

    Attributes:
        cameras: ``{name: Camera}`` with the given intrinsics and the estimated poses.
        fits: ``{name: CameraFit}``.
        frames: frames used.
        frame: the similarity from the rig estimate to the world (its scale, the chain length).
    """

    cameras: dict[str, Camera]
    fits: dict[str, CameraFit]
    frames: int
    frame: WorldFrame


def _metric_cameras(
    rig: RigEstimate, names: tuple[str, ...], intrinsics: Mapping[str, Camera], frame: WorldFrame
) -> dict[str, Camera]:
    """Cameras in the world frame: with ``x_world = s Q x_rig + d``, a rig pose ``(R, t)``
    becomes ``R' = R Qᵀ``, ``t' = s t − R' d``."""
    cameras = {}
    for v, name in enumerate(names):
        R = cv2.Rodrigues(rig.rvecs[v])[0] @ frame.R.T
        t = frame.scale * rig.tvecs[v] - R @ frame.shift
        c = intrinsics[name]
        cameras[name] = Camera(name, c.K, R, t, c.dist, c.width, c.height)
    return cameras


def calibrate_from_people(
    detections: Detections2D,
    intrinsics: Mapping[str, Camera],
    person_height: float | Sequence[float] = 1.7,
    config: PeopleConfig = PeopleConfig(),
) -> ExtrinsicsResult:
    """Camera poses from the people's 2D joints.

    Args:
        detections: 2D people per camera and frame (BODY25, or a set convertible to it).
        intrinsics: ``{name: Camera}`` whose ``K``, ``dist`` and size are used (poses ignored).
        person_height: the people's mean height in metres, or one height per person matched
            tallest to tallest (sets the scale; :func:`~tessetrack.calibrate.world_frame.metric_scale`).
        config: detection confidence, thresholds and the robust loss.

    Raises:
        InputError: a camera without detections or that sees nobody, cameras that cannot be
            related or placed (named), too little to set the scale or the floor.
    """
    check_heights(person_height)
    obs = people_observations(detections, intrinsics, config.min_confidence)
    rig = estimate_rig(obs, config)
    first = cv2.Rodrigues(rig.rvecs[0])[0]
    frame = world_frame(rig.points, first[2], person_height)  # row 2: the optical axis
    cameras = _metric_cameras(rig, obs.cameras, intrinsics, frame)
    return ExtrinsicsResult(cameras, _fits(rig, obs, intrinsics), len(obs.frames), frame)


def _fits(
    rig: RigEstimate, obs: PeopleObservations, intrinsics: Mapping[str, Camera]
) -> dict[str, CameraFit]:
    """Each camera's reprojection errors, in its own pixels."""
    fits = {}
    for name in obs.cameras:
        r = np.linalg.norm(rig.residuals[name], axis=1) * intrinsics[name].K[0, 0] / obs.f0
        fits[name] = CameraFit(len(r), float(np.median(r)) if len(r) else float("nan"),
                               float(np.sqrt(np.mean(r**2))) if len(r) else float("nan"))  # fmt: skip
    return fits


#: A refinement that turns a camera by more than this many degrees from its given pose did more
#: than follow a drift (a few degrees): the people may have been matched wrongly under the given
#: poses (``track --refine-calibration`` keeps such a camera at its given pose).
FARTHEST_TURN_DEG = 10.0

#: How a camera's disagreement with its given pose is weighed when the refined rig is placed in
#: the given world (:func:`_consensus_frame`): 1° of rotation counts as much as 5 cm of position,
#: and a camera counts at most as much as 10° off (one far-off camera cannot outweigh the rest).
_DEGREE_AS_M = 0.05
_MOST_OFF_DEG = 10.0


def far_turns(refined: Mapping[str, Camera], given: Mapping[str, Camera]) -> dict[str, float]:
    """The cameras of ``refined`` turned by more than :data:`FARTHEST_TURN_DEG` from their pose
    in ``given``, with that turn (°)."""
    turned = {n: rotation_deg(c.R @ given[n].R.T) for n, c in refined.items() if n in given}
    return {n: t for n, t in turned.items() if t > FARTHEST_TURN_DEG}


def _consensus_frame(rig: RigEstimate, given: Sequence[Camera], scale: float) -> WorldFrame:
    """The similarity that puts the refined rig where the given poses of most cameras agree it is.

    Each camera v implies one: ``Q_v = R_given_vᵀ R_rig_v`` and the shift that puts its centre at
    the given one (``x_world = scale · Q_v x_rig + d_v``). The one kept is that under which the
    cameras' refined poses are, summed over the cameras, the least far from their given ones
    (degrees plus metres / :data:`_DEGREE_AS_M`, each capped at :data:`_MOST_OFF_DEG`): cameras
    that moved since the calibration are outvoted by those that did not."""
    R_rig = np.stack([cv2.Rodrigues(r)[0] for r in rig.rvecs])  # V×3×3
    c_rig = np.stack([-R.T @ t for R, t in zip(R_rig, rig.tvecs, strict=True)])  # V×3
    R_given = np.stack([np.asarray(c.R, dtype=np.float64) for c in given])
    c_given = np.stack([np.asarray(c.center, dtype=np.float64) for c in given])
    best, frame = np.inf, None
    for v in range(len(given)):
        Q = R_given[v].T @ R_rig[v]
        d = c_given[v] - scale * Q @ c_rig[v]
        turned = [rotation_deg(R_rig[u] @ Q.T @ R_given[u].T) for u in range(len(given))]
        moved = np.linalg.norm(scale * c_rig @ Q.T + d - c_given, axis=1) / _DEGREE_AS_M
        cost = float(np.minimum(np.asarray(turned) + moved, _MOST_OFF_DEG).sum())
        if cost < best:
            best, frame = cost, WorldFrame(scale, Q, d, float("nan"))
    if frame is None:
        raise InputError("the refined rig could not be placed in the calibration's world "
                         "(its camera positions are not finite)")  # fmt: skip
    return frame


def refine_from_people(
    detections: Detections2D,
    cameras: Mapping[str, Camera],
    config: PeopleConfig = PeopleConfig(),
) -> ExtrinsicsResult:
    """The poses of a calibrated rig refined from the people's 2D joints
    (:func:`~tessetrack.calibrate.people.refine_rig`), in the calibration's own world frame.

    The refined rig is put where the given poses of most cameras agree it is
    (:func:`_consensus_frame`: cameras that moved since the calibration are outvoted); its scale
    is the calibration's (the median ratio of its camera-to-camera distances to the refined ones).
    For a calibration that has drifted, or was made with other intrinsics: the people are matched
    under the given poses, so these must be roughly right (a few degrees).

    Args:
        detections: 2D people per camera and frame (BODY25, or a set convertible to it).
        cameras: ``{name: Camera}``, at least two, whose intrinsics are kept and poses refined.
        config: detection confidence, thresholds and the robust loss (``bone_tolerance`` too).

    Raises:
        InputError: fewer than two cameras, a camera without detections or that sees nobody, a
            camera whose people match none of the others' under the given poses (named).
    """
    if len(cameras) < 2:
        raise InputError(f"refining a calibration needs two cameras or more, got {len(cameras)}")
    obs = people_observations(detections, cameras, config.min_confidence)
    given = [cameras[n] for n in obs.cameras]
    rvecs = np.stack([cv2.Rodrigues(np.asarray(c.R, dtype=np.float64))[0].ravel() for c in given])
    rig, _ = refine_rig(obs, rvecs, np.stack([c.t for c in given]), config)
    ours = np.stack([-cv2.Rodrigues(r)[0].T @ t for r, t in zip(rig.rvecs, rig.tvecs, strict=True)])
    theirs = np.stack([c.center for c in given])
    scale = float(np.median(pair_distances(theirs) / np.maximum(pair_distances(ours), 1e-12)))
    frame = _consensus_frame(rig, given, scale)
    refined = _metric_cameras(rig, obs.cameras, cameras, frame)
    return ExtrinsicsResult(refined, _fits(rig, obs, cameras), len(obs.frames), frame)


def _has_detections(folder: Path, names: tuple[str, ...]) -> bool:
    return all(any((folder / n).glob("*_keypoints.json")) for n in names)


def _selected(dets: Detections2D, start: int | None, end: int | None, stride: int) -> Detections2D:
    """The frames ``start <= f < end`` whose id is a multiple of ``stride`` from ``start`` (the
    first frame when None), of detections read from a folder: it may hold more frames than asked
    for (an earlier run), or exactly the frames asked for (the detector's own run)."""
    if stride < 1:
        raise InputError(f"--stride must be at least 1, got {stride}")
    base = start if start is not None else min(dets.frames, default=0)
    keep = {f for f in dets.frames if (start is None or f >= start) and (end is None or f < end)
            and (f - base) % stride == 0}  # fmt: skip
    if not keep:
        raise InputError("no frames selected (check --start/--end/--stride)")
    return Detections2D(dets.joint_set, {c: {f: p for f, p in frames.items() if f in keep}
                                         for c, frames in dets.by_camera.items()})  # fmt: skip


def calibrate_extrinsics(
    recording: PathT,
    intrinsics: PathT,
    *,
    detections: PathT | None = None,
    person_height: float | Sequence[float] = 1.7,
    start: int | None = None,
    end: int | None = None,
    stride: int = 1,
    config: PeopleConfig = PeopleConfig(),
    progress: ProgressFn | None = None,
    refine: bool = False,
) -> ExtrinsicsResult:
    """Calibrate a rig from the people in a synchronized recording.

    Args:
        recording: a folder of videos or image folders, one per camera, named as in
            ``intrinsics``.
        intrinsics: a calibration file :func:`~tessetrack.io.load_cameras` reads; only the
            intrinsics, distortion and image sizes are used (and the poses, with ``refine``).
        detections: a detections folder (OpenPose JSON per camera): read when it holds the
            cameras' files, else the built-in detector fills it; None: detect into a temporary
            folder.
        person_height, config: see :func:`calibrate_from_people`.
        start, end, stride: frame selection for the detector.
        progress: the detector's ``progress(images_done, images_total)``.
        refine: the poses in ``intrinsics`` refined (:func:`refine_from_people`; its world frame
            and scale kept, ``person_height`` unused) instead of found from scratch.
    """
    from tessetrack.detector import detect_recording

    cams = load_cameras(intrinsics)
    names = tuple(cams)
    check_heights(person_height)
    with tempfile.TemporaryDirectory(prefix="tessetrack-calibrate-") as tmp:
        folder = Path(detections) if detections is not None else Path(tmp)
        if not _has_detections(folder, names):
            detect_recording(recording, folder, start=start, end=end, stride=stride,
                             cameras=list(names), progress=progress)  # fmt: skip
        read = load_detections(folder, format="openpose", cameras=names)
        dets = _selected(read, start, end, stride)
    if refine:
        return refine_from_people(dets, cams, config)
    return calibrate_from_people(dets, cams, person_height, config)


def calibrate_extrinsics_from_board(
    recording: Mapping[str, PathT],
    intrinsics: PathT,
    board: Board,
    *,
    config: BoardRigConfig = BoardRigConfig(),
    progress: Callable[[str, int, int], None] | None = None,
) -> BoardRigResult:
    """Calibrate a rig from a board seen by several cameras at once.

    Args:
        recording: ``camera name -> video file or image folder``, synchronized (the same frame
            index is the same moment), named as in ``intrinsics``
            (:func:`tessetrack.data.own_cameras.find_sources` builds it from a folder).
        intrinsics: a calibration file :func:`~tessetrack.io.load_cameras` reads; only the
            intrinsics, distortion and image sizes are used.
        board: the board.
        config: frames read and the bundle adjustment's loss.
        progress: ``progress(camera, frames_done, frames_total)`` of the board search.

    Raises:
        InputError: a camera of the intrinsics missing from the recording, a board that is never
            seen by a camera or never at the same moment as the others (named).
    """
    cams = load_cameras(intrinsics)
    missing = [n for n in cams if n not in recording]
    if missing:
        raise InputError(f"no video or image folder for camera(s) {', '.join(missing)} of the "
                         "intrinsics file")  # fmt: skip
    sources = {n: recording[n] for n in cams}
    sightings = board_sightings(sources, board, config.max_frames, progress)
    return calibrate_from_board(sightings, cams, board, config)
