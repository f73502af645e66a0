"""3D plots of skeletons and cameras (matplotlib's object API: no pyplot, no global backend state)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tessetrack.geometry.camera import Camera
from tessetrack.io.atomic import atomic_path
from tessetrack.skeletons import JointSet
from tessetrack.structures import PersonPose
from tessetrack.viz.overlay import id_color

__all__ = ["plot_scene_3d"]


def plot_scene_3d(
    people: Sequence[PersonPose],
    joint_set: JointSet,
    cameras: Sequence[Camera] = (),
    ax: Axes | None = None,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Skeletons coloured by ID, cameras as labelled dots with their viewing direction.

    Returns the figure; writes it to ``path`` (PNG) when given.
    """
    if ax is None:
        fig = Figure(figsize=(6, 6))
        ax = fig.add_subplot(projection="3d")
    else:
        fig = ax.figure
    pts = []
    for p in people:
        c = np.array(id_color(p.id)) / 255
        for a, b in joint_set.limb_indices:
            seg = p.joints[[a, b]]
            if np.all(np.isfinite(seg)):
                ax.plot(seg[:, 0], seg[:, 1], seg[:, 2], color=c, lw=2)
        ok = np.all(np.isfinite(p.joints), axis=-1)
        if ok.any():
            top = p.joints[ok][np.argmax(p.joints[ok][:, 2])]
            ax.text(top[0], top[1], top[2] + 0.1, str(p.id), color=c)
            pts.append(p.joints[ok])
    for cam in cameras:
        o = cam.center
        d = cam.R[2]  # optical axis in world coordinates
        ax.scatter(*o, color="k", s=12)
        ax.plot(*np.stack([o, o + 0.5 * d]).T, color="k", lw=1)
        ax.text(*o, cam.name, fontsize=7)
        pts.append(o[None])
    if pts:
        allp = np.concatenate(pts)
        mid, span = (allp.max(0) + allp.min(0)) / 2, max(float(np.ptp(allp, 0).max()), 1.0) / 2
        ax.set_xlim(mid[0] - span, mid[0] + span)
        ax.set_ylim(mid[1] - span, mid[1] + span)
        ax.set_zlim(mid[2] - span, mid[2] + span)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_zlabel("z (m)")
    if title:
        ax.set_title(title)
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, bbox_inches="tight")
    return fig
