"""Render synthetic people seen by calibrated cameras with pybullet's CPU renderer (TinyRenderer).

Each person is a set of coloured capsules (one per body part, :data:`BODY_PARTS`) and a head
sphere, posed from its Panoptic-19 joints. The scene has a textured floor, four coloured walls and
random lighting. Images are rendered with OUR cameras: the OpenGL matrices are derived from
``K, R, t`` here (:func:`view_matrix`, :func:`projection_matrix_gl`) so that a world point lands on
the pixel :meth:`tessetrack.geometry.camera.Camera.project` gives (pixel centres at integers,
OpenCV convention). Lens distortion is not rendered: rig cameras have ``dist = 0``.

The renderer also returns a per-pixel person index (segmentation; −1 for background).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.skeletons import PANOPTIC19

__all__ = [
    "BODY_PARTS",
    "HEAD_RADIUS",
    "Appearance",
    "SceneStyle",
    "sample_appearance",
    "sample_style",
    "FLOOR_PATTERNS",
    "floor_texture",
    "view_matrix",
    "projection_matrix_gl",
    "head_center",
    "PeopleRenderer",
]

logger = logging.getLogger(__name__)

_J = PANOPTIC19.index

#: Capsules: (name, joint a, joint b, radius in metres for a scale-1 person, colour group).
#: Colour groups: 0 = top (shirt), 1 = bottom (trousers), 2 = skin.
BODY_PARTS: tuple[tuple[str, int, int, float, int], ...] = (
    ("torso", _J("mid_hip"), _J("neck"), 0.13, 0),
    ("shoulders", _J("l_shoulder"), _J("r_shoulder"), 0.07, 0),
    ("pelvis", _J("l_hip"), _J("r_hip"), 0.10, 1),
    ("l_upper_arm", _J("l_shoulder"), _J("l_elbow"), 0.055, 0),
    ("r_upper_arm", _J("r_shoulder"), _J("r_elbow"), 0.055, 0),
    ("l_forearm", _J("l_elbow"), _J("l_wrist"), 0.045, 2),
    ("r_forearm", _J("r_elbow"), _J("r_wrist"), 0.045, 2),
    ("l_thigh", _J("l_hip"), _J("l_knee"), 0.075, 1),
    ("r_thigh", _J("r_hip"), _J("r_knee"), 0.075, 1),
    ("l_shin", _J("l_knee"), _J("l_ankle"), 0.06, 1),
    ("r_shin", _J("r_knee"), _J("r_ankle"), 0.06, 1),
)
#: Head sphere radius (m): it contains the face joints (≤ 0.09 m from its centre, see
#: :func:`head_center`).
HEAD_RADIUS = 0.11
_NEAR, _FAR = 0.05, 100.0
_PARKED = np.array([1e4, 1e4, -1e4])  # where absent people wait (beyond the far plane)


def head_center(joints: np.ndarray) -> np.ndarray:
    """Head sphere centre: halfway between the ears' midpoint and the nose. (..., 19, 3) -> (..., 3).

    With :data:`tessetrack.synth.motion.FACE_OFFSETS` the nose is 0.049 m, the eyes 0.058 m and
    the ears 0.089 m from it, all inside the :data:`HEAD_RADIUS` sphere; with the ``measured``
    face (:data:`~tessetrack.synth.motion.MEASURED_FACE_OFFSETS`) the nose is 0.072 m, the eyes
    0.083 m and the ears 0.115 m from it (on the sphere's surface, 5 mm out).
    """
    ears = 0.5 * (joints[..., _J("l_ear"), :] + joints[..., _J("r_ear"), :])
    return 0.5 * (ears + joints[..., _J("nose"), :])


@dataclass(frozen=True)
class Appearance:
    """One person's look: RGBA per body part (+ head, last) and a thickness scale."""

    part_colors: tuple[tuple[float, float, float, float], ...]
    thickness: float = 1.0


@dataclass(frozen=True)
class SceneStyle:
    """Floor, walls and light of a scene.

    Attributes:
        floor_colors: two RGB colours (0–255) of the floor's pattern.
        tile_size: size (m) of one pattern cell (a checkerboard tile, a stripe, a plank...).
        wall_colors: four RGBA colours.
        light_direction: (3,) world direction towards the light.
        ambient, diffuse, specular: TinyRenderer light coefficients.
        shadow: whether shadows are rendered (slower).
        floor_pattern: one of :data:`FLOOR_PATTERNS` (see :func:`floor_texture`).
    """

    floor_colors: tuple[tuple[int, int, int], tuple[int, int, int]]
    tile_size: float
    wall_colors: tuple[tuple[float, float, float, float], ...]
    light_direction: tuple[float, float, float]
    ambient: float
    diffuse: float
    specular: float
    shadow: bool = False
    floor_pattern: str = "checker"


#: Floor patterns of :func:`floor_texture`. ``checker`` is the default; ``sample_style(varied=True)``
#: draws any of them, so that a 2D keypoint network does not learn one floor's edges as "no joint".
FLOOR_PATTERNS = ("checker", "plain", "stripes", "tiles", "planks", "blotches")


def floor_texture(style: SceneStyle, tiles: int, rng: np.random.Generator) -> np.ndarray:
    """The floor's texture image: ``tiles`` × ``tiles`` cells of 8 texture pixels, plus noise.

    Patterns (``style.floor_pattern``, colours ``a, b = style.floor_colors``):
    ``checker`` alternates a and b; ``plain`` is a; ``stripes`` alternates a and b by row;
    ``tiles`` is a with thin b grout lines; ``planks`` is rows of a with a per-plank brightness and
    b seams at random offsets; ``blotches`` blends a and b with a smooth random field.
    Every pattern gets pixel noise (σ = 6 grey levels).

    Returns:
        (8·tiles, 8·tiles, 3) uint8 RGB.
    """
    if style.floor_pattern not in FLOOR_PATTERNS:
        raise InputError(
            f"unknown floor pattern {style.floor_pattern!r}; choose one of {FLOOR_PATTERNS}"
        )
    if tiles < 1:
        raise InputError(f"a floor needs at least one tile, got {tiles}")
    px = 8
    n = tiles * px
    a = np.asarray(style.floor_colors[0], np.float64)
    b = np.asarray(style.floor_colors[1], np.float64)
    pattern = style.floor_pattern
    if pattern == "checker":
        # kept bit-for-bit as before the other patterns existed, so old seeds render the same
        board = (np.add.outer(np.arange(tiles), np.arange(tiles)) % 2).astype(bool)
        img = np.where(board[..., None], a, b)
        img = np.repeat(np.repeat(img, px, 0), px, 1).astype(np.float64)
    elif pattern == "plain":
        img = np.broadcast_to(a, (n, n, 3)).astype(np.float64)
    elif pattern == "stripes":
        rows = (np.arange(n) // px) % 2 == 0
        img = np.where(rows[:, None, None], a, b) * np.ones((1, n, 1))
    elif pattern == "tiles":
        line = (np.arange(n) % px) == 0
        grout = line[:, None] | line[None, :]
        img = np.where(grout[..., None], b, a)
    elif pattern == "planks":
        plank = np.arange(n) // px  # one plank per row of cells
        shade = rng.uniform(0.8, 1.2, tiles)[plank]  # (n,) brightness per plank
        img = a[None, None, :] * shade[:, None, None] * np.ones((1, n, 1))
        offsets = rng.integers(0, 4 * px, tiles)[plank]  # seams every 4 cells, staggered
        seam = ((np.arange(n)[None, :] + offsets[:, None]) % (4 * px)) == 0
        seam |= (np.arange(n) % px == 0)[:, None]
        img = np.where(seam[..., None], b, img)
    else:  # blotches
        import cv2

        coarse = rng.random((max(2, tiles // 2), max(2, tiles // 2)))
        field = cv2.resize(coarse, (n, n), interpolation=cv2.INTER_CUBIC).clip(0.0, 1.0)
        img = a + field[..., None] * (b - a)
    img = img + rng.normal(0.0, 6.0, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def sample_appearance(rng: np.random.Generator) -> Appearance:
    """A random person look: shirt, trousers and skin colours with small per-part variation."""
    top = rng.uniform(0.05, 1.0, 3)
    bottom = rng.uniform(0.05, 0.8, 3)
    skin = np.array([0.95, 0.75, 0.6]) * rng.uniform(0.45, 1.0)
    groups = (top, bottom, skin)
    colors = []
    for _, _, _, _, g in BODY_PARTS:
        c = np.clip(groups[g] + rng.normal(0.0, 0.04, 3), 0.0, 1.0)
        colors.append((*map(float, c), 1.0))
    colors.append((*map(float, skin), 1.0))  # head
    return Appearance(tuple(colors), float(rng.uniform(0.9, 1.15)))


def sample_style(
    rng: np.random.Generator, *, shadow_prob: float = 0.0, varied: bool = False
) -> SceneStyle:
    """A random floor/walls/light setting.

    Args:
        rng: the generator.
        shadow_prob: probability of rendering shadows.
        varied: also draw the floor pattern from :data:`FLOOR_PATTERNS` (otherwise a
            checkerboard). Its draws come after all others, so the remaining fields of a seed are
            the same either way.
    """
    a = rng.integers(0, 256, 3)
    b = np.clip(a + rng.integers(-80, 81, 3), 0, 255)
    walls = tuple((*map(float, rng.uniform(0.2, 1.0, 3)), 1.0) for _ in range(4))
    d = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(0.8, 2.0)])
    style = SceneStyle(
        floor_colors=(tuple(int(x) for x in a), tuple(int(x) for x in b)),
        tile_size=float(rng.uniform(0.4, 1.5)),
        wall_colors=walls,
        light_direction=tuple(float(x) for x in d / np.linalg.norm(d)),
        ambient=float(rng.uniform(0.35, 0.7)),
        diffuse=float(rng.uniform(0.3, 0.7)),
        specular=float(rng.uniform(0.0, 0.3)),
        shadow=bool(rng.random() < shadow_prob),
    )
    if not varied:
        return style
    return replace(style, floor_pattern=str(rng.choice(FLOOR_PATTERNS)))


# -- our camera -> OpenGL matrices ------------------------------------------------------------------


def view_matrix(camera: Camera) -> np.ndarray:
    """(4, 4) world -> OpenGL eye coordinates (x right, y up, looking down −z).

    OpenCV's camera frame has y down and z forward, so the eye frame is ``diag(1, −1, −1) [R | t]``.
    """
    M = np.eye(4)
    M[:3, :3] = camera.R
    M[:3, 3] = camera.t
    return np.diag([1.0, -1.0, -1.0, 1.0]) @ M


def projection_matrix_gl(camera: Camera, near: float = _NEAR, far: float = _FAR) -> np.ndarray:
    """(4, 4) OpenGL projection reproducing ``K`` on a ``width × height`` TinyRenderer image.

    Eye coordinates of a camera-frame point ``(X, Y, Z)`` are ``(X, −Y, −Z)`` and ``w_clip = Z``.
    TinyRenderer fills pixel column ``i`` when the screen coordinate ``x_s = (x_ndc + 1) W / 2``
    covers ``i`` (samples at integer ``x_s``), and row ``r`` from ``y_s = (y_ndc + 1) H / 2 =
    H − 1 − r`` (it flips the image). Asking that OpenCV's pixel ``u = fx X/Z + s Y/Z + cx`` be
    column ``u`` and ``v = fy Y/Z + cy`` be row ``v`` gives ``x_ndc = 2u/W − 1`` and
    ``y_ndc = 1 − 2 (v + 1)/H``, i.e. the rows acting on ``(Xe, Ye, Ze, 1)``:

    * row 0: ``(2 fx/W, −2 s/W, 1 − 2 cx/W, 0)``
    * row 1: ``(0, 2 fy/H, 2 (cy + 1)/H − 1, 0)``
    * row 2: the usual depth row ``(0, 0, −(f + n)/(f − n), −2 f n/(f − n))``
    * row 3: ``(0, 0, −1, 0)``

    (The sampling offsets were measured: with pixel-centre offsets of 0.5 instead, rendered
    sphere centroids land 0.5 px right of and 0.5 px above ``Camera.project``.)
    """
    W, H = camera.width, camera.height
    if W <= 0 or H <= 0:
        raise InputError(f"camera {camera.name!r} has no image size; cannot render it")
    K = camera.K
    fx, fy, s, cx, cy = K[0, 0], K[1, 1], K[0, 1], K[0, 2], K[1, 2]
    P = np.zeros((4, 4))
    P[0] = [2 * fx / W, -2 * s / W, 1 - 2 * cx / W, 0.0]
    P[1] = [0.0, 2 * fy / H, 2 * (cy + 1.0) / H - 1, 0.0]
    P[2] = [0.0, 0.0, -(far + near) / (far - near), -2 * far * near / (far - near)]
    P[3] = [0.0, 0.0, -1.0, 0.0]
    return P


def _gl(M: np.ndarray) -> list[float]:
    """Column-major list of a 4×4 matrix, as OpenGL (and pybullet) expect."""
    return [float(x) for x in M.T.reshape(-1)]


def _quat_z_to(d: np.ndarray) -> np.ndarray:
    """Quaternions (x y z w, pybullet order) turning +z onto unit directions d: (N, 3) -> (N, 4)."""
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(z, d)  # N×3
    w = 1.0 + d[:, 2]
    q = np.concatenate([axis, w[:, None]], axis=1)  # N×4
    flip = w < 1e-8  # d = −z: half turn about x
    q[flip] = [1.0, 0.0, 0.0, 0.0]
    return q / np.linalg.norm(q, axis=1, keepdims=True)


class PeopleRenderer:
    """A pybullet DIRECT session holding P people, a floor and walls; renders any camera.

    Use as a context manager (or call :meth:`close`): each instance owns its own physics client,
    so several renderers can coexist.

    Args:
        joints_floor_ref: (P, 19, 3) one reference pose per person (floor frame), used for the
            capsule lengths (bone lengths are constant in FK; the torso's is the median).
        appearances: P looks.
        style: floor/walls/light.
        R_world_from_floor, t_world_from_floor: where the floor frame lies in the world.
        floor_half_size: half extent of the floor and distance of the walls from ``floor_center``.
        floor_center: (2,) floor-frame xy of the floor's centre.
        rng: generator for the floor texture's jitter.
    """

    def __init__(
        self,
        joints_floor_ref: np.ndarray,
        appearances: list[Appearance],
        style: SceneStyle,
        *,
        R_world_from_floor: np.ndarray,
        t_world_from_floor: np.ndarray,
        floor_half_size: float,
        floor_center: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        import pybullet as p

        self._p = p
        self._client = p.connect(p.DIRECT)
        self._tmp = tempfile.TemporaryDirectory(prefix="tessetrack_synth_")
        self._R = np.asarray(R_world_from_floor, float)
        self._t = np.asarray(t_world_from_floor, float)
        self.style = style
        try:
            self._build_room(style, float(floor_half_size), np.asarray(floor_center, float), rng)
            self._build_people(np.asarray(joints_floor_ref, float), appearances)
        except Exception:
            self.close()
            raise

    # -- construction -------------------------------------------------------------------------
    def _world_quat(self, R_floor: np.ndarray) -> list[float]:
        """x y z w quaternion of a rotation given in the floor frame, expressed in the world."""
        from scipy.spatial.transform import Rotation

        return list(Rotation.from_matrix(self._R @ R_floor).as_quat())

    def _build_room(
        self, style: SceneStyle, half: float, center: np.ndarray, rng: np.random.Generator
    ) -> None:
        import cv2

        p, cid = self._p, self._client
        # floor texture: one block of texture pixels per pattern cell, with a little noise
        tiles = max(2, int(round(2 * half / style.tile_size)))
        tex_path = Path(self._tmp.name) / "floor.png"
        cv2.imwrite(str(tex_path), floor_texture(style, tiles, rng)[..., ::-1])
        texture = p.loadTexture(str(tex_path), physicsClientId=cid)
        thick = 0.01
        floor_vs = p.createVisualShape(
            p.GEOM_BOX, halfExtents=[half, half, thick], physicsClientId=cid
        )
        pos = self._R @ np.array([center[0], center[1], -thick]) + self._t
        self._floor = p.createMultiBody(
            baseMass=0,
            baseVisualShapeIndex=floor_vs,
            basePosition=list(pos),
            baseOrientation=self._world_quat(np.eye(3)),
            physicsClientId=cid,
        )
        p.changeVisualShape(self._floor, -1, textureUniqueId=texture, physicsClientId=cid)
        wall_h = 4.0
        for k, color in enumerate(style.wall_colors):
            a = k * np.pi / 2
            R_floor = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
            vs = p.createVisualShape(
                p.GEOM_BOX,
                halfExtents=[thick, half, wall_h / 2],
                rgbaColor=list(color),
                physicsClientId=cid,
            )
            c = np.array([center[0], center[1], wall_h / 2]) + R_floor @ np.array([half, 0, 0])
            p.createMultiBody(
                baseMass=0,
                baseVisualShapeIndex=vs,
                basePosition=list(self._R @ c + self._t),
                baseOrientation=self._world_quat(R_floor),
                physicsClientId=cid,
            )

    def _build_people(self, ref: np.ndarray, appearances: list[Appearance]) -> None:
        p, cid = self._p, self._client
        if ref.ndim != 3 or ref.shape[1:] != (PANOPTIC19.num_joints, 3):
            raise InputError(f"reference poses must be (P, 19, 3), got {ref.shape}")
        if len(appearances) != ref.shape[0]:
            raise InputError(f"{len(appearances)} appearances for {ref.shape[0]} people")
        self.num_people = ref.shape[0]
        self._bodies: list[list[int]] = []
        uid_to_person: dict[int, int] = {}
        for i in range(self.num_people):
            look = appearances[i]
            bodies = []
            for k, (_, a, b, radius, _) in enumerate(BODY_PARTS):
                length = float(np.linalg.norm(ref[i, b] - ref[i, a]))
                vs = p.createVisualShape(
                    p.GEOM_CAPSULE,
                    radius=radius * look.thickness,
                    length=max(length, 1e-3),
                    rgbaColor=list(look.part_colors[k]),
                    physicsClientId=cid,
                )
                bodies.append(
                    p.createMultiBody(
                        baseMass=0,
                        baseVisualShapeIndex=vs,
                        basePosition=list(_PARKED),
                        physicsClientId=cid,
                    )
                )
            vs = p.createVisualShape(
                p.GEOM_SPHERE,
                radius=HEAD_RADIUS,
                rgbaColor=list(look.part_colors[-1]),
                physicsClientId=cid,
            )
            bodies.append(
                p.createMultiBody(
                    baseMass=0,
                    baseVisualShapeIndex=vs,
                    basePosition=list(_PARKED),
                    physicsClientId=cid,
                )
            )
            self._bodies.append(bodies)
            for uid in bodies:
                uid_to_person[uid] = i
        size = max(uid_to_person, default=0) + 2
        self._uid_lut = np.full(size, -1, dtype=np.int16)
        for uid, person in uid_to_person.items():
            self._uid_lut[uid] = person

    # -- per frame ----------------------------------------------------------------------------
    def set_poses(self, joints_world: np.ndarray, present: np.ndarray) -> None:
        """Pose every person. joints_world: (P, 19, 3) world metres; present: (P,) bool."""
        p, cid = self._p, self._client
        if joints_world.shape != (self.num_people, PANOPTIC19.num_joints, 3):
            raise InputError(
                f"expected poses of shape ({self.num_people}, 19, 3), got {joints_world.shape}"
            )
        a_idx = [a for _, a, _, _, _ in BODY_PARTS]
        b_idx = [b for _, _, b, _, _ in BODY_PARTS]
        for i in range(self.num_people):
            bodies = self._bodies[i]
            if not present[i] or not np.all(np.isfinite(joints_world[i])):
                for uid in bodies:
                    p.resetBasePositionAndOrientation(
                        uid, list(_PARKED), [0, 0, 0, 1], physicsClientId=cid
                    )
                continue
            a, b = joints_world[i, a_idx], joints_world[i, b_idx]  # parts×3
            d = b - a
            d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
            quats = _quat_z_to(d)
            mids = 0.5 * (a + b)
            for k in range(len(BODY_PARTS)):
                p.resetBasePositionAndOrientation(
                    bodies[k], list(mids[k]), list(quats[k]), physicsClientId=cid
                )
            p.resetBasePositionAndOrientation(
                bodies[-1], list(head_center(joints_world[i])), [0, 0, 0, 1], physicsClientId=cid
            )

    def render(self, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
        """Render the current poses.

        Returns:
            rgb (H, W, 3) uint8 and person index (H, W) int16 (−1 for floor, walls, background).
        """
        p, st = self._p, self.style
        W, H = camera.width, camera.height
        _, _, rgba, _, seg = p.getCameraImage(
            W,
            H,
            viewMatrix=_gl(view_matrix(camera)),
            projectionMatrix=_gl(projection_matrix_gl(camera)),
            lightDirection=list(self._R @ np.asarray(st.light_direction)),
            lightColor=[1.0, 1.0, 1.0],
            lightDistance=20.0,
            shadow=int(st.shadow),
            lightAmbientCoeff=st.ambient,
            lightDiffuseCoeff=st.diffuse,
            lightSpecularCoeff=st.specular,
            renderer=p.ER_TINY_RENDERER,
            physicsClientId=self._client,
        )
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(H, W, 4)[..., :3].copy()
        seg = np.asarray(seg, dtype=np.int64).reshape(H, W)
        ids = np.full((H, W), -1, dtype=np.int16)
        ok = (seg >= 0) & (seg < self._uid_lut.size)
        ids[ok] = self._uid_lut[seg[ok]]
        return rgb, ids

    def close(self) -> None:
        """Disconnect the physics client and delete the texture folder."""
        if getattr(self, "_client", None) is not None:
            try:
                self._p.disconnect(physicsClientId=self._client)
            except Exception:  # already disconnected
                pass
            self._client = None
        if getattr(self, "_tmp", None) is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> PeopleRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
