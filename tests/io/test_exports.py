"""C3D and BVH exports, read back independently: c3d.Reader, and a small BVH parser + forward
kinematics written here (not the library's)."""

from __future__ import annotations

import re
from pathlib import Path

import c3d
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from tessetrack.errors import InputError
from tessetrack.eval.evaluate import load_ground_truth
from tessetrack.io.exports import (
    BVH_PARENTS,
    PANOPTIC19,
    _rest_direction,
    export_bvh,
    export_c3d,
    export_tracks,
    fit_bvh_motion,
    track_joints,
)
from tessetrack.structures import FramePoses, PersonPose, Tracks
from tessetrack.synth.generate import SynthConfig, generate_dataset

NAMES = ("a", "b")


def _small_tracks(frames: tuple[int, ...] = (0, 1, 2)) -> Tracks:
    """id 4 everywhere (joint b unknown at the 2nd frame), id 9 only at the 2nd frame."""
    out = []
    for k, f in enumerate(frames):
        people = [PersonPose(4, np.array([[1.0, 2.0, 3.0 + k], [0.5, -0.25, 0.125 * k]]))]
        if k == 1:
            people[0].joints[1] = np.nan
            people.append(PersonPose(9, np.array([[-1.0, 0.0, 1.5], [0.0, 0.001, 2.0]])))
        out.append(FramePoses(f, tuple(people)))
    return Tracks(joint_names=NAMES, frames=tuple(out), fps=25.0)


def _read_c3d(path: Path) -> tuple[float, list[str], np.ndarray, int]:
    with path.open("rb") as handle:
        reader = c3d.Reader(handle)
        labels = [s.strip() for s in reader.point_labels]
        points = np.stack([p.copy() for _, p, _ in reader.read_frames()])  # F×N×5
        return float(reader.point_rate), labels, points, reader.first_frame


@pytest.mark.filterwarnings("ignore:No analog data")
def test_c3d_round_trip_in_millimetres_with_gaps(tmp_path: Path):
    path = export_c3d(_small_tracks(), tmp_path / "t.c3d")
    rate, labels, points, first = _read_c3d(path)
    assert rate == 25.0 and first == 1
    assert labels == ["4_a", "4_b", "9_a", "9_b"]
    assert points.shape == (3, 4, 5)
    # id 4 joint a at frame 2: (1, 2, 3 + 2) m = (1000, 2000, 5000) mm
    np.testing.assert_allclose(points[2, 0, :3], [1000.0, 2000.0, 5000.0])
    # id 4 joint b at frame 2: (0.5, -0.25, 0.25) m = (500, -250, 250) mm
    np.testing.assert_allclose(points[2, 1, :3], [500.0, -250.0, 250.0])
    # id 9 joint b at frame 1: 0.001 m = 1 mm
    np.testing.assert_allclose(points[1, 3, :3], [0.0, 1.0, 2000.0], atol=1e-4)
    residual = points[..., 3]
    # invalid (-1): id 4 b at frame 1 (NaN joint), id 9 at frames 0 and 2 (absent)
    assert residual.tolist() == [[0, 0, -1, -1], [0, -1, 0, 0], [0, 0, -1, -1]]


@pytest.mark.filterwarnings("ignore:No analog data")
def test_c3d_strided_frames_set_the_rate_and_fill_missing_frames(tmp_path: Path):
    # frames 10, 12, 16: step gcd(2, 4) = 2 → rate 25 / 2 = 12.5, grid 10, 12, 14, 16
    tracks = _small_tracks((10, 12, 16))
    path = export_tracks(tracks, tmp_path / "s.c3d")[0]
    rate, _, points, _ = _read_c3d(path)
    assert rate == 12.5
    assert points.shape[0] == 4
    assert np.all(points[2, :, 3] == -1)  # frame 14 is absent: every point invalid


def test_unknown_export_type(tmp_path: Path):
    with pytest.raises(InputError, match="unknown export type"):
        export_tracks(_small_tracks(), tmp_path / "t.fbx")


# --- BVH -------------------------------------------------------------------------------------------


def parse_bvh(text: str) -> tuple[list[str], list[int], np.ndarray, np.ndarray, float]:
    """Minimal BVH reader: joint names, parents, offsets (J, 3), motion (F, C), frame time."""
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    stack: list[int] = []
    pending = -1
    in_end = False
    lines = iter(text.splitlines())
    for line in lines:
        tok = line.split()
        if not tok:
            continue
        if tok[0] in ("ROOT", "JOINT"):
            names.append(tok[1])
            parents.append(stack[-1] if stack else -1)
            pending = len(names) - 1
        elif tok[0] == "End":
            in_end = True
        elif tok[0] == "{":
            stack.append(pending if not in_end else -2)
        elif tok[0] == "}":
            top = stack.pop()
            if top == -2:
                in_end = False
        elif tok[0] == "OFFSET" and not in_end:
            offsets.append([float(v) for v in tok[1:4]])
        elif tok[0] == "MOTION":
            break
    frame_count = int(next(lines).split(":")[1])
    frame_time = float(next(lines).split(":")[1])
    motion = np.array([[float(v) for v in next(lines).split()] for _ in range(frame_count)])
    return names, parents, np.array(offsets), motion, frame_time


def bvh_forward_kinematics(
    parents: list[int], offsets: np.ndarray, motion: np.ndarray
) -> np.ndarray:
    """Joint positions (F, J, 3) in BVH axes: channels Xpos Ypos Zpos (root), then Z X Y degrees."""
    F, J = len(motion), len(parents)
    pos = np.zeros((F, J, 3))
    rot = np.zeros((F, J, 3, 3))
    for t in range(F):
        angles = motion[t, 3:].reshape(J, 3)
        for j in range(J):
            z, x, y = np.radians(angles[j])
            rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
            rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
            ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
            local = rz @ rx @ ry
            if parents[j] < 0:
                pos[t, j] = motion[t, :3]
                rot[t, j] = local
            else:
                p = parents[j]
                pos[t, j] = pos[t, p] + rot[t, p] @ offsets[j]
                rot[t, j] = rot[t, p] @ local
    return pos


def _bvh_to_world(points: np.ndarray, scale: float = 100.0) -> np.ndarray:
    # BVH (x, y, z) = world (x, z, -y) · scale  →  world = (x, -z, y) / scale
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1) / scale


def _fk_generated_motion(rng: np.random.Generator, frames: int) -> np.ndarray:
    """(T, 19, 3) Panoptic-19 joints made by rotating the exporter's own T-pose rigidly per joint."""
    lengths = {j: rng.uniform(0.05, 0.5) for j in PANOPTIC19}
    order = list(BVH_PARENTS)  # parents precede children in this dict
    out = np.zeros((frames, 19, 3))
    for t in range(frames):
        glob = {"mid_hip": Rotation.random(random_state=rng).as_matrix()}
        pos = {"mid_hip": rng.normal(size=3)}
        for j in order[1:]:
            p = BVH_PARENTS[j]
            if p not in glob:
                glob[p] = glob[BVH_PARENTS[p]] @ Rotation.random(random_state=rng).as_matrix()
            pos[j] = pos[p] + glob[p] @ (lengths[j] * _rest_direction(j))
        out[t] = [pos[j] for j in PANOPTIC19]
    return out


def test_bvh_round_trip_is_exact_for_a_skeleton_of_the_same_shape(tmp_path: Path, rng):
    joints = _fk_generated_motion(rng, frames=6)
    motion = fit_bvh_motion(joints, fps=30.0)
    idx = [PANOPTIC19.index(j) for j in motion.joint_names]
    np.testing.assert_allclose(motion.positions, joints[:, idx], atol=1e-9)
    frames = tuple(FramePoses(t, (PersonPose(0, joints[t]),)) for t in range(len(joints)))
    (path,) = export_bvh(Tracks(PANOPTIC19, frames, fps=30.0), tmp_path / "p.bvh")
    names, parents, offsets, data, frame_time = parse_bvh(path.read_text())
    assert names == list(motion.joint_names) and frame_time == pytest.approx(1 / 30)
    assert data.shape == (6, 6 + 3 * 18)  # root: 3 translations + 3 angles; 18 joints × 3 angles
    world = _bvh_to_world(bvh_forward_kinematics(parents, offsets, data))
    # text keeps 6 decimals of cm and degrees: ~1e-6 rad × 1 m lever ≈ 1e-6 m
    np.testing.assert_allclose(world, joints[:, idx], atol=1e-5)


@pytest.fixture(scope="module")
def synth_gt(tmp_path_factory: pytest.TempPathFactory) -> Tracks:
    root = tmp_path_factory.mktemp("exports") / "scene"
    config = SynthConfig(num_people=2, num_frames=20, split="test", images=False, seed=3)
    generate_dataset(root, config)
    return load_ground_truth(root)


def test_bvh_of_real_motion_matches_fit_and_input(synth_gt: Tracks, tmp_path: Path):
    paths = export_bvh(synth_gt, tmp_path / "m.bvh")
    assert [p.name for p in paths] == ["m_0.bvh", "m_1.bvh"]
    frames, ids, joints, _ = track_joints(synth_gt)
    names, parents, offsets, data, _ = parse_bvh(paths[0].read_text())
    world = _bvh_to_world(bvh_forward_kinematics(parents, offsets, data))
    seen = np.flatnonzero(np.isfinite(joints[0]).all(-1).any(-1))
    x = joints[0, seen[0] : seen[-1] + 1]
    motion = fit_bvh_motion(x, fps=30.0)
    np.testing.assert_allclose(world, motion.positions, atol=1e-5)  # the file is the fit
    idx = [PANOPTIC19.index(j) for j in names]
    err = np.linalg.norm(world - x[:, idx], axis=-1)  # T×J metres
    ok = np.isfinite(err)
    # bones of mocap people vary slightly in length and the pelvis/torso/head are not quite
    # rigid: measured mean 9.0 mm, max 31.5 mm on this scene
    assert err[ok].mean() < 0.03 and err[ok].max() < 0.10
    # the root follows mid_hip exactly
    np.testing.assert_allclose(world[:, 0], x[:, PANOPTIC19.index("mid_hip")], atol=1e-5)


def test_bvh_track_gap_is_interpolated_and_span_trimmed(tmp_path: Path, rng):
    joints = _fk_generated_motion(rng, frames=5)
    frames = [FramePoses(0)] + [
        FramePoses(t + 1, () if t == 2 else (PersonPose(5, joints[t]),)) for t in range(5)
    ]
    (path,) = export_bvh(Tracks(PANOPTIC19, tuple(frames), fps=10.0), tmp_path / "g.bvh")
    text = path.read_text()
    # frame 0 (nobody) is trimmed: frames 1..5 remain, the gap at frame 3 interpolated
    assert re.search(r"Frames: 5\b", text)
    _, parents, offsets, data, _ = parse_bvh(text)
    world = _bvh_to_world(bvh_forward_kinematics(parents, offsets, data))
    mid = PANOPTIC19.index("mid_hip")
    np.testing.assert_allclose(world[2, 0], (joints[1, mid] + joints[3, mid]) / 2, atol=1e-5)


def test_bvh_needs_panoptic_joints(tmp_path: Path):
    with pytest.raises(InputError, match="Panoptic-19"):
        export_bvh(_small_tracks(), tmp_path / "x.bvh")


def test_export_cli(synth_gt: Tracks, tmp_path: Path):
    from typer.testing import CliRunner

    from tessetrack.cli import app
    from tessetrack.io.tracks import save_tracks

    src = save_tracks(synth_gt, tmp_path / "gt.json")
    for out in ("o.c3d", "o.bvh"):
        result = CliRunner().invoke(app, ["export", str(src), str(tmp_path / out)])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "o.c3d").stat().st_size > 512
    assert sorted(p.name for p in tmp_path.glob("o_*.bvh")) == ["o_0.bvh", "o_1.bvh"]
