"""Image models refined from their own 2D joint heatmaps.

An image model with a 2D network of its own (a keypoint head, ``model.backbone.keypoint_head``, or a
heatmap-input model that reads images, ``model.backbone.image_heatmaps``) makes 2D joint heatmaps
that place joints more sharply than its voxel grid. Its tracked joints are refined from them by the
same code that refines heatmap models from 2D detections (:mod:`tessetrack.tracking.refine`):

1. while tracking, per frame and view, the local maxima of every joint's heatmap
   (:func:`image_peaks`: at most ``max_peaks`` per joint, value ≥ ``threshold``, sub-pixel) are kept
   in the camera's own image pixels — a :class:`FramePeaks` of V arrays (K, J, 3) float32, not the
   heatmaps (V·K·J·12 bytes a frame: 9 KB for 5 views, K = 8 and 19 joints);
2. after tracking, per frame and view, every tracked person's projected joints claim the nearest
   peak of their own joint map within a gate, a share of the person's projected height
   (:func:`assign_peaks`: nearest pairs first, each peak to one person) — one 2D person per tracked
   person and view, with the peak's value as the joint's confidence (:func:`people_from_peaks`);
3. these 2D people, in the model's joint set, are the detections of
   :func:`~tessetrack.tracking.refine.refine_tracks` (:func:`refine_from_peaks`): pairing, robust
   triangulation, the network's joint kept where the views disagree, per-joint scores.

Pixel convention: heatmap and image pixels both have pixel centres at integers, and a heatmap of
(h, w) covers the whole image of (W, H), as in training (:mod:`tessetrack.losses`) and in
:mod:`tessetrack.data.detection_heatmaps`: ``u_image = (u_heatmap + 0.5) · W / w − 0.5``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera, project_points, stack_cameras
from tessetrack.ops.heatmaps2d import heatmap_peaks
from tessetrack.structures import Tracks
from tessetrack.tracking.refine import RefineConfig, person_heights, refine_tracks

__all__ = [
    "PeakConfig",
    "FramePeaks",
    "heatmap_to_image",
    "image_peaks",
    "assign_peaks",
    "people_from_peaks",
    "refine_from_peaks",
]


@dataclass(frozen=True)
class PeakConfig:
    """Settings of the peaks kept while tracking and of their pairing with tracked people.

    Attributes:
        threshold: the smallest heatmap value kept as a peak (the refinement's
            ``min_confidence``, 0.3, by default: weaker peaks would not be used).
        max_peaks: K, the strongest peaks kept per view and joint.
        gate: a peak is a tracked person's joint only within this share of the person's projected
            height (pixels) of the projected joint. 0.25 (about 40 cm on an adult): the shipped
            ``synthetic-small`` places limbs 15–40 cm off, and on its synthetic test scene 0.25
            refines better than 0.1 or 0.15 (``benchmarks/results/image_refinement.json``).
    """

    threshold: float = 0.3
    max_peaks: int = 8
    gate: float = 0.25

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise InputError(f"the peak threshold must lie in (0, 1), got {self.threshold}")
        if self.max_peaks < 1:
            raise InputError(f"max_peaks must be >= 1, got {self.max_peaks}")
        if self.gate <= 0:
            raise InputError(f"the peak gate must be positive, got {self.gate}")


@dataclass(frozen=True, eq=False)
class FramePeaks:
    """One frame's 2D joint peaks.

    Attributes:
        peaks: camera name → (K, J, 3) float32 (u, v, value) in that camera's image pixels, the
            strongest first per joint; value 0 = no peak.
        cameras: camera name → the frame's camera (the image size the pixels refer to).
    """

    peaks: Mapping[str, np.ndarray]
    cameras: Mapping[str, Camera]

    @property
    def nbytes(self) -> int:
        """Bytes held by the peak arrays."""
        return sum(int(p.nbytes) for p in self.peaks.values())


def heatmap_to_image(uv: Tensor, heatmap_size: tuple[int, int], image_size: Tensor) -> Tensor:
    """Heatmap pixels → image pixels (pixel centres at integers on both sides).

    Args:
        uv: (..., 2) positions in the pixels of a heatmap of ``heatmap_size`` (h, w).
        heatmap_size: (h, w).
        image_size: (..., 2) (W, H) of the image the heatmap covers, broadcast against ``uv``.

    Returns:
        (..., 2) ``(uv + 0.5) · (W, H) / (w, h) − 0.5``.
    """
    h, w = heatmap_size
    return (uv + 0.5) * image_size.to(uv.dtype) / uv.new_tensor([w, h]) - 0.5


def image_peaks(heatmaps: Tensor, image_sizes: Tensor, config: PeakConfig | None = None) -> Tensor:
    """Joint heatmaps of V views → their peaks in the views' image pixels.

    Args:
        heatmaps: (V, J, h, w) non-negative joint heatmaps, each covering a whole image.
        image_sizes: (V, 2) (W, H) of the images in pixels (the cameras' own size, not the
            network's input size).
        config: threshold and K (:class:`PeakConfig`).

    Returns:
        (V, K, J, 3) (u, v, value), the strongest first per joint (sub-pixel:
        :func:`~tessetrack.ops.heatmaps2d.heatmap_peaks`); value 0 where a joint has fewer peaks.
    """
    config = config or PeakConfig()
    peaks = heatmap_peaks(heatmaps, threshold=config.threshold, max_peaks=config.max_peaks)
    size = image_sizes.to(peaks.dtype)[:, None, None, :]  # V×1×1×2
    uv = heatmap_to_image(peaks[..., :2], tuple(heatmaps.shape[-2:]), size)
    return torch.cat([uv, peaks[..., 2:]], dim=-1)


def assign_peaks(projected: Tensor, valid: Tensor, gates: Tensor, peaks: Tensor) -> Tensor:
    """Each tracked person's 2D joints from each view's peaks (nearest pairs first).

    Per view and joint, the (person, peak) pair of smallest distance within the person's gate is
    taken, then the next among the people and peaks left, and so on: a peak goes to one person
    at most, and a person whose own joint has no peak near it does not take another's.

    Args:
        projected: (V, N, J, 2) the people's joints projected into each view, pixels.
        valid: (V, N, J) bool: the joint is known and lies in front of the camera.
        gates: (V, N) pixels: a peak further than this from the projected joint is not taken.
        peaks: (V, K, J, 3) the views' peaks (u, v, value); value ≤ 0 = no peak.

    Returns:
        (V, N, J, 3) (u, v, confidence) per view, person and joint: the peak taken and its value;
        zeros where none lies within the gate.
    """
    v, n, j = projected.shape[:3]
    k = peaks.shape[1]
    out = projected.new_zeros(v, n, j, 3)
    if n == 0 or k == 0:
        return out
    dist = (projected[:, :, None] - peaks[:, None, :, :, :2]).norm(dim=-1)  # V×N×K×J
    ok = valid[:, :, None] & (peaks[:, None, :, :, 2] > 0) & (dist <= gates[:, :, None, None])
    inf = torch.tensor(float("inf"), dtype=dist.dtype, device=dist.device)
    d = torch.where(ok, dist, inf).permute(0, 3, 1, 2).reshape(v * j, n, k)  # (V·J)×N×K
    pk = peaks.permute(0, 2, 1, 3).reshape(v * j, k, 3)  # (V·J)×K×3
    res = out.permute(0, 2, 1, 3).reshape(v * j, n, 3).clone()  # (V·J)×N×3
    rows = torch.arange(v * j, device=d.device)
    for _ in range(min(n, k)):
        best, flat = d.flatten(1).min(-1)  # V·J
        found = torch.isfinite(best)
        if not bool(found.any()):
            break
        b, i, q = rows[found], flat[found] // k, flat[found] % k
        res[b, i] = pk[b, q]
        d[b, i, :] = inf
        d[b, :, q] = inf
    return res.reshape(v, j, n, 3).permute(0, 2, 1, 3).contiguous()


def people_from_peaks(
    joints: np.ndarray, frame: FramePeaks, config: PeakConfig | None = None
) -> dict[str, np.ndarray]:
    """One frame's tracked people → their 2D joints in every view, from the view's peaks.

    Args:
        joints: (N, J, 3) the people's joints, world metres (NaN: unknown).
        frame: the frame's peaks and cameras (views without a camera are left out).
        config: the gate (:class:`PeakConfig`).

    Returns:
        camera name → (N, J, 3) (u, v, confidence) in the camera's pixels, person n of every view
        being the tracked person n (:func:`assign_peaks`); confidence 0 where no peak lies within
        ``gate`` × the person's projected height (the vertical extent of its joints in front of
        the camera) of the projected joint.
    """
    config = config or PeakConfig()
    names = [c for c in frame.peaks if c in frame.cameras]
    if not names:
        return {}
    f64 = torch.float64
    cams = stack_cameras([frame.cameras[c] for c in names], dtype=f64)
    pts = torch.as_tensor(np.asarray(joints, dtype=np.float64))  # N×J×3
    finite = torch.isfinite(pts).all(-1)  # N×J
    safe = torch.nan_to_num(pts)[None]  # 1×N×J×3
    K, R, t, dist = (cams[x][:, None, None] for x in ("K", "R", "t", "dist"))  # V×1×1×…
    depth = ((R @ safe[..., None])[..., 0] + t)[..., 2]  # V×N×J
    projected = project_points(safe, K, R, t, dist)  # V×N×J×2
    valid = finite[None] & (depth > 0)  # V×N×J
    marks = torch.cat([projected, valid[..., None].to(f64)], dim=-1)  # V×N×J×3
    gates = config.gate * person_heights(marks, 0.5)  # V×N
    peaks = torch.stack([torch.as_tensor(frame.peaks[c], dtype=f64) for c in names])  # V×K×J×3
    people = assign_peaks(projected, valid, gates, peaks)  # V×N×J×3
    return {c: people[i].numpy() for i, c in enumerate(names)}


def refine_from_peaks(
    tracks: Tracks,
    peaks: Mapping[int, FramePeaks],
    *,
    joint_set: str,
    config: PeakConfig | None = None,
    refine: RefineConfig | None = None,
) -> Tracks:
    """Tracks refined from the 2D joint peaks of the model that made them.

    Args:
        tracks: the network's tracks (joints in ``joint_set``, world metres).
        peaks: frame id → the frame's peaks (frames absent, or without people: as they are).
        joint_set: the model's joint set, the peaks' too.
        config: the pairing gate; refine: the refinement's settings.

    Returns:
        the tracks with every person's joints refined by
        :func:`~tessetrack.tracking.refine.refine_tracks` from the 2D people
        :func:`people_from_peaks` makes (no misses filled).
    """
    frames = {}
    for fp in tracks.frames:
        got = peaks.get(fp.frame)
        if got is None or not fp.people:
            continue
        joints = np.stack([p.joints for p in fp.people])  # N×J×3
        frames[fp.frame] = (people_from_peaks(joints, got, config), got.cameras)
    return refine_tracks(tracks, frames, detections_joint_set=joint_set, joint_set=joint_set,
                         config=refine)  # fmt: skip
