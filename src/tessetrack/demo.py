"""``tessetrack demo``: the whole pipeline on an embedded synthetic scene, in a few minutes on a CPU.

Steps (all outputs under ``DIR``):

1. ``DIR/scene/``: a synthetic scene written by :func:`tessetrack.synth.generate.generate_dataset`
   (CMU Panoptic layout with its ground truth): motion clips of the ``test`` split (never seen in
   training), 5 ring cameras, 3 people, 256×256 images, 300 frames (~10 s at 29.97 fps).
2. ``DIR/tracks.json``: the checkpoint (default ``synthetic-detections``) run online over the scene
   (:class:`tessetrack.tracking.runner.SequenceRunner`). An image model reads the rendered views;
   a detections model (2D-heatmap input) reads the scene's simulated OpenPose BODY25 detections.
3. ``DIR/metrics.json``: every protocol against the scene's ground truth
   (:func:`tessetrack.eval.evaluate.evaluate`).
4. ``DIR/overlay.mp4`` (reprojection overlay of every view), ``DIR/scene3d.png`` (3D plot of the
   frame with the most people, cameras included) and ``DIR/timeline.png`` (track timeline).

The checkpoint is loaded first, so a missing one fails before any work is done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from tessetrack.errors import InputError

if TYPE_CHECKING:
    from tessetrack.data.base import MultiViewDataset
    from tessetrack.structures import Tracks
    from tessetrack.synth.generate import SynthConfig

__all__ = ["DEMO_CHECKPOINT", "demo_synth_config", "DemoResult", "run_demo"]

logger = logging.getLogger(__name__)

#: The checkpoint the demo runs by default.
DEMO_CHECKPOINT = "synthetic-detections"

#: ``stage(name)`` announces a stage; ``progress(done, total)`` reports within it.
StageFn = Callable[[str], None]
ProgressFn = Callable[[int, int], None]


def demo_synth_config(
    frames: int = 300, seed: int = 0, image_size: tuple[int, int] = (256, 256)
) -> SynthConfig:
    """The demo scene's :class:`~tessetrack.synth.generate.SynthConfig`."""
    from tessetrack.synth.generate import SynthConfig

    return SynthConfig(
        rig="ring",
        num_cameras=5,
        num_people=3,
        num_frames=frames,
        seed=seed,
        split="test",
        image_size=image_size,
    )


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` wrote and measured.

    Attributes:
        output: the demo folder.
        scene, tracks, metrics, overlay, scene3d, timeline: the files written.
        frames: frames tracked.
        seconds: wall-clock time of the network run.
        result: the metrics dictionary (SPEC.md keys).
    """

    output: Path
    scene: Path
    tracks: Path
    metrics: Path
    overlay: Path
    scene3d: Path
    timeline: Path
    frames: int
    seconds: float
    result: dict

    @property
    def fps(self) -> float:
        """Frames tracked per second (network run only)."""
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def _make_scene(
    scene_dir: Path, config: SynthConfig, detections: bool, progress: ProgressFn | None
) -> MultiViewDataset:
    """Generate the demo scene and open it, with its simulated OpenPose detections as the input
    of a model that reads ``detections``."""
    from tessetrack.data import open_dataset
    from tessetrack.synth.generate import generate_dataset
    from tessetrack.tracking.inputs import open_input

    generate_dataset(scene_dir, config, progress=progress)
    if detections:
        return open_input(
            scene_dir, detections=scene_dir / "detections", detections_format="openpose"
        )
    return open_dataset(scene_dir)


def _draw(
    out: Path, dataset: MultiViewDataset, tracks: Tracks, progress: ProgressFn | None
) -> tuple[Path, Path, Path]:
    """The demo's pictures: the overlay video, the busiest frame in 3D and the track timeline."""
    from tessetrack.viz.plot3d import plot_scene_3d
    from tessetrack.viz.render import render_overlay_video, tracks_joint_set
    from tessetrack.viz.timeline import plot_timeline

    overlay = render_overlay_video(
        dataset, tracks, out / "overlay.mp4", tile_width=256, progress=progress
    )
    busiest = max(tracks.frames, key=lambda f: len(f.people))
    scene3d = out / "scene3d.png"
    plot_scene_3d(
        busiest.people,
        tracks_joint_set(tracks),
        list(dataset.cameras.values()),
        title=f"frame {busiest.frame}",
        path=scene3d,
    )
    timeline = out / "timeline.png"
    plot_timeline(tracks, timeline)
    return Path(overlay), scene3d, timeline


def run_demo(
    output: str | PathLike[str] = "tessetrack-demo",
    *,
    checkpoint: str | PathLike[str] = DEMO_CHECKPOINT,
    frames: int = 300,
    seed: int = 0,
    image_size: tuple[int, int] = (256, 256),
    device: str | None = "cpu",
    stage: StageFn | None = None,
    progress: ProgressFn | None = None,
) -> DemoResult:
    """Build the demo scene, track it, evaluate, and draw (see the module docstring).

    Args:
        output: the demo folder (created).
        checkpoint: a shipped checkpoint's name or a ``.safetensors`` path.
        frames: scene length (300 ≈ 10 s).
        seed: scene seed.
        image_size: (W, H) of the rendered images.
        device: ``cpu``, ``cuda`` or None (cuda when available).
        stage: called with the name of each stage as it starts.
        progress: called as ``progress(done, total)`` within a stage.

    Raises:
        CheckpointError: the checkpoint does not exist or does not load.
        InputError: bad settings or an unwritable folder.
    """
    from tessetrack.eval.evaluate import evaluate, load_ground_truth, to_json
    from tessetrack.io.atomic import atomic_write_text
    from tessetrack.io.tracks import save_tracks
    from tessetrack.tracking.runner import SequenceRunner, load_model, resolve_device

    if frames < 1:
        raise InputError(f"--frames must be at least 1, got {frames}")

    def announce(name: str) -> None:
        logger.info("demo: %s", name)
        if stage is not None:
            stage(name)

    out = Path(output)
    dev = resolve_device(device)
    loaded = load_model(checkpoint, device=dev)  # first: cheap, and the likeliest error

    announce("scene")
    scene_dir = out / "scene"
    config = demo_synth_config(frames, seed, image_size)
    dataset = _make_scene(scene_dir, config, loaded.model.reads_detections, progress)

    announce("track")
    runner = SequenceRunner(loaded.model, image_size=loaded.image_size, tracker=None, device=dev)
    t0 = time.perf_counter()
    tracks = runner.run(dataset, progress=progress)
    seconds = time.perf_counter() - t0
    tracks_path = Path(save_tracks(tracks, out / "tracks.json"))

    announce("evaluate")
    gt = load_ground_truth(scene_dir)
    result = evaluate(tracks, gt, "all")
    metrics_path = out / "metrics.json"
    atomic_write_text(metrics_path, to_json(result) + "\n")

    announce("render")
    overlay, scene3d, timeline = _draw(out, dataset, tracks, progress)
    return DemoResult(
        output=out,
        scene=scene_dir,
        tracks=tracks_path,
        metrics=metrics_path,
        overlay=overlay,
        scene3d=scene3d,
        timeline=timeline,
        frames=len(tracks.frames),
        seconds=seconds,
        result=result,
    )
