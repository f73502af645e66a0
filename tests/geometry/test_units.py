"""Length unit conversions and the human-scale unit guess, on synthetic and real skeletons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tessetrack.errors import InputError
from tessetrack.geometry.units import from_metres, guess_unit, to_metres
from tessetrack.skeletons import get_joint_set


def test_to_and_from_metres_hand_values() -> None:
    # 1234 mm = 1.234 m; 250 cm = 2.5 m; 1.5 m = 150 cm
    np.testing.assert_allclose(to_metres(np.array([1234.0]), "mm"), [1.234])
    np.testing.assert_allclose(to_metres(np.array([250]), "cm"), [2.5])  # ints become floats
    np.testing.assert_allclose(from_metres(np.array([1.5]), "cm"), [150.0])
    t = to_metres(torch.tensor([1000, 20]), "mm")
    assert t.is_floating_point()
    torch.testing.assert_close(t, torch.tensor([1.0, 0.02], dtype=torch.float64))
    # float32 stays float32
    assert to_metres(np.ones(3, dtype=np.float32), "cm").dtype == np.float32
    assert to_metres(torch.ones(3), "m").dtype == torch.float32


@pytest.mark.parametrize("unit", ["m", "cm", "mm"])
def test_round_trip(unit: str) -> None:
    x = np.random.default_rng(0).normal(size=(4, 19, 3))
    np.testing.assert_allclose(to_metres(from_metres(x, unit), unit), x, rtol=1e-12)


def test_unknown_unit_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown length unit 'inch'"):
        to_metres(np.ones(2), "inch")  # type: ignore[arg-type]


def _stick_figure() -> np.ndarray:
    """A 1.7 m standing Panoptic-19 skeleton in metres (x right, y forward, z up)."""
    joints = {
        "neck": (0, 0, 1.50), "nose": (0, 0.08, 1.62), "mid_hip": (0, 0, 0.95),
        "l_shoulder": (0.18, 0, 1.45), "l_elbow": (0.22, 0, 1.17), "l_wrist": (0.24, 0, 0.92),
        "l_hip": (0.10, 0, 0.93), "l_knee": (0.11, 0, 0.50), "l_ankle": (0.11, 0, 0.08),
        "r_shoulder": (-0.18, 0, 1.45), "r_elbow": (-0.22, 0, 1.17), "r_wrist": (-0.24, 0, 0.92),
        "r_hip": (-0.10, 0, 0.93), "r_knee": (-0.11, 0, 0.50), "r_ankle": (-0.11, 0, 0.08),
        "l_eye": (0.03, 0.07, 1.66), "l_ear": (0.07, 0.0, 1.64),
        "r_eye": (-0.03, 0.07, 1.66), "r_ear": (-0.07, 0.0, 1.64),
    }  # fmt: skip
    return np.array([joints[j] for j in get_joint_set("panoptic19").joints], dtype=np.float64)


@pytest.mark.parametrize(("unit", "scale"), [("m", 1.0), ("cm", 100.0), ("mm", 1000.0)])
@pytest.mark.parametrize("use_limbs", [False, True])
def test_guess_unit_synthetic(unit: str, scale: float, use_limbs: bool) -> None:
    limbs = get_joint_set("panoptic19").limb_indices if use_limbs else None
    people = np.stack([_stick_figure() + [dx, 0, 0] for dx in (-1.0, 0.5, 2.0)]) * scale  # P×J×3
    people[1, 4] = np.nan  # a missing joint is ignored
    assert guess_unit(people, limbs) == unit
    assert guess_unit(torch.as_tensor(people, dtype=torch.float32), limbs) == unit
    # children (0.6× size) and giants (1.3×) still land in the same unit
    assert guess_unit(people * 0.6, limbs) == unit
    assert guess_unit(people * 1.3, limbs) == unit


def test_guess_unit_rejects_empty() -> None:
    with pytest.raises(InputError, match="no finite"):
        guess_unit(np.full((2, 19, 3), np.nan))
    with pytest.raises(InputError, match="shape"):
        guess_unit(np.zeros((19, 2)))


def test_guess_unit_real_data(shared_data: Path) -> None:
    shelf = np.load(shared_data / "shelf" / "actorsGT.npy")  # metres, 14 joints
    assert guess_unit(shelf) == "m"
    assert guess_unit(shelf * 1000, get_joint_set("shelf14").limb_indices) == "mm"
    h36m = np.load(shared_data / "h36m" / "test_h36m_body3d.npz")["S"][..., :3]  # metres
    assert guess_unit(h36m, get_joint_set("h36m17").limb_indices) == "m"
    scene = sorted(
        (shared_data / "panoptic" / "160906_band1" / "hdPose3d_stage1_coco19").glob("*.json")
    )[0]
    bodies = np.array(
        [np.reshape(b["joints19"], (-1, 4)) for b in json.loads(scene.read_text())["bodies"]]
    )
    joints = np.where(bodies[..., 3:] > 0, bodies[..., :3], np.nan)  # confidence -1 = missing
    assert guess_unit(joints) == "cm"  # Panoptic is in centimetres
