"""Joints as precise as the 2D evidence: refine tracked poses from the 2D detections.

The network places joints on its voxel grid (centimetres off); the 2D detections it read are
sharper. For each frame this module

0. keeps one of two tracked people whose joints lie within ``duplicate`` metres of each other on
   average (:func:`drop_duplicates`: trusted tracks first, then the older one): the 3D detector can
   find one person twice, and the two tracks would take turns on their 2D people;
1. pairs every tracked person with, in every view, the 2D person its projected pose explains
   (:func:`match_people`: Hungarian assignment on the mean pixel distance of the confident joints,
   relative to the 2D person's height, gated), reading each 2D person also with its left and right
   swapped and keeping the reading that fits (2D detectors often swap the sides of people seen
   from behind);
2. triangulates every joint from the views that saw it (:func:`robust_triangulate`: confidence-
   weighted DLT on undistorted pixels; the view that reprojects worst is dropped while its error
   exceeds a share of the person's height and at least ``min_views`` remain);
3. keeps the network's joint where fewer than ``min_views`` views agree (the views left after the
   drops must reproject within the tolerance), or where fewer than ``vouch_views`` agree on a
   point over ``max_shift`` from it, unless that point lies at the track's bone length from a
   parent joint that holds (:func:`keep_bone_consistent`, once the bone lengths are known: from
   the frames that triangulated them, else from real people's proportions at the stature the
   person's other bones show);
4. drops a tracked person from a frame when no 2D person of ``min_support`` views is theirs: a
   ghost of the 3D detector (with few views, the rays of different people cross where nobody
   stands). One view suffices for a track that ``min_support`` views support in at least half
   of its frames (a person one camera sees for a while, placed by the network); the others are
   paired again without the dropped ones, as a ghost may have taken a real person's 2D person;
   where a frame lost a trusted track (the network placed the person far off, or missed them)
   between frames within ``root_gap`` before and after that triangulated the track's mid-hip,
   the frame is paired again with the track where it should be: the nearer of those frames'
   pose, moved onto the curve through their mid-hips (:func:`lost_people`; ``keep_lost``),
   paired after the others, each with its own 2D person where they leave it; the new pairing
   is kept only where every person the frame kept stays, paired with the same 2D people
   (several lost tracks of a frame that are refused together are tried one at a time);
5. places the joints the views show but do not triangulate (one view sees them, or the views
   disagree) on one view's ray, at the track's bone length from the parent joint: of the ray's
   two crossings with the bone's sphere, the one nearer where the bone pointed in the nearest
   frames that triangulated both its ends (:func:`bone_directions`, within ``root_gap``
   frames), else the one nearer the network's joint (:func:`place_on_rays`, in a second pass
   once every track's bone lengths are known as in step 3); the mid-hip itself, where no two
   views triangulate it, goes to the point of its ray nearest where the track was between the
   frames that did, on a curve through their positions and velocities (a straight line where
   a side has too few frames to tell a velocity; else nearest the network's mid-hip).

Per-joint scores then say how well the joint is supported (:func:`joint_scores`): the number of
agreeing views and how closely they reproject. Everything is batched over people, joints and
views; cameras travel as the stacked tensors of :func:`tessetrack.geometry.camera.stack_cameras`.

This is written by hand rather than taken from a library: OpenCV's ``triangulatePoints`` takes two
views without weights, and the pairing with tracked 3D poses is ours.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera, pixel_to_ray, project_points, stack_cameras
from tessetrack.geometry.triangulation import reprojection_error, triangulate_undistorted
from tessetrack.ops.assignment import gated_assignment
from tessetrack.ops.suppress import greedy_keep
from tessetrack.skeletons import convert_people, get_joint_set
from tessetrack.structures import FramePoses, PersonPose, Tracks
from tessetrack.tracking.bones import BoneConfig, bone_lengths, bone_tree, stature, stature_shares

__all__ = [
    "RefineConfig",
    "REFINE_MODES",
    "drop_duplicates",
    "person_heights",
    "mirror_index",
    "match_people",
    "robust_triangulate",
    "joint_scores",
    "TrackShape",
    "place_on_rays",
    "bone_directions",
    "keep_bone_consistent",
    "track_shapes",
    "lost_people",
    "refine_frame",
    "frame_support",
    "refine_tracks",
]

#: Values of ``--refine``.
REFINE_MODES = ("triangulate", "none")
#: Share of a bone's length by which a placed or kept joint may miss it.
BONE_SLACK = 0.2
#: Metres in front of a camera a joint must lie to be projected into it when pairing: nearer, a
#: pinhole puts it anywhere (a track's projected height would let any 2D person pass the gate).
MIN_DEPTH = 0.3
#: Frames beyond each end of a gap in a track's mid-hip whose mid-hips, with the end's, give the
#: track's velocity there (:func:`_velocity`).
VELOCITY_FRAMES = 2


@dataclass(frozen=True)
class RefineConfig:
    """Settings of the refinement.

    Attributes:
        min_confidence: 2D joints below this confidence are not used.
        match_gate: a 2D person is a tracked person's only if the mean distance between the
            person's projected joints and the 2D joints is below this share of the 2D height.
        outlier: a view whose reprojection error at a joint exceeds this share of the 2D person's
            height is dropped for that joint (worst first, while ``min_views`` remain).
        min_views: views a joint needs to be triangulated (else the network's joint is kept).
        max_shift: metres a refined joint may lie from the network's; further, the network's
            joint is kept (two views that agree can still both be wrong along their epipolar
            line, which puts the point anywhere in depth), unless ``vouch_views`` views agree
            on it or, with ``one_view``, the point lies at the track's bone length from a parent
            joint that holds (:func:`keep_bone_consistent`).
        vouch_views: views whose agreement on a joint keeps it however far it lies from the
            network's: three rays that meet within the tolerance are not all wrong along one
            epipolar line, as two can be (the network's joint is then the one that is off).
            0: ``max_shift`` holds for every joint; 3 or more (at most ``min_views``: every
            joint that triangulates is kept).
        min_support: views whose 2D person a tracked person must be (of the views that found
            anybody, when fewer do); a tracked person with less is dropped from the frame (a
            ghost of the 3D detector: nothing in the 2D evidence shows it). 0 keeps everyone
            (but one of two duplicates, ``duplicate``).
        trust_share: a track with ``min_support`` views in at least this share of its frames
            needs only one view in the others (:func:`refine_tracks`).
        one_view: use the track's bone lengths: keep the far triangulated joints they vouch for
            (:func:`keep_bone_consistent`), and place the joints the views show but do not
            triangulate on a view's ray (:func:`place_on_rays`); joint sets with a mid-hip, the
            skeleton's root.
        root_gap: frames over which a track's mid-hip is interpolated, and a bone's direction
            carried, for that placement.
        keep_lost: with ``one_view``, a frame that lost a trusted track (no view's 2D person
            matched the network's pose of the person, or the network missed them), between
            frames within ``root_gap`` before and after that triangulated the track's mid-hip,
            is paired again with the track where it should be (:func:`lost_people`).
        duplicate: metres; of two tracked people whose joints lie closer than this on average,
            only one stays in the frame, the trusted track first, then the older one
            (:func:`drop_duplicates`). 0 keeps both.
        proportion_slack: for a bone the track has too few frames to measure (a person seen
            briefly, or a single frame), the length real people's proportions give it at the
            stature the person's other bones show (:func:`~tessetrack.tracking.bones.stature`)
            stands in, and may be missed by this share of it (people differ); 0: such bones
            have no length.
    """

    min_confidence: float = 0.3
    match_gate: float = 0.3
    outlier: float = 0.06
    min_views: int = 2
    max_shift: float = 0.3
    min_support: int = 2
    trust_share: float = 0.5
    one_view: bool = True
    root_gap: int = 15
    keep_lost: bool = True
    duplicate: float = 0.3
    vouch_views: int = 3
    proportion_slack: float = 0.25

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence < 1.0:
            raise InputError(f"min_confidence must lie in [0, 1), got {self.min_confidence}")
        if self.match_gate <= 0 or self.outlier <= 0 or self.max_shift <= 0:
            raise InputError("match_gate, outlier and max_shift must be positive")
        if not 0.0 <= self.proportion_slack < 1.0:
            raise InputError(f"proportion_slack must lie in [0, 1), got {self.proportion_slack}")
        if self.root_gap < 0:
            raise InputError(f"root_gap must be >= 0, got {self.root_gap}")
        if self.min_support < 0:
            raise InputError(f"min_support must be >= 0, got {self.min_support}")
        if self.duplicate < 0:
            raise InputError(f"duplicate must be >= 0, got {self.duplicate}")
        if not 0.0 <= self.trust_share <= 1.0:
            raise InputError(f"trust_share must lie in [0, 1], got {self.trust_share}")
        if self.vouch_views != 0 and self.vouch_views < 3:
            raise InputError(
                f"vouch_views must be 0 or at least 3 (two views can agree wrongly), "
                f"got {self.vouch_views}"
            )
        if self.min_views < 2:
            raise InputError(
                f"min_views must be >= 2 (a joint needs two rays), got {self.min_views}"
            )


def drop_duplicates(joints: Tensor, rank: Tensor, gate: float) -> Tensor:
    """Which of N tracked people to keep when some are one person found twice.

    Walking the people by ``rank`` (lowest first), a person whose mean joint distance (over the
    joints both have, three at least) to a person already kept is under ``gate`` metres is not
    kept.

    Args:
        joints: (N, J, 3) tracked people, NaN where unknown.
        rank: (N,) order of preference (e.g. untrusted after trusted, then the track's id: ids
            grow with each new track, so the lower one is older).
        gate: metres; 0 keeps everyone.

    Returns:
        (N,) bool, True for the people kept.
    """
    n = joints.shape[0]
    keep = torch.ones(n, dtype=torch.bool)
    if n < 2 or gate <= 0:
        return keep
    dist = (joints[:, None] - joints[None]).norm(dim=-1)  # N×N×J
    both = torch.isfinite(dist)
    mean = torch.where(both, dist, 0.0).sum(-1) / both.sum(-1).clamp_min(1)  # N×N
    close = (mean < gate) & (both.sum(-1) >= 3)  # three joints in common, at least
    return torch.from_numpy(
        greedy_keep(close.cpu().numpy(), torch.argsort(rank, stable=True).tolist())
    )


def person_heights(dets: Tensor, min_confidence: float) -> Tensor:
    """(..., J, 3) 2D people → (...,) their height in pixels: the vertical extent of the confident
    joints (at least 1 px; 1 px when fewer than two joints are confident)."""
    ok = dets[..., 2] >= min_confidence
    v = dets[..., 1]
    top = torch.where(ok, v, torch.full_like(v, float("inf"))).amin(-1)
    bottom = torch.where(ok, v, torch.full_like(v, float("-inf"))).amax(-1)
    h = bottom - top
    return torch.where(torch.isfinite(h), h, torch.ones_like(h)).clamp_min(1.0)


def mirror_index(joint_set: str) -> Tensor:
    """(J,) permutation that swaps every ``l_x`` joint with its ``r_x`` joint (a left/right swap,
    a 2D detector's commonest confusion for people seen from behind)."""
    js = get_joint_set(joint_set)
    perm = list(range(js.num_joints))
    for a, b in js.flip_pairs:
        perm[a], perm[b] = b, a
    return torch.tensor(perm)


def match_people(
    projected: Tensor,
    in_front: Tensor,
    dets: Tensor,
    config: RefineConfig,
    mirror: Tensor | None = None,
    whole: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Which 2D person of one view each tracked person is (Hungarian, gated).

    The cost of a pair is the mean distance of the joints the 2D person shows over its height in
    pixels. A 2D person cut by the image's edge (or half hidden) shows less than its height, so for
    the people ``whole`` marks the height is at least that of their own projection.

    Args:
        projected: (N, J, 2) tracked people's joints projected into the view.
        in_front: (N, J) whether each joint lies in front of the camera (by :data:`MIN_DEPTH`).
        dets: (P, J, 3) the view's 2D people (u, v, confidence), same joint set.
        config: gate and confidence threshold.
        mirror: (J,) left/right swap (:func:`mirror_index`); each 2D person is then also tried
            with its sides swapped, and the better reading is kept.
        whole: (N,) tracked people whose projection measures their height in the view (tracks the
            2D evidence usually supports; a ghost's projection says nothing). None: nobody.

    Returns:
        match (N,) long: the matched 2D person's index, or -1; swapped (N,) bool: whether the
        match fits with its left and right swapped.
    """
    n, p = projected.shape[0], dets.shape[0]
    out = torch.full((n,), -1, dtype=torch.long)
    swapped = torch.zeros(n, dtype=torch.bool)
    if n == 0 or p == 0:
        return out, swapped

    floor = torch.ones(n, dtype=projected.dtype)  # N: the least height in pixels
    if whole is not None:
        seen = in_front & torch.isfinite(projected).all(-1)  # N×J
        shown = torch.cat([torch.nan_to_num(projected), seen[..., None].to(projected.dtype)], -1)
        own = person_heights(shown, 0.5)  # N: the projection's vertical extent
        floor = torch.where(whole, own, floor)

    def costs(d: Tensor) -> Tensor:  # P×J×3 -> N×P
        ok = (d[None, :, :, 2] >= config.min_confidence) & in_front[:, None]  # N×P×J
        dist = (projected[:, None] - d[None, :, :, :2]).norm(dim=-1)  # N×P×J
        mean = (dist * ok).sum(-1) / ok.sum(-1).clamp_min(1)  # N×P
        height = torch.maximum(person_heights(d, config.min_confidence)[None], floor[:, None])
        cost = mean / height  # N×P
        return torch.where(ok.sum(-1) >= 3, cost, torch.full_like(cost, float("inf")))

    cost = costs(dets)
    flip = torch.zeros_like(cost, dtype=torch.bool)
    if mirror is not None:
        cost_m = costs(dets[:, mirror])
        flip = cost_m < cost
        cost = torch.minimum(cost, cost_m)
    c = cost.double().numpy()
    ok = c < config.match_gate  # NaN (no joint to compare) and the gate's own value: refused
    rows, cols = gated_assignment(c, ok, config.match_gate)
    for r, col in zip(rows, cols, strict=True):
        out[r] = int(col)
        swapped[r] = bool(flip[r, col])
    return out, swapped


def robust_triangulate(
    uv: Tensor, weights: Tensor, cams: Mapping[str, Tensor], tolerance: Tensor, min_views: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Confidence-weighted triangulation that drops the worst view while it disagrees.

    Args:
        uv: (N, J, V, 2) raw pixels.
        weights: (N, J, V) confidences; 0 = the view did not see the joint.
        cams: stacked cameras (``K`` (V,3,3), ``R``, ``t``, ``dist``) in uv's dtype.
        tolerance: (N, J) or (N, 1) pixel error beyond which a view is an outlier.
        min_views: views a point needs.

    Returns:
        points (N, J, 3), views (N, J) the number of views kept (0 where fewer than
        ``min_views``: the point is then meaningless), error (N, J) mean reprojection error of
        the kept views in pixels.
    """
    K, R, t, dist = cams["K"], cams["R"], cams["t"], cams["dist"]
    w = weights.clone()
    v_total = uv.shape[2]
    for _ in range(max(v_total - min_views, 0) + 1):
        active = w > 0
        pts = triangulate_undistorted(uv, K, R, t, dist, weights=w)  # N×J×3
        err = reprojection_error(pts, uv, K, R, t, dist)  # N×J×V
        err = torch.where(active, err, torch.zeros_like(err))
        worst_err, worst = err.max(-1)  # N×J
        drop = (worst_err > tolerance) & (active.sum(-1) > min_views)
        if not bool(drop.any()):
            break
        w = torch.where(
            drop[..., None] & (torch.arange(v_total) == worst[..., None]), torch.zeros_like(w), w
        )
    active = w > 0
    n_views = active.sum(-1)
    pts = triangulate_undistorted(uv, K, R, t, dist, weights=w)
    err = reprojection_error(pts, uv, K, R, t, dist)
    mean_err = (err * active).sum(-1) / n_views.clamp_min(1)
    ok = (n_views >= min_views) & torch.isfinite(pts).all(-1)
    return pts, torch.where(ok, n_views, torch.zeros_like(n_views)), mean_err


@dataclass(frozen=True)
class TrackShape:
    """What a track knows of its person at one frame, for the joints the views do not triangulate.

    Attributes:
        lengths: (E,) the person's bone lengths in :func:`~tessetrack.tracking.bones.bone_tree`
            order, metres (NaN: unknown).
        root: (3,) where the person's mid-hip should be at this frame (between the frames that
            triangulated it), metres; NaN: unknown.
        slack: (E,) share of each length a placed or kept joint may miss it by (the track's
            own lengths are tighter than those from real people's proportions).
        directions: (E, 3) unit direction of each bone, parent to child, in the nearest frames
            (within ``root_gap``) that triangulated both its ends (between them where there are
            such frames on both sides; :func:`bone_directions`); NaN: unknown. None: nowhere
            known.
    """

    lengths: np.ndarray
    root: np.ndarray
    slack: np.ndarray
    directions: np.ndarray | None = None


def _has_root(joint_set: str) -> bool:
    """Whether the joint set has the mid-hip the placement walks the skeleton from."""
    return "mid_hip" in get_joint_set(joint_set).joints


def _on_rays(
    origin: Tensor, direction: Tensor, centre: Tensor, radius: Tensor, guide: Tensor
) -> tuple[Tensor, Tensor]:
    """(..., 3) rays ``origin + s·direction`` against spheres of ``radius`` (...,) around
    ``centre`` (..., 3): of the two crossings, the one nearer ``guide`` (..., 3); where the ray
    misses the sphere, its point nearest the centre. Returns the points (..., 3) and whether they
    are finite and in front of the camera (...,)."""
    rel = origin - centre
    half_b = (direction * rel).sum(-1)
    disc = half_b**2 - ((rel * rel).sum(-1) - radius**2)
    root = torch.sqrt(disc.clamp_min(0))
    s1, s2 = -half_b - root, -half_b + root
    g = torch.nan_to_num(guide)
    d1 = (origin + s1[..., None] * direction - g).norm(dim=-1)
    d2 = (origin + s2[..., None] * direction - g).norm(dim=-1)
    s = torch.where(disc >= 0, torch.where(d1 <= d2, s1, s2), -half_b)
    point = origin + s[..., None] * direction
    return point, (s > 0) & torch.isfinite(point).all(-1)


def place_on_rays(
    joints: Tensor,
    placed: Tensor,
    uv: Tensor,
    w: Tensor,
    cams: Mapping[str, Tensor],
    tree: Sequence[tuple[int, int]],
    lengths: Tensor,
    root: Tensor,
    *,
    slack: float | Tensor = BONE_SLACK,
    root_gate: float = 0.3,
    directions: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Joints the views do not triangulate, placed on one view's ray by the person's bone lengths.

    The tree's root, where it is not placed, goes to the point of its ray nearest ``root`` (if
    within ``root_gate`` metres). Then, walking the skeleton outwards, a joint not placed whose
    parent is goes where a view's ray through it meets the sphere of the bone's length around
    the parent (of the two crossings, the one nearer the guide: ``parent + length · direction``
    where ``directions`` knows the bone's, else the joint's current position). Views whose ray
    misses that sphere by more than ``slack`` of the length are not used (a wrong 2D joint); of
    the others, the one whose point lies nearest the guide places it (where views disagree, the
    guide decides between them; the root's: nearest ``root``). A joint with no known direction
    and a NaN current position is not placed.

    Args:
        joints: (N, J, 3) current joints (triangulated where ``placed``, the network's elsewhere).
        placed: (N, J) joints known well.
        uv: (N, J, V, 2) each person's paired 2D joints; w: (N, J, V) their confidences (0: none).
        cams: the views' stacked cameras.
        tree: (parent, child) joint pairs, parents first (:func:`~tessetrack.tracking.bones.bone_tree`).
        lengths: (N, E) bone lengths in ``tree``'s order, NaN where unknown.
        root: (N, 3) where each person's root should be, NaN where unknown.
        slack: share of each length a ray may miss it by; a number, or (N, E) per bone.
        directions: (N, E, 3) unit bone directions from nearby frames (NaN: unknown;
            :func:`bone_directions`): a person's limbs turn little between frames, while the
            network's joint can be a voxel or more off.

    Returns:
        joints with the new ones, and (N, J) which joints were placed here.
    """
    joints, known = joints.clone(), placed.clone()
    new = torch.zeros_like(placed)

    def put(b: int, todo: Tensor, centre: Tensor, radius: Tensor, slack_m: Tensor,
            guide: Tensor) -> None:  # fmt: skip
        point, todo = _nearest_crossing(uv[:, b], w[:, b], cams, todo, centre, radius, slack_m,
                                        guide)  # fmt: skip
        joints[:, b] = torch.where(todo[:, None], point, joints[:, b])
        known[:, b] |= todo
        new[:, b] |= todo

    slacks = torch.as_tensor(slack, dtype=lengths.dtype, device=lengths.device)
    slacks = slacks.expand_as(lengths)  # N×E
    if tree:
        r = tree[0][0]
        zero = torch.zeros_like(lengths[:, 0])
        put(r, ~known[:, r], torch.nan_to_num(root), zero, zero + root_gate, root)
    for e, (a, b) in enumerate(tree):
        length = torch.nan_to_num(lengths[:, e])
        guide = joints[:, b]
        if directions is not None:
            ahead = joints[:, a] + length[:, None] * directions[:, e]
            guide = torch.where(torch.isfinite(ahead).all(-1, keepdim=True), ahead, guide)
        put(b, ~known[:, b] & known[:, a] & torch.isfinite(lengths[:, e]), joints[:, a], length,
            slacks[:, e] * length, guide)  # fmt: skip
    return joints, new


def _nearest_crossing(
    uv: Tensor,
    w: Tensor,
    cams: Mapping[str, Tensor],
    todo: Tensor,
    centre: Tensor,
    radius: Tensor,
    slack_m: Tensor,
    guide: Tensor,
) -> tuple[Tensor, Tensor]:
    """One joint of N people placed on a view's ray (:func:`place_on_rays`).

    Args:
        uv: (N, V, 2) the joint's 2D positions; w: (N, V) their confidences (0: none).
        cams: the views' stacked cameras.
        todo: (N,) people whose joint is to be placed.
        centre: (N, 3) sphere centres (the parent joints); radius, slack_m: (N,) metres.
        guide: (N, 3) the point that picks a crossing and a view (NaN: none).

    Returns:
        (N, 3) the chosen points and (N,) where one was found (``todo`` and a guide and a view
        whose ray reaches the sphere within the slack).
    """
    todo = todo & torch.isfinite(guide).all(-1)  # nothing to choose a crossing by
    if not bool(todo.any()):
        return guide, todo
    origin, direction = pixel_to_ray(uv, cams["K"], cams["R"], cams["t"], cams["dist"])  # N×V×3
    v = uv.shape[1]
    guide = torch.nan_to_num(guide)
    point, ok = _on_rays(origin, direction, centre[:, None].expand(-1, v, -1),
                         radius[:, None].expand(-1, v), guide[:, None].expand(-1, v, -1))  # fmt: skip
    ok &= (point - centre[:, None]).norm(dim=-1) <= (radius + slack_m)[:, None]  # N×V
    far = (point - guide[:, None]).norm(dim=-1)  # N×V
    far = torch.where(ok & (w > 0), far, torch.full_like(far, float("inf")))
    nearest, k = far.min(-1)
    return point[torch.arange(point.shape[0]), k], todo & torch.isfinite(nearest)


def keep_bone_consistent(
    pts: Tensor,
    candidate: Tensor,
    good: Tensor,
    tree: Sequence[tuple[int, int]],
    lengths: Tensor,
    *,
    slack: float | Tensor = BONE_SLACK,
) -> Tensor:
    """Triangulated joints kept although they lie far from the network's, where the skeleton
    vouches for them.

    ``max_shift`` keeps the network's joint where the views agree on a point far from it, as
    two views can both be wrong along their epipolar line. Where the network's joint is the one
    that is wrong (a head or limb a voxel or more off, common with few views), that throws a good
    point away. A point the views agree on that also lies at the track's bone length from a
    parent joint that holds is unlikely to be such a double error, and is kept, walking the
    skeleton outwards so that a kept joint vouches for its children.

    Args:
        pts: (N, J, 3) triangulated points.
        candidate: (N, J) joints the views agree on but the shift limit rejected.
        good: (N, J) joints that hold.
        tree: (parent, child) joint pairs, parents first (:func:`~tessetrack.tracking.bones.bone_tree`).
        lengths: (N, E) bone lengths in ``tree``'s order; NaN where unknown (nothing kept).
        slack: share of each length a kept joint may miss it by; a number, or (N, E) per bone.

    Returns:
        (N, J) ``good`` with the candidates the skeleton vouches for.
    """
    good = good.clone()
    slacks = torch.as_tensor(slack, dtype=lengths.dtype, device=lengths.device)
    slacks = slacks.expand_as(lengths)  # N×E
    for e, (a, b) in enumerate(tree):
        length = lengths[:, e]
        miss = ((pts[:, b] - pts[:, a]).norm(dim=-1) - length).abs()  # NaN: not kept
        good[:, b] |= candidate[:, b] & good[:, a] & (miss <= slacks[:, e] * length)
    return good


def joint_scores(n_views: Tensor, error: Tensor, tolerance: Tensor) -> Tensor:
    """(N, J) support of triangulated joints in [0, 1]: ``(1 - 2^-(views-1)) · exp(-(error /
    tolerance)²)``; 0 for joints with fewer than two views."""
    agree = 1.0 - torch.pow(2.0, -(n_views.to(error.dtype) - 1.0))
    fit = torch.exp(-((error / tolerance.clamp_min(1e-6)) ** 2))
    return torch.where(n_views >= 2, agree * fit, torch.zeros_like(error))


def _converted(dets: np.ndarray, source: str, joint_set: str) -> Tensor:
    """(P, J, 3) float64 2D people of one view in ``joint_set``; (0, J, 3) when there are none."""
    dets = np.asarray(dets, dtype=np.float64)
    if dets.ndim != 3 or dets.shape[0] == 0:
        return torch.zeros(0, get_joint_set(joint_set).num_joints, 3, dtype=torch.float64)
    return torch.tensor(convert_people(dets, source, joint_set), dtype=torch.float64)


def _views(
    names: Sequence[str],
    detections: Mapping[str, np.ndarray],
    cameras: Mapping[str, Camera],
    detections_joint_set: str,
    joint_set: str,
) -> tuple[dict[str, Tensor], list[Tensor]]:
    """The named views' stacked cameras (float64) and their 2D people in ``joint_set``."""
    cams = stack_cameras([cameras[c] for c in names], dtype=torch.float64)
    return cams, [_converted(detections[c], detections_joint_set, joint_set) for c in names]


def _views_with_people(dets: Sequence[Tensor], config: RefineConfig) -> int:
    """How many views hold a 2D person that can be paired: one with 3 or more confident joints
    (per view, (P, J, 3) people)."""
    return sum(
        bool(((d[..., 2] >= config.min_confidence).sum(-1) >= 3).any()) for d in dets if len(d)
    )


def _pair_views(
    joints: Tensor,
    dets: Sequence[Tensor],
    cams: Mapping[str, Tensor],
    mirror: Tensor,
    config: RefineConfig,
    whole: Tensor | None = None,
    later: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Each tracked person's 2D person in every view (:func:`match_people`).

    Args:
        joints: (N, J, 3) tracked people, NaN where unknown.
        dets: per view, (P, J, 3) 2D people in the people's joint set.
        cams: the views' stacked cameras.
        mirror: (J,) left/right swap.
        whole: (N,) people whose projection measures their 2D height (:func:`match_people`).
        later: (N,) people paired after the others, each only with the 2D person it matches
            where the others leave it (guessed poses, which must not take a 2D person from a
            person the network placed, nor fall back on another one; :func:`_match_in_turn`).
            None: nobody.

    Returns:
        uv (N, J, V, 2) the paired 2D joints, w (N, J, V) their confidences (0: unpaired or not
        confident), heights (N, V) the paired 2D people's heights in pixels (1 where unpaired).
    """
    n, j = joints.shape[:2]
    v = len(dets)
    f64 = joints.dtype
    uv = torch.zeros(n, j, v, 2, dtype=f64)
    w = torch.zeros(n, j, v, dtype=f64)
    heights = torch.ones(n, v, dtype=f64)
    finite = torch.isfinite(joints).all(-1)  # N×J
    safe = torch.nan_to_num(joints)
    for k, converted in enumerate(dets):
        if converted.shape[0] == 0:
            continue
        R, t = cams["R"][k], cams["t"][k]
        depth = (safe @ R.T + t)[..., 2]  # N×J
        projected = project_points(safe, cams["K"][k], R, t, cams["dist"][k])  # N×J×2
        near = (depth > MIN_DEPTH) & finite  # N×J: joints that project meaningfully
        match, swapped = _match_in_turn(projected, near, converted, config, mirror, whole, later)
        for i in range(n):
            if match[i] >= 0:
                d = converted[match[i]]
                d = d[mirror] if swapped[i] else d
                uv[i, :, k] = d[:, :2]
                w[i, :, k] = torch.where(d[:, 2] >= config.min_confidence, d[:, 2], 0.0)
                heights[i, k] = person_heights(d, config.min_confidence)
    return uv, w, heights


def _match_in_turn(
    projected: Tensor,
    in_front: Tensor,
    dets: Tensor,
    config: RefineConfig,
    mirror: Tensor,
    whole: Tensor | None,
    later: Tensor | None,
) -> tuple[Tensor, Tensor]:
    """:func:`match_people` of one view, the people ``later`` (N,) marks paired after the others:
    among themselves, with all the view's 2D people, each keeping its pair only where the others
    left that 2D person (where another person holds it, theirs is hidden or elsewhere: a second
    choice would be somebody else's). Returns match (N,) (-1: none) and swapped (N,)."""
    if later is None or not bool(later.any()) or bool(later.all()):
        return match_people(projected, in_front, dets, config, mirror, whole)
    match = torch.full((projected.shape[0],), -1, dtype=torch.long)
    swapped = torch.zeros(projected.shape[0], dtype=torch.bool)
    free = torch.ones(dets.shape[0], dtype=torch.bool)
    for turn in (~later, later):
        who = turn.nonzero().flatten()
        m, s = match_people(projected[who], in_front[who], dets, config, mirror,
                            None if whole is None else whole[who])  # fmt: skip
        hit = (m >= 0) & free[m.clamp_min(0)]
        match[who[hit]] = m[hit]
        swapped[who[hit]] = s[hit]
        free[m[hit]] = False
    return match, swapped


def _support(
    people: Sequence[PersonPose],
    dets: Sequence[Tensor],
    cams: Mapping[str, Tensor],
    joint_set: str,
    config: RefineConfig,
) -> Tensor:
    """(N,) how many views' 2D person is each of N tracked people's (:func:`_pair_views`, no
    whole-track height)."""
    joints = torch.tensor(np.stack([p.joints for p in people]), dtype=torch.float64)  # N×J×3
    w = _pair_views(joints, dets, cams, mirror_index(joint_set), config)[1]
    return (w.amax(1) > 0).sum(-1)


def refine_frame(
    people: Sequence[PersonPose],
    detections: Mapping[str, np.ndarray],
    cameras: Mapping[str, Camera],
    *,
    detections_joint_set: str,
    joint_set: str,
    config: RefineConfig | None = None,
    trusted: Collection[int] = (),
    shapes: Mapping[int, TrackShape] | None = None,
) -> tuple[PersonPose, ...]:
    """One frame's tracked people refined from the frame's 2D detections (see the module docstring).

    Args:
        people: tracked people (joints in ``joint_set``, metres).
        detections: camera name → (P, J', 3) 2D people in that camera's pixels.
        cameras: camera name → camera (views without one are skipped).
        detections_joint_set, joint_set: joint sets of the detections and of the people.
        config: refinement settings.
        trusted: ids of tracks the 2D evidence usually supports (:func:`refine_tracks`): one
            view of support keeps them (a person one camera sees, placed by the network).
        shapes: track id → what the track knows of its person at this frame; with it, far
            triangulated joints the bone lengths vouch for are kept (:func:`keep_bone_consistent`)
            and joints the views show but do not triangulate are placed on a view's ray
            (:func:`place_on_rays`).

    Returns:
        the people with refined joints and per-joint scores (network joints and their scores,
        halved, where fewer than ``min_views`` views agree and no view places them; half the
        joint's highest 2D confidence where a view places them).
    """
    config = config or RefineConfig()
    fit = _fit_frame(people, detections, cameras, detections_joint_set=detections_joint_set,
                     joint_set=joint_set, config=config, trusted=trusted)  # fmt: skip
    return tuple(people) if fit is None else _poses(fit, joint_set, shapes)


@dataclass(frozen=True)
class _Fit:
    """One frame's people paired with the views' 2D people and triangulated: the people kept
    (N), their network joints (N, J, 3), paired 2D joints uv (N, J, V, 2) and confidences w
    (N, J, V), the views' stacked cameras, the triangulated points (N, J, 3), which of them hold
    (N, J), their scores (N, J), and which the views agree on but lie beyond ``max_shift`` from
    the network's joints (N, J)."""

    people: tuple[PersonPose, ...]
    joints: Tensor
    uv: Tensor
    w: Tensor
    cams: Mapping[str, Tensor]
    pts: Tensor
    good: Tensor
    scores: Tensor
    shifted: Tensor

    @property
    def pending(self) -> np.ndarray:
        """(N,) people with joints the views show but do not triangulate."""
        return ((self.w.sum(-1) > 0) & ~self.good).any(-1).numpy()


def _fit_frame(
    people: Sequence[PersonPose],
    detections: Mapping[str, np.ndarray],
    cameras: Mapping[str, Camera],
    *,
    detections_joint_set: str,
    joint_set: str,
    config: RefineConfig,
    trusted: Collection[int],
    guessed: Collection[int] = (),
) -> _Fit | None:
    """Steps 0-4 of the module docstring for one frame (step 3 without the bone lengths); None
    where there are no people or fewer than ``min_views`` views have a camera (nothing to
    refine). The people of ``guessed`` ids are paired after the others (:func:`_match_in_turn`)."""
    names = [c for c in detections if c in cameras]
    if not people or len(names) < config.min_views:
        return None
    cams, dets = _views(names, detections, cameras, detections_joint_set, joint_set)
    # views that found anybody: a person needs the support of min_support of them (or all)
    need = min(config.min_support, _views_with_people(dets, config))
    joints = torch.tensor(np.stack([p.joints for p in people]), dtype=torch.float64)  # N×J×3
    known = torch.tensor([p.id in trusted for p in people], dtype=torch.bool)  # N
    # trusted tracks first, then the older (lower id); rank = each person's place in that order
    order = sorted(range(len(people)), key=lambda i: (people[i].id not in trusted, people[i].id))
    stay = drop_duplicates(joints, torch.argsort(torch.tensor(order)), config.duplicate)
    mirror = mirror_index(joint_set)
    while True:
        people = [p for p, k in zip(people, stay.tolist(), strict=True) if k]
        joints, known = joints[stay], known[stay]
        later = torch.tensor([p.id in guessed for p in people], dtype=torch.bool)
        uv, w, heights = _pair_views(joints, dets, cams, mirror, config, whole=known, later=later)
        support = (w.amax(1) > 0).sum(-1)  # N: views whose 2D person is theirs
        weak = (support < need) & ~(known & (support > 0))
        if not bool(weak.any()) or bool(weak.all()):
            break
        # nothing in the 2D evidence shows them (ghosts of the 3D detector); the others are
        # paired again without them, as a ghost may have taken a real person's 2D person
        stay = ~weak
    if bool(weak.all()):  # nobody left
        none = torch.zeros(joints.shape[:2], dtype=torch.bool)[:0]
        return _Fit((), joints[:0], uv[:0], w[:0], cams, joints[:0], none, none.double(), none)
    n, j = joints.shape[:2]
    seen = w.sum(-1) > 0  # N×J
    height = torch.where(w.amax(1) > 0, heights, torch.nan).nanmedian(-1).values  # N
    height = torch.nan_to_num(height, nan=1.0)
    tol = (config.outlier * height)[:, None].expand(n, j)  # N×J
    pts, n_views, err = robust_triangulate(uv, w, cams, tol, config.min_views)
    # the views left must agree: two that still disagree (one of them grossly wrong) give a point
    # anywhere along their rays, and the network's joint is kept instead
    agreed = (n_views >= config.min_views) & seen & (err <= tol)
    # NaN network joints: no limit; enough views that agree: no limit either
    vouched = (n_views >= config.vouch_views) if config.vouch_views else torch.zeros_like(agreed)
    good = agreed & (~((pts - joints).norm(dim=-1) > config.max_shift) | vouched)
    scores = joint_scores(n_views, err, tol)
    return _Fit(tuple(people), joints, uv, w, cams, pts, good, scores, agreed & ~good)


def _poses(
    fit: _Fit, joint_set: str, shapes: Mapping[int, TrackShape] | None
) -> tuple[PersonPose, ...]:
    """The refined people of a fit; with ``shapes``, the far joints the bone lengths vouch for
    kept (step 3), then the joints the views show but do not triangulate placed (step 5)."""
    pts, good, scores = fit.pts, fit.good, fit.scores
    if shapes and _has_root(joint_set) and bool(fit.pending.any()):
        tree = bone_tree(joint_set)
        unknown = TrackShape(np.full(len(tree), np.nan), np.full(3, np.nan),
                             np.full(len(tree), BONE_SLACK))  # fmt: skip
        shape = [shapes.get(p.id, unknown) for p in fit.people]
        lengths = torch.tensor(np.stack([s.lengths for s in shape]), dtype=pts.dtype)  # N×E
        slack = torch.tensor(np.stack([s.slack for s in shape]), dtype=pts.dtype)  # N×E
        root = torch.tensor(np.stack([s.root for s in shape]), dtype=pts.dtype)  # N×3
        root = torch.where(torch.isfinite(root), root, fit.joints[:, tree[0][0]])  # else the net's
        nowhere = np.full((len(tree), 3), np.nan)
        directions = torch.tensor(
            np.stack([nowhere if s.directions is None else s.directions for s in shape]),
            dtype=pts.dtype,
        )  # N×E×3
        good = keep_bone_consistent(pts, fit.shifted, good, tree, lengths, slack=slack)
        current = torch.where(good[..., None], pts, fit.joints)
        placed, one = place_on_rays(current, good, fit.uv, fit.w, fit.cams, tree, lengths, root,
                                    slack=slack, directions=directions)  # fmt: skip
        pts = torch.where(one[..., None], placed, pts)
        scores = torch.where(one, 0.5 * fit.w.amax(-1), scores)
        good = good | one
    out = []
    for i, person in enumerate(fit.people):
        new = person.joints.copy()
        keep = good[i].numpy()
        new[keep] = pts[i][keep].numpy()
        n_joints = len(new)
        old = np.ones(n_joints) if person.scores is None else np.asarray(person.scores, float)
        s = np.where(keep, scores[i].numpy(), 0.5 * old)
        out.append(PersonPose(person.id, new, np.clip(s, 0.0, 1.0)))
    return tuple(out)


def frame_support(
    people: Sequence[PersonPose],
    detections: Mapping[str, np.ndarray],
    cameras: Mapping[str, Camera],
    *,
    detections_joint_set: str,
    joint_set: str,
    config: RefineConfig,
) -> np.ndarray | None:
    """Whether each of a frame's tracked people is the 2D person of ``config.min_support`` views.

    Args:
        people: the frame's N tracked people; detections: camera name → (P, J', 3) 2D people;
            cameras: camera name → camera.

    Returns:
        (N,) bool, or None where the frame cannot tell (fewer than ``min_support`` views hold a
        2D person that can be paired). Pairing is done once, with every tracked person present
        (duplicates too) and without the whole-track height of :func:`match_people`: a person
        whose 2D person a ghost or a duplicate takes counts as unsupported here (a stricter count
        than :func:`refine_frame`'s, which pairs again without them).
    """
    names = [c for c in detections if c in cameras]
    if not people or len(names) < max(config.min_views, config.min_support):
        return None
    cams, dets = _views(names, detections, cameras, detections_joint_set, joint_set)
    if _views_with_people(dets, config) < config.min_support:
        return None
    support = _support(people, dets, cams, joint_set, config)
    return (support >= config.min_support).numpy()


def _velocity(known: np.ndarray, i: int, step: int, at: Mapping[int, np.ndarray]) -> np.ndarray:
    """(3,) per-frame velocity of the points ``at`` near frame ``known[i]`` (``known``
    increasing): the slope of a straight line fitted to that frame and the known frames up to
    ``VELOCITY_FRAMES`` frames from it on one side (``step`` -1: before, +1: after), which must
    be ``VELOCITY_FRAMES + 1`` frames in all (with 2: three consecutive frames, a slope of half
    the difference of the outer two); else NaN (too few to tell a velocity from the noise).
    """
    f0 = int(known[i])
    side = (
        known[max(i - VELOCITY_FRAMES, 0) : i + 1]
        if step < 0
        else known[i : i + VELOCITY_FRAMES + 1]
    )
    near = [int(f) for f in side if abs(int(f) - f0) <= VELOCITY_FRAMES]
    if len(near) < VELOCITY_FRAMES + 1:
        return np.full(3, np.nan)
    t = np.array(near, dtype=float) - f0
    x = np.stack([at[f] for f in near])
    t0 = t - t.mean()
    return (t0[:, None] * (x - x.mean(0))).sum(0) / (t0**2).sum()


def _between(known: np.ndarray, k: int, at: Mapping[int, np.ndarray], f: int) -> np.ndarray:
    """(3,) the root at frame ``f`` between the known frames ``known[k-1]`` and ``known[k]``
    (``known`` increasing): a cubic Hermite curve through both, with the velocities there
    (:func:`_velocity`), departing from the straight line between them by at most that line's
    length; the straight line where a side has too few frames to tell a velocity."""
    a, b = int(known[k - 1]), int(known[k])
    u = (f - a) / (b - a)
    line = (1 - u) * at[a] + u * at[b]
    va, vb = _velocity(known, k - 1, -1, at), _velocity(known, k, 1, at)
    if not (np.isfinite(va).all() and np.isfinite(vb).all()):
        return line
    h00, h10 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u
    h01, h11 = -2 * u**3 + 3 * u**2, u**3 - u**2
    curve = h00 * at[a] + h10 * (b - a) * va + h01 * at[b] + h11 * (b - a) * vb
    # a person who hardly moved: the velocities are mostly the triangulation's noise, which the
    # curve would carry far over a long gap; it departs from the line by at most the line's length
    off = curve - line
    size, cap = float(np.linalg.norm(off)), float(np.linalg.norm(at[b] - at[a]))
    return line + off * (cap / size) if size > cap else curve


def _inside_gap(known: np.ndarray, f: int, gap: int) -> int | None:
    """``k`` where frame ``f`` lies strictly between ``known[k-1]`` and ``known[k]`` (``known``
    increasing), at most ``gap`` frames from each; else None (``f`` known, outside, or too far)."""
    k = int(np.searchsorted(known, f))
    if not 0 < k < len(known) or known[k] == f:
        return None
    return k if f - known[k - 1] <= gap and known[k] - f <= gap else None


def bone_directions(
    frames: np.ndarray,
    joints: np.ndarray,
    triangulated: np.ndarray,
    tree: Sequence[tuple[int, int]],
    gap: int,
) -> np.ndarray:
    """Each bone's direction at each of a track's frames, from the frames that triangulated both
    its ends.

    Args:
        frames: (F,) the track's frame ids, increasing.
        joints: (F, J, 3) its joints; triangulated: (F, J) which of them were triangulated.
        tree: (parent, child) joint pairs (:func:`~tessetrack.tracking.bones.bone_tree`).
        gap: frames a direction is carried over.

    Returns:
        (F, E, 3) unit directions, parent to child: a frame's own where it triangulated both
        ends; else the nearest such frames' within ``gap`` frames before and after, interpolated
        by time where there are both; NaN where there are none, or where the bone turned by more
        than 120° between the two (which way it went is unknown).
    """
    frames = np.asarray(frames, dtype=np.int64)
    joints = np.asarray(joints, dtype=float)
    triangulated = np.asarray(triangulated, dtype=bool)
    if joints.shape[:1] != frames.shape or triangulated.shape != joints.shape[:2]:
        raise ValueError(
            f"frames {frames.shape}, joints {joints.shape} and triangulated "
            f"{triangulated.shape} do not describe the same (F, J) frames and joints"
        )
    out = np.full((len(frames), len(tree), 3), np.nan)
    for e, (a, b) in enumerate(tree):
        d = joints[:, b] - joints[:, a]
        n = np.linalg.norm(d, axis=-1)
        ok = triangulated[:, a] & triangulated[:, b] & np.isfinite(n) & (n > 1e-9)
        if not ok.any():
            continue
        unit = d[ok] / n[ok, None]
        at = frames[ok]
        k = np.searchsorted(at, frames)  # first known frame at or after each frame
        after = np.minimum(k, len(at) - 1)
        before = np.maximum(k - 1, 0)
        near_a = (at[after] >= frames) & (at[after] - frames <= gap)
        near_b = (at[before] < frames) & (frames - at[before] <= gap)
        span = np.maximum(at[after] - at[before], 1)
        u = np.clip((frames - at[before]) / span, 0.0, 1.0)[:, None]
        both = (1 - u) * unit[before] + u * unit[after]
        turned = (unit[before] * unit[after]).sum(-1) < -0.5  # more than 120° apart
        size = np.maximum(np.linalg.norm(both, axis=-1, keepdims=True), 1e-9)
        own = at[after] == frames  # the frame triangulated the bone itself
        both = np.where((turned & ~own)[:, None], np.nan, both / size)
        out[:, e] = np.where((near_a & near_b)[:, None], both,
                             np.where(near_a[:, None], unit[after],
                                      np.where(near_b[:, None], unit[before], np.nan)))  # fmt: skip
    return out


def track_shapes(
    refined: Mapping[int, tuple[Sequence[PersonPose], np.ndarray]],
    joint_set: str,
    root_gap: int,
    proportion_slack: float,
) -> dict[int, dict[int, TrackShape]]:
    """Per track and frame, what the track knows of its person (:class:`TrackShape`).

    Args:
        refined: frame → (the frame's people, (N, J) which of their joints were triangulated)
            as the refinement's first pass leaves them.
        joint_set: the people's joint set.
        root_gap: the mid-hip is interpolated between the nearest frames before and after that
            triangulated it when both lie at most this many frames away (else unknown), on a
            curve through their positions and velocities; a bone's direction is carried at
            most this many frames (:func:`bone_directions`).
        proportion_slack: share of a length from real people's proportions a joint may miss it
            by (:attr:`RefineConfig.proportion_slack`; 0: such lengths are not used).

    Returns:
        track id → frame → shape. Bone lengths: medians over the frames that triangulated both
        ends of the bone, with fewer than 5 such frames (:func:`~tessetrack.tracking.bones.
        bone_lengths`) the length real people's proportions give it at the stature the track's
        triangulated bones show (:func:`~tessetrack.tracking.bones.stature`), missed by up to
        ``proportion_slack`` of it (0: unknown). Bone directions per frame from
        :func:`bone_directions`. Empty for a joint set without a mid-hip (the skeleton's root).
    """
    if not _has_root(joint_set):
        return {}
    tree = bone_tree(joint_set)
    none = np.full(len(tree), np.nan)
    shares = stature_shares(joint_set, tree) if proportion_slack > 0 else none
    measure = stature_shares(joint_set, tree, for_stature=True) if proportion_slack > 0 else none
    r = tree[0][0]
    seen: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}  # id → (frame, J×3, J)
    roots: dict[int, dict[int, np.ndarray]] = {}
    for frame, (people, tri) in refined.items():
        for i, p in enumerate(people):
            joints = np.asarray(p.joints, dtype=float)
            seen.setdefault(p.id, []).append((frame, joints, tri[i].astype(float)))
            if tri[i][r]:
                roots.setdefault(p.id, {})[frame] = joints[r]
    out: dict[int, dict[int, TrackShape]] = {}
    for tid, rows in seen.items():
        joints, triangulated = np.stack([j for _, j, _ in rows]), np.stack([t for *_, t in rows])
        lengths = bone_lengths(joints, triangulated, tree, BoneConfig(min_score=0.5))
        slack = np.full(len(tree), BONE_SLACK)
        prior = np.isnan(lengths) & np.isfinite(shares)
        if prior.any():
            lengths[prior] = shares[prior] * stature(joints, triangulated, tree, measure)
            slack[prior] = proportion_slack
        at = roots.get(tid, {})
        known = np.array(sorted(at), dtype=np.int64)
        ids = np.array([f for f, *_ in rows], dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        directions = np.empty((len(ids), len(tree), 3))
        directions[order] = bone_directions(ids[order], joints[order],
                                             triangulated[order] > 0, tree, root_gap)  # fmt: skip
        out[tid] = {}
        for i, (f, *_) in enumerate(rows):
            root = at.get(f, np.full(3, np.nan))
            k = _inside_gap(known, f, root_gap)
            if k is not None:
                root = _between(known, k, at, f)
            out[tid][f] = TrackShape(lengths, root, slack, directions[i])
    return out


def lost_people(
    refined: Mapping[int, Sequence[PersonPose]],
    triangulated: Mapping[int, np.ndarray],
    trusted: Collection[int],
    frames: Sequence[int],
    joint_set: str,
    gap: int,
) -> dict[int, dict[int, PersonPose]]:
    """Where the trusted tracks the refinement lost for a few frames should be.

    The network can place a person one camera sees far off (or miss them) for some frames: no
    view's 2D person then matches the projected pose, and the frame drops the track although the
    frames around it place the person well. Paired again from where the person should be, one
    view keeps the track (it is trusted) and places its joints (:func:`place_on_rays`).

    Args:
        refined: frame → the frame's people as the refinement's first pass leaves them.
        triangulated: frame → (N, J) which of their joints were triangulated.
        trusted: ids of the tracks to look for; frames: the frames to look in.
        joint_set: the people's joint set (with a mid-hip); gap: at most this many frames from
            the frames before and after that triangulated the track's mid-hip.

    Returns:
        frame → track id → a pose to pair again with the frame's 2D people, at the frames a
        track is absent from between two such frames: the pose of the nearer of the two (the
        earlier where both are as near), moved so that its mid-hip lies on the curve through
        theirs (:func:`_between`), with half its scores (:func:`refine_frame` halves them again
        where no view places the joint). Nothing before a track's first such frame or after its
        last.
    """
    r = get_joint_set(joint_set).index("mid_hip")
    poses: dict[int, dict[int, PersonPose]] = {}  # id → frame → pose
    roots: dict[int, dict[int, np.ndarray]] = {}  # id → frame → triangulated mid-hip
    for frame, people in refined.items():
        for i, p in enumerate(people):
            if p.id in trusted:
                poses.setdefault(p.id, {})[frame] = p
                if triangulated[frame][i][r]:
                    roots.setdefault(p.id, {})[frame] = np.asarray(p.joints[r], dtype=float)
    out: dict[int, dict[int, PersonPose]] = {}
    for tid, at in roots.items():
        known = np.array(sorted(at), dtype=np.int64)
        for f in frames:
            k = _inside_gap(known, f, gap)
            if f in poses[tid] or k is None:
                continue
            a, b = int(known[k - 1]), int(known[k])
            near = poses[tid][a if f - a <= b - f else b]
            joints = np.asarray(near.joints, dtype=float)
            joints = joints + (_between(known, k, at, f) - joints[r])
            scores = np.ones(len(joints)) if near.scores is None else np.asarray(near.scores, float)
            out.setdefault(f, {})[tid] = PersonPose(tid, joints, 0.5 * scores)
    return out


def _found_again(
    tracks: Tracks,
    frames: Mapping[int, tuple[Mapping[str, np.ndarray], Mapping[str, Camera]]],
    fits: Mapping[int, _Fit],
    first: Mapping[int, Sequence[PersonPose]],
    good: Mapping[int, np.ndarray],
    trusted: Collection[int],
    kw: Mapping,
) -> dict[int, _Fit]:
    """The frames of ``tracks`` fitted again with the trusted tracks they lost where those should
    be (:func:`lost_people`) instead of the network's poses of them; kept only where every person
    the first fit kept stays, paired with the same 2D people (a guessed pose must not take another
    person's 2D person, nor push out a person the views show, such as the same person under a new
    track id; the guessed poses are paired after the others, :func:`_match_in_turn`). Where a frame
    lost several tracks and their new pairing together is refused, they are tried one at a time,
    in id order, each kept where the pairing stands with it and with the ones kept before it (one
    lost track's guess must not cost another's)."""
    config: RefineConfig = kw["config"]
    where = [fp.frame for fp in tracks.frames if fp.frame in frames]
    lost = lost_people(first, good, trusted, where, kw["joint_set"], config.root_gap)
    out = {}
    for fp in tracks.frames:
        back = lost.get(fp.frame)
        if not back:
            continue
        chosen: list[int] = []
        for ids in [sorted(back)] + ([[t] for t in sorted(back)] if len(back) > 1 else []):
            add = {t: back[t] for t in sorted({*chosen, *ids})}
            if len(ids) == 1 and len(add) == len(back) > 1:
                continue  # all of them again: refused already
            people = [p for p in fp.people if p.id not in add] + [*add.values()]
            fit = _fit_frame(people, *frames[fp.frame], trusted=trusted, guessed=add, **kw)
            if fit is None:  # too few cameras, whoever comes back
                break
            # against the last pairing kept: a guess kept already must stay too
            if _same_pairing(out.get(fp.frame, fits.get(fp.frame)), fit):
                out[fp.frame], chosen = fit, [*add]
                if len(ids) > 1:
                    break
    return out


def _same_pairing(before: _Fit | None, after: _Fit) -> bool:
    """Whether every person ``before`` kept is in ``after`` too, paired with the same 2D people
    in every view (read the same way)."""
    if before is None:
        return True
    at = {p.id: i for i, p in enumerate(after.people)}
    return all(
        p.id in at
        and torch.equal(before.w[i], after.w[at[p.id]])
        and torch.equal(before.uv[i], after.uv[at[p.id]])
        for i, p in enumerate(before.people)
    )


def refine_tracks(
    tracks: Tracks,
    frames: Mapping[int, tuple[Mapping[str, np.ndarray], Mapping[str, Camera]]],
    *,
    detections_joint_set: str,
    joint_set: str,
    config: RefineConfig | None = None,
) -> Tracks:
    """Every frame of ``tracks`` refined with :func:`refine_frame`.

    A track the 2D evidence supports (``min_support`` views) in at least ``trust_share`` of the
    frames that can tell (:func:`frame_support`) is trusted: its frames with one view of support
    are kept. Other tracks' frames need ``min_support`` views; frames that no view supports are
    dropped in every track. With ``one_view``, a frame that lost a trusted track between frames
    within ``root_gap`` that triangulated its mid-hip is paired again with the track where it
    should be (``keep_lost``, :func:`lost_people`), and the frames where views show joints they
    do not triangulate are refined again with what each track knows of its person
    (:func:`track_shapes`, :func:`place_on_rays`).

    Args:
        frames: frame id → (detections by camera, cameras); frames absent are left as they are,
            and so are frames ``tracks`` does not list (list a frame without people to have
            its lost tracks found).
    """
    config = config or RefineConfig()
    kw = {"detections_joint_set": detections_joint_set, "joint_set": joint_set, "config": config}
    trusted: set[int] = set()
    if config.min_support > 0:
        strong: dict[int, list[bool]] = {}
        for fp in tracks.frames:
            ok = frame_support(fp.people, *frames[fp.frame], **kw) if fp.frame in frames else None
            if ok is None:  # this frame cannot tell
                continue
            for person, good in zip(fp.people, ok, strict=True):
                strong.setdefault(person.id, []).append(bool(good))
        trusted = {pid for pid, v in strong.items() if np.mean(v) >= config.trust_share}
    fits: dict[int, _Fit] = {}
    for fp in tracks.frames:
        fit = _fit_frame(fp.people, *frames[fp.frame], trusted=trusted, **kw) if (
            fp.frame in frames) else None  # fmt: skip
        if fit is not None:
            fits[fp.frame] = fit
    first = {f: _poses(fit, joint_set, None) for f, fit in fits.items()}
    good = {f: fit.good.numpy() for f, fit in fits.items()}
    if config.one_view and config.keep_lost and trusted and _has_root(joint_set):
        found = _found_again(tracks, frames, fits, first, good, trusted, kw)
        fits.update(found)
        first.update({f: _poses(fit, joint_set, None) for f, fit in found.items()})
        good.update({f: fit.good.numpy() for f, fit in found.items()})
    # only the frames a second pass may change keep their fits (memory)
    fits = {f: fit for f, fit in fits.items() if config.one_view and bool(fit.pending.any())}
    shapes = {}
    if config.one_view:
        shapes = track_shapes({f: (first[f], good[f]) for f in first}, joint_set, config.root_gap,
                              config.proportion_slack)  # fmt: skip
    out = []
    for fp in tracks.frames:
        if fp.frame not in first:
            out.append(fp)
            continue
        fit = fits.get(fp.frame)
        known = {} if fit is None else {
            p.id: shapes[p.id][fp.frame] for p, todo in zip(fit.people, fit.pending, strict=True)
            if todo and fp.frame in shapes.get(p.id, {})}  # fmt: skip
        people = _poses(fit, joint_set, known) if known and fit is not None else first[fp.frame]
        out.append(FramePoses(fp.frame, people))
    return Tracks(joint_names=tracks.joint_names, frames=tuple(out), fps=tracks.fps,
                  units=tracks.units)  # fmt: skip
