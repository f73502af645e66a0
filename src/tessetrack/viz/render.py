"""Videos of tracked people: reprojection overlays of every view, and a 3D animation.

* :func:`render_overlay_frame` draws one frame: each view's image (black when the frame has none)
  with every tracked person projected into it, coloured by track ID with the ID written
  (:func:`tessetrack.viz.overlay.draw_people`), the views tiled, the frame number in the top-left
  corner.
* :func:`render_overlay_video` does that for every frame of a dataset.
* :func:`render_3d_animation` plots the skeletons (and cameras) in 3D per frame
  (:func:`tessetrack.viz.plot3d.plot_scene_3d`) with axis limits fixed over the whole sequence.

Videos are written with imageio: ``.mp4`` (and ``.mov``/``.mkv``/``.avi``) through imageio-ffmpeg
(H.264, frame size padded with black to a multiple of 16, as the codec wants), ``.gif`` through
Pillow. Images are H×W×3 uint8 RGB throughout.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.io.atomic import atomic_path
from tessetrack.skeletons import JOINT_SETS, JointSet
from tessetrack.structures import MultiViewFrame, PersonPose, Tracks
from tessetrack.viz.overlay import draw_people, tile_images

__all__ = [
    "VIDEO_SUFFIXES",
    "DEFAULT_FPS",
    "tracks_joint_set",
    "VideoSink",
    "render_overlay_frame",
    "render_overlay_video",
    "render_3d_animation",
]

logger = logging.getLogger(__name__)

#: Output suffixes the video writers understand.
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".gif")
#: Frame rate used when neither the caller nor the input knows one.
DEFAULT_FPS = 25.0

ProgressFn = Callable[[int, int], None]


def tracks_joint_set(tracks: Tracks) -> JointSet:
    """The registered joint set whose joints are exactly ``tracks.joint_names`` (for the limbs).

    An unregistered joint list gets a joint set without limbs (joints are still drawn as dots).
    """
    names = tuple(tracks.joint_names)
    for js in JOINT_SETS.values():
        if js.joints == names:
            return js
    return JointSet(name="custom", joints=names)


class VideoSink:
    """Writes frames to a video file whose type follows from the suffix.

    Use as a context manager; :meth:`append` takes H×W×3 uint8 RGB frames of a constant size.

    Args:
        path: ``.mp4``/``.mov``/``.mkv``/``.avi`` (ffmpeg, H.264) or ``.gif``.
        fps: frames per second.

    Raises:
        InputError: for another suffix, a non-positive fps, or an unwritable folder.
    """

    def __init__(self, path: str | PathLike[str], fps: float) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_SUFFIXES:
            raise InputError(
                f"unknown video type {suffix or '(none)'!r}; use one of {', '.join(VIDEO_SUFFIXES)}",
                self.path,
            )
        if not fps > 0:
            raise InputError(f"fps must be positive, got {fps}", self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the folder ({exc.strerror})", self.path) from None
        self.fps = float(fps)
        self.gif = suffix == ".gif"
        self.frames_written = 0
        self._writer: Any = None
        self._size: tuple[int, int] | None = None

    def __enter__(self) -> VideoSink:
        import imageio.v2 as imageio

        # written to a temporary file beside the target, moved into place only when complete
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_path(self.path))
        if self.gif:
            # Pillow's GIF writer takes the frame duration in milliseconds; loop forever.
            self._writer = imageio.get_writer(tmp, mode="I", duration=1000.0 / self.fps, loop=0)
        else:
            self._writer = imageio.get_writer(
                tmp,
                format="FFMPEG",
                fps=self.fps,
                codec="libx264",
                quality=8,
                pixelformat="yuv420p",
                macro_block_size=1,  # we pad to a multiple of 16 ourselves (no resize warning)
                ffmpeg_log_level="error",
            )
        return self

    def append(self, image: np.ndarray) -> None:
        """Add one frame (H, W, 3) uint8 RGB; every frame must have the first one's size."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"frames must be H×W×3 uint8, got {image.shape} {image.dtype}")
        if self._size is None:
            self._size = image.shape[:2]
        elif image.shape[:2] != self._size:
            raise ValueError(f"frame size changed from {self._size} to {image.shape[:2]}")
        if not self.gif:
            h, w = image.shape[:2]
            ph, pw = -h % 16, -w % 16
            if ph or pw:
                image = np.pad(image, ((0, ph), (0, pw), (0, 0)))
        self._writer.append_data(image)
        self.frames_written += 1

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        finally:  # moves the finished file into place, or removes it after an error
            self._stack.__exit__(*exc)


def _frame_label(image: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` in the top-left corner, white on a black box."""
    out = np.ascontiguousarray(image)
    scale = 0.4 + min(out.shape[:2]) / 1500
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(out, (0, 0), (tw + 8, th + base + 8), (0, 0, 0), -1)
    cv2.putText(
        out, text, (4, th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA
    )
    return out


def _view_image(frame: MultiViewFrame, name: str, camera: Camera) -> np.ndarray:
    """The frame's image of one camera, or a dark grey canvas of the camera's size without one."""
    loader = frame.images.get(name)
    if loader is None:
        return np.full((camera.height, camera.width, 3), 32, np.uint8)
    image = np.asarray(loader())
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return image[..., :3].astype(np.uint8, copy=False)


def render_overlay_frame(
    frame: MultiViewFrame,
    people: Sequence[PersonPose],
    joint_set: JointSet,
    *,
    camera_names: Sequence[str] | None = None,
    tile_width: int | None = None,
    columns: int | None = None,
) -> np.ndarray:
    """One tiled overlay image: every view with ``people`` drawn, frame number in the corner.

    Args:
        frame: the dataset frame (its cameras and lazy images).
        people: tracked people at this frame (world metres).
        joint_set: the joints of ``people`` (limbs to draw).
        camera_names: views in tile order; default all of ``frame.cameras``. A name missing from
            this frame gives a black tile (so the layout stays the same over a sequence).
        tile_width: width of each tile in pixels; default the first view's width.
        columns: tiles per row; default ceil(sqrt(V)).

    Returns:
        (H, W, 3) uint8 RGB.
    """
    names = list(frame.cameras) if camera_names is None else list(camera_names)
    if not names:
        raise InputError(f"frame {frame.frame} has no cameras to draw")
    ref = next((frame.cameras[n] for n in names if n in frame.cameras), None)
    tiles = []
    for name in names:
        cam = frame.cameras.get(name)
        if cam is None:
            h, w = (ref.height, ref.width) if ref is not None else (256, 256)
            tiles.append(np.zeros((h, w, 3), np.uint8))
            continue
        image = _view_image(frame, name, cam)
        if image.shape[:2] != (cam.height, cam.width):
            # Images of another size than the calibration: draw in the image's own pixels.
            cam = cam.scaled(image.shape[1], image.shape[0])
        drawn = draw_people(image, cam, people, joint_set)
        tiles.append(_frame_label(drawn, name) if len(names) > 1 else drawn)
    canvas = tile_images(tiles, columns=columns, tile_width=tile_width)
    if len(names) > 1:
        # view names sit in each tile's corner; the frame number goes bottom-left of the canvas
        text = f"frame {frame.frame}"
        scale = 0.4 + min(canvas.shape[:2]) / 1500
        (_, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        y0 = canvas.shape[0] - th - base - 8
        band = np.ascontiguousarray(canvas[y0:])
        canvas[y0:] = _frame_label(band, text)
        return canvas
    return _frame_label(canvas, f"frame {frame.frame}")


def _warn_no_overlap(
    dataset: Iterable[MultiViewFrame], tracks: Tracks, output: str | PathLike[str]
) -> None:
    """One warning when the tracks share no frame with the input (the overlay shows nobody)."""
    frames = getattr(dataset, "frames", None)
    if not frames or not tracks.frames:
        return
    tracked = {f.frame for f in tracks.frames}
    if not tracked & set(frames):
        logger.warning(
            "%s: the tracks (frames %d-%d) share no frame with the input (frames %d-%d); "
            "the overlay shows no skeleton",
            output,
            min(tracked),
            max(tracked),
            min(frames),
            max(frames),
        )


def render_overlay_video(
    dataset: Iterable[MultiViewFrame],
    tracks: Tracks,
    output: str | PathLike[str],
    *,
    tile_width: int | None = 480,
    columns: int | None = None,
    fps: float | None = None,
    progress: ProgressFn | None = None,
) -> Path:
    """Write the reprojection overlay of ``tracks`` over every frame of ``dataset``.

    Args:
        dataset: a :class:`~tessetrack.data.base.MultiViewDataset` (or any sequence of frames);
            one video frame per dataset frame, people taken from ``tracks`` by frame index
            (a frame absent from ``tracks`` shows nobody).
        tracks: world-metre tracks; coloured by ID.
        output: ``.mp4`` (or ``.gif``, ``.mov``, ``.mkv``, ``.avi``).
        tile_width: width of one view's tile; None keeps the images' width.
        columns: tiles per row; default ceil(sqrt(V)).
        fps: frame rate; default ``tracks.fps``, else the dataset's, else 25.
        progress: called as ``progress(frames_done, frames_total)``.

    Returns:
        The video path.

    Raises:
        InputError: an empty dataset, an unknown video type, or an unwritable path.
    """
    total = len(dataset) if hasattr(dataset, "__len__") else 0  # type: ignore[arg-type]
    rate = fps or tracks.fps or getattr(dataset, "fps", None) or DEFAULT_FPS
    joint_set = tracks_joint_set(tracks)
    by_frame = tracks.by_frame()
    cameras: Mapping[str, Camera] | None = getattr(dataset, "cameras", None)
    names = list(cameras) if cameras else None
    _warn_no_overlap(dataset, tracks, output)
    with VideoSink(output, rate) as sink:
        for frame in dataset:
            poses = by_frame.get(frame.frame)
            image = render_overlay_frame(
                frame,
                poses.people if poses is not None else (),
                joint_set,
                camera_names=names,
                tile_width=tile_width,
                columns=columns,
            )
            sink.append(image)
            if progress is not None:
                progress(sink.frames_written, total)
        if sink.frames_written == 0:  # inside the block: no empty video replaces an old one
            raise InputError("the input has no frames to render", output)
    logger.info("wrote %d frames to %s", sink.frames_written, sink.path)
    return sink.path


def _limits(tracks: Tracks, cameras: Sequence[Camera]) -> tuple[np.ndarray, float]:
    """Centre (3,) and half-span of a cube holding every joint and camera centre."""
    pts = [
        p.joints[np.all(np.isfinite(p.joints), axis=-1)] for f in tracks.frames for p in f.people
    ]
    pts += [c.center[None] for c in cameras]
    pts = [p for p in pts if len(p)]
    if not pts:
        return np.zeros(3), 1.0
    allp = np.concatenate(pts)  # N×3
    return (allp.max(0) + allp.min(0)) / 2, max(float(np.ptp(allp, 0).max()), 1.0) / 2


def render_3d_animation(
    tracks: Tracks,
    output: str | PathLike[str],
    *,
    cameras: Sequence[Camera] | Mapping[str, Camera] = (),
    fps: float | None = None,
    size: int = 480,
    progress: ProgressFn | None = None,
) -> Path:
    """A 3D animation of the tracks (one video frame per tracks frame), axis limits fixed.

    Uses matplotlib's object API with an Agg canvas (no pyplot, no global backend state).

    Args:
        tracks: world-metre tracks; skeletons coloured by ID with the ID written.
        output: ``.mp4`` or ``.gif`` (see :class:`VideoSink`).
        cameras: drawn as dots with their viewing direction.
        fps: frame rate; default ``tracks.fps``, else 25.
        size: width and height of the video in pixels.
        progress: called as ``progress(frames_done, frames_total)``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from tessetrack.viz.plot3d import plot_scene_3d

    if not tracks.frames:
        raise InputError("the tracks have no frames to animate", output)
    cams = list(cameras.values()) if isinstance(cameras, Mapping) else list(cameras)
    joint_set = tracks_joint_set(tracks)
    mid, span = _limits(tracks, cams)
    dpi = 100
    fig = Figure(figsize=(size / dpi, size / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot(projection="3d")
    total = len(tracks.frames)
    with VideoSink(output, fps or tracks.fps or DEFAULT_FPS) as sink:
        for f in tracks.frames:
            ax.clear()
            plot_scene_3d(f.people, joint_set, cams, ax=ax, title=f"frame {f.frame}")
            ax.set_xlim(mid[0] - span, mid[0] + span)
            ax.set_ylim(mid[1] - span, mid[1] + span)
            ax.set_zlim(mid[2] - span, mid[2] + span)
            canvas.draw()
            sink.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())
            if progress is not None:
                progress(sink.frames_written, total)
    logger.info("wrote %d frames to %s", sink.frames_written, sink.path)
    return sink.path
