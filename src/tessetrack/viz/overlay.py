"""Reprojection overlays: skeletons drawn on camera images, coloured by track ID, views tiled.

Drawing uses OpenCV (anti-aliased lines and circles); images are H×W×3 uint8 RGB throughout.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import cv2
import numpy as np

from tessetrack.geometry.camera import Camera
from tessetrack.skeletons import JointSet
from tessetrack.structures import PersonPose

__all__ = ["id_color", "draw_skeleton_2d", "draw_people", "tile_images"]


def id_color(track_id: int) -> tuple[int, int, int]:
    """A stable, well-separated RGB colour for a track ID (golden-ratio hue walk)."""
    hue = (track_id * 0.61803398875) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(255 * r), int(255 * g), int(255 * b)


#: Joints scored below this are drawn faded (e.g. one view, or views that disagree).
UNCERTAIN = 0.5
#: Opacity of faded joints and limbs.
FADED = 0.35


def draw_skeleton_2d(
    image: np.ndarray,
    uv: np.ndarray,
    joint_set: JointSet,
    color: tuple[int, int, int],
    label: str | None = None,
    visible: np.ndarray | None = None,
    thickness: int | None = None,
    certain: np.ndarray | None = None,
) -> np.ndarray:
    """Draw one skeleton on a copy of ``image``.

    Args:
        image: (H, W, 3) uint8 RGB.
        uv: (J, 2) pixels; NaN joints are skipped.
        joint_set: gives the limbs.
        color: RGB.
        label: text written near the head (e.g. the track ID).
        visible: (J,) bool; False joints are skipped.
        thickness: line width; default scales with the image size.
        certain: (J,) bool; False joints (and limbs touching them) are drawn faded, at
            ``FADED`` opacity. None: all certain.
    """
    out = np.ascontiguousarray(image.copy())
    h, w = out.shape[:2]
    th = thickness or max(1, round(min(h, w) / 200))
    ok = np.all(np.isfinite(uv), axis=-1) & (np.ones(len(uv), bool) if visible is None else visible)
    sure = np.ones(len(uv), bool) if certain is None else np.asarray(certain, bool)
    # Keep coordinates in a range cv2 accepts; far-off points are clipped by cv2 itself.
    pts = np.clip(np.nan_to_num(uv), -10 * max(h, w), 10 * max(h, w)).round().astype(np.int32)
    faded = out.copy() if not sure[ok].all() else None
    for a, b in joint_set.limb_indices:
        if ok[a] and ok[b]:
            layer = out if sure[a] and sure[b] else faded
            cv2.line(layer, tuple(pts[a]), tuple(pts[b]), color, th, cv2.LINE_AA)
    for j in np.flatnonzero(ok):
        cv2.circle(out if sure[j] else faded, tuple(pts[j]), th + 1, color, -1, cv2.LINE_AA)
    if faded is not None:  # the uncertain parts, blended in where they were drawn
        drawn = np.any(faded != image, axis=-1) & np.all(out == image, axis=-1)
        blend = (FADED * faded + (1 - FADED) * out).round().astype(np.uint8)
        out[drawn] = blend[drawn]
    if label is not None and ok.any():
        top = pts[ok][np.argmin(pts[ok][:, 1])]
        cv2.putText(
            out,
            label,
            (int(top[0]) + 4, int(top[1]) - 6),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 + min(h, w) / 1500,
            color,
            max(1, th),
            cv2.LINE_AA,
        )
    return out


def draw_people(
    image: np.ndarray, camera: Camera, people: Sequence[PersonPose], joint_set: JointSet
) -> np.ndarray:
    """Project each person into ``camera`` and draw it coloured by its ID (joints behind the camera
    skipped; joints whose score is below ``UNCERTAIN`` faded)."""
    out = image
    for person in people:
        uv = camera.project(person.joints)
        in_front = camera.depth(person.joints) > 0
        certain = None if person.scores is None else np.asarray(person.scores) >= UNCERTAIN
        out = draw_skeleton_2d(out, uv, joint_set, id_color(person.id), f"{person.id}",
                               visible=in_front, certain=certain)  # fmt: skip
    return out


def tile_images(
    images: Sequence[np.ndarray], columns: int | None = None, tile_width: int | None = None
) -> np.ndarray:
    """Tile views into one image (resized to a common tile size), row-major, black padding.

    Args:
        images: V arrays (H_v, W_v, 3) uint8.
        columns: tiles per row; default ceil(sqrt(V)).
        tile_width: width of each tile; default the first image's width. Height keeps the first image's aspect.
    """
    if not images:
        raise ValueError("no images to tile")
    v = len(images)
    cols = columns or int(np.ceil(np.sqrt(v)))
    rows = int(np.ceil(v / cols))
    h0, w0 = images[0].shape[:2]
    tw = tile_width or w0
    th = max(1, round(h0 * tw / w0))
    canvas = np.zeros((rows * th, cols * tw, 3), np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        canvas[r * th : (r + 1) * th, c * tw : (c + 1) * tw] = cv2.resize(
            img, (tw, th), interpolation=cv2.INTER_AREA
        )
    return canvas
