"""Synthetic people with measured proportions and pose variation, side by side, and their ratios.

Draws the humanoid and the mean person (real mean proportions) standing, then ``--people`` people
of ``tessetrack synth``'s motion with ``proportions="measured"`` and ``--pose-variation``, each at
its most upright moment of its first clip segment, from the front and from the side (stick
figures, floor frame, metres; left side blue, right side red). Prints the bone-length ratios of
``--samples`` sampled bodies against :data:`tessetrack.synth.motion.REAL_PROPORTIONS`.

Usage::

    python benchmarks/synth_variety.py [--people 8] [--pose-variation 1.0] [--seed 0]

Writes ``benchmarks/results/synth_variety.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _common import RESULTS  # noqa: E402

from tessetrack.skeletons import PANOPTIC19  # noqa: E402
from tessetrack.synth.motion import (  # noqa: E402
    CLIP_SPLITS,
    DEEPMIMIC_JOINTS,
    PROPORTION_GROUPS,
    REAL_PROPORTIONS,
    BodyProportions,
    MotionOptions,
    body_measures,
    clip_to_floor,
    face_offsets,
    forward_kinematics,
    heading_of,
    links_to_panoptic19,
    load_clip,
    load_skeleton,
    mean_proportions,
    proportioned_face,
    proportioned_skeleton,
    sample_proportions,
    synthesize_motion,
)

J = PANOPTIC19.index
FPS = 29.97
AREA = dict(start_xy=np.zeros(2), area_center=np.zeros(2), area_half_size=np.array([3.0, 3.0]))


def _rest_pose(skeleton, face) -> np.ndarray:
    """(19, 3) floor-frame joints of a skeleton standing in its rest pose, soles on the floor."""
    rest = np.zeros((1, len(DEEPMIMIC_JOINTS), 4))
    rest[..., 0] = 1.0
    pos, rot = forward_kinematics(skeleton, np.zeros((1, 3)), rest[:, 0], rest)
    joints = clip_to_floor(links_to_panoptic19(skeleton, pos, rot, face=face))[0]
    joints[:, 2] -= joints[[J("l_ankle"), J("r_ankle")], 2].min() - 0.05
    return joints


def _upright_frame(joints: np.ndarray, info: dict, fade: int) -> int:
    """The frame of the first segment (after its start, before the next cross-fade) where the
    head is highest above the hips."""
    first = info["segments"][0]
    stop = first["frames"] - (fade if len(info["segments"]) > 1 else 0)
    lift = joints[:stop, J("nose"), 2] - joints[:stop, J("mid_hip"), 2]
    return int(np.argmax(lift))


def _body_of(info: dict) -> BodyProportions:
    p = info["proportions"]
    sided = PROPORTION_GROUPS[:6]
    return BodyProportions(
        tuple(p[g] for g in PROPORTION_GROUPS), tuple(p[f"{g}_asymmetry"] for g in sided)
    )


def _people(skeleton, count: int, seed: int, pose_variation: float) -> list[tuple[str, np.ndarray]]:
    """(title, (19, 3) joints facing +x, root over the origin) of the two references and
    ``count`` synthesized people."""
    face = face_offsets("humanoid")
    mean = BodyProportions(tuple(mean_proportions(skeleton).values()), (0.0,) * 6)
    out = []
    for title, sk, own_face in (
        ("humanoid", skeleton, face),
        ("mean person", proportioned_skeleton(skeleton, mean), proportioned_face(face, mean)),
    ):
        height = body_measures(sk, own_face)["stature"]
        out.append((f"{title}\n{height:.2f} m", _rest_pose(sk, own_face)))
    clips = [load_clip(n) for n in CLIP_SPLITS["train"]]
    options = MotionOptions(proportions="measured", pose_variation=pose_variation)
    fade = max(1, int(round(options.crossfade_seconds * FPS)))
    for k in range(count):
        rng = np.random.default_rng(seed + k)
        joints, info = synthesize_motion(clips, skeleton, 150, FPS, rng, **AREA, options=options)
        t = _upright_frame(joints, info, fade)
        pose = joints[t] - np.array([*joints[t, J("mid_hip"), :2], 0.0])
        c, s = np.cos(-heading_of(pose)), np.sin(-heading_of(pose))
        pose = pose @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T
        body = _body_of(info)
        sk, own_face = proportioned_skeleton(skeleton, body), proportioned_face(face, body)
        height = body_measures(sk, own_face)["stature"] * info["scale"]
        out.append((f"{info['segments'][0]['clip']}\n{height:.2f} m", pose))
    return out


def _draw(ax, pose: np.ndarray, across: int) -> None:
    """Stick figure of (19, 3) joints: horizontal axis ``across`` (0: x, side view; 1: y, front
    view), vertical z."""
    for a, b in PANOPTIC19.limb_indices:
        names = PANOPTIC19.joints[a] + PANOPTIC19.joints[b]
        color = "tab:blue" if "l_" in names else "tab:red" if "r_" in names else "black"
        ax.plot(pose[[a, b], across], pose[[a, b], 2], color=color, lw=2)
    ax.scatter(pose[:, across], pose[:, 2], s=6, color="black", zorder=3)
    ax.axhline(0.0, color="0.6", lw=1)
    ax.set_xlim(-1.0, 1.0)
    ax.set_ylim(-0.05, 2.0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([0, 0.5, 1.0, 1.5])


def _print_ratios(skeleton, samples: int, seed: int) -> None:
    """Mean and coefficient of variation of bone-length ratios over ``samples`` sampled bodies,
    against the humanoid and the table."""
    rng = np.random.default_rng(seed)
    face = face_offsets("humanoid")
    people = []
    for _ in range(samples):
        body = sample_proportions(rng, skeleton)
        people.append(
            body_measures(proportioned_skeleton(skeleton, body), proportioned_face(face, body))
        )
    human = body_measures(skeleton)
    ref = {g: REAL_PROPORTIONS[g][0] for g in PROPORTION_GROUPS}
    rows = [(f"{g} / stature", g, "stature", ref[g]) for g in PROPORTION_GROUPS]
    rows += [
        ("forearm / upper arm", "forearm", "upper_arm", ref["forearm"] / ref["upper_arm"]),
        ("shank / thigh", "shank", "thigh", ref["shank"] / ref["thigh"]),
        ("hip / shoulder breadth", "hip_breadth", "shoulder_breadth",
         ref["hip_breadth"] / ref["shoulder_breadth"]),
    ]  # fmt: skip
    print(f"{samples} sampled bodies (measured proportions) against REAL_PROPORTIONS")
    print(f"{'ratio':28s} {'humanoid':>9s} {'table':>7s} {'sampled':>8s} {'CV':>6s}")
    for label, num, den, table in rows:
        r = np.array([p[num] / p[den] for p in people])
        own = human[num] / human[den]
        print(f"{label:28s} {own:9.3f} {table:7.3f} {r.mean():8.3f} {r.std() / r.mean():6.1%}")
    stature = np.array([p["stature"] for p in people])
    print(f"stature at scale 1: {stature.mean():.3f} m ± {stature.std() / stature.mean():.1%} "
          f"(humanoid {human['stature']:.3f} m; the scale draw 0.85–1.15 comes on top)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=8)
    ap.add_argument("--pose-variation", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--output", type=Path, default=RESULTS / "synth_variety.png")
    args = ap.parse_args()
    skeleton = load_skeleton()
    people = _people(skeleton, args.people, args.seed, args.pose_variation)
    fig, axes = plt.subplots(2, len(people), figsize=(2.0 * len(people), 4.9), squeeze=False)
    for col, (title, pose) in enumerate(people):
        _draw(axes[0, col], pose, across=1)
        _draw(axes[1, col], pose, across=0)
        axes[0, col].set_title(title, fontsize=9)
    axes[0, 0].set_ylabel("front view (m)")
    axes[1, 0].set_ylabel("side view, facing right (m)")
    fig.suptitle(
        f"Measured proportions, pose variation {args.pose_variation:g} "
        "(left side blue, right side red)"
    )
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")
    _print_ratios(skeleton, args.samples, args.seed)


if __name__ == "__main__":
    main()
