"""Checkpoints scored on a scene: the shared steps of the accuracy and detection benchmarks.

* :func:`parse_models` (``NAME=CHECKPOINT`` arguments) and :func:`model_input` (what a
  checkpoint's network reads, from its stored config);
* :func:`ground_truth` (a scene's GT, optionally its first frames and the people of an area);
* :func:`track_and_score` (``track_to_file`` + ``evaluate`` → one result row with
  :data:`METRIC_COLUMNS`);
* :func:`add_link_arguments` and :func:`tracker_config` (how people are linked over time);
* :func:`spread_subsets` (k of n ring cameras, evenly spread);
* :func:`validation_clips` (clips of a scene drawn as the trainer draws its validation clips).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tessetrack.structures import Tracks

if TYPE_CHECKING:
    from tessetrack.tracking.candidates import CandidateConfig

__all__ = [
    "METRIC_COLUMNS",
    "add_link_arguments",
    "ground_truth",
    "model_input",
    "parse_models",
    "spread_subsets",
    "track_and_score",
    "tracker_config",
    "validation_clips",
]

#: The accuracy columns a :func:`track_and_score` row holds, in table order, with their headers.
METRIC_COLUMNS: dict[str, str] = {
    "mpjpe_mm": "MPJPE mm",
    "pck_100": "3D-PCK@100 %",
    "mota": "MOTA %",
    "motp_mm": "MOTP mm",
    "id_switches": "ID sw.",
    "precision": "prec. %",
    "recall": "recall %",
    "frames": "frames",
    "seconds": "s",
}


def parse_models(specs: Sequence[str]) -> dict[str, str]:
    """``["FTDL=runs/a/last.safetensors", ...]`` → ``{"FTDL": "runs/a/last.safetensors", ...}``.

    A bare ``CHECKPOINT`` (no ``=``) is named after itself. Raises ValueError for an empty name or
    checkpoint, or a name given twice.
    """
    models: dict[str, str] = {}
    for spec in specs:
        name, sep, checkpoint = spec.partition("=")
        if not sep:
            name, checkpoint = spec, spec
        name, checkpoint = name.strip(), checkpoint.strip()
        if not name or not checkpoint:
            raise ValueError(f"--model {spec!r}: expected NAME=CHECKPOINT")
        if name in models:
            raise ValueError(f"--model: the name {name!r} is given twice")
        models[name] = checkpoint
    return models


def validation_clips(
    dataset: Any, model: Any, count: int, seed: int = 0, size: int = 256
) -> list[dict[str, Any]]:
    """``count`` image clips of ``dataset`` for ``model`` (a TesseTrack) from the trainer's
    validation stream (``seed`` is the run's ``train.seed``), every view at ``size``², up to 6
    people. They are the trainer's validation clips exactly when the run kept every view
    (``train.min_views`` ≥ the cameras, as the stage-1 configs do: 8 clips with seed 0 are then the
    validation clips of a run with ``val_clips: 8``); with view dropout the trainer's differ."""
    from tessetrack.train.clips import ClipSource, ClipSpec, sample_clips

    spec = ClipSpec(
        length=model.config.clip_length,
        anchors=model.anchors,
        image_size=(size, size),
        max_people=6,
        min_views=len(dataset.cameras),
        joint_set=model.config.pose_head.joint_set,
    )
    rng = np.random.default_rng([seed, 999_983])  # the trainer's validation stream
    return sample_clips([ClipSource.build(dataset, spec.length)], spec, rng, count, True)


def model_input(checkpoint: str | PathLike[str]) -> str:
    """What a checkpoint's network reads: ``features`` (images into features), ``image-heatmaps``
    (images into its own 2D heatmaps: ``backbone.image_heatmaps``) or ``heatmaps`` (2D detections).

    Reads the config stored in the checkpoint; the network is not built.
    """
    from tessetrack.train.checkpoints import load_checkpoint, resolve_checkpoint

    config = load_checkpoint(resolve_checkpoint(checkpoint)).typed_config()
    if config.model.backbone.image_heatmaps:
        return "image-heatmaps"
    return str(config.model.variant.input)


def ground_truth(
    test_dir: str | PathLike[str], frames: int | None = None, area: float | None = None
) -> Tracks:
    """The GT of a scene folder as tracks, only its first ``frames`` frames when given.

    ``area``: keep only the people whose mean joint lies within ``area`` metres of the origin in x
    and in y (the observed space; people who walk out of the cameras' ring and the model's volume
    are not scored, as in the Panoptic protocol of VoxelPose).
    """
    from tessetrack.eval.evaluate import load_ground_truth

    if not Path(test_dir).is_dir():
        raise ValueError(f"{test_dir}: test scene folder not found")
    gt = load_ground_truth(test_dir)
    if frames is not None:
        if frames < 1:
            raise ValueError(f"--frames must be >= 1, got {frames}")
        gt = dataclasses.replace(gt, frames=gt.frames[:frames])
    if area is not None:
        if area <= 0:
            raise ValueError(f"--area must be > 0 metres, got {area}")

        def inside(person: Any) -> bool:
            xy = np.nanmean(np.asarray(person.joints, dtype=np.float64)[:, :2], axis=0)
            return bool(np.all(np.abs(xy) <= area))

        gt = dataclasses.replace(
            gt,
            frames=tuple(
                dataclasses.replace(f, people=tuple(p for p in f.people if inside(p)))
                for f in gt.frames
            ),
        )
    return gt


def add_link_arguments(ap: Any) -> None:
    """``--link`` and ``--gate/--no-gate``: how people are linked over time (see :func:`tracker_config`)."""
    ap.add_argument("--link", default="model", choices=["model", "hungarian"],
                    help="linking over time: the checkpoint's matcher or Hungarian on poses")  # fmt: skip
    ap.add_argument("--gate", action=argparse.BooleanOptionalAction, default=True,
                    help="gate the learned matcher on centre distance (--no-gate: the paper's)")  # fmt: skip
    ap.add_argument("--cascade", action=argparse.BooleanOptionalAction, default=True,
                    help="link the most recently seen tracks first (TrackerConfig.cascade)")  # fmt: skip


def tracker_config(args: Any) -> Any:
    """The :class:`~tessetrack.tracking.online.TrackerConfig` of ``--link`` / ``--gate``."""
    from tessetrack.tracking.online import TrackerConfig

    return TrackerConfig(link=args.link, gate=args.gate, cascade=args.cascade)


def track_and_score(
    test_dir: str | PathLike[str],
    checkpoint: str | PathLike[str],
    gt: Tracks,
    *,
    cameras: Sequence[str] | None = None,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    tracker: Any = None,
    smooth: str = "none",
    candidates: CandidateConfig | None = None,
) -> dict[str, Any]:
    """Track the frames of ``gt`` in ``test_dir`` with ``checkpoint`` and score them (mpjpe, mot3d).

    ``tracker``: a :class:`~tessetrack.tracking.online.TrackerConfig` (default settings: None).
    ``smooth``: smoothing over time (``track``'s ``--smooth``); ``none`` here by default, as these
    scores compare networks and settings of the paper, whose tables have none. ``candidates``:
    the low-scored people the 2D detections vouch for (``track``'s ``--candidates``); None here by
    default, for the same reason.

    Heatmap-input checkpoints read the scene's simulated OpenPose detections
    (``test_dir/detections``), image models its images. Only the frames ``gt`` holds are tracked
    and scored.

    Returns:
        a row: :data:`METRIC_COLUMNS` (``pck_100``: 3D-PCK at 100 mm in %, ``seconds``: the
        network run; metrics rounded to 0.01, NaN when undefined, e.g. MPJPE without any matched
        pose), ``input`` (:func:`model_input`), ``matched_poses`` and ``fps``.
    """
    from tessetrack.eval.evaluate import evaluate
    from tessetrack.io.tracks import load_tracks
    from tessetrack.tracking.runner import track_to_file

    if not gt.frames:
        raise ValueError(f"{test_dir}: no ground-truth frames to track")
    kind = model_input(checkpoint)
    detections = Path(test_dir) / "detections" if kind == "heatmaps" else None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tracks.json"
        t0 = time.perf_counter()
        summary = track_to_file(
            test_dir,
            output=out,
            checkpoint=checkpoint,
            detections=detections,
            detections_format="openpose" if detections is not None else None,
            start=gt.frames[0].frame,
            end=gt.frames[-1].frame + 1,
            cameras=cameras,
            device=device,
            progress=progress,
            tracker=tracker,
            smooth=smooth,
            candidates=candidates,
        )
        wall = time.perf_counter() - t0
        pred = load_tracks(out)
    res = evaluate(pred, gt, ["mpjpe", "mot3d"])
    metrics = {
        "mpjpe_mm": res.get("mpjpe_mm"),
        "pck_100": res.get("pck", {}).get("100"),
        "mota": res.get("mota"),
        "motp_mm": res.get("motp_mm"),
        "id_switches": res.get("id_switches"),
        "precision": res.get("precision"),
        "recall": res.get("recall"),
    }
    return {
        "input": kind,
        **{k: round(v, 2) if isinstance(v, float) else v for k, v in metrics.items()},
        "matched_poses": res.get("matched_poses"),
        "frames": summary.frames,
        "seconds": round(summary.seconds, 2),
        "fps": round(summary.fps, 3),
        "wall_seconds": round(wall, 2),
    }


def spread_subsets(n: int, k: int, count: int) -> list[tuple[int, ...]]:
    """Up to ``count`` distinct sets of ``k`` camera indices out of ``n`` ring cameras, evenly spread.

    Set ``s`` holds ``floor(i·n/k + s·n/(k·count) + 0.5) mod n`` for i = 0..k-1: the k cameras
    spaced n/k apart, rotated by a fraction s/count of that spacing. Duplicates are dropped (e.g.
    k = n gives one set), so fewer than ``count`` sets may come back. Sorted within each set.

    Example (n = 5, k = 2, count = 2): spacing 2.5, rotation 1.25 → {0, 2.5→3} and {1.25→1, 3.75→4}.
    """
    if not 1 <= k <= n:
        raise ValueError(f"cannot pick {k} of {n} cameras")
    out: list[tuple[int, ...]] = []
    for s in range(count):
        offset = s * n / (k * count)
        subset = tuple(sorted({math.floor(i * n / k + offset + 0.5) % n for i in range(k)}))
        if len(subset) == k and subset not in out:
            out.append(subset)
    return out
