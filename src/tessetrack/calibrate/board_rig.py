"""Camera poses of a rig whose intrinsics are known, from a board that several cameras see at the
same moment (a synchronized recording of someone moving a board through the scene).

1. **Sightings.** The same frame indices are read from every camera (up to ``max_frames``, evenly
   spread over the common length) and the board is found in each (:meth:`Board.detect`; a
   checkerboard's corners are put in one order for all cameras, see
   :mod:`tessetrack.calibrate.boards`).
2. **Board poses.** Each sighting gives the board's pose in that camera (``cv2.solvePnP``, IPPE
   for a plane, then Levenberg-Marquardt), with the camera's intrinsics and distortion.
3. **Chain.** For every camera pair, each frame both see gives their relative pose
   ``T_j · T_i⁻¹``; the pair's estimate is the rotation mean and the median translation of those
   within 5° of the first mean. The camera with the most shared frames is the reference; the
   others are placed along the maximum spanning tree of the shared frame counts.
4. **Bundle adjustment** (scipy ``least_squares``, ``soft_l1`` loss, sparse Jacobian) of the camera
   poses (the reference held) and one board pose per frame seen by two or more cameras, over the
   reprojection of every corner in each camera's own pixels.
5. **World frame**: the board where it is seen by the most cameras (the first such frame): origin
   at corner 0, x from corner 0 along its row of corners, z out of the printed face (towards the
   cameras that see it), y completing a right-handed frame. Lay the board on the floor in that
   frame for z up and the floor at z = 0. Metres come from the board's square size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from os import PathLike

import cv2
import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import csr_matrix
from scipy.spatial.transform import Rotation

from tessetrack.calibrate.boards import Board, BoardDetection
from tessetrack.calibrate.views import sample_indices
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.io.video import open_frames

__all__ = ["BoardRigConfig", "BoardCameraFit", "BoardRigResult", "board_sightings",
           "calibrate_from_board"]  # fmt: skip

PathT = str | PathLike[str]

#: ``progress(camera, frames_done, frames_total)``.
ProgressFn = Callable[[str, int, int], None]

#: camera name -> frame index -> the board seen in that frame.
Sightings = Mapping[str, Mapping[int, BoardDetection]]


@dataclass(frozen=True)
class BoardRigConfig:
    """Settings of the board-based camera poses.

    Attributes:
        max_frames: frames read per camera at most (the same indices in every camera).
        min_shared: frames a camera must share with the camera it is placed from.
        loss, f_scale: robust loss of the bundle adjustment and its scale in pixels.
        max_rms_px: a camera whose corners miss the adjusted boards by more (RMS) stops the
            calibration: the cameras' frames are not simultaneous, or the intrinsics are wrong.
    """

    max_frames: int = 200
    min_shared: int = 1
    max_rms_px: float = 10.0
    loss: str = "soft_l1"
    f_scale: float = 1.0


@dataclass(frozen=True)
class BoardCameraFit:
    """How well one camera's board corners fit the calibrated rig.

    Attributes:
        views: frames where the camera saw the board.
        shared: of those, the frames another camera saw it in too (the ones that place it).
        rms_px: root mean square reprojection error of its corners in the shared frames.
    """

    views: int
    shared: int
    rms_px: float


@dataclass(frozen=True)
class BoardRigResult:
    """Calibrated cameras (metres, the board's frame) and their fit.

    Attributes:
        cameras: ``{name: Camera}`` with the given intrinsics and the estimated poses.
        fits: ``{name: BoardCameraFit}``.
        frames: frames seen by two or more cameras (those adjusted).
        origin_frame: the frame whose board pose is the world frame.
    """

    cameras: dict[str, Camera]
    fits: dict[str, BoardCameraFit]
    frames: int
    origin_frame: int


def board_sightings(
    sources: Mapping[str, PathT],
    board: Board,
    max_frames: int = 200,
    progress: ProgressFn | None = None,
) -> dict[str, dict[int, BoardDetection]]:
    """Find the board in the same frames of every camera's video or image folder.

    Raises:
        InputError: an unreadable source, or a board whose corner order cannot be made the same
            in every camera (a checkerboard with R + C even).
    """
    if not board.oriented:
        raise InputError(
            f"the {board.describe()} looks the same turned half round (rows + columns even), so "
            "two cameras may number its corners differently; use a checkerboard with rows + "
            "columns odd (e.g. 4x7) or a ChArUco board for camera poses"
        )
    readers = {name: open_frames(source) for name, source in sources.items()}
    indices = sample_indices(min(len(r) for r in readers.values()), max_frames)
    out: dict[str, dict[int, BoardDetection]] = {}
    for name, reader in readers.items():
        out[name] = {}
        for done, index in enumerate(indices, start=1):
            gray = cv2.cvtColor(reader.read(int(index)), cv2.COLOR_RGB2GRAY)
            detection = board.detect(gray)
            if detection is not None and len(detection.ids) >= 4:
                out[name][int(index)] = detection
            if progress is not None:
                progress(name, done, len(indices))
    return out


# --- poses as 4x4 transforms --------------------------------------------------------------------
def _matrix(rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = Rotation.from_rotvec(np.ravel(rvec)).as_matrix(), np.ravel(tvec)
    return T


def _vector(T: np.ndarray) -> np.ndarray:
    """(6,) rotation vector and translation of a 4×4 transform."""
    return np.concatenate([Rotation.from_matrix(T[:3, :3]).as_rotvec(), T[:3, 3]])


def _board_pose(board: Board, view: BoardDetection, camera: Camera) -> np.ndarray:
    """4×4 board-to-camera transform of one sighting (IPPE, refined by Levenberg-Marquardt)."""
    obj, img = board.object_points()[view.ids], view.corners
    found, rvec, tvec = cv2.solvePnP(obj, img, camera.K, camera.dist, flags=cv2.SOLVEPNP_IPPE)
    if not found:
        found, rvec, tvec = cv2.solvePnP(obj, img, camera.K, camera.dist)
    rvec, tvec = cv2.solvePnPRefineLM(obj, img, camera.K, camera.dist, rvec, tvec)
    return _matrix(rvec, tvec)


def _relative_pose(a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
    """Camera i to camera j from the board poses (4×4) both saw in the same frames: the rotation
    mean and median translation of the per-frame estimates within 5° of the first mean."""
    rel = np.stack([Tb @ np.linalg.inv(Ta) for Ta, Tb in zip(a, b, strict=True)])  # M×4×4
    rotations = Rotation.from_matrix(rel[:, :3, :3])
    mean = rotations.mean()
    close = (rotations * mean.inv()).magnitude() < np.radians(5.0)
    if close.any():
        rotations, rel = rotations[close], rel[close]
    T = np.eye(4)
    T[:3, :3] = rotations.mean().as_matrix()
    T[:3, 3] = np.median(rel[:, :3, 3], axis=0)
    return T


def _chain(
    poses: dict[str, dict[int, np.ndarray]], names: list[str], min_shared: int
) -> tuple[int, dict[str, np.ndarray]]:
    """The reference camera and every camera's 4×4 pose relative to it (maximum spanning tree of
    the shared frame counts). Raises InputError naming the cameras that cannot be placed."""
    shared = np.array([[len(poses[a].keys() & poses[b].keys()) if a != b else 0 for b in names]
                       for a in names])  # fmt: skip
    ref = int(np.argmax(shared.sum(1)))
    placed = {names[ref]: np.eye(4)}
    while len(placed) < len(names):
        done = np.array([n in placed for n in names])
        links = np.where(done[:, None] & ~done[None, :], shared, 0)  # placed -> not placed
        i, j = np.unravel_index(int(np.argmax(links)), links.shape)
        if links[i, j] < max(min_shared, 1):
            lost = [n for n in names if n not in placed]
            raise InputError(
                f"camera{'s' if len(lost) > 1 else ''} {', '.join(lost)} never see the board in "
                f"the same frame as the other cameras (at least {max(min_shared, 1)} needed)"
            )
        frames = sorted(poses[names[i]].keys() & poses[names[j]].keys())
        rel = _relative_pose([poses[names[i]][f] for f in frames],
                             [poses[names[j]][f] for f in frames])  # fmt: skip
        placed[names[j]] = rel @ placed[names[i]]
    return ref, placed


@dataclass(frozen=True)
class _Corners:
    """Every corner observation of the frames seen by two or more cameras."""

    cam: np.ndarray  # K camera index
    board: np.ndarray  # K board-frame index
    obj: np.ndarray  # K×3 board coordinates
    xy: np.ndarray  # K×2 undistorted normalized image coordinates
    focal: np.ndarray  # K focal length (pixels) of the observing camera


def _corners(
    sightings: Sightings, names: list[str], frames: list[int], board: Board,
    intrinsics: Mapping[str, Camera],
) -> _Corners:  # fmt: skip
    parts: list[tuple[int, int, np.ndarray, np.ndarray, float]] = []
    for v, name in enumerate(names):
        cam = intrinsics[name]
        for b, frame in enumerate(frames):
            view = sightings[name].get(frame)
            if view is not None:
                xy = cv2.undistortPoints(view.corners.reshape(-1, 1, 2), cam.K, cam.dist)
                parts.append((v, b, board.object_points()[view.ids], xy.reshape(-1, 2),
                              float(np.sqrt(cam.K[0, 0] * cam.K[1, 1]))))  # fmt: skip
    n = [len(p[2]) for p in parts]
    return _Corners(np.repeat([p[0] for p in parts], n), np.repeat([p[1] for p in parts], n),
                    np.concatenate([p[2] for p in parts]), np.concatenate([p[3] for p in parts]),
                    np.repeat([p[4] for p in parts], n))  # fmt: skip


def _adjust(
    cams: np.ndarray, boards: np.ndarray, c: _Corners, ref: int, config: BoardRigConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bundle adjustment of camera poses (V, 6), the reference held, and board poses (B, 6) ->
    (cameras, boards, per-corner residuals (K, 2) in the observing camera's pixels)."""
    V, B, K = len(cams), len(boards), len(c.cam)
    held = cams[ref].copy()

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cam = x[: 6 * V].reshape(V, 6).copy()
        cam[ref] = held
        return cam, x[6 * V :].reshape(B, 6)

    def residuals(x: np.ndarray) -> np.ndarray:
        cam, brd = unpack(x)
        world = Rotation.from_rotvec(brd[c.board, :3]).apply(c.obj) + brd[c.board, 3:]
        local = Rotation.from_rotvec(cam[c.cam, :3]).apply(world) + cam[c.cam, 3:]  # K×3
        return (c.focal[:, None] * (local[:, :2] / local[:, 2:3] - c.xy)).ravel()

    cols = np.hstack(
        [6 * c.cam[:, None] + np.arange(6), 6 * V + 6 * c.board[:, None] + np.arange(6)]
    )
    cols = np.repeat(cols, 2, axis=0)  # 2K×12
    keep = np.repeat(c.cam != ref, 2)[:, None] | (np.arange(12) >= 6)
    rows = np.broadcast_to(np.arange(2 * K)[:, None], cols.shape)
    pattern = csr_matrix((np.ones(int(keep.sum()), dtype=np.int8), (rows[keep], cols[keep])),
                         shape=(2 * K, 6 * (V + B)))  # fmt: skip
    result = least_squares(residuals, np.concatenate([cams.ravel(), boards.ravel()]),
                           jac_sparsity=pattern, loss=config.loss, f_scale=config.f_scale,
                           x_scale="jac", method="trf", max_nfev=200)  # fmt: skip
    cam, brd = unpack(result.x)
    return cam, brd, residuals(result.x).reshape(K, 2)


def _world_cameras(
    names: list[str], cams: np.ndarray, origin: np.ndarray, intrinsics: Mapping[str, Camera]
) -> dict[str, Camera]:
    """Cameras in the frame of the board pose ``origin`` (6,), z turned towards the cameras."""
    flip = np.diag([1.0, -1.0, -1.0, 1.0])  # board z points away from the cameras that see it
    to_rig = _matrix(origin[:3], origin[3:]) @ flip  # world -> reference camera
    out = {}
    for v, name in enumerate(names):
        T = _matrix(cams[v, :3], cams[v, 3:]) @ to_rig  # world -> camera v
        c = intrinsics[name]
        out[name] = Camera(name, c.K, T[:3, :3], T[:3, 3], c.dist, c.width, c.height)
    return out


def calibrate_from_board(
    sightings: Sightings,
    intrinsics: Mapping[str, Camera],
    board: Board,
    config: BoardRigConfig = BoardRigConfig(),
) -> BoardRigResult:
    """Camera poses from the board seen by several cameras at once (module docstring, 2-5).

    Args:
        sightings: ``camera -> frame -> BoardDetection`` (:func:`board_sightings`); the same
            frame index is the same moment in every camera.
        intrinsics: ``{name: Camera}`` whose ``K``, ``dist`` and size are used (poses ignored).
        board: the board (its square size gives the metres).
        config: the robust loss and how many shared frames place a camera.

    Raises:
        InputError: a camera that never sees the board, or never at the same time as the others
            (named); corners that the adjusted rig misses by more than ``config.max_rms_px``.
    """
    names = list(intrinsics)
    if len(names) < 2:
        raise InputError("camera poses from a board need at least two cameras")
    blind = [n for n in names if not sightings.get(n)]
    if blind:
        raise InputError(f"camera{'s' if len(blind) > 1 else ''} {', '.join(blind)}: the "
                         f"{board.describe()} is never seen; check --board")  # fmt: skip
    poses = {n: {f: _board_pose(board, d, intrinsics[n]) for f, d in sightings[n].items()}
             for n in names}  # fmt: skip
    ref, placed = _chain(poses, names, config.min_shared)
    counts = {f: sum(f in poses[n] for n in names) for n in names for f in poses[n]}
    frames = sorted(f for f, k in counts.items() if k >= 2)
    boards = []  # each frame's board in the reference camera, from the first camera that saw it
    for f in frames:
        n = next(n for n in names if f in poses[n])
        boards.append(_vector(np.linalg.inv(placed[n]) @ poses[n][f]))
    cams = np.stack([_vector(placed[n]) for n in names])
    corners = _corners(sightings, names, frames, board, intrinsics)
    cams, boards_, res = _adjust(cams, np.stack(boards), corners, ref, config)
    origin = frames.index(max(frames, key=lambda f: (counts[f], -f)))
    fits = {}
    for v, n in enumerate(names):
        r = res[corners.cam == v]
        fits[n] = BoardCameraFit(len(sightings[n]), int(np.isin(frames, list(poses[n])).sum()),
                                 float(np.sqrt(np.mean(np.sum(r**2, axis=1)))))  # fmt: skip
    bad = {n: f.rms_px for n, f in fits.items() if not f.rms_px <= config.max_rms_px}
    if bad:
        rms = ", ".join(f"{n} {v:.0f} px" for n, v in bad.items())
        raise InputError(
            f"the board's corners do not agree between the cameras (RMS {rms}; at most "
            f"{config.max_rms_px:g} px expected): are the recordings synchronized (frame k of "
            "every camera the same moment) and the intrinsics right?"
        )
    cameras = _world_cameras(names, cams, boards_[origin], intrinsics)
    return BoardRigResult(cameras, fits, len(frames), frames[origin])
