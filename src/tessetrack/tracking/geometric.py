"""Plain multi-view triangulation of 2D people, without any learned model: the baseline.

Per frame, :func:`triangulate_people` pairs the 2D people of every two views by triangulating the
pair and checking how well it reprojects (relative to the people's 2D height; the second view's
people also read with their left and right swapped), grows each accepted
pair with the people of the other views that its triangulation explains, greedily from the best
pair on (every 2D person is used once), and triangulates each group joint by joint with
:func:`~tessetrack.tracking.refine.robust_triangulate`. This is what geometric tools (EasyMocap,
Pose2Sim, freemocap) do in spirit; benchmarks run it side by side with the network on the same
detections.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from tessetrack.geometry.camera import Camera, project_points, stack_cameras
from tessetrack.skeletons import convert_joints
from tessetrack.tracking.refine import (
    RefineConfig,
    mirror_index,
    person_heights,
    robust_triangulate,
)

__all__ = ["triangulate_people"]


@dataclass(frozen=True, eq=False)
class _Views:
    """The 2D people of V views of one frame, and how a 3D pose explains them.

    Attributes:
        people: per view (P_v, J, 3) float64 2D people (u, v, confidence; NaN read as 0).
        cams: the views' stacked camera tensors (:func:`stack_cameras`).
        mirror: (J,) index that swaps left and right.
        config: the refinement settings (confidence threshold, gates).
    """

    people: list[torch.Tensor]
    cams: dict[str, torch.Tensor]
    mirror: torch.Tensor
    config: RefineConfig

    def weights(self, d: torch.Tensor) -> torch.Tensor:
        """(..., J, 3) 2D people → (..., J) confidences, 0 below the threshold."""
        c = d[..., 2]
        return torch.where(c >= self.config.min_confidence, c, torch.zeros_like(c))

    def cost(self, points: torch.Tensor, k: int, d: torch.Tensor) -> torch.Tensor:
        """(M, J, 3) poses → (M, P) mean joint distance in view k to the (P, J, 3) 2D people ``d``
        over their 2D height (inf with fewer than 3 joints to compare)."""
        cams, conf = self.cams, self.config.min_confidence
        proj = project_points(points, cams["K"][k], cams["R"][k], cams["t"][k], cams["dist"][k])
        ok = (d[None, :, :, 2] >= conf) & torch.isfinite(proj).all(-1)[:, None]
        dist = (proj[:, None] - d[None, :, :, :2]).norm(dim=-1)  # M×P×J
        dist = torch.nan_to_num(dist, nan=0.0, posinf=0.0)
        mean = (dist * ok).sum(-1) / ok.sum(-1).clamp_min(1)
        cost = mean / person_heights(d, conf)[None]
        return torch.where(ok.sum(-1) >= 3, cost, torch.full_like(cost, float("inf")))

    def explained(self, points: torch.Tensor, k: int) -> torch.Tensor:
        """(M, J, 3) poses → (M, P_k) cost of view k's people, each read as it is or with its
        sides swapped, whichever fits."""
        d = self.people[k]
        return torch.minimum(self.cost(points, k, d), self.cost(points, k, d[:, self.mirror]))

    def read(self, points: torch.Tensor, k: int, i: int) -> torch.Tensor:
        """View k's 2D person i (J, 3) as the pose ``points`` (1, J, 3) sees it: sides swapped if
        that fits better."""
        d = self.people[k][i : i + 1]
        better = self.cost(points, k, d[:, self.mirror]) < self.cost(points, k, d)
        return (d[:, self.mirror] if bool(better[0, 0]) else d)[0]


def _pair_candidates(
    views: _Views, a: int, b: int
) -> list[tuple[float, dict[int, int], torch.Tensor]]:
    """Every pair of view a's and view b's people (b's also with its sides swapped) whose
    triangulation explains both, grown with the other views' people it explains: (cost per view,
    {view: person}, (1, J, 3) reference pose)."""
    f64, v, config = torch.float64, len(views.people), views.config
    j = views.people[0].shape[1]
    pa = views.people[a]
    out = []
    for pb in (views.people[b], views.people[b][:, views.mirror]):
        ia, ib = torch.meshgrid(torch.arange(pa.shape[0]), torch.arange(pb.shape[0]),
                                indexing="ij")  # fmt: skip
        ia, ib = ia.reshape(-1), ib.reshape(-1)
        uv = torch.zeros(len(ia), j, v, 2, dtype=f64)
        w = torch.zeros(len(ia), j, v, dtype=f64)
        uv[:, :, a], uv[:, :, b] = pa[ia, :, :2], pb[ib, :, :2]
        w[:, :, a], w[:, :, b] = views.weights(pa[ia]), views.weights(pb[ib])
        no_tolerance = torch.full((len(ia), 1), float("inf"), dtype=f64)
        pts = robust_triangulate(uv, w, views.cams, no_tolerance, 2)[0]
        both = (w[:, :, a] > 0) & (w[:, :, b] > 0)  # M×J
        # joints only one of the two shows stay unknown and are not compared: a person half out
        # of one view (or half hidden) is paired by the joints both views show
        pts = torch.where(both[..., None], pts, torch.full_like(pts, float("nan")))
        rows = torch.arange(len(ia))
        cost = torch.maximum(views.cost(pts, a, pa)[rows, ia], views.cost(pts, b, pb)[rows, ib])
        good = (cost < config.match_gate / 3) & (both.sum(-1) >= 5)
        for m in torch.nonzero(good).reshape(-1):
            group = {a: int(ia[m]), b: int(ib[m])}
            for k in range(v):
                if k in group or views.people[k].shape[0] == 0:
                    continue
                c_k = views.explained(pts[m : m + 1], k)[0]
                best = int(torch.argmin(c_k))
                if float(c_k[best]) < config.match_gate:
                    group[k] = best
            out.append((float(cost[m]) / len(group), group, pts[m : m + 1]))
    return out


def _greedy_groups(
    candidates: list[tuple[float, dict[int, int], torch.Tensor]],
) -> list[tuple[dict[int, int], torch.Tensor]]:
    """The candidates taken greedily from the best: every 2D person in one group at most."""
    used: set[tuple[int, int]] = set()
    groups = []
    for _, group, reference in sorted(candidates, key=lambda c: c[0]):
        if any((k, i) in used for k, i in group.items()):
            continue
        used.update(group.items())
        groups.append((group, reference))
    return groups


def triangulate_people(
    detections: Mapping[str, np.ndarray],
    cameras: Mapping[str, Camera],
    *,
    detections_joint_set: str,
    joint_set: str = "panoptic19",
    config: RefineConfig | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Everyone seen by at least two views of one frame, triangulated.

    Args:
        detections: camera name → (P, J', 3) 2D people (u, v, confidence) in its pixels.
        cameras: camera name → camera.
        detections_joint_set, joint_set: joint sets of the detections and of the output.
        config: confidence threshold, pairing gate (``match_gate``), outlier tolerance, min views.

    Returns:
        one ``(joints (J, 3) metres, views (J,) number of views used)`` per person found; joints
        with fewer than ``min_views`` views are NaN.
    """
    config = config or RefineConfig()
    names = [c for c in detections if c in cameras and np.asarray(detections[c]).ndim == 3]
    names = [c for c in names if np.asarray(detections[c]).shape[0] > 0]
    if len(names) < 2:
        return []
    f64 = torch.float64
    people = [
        torch.tensor(
            np.nan_to_num(
                convert_joints(np.asarray(detections[c], float), detections_joint_set, joint_set)
            ),
            dtype=f64,
        )  # fmt: skip
        for c in names
    ]  # per view P_v×J×3
    cams = stack_cameras([cameras[c] for c in names], dtype=f64)
    views = _Views(people, cams, mirror_index(joint_set), config)
    pairs = itertools.combinations(range(len(names)), 2)
    groups = _greedy_groups([c for a, b in pairs for c in _pair_candidates(views, a, b)])
    if not groups:
        return []
    heights = [person_heights(p, config.min_confidence) for p in people]
    j, v = people[0].shape[1], len(names)
    uv = torch.zeros(len(groups), j, v, 2, dtype=f64)
    w = torch.zeros(len(groups), j, v, dtype=f64)
    hs = torch.ones(len(groups), dtype=f64)
    for g, (group, reference) in enumerate(groups):
        for k, i in group.items():
            d = views.read(reference, k, i)
            uv[g, :, k] = d[:, :2]
            w[g, :, k] = views.weights(d)
        hs[g] = torch.stack([heights[k][i] for k, i in group.items()]).median()
    tol = (config.outlier * hs)[:, None]
    pts, n_views, err = robust_triangulate(uv, w, cams, tol, config.min_views)
    agree = (n_views >= config.min_views) & (err <= tol)  # views that still disagree: unknown
    pts = torch.where(agree[..., None], pts, torch.full_like(pts, float("nan")))
    n_views = torch.where(agree, n_views, torch.zeros_like(n_views))
    return [(pts[g].numpy(), n_views[g].numpy()) for g in range(len(groups))]
