"""Command-line interface (``tessetrack``): thin commands that call the library.

Each command parses its arguments, calls one library function and reports. Errors meant for the
user (:class:`~tessetrack.errors.TesseTrackError`) are printed as one line and exit with status 2.
Heavy imports happen inside the commands so that ``tessetrack --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import typer

from tessetrack import __version__
from tessetrack.errors import InputError, TesseTrackError

if TYPE_CHECKING:
    from rich.console import Console

    from tessetrack.tracking.recalibrate import Recalibration

app = typer.Typer(
    name="tessetrack",
    help="Find, reconstruct and track the 3D skeletons of several people seen by calibrated cameras.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"tessetrack {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version_callback,
        is_eager=True,
        help="Print the version and exit.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )


# --- commands ------------------------------------------------------------------------------------
# Each command lives in its own block below; keep them thin (argument parsing + one library call).


@contextlib.contextmanager
def _progress_bars(*bars: tuple[str, str]) -> Iterator[list[Callable[[int, int], None]]]:
    """One transient rich display with a bar per ``(label, rate unit)``; yields one
    ``progress(done, total)`` per bar (a bar shows once it is first called)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), transient=True) as bar:  # fmt: skip
        fns = []
        ids: dict[str, int] = {}  # label -> task, added on the bar's first call
        for label, unit in bars:

            def progress(done: int, total: int, label: str = label, unit: str = unit) -> None:
                if label not in ids:
                    ids[label] = bar.add_task(label, total=total, rate="")
                task = ids[label]
                elapsed = bar.tasks[task].elapsed or 0.0
                bar.update(task, completed=done, total=total,
                           rate=f"{done / max(elapsed, 1e-9):.1f} {unit}")  # fmt: skip

            fns.append(progress)
        yield fns


def _units_option() -> str | None:
    return typer.Option(
        None,
        "--units",
        help="Length unit of the calibration's translations: m | cm | mm (default: the format's).",
    )


def _image_size_option() -> str | None:
    return typer.Option(
        None,
        "--image-size",
        help="WxH of the calibration's cameras, for formats that do not store it (e.g. 1032x776).",
    )


def _trim_option() -> bool:
    return typer.Option(
        True,
        "--trim/--no-trim",
        help="Videos of different lengths: use their common frames, warned (default) | refuse them.",
    )


def _volume_option() -> str:
    return typer.Option(
        "auto",
        "--volume",
        help="auto: track in the rig's own frame (up, floor and capture area found from the "
        "calibration and the people; heatmap models) | model: the volume the model was trained in.",
    )


def _smooth_option() -> str:
    return typer.Option(
        "loess",
        "--smooth",
        help="loess | one-euro | none: every track's joints smoothed over time. loess (default): "
        "a local quadratic fit over ±0.2 s, weighted by the joints' scores (no lag; a wrong "
        "frame weighs little); one-euro: online (jitter of a still joint cut to ~40 %, ~0.6 "
        "frames of lag at walking speed); none: the refined joints as they are.",
    )


def _threshold_option() -> float | None:
    return typer.Option(
        None,
        "--detection-threshold",
        help="Person-detector score a person needs (default: the checkpoint's, 0.3 for the "
        "shipped ones).",
    )


def _candidates_option() -> bool:
    return typer.Option(
        True,
        "--candidates/--no-candidates",
        help="Heatmap models: also keep the people the person detector scores between 0.1 and "
        "its threshold where two or more views' 2D detections show someone nobody else explains, "
        "placed where those views put the person's centre (people few cameras see).",
    )


def _link_option() -> str:
    return typer.Option(
        "model",
        "--link",
        help="Linking of people over time: model (the checkpoint's matcher) | hungarian "
        "(Hungarian on pose distance, whatever the matcher).",
    )


def _gate_option() -> bool:
    return typer.Option(
        True,
        "--gate/--no-gate",
        help="The learned matcher may only link detected centres within the model's "
        "max_distance (default); --no-gate: the matcher alone decides, as in the paper.",
    )


def _cascade_option() -> bool:
    return typer.Option(
        True,  # = TrackerConfig.cascade (tests check they agree)
        "--cascade/--no-cascade",
        help="Link the tracks seen most recently first, then older ones to what is left "
        "(a duplicate track beside a person starves instead of taking every other frame).",
    )


def _bones_option() -> bool:
    return typer.Option(
        False,
        "--keep-bone-lengths",
        help="Bring every pose's bones back to its track's median lengths (bones more than 20 % "
        "off are corrected; the rest of the limb follows).",
    )


def _up_option() -> str | None:
    return typer.Option(
        None, "--up", help="The rig's up direction in the calibration's world, e.g. 0,-1,0."
    )


def _floor_option() -> float | None:
    return typer.Option(
        None, "--floor", help="The floor's height along the up direction, world metres."
    )


def _refine_calibration_option() -> bool:
    return typer.Option(
        False,
        "--refine-calibration",
        help="Refine the cameras' poses from the people in the recording before tracking (a "
        "calibration that has drifted); the refined calibration is written beside the tracks "
        "file as <name>.calibration.toml.",
    )


def _print_recalibration(console: Console, done: Recalibration) -> None:
    """How far ``track --refine-calibration`` moved each camera (those it kept as given: 0), and
    where it wrote; the refinement has already warned about the cameras it did not trust."""
    _print_fits(console, done.result.fits, done.cameras, done.given, warn=False)
    console.print(f"[green]refined[/green] the calibration from {done.result.frames} frames "
                  f"-> {done.path}")  # fmt: skip


def _vector(text: str | None, option: str) -> tuple[float, float, float] | None:
    """``"x,y,z"`` → three floats (None stays None); anything else: a one-line error."""
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise InputError(f"{option}: expected three numbers x,y,z, got {text!r}")
    return values  # type: ignore[return-value]


# --- track ---
@app.command()
def track(
    input: str | None = typer.Argument(
        None, help="Dataset folder, or a folder of videos / per-camera image folders."
    ),
    calibration: str | None = typer.Option(
        None, "--calibration", help="Calibration file (not needed for dataset folders)."
    ),
    detections: str | None = typer.Option(
        None, "--detections", help="2D detections: one folder per camera."
    ),
    detections_format: str | None = typer.Option(
        None, "--detections-format", help="openpose | coco (default: auto)."
    ),
    checkpoint: str = typer.Option(
        "detections-any",  # = runner.DEFAULT_CHECKPOINT (a test checks they agree)
        "--checkpoint",
        help="Shipped checkpoint name or .safetensors path (default: a heatmap model; videos and "
        "images without --detections go through the built-in 2D detector).",
    ),
    output: str = typer.Option(
        "tracks.json", "--output", "-o", help="Tracks file: .json, .npz or .csv."
    ),
    refine: str = typer.Option(
        "triangulate",
        "--refine",
        help="triangulate: joints re-triangulated from the 2D detections each tracked person "
        "explains (heatmap models), or from the peaks of the model's own 2D joint heatmaps "
        "(image models that make them) | none: the network's joints.",
    ),
    volume: str = _volume_option(),
    smooth: str = _smooth_option(),
    keep_bones: bool = _bones_option(),
    up: str | None = _up_option(),
    floor: float | None = _floor_option(),
    detection_threshold: float | None = _threshold_option(),
    candidates: bool = _candidates_option(),
    start: int | None = typer.Option(None, help="First frame id (inclusive)."),
    end: int | None = typer.Option(None, help="Last frame id (exclusive)."),
    stride: int = typer.Option(1, help="Keep every N-th frame."),
    cameras: str | None = typer.Option(
        None, "--cameras", help="Cameras to use, comma-separated, e.g. 00_00,00_03 (default: all)."
    ),
    device: str = typer.Option("cpu", help="cpu | cuda"),
    link: str = _link_option(),
    gate: bool = _gate_option(),
    cascade: bool = _cascade_option(),
    units: str | None = _units_option(),
    image_size: str | None = _image_size_option(),
    trim: bool = _trim_option(),
    refine_calibration: bool = _refine_calibration_option(),
) -> None:
    """Reconstruct and track everyone's 3D skeleton over a sequence; writes a tracks file."""
    from rich.console import Console

    from tessetrack.tracking.candidates import CandidateConfig
    from tessetrack.tracking.online import TrackerConfig
    from tessetrack.tracking.runner import track_to_file

    # a bad value: ConfigError, one line
    tracker = TrackerConfig(link=link, gate=gate, cascade=cascade)
    with _progress_bars(("detect", "img/s"), ("track", "fps")) as (detect_progress, progress):
        summary = track_to_file(
            input, output=output, checkpoint=checkpoint, calibration=calibration, detections=detections,
            detections_format=detections_format, start=start, end=end, stride=stride, cameras=cameras,
            device=device, tracker=tracker, progress=progress, refine=refine,
            detect_progress=detect_progress, units=units, image_size=image_size, trim=trim,
            volume=volume, up=_vector(up, "--up"), floor=floor, smooth=smooth,
            keep_bones=keep_bones, detection_threshold=detection_threshold,
            candidates=CandidateConfig() if candidates else None,
            refine_calibration=refine_calibration,
        )  # fmt: skip
    console = Console()
    if summary.calibration is not None:
        _print_recalibration(console, summary.calibration)
    elif refine_calibration:
        console.print("[yellow]calibration not refined[/yellow] (the warning above says why)")
    console.print(f"[green]tracked[/green] {summary.frames} frames, {summary.tracks} tracks, "
                    f"{summary.fps:.1f} fps -> {summary.output}")  # fmt: skip


# --- detect ---
@app.command()
def detect(
    input: str = typer.Argument(
        ...,
        help="Recording: a folder of videos, image folders or one image per camera; or a dataset.",
    ),
    calibration: str | None = typer.Option(
        None, "--calibration", help="Calibration file (optional: names the cameras, checks sizes)."
    ),
    output: str = typer.Option(
        "detections", "--output", "-o", help="Detections folder (resumes what is already there)."
    ),
    format: str = typer.Option("openpose", "--format", help="openpose (BODY25) | coco (COCO-17)."),
    start: int | None = typer.Option(None, help="First frame id (inclusive)."),
    end: int | None = typer.Option(None, help="Last frame id (exclusive)."),
    stride: int = typer.Option(1, help="Keep every N-th frame."),
    cameras: str | None = typer.Option(
        None, "--cameras", help="Cameras to use, comma-separated (default: all)."
    ),
    max_people: int = typer.Option(8, "--max-people", help="People per image at most."),
    passes: int = typer.Option(
        2,
        "--passes",
        help="Searches per image: after the first, again with the people found greyed out "
        "(finds people beside them the first search missed); 1 is about 1.5 times as fast.",
    ),
    tiles: bool = typer.Option(
        True,
        "--tiles/--no-tiles",
        help="Search an image where nobody, or only people under a quarter of its longer side, "
        "is found again in overlapping tiles half that side across (people far from the camera; "
        "about 4 times slower on such images).",
    ),
    mirror: bool = typer.Option(
        True,
        "--mirror/--no-mirror",
        help="Read each image mirrored too and average each person's two readings where they "
        "agree (joints closer to where other cameras see them; half as fast).",
    ),
) -> None:
    """The 2D people in every frame of every camera (built-in BlazePose detector), written as
    OpenPose JSON per camera (or COCO results) for `track --detections`."""
    from rich.console import Console

    from tessetrack.detector import BlazePoseConfig, detect_recording

    config = BlazePoseConfig(max_people=max_people, passes=passes, mirror=mirror,
                             tile_below=BlazePoseConfig.tile_below if tiles else 0.0)  # fmt: skip
    with _progress_bars(("detect", "img/s")) as (progress,):
        summary = detect_recording(input, output, calibration=calibration, format=format,
                                   start=start, end=end, stride=stride, cameras=cameras,
                                   config=config, progress=progress)  # fmt: skip
    Console().print(
        f"[green]detected[/green] {summary.people} people in {summary.detected} images of "
        f"{len(summary.cameras)} cameras ({summary.images_per_second:.1f} images/s; "
        f"{summary.skipped} already done; {summary.duplicates} found twice, kept once) -> "
        f"{summary.output}"
    )


# --- evaluate ---
@app.command()
def evaluate(
    pred: str = typer.Option(..., "--pred", help="Predicted tracks (.json/.npz/.csv)."),
    gt: str = typer.Option(..., "--gt", help="Ground truth: a tracks file or a dataset folder."),
    protocol: list[str] = typer.Option(
        ["all"], "--protocol", help="mpjpe | pcp | ap | mot3d | all (repeat or comma-separate)."
    ),
    json_out: str | None = typer.Option(None, "--json", help="Also write the metrics as JSON."),
) -> None:
    """Compare predicted tracks with ground truth and print a metrics table."""
    from rich.console import Console

    from tessetrack.eval.evaluate import evaluate_files
    from tessetrack.eval.report import metrics_table, per_joint_table

    result = evaluate_files(pred, gt, protocol, json_path=json_out)
    console = Console()
    console.print(metrics_table(result))
    joints = per_joint_table(result)
    if joints is not None:
        console.print(joints)
    if json_out is not None:
        console.print(f"[green]wrote[/green] {json_out}")


# --- synth ---
@app.command()
def synth(
    out: str = typer.Argument(..., help="Output folder (CMU Panoptic layout)."),
    rig: str = typer.Option(
        "ring", help="ring | random | varied | panoptic | shelf | campus, or a calibration file"
    ),
    cameras: int | None = typer.Option(None, help="Number of cameras (default: the rig's)."),
    people: int = typer.Option(4, help="People in the scene."),
    frames: int = typer.Option(300, help="Number of frames."),
    seed: int = typer.Option(0, help="Random seed (fixes everything)."),
    split: str = typer.Option("train", help="Motion clips: train | val | test | all"),
    image_size: str | None = typer.Option(None, help="WxH, e.g. 512x512."),
    no_images: bool = typer.Option(False, "--no-images", help="Write poses and cameras only."),
    limb_mix: float = typer.Option(
        0.0,
        "--limb-mix",
        help="Probability that a motion segment takes its arms/spine from another clip (0: off).",
    ),
    varied_floors: bool = typer.Option(
        False,
        "--varied-floors",
        help="Draw the floor pattern (checker, plain, stripes, tiles, planks, blotches) per scene.",
    ),
    face: str = typer.Option(
        "humanoid",
        "--face",
        help="Face joints: humanoid (the DeepMimic head, low) | measured (real people's proportions).",
    ),
    proportions: str = typer.Option(
        "humanoid",
        "--proportions",
        help="Body proportions: humanoid (the DeepMimic humanoid's, only scaled) | measured "
        "(each person's own, drawn around real people's means).",
    ),
    pose_variation: float = typer.Option(
        0.0,
        "--pose-variation",
        help="Smooth joint-angle variation within human joint limits, 0 (off) to 2; 1 is up to "
        "about ±45° at the shoulders.",
    ),
    walk: str = typer.Option(
        "rig",
        "--walk",
        help="Where people walk: rig (the rig's own area) | two-views (where two or more cameras "
        "see a person whole).",
    ),
) -> None:
    """Write a synthetic multi-person multi-view dataset from real motion capture."""
    from rich.console import Console
    from rich.progress import Progress

    from tessetrack.synth.generate import SynthConfig, generate_dataset, parse_image_size

    config = SynthConfig(
        rig=rig,
        num_cameras=cameras,
        num_people=people,
        num_frames=frames,
        seed=seed,
        split=split,
        image_size=parse_image_size(image_size),
        images=not no_images,
        limb_mix_prob=limb_mix,
        varied_floors=varied_floors,
        face=face,
        proportions=proportions,
        pose_variation=pose_variation,
        walk=walk,
    )
    with Progress(transient=True) as bar:
        task = bar.add_task("synth", total=frames)
        result = generate_dataset(
            out, config, progress=lambda done, total: bar.update(task, completed=done)
        )
    Console().print(
        f"[green]wrote[/green] {result.scene.num_frames} frames, {len(result.rig.cameras)} "
        f"cameras, {result.scene.num_people} people -> {result.out}"
    )


# --- render ---
@app.command()
def render(
    input: str = typer.Argument(
        ..., help="Dataset folder, or a folder of videos / per-camera image folders."
    ),
    tracks: str = typer.Option(..., "--tracks", help="Tracks file (.json/.npz/.csv)."),
    calibration: str | None = typer.Option(
        None, "--calibration", help="Calibration file (not needed for dataset folders)."
    ),
    output: str = typer.Option(
        "overlay.mp4", "--output", "-o", help="Overlay video: .mp4 or .gif."
    ),
    animation: str | None = typer.Option(
        None, "--animation", help="Also write a 3D animation (.mp4 or .gif)."
    ),
    timeline: str | None = typer.Option(
        None, "--timeline", help="Also write a track timeline (.png)."
    ),
    tile_width: int = typer.Option(480, help="Width of each view's tile in pixels."),
    fps: float | None = typer.Option(None, help="Frame rate (default: the tracks')."),
    start: int | None = typer.Option(None, help="First frame id (inclusive)."),
    end: int | None = typer.Option(None, help="Last frame id (exclusive)."),
    stride: int = typer.Option(1, help="Keep every N-th frame."),
    units: str | None = _units_option(),
    image_size: str | None = _image_size_option(),
    trim: bool = _trim_option(),
) -> None:
    """Reprojection overlay video of tracks on every view (plus an optional 3D animation and timeline)."""
    from rich.console import Console
    from rich.progress import Progress

    from tessetrack.io.atomic import check_output
    from tessetrack.io.tracks import load_tracks
    from tessetrack.tracking.inputs import open_input
    from tessetrack.viz.render import VIDEO_SUFFIXES, render_3d_animation, render_overlay_video
    from tessetrack.viz.timeline import plot_timeline

    inputs = (input, tracks, calibration)
    check_output(output, what="overlay video", suffixes=VIDEO_SUFFIXES, inputs=inputs)
    if animation is not None:
        check_output(animation, what="3D animation", suffixes=VIDEO_SUFFIXES, inputs=inputs)
    if timeline is not None:
        check_output(timeline, what="timeline", inputs=inputs)
    tr = load_tracks(tracks)
    dataset = open_input(input, calibration=calibration, start=start, end=end, stride=stride,
                         units=units, image_size=image_size, trim=trim)  # fmt: skip
    console = Console()
    with Progress(transient=True) as bar:
        task = bar.add_task("render", total=len(dataset))
        done = render_overlay_video(dataset, tr, output, tile_width=tile_width, fps=fps,
                                    progress=lambda n, _: bar.update(task, completed=n))  # fmt: skip
        if animation is not None:
            task3d = bar.add_task("3D", total=len(tr.frames))
            render_3d_animation(tr, animation, cameras=dataset.cameras, fps=fps,
                                progress=lambda n, _: bar.update(task3d, completed=n))  # fmt: skip
    if timeline is not None:
        plot_timeline(tr, timeline)
    for path in (done, animation, timeline):
        if path is not None:
            console.print(f"[green]wrote[/green] {path}")


# --- view ---
@app.command()
def view(
    tracks: str = typer.Argument(..., help="Tracks file (.json/.npz/.csv)."),
    calibration: str | None = typer.Option(
        None, "--calibration", help="Calibration file: draw its cameras."
    ),
    ground_truth: str | None = typer.Option(
        None, "--ground-truth", help="Ground truth (tracks file or dataset folder), in grey."
    ),
    save: str | None = typer.Option(
        None, "--save", help="Write a rerun recording (.rrd); open it later with `rerun FILE`."
    ),
    web: bool = typer.Option(False, "--web", help="Serve the web viewer until Ctrl-C."),
    spawn: bool = typer.Option(
        False, "--spawn", help="Open the native viewer (the default without --save/--web)."
    ),
) -> None:
    """Interactive 3D viewer (rerun) of tracks, cameras and ground truth (the "viewer" extra)."""
    import time

    from rich.console import Console

    from tessetrack.io.atomic import check_output
    from tessetrack.viz.viewer import view as show

    if save is not None:
        check_output(save, what="recording", inputs=(tracks, calibration, ground_truth))

    session = show(tracks, calibration, ground_truth=ground_truth, save=save,
                   spawn=spawn or (save is None and not web), web=web)  # fmt: skip
    console = Console()
    if session.saved is not None:
        console.print(f"[green]wrote[/green] {session.saved}")
    if session.web_url is not None:
        console.print(f"web viewer at {session.web_url} (Ctrl-C to stop)", soft_wrap=True)
        try:
            while True:  # the servers live as long as this process
                time.sleep(1.0)
        except KeyboardInterrupt:
            pass


# --- demo ---
@app.command()
def demo(
    output: str = typer.Option("tessetrack-demo", "--output", "-o", help="Demo folder."),
    checkpoint: str = typer.Option(
        "synthetic-detections",
        "--checkpoint",
        help="Shipped checkpoint name or .safetensors path (synthetic-small: the image model).",
    ),
    frames: int = typer.Option(300, "--frames", help="Scene length in frames (300 ≈ 10 s)."),
    device: str = typer.Option("cpu", help="cpu | cuda"),
) -> None:
    """Build a synthetic scene, track it with the shipped checkpoint, evaluate and draw the results."""
    from rich.console import Console
    from rich.progress import Progress

    from tessetrack.demo import run_demo

    with Progress(transient=True) as bar:
        task = bar.add_task("demo", total=None)
        result = run_demo(output, checkpoint=checkpoint, frames=frames, device=device,
                          stage=lambda name: bar.update(task, description=name, completed=0),
                          progress=lambda n, total: bar.update(task, completed=n, total=total))  # fmt: skip
    m = result.result
    console = Console()
    console.print(f"MPJPE {m.get('mpjpe_mm', float('nan')):.1f} mm | MOTA {m.get('mota', float('nan')):.1f} % | "
                  f"ID switches {m.get('id_switches', '-')} | {result.fps:.2f} frames/s ({result.frames} frames)")  # fmt: skip
    for path in (result.tracks, result.metrics, result.overlay, result.scene3d, result.timeline):
        console.print(f"[green]wrote[/green] {path}")


# --- export ---
@app.command()
def export(
    tracks: str = typer.Argument(..., help="Tracks file (.json/.npz/.csv)."),
    output: str = typer.Argument(
        ..., help="OUT.c3d (markers, mm) or OUT.bvh (one skeleton per track)."
    ),
    fps: float | None = typer.Option(None, help="Frame rate (default: the tracks')."),
) -> None:
    """Export tracks to motion-capture formats: C3D marker trajectories or BVH skeletons."""
    from rich.console import Console

    from tessetrack.io.atomic import check_output
    from tessetrack.io.exports import (
        EXPORT_SUFFIXES,
        check_fps,
        export_tracks,
        require_export_packages,
    )
    from tessetrack.io.tracks import load_tracks

    check_output(output, what="export", suffixes=EXPORT_SUFFIXES, inputs=(tracks,))
    check_fps(fps, output)
    require_export_packages(output)
    for path in export_tracks(load_tracks(tracks), output, fps=fps):
        Console().print(f"[green]wrote[/green] {path}")


# --- train ---
@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": False})
def train(
    ctx: typer.Context,
    config: str = typer.Option(
        ...,
        "--config",
        help="YAML config (overrides on the paper defaults; may name a preset), or a recipe: "
        "a config with stages, trained one after the other.",
    ),
    output: str = typer.Option(
        "runs/train",
        "--output",
        "-o",
        help="Run folder: checkpoints, logs, curves (a recipe: one subfolder per stage).",
    ),
    data: list[str] = typer.Option(
        [],
        "--data",
        metavar="<dir>",
        help="Folder holding the data sets the config names (repeatable); NAME=DIR: the folder "
        "of the entries NAME/...",
    ),
    stage: str | None = typer.Option(
        None, "--stage", help="Train a recipe's stages up to and including this one."
    ),
    resume: bool = typer.Option(
        True,
        "--resume/--no-resume",
        help="Continue from OUTPUT/last.safetensors (a recipe: skip finished stages).",
    ),
    max_steps: int | None = typer.Option(
        None, help="Stop after this many steps of this call (checkpointed)."
    ),
) -> None:
    """Train end to end with eq. (4); resumable; runs unchanged under torchrun. Extra KEY=VALUE args override the config (every stage of a recipe)."""
    import os

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeRemainingColumn,
    )

    from tessetrack.io.atomic import check_output
    from tessetrack.train.recipe import run_recipe

    check_output(output, what="run folder", inputs=(config, *data), folder=True)
    is_main = os.environ.get("RANK", "0") == "0"
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[loss]}"),
        TimeRemainingColumn(),
        disable=not is_main,
        transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(name: str, step: int, total: int, losses: dict[str, float]) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name or "train", total=total, loss="")
            bar.update(tasks[name], completed=step, total=total, loss=f"loss {losses['loss']:.4g}")

        outcomes = run_recipe(
            config, output, list(ctx.args), data, until=stage, resume=resume,
            max_steps=max_steps, progress=progress,
        )  # fmt: skip
    for done in outcomes if is_main else ():
        Console().print(done.describe())


# --- calibrate ---
calibrate_app = typer.Typer(
    help="Calibrate cameras: intrinsics from a board; poses from the people in a recording.",
    no_args_is_help=True,
)
app.add_typer(calibrate_app, name="calibrate")


@calibrate_app.command("intrinsics")
def calibrate_intrinsics(
    input: str = typer.Argument(
        ..., help="Folder of per-camera image folders or videos showing the board."
    ),
    board: str = typer.Option(
        ...,
        "--board",
        help="checkerboard:RxC:SQUARE_M (inner corners) or "
        "charuco:RxC:SQUARE_M:MARKER_M[:DICT], e.g. checkerboard:4x7:0.06.",
    ),  # fmt: skip
    output: str = typer.Option("intrinsics.toml", "--output", "-o", help="Output .toml or .json."),
    max_frames: int = typer.Option(60, "--max-frames", help="Frames read per video at most."),
) -> None:
    """Intrinsics and lens distortion of every camera from views of a board."""
    from rich.console import Console
    from rich.table import Table

    from tessetrack.calibrate import IntrinsicsConfig, ViewSampling, calibrate_intrinsics
    from tessetrack.calibrate.boards import parse_board
    from tessetrack.data.own_cameras import find_sources
    from tessetrack.io.atomic import check_output
    from tessetrack.io.calibration import save_cameras

    check_output(output, what="calibration", suffixes=(".toml", ".json"), inputs=(input,))
    spec = parse_board(board)
    config = IntrinsicsConfig(sampling=ViewSampling(max_frames=max_frames))
    with _progress_bars(("board", "img/s")) as (progress,):
        results = calibrate_intrinsics(find_sources(input), spec, config,
                                       progress=lambda _cam, d, t: progress(d, t))  # fmt: skip
    save_cameras({n: r.camera for n, r in results.items()}, output)
    table = Table("camera", "views used", "no board", "blurry", "duplicate", "model", "RMS px",
                  "fx", "fy")  # fmt: skip
    for name, r in results.items():
        v, K = r.views, r.camera.K
        table.add_row(name, f"{len(r.fit.used)}/{v.images}", str(v.missed), str(v.blurry),
                      str(v.duplicates), r.fit.model, f"{r.fit.rms:.3f}", f"{K[0, 0]:.1f}",
                      f"{K[1, 1]:.1f}")  # fmt: skip
    console = Console()
    console.print(table)
    console.print(f"[green]wrote[/green] {output}")


@calibrate_app.command("extrinsics")
def calibrate_extrinsics(
    recording: str = typer.Argument(..., help="Synchronized recording: videos or image folders."),
    intrinsics: str = typer.Option(..., "--intrinsics", help="Calibration file with intrinsics."),
    source: str = typer.Option(
        "people", "--from", help="people (their joints) | board (a board seen by several cameras)."
    ),
    board: str | None = typer.Option(
        None, "--board", help="With --from board: the board, as for calibrate intrinsics."
    ),
    person_height: str = typer.Option(
        "1.7",
        "--person-height",
        help="The people's mean height in metres, or one height per person (1.70,1.40), "
        "matched tallest to tallest (sets the scale).",
    ),
    detections: str | None = typer.Option(
        None, "--detections", help="Detections folder to reuse (filled by the detector if empty)."
    ),
    output: str = typer.Option("calibration.toml", "--output", "-o", help="Output .toml or .json."),
    start: int | None = typer.Option(None, help="First frame id (inclusive)."),
    end: int | None = typer.Option(None, help="Last frame id (exclusive)."),
    stride: int = typer.Option(1, help="Keep every N-th frame."),
    max_frames: int = typer.Option(
        200, "--max-frames", help="With --from board: frames read per camera at most."
    ),
    refine: bool = typer.Option(
        False,
        "--refine",
        help="With --from people: start from the poses in the --intrinsics file and refine them "
        "(keeps its world frame and scale; --person-height is not used).",
    ),
) -> None:
    """Camera poses from the people in a synchronized recording (metres, z up, floor at z = 0)
    or from a board that several cameras see at once (metres, the board's frame); or, with
    --refine, a calibration's poses refined from the people."""
    from tessetrack.io.atomic import check_output

    check_output(output, what="calibration", suffixes=(".toml", ".json"),
                 inputs=(recording, intrinsics, detections))  # fmt: skip
    if refine and source != "people":
        raise InputError("--refine works with --from people only")
    if source == "board":
        if board is None:
            raise InputError("--from board needs --board (e.g. --board checkerboard:4x7:0.06)")
        _extrinsics_from_board(recording, intrinsics, board, max_frames, output)
    elif source == "people":
        _extrinsics_from_people(recording, intrinsics, _heights(person_height), detections,
                                output, (start, end, stride), refine)  # fmt: skip
    else:
        raise InputError(f"--from {source}: expected 'people' or 'board'")


def _heights(text: str) -> tuple[float, ...]:
    """``--person-height``: one or more comma-separated positive heights in metres."""
    from tessetrack.calibrate.world_frame import check_heights

    try:
        heights = tuple(float(h) for h in text.split(","))
    except ValueError:
        heights = ()
    if not heights:
        raise InputError(f"--person-height {text!r}: expected metres, e.g. 1.7 or 1.70,1.40")
    try:
        check_heights(heights)
    except InputError as err:
        raise InputError(f"--person-height {text!r}: {err}") from None
    return heights


def _extrinsics_from_people(
    recording: str, intrinsics: str, person_height: tuple[float, ...], detections: str | None,
    output: str,
    frames: tuple[int | None, int | None, int],
    refine: bool = False,
) -> None:  # fmt: skip
    """``calibrate extrinsics --from people [--refine]``: calibrate, write, print the fit and
    the scale (or, refined, how far each camera moved)."""
    from rich.console import Console

    from tessetrack.calibrate.extrinsics import calibrate_extrinsics as run
    from tessetrack.io.calibration import load_cameras, save_cameras

    start, end, stride = frames
    with _progress_bars(("detect", "img/s")) as (progress,):
        height = person_height[0] if len(person_height) == 1 else person_height
        result = run(recording, intrinsics, detections=detections, person_height=height,
                     start=start, end=end, stride=stride, progress=progress,
                     refine=refine)  # fmt: skip
    save_cameras(result.cameras, output)
    console = Console()
    _print_fits(console, result.fits, result.cameras, load_cameras(intrinsics) if refine else None)
    if refine:
        console.print(f"[green]wrote[/green] {output} ({result.frames} frames; the poses of "
                      f"{intrinsics} refined, in its world frame and scale)")  # fmt: skip
        return
    heights = ", ".join(f"{h:.2f}" for h in result.frame.heights)
    given = (
        f"of mean height {person_height[0]:g} m"
        if len(person_height) == 1
        else "of heights " + ", ".join(f"{h:g}" for h in sorted(person_height, reverse=True)) + " m"
    )
    console.print(f"scale: {len(result.frame.heights)} people {given} (--person-height); "
                  f"their heights: {heights} m")  # fmt: skip
    console.print(f"[green]wrote[/green] {output} ({result.frames} frames)")


def _print_fits(
    console: Console, fits: dict, cameras: dict, before: dict | None, warn: bool = True
) -> None:
    """The table of a people-based calibration's cameras (joints, reprojection error, centre and,
    refined from ``before``, how far each moved), and (``warn``) a warning per camera that fits
    poorly or turned further than a drift."""
    from rich.table import Table

    table = Table("camera", "joints", "median px", "RMS px", "centre x, y, z (m)",
                  *(["moved (°, cm)"] if before else []))  # fmt: skip
    for name, fit in fits.items():
        cam = cameras[name]
        centre = ", ".join(f"{c:.2f}" for c in cam.center)
        extra = [_moved(before[name], cam)] if before else []
        table.add_row(name, str(fit.observations), f"{fit.median_px:.1f}", f"{fit.rms_px:.1f}",
                      centre, *extra)  # fmt: skip
    console.print(table)
    if not warn:
        return
    for line in _poor_fits(fits) + (_far_turns(before, cameras) if before else []):
        console.print(f"[yellow]warning[/yellow] {line}")


def _far_turns(before: dict, after: dict) -> list[str]:
    """One line naming the cameras a refinement turned further than a drift (their people may
    have been matched wrongly under the given poses)."""
    from tessetrack.calibrate.extrinsics import far_turns

    far = far_turns(after, before)
    if not far:
        return []
    degrees = ", ".join(f"{t:.0f}" for t in far.values())
    return [
        f"{', '.join(far)} turned {degrees}° from the given pose, more than a drift: if the "
        "given poses were right to a few degrees, their people were matched wrongly "
        "(calibrate from scratch, without refining)"
    ]


def _poor_fits(fits: dict, ratio: float = 2.0, floor_px: float = 10.0) -> list[str]:
    """One line per camera whose median reprojection error is over ``floor_px`` and ``ratio``
    times the median of the other cameras' (its pose is the least trustworthy)."""
    import numpy as np

    lines = []
    for name, fit in fits.items():
        others = [f.median_px for n, f in fits.items() if n != name and np.isfinite(f.median_px)]
        if not others or not fit.median_px > max(floor_px, ratio * float(np.median(others))):
            continue
        lines.append(f"{name} fits worse than the other cameras ({fit.median_px:.1f} px against "
                     f"{min(others):.1f}-{max(others):.1f}, from {fit.observations} joints): its "
                     "people may be hidden or mixed up in these frames; calibrate from frames "
                     "where it sees everyone clearly")  # fmt: skip
    return lines


def _moved(before, after) -> str:
    """How far a camera turned (°) and moved (cm) between two calibrations in one world."""
    import numpy as np

    from tessetrack.calibrate.compare import rotation_deg

    angle = rotation_deg(after.R @ before.R.T)
    return f"{angle:.1f}°, {100 * np.linalg.norm(after.center - before.center):.0f} cm"


def _extrinsics_from_board(
    recording: str, intrinsics: str, board: str, max_frames: int, output: str
) -> None:
    """``calibrate extrinsics --from board``: calibrate, write, print the fit."""
    from rich.console import Console
    from rich.table import Table

    from tessetrack.calibrate.board_rig import BoardRigConfig
    from tessetrack.calibrate.boards import parse_board
    from tessetrack.calibrate.extrinsics import calibrate_extrinsics_from_board as run
    from tessetrack.data.own_cameras import find_sources
    from tessetrack.io.calibration import save_cameras

    spec = parse_board(board)
    with _progress_bars(("board", "img/s")) as (progress,):
        result = run(find_sources(recording), intrinsics, spec,
                     config=BoardRigConfig(max_frames=max_frames),
                     progress=lambda _cam, d, t: progress(d, t))  # fmt: skip
    save_cameras(result.cameras, output)
    table = Table("camera", "views", "shared", "RMS px", "centre x, y, z (m)")
    for name, fit in result.fits.items():
        centre = ", ".join(f"{c:.2f}" for c in result.cameras[name].center)
        table.add_row(name, str(fit.views), str(fit.shared), f"{fit.rms_px:.2f}", centre)
    console = Console()
    console.print(table)
    console.print(f"[green]wrote[/green] {output} ({result.frames} frames seen by two or more "
                  f"cameras; world: the board in frame {result.origin_frame})")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        app(args=argv, standalone_mode=True)
    except TesseTrackError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
