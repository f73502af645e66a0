"""Measured body proportions and joint-angle variation of synthetic people.

``data/motion_reference.npz`` holds joints made by the motion code before proportions and pose
variation existed, with::

    clips = [load_clip(n) for n in CLIP_SPLITS["train"]]; sk = load_skeleton()
    KW = dict(start_xy=np.zeros(2), area_center=np.zeros(2), area_half_size=np.array([2.0, 2.0]))
    default:                synthesize_motion(clips, sk, 100, 29.97, default_rng(22), **KW)
    face_measured_limb_mix: the same, 60 frames, default_rng(27),
                            options=MotionOptions(face="measured", limb_mix_prob=0.7)
    scene:                  generate_scene(SceneConfig(num_people=2, num_frames=50), clips, sk,
                            default_rng(23), area_center=np.zeros(2), area_half_size=[2, 2]).joints
    build_scene:            build_scene(SynthConfig(num_people=2, num_frames=40, images=False,
                            seed=5))[1].joints

and each one's person records as JSON (``<name>_info``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tessetrack.errors import InputError
from tessetrack.skeletons import PANOPTIC19
from tessetrack.synth.generate import SynthConfig, build_scene, generate_dataset
from tessetrack.synth.motion import (
    CLIP_SPLITS,
    DEEPMIMIC_JOINTS,
    HINGE_AMPLITUDE_DEG,
    JOINT_LIMITS_DEG,
    POSE_AMPLITUDE_DEG,
    PROPORTION_CORRELATION,
    PROPORTION_GROUPS,
    REAL_PROPORTIONS,
    MotionOptions,
    _draw_segment,
    _person_body,
    _quat_to_matrix,
    _swing_limits,
    body_measures,
    face_offsets,
    forward_kinematics,
    keep_ground_contact,
    links_to_panoptic19,
    load_clip,
    load_skeleton,
    proportioned_face,
    proportioned_skeleton,
    sample_clip,
    sample_proportions,
    synthesize_motion,
    vary_pose,
)
from tessetrack.synth.scene import SceneConfig, generate_scene

DATA = Path(__file__).parent / "data"
FPS = 29.97
J = PANOPTIC19.index
NAMES = [n for n, _ in DEEPMIMIC_JOINTS]
KW = dict(start_xy=np.zeros(2), area_center=np.zeros(2), area_half_size=np.array([2.0, 2.0]))
# every Panoptic-19 limb is rigid in one humanoid link except neck–mid_hip, which bends at the chest
RIGID_LIMBS = [(a, b) for a, b in PANOPTIC19.limb_indices if {a, b} != {J("neck"), J("mid_hip")}]
FEET = [J("l_ankle"), J("r_ankle")]
# everyday motions (the spin kick's and backflip's own limbs already pass 15 m/s)
EVERYDAY = ("walk", "dance_a", "crawl", "getup_faceup", "punch")


@pytest.fixture(scope="module")
def skeleton():
    return load_skeleton()


@pytest.fixture(scope="module")
def train_clips():
    return [load_clip(n) for n in CLIP_SPLITS["train"]]


def _lengths(joints: np.ndarray, limbs) -> np.ndarray:
    a, b = np.array(limbs).T
    return np.linalg.norm(joints[..., a, :] - joints[..., b, :], axis=-1)  # T×limbs


# -- defaults ---------------------------------------------------------------------------------------


def test_defaults_reproduce_the_saved_reference(skeleton, train_clips) -> None:
    """The default options (and naming them) draw nothing new: joints identical to before (to
    1e-12 m: numpy releases may round the last bit of a sum differently; a new draw moves joints
    by centimetres)."""
    ref = np.load(DATA / "motion_reference.npz")
    cases = [
        ("default", 22, 100, MotionOptions()),
        ("default", 22, 100, MotionOptions(proportions="humanoid", pose_variation=0.0)),
        ("face_measured_limb_mix", 27, 60, MotionOptions(face="measured", limb_mix_prob=0.7)),
    ]
    for name, seed, frames, options in cases:
        rng = np.random.default_rng(seed)
        joints, info = synthesize_motion(
            train_clips, skeleton, frames, FPS, rng, **KW, options=options
        )
        np.testing.assert_allclose(joints, ref[name], rtol=0, atol=1e-12)
        assert json.dumps(info) == str(ref[f"{name}_info"])
    scene = generate_scene(
        SceneConfig(num_people=2, num_frames=50),
        train_clips,
        skeleton,
        np.random.default_rng(23),
        area_center=np.zeros(2),
        area_half_size=np.array([2.0, 2.0]),
    )
    np.testing.assert_allclose(scene.joints, ref["scene"], rtol=0, atol=1e-12)
    assert json.dumps(scene.people) == str(ref["scene_info"])
    _, built, _ = build_scene(SynthConfig(num_people=2, num_frames=40, images=False, seed=5))
    np.testing.assert_array_equal(built.joints, ref["build_scene"])
    assert json.dumps(built.people) == str(ref["build_scene_info"])


# -- proportions ------------------------------------------------------------------------------------


def test_the_humanoid_is_not_an_average_person(skeleton) -> None:
    """The humanoid's own ratios (REAL_PROPORTIONS' table, column ``humanoid``): broad shoulders,
    narrow hips, long thighs, a low head."""
    m = body_measures(skeleton)
    assert m["stature"] == pytest.approx(1.619, abs=1e-3)
    own = {g: m[g] / m["stature"] for g in PROPORTION_GROUPS}
    expected = dict(shoulder_breadth=0.226, hip_breadth=0.105, upper_arm=0.170, forearm=0.160,
                    thigh=0.260, shank=0.253, spine=0.284, neck=0.111, head=0.093)  # fmt: skip
    for g in PROPORTION_GROUPS:
        assert own[g] == pytest.approx(expected[g], abs=1.5e-3), g
    assert own["shoulder_breadth"] > 1.1 * REAL_PROPORTIONS["shoulder_breadth"][0]
    assert own["hip_breadth"] < 0.9 * REAL_PROPORTIONS["hip_breadth"][0]


def _sampled_people(skeleton, n: int, face: str = "humanoid") -> tuple[list[dict], list]:
    """Rest-pose measures of ``n`` people (one generator) and their proportions."""
    rng = np.random.default_rng(1234)
    offsets = face_offsets(face)
    people, bodies = [], []
    for _ in range(n):
        body = sample_proportions(rng, skeleton, face)
        sk = proportioned_skeleton(skeleton, body)
        people.append(body_measures(sk, proportioned_face(offsets, body)))
        bodies.append(body)
    return people, bodies


def _ratio(people: list[dict], num: str, den: str) -> np.ndarray:
    return np.array([p[num] / p[den] for p in people])


def _stature_cv() -> float:
    """Expected CV of the stature from the segments' factors: stature = sole (fixed) + shank +
    thigh + spine + neck + crown (0.65 × ears' breadth, with ``head``), so with weights w_g = the
    table's fractions (crown 0.064) CV_H² = Σ (w_g CV_g)² + 2 ρ w_thigh w_shank CV² =
    (0.246·0.05)² + (0.245·0.05)² + (0.29·0.04)² + (0.12·0.07)² + (0.064·0.04)² + 2·0.5·0.245·
    0.246·0.05² ≈ 7.6e-4, CV_H ≈ 0.028 (relative to a stature ≈ 1.0 H)."""
    w = {"shank": 0.246, "thigh": 0.245, "spine": 0.290, "neck": 0.120, "head": 0.064}
    var = sum((w[g] * REAL_PROPORTIONS[g][1]) ** 2 for g in w)
    rho = PROPORTION_CORRELATION[("thigh", "shank")]
    var += 2 * rho * w["thigh"] * w["shank"] * 0.05 * 0.05
    return float(np.sqrt(var))


def test_measured_proportions_match_the_table(skeleton) -> None:
    """500 people: means and spreads of bone-length ratios against REAL_PROPORTIONS.

    Means: a ratio of two groups has the ratio of their means (within 2 %: the stature of the
    mean person is 0.995 × the humanoid's, sampling error ≈ CV/√500 ≈ 0.3 %). Spreads, with the
    normal draw cut at 2.5 SD (SD × 0.99), within 15 % (the SD of a sample SD is ≈ 1/√1000 = 3 %):
    * shoulder breadth / stature: √(0.05² + CV_H²) ≈ 0.057;
    * forearm / upper arm, correlated 0.5: 0.045·√(2·(1 − 0.5)) = 0.045;
    * shank / thigh: 0.05·√(2·(1 − 0.5)) = 0.05;
    * hip / shoulder breadth, independent: √(0.06² + 0.05²) ≈ 0.078.
    """
    people, _ = _sampled_people(skeleton, 500)
    ref = {g: REAL_PROPORTIONS[g][0] for g in PROPORTION_GROUPS}
    cv = {g: REAL_PROPORTIONS[g][1] for g in PROPORTION_GROUPS}
    checks = [
        ("shoulder_breadth", "stature", ref["shoulder_breadth"], np.hypot(0.05, _stature_cv())),
        ("hip_breadth", "stature", ref["hip_breadth"], np.hypot(0.06, _stature_cv())),
        ("forearm", "upper_arm", ref["forearm"] / ref["upper_arm"], cv["forearm"]),
        ("shank", "thigh", ref["shank"] / ref["thigh"], cv["shank"]),
        ("hip_breadth", "shoulder_breadth", ref["hip_breadth"] / ref["shoulder_breadth"],
         np.hypot(cv["hip_breadth"], cv["shoulder_breadth"])),
    ]  # fmt: skip
    for num, den, mean, spread in checks:
        r = _ratio(people, num, den)
        assert r.mean() == pytest.approx(mean, rel=0.02), (num, den)
        assert r.std() / r.mean() == pytest.approx(spread, rel=0.15), (num, den)
    # each segment against the humanoid's stature: the table's fraction and CV
    stature = body_measures(skeleton)["stature"]
    for g in PROPORTION_GROUPS:
        x = np.array([p[g] for p in people]) / stature
        assert x.mean() == pytest.approx(ref[g], rel=0.01), g
        assert x.std() / x.mean() == pytest.approx(cv[g], rel=0.15), g


def test_measured_face_shrinks_to_real_size(skeleton) -> None:
    """With either face model, the mean person's ears sit 0.120 H from the neck, 0.098 H apart."""
    stature = body_measures(skeleton)["stature"]
    for face in ("humanoid", "measured"):
        people, _ = _sampled_people(skeleton, 200, face)
        for g in ("neck", "head"):
            x = np.array([p[g] for p in people]) / stature
            assert x.mean() == pytest.approx(REAL_PROPORTIONS[g][0], rel=0.02), (face, g)


def _asymmetry(body, group: str) -> float:
    right, left = body.factor(group, "right"), body.factor(group, "left")
    return (right - left) / (0.5 * (right + left))


def test_left_and_right_differ_by_at_most_one_percent(skeleton) -> None:
    _, bodies = _sampled_people(skeleton, 300)
    sided = PROPORTION_GROUPS[:6]
    # (right − left) / their mean: the asymmetry a, at most 1 %
    diff = np.array([[_asymmetry(b, g) for g in sided] for b in bodies])
    assert np.abs(diff).max() <= 0.01 + 1e-12
    assert np.abs(diff).mean() > 0.001  # not all symmetric
    # the skeleton: left forearm / right forearm is the factors' ratio
    body = bodies[0]
    sk = proportioned_skeleton(skeleton, body)
    i = sk.index
    left, right = np.linalg.norm(sk.offsets[[i("left_wrist"), i("right_wrist")]], axis=-1)
    assert left / right == pytest.approx(
        body.factor("forearm", "left") / body.factor("forearm", "right")
    )
    # mirrored segments swap the sides' factors, so the person's own left stays their left
    mirrored = proportioned_skeleton(skeleton, body, mirrored=True)
    assert np.linalg.norm(mirrored.offsets[i("right_wrist")]) == pytest.approx(left)


def test_bones_keep_their_length_along_time(skeleton, train_clips) -> None:
    """Measured proportions with pose variation: every rigid limb keeps one length (1e-6 m) over
    a long motion (mirrored segments included); only the cross-fades between segments, which
    blend two poses' joints, are left out."""
    checked = 0
    for joints, info in _varied_motions(skeleton, train_clips):
        lengths = _lengths(joints, RIGID_LIMBS)  # T'×limbs
        assert np.abs(lengths - lengths[0]).max() < 1e-6
        checked += any(s["mirrored"] for s in info["segments"])
    assert checked  # mirrored segments were among them


def _varied_motions(skeleton, train_clips):
    """600 frames of measured proportions with pose variation 1 for seeds 0, 1, 2, as
    (joints (T', 19, 3), info) with the cross-fades between segments left out (they blend two
    poses' joints, which changes bone lengths and angles whatever the body)."""
    options = MotionOptions(proportions="measured", pose_variation=1.0)
    fade = max(1, int(round(options.crossfade_seconds * FPS)))
    for seed in range(3):
        rng = np.random.default_rng(seed)
        joints, info = synthesize_motion(
            train_clips, skeleton, 600, FPS, rng, **KW, options=options
        )
        keep = np.ones(len(joints), bool)
        for seg in info["segments"][1:]:
            keep[seg["start_frame"] : seg["start_frame"] + fade] = False
        yield joints[keep], info


def test_proportions_follow_the_seed(skeleton, train_clips) -> None:
    options = MotionOptions(proportions="measured")

    def person(seed: int):
        rng = np.random.default_rng(seed)
        return synthesize_motion(train_clips, skeleton, 60, FPS, rng, **KW, options=options)

    (a, info_a), (b, info_b), (_, info_c) = person(5), person(5), person(6)
    np.testing.assert_array_equal(a, b)
    assert info_a == info_b and set(info_a["proportions"]) >= set(PROPORTION_GROUPS)
    assert info_a["proportions"] != info_c["proportions"]
    # a body of its own: the shoulders' breadth is not the humanoid's times the scale
    width = np.linalg.norm(a[0, J("l_shoulder")] - a[0, J("r_shoulder")])
    assert width / info_a["scale"] != pytest.approx(0.36622, rel=1e-3)


# -- pose variation ---------------------------------------------------------------------------------


def _flexion(q: np.ndarray, name: str) -> np.ndarray:
    """Flexion (rad) of a knee or elbow rotation (T, 4) about z; knees flex to negative angles."""
    angle = 2 * np.arctan2(q[:, 3], q[:, 0])
    angle = np.arctan2(np.sin(angle), np.cos(angle))
    return -angle if "knee" in name else angle


def _segment(clip_name: str, seed: int, frames: int = 240):
    clip = load_clip(clip_name)
    t0 = np.random.default_rng(seed).uniform(0.0, clip.duration)
    return sample_clip(clip, t0 + np.arange(frames) / FPS)


@pytest.mark.parametrize("amount", [1.0, 2.0])
def test_pose_variation_stays_within_joint_limits(amount: float) -> None:
    """Hinges within 0–145° (or the motion's own angle where it is outside); ball joints' bones
    within the limits' half-spaces (or the motion's own lean); and the offsets are not small."""
    moved = []
    for k, name in enumerate(("walk", "crawl", "getup_faceup", "dance_a", "cartwheel")):
        _, _, lr = _segment(name, k)
        varied = vary_pose(lr, np.random.default_rng(100 + k), amount, FPS)
        for joint in HINGE_AMPLITUDE_DEG:
            j = NAMES.index(joint)
            flex, new = _flexion(lr[:, j], joint), _flexion(varied[:, j], joint)
            limit = np.radians(JOINT_LIMITS_DEG[joint.split("_")[1]]["flexion"])
            assert np.all(new >= np.minimum(flex, 0.0) - 1e-9)
            assert np.all(new <= np.maximum(flex, limit) + 1e-9)
        for joint in POSE_AMPLITUDE_DEG:
            j = NAMES.index(joint)
            rest, axes, bound = _swing_limits(joint)
            own = np.einsum("tij,j->ti", _quat_to_matrix(lr[:, j]), rest) @ axes.T
            new = np.einsum("tij,j->ti", _quat_to_matrix(varied[:, j]), rest) @ axes.T
            assert np.all(new <= np.maximum(bound, own) + 1e-6), joint
            moved.append(np.degrees(_angle_between(lr[:, j], varied[:, j])).mean())
    assert np.mean(moved) > 8.0 * amount  # about a third of the amplitudes on average


def _angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 2 * np.arccos(np.clip(np.abs(np.sum(a * b, axis=-1)), 0.0, 1.0))


def test_knee_and_elbow_angles_of_the_joints_stay_within_the_limits(skeleton, train_clips) -> None:
    """On the output joints: knees and elbows never bend past 145° (the geometric angle, 180° −
    the hip–knee–ankle angle), or the clips' own largest flexion where that is more (knees
    getting up: 158°); the cross-fades, which blend two poses' joints, are left out."""
    bound = {"knee": max(145.0, _clip_max_flexion("knee")), "elbow": 145.0}
    for seed, (joints, _) in enumerate(_varied_motions(skeleton, train_clips)):
        for a, b, c in (("hip", "knee", "ankle"), ("shoulder", "elbow", "wrist")):
            for s in "lr":
                u = joints[:, J(f"{s}_{a}")] - joints[:, J(f"{s}_{b}")]
                v = joints[:, J(f"{s}_{c}")] - joints[:, J(f"{s}_{b}")]
                cos = np.sum(u * v, -1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
                flexion = 180.0 - np.degrees(np.arccos(np.clip(cos, -1, 1)))
                assert flexion.max() <= bound[b] + 1e-6, (seed, s, b)


def _clip_max_flexion(joint: str) -> float:
    """The largest flexion (degrees) any training clip has at knees or elbows."""
    worst = 0.0
    for name in CLIP_SPLITS["train"]:
        lr = load_clip(name).local_rot
        for side in ("right", "left"):
            j = NAMES.index(f"{side}_{joint}")
            worst = max(worst, float(np.degrees(_flexion(lr[:, j], joint)).max()))
    return worst


def test_bent_knees_lower_the_body(skeleton) -> None:
    """keep_ground_contact: a standing person bending both knees keeps the ankles' height and
    comes down; one lifted off the floor comes back to it."""
    T = 10
    rest = np.zeros((T, len(NAMES), 4))
    rest[..., 0] = 1.0
    root = np.zeros((T, 3))
    root[:, 1] = 0.88
    straight = links_to_panoptic19(skeleton, *forward_kinematics(skeleton, root, rest[:, 0], rest))
    bent_rot = rest.copy()
    angle = -np.radians(np.linspace(0, 60, T))  # knees flex to negative angles about z
    for knee in ("right_knee", "left_knee"):
        bent_rot[:, NAMES.index(knee)] = np.stack(
            [np.cos(angle / 2), 0 * angle, 0 * angle, np.sin(angle / 2)], axis=-1
        )
    bent = links_to_panoptic19(skeleton, *forward_kinematics(skeleton, root, rest[:, 0], bent_rot))
    assert np.all(bent[1:, FEET, 1].min(-1) > straight[1:, FEET, 1].min(-1))  # feet float
    kept = keep_ground_contact(bent, straight)
    np.testing.assert_allclose(kept[:, FEET, 1].min(-1), straight[:, FEET, 1].min(-1), atol=1e-12)
    drop = straight[:, J("mid_hip"), 1] - kept[:, J("mid_hip"), 1]
    assert drop[0] == pytest.approx(0.0, abs=1e-12) and np.all(np.diff(drop) > 0)
    # 60° knees, shank 0.41 m: the ankle rises 0.41·(1 − cos 60°) = 0.205 m, the body drops as much
    assert drop[-1] == pytest.approx(0.4099 * 0.5, abs=1e-3)


@pytest.mark.parametrize("clip_name", ["walk", "dance_a", "crawl", "getup_faceup", "roll", "punch"])
def test_pose_variation_keeps_the_feet_out_of_the_floor(skeleton, clip_name: str) -> None:
    """The same segments with and without variation: no ankle more than 1 cm below the floor where
    the unvaried ankles are not; standing (walk), the lowest ankle keeps its height exactly."""
    clip = load_clip(clip_name)
    for seed in range(4):
        options = MotionOptions(proportions="measured" if seed % 2 else "humanoid",
                                pose_variation=1.0, segment_seconds=(5.0, 5.0))  # fmt: skip
        body, _ = _person_body(skeleton, np.random.default_rng(seed), options)
        plain, varied = (
            _draw_segment([clip], skeleton, FPS, 12, 1.0, np.random.default_rng(seed), None,
                          options, b)[0]
            for b in (None, body)
        )  # fmt: skip
        low_plain, low_varied = plain[:, FEET, 2].min(-1), varied[:, FEET, 2].min(-1)
        assert np.all(low_varied >= np.minimum(low_plain, 0.0) - 0.01)
        if clip_name == "walk" and seed % 2 == 0:
            np.testing.assert_allclose(low_varied, low_plain, atol=1e-9)
        assert np.abs(varied - plain).max() > 0.05  # it did vary


def test_pose_variation_moves_smoothly(skeleton) -> None:
    """Long everyday motions (900 frames at 30 fps): the fastest joint of the varied motion (13.9
    m/s, a dancer's hand swinging further) stays under 16 m/s and within 1.5× the unvaried motion's
    fastest (10.6 m/s: a punch's fist); the variation alone, on a person standing still, stays
    under 6 m/s (a gesturing hand: amplitudes up to 45° with periods of 0.7–2.5 s give ≤ 4.7 m/s
    over 200 seeds)."""
    clips = [load_clip(n) for n in EVERYDAY]
    fastest = {}
    for pose_variation in (0.0, 1.0):
        options = MotionOptions(pose_variation=pose_variation)
        speeds = []
        for seed in range(3):
            rng = np.random.default_rng(seed)
            joints, _ = synthesize_motion(clips, skeleton, 900, FPS, rng, **KW, options=options)
            speeds.append(np.linalg.norm(np.diff(joints, axis=0), axis=-1).max() * FPS)
        fastest[pose_variation] = max(speeds)
    assert fastest[1.0] < 16.0
    assert fastest[1.0] < 1.5 * fastest[0.0]
    T = 300
    rest = np.zeros((T, len(NAMES), 4))
    rest[..., 0] = 1.0
    root = np.tile([0.0, 0.93, 0.0], (T, 1))
    still = links_to_panoptic19(skeleton, *forward_kinematics(skeleton, root, rest[:, 0], rest))
    for seed in range(20):
        lr = vary_pose(rest, np.random.default_rng(seed), 1.0, FPS)
        pose = links_to_panoptic19(skeleton, *forward_kinematics(skeleton, root, rest[:, 0], lr))
        moved = keep_ground_contact(pose, still)
        assert np.linalg.norm(np.diff(moved, axis=0), axis=-1).max() * FPS < 6.0


def test_pose_variation_follows_the_seed(skeleton, train_clips) -> None:
    options = MotionOptions(pose_variation=1.0)

    def person(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return synthesize_motion(train_clips, skeleton, 90, FPS, rng, **KW, options=options)[0]

    np.testing.assert_array_equal(person(3), person(3))
    assert not np.allclose(person(3), person(4))


def test_bad_options_are_refused(skeleton, train_clips) -> None:
    rng = np.random.default_rng(0)
    for options in (MotionOptions(proportions="average"), MotionOptions(pose_variation=-0.1),
                    MotionOptions(pose_variation=3.0)):  # fmt: skip
        with pytest.raises(InputError):
            synthesize_motion(train_clips, skeleton, 10, FPS, rng, **KW, options=options)
    with pytest.raises(InputError, match="proportions"):
        build_scene(SynthConfig(proportions="tall", images=False))
    with pytest.raises(InputError, match="pose-variation"):
        build_scene(SynthConfig(pose_variation=5.0, images=False))


def test_scene_metadata_records_the_body_options(tmp_path: Path) -> None:
    config = SynthConfig(num_cameras=2, num_people=2, num_frames=3, images=False,
                         detections=None, proportions="measured", pose_variation=0.5)  # fmt: skip
    result = generate_dataset(tmp_path / "seq", config)
    meta = json.loads((tmp_path / "seq" / "tessetrack_synth.json").read_text())
    assert meta["proportions"] == "measured" and meta["pose_variation"] == 0.5
    assert all(set(p["proportions"]) >= set(PROPORTION_GROUPS) for p in meta["people"])
    plain = build_scene(SynthConfig(num_cameras=2, num_people=2, num_frames=3, images=False))[1]
    assert all("proportions" not in p for p in plain.people)
    assert result.metadata["proportions"] == "measured"
