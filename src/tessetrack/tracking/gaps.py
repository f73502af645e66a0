"""Short misses of a track filled from the 2D evidence.

The network's person detector misses people that few cameras see well; the 2D detector often still
finds them in two or more views. For every track and every frame of a short gap in it (at most
``max_gap`` frames between two sightings, or up to ``max_gap`` frames from a sighting at the ends
of the track or of a longer gap), this
module triangulates the frame's 2D people (:func:`tessetrack.tracking.geometric.triangulate_people`),
sets aside the ones a tracked person of that frame already explains, and gives the track the
remaining person whose centre lies nearest where the track should be (linear interpolation between
the gap's ends, or the nearest sighting), within ``gate`` metres plus what a person can walk in
the frames since the track was seen (``speed``). Several tracks missing at one frame are assigned
together (Hungarian). Filled poses carry the triangulation's joints (NaN where fewer than two views
agree) and scores that say so: ``fill_score`` × the share of views that agree.

Written by hand: it is the tracker's bookkeeping over our own tracks file structure.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.skeletons import get_joint_set
from tessetrack.structures import FramePoses, PersonPose, Tracks
from tessetrack.tracking.geometric import triangulate_people
from tessetrack.tracking.refine import RefineConfig, refine_tracks

__all__ = ["GapConfig", "fill_gaps", "expected_centres", "stitch_tracks", "refine_and_fill"]


@dataclass(frozen=True)
class GapConfig:
    """Settings of :func:`fill_gaps`.

    Attributes:
        max_gap: longest miss filled, frames (also how far a track is extended at either end).
        gate: metres between the expected and the triangulated centre, before walking.
        speed: metres per second a person may walk while missed (needs the tracks' fps; 30 fps
            assumed without).
        explained: a triangulated person within this many metres of a tracked person of the frame
            is that person, not a missed one.
        min_joints: triangulated joints a filled pose needs.
        fill_score: scale of the filled joints' scores.
        body_tolerance: metres a filled joint's distance from the body centre may differ from the
            same joint's in the track's nearest sighting (a body keeps its proportions); joints
            further off are left unknown (two views that paired the wrong 2D joints).
        extend_ends: also extend a track by up to ``max_gap`` frames beyond its first and last
            sightings and on either side of a longer gap (False: only misses between two
            sightings at most ``max_gap`` apart are filled).
        stitch: join two tracks that never share a frame (or only at a stray end of one,
            ``stray``) where every hand-over between them comes at most ``max_gap`` + 1 frames
            later and where the person could have walked (``gate`` + ``speed``): a track lost
            and found again under a new id, or two tracks taking turns on one person
            (:func:`stitch_tracks`); where tracks were joined, the network's tracks, joined
            the same way, are refined again (:func:`refine_and_fill`).
        stray: at most this many sightings at a track's end (or start), set apart from the rest
            by a miss of 2 frames or more, are stray poses a join may drop where another track
            continues the person there (:func:`stitch_tracks`); 0: none.
    """

    max_gap: int = 15
    gate: float = 0.4
    speed: float = 2.0
    explained: float = 0.4
    min_joints: int = 8
    fill_score: float = 0.5
    body_tolerance: float = 0.25
    extend_ends: bool = True
    stitch: bool = True
    stray: int = 2

    def __post_init__(self) -> None:
        if self.max_gap < 0 or self.min_joints < 1 or self.stray < 0:
            raise InputError("max_gap and stray must be >= 0 and min_joints >= 1")
        if min(self.gate, self.speed, self.explained, self.body_tolerance) < 0 or not (
            0 < self.fill_score <= 1
        ):
            raise InputError("gate, speed and explained must be >= 0, fill_score in (0, 1]")


def _centre(joints: np.ndarray, joint_set: str) -> np.ndarray:
    """(J, 3) → (3,): the neck–mid-hip midpoint, else the mean of the finite joints (NaN: none)."""
    js = get_joint_set(joint_set)
    core = joints[[js.index("neck"), js.index("mid_hip")]]
    if np.isfinite(core).all():
        return core.mean(0)
    finite = np.isfinite(joints).all(-1)
    return joints[finite].mean(0) if finite.any() else np.full(3, np.nan)


def _like(pts: np.ndarray, ref: np.ndarray, joint_set: str, tolerance: float) -> np.ndarray:
    """``pts`` (J, 3) with NaN where a joint's distance from the body centre differs from the
    reference pose's by more than ``tolerance`` metres (joints the reference lacks are kept)."""
    c, c_ref = _centre(pts, joint_set), _centre(ref, joint_set)
    d = np.linalg.norm(pts - c, axis=-1)
    d_ref = np.linalg.norm(ref - c_ref, axis=-1)
    off = np.isfinite(d) & np.isfinite(d_ref) & (np.abs(d - d_ref) > tolerance)
    out = pts.copy()
    out[off] = np.nan
    return out


def _someone_near(centre: np.ndarray, present: Sequence[np.ndarray], radius: float) -> bool:
    """Whether one of the (3,) centres ``present`` (NaN: unknown, skipped) lies within
    ``radius`` metres of ``centre``."""
    return any(np.linalg.norm(centre - q) < radius for q in present if np.isfinite(q).all())


def _frames_of(tracks: Tracks) -> dict[int, set[int]]:
    """track id → the frames it has a pose in."""
    out: dict[int, set[int]] = {}
    for fp in tracks.frames:
        for p in fp.people:
            out.setdefault(p.id, set()).add(fp.frame)
    return out


def _track_centres(tracks: Tracks, joint_set: str) -> dict[int, dict[int, np.ndarray]]:
    """track id → frame → the pose's centre (3,), for the poses that have one."""
    seen: dict[int, dict[int, np.ndarray]] = {}
    for fp in tracks.frames:
        for p in fp.people:
            c = _centre(np.asarray(p.joints, float), joint_set)
            if np.isfinite(c).all():
                seen.setdefault(p.id, {})[fp.frame] = c
    return seen


def expected_centres(
    tracks: Tracks, joint_set: str, max_gap: int, extend_ends: bool = True
) -> dict[int, dict[int, tuple[np.ndarray, int, np.ndarray]]]:
    """Where each track should be at the frames of its short misses (``extend_ends``: also up to
    ``max_gap`` frames beyond its ends and on either side of a longer gap).

    Returns:
        frame → {track id → (expected centre (3,), frames since or until the nearest sighting,
        the pose (J, 3) of that sighting)}.
    """
    frames = [fp.frame for fp in tracks.frames]
    seen = _track_centres(tracks, joint_set)
    poses = {
        (p.id, fp.frame): np.asarray(p.joints, float) for fp in tracks.frames for p in fp.people
    }
    out: dict[int, dict[int, tuple[np.ndarray, int, np.ndarray]]] = {}
    for tid, at in seen.items():
        known = np.array(sorted(at))
        for f in frames:
            if f in at:
                continue
            k = int(np.searchsorted(known, f))
            before = known[k - 1] if k > 0 else None
            after = known[k] if k < len(known) else None
            if before is not None and after is not None and after - before - 1 <= max_gap:
                w = (f - before) / (after - before)
                centre = (1 - w) * at[before] + w * at[after]
                away = int(min(f - before, after - f))
                end = before if f - before <= after - f else after
            elif extend_ends:  # at an end, or a long gap: near the nearest sighting only
                ends = [e for e in (before, after) if e is not None]
                end = min(ends, key=lambda e: abs(int(f - e)))
                away = abs(int(f - end))
                if away > max_gap:
                    continue
                centre = at[end]
            else:
                continue
            out.setdefault(f, {})[tid] = (centre, away, poses[(tid, int(end))])
    return out


def fill_gaps(
    tracks: Tracks,
    frames: Mapping[int, tuple[Mapping[str, np.ndarray], Mapping[str, Camera]]],
    *,
    detections_joint_set: str,
    joint_set: str,
    config: GapConfig | None = None,
    refine: RefineConfig | None = None,
) -> tuple[Tracks, int]:
    """``tracks`` with their short misses filled from the 2D detections (module docstring).

    Args:
        frames: frame id → (detections by camera, cameras).
        detections_joint_set, joint_set: joint sets of the detections and of the tracks.
        config: gap settings; refine: the triangulation's settings.

    Returns:
        (the tracks, how many poses were added).
    """
    config = config or GapConfig()
    fps = tracks.fps or 30.0
    wanted = expected_centres(tracks, joint_set, config.max_gap, config.extend_ends)
    added = 0
    out = []
    for fp in tracks.frames:
        want = wanted.get(fp.frame)
        if not want or fp.frame not in frames:
            out.append(fp)
            continue
        dets, cams = frames[fp.frame]
        found = triangulate_people(dets, cams, detections_joint_set=detections_joint_set,
                                   joint_set=joint_set, config=refine)  # fmt: skip
        present = [_centre(np.asarray(p.joints, float), joint_set) for p in fp.people]
        cands = []
        for pts, views in found:
            c = _centre(pts, joint_set)
            if int(np.isfinite(pts).all(-1).sum()) < config.min_joints or not np.isfinite(c).all():
                continue
            if _someone_near(c, present, config.explained):
                continue
            cands.append((pts, views, c))
        new = list(fp.people)
        if cands:
            ids = list(want)
            cost = np.full((len(ids), len(cands)), np.inf)
            for a, tid in enumerate(ids):
                centre, away, _ = want[tid]
                limit = config.gate + config.speed * away / fps
                for b, (_, _, c) in enumerate(cands):
                    d = float(np.linalg.norm(c - centre))
                    cost[a, b] = d if d <= limit else np.inf
            rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e9))
            for a, b in zip(rows, cols, strict=True):
                if np.isfinite(cost[a, b]):
                    pts, views, _ = cands[b]
                    pts = _like(pts, want[ids[a]][2], joint_set, config.body_tolerance)
                    share = np.asarray(views, float) / max(len(cams), 1)
                    scores = np.where(np.isfinite(pts).all(-1), config.fill_score * share, 0.0)
                    new.append(PersonPose(ids[a], pts, np.clip(scores, 0.0, 1.0)))
                    added += 1
        out.append(FramePoses(fp.frame, tuple(new)))
    filled = Tracks(joint_names=tracks.joint_names, frames=tuple(out), fps=tracks.fps,
                    units=tracks.units)  # fmt: skip
    return filled, added


def stitch_tracks(
    tracks: Tracks, joint_set: str, config: GapConfig | None = None
) -> tuple[Tracks, int]:
    """One person's tracks joined: lost and found again under a new id, or taking turns on them.

    Two tracks that never share a frame are one person where every hand-over between them (a
    sighting of one followed by the next sighting of the other) comes at most ``max_gap`` + 1
    frames later and within ``gate`` + ``speed`` × the time between of the centre before it: a
    track that begins after another ended (the tracker missed a re-identification), or two tracks
    that take turns on one person frame by frame (the tracker's matching flipping between them).
    Two tracks that share frames only at a stray end of one of them (:func:`_strays`) are joined
    the same way without its poses at those frames, where the other track's poses there lie
    nearer the first's last (or the second's first) pose before the stray end than the stray
    ones do: the tracker gave the lost track's id to a wrong pose once, as the person's new track
    took them on (the rule does not follow the person's motion: someone else standing nearer
    where the person was last seen could take their track on). Candidate pairs are joined best
    first (the smallest largest hand-over distance); a join stands only where the tracks joined
    so far still share no frame, their dropped poses left out, and every hand-over among them
    holds. The joined tracks take the id of the one seen first; the stray poses a join leaves
    out are dropped.

    Returns:
        (the tracks, how many tracks were joined to another).
    """
    tracks, joined, _ = _stitch(tracks, joint_set, config)
    return tracks, joined


def _stitch(
    tracks: Tracks, joint_set: str, config: GapConfig | None
) -> tuple[Tracks, int, tuple[dict[int, int], set[tuple[int, int]]]]:
    """:func:`stitch_tracks`, also returning how it relabelled: (each joined id → the id it
    took, the (id, frame) poses it dropped)."""
    config = config or GapConfig()
    fps = tracks.fps or 30.0
    centres = _track_centres(tracks, joint_set)
    frames_of = _frames_of(tracks)
    ids = sorted(centres, key=lambda t: (min(centres[t]), t))  # seen first, first
    order = {t: i for i, t in enumerate(ids)}
    last = {t: max(centres[t]) for t in ids}
    pairs = []
    for i, a in enumerate(ids):
        for j in range(i + 1, len(ids)):
            b = ids[j]
            if min(centres[b]) > last[a] + config.max_gap + 1:
                break  # b and every later track begin too long after a was last seen
            pair = _pair(a, b, centres, frames_of, fps, config)
            if pair is not None:
                pairs.append((pair[0], i, j, pair[1]))
    groups = {t: [t] for t in ids}
    seen = {t: set(frames_of[t]) for t in ids}  # per group: its frames
    root = {t: t for t in ids}
    dropped: set[tuple[int, int]] = set()  # (track, frame): stray poses of the joins made
    for _, i, j, drop in sorted(pairs, key=lambda q: q[:3]):
        ra, rb = sorted((root[ids[i]], root[ids[j]]), key=order.__getitem__)
        gone = {r: {f for t, f in drop - dropped if root[t] == r} for r in (ra, rb)}
        if ra == rb or not (seen[ra] - gone[ra]).isdisjoint(seen[rb] - gone[rb]):
            continue  # one group already, or the joined tracks would share a frame
        members = groups[ra] + groups[rb]
        off = dropped | drop
        live = {t: {f: c for f, c in centres[t].items() if (t, f) not in off} for t in members}
        if not np.isfinite(_handovers(live, members, fps, config)):
            continue
        dropped |= drop
        groups[ra] = members
        seen[ra] = (seen[ra] - gone[ra]) | (seen.pop(rb) - gone[rb])
        del groups[rb]
        for t in groups[ra]:
            root[t] = ra
    moved = {t: r for t, r in root.items() if t != r}
    return _relabel(tracks, moved, dropped), len(ids) - len(groups), (moved, dropped)


def _relabel(
    tracks: Tracks, root: Mapping[int, int], dropped: Collection[tuple[int, int]]
) -> Tracks:
    """``tracks`` with each id replaced by ``root``'s (ids absent: kept) and the (id, frame)
    poses in ``dropped`` left out."""
    frames = tuple(FramePoses(fp.frame, tuple(
        PersonPose(root.get(p.id, p.id), p.joints, p.scores) for p in fp.people
        if (p.id, fp.frame) not in dropped)) for fp in tracks.frames)  # fmt: skip
    return Tracks(joint_names=tracks.joint_names, frames=frames, fps=tracks.fps, units=tracks.units)


def _strays(frames: Sequence[int], at_end: bool, most: int) -> set[int]:
    """A track's last (``at_end``) or first sightings, at most ``most`` of them and fewer than the
    rest, set apart from the rest by a miss of 2 frames or more (the fewest such; empty where
    there are none). ``frames``: the track's frames, increasing."""
    seq = list(frames) if at_end else [-f for f in reversed(frames)]
    for k in range(1, most + 1):
        if len(seq) - k <= k:
            break
        if seq[-k] - seq[-k - 1] >= 3:
            return {f if at_end else -f for f in seq[-k:]}
    return set()


def _pair(
    a: int,
    b: int,
    centres: Mapping[int, Mapping[int, np.ndarray]],
    frames_of: Mapping[int, set[int]],
    fps: float,
    config: GapConfig,
) -> tuple[float, frozenset[tuple[int, int]]] | None:
    """Whether tracks ``a`` (seen first) and ``b`` may be one person (:func:`stitch_tracks`):
    (the largest hand-over distance, the (track, frame) stray poses the join drops), or None."""
    shared = frames_of[a] & frames_of[b]
    drop: frozenset[tuple[int, int]] = frozenset()
    if shared:
        for t, other, at_end in ((a, b, True), (b, a, False)):
            run = _strays(sorted(frames_of[t]), at_end, config.stray)
            kept = sorted(f for f in centres[t] if f not in run)
            if not run or not shared <= run or not kept:
                continue
            anchor = centres[t][kept[-1] if at_end else kept[0]]
            if all(f in centres[other] and (f not in centres[t] or np.linalg.norm(
                    centres[other][f] - anchor) < np.linalg.norm(centres[t][f] - anchor))
                   for f in shared):  # fmt: skip
                drop = frozenset((t, f) for f in shared)
                break
        else:
            return None
    live = {t: {f: c for f, c in centres[t].items() if (t, f) not in drop} for t in (a, b)}
    worst = _handovers(live, [a, b], fps, config)
    return (worst, drop) if np.isfinite(worst) else None


def _handovers(
    centres: Mapping[int, Mapping[int, np.ndarray]],
    members: list[int],
    fps: float,
    config: GapConfig,
) -> float:
    """The largest centre distance over the hand-overs among ``members``' sightings in time
    order (0 with none); inf where one comes more than ``max_gap`` + 1 frames later or further
    than ``gate`` + ``speed`` × the time between."""
    seq = sorted((f, t) for t in members for f in centres[t])
    worst = 0.0
    for (f0, t0), (f1, t1) in itertools.pairwise(seq):
        if t0 == t1:
            continue
        gap = f1 - f0
        d = float(np.linalg.norm(centres[t1][f1] - centres[t0][f0]))
        if not 0 < gap <= config.max_gap + 1 or d > config.gate + config.speed * gap / fps:
            return float("inf")
        worst = max(worst, d)
    return worst


def refine_and_fill(
    tracks: Tracks,
    frames: Mapping[int, tuple[Mapping[str, np.ndarray], Mapping[str, Camera]]],
    *,
    detections_joint_set: str,
    joint_set: str,
    refine: RefineConfig | None = None,
    gaps: GapConfig | None = None,
) -> tuple[Tracks, int]:
    """What ``--refine triangulate`` does after the network: every tracked pose refined from the 2D
    detections (:func:`~tessetrack.tracking.refine.refine_tracks`), one person's tracks joined
    (:func:`stitch_tracks`), then the tracks' short misses filled (:func:`fill_gaps`). Where tracks
    were joined, the network's tracks, joined the same way, are refined again, and the frames
    between a joined track's first and last that it is missing from take the joined track's pose
    from that second refinement, where it has one: the refinement can follow a trusted track
    through them from one view (``RefineConfig.keep_lost``), where the network lost the person.
    Returns (the tracks, how many poses were added)."""
    refined = refine_tracks(tracks, frames, detections_joint_set=detections_joint_set,
                            joint_set=joint_set, config=refine)  # fmt: skip
    gaps = gaps or GapConfig()
    if gaps.stitch:
        refined, joined, (moved, dropped) = _stitch(refined, joint_set, gaps)
        if joined:
            again = refine_tracks(_relabel(tracks, moved, dropped), frames, joint_set=joint_set,
                                  detections_joint_set=detections_joint_set, config=refine)  # fmt: skip
            refined = _bridged(refined, again, set(moved.values()), joint_set, gaps.explained)
    return fill_gaps(refined, frames, detections_joint_set=detections_joint_set,
                     joint_set=joint_set, config=gaps, refine=refine)  # fmt: skip


def _bridged(
    tracks: Tracks, again: Tracks, ids: Collection[int], joint_set: str, explained: float
) -> Tracks:
    """``tracks`` with the poses of ``ids`` that ``again`` has at the frames between such a
    track's first and last frame in ``tracks`` that it is missing from, except where one of the
    frame's people lies within ``explained`` metres (centre to centre; that person is them)."""
    span = {t: (min(f), max(f)) for t, f in _frames_of(tracks).items() if t in ids}
    more = {fp.frame: [p for p in fp.people if p.id in span] for fp in again.frames}
    out = []
    for fp in tracks.frames:
        present = [_centre(np.asarray(p.joints, float), joint_set) for p in fp.people]
        add: list[PersonPose] = []
        for p in more.get(fp.frame, []):
            c = _centre(np.asarray(p.joints, float), joint_set)
            taken = {q.id for q in (*fp.people, *add)}
            near = _someone_near(c, present, explained)
            inside = span[p.id][0] < fp.frame < span[p.id][1]
            if p.id in taken or not inside or not np.isfinite(c).all() or near:
                continue
            add.append(p)
            present.append(c)
        out.append(FramePoses(fp.frame, (*fp.people, *add)) if add else fp)
    return Tracks(joint_names=tracks.joint_names, frames=tuple(out), fps=tracks.fps,
                  units=tracks.units)  # fmt: skip
