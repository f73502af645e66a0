"""Training clips: F = T + Δt consecutive frames of every view, with the ground truth at the anchors.

A clip is cut from a :class:`~tessetrack.data.base.MultiViewDataset` (any reader: the synthetic
benchmark in Panoptic layout, real Panoptic, Shelf/Campus ...). Images are resized to the model's input
size and the cameras rescaled with them (:meth:`Camera.scaled`). Augmentation: *view dropout* keeps a
random subset of between ``min_views`` and V views, so the model stays robust to the number of cameras.

Randomness comes from a ``numpy.random.Generator`` passed in, so a training step's clip depends only on
(seed, step, rank) and a resumed run sees exactly the clips an uninterrupted run would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch
from torch import Tensor

from tessetrack.data.base import MultiViewDataset
from tessetrack.data.detection_heatmaps import heatmap_size, simulated_detection_heatmaps
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera, project_points
from tessetrack.geometry.views import Views
from tessetrack.losses import ClipTargets
from tessetrack.model.tessetrack import ClipBatch
from tessetrack.skeletons import convert_joints, get_joint_set
from tessetrack.structures import MultiViewFrame, PersonPose
from tessetrack.synth.detections_sim import DetectionNoise

__all__ = [
    "SimulatedDetections",
    "ClipSpec",
    "ClipSource",
    "person_centres",
    "make_clip",
    "collate_clips",
    "up_axis",
    "paste_people",
    "sample_clips",
]


@dataclass(frozen=True)
class SimulatedDetections:
    """Input of heatmap (H) models in training: 2D detections simulated from the GT at every clip.

    Attributes:
        sigma: Gaussian sigma of the rendered heatmaps, heatmap pixels (the model's
            ``backbone.heatmap_sigma``, as at inference).
        source_joint_sets: each view draws its detector's joint set from these (BODY25 from
            OpenPose, COCO-17 from mmpose/RTMPose ...): the conversion to the model's joints is
            learned as it happens at inference.
        noise: the simulated detector's errors (fresh draws at every clip), or several, one
            drawn per view.
    """

    sigma: float = 2.0
    source_joint_sets: tuple[str, ...] = ("body25", "coco17")
    noise: DetectionNoise | tuple[DetectionNoise, ...] = DetectionNoise()


@dataclass(frozen=True)
class ClipSpec:
    """How clips are cut.

    Attributes:
        length: F, frames per clip (the model's ``clip_length``).
        anchors: the two anchor frame positions in the clip (the model's ``anchors``).
        image_size: (W, H) the images are resized to.
        max_people: P, person slots per anchor (when more people are present, the lowest IDs are kept).
        min_views: view dropout keeps at least this many views (== V disables dropout).
        single_view_prob: probability that a clip keeps exactly one view (monocular training),
            drawn before the uniform ``min_views``..V draw; 0 (default) draws nothing extra.
        joint_set: the model's output joint set.
        detections: for heatmap-input models, how to simulate their 2D detections (else None).
    """

    length: int
    anchors: tuple[int, int]
    image_size: tuple[int, int]
    max_people: int = 10
    min_views: int = 1
    single_view_prob: float = 0.0
    joint_set: str = "panoptic19"
    detections: SimulatedDetections | None = None


def person_centres(joints: np.ndarray, joint_set: str = "panoptic19") -> np.ndarray:
    """Detection centre of each person: midpoint of neck and mid-hip.  (..., J, 3) -> (..., 3)."""
    js = get_joint_set(joint_set)
    return 0.5 * (joints[..., js.index("neck"), :] + joints[..., js.index("mid_hip"), :])


@dataclass(frozen=True, eq=False)
class ClipSource:
    """Where clips can start: dataset positions s such that frames s … s+F-1 are consecutive."""

    dataset: MultiViewDataset
    starts: tuple[int, ...]

    @classmethod
    def build(cls, dataset: MultiViewDataset, length: int) -> ClipSource:
        ids = np.asarray(dataset.frames)
        if len(ids) < length:
            raise InputError(f"dataset has {len(ids)} frames, a clip needs {length}", dataset.root)
        steps = np.diff(ids)
        step = int(np.min(steps)) if len(steps) else 1
        ok = [s for s in range(len(ids) - length + 1) if np.all(steps[s : s + length - 1] == step)]
        if not ok:
            raise InputError(
                f"no run of {length} evenly spaced frames in the dataset", dataset.root
            )
        return cls(dataset, tuple(ok))


def up_axis(centres_and_necks: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The world's up direction, snapped to ±x, ±y or ±z, from people's mid-hip → neck vectors.

    Args:
        centres_and_necks: (mid_hip (3,), neck (3,)) pairs in world units; NaN pairs are ignored.

    Returns:
        (3,) unit axis; +z when nothing is known. People lie down, roll and cartwheel at times, but
        the mean over a clip's people points up in every dataset layout we read (z up for Shelf,
        Campus, Human3.6M; −y for Panoptic).
    """
    v = np.zeros(3)
    for hip, neck in centres_and_necks:
        d = np.asarray(neck, np.float64) - np.asarray(hip, np.float64)
        if np.all(np.isfinite(d)):
            v += d
    if not np.any(v):
        return np.array([0.0, 0.0, 1.0])
    axis = int(np.argmax(np.abs(v)))
    out = np.zeros(3)
    out[axis] = np.sign(v[axis])
    return out


def _joints_in(p: PersonPose, src: str, dst: str) -> np.ndarray:
    j = np.asarray(p.joints, dtype=np.float64)
    return j if src == dst else convert_joints(j, src, dst)


def _overlaps(
    centres: list[np.ndarray | None],
    shift: np.ndarray,
    own: list[dict[int, np.ndarray]],
    flat: np.ndarray,
    min_gap: float,
) -> bool:
    """Whether a pasted person (centres per frame, moved by ``shift``) comes within ``min_gap``
    metres, on the floor plane, of a person of the clip at any frame."""
    return any(
        c is not None
        and any(
            np.linalg.norm(flat @ (c + shift - o)) < min_gap
            for o in own[i].values()
            if np.all(np.isfinite(o))
        )
        for i, c in enumerate(centres)
    )


def _near_shift(
    own: list[dict[int, np.ndarray]],
    first: int,
    centre: np.ndarray,
    flat: np.ndarray,
    rng: np.random.Generator,
    near_prob: float,
    near_range: tuple[float, float],
) -> np.ndarray:
    """(3,) horizontal move of a pasted person whose centre is ``centre`` at frame ``first``: with
    probability ``near_prob``, to ``near_range`` metres from a person of the clip (at that frame,
    else at any), in a random direction of the floor plane (``flat`` projects onto it); else none."""
    shift = np.zeros(3)
    if rng.random() < near_prob:
        anchors = [c for c in own[first].values() if np.all(np.isfinite(c))] or [
            c for o in own for c in o.values() if np.all(np.isfinite(c))
        ]
        if anchors:
            a = anchors[int(rng.integers(len(anchors)))]
            direction = flat @ rng.standard_normal(3)
            if np.linalg.norm(direction) < 1e-9:
                direction = flat[:, int(np.argmax(np.diag(flat)))]
            direction /= np.linalg.norm(direction)
            target = a + rng.uniform(*near_range) * direction
            shift = flat @ (target - centre)
    return shift


def _with_pasted(
    frames: Sequence[MultiViewFrame], added: list[list[PersonPose]], js_name: str
) -> list[MultiViewFrame]:
    """``frames`` with the ``added`` people of each, all in joint set ``js_name``."""
    out = []
    for fr, extra in zip(frames, added, strict=True):
        if not extra:
            out.append(fr)
            continue
        mine = tuple(
            p
            if fr.joint_set == js_name
            else PersonPose(p.id, _joints_in(p, fr.joint_set, js_name), None)
            for p in fr.people
        )
        out.append(replace(fr, people=mine + tuple(extra), joint_set=js_name))
    return out


def paste_people(
    frames: Sequence[MultiViewFrame],
    donor: Sequence[MultiViewFrame],
    rng: np.random.Generator,
    *,
    count: int,
    near_prob: float = 0.5,
    near_range: tuple[float, float] = (0.5, 1.2),
    min_gap: float = 0.4,
    id_offset: int = 100_000,
) -> list[MultiViewFrame]:
    """Adds up to ``count`` people of another clip (``donor``, same length) to ``frames``.

    Pose-only augmentation of heatmap-input training (the 2D detections are simulated from the GT
    afterwards, so a pasted person is indistinguishable from a recorded one; images cannot be
    composited this way). The synthetic training scenes seldom hold two people within a metre of
    each other, the test scenes and real rigs often do: with probability ``near_prob`` a pasted
    person is moved horizontally (perpendicular to :func:`up_axis`) so that its centre lies
    ``near_range`` metres from a person of ``frames`` at the donor's first frame; otherwise it keeps
    its recorded place. A pasted person whose centre comes within ``min_gap`` metres (horizontally) of
    a person of ``frames`` at any frame is dropped (bodies would overlap). Pasted ids are the donor's
    plus ``id_offset · k`` (k = 1, 2, …), so they never collide with the clip's own ids.

    Args:
        frames, donor: F frames each; ``donor``'s joints are converted to ``frames``' joint set.
        rng: draws which donor people, where, and the directions.
        count: people to paste at most (0: ``frames`` unchanged).
        near_prob, near_range, min_gap: placement, metres (world units).
        id_offset: see above.

    Returns:
        New frames (the inputs are not modified).
    """
    if len(donor) != len(frames):
        raise ValueError(f"donor has {len(donor)} frames, the clip {len(frames)}")
    if count <= 0:
        return list(frames)
    js_name = frames[0].joint_set
    js = get_joint_set(js_name)
    neck, hip = js.index("neck"), js.index("mid_hip")
    donor_ids = sorted({p.id for fr in donor for p in fr.people})
    if not donor_ids:
        return list(frames)
    chosen = [donor_ids[i] for i in rng.permutation(len(donor_ids))[:count]]
    own: list[dict[int, np.ndarray]] = [
        {p.id: person_centres(_joints_in(p, fr.joint_set, js_name), js_name) for p in fr.people}
        for fr in frames
    ]
    pairs = [
        (j[hip], j[neck])
        for fr in (*frames, *donor)
        for p in fr.people
        for j in [_joints_in(p, fr.joint_set, js_name)]
    ]
    up = up_axis(pairs)
    flat = np.eye(3) - np.outer(up, up)  # projects onto the floor plane
    added: list[list[PersonPose]] = [[] for _ in frames]
    for k, pid in enumerate(chosen, start=1):
        poses = [next((p for p in fr.people if p.id == pid), None) for fr in donor]
        joints = [
            None if p is None else _joints_in(p, fr.joint_set, js_name)
            for p, fr in zip(poses, donor, strict=True)
        ]
        centres = [None if j is None else person_centres(j, js_name) for j in joints]
        first = next(
            (i for i, c in enumerate(centres) if c is not None and np.all(np.isfinite(c))), None
        )
        if first is None:
            continue
        shift = _near_shift(own, first, centres[first], flat, rng, near_prob, near_range)
        too_close = _overlaps(centres, shift, own, flat, min_gap)
        if too_close:
            continue
        for i, (p, j) in enumerate(zip(poses, joints, strict=True)):
            if p is None or j is None:
                continue
            scores = p.scores if donor[i].joint_set == js_name else None
            added[i].append(PersonPose(pid + id_offset * k, j + shift, scores))
    return _with_pasted(frames, added, js_name)


def _load_image(frame: MultiViewFrame, name: str, size: tuple[int, int]) -> np.ndarray:
    if name not in frame.images:
        raise InputError(
            f"frame {frame.frame} has no image for camera {name!r}; training needs images"
        )
    img = frame.images[name]()
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def _load_images(
    frames: Sequence[MultiViewFrame],
    names: Sequence[str],
    cameras: Sequence[Sequence[Camera | None]],
    size: tuple[int, int],
) -> np.ndarray:
    """(F, V, H, W, 3) uint8 images resized to ``size`` (W, H); black where ``cameras`` (F×V) is None."""
    w, h = size
    images = np.zeros((len(frames), len(names), h, w, 3), np.uint8)
    for i, fr in enumerate(frames):
        for j, name in enumerate(names):
            if cameras[i][j] is not None:
                images[i, j] = _load_image(fr, name, size)
    return images


def _kept_views(v: int, spec: ClipSpec, rng: np.random.Generator) -> np.ndarray:
    """(V,) views a clip keeps: one (with ``single_view_prob``), else ``min_views``..V at random."""
    keep = np.ones(v, bool)
    if spec.single_view_prob > 0 and v > 1 and rng.random() < spec.single_view_prob:
        keep[:] = False
        keep[int(rng.integers(v))] = True
    elif spec.min_views < v:
        k = int(rng.integers(spec.min_views, v + 1))
        keep[:] = False
        keep[rng.choice(v, size=k, replace=False)] = True
    return keep


def _anchor_truth(
    a_frames: Sequence[MultiViewFrame], spec: ClipSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ground truth at the two anchor frames, slot p = the same person id at both: joints
    (2, P, J, 3) (0 where unknown), joint mask (2, P, J), person mask (2, P)."""
    ids = sorted({p.id for fr in a_frames for p in fr.people})
    if len(ids) > spec.max_people:
        ids = ids[: spec.max_people]
    js = get_joint_set(spec.joint_set)
    P, J = len(ids), js.num_joints
    gt_j = np.zeros((2, P, J, 3))
    gt_jm = np.zeros((2, P, J), bool)
    gt_m = np.zeros((2, P), bool)
    for a, fr in enumerate(a_frames):
        for p in fr.people:
            if p.id not in ids:
                continue
            s = ids.index(p.id)
            joints = (
                p.joints
                if fr.joint_set == spec.joint_set
                else convert_joints(p.joints, fr.joint_set, spec.joint_set)
            )
            ok = np.all(np.isfinite(joints), -1)
            if p.scores is not None and fr.joint_set == spec.joint_set:
                ok &= np.asarray(p.scores) > 0
            centre = person_centres(joints, spec.joint_set)
            if not np.all(np.isfinite(centre)):
                continue
            gt_j[a, s] = np.where(ok[:, None], joints, 0.0)
            gt_jm[a, s] = ok
            gt_m[a, s] = True
    return gt_j, gt_jm, gt_m


def make_clip(
    frames: Sequence[MultiViewFrame],
    spec: ClipSpec,
    rng: np.random.Generator,
    camera_names: Sequence[str] | None = None,
    with_images: bool = True,
) -> dict[str, Tensor]:
    """One clip as unbatched float32 tensors (see :func:`collate_clips`).

    Args:
        frames: the F frames of the clip, in order.
        spec: :class:`ClipSpec`.
        rng: drives view dropout.
        camera_names: the V views, in order (default: the first frame's cameras).
        with_images: load images (False for heatmap-input variants fed from detections).

    Returns:
        dict with images (F, V, 3, H, W) in [0, 1], K (F, V, 3, 3), R, t, dist, image_size (F, V, 2),
        view_mask (F, V), gt_centres (2, P, 3), gt_mask (2, P), gt_joints (2, P, J, 3), gt_joint_mask (2, P, J),
        gt_keypoints (2, V, P, J, 2) and gt_keypoint_mask (2, V, P, J) (see :func:`_anchor_keypoints`),
        and heatmaps (F, V, J, h, w) of simulated detections when ``spec.detections`` is set.
    """
    if len(frames) != spec.length:
        raise ValueError(f"expected {spec.length} frames, got {len(frames)}")
    names = list(camera_names or frames[0].cameras)
    v, (w, h) = len(names), spec.image_size
    keep = _kept_views(v, spec, rng)
    # F×V cameras, None where absent or dropped; float64 views for the keypoint targets
    cams = [[fr.cameras.get(n) if keep[j] else None for j, n in enumerate(names)] for fr in frames]
    views = Views.stack([Views.from_cameras(c, (w, h), dtype=torch.float64) for c in cams])
    images = _load_images(frames, names, cams, (w, h)) if with_images else None

    gt_j, gt_jm, gt_m = _anchor_truth([frames[i] for i in spec.anchors], spec)
    gt_c = np.where(gt_m[..., None], person_centres(gt_j, spec.joint_set), 0.0)
    heatmaps = None
    if spec.detections is not None:
        sd = spec.detections
        heatmaps = torch.stack(
            [
                simulated_detection_heatmaps(
                    _panoptic19(fr),
                    [None if c is None else c.scaled(w, h) for c in cams[i]],
                    joint_set=spec.joint_set,
                    out_size=heatmap_size((w, h)),
                    sigma=sd.sigma,
                    rng=rng,
                    source_joint_sets=sd.source_joint_sets,
                    noise=sd.noise,
                )
                for i, fr in enumerate(frames)
            ]
        )  # F×V×J×h×w
    kp, kp_m = _anchor_keypoints(gt_j, gt_jm & gt_m[..., None], views, spec)

    v32 = views.to(dtype=torch.float32)
    out = {
        "K": v32.K,
        "R": v32.R,
        "t": v32.t,
        "dist": v32.dist,
        "image_size": v32.image_size,
        "view_mask": v32.view_mask,
        "gt_centres": torch.tensor(gt_c, dtype=torch.float32),
        "gt_mask": torch.tensor(gt_m),
        "gt_joints": torch.tensor(gt_j, dtype=torch.float32),
        "gt_joint_mask": torch.tensor(gt_jm),
        "gt_keypoints": torch.tensor(kp, dtype=torch.float32),
        "gt_keypoint_mask": torch.tensor(kp_m),
    }
    if heatmaps is not None:
        out["heatmaps"] = heatmaps
    if images is not None:
        out["images"] = torch.from_numpy(images).permute(0, 1, 4, 2, 3).float() / 255.0  # F×V×3×H×W
    return out


def _panoptic19(frame: MultiViewFrame) -> np.ndarray:
    """GT people of a frame as (P, 19, 3) Panoptic-19 joints, NaN where missing."""
    rows = []
    for p in frame.people:
        j = np.asarray(p.joints, dtype=np.float64)
        if p.scores is not None:
            j = np.where((np.asarray(p.scores) > 0)[:, None], j, np.nan)
        rows.append(
            j
            if frame.joint_set == "panoptic19"
            else convert_joints(j, frame.joint_set, "panoptic19")
        )
    return np.stack(rows) if rows else np.zeros((0, 19, 3))


def _anchor_keypoints(
    joints: np.ndarray, joint_mask: np.ndarray, views: Views, spec: ClipSpec
) -> tuple[np.ndarray, np.ndarray]:
    """GT joints (2, P, J, 3) projected into the views (F, V) of the two anchor frames.

    Returns:
        keypoints (2, V, P, J, 2) as fractions of the image width/height (pixel-centre convention:
        ``(u + 0.5) / W``), and mask (2, V, P, J): annotated, view present, in front of the camera
        and inside the image.
    """
    a = list(spec.anchors)
    pts = torch.as_tensor(joints, dtype=torch.float64)[:, None]  # 2×1×P×J×3
    at = views[a].to(dtype=torch.float64)  # 2×V
    K, R, t, dist = (x[:, :, None, None] for x in at.tensors()[:4])  # 2×V×1×1×...
    uv = project_points(pts, K, R, t, dist)  # 2×V×P×J×2
    depth = (R[..., 2, :] * pts).sum(-1) + t[..., 2]  # 2×V×P×J
    w, h = spec.image_size
    frac = (uv + 0.5) / torch.tensor([w, h], dtype=torch.float64)
    ok = (
        torch.as_tensor(joint_mask)[:, None]
        & at.view_mask[:, :, None, None]
        & (depth > 1e-3)
        & ((frac >= 0) & (frac <= 1)).all(-1)
        & torch.isfinite(frac).all(-1)
    )
    frac = torch.where(ok[..., None], frac, torch.zeros_like(frac))
    return frac.numpy(), ok.numpy()


def collate_clips(
    clips: Sequence[dict[str, Tensor]], teacher_forcing: bool = True
) -> tuple[ClipBatch, ClipTargets]:
    """Stack clips into a :class:`ClipBatch` and :class:`ClipTargets`, padding person slots to the batch max."""
    if not clips:
        raise ValueError("no clips to collate")
    p = max(c["gt_mask"].shape[1] for c in clips)

    def pad(x: Tensor) -> Tensor:  # pad dim 1 (persons) to p
        extra = p - x.shape[1]
        if extra == 0:
            return x
        return torch.cat([x, x.new_zeros(x.shape[0], extra, *x.shape[2:])], dim=1)

    st = {
        k: torch.stack([c[k] for c in clips])
        for k in ("K", "R", "t", "dist", "image_size", "view_mask")
    }
    gt = {
        k: torch.stack([pad(c[k]) for c in clips])
        for k in ("gt_centres", "gt_mask", "gt_joints", "gt_joint_mask")
    }
    if all("gt_keypoints" in c for c in clips):  # persons are dim 2 here: (2, V, P, J, ...)
        for k in ("gt_keypoints", "gt_keypoint_mask"):
            gt[k] = torch.stack([pad(c[k].transpose(1, 2)).transpose(1, 2) for c in clips])
    images = torch.stack([c["images"] for c in clips]) if "images" in clips[0] else None
    heatmaps = torch.stack([c["heatmaps"] for c in clips]) if "heatmaps" in clips[0] else None
    batch = ClipBatch(
        K=st["K"],
        R=st["R"],
        t=st["t"],
        dist=st["dist"],
        image_size=st["image_size"],
        view_mask=st["view_mask"],
        images=images,
        heatmaps=heatmaps,
        gt_centres=gt["gt_centres"] if teacher_forcing else None,
        gt_mask=gt["gt_mask"] if teacher_forcing else None,
    )
    targets = ClipTargets(
        centres=gt["gt_centres"],
        person_mask=gt["gt_mask"],
        joints=gt["gt_joints"],
        joint_mask=gt["gt_joint_mask"],
        keypoints=gt.get("gt_keypoints"),
        keypoint_mask=gt.get("gt_keypoint_mask"),
    )
    return batch, targets


def _random_clip_frames(
    sources: Sequence[ClipSource], length: int, rng: np.random.Generator
) -> tuple[ClipSource, list[MultiViewFrame]]:
    """A random source and ``length`` consecutive frames of it from a random start."""
    src = sources[int(rng.integers(len(sources)))]
    start = src.starts[int(rng.integers(len(src.starts)))]
    return src, [src.dataset[start + i] for i in range(length)]


def sample_clips(
    sources: Sequence[ClipSource],
    spec: ClipSpec,
    rng: np.random.Generator,
    n: int,
    with_images: bool,
    paste: int = 0,
    paste_near: float = 0.5,
) -> list[dict[str, torch.Tensor]]:
    """``n`` random clips; with ``paste`` > 0 each gets 0 … ``paste`` people of another clip."""
    clips = []
    for _ in range(n):
        src, frames = _random_clip_frames(sources, spec.length, rng)
        names = sorted(src.dataset.cameras)
        count = int(rng.integers(paste + 1)) if paste > 0 else 0
        if count:
            _, donor = _random_clip_frames(sources, spec.length, rng)
            frames = paste_people(frames, donor, rng, count=count, near_prob=paste_near)
        clips.append(make_clip(frames, spec, rng, names, with_images=with_images))
    return clips
