"""Limb mixing: arms / spine from another clip keep bone lengths, root, legs and the floor."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tessetrack.errors import InputError
from tessetrack.skeletons import PANOPTIC19
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.synth.motion import (
    CLIP_SPLITS,
    MIX_PARTS,
    MotionOptions,
    _donor_times,
    clip_to_floor,
    forward_kinematics,
    links_to_panoptic19,
    load_clip,
    load_skeleton,
    mirror_joints,
    mirror_pose,
    mix_parts,
    sample_clip,
    synthesize_motion,
)

J = PANOPTIC19.index
LEGS_AND_ROOT = [
    J(n) for n in ("mid_hip", "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle")
]
ARMS = [J(n) for n in ("l_elbow", "l_wrist", "r_elbow", "r_wrist")]
# every Panoptic-19 limb is rigid in one humanoid link except neck–mid_hip, which bends at the chest
RIGID_LIMBS = [(a, b) for a, b in PANOPTIC19.limb_indices if {a, b} != {J("neck"), J("mid_hip")}]
KW = dict(start_xy=np.zeros(2), area_center=np.zeros(2), area_half_size=np.array([2.0, 2.0]))


def _joints(sk, rp, rr, lr) -> np.ndarray:
    """Floor-frame Panoptic-19 joints (T, 19, 3) of a clip-frame pose."""
    return clip_to_floor(links_to_panoptic19(sk, *forward_kinematics(sk, rp, rr, lr)))


def _limb_lengths(joints: np.ndarray, limbs) -> np.ndarray:
    a, b = np.array(limbs).T
    return np.linalg.norm(joints[..., a, :] - joints[..., b, :], axis=-1)  # T×limbs


def test_default_reproduces_the_unmixed_output() -> None:
    """limb_mix_prob = 0 draws nothing extra.

    The numbers below pin the unmixed output; they were taken again when segments started to end
    at the area's edge (before that, the output walked this person to y = -3.0 m in a ±2 m area).
    """
    sk = load_skeleton()
    clips = [load_clip(n) for n in CLIP_SPLITS["train"]]
    a, info = synthesize_motion(clips, sk, 200, 29.97, np.random.default_rng(3), **KW)
    b, info_b = synthesize_motion(
        clips,
        sk,
        200,
        29.97,
        np.random.default_rng(3),
        **KW,
        options=MotionOptions(limb_mix_prob=0.0),
    )
    np.testing.assert_array_equal(a, b)
    assert info == info_b
    np.testing.assert_allclose(a.sum(), 1279.1763798120055, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        a[0, 0], [-0.20283457018336049, -0.1486900737501259, 0.49344800359080904], atol=1e-12
    )
    np.testing.assert_allclose(
        a[199, 8], [-0.1615661916878025, -1.6042232984071667, 0.7053948187304052], atol=1e-12
    )
    assert [s["clip"] for s in info["segments"]] == ["cartwheel", "spin", "getup_faceup"]
    assert [s["speed"] for s in info["segments"]] == [1.0329, 0.9565, 1.0828]
    assert all("mixed" not in s for s in info["segments"])  # the metadata is unchanged too


def test_mirror_pose_matches_mirror_joints() -> None:
    """Mirroring rotations (left <-> right, q -> (w, -x, -y, z)) = mirroring the joints after FK."""
    sk = load_skeleton()
    rp, rr, lr = sample_clip(load_clip("punch"), np.linspace(0.0, 1.5, 20))
    np.testing.assert_allclose(
        _joints(sk, *mirror_pose(rp, rr, lr)), mirror_joints(_joints(sk, rp, rr, lr)), atol=1e-12
    )


@pytest.mark.parametrize("parts", [["arms"], ["spine"], ["arms", "spine"]])
def test_mixed_poses_keep_every_bone_length(parts: list[str]) -> None:
    sk = load_skeleton()
    times = np.arange(90) / 30.0
    donor_lr = sample_clip(load_clip("punch"), 0.37 + 1.1 * times)[2]
    for name in ("walk", "cartwheel", "getup_faceup"):
        rp, rr, lr = sample_clip(load_clip(name), times)
        mixed = mix_parts(lr, donor_lr, parts)
        pos, _ = forward_kinematics(sk, rp, rr, mixed)
        # every link sits |URDF offset| from its parent's joint in every frame
        for i, parent in enumerate(sk.parents[1:], start=1):
            bone = np.linalg.norm(pos[:, i] - pos[:, parent], axis=-1)
            np.testing.assert_allclose(bone, np.linalg.norm(sk.offsets[i]), atol=1e-9)
        j_mixed, j_plain = _joints(sk, rp, rr, mixed), _joints(sk, rp, rr, lr)
        limbs = PANOPTIC19.limb_indices if parts == ["arms"] else RIGID_LIMBS
        np.testing.assert_allclose(
            _limb_lengths(j_mixed, limbs), _limb_lengths(j_plain, limbs), atol=1e-6
        )


def test_mixing_changes_the_upper_body_only() -> None:
    sk = load_skeleton()
    times = np.arange(60) / 30.0
    rp, rr, lr = sample_clip(load_clip("walk"), times)
    donor_lr = sample_clip(load_clip("dance_a"), 0.5 + times)[2]
    plain = _joints(sk, rp, rr, lr)
    for parts, moved in ((["arms"], ARMS), (["spine"], [J("neck"), J("nose"), J("l_wrist")])):
        mixed = _joints(sk, rp, rr, mix_parts(lr, donor_lr, parts))
        np.testing.assert_array_equal(mixed[:, LEGS_AND_ROOT], plain[:, LEGS_AND_ROOT])
        assert np.linalg.norm(mixed[:, moved] - plain[:, moved], axis=-1).max() > 0.05
    np.testing.assert_array_equal(mix_parts(lr, donor_lr, []), lr)
    with pytest.raises(InputError):
        mix_parts(lr, donor_lr, ["tail"])


def test_donor_times_play_a_one_shot_clip_back_and_forth() -> None:
    clip = load_clip("getup_faceup")  # non-looping
    D = clip.duration
    # from D − 0.1 s at 1× and 10 fps: D − 0.1, D, then back: D − 0.1, D − 0.2
    t = _donor_times(clip, D - 0.1, 1.0, 4, 10.0)
    np.testing.assert_allclose(t, [D - 0.1, D, D - 0.1, D - 0.2], atol=1e-9)
    walk = load_clip("walk")  # looping clips just go on
    np.testing.assert_allclose(_donor_times(walk, 0.2, 2.0, 3, 10.0), [0.2, 0.4, 0.6])


def test_synthesized_mixing_keeps_root_legs_bones_and_floor() -> None:
    """Any limb_mix_prob > 0 draws the same numbers from ``rng``: root and legs do not change."""
    sk = load_skeleton()
    clips = [load_clip(n) for n in CLIP_SPLITS["train"]]
    plain_opts = MotionOptions(limb_mix_prob=1e-12)  # on, but (almost surely) never mixes
    T, fps = 300, 29.97
    n_mixed = 0
    for seed in range(4):
        plain, info_p = synthesize_motion(
            clips, sk, T, fps, np.random.default_rng(seed), **KW, options=plain_opts
        )
        mixed, info_m = synthesize_motion(
            clips,
            sk,
            T,
            fps,
            np.random.default_rng(seed),
            **KW,
            options=replace(plain_opts, limb_mix_prob=1.0),
        )
        assert [s["clip"] for s in info_p["segments"]] == [s["clip"] for s in info_m["segments"]]
        assert all(s["mixed"] == [] for s in info_p["segments"])
        np.testing.assert_array_equal(mixed[:, LEGS_AND_ROOT], plain[:, LEGS_AND_ROOT])
        # feet: the lowest leg joint per frame is exactly the unmixed one
        feet = [J("l_ankle"), J("r_ankle")]
        np.testing.assert_array_equal(mixed[:, feet, 2].min(1), plain[:, feet, 2].min(1))
        # no mixed joint goes through the floor more than the unmixed pose (2 cm × scale ≤ 1.15)
        floor = np.minimum(plain[..., 2].min(1), 0.0)
        assert np.all(mixed[..., 2].min(1) >= floor - 0.023 - 1e-9)
        # outside cross-fades (12 frames = round(0.4 s · 29.97) after each later segment's start)
        # every rigid limb has the skeleton's length × the person's scale (rounded in the info)
        steady = np.ones(T, bool)
        for s in info_m["segments"][1:]:
            steady[s["start_frame"] : s["start_frame"] + 12] = False
        ref = _limb_lengths(_joints(sk, *sample_clip(clips[0], np.zeros(1))), RIGID_LIMBS)[0]
        ratio = _limb_lengths(mixed[steady], RIGID_LIMBS) / ref  # frames×limbs
        assert abs(ratio[0, 0] - info_m["scale"]) < 1e-4
        np.testing.assert_allclose(ratio, ratio[0, 0], atol=1e-6)
        for s in info_m["segments"]:
            for m in s["mixed"]:
                assert m["part"] in MIX_PARTS and m["clip"] in CLIP_SPLITS["train"]
                assert m["clip"] != s["clip"]
                frames = slice(s["start_frame"], s["start_frame"] + s["frames"])
                if m["part"] == "arms":
                    n_mixed += 1
                    assert np.abs(mixed[frames][:, ARMS] - plain[frames][:, ARMS]).max() > 1e-3
    assert n_mixed >= 3  # most segments of 4 people get their arms mixed


def test_invalid_limb_mix_prob() -> None:
    sk = load_skeleton()
    clips = [load_clip("walk")]
    with pytest.raises(InputError):
        synthesize_motion(
            clips,
            sk,
            10,
            29.97,
            np.random.default_rng(0),
            **KW,
            options=MotionOptions(limb_mix_prob=1.5),
        )
    with pytest.raises(InputError):
        generate_dataset("/nonexistent/never", SynthConfig(limb_mix_prob=-0.1))


def test_generate_records_limb_mixing(tmp_path: Path) -> None:
    cfg = SynthConfig(
        num_cameras=2, num_people=3, num_frames=4, images=False, detections=None, limb_mix_prob=1.0
    )
    result = generate_dataset(tmp_path / "mix", cfg)
    meta = json.loads((tmp_path / "mix" / "tessetrack_synth.json").read_text())
    assert meta["limb_mix_prob"] == 1.0
    donors = {m["clip"] for p in meta["people"] for s in p["segments"] for m in s["mixed"]}
    assert donors <= set(meta["clips_used"]) <= set(meta["clips_available"])
    assert meta["people"] == result.scene.people
    plain = generate_dataset(tmp_path / "plain", replace(cfg, limb_mix_prob=0.0))
    assert plain.metadata["limb_mix_prob"] == 0.0
    assert all("mixed" not in s for p in plain.metadata["people"] for s in p["segments"])


def test_synth_cli_writes_the_limb_mix_probability(tmp_path):
    from tessetrack.cli import main

    with pytest.raises(SystemExit) as info:
        main([
            "synth", str(tmp_path / "s"), "--rig", "ring", "--cameras", "2", "--people", "1",
            "--frames", "3", "--no-images", "--limb-mix", "0.5", "--seed", "1",
        ])  # fmt: skip
    assert info.value.code == 0
    meta = json.loads((tmp_path / "s" / "tessetrack_synth.json").read_text())
    assert meta["limb_mix_prob"] == 0.5
