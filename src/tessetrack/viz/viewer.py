"""Interactive 3D viewer of cameras and tracks through rerun (optional extra ``viewer``).

:func:`log_recording` logs a :class:`~tessetrack.structures.Tracks` (and optionally the cameras and
a ground truth) into a rerun recording stream; :func:`view` loads the files, logs them and sends the
recording to a ``.rrd`` file, the native viewer and/or the web viewer.

Entity layout (world metres, right-handed, z up as in SPEC.md):

====================================  ==========================================================
``world``                             ``ViewCoordinates.RIGHT_HAND_Z_UP`` (static)
``world/axes``                        x/y/z arrows of 1 m, red/green/blue (static)
``world/floor``                       1 m grid on z = 0 under the cameras and people (static)
``world/cameras/{name}``              ``Transform3D`` world-from-camera + ``Pinhole`` (static)
``world/tracks/{id}/joints``          ``Points3D`` of the finite joints, coloured by ID, ID label
``world/tracks/{id}/bones``           ``LineStrips3D`` of the joint set's limbs
``world/ground_truth/{id}/...``       the same for the ground truth, in grey
====================================  ==========================================================

Timelines: ``frame`` (sequence: the tracks' own frame ids) and, when the frame rate is known,
``time`` (duration: ``frame / fps`` seconds). A person present at one frame and absent at a later
one is cleared there, so nobody lingers after their track ends.

Cameras follow the OpenCV convention of :class:`~tessetrack.geometry.camera.Camera`
(``x_cam = R_cam_from_world @ x_world + t``, x right, y down, z forward); rerun wants the parent
(world) from child (camera) transform, i.e. ``R_world_from_cam = Rᵀ`` and translation the camera
centre ``-Rᵀ t``, with ``ViewCoordinates.RDF`` on the pinhole.

rerun is imported inside the functions: ``import tessetrack.viz.viewer`` works without it, and a
call without it raises :class:`~tessetrack.errors.TesseTrackError` saying how to install it.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import numpy as np

from tessetrack.errors import TesseTrackError
from tessetrack.geometry.camera import Camera
from tessetrack.skeletons import JointSet
from tessetrack.structures import PersonPose, Tracks
from tessetrack.viz.overlay import id_color
from tessetrack.viz.render import tracks_joint_set

__all__ = [
    "APPLICATION_ID",
    "INSTALL_HINT",
    "GROUND_TRUTH_COLOR",
    "world_from_camera",
    "log_recording",
    "ViewSession",
    "view",
]

logger = logging.getLogger(__name__)

#: rerun application id of every recording tessetrack writes.
APPLICATION_ID = "tessetrack"
#: How to get the optional dependency.
INSTALL_HINT = 'the interactive viewer needs rerun-sdk: pip install "tessetrack[viewer]"'
#: RGB of ground-truth skeletons.
GROUND_TRUTH_COLOR = (150, 150, 150)

_JOINT_RADIUS = 0.025  # metres
_BONE_RADIUS = 0.012


def _import_rerun() -> ModuleType:
    """The ``rerun`` module, or a :class:`TesseTrackError` with the install command."""
    try:
        import rerun
    except ImportError:
        raise TesseTrackError(INSTALL_HINT) from None
    return rerun


# --- geometry helpers ----------------------------------------------------------------------------
def world_from_camera(camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """The camera's pose in the world: ``(R_world_from_cam (3, 3), camera centre (3,))``.

    Inverts ``x_cam = R x_world + t``: ``x_world = Rᵀ x_cam - Rᵀ t``.
    """
    R_world_from_cam = camera.R.T
    return R_world_from_cam, -R_world_from_cam @ camera.t


def _bone_strips(joints: np.ndarray, limbs: Sequence[tuple[int, int]]) -> np.ndarray:
    """(L', 2, 3) segments of the limbs whose two joints are finite; ``joints`` is (J, 3)."""
    if not limbs:
        return np.zeros((0, 2, 3))
    pairs = np.asarray(limbs, dtype=np.int64)  # L×2
    segments = joints[pairs]  # L×2×3
    return segments[np.isfinite(segments).all(axis=(1, 2))]


def _floor_grid(points_xy: np.ndarray, max_lines: int = 41) -> np.ndarray:
    """(N, 2, 3) lines of a grid on z = 0 covering ``points_xy`` (P, 2) with a margin.

    Lines every metre on integer coordinates (coarser when the extent would need more than
    ``max_lines`` lines per axis); ±2 m around the origin when there are no points.
    """
    if len(points_xy) == 0:
        points_xy = np.array([[-2.0, -2.0], [2.0, 2.0]])
    lo = np.floor(points_xy.min(axis=0) - 0.5)  # 2
    hi = np.ceil(points_xy.max(axis=0) + 0.5)  # 2
    step = max(1.0, float(np.ceil((hi - lo).max() / (max_lines - 1))))
    xs = np.arange(lo[0], hi[0] + step / 2, step)
    ys = np.arange(lo[1], hi[1] + step / 2, step)
    along_y = [[[x, ys[0], 0.0], [x, ys[-1], 0.0]] for x in xs]
    along_x = [[[xs[0], y, 0.0], [xs[-1], y, 0.0]] for y in ys]
    return np.array(along_y + along_x, dtype=np.float64)


def _scene_points_xy(tracks: Iterable[Tracks], cameras: Iterable[Camera]) -> np.ndarray:
    """(P, 2) ground-plane coordinates of every finite joint and every camera centre."""
    pts = [world_from_camera(c)[1][None, :2] for c in cameras]
    for tr in tracks:
        for frame in tr.frames:
            for person in frame.people:
                j = np.asarray(person.joints, dtype=np.float64)  # J×3
                pts.append(j[np.isfinite(j).all(axis=1), :2])
    return np.concatenate(pts) if pts else np.zeros((0, 2))


# --- logging -------------------------------------------------------------------------------------
def _log_static_scene(
    rec: Any, rr: ModuleType, cameras: Sequence[Camera], floor: np.ndarray
) -> None:
    """World axes, the floor grid ``floor`` (N, 2, 3) and every camera, all static."""
    rec.log("world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
    rec.log(
        "world/axes",
        rr.Arrows3D(
            origins=np.zeros((3, 3)),
            vectors=np.eye(3),
            colors=[(255, 0, 0), (0, 200, 0), (0, 80, 255)],
            labels=["x", "y", "z"],
        ),
        static=True,
    )
    rec.log("world/floor", rr.LineStrips3D(floor, colors=(90, 90, 90), radii=-0.5), static=True)
    for cam in cameras:
        R_world_from_cam, center = world_from_camera(cam)
        # unknown image size (0): assume the principal point is the image centre
        width = cam.width or 2.0 * cam.K[0, 2]
        height = cam.height or 2.0 * cam.K[1, 2]
        path = ["world", "cameras", cam.name]
        rec.log(path, rr.Transform3D(translation=center, mat3x3=R_world_from_cam), static=True)
        rec.log(
            path,
            rr.Pinhole(
                image_from_camera=cam.K,
                resolution=[width, height],
                camera_xyz=rr.ViewCoordinates.RDF,
            ),
            static=True,
        )


def _log_people(
    rec: Any,
    rr: ModuleType,
    root: str,
    tracks: Tracks,
    *,
    color: tuple[int, int, int] | None,
    label_prefix: str,
    fps: float | None,
) -> None:
    """Log every frame of ``tracks`` under ``root/{id}``; ``color`` None means by track ID."""
    joint_set: JointSet = tracks_joint_set(tracks)
    limbs = joint_set.limb_indices
    shown: set[int] = set()
    for frame in tracks.frames:
        rec.set_time("frame", sequence=int(frame.frame))
        if fps:
            rec.set_time("time", duration=frame.frame / fps)
        present: set[int] = set()
        for person in frame.people:
            present.add(person.id)
            _log_person(rec, rr, f"{root}/{person.id}", person, limbs,
                        color=id_color(person.id) if color is None else color,
                        label=f"{label_prefix}{person.id}")  # fmt: skip
        for gone in sorted(shown - present):
            rec.log(f"{root}/{gone}", rr.Clear(recursive=True))
        shown = present


def _log_person(
    rec: Any,
    rr: ModuleType,
    path: str,
    person: PersonPose,
    limbs: Sequence[tuple[int, int]],
    *,
    color: tuple[int, int, int],
    label: str,
) -> None:
    """One person's finite joints (J' points) and bones at the current time under ``path``."""
    joints = np.asarray(person.joints, dtype=np.float64)  # J×3
    finite = np.isfinite(joints).all(axis=1)  # J
    rec.log(
        f"{path}/joints",
        rr.Points3D(
            joints[finite],
            keypoint_ids=np.flatnonzero(finite),  # joint index in the tracks' joint order
            colors=color,
            radii=_JOINT_RADIUS,
            labels=label,  # a single label is drawn once, at the skeleton's centre
        ),
    )
    rec.log(f"{path}/bones", rr.LineStrips3D(_bone_strips(joints, limbs), colors=color,
                                             radii=_BONE_RADIUS))  # fmt: skip


def log_recording(
    recording: Any,
    tracks: Tracks,
    cameras: Mapping[str, Camera] | Sequence[Camera] | None = None,
    *,
    ground_truth: Tracks | None = None,
) -> None:
    """Log tracks, cameras and an optional ground truth into a rerun recording stream.

    Args:
        recording: a ``rerun.RecordingStream``; its sinks (file, viewer) are the caller's choice.
        tracks: people to draw, coloured by track ID (:func:`tessetrack.viz.overlay.id_color`)
            with the joint set's limbs (:func:`tessetrack.viz.render.tracks_joint_set`).
        cameras: cameras to draw as pinholes, by name or as a sequence.
        ground_truth: drawn in grey under ``world/ground_truth``, labelled ``gt {id}``.

    The layout and timelines are described in the module docstring.
    """
    rr = _import_rerun()
    cams = list(cameras.values()) if isinstance(cameras, Mapping) else list(cameras or ())
    sources = [tracks] if ground_truth is None else [tracks, ground_truth]
    _log_static_scene(recording, rr, cams, _floor_grid(_scene_points_xy(sources, cams)))
    fps = tracks.fps or (ground_truth.fps if ground_truth is not None else None)
    _log_people(recording, rr, "world/tracks", tracks, color=None, label_prefix="", fps=fps)
    if ground_truth is not None:
        _log_people(recording, rr, "world/ground_truth", ground_truth,
                    color=GROUND_TRUTH_COLOR, label_prefix="gt ", fps=fps)  # fmt: skip


# --- sinks ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ViewSession:
    """What :func:`view` started.

    Attributes:
        saved: the ``.rrd`` file written, if any.
        web_url: the web viewer's address, if one is served.
        recordings: the live rerun recording streams; a served web viewer stops receiving data
            once they are dropped, so keep this object while the viewer should stay up.
    """

    saved: Path | None = None
    web_url: str | None = None
    recordings: tuple[Any, ...] = ()


def _check_display() -> None:
    """The native viewer needs a display on Linux; fail early with what to do instead."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise TesseTrackError(
            "no display for the native rerun viewer (DISPLAY is not set): use --web, or "
            "--save FILE.rrd and open it elsewhere with `rerun FILE.rrd`"
        )


def _spawned(rec: Any, tracks: Tracks, cameras: Any, gt: Tracks | None) -> Any:
    """``rec`` streamed to a native viewer it starts, with the recording logged."""
    try:
        rec.spawn()
    except RuntimeError as exc:  # the `rerun` executable is not on PATH
        raise TesseTrackError(
            f"could not start the rerun viewer ({str(exc).splitlines()[0]}); activate the "
            "environment that has rerun-sdk, or use --save FILE.rrd"
        ) from None
    log_recording(rec, tracks, cameras, ground_truth=gt)
    rec.flush()
    return rec


def view(
    tracks: str | PathLike[str],
    calibration: str | PathLike[str] | None = None,
    *,
    ground_truth: str | PathLike[str] | None = None,
    save: str | PathLike[str] | None = None,
    spawn: bool = False,
    web: bool = False,
    web_port: int = 9090,
    grpc_port: int = 9876,
    open_browser: bool = True,
    recording_id: str | None = None,
) -> ViewSession:
    """Load a tracks file (plus cameras and ground truth) and show it in rerun.

    Args:
        tracks: tracks file (``.json``/``.npz``/``.csv``; :func:`tessetrack.io.tracks.load_tracks`).
        calibration: calibration file of any supported format
            (:func:`tessetrack.io.calibration.load_cameras`); its cameras are drawn.
        ground_truth: GT tracks file or dataset folder
            (:func:`tessetrack.eval.evaluate.load_ground_truth`), drawn in grey.
        save: write the recording to this ``.rrd`` file (headless; open it with ``rerun FILE``).
        spawn: start the native viewer and stream the recording to it.
        web: serve the web viewer on ``web_port`` and the data over gRPC on ``grpc_port``; the
            servers live as long as the returned session (and the process).
        open_browser: with ``web``, open the default browser on the viewer.
        recording_id: rerun recording id (default: a new random one); shared by all sinks.

    Returns:
        A :class:`ViewSession`; keep it alive while a web viewer should be served.

    Raises:
        TesseTrackError: rerun-sdk missing, no sink chosen, no display for the native viewer,
            the viewer executable not found; :class:`~tessetrack.errors.InputError` for missing or
            malformed input files.
    """
    rr = _import_rerun()
    if save is None and not spawn and not web:
        raise TesseTrackError("nothing to do: choose save, spawn and/or web")
    if spawn:
        _check_display()
    from tessetrack.eval.evaluate import load_ground_truth
    from tessetrack.io.calibration import load_cameras
    from tessetrack.io.tracks import load_tracks

    tr = load_tracks(tracks)
    cameras = load_cameras(calibration) if calibration is not None else None
    gt = load_ground_truth(ground_truth) if ground_truth is not None else None
    recording_id = recording_id or str(uuid.uuid4())

    def new_stream() -> Any:
        return rr.RecordingStream(APPLICATION_ID, recording_id=recording_id)

    saved = web_url = None
    live = []
    if save is not None:
        from tessetrack.io.atomic import atomic_path

        saved = Path(save)
        with atomic_path(saved) as tmp:  # moved into place once complete
            rec = new_stream()
            rec.save(tmp)
            log_recording(rec, tr, cameras, ground_truth=gt)
            rec.flush()
            rec.disconnect()  # closes the file (writes the footer)
        logger.debug("wrote %s", saved)
    if spawn:
        live.append(_spawned(new_stream(), tr, cameras, gt))
    if web:
        rec = new_stream()
        grpc_uri = rec.serve_grpc(grpc_port=grpc_port)
        rr.serve_web_viewer(web_port=web_port, open_browser=open_browser, connect_to=grpc_uri)
        log_recording(rec, tr, cameras, ground_truth=gt)
        rec.flush()
        web_url = f"http://localhost:{web_port}/?url={quote(grpc_uri, safe='')}"
        live.append(rec)
    return ViewSession(saved=saved, web_url=web_url, recordings=tuple(live))
