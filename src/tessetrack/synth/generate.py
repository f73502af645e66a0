"""``tessetrack synth``: generate a synthetic multi-person multi-view dataset (Panoptic layout).

Pipeline: rig (:mod:`~tessetrack.synth.rigs`) → scene from real motion capture
(:mod:`~tessetrack.synth.scene`) → per frame: pose the people, render every camera
(:mod:`~tessetrack.synth.render`), simulate detections (:mod:`~tessetrack.synth.detections_sim`) →
files (:mod:`~tessetrack.synth.writer`). One seed fixes everything: the seed's
``SeedSequence`` is split into independent streams for rig, scene, looks and detections.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from tessetrack.errors import InputError
from tessetrack.synth.detections_sim import DetectionNoise, simulate_detections
from tessetrack.synth.motion import (
    FACE_MODELS,
    PROPORTIONS,
    clips_for_split,
    load_clip,
    load_skeleton,
)
from tessetrack.synth.render import PeopleRenderer, SceneStyle, sample_appearance, sample_style
from tessetrack.synth.rigs import RIG_NAMES, Rig, make_rig, two_view_rig
from tessetrack.synth.scene import Scene, SceneConfig, generate_scene
from tessetrack.synth.writer import (
    write_body3d_scene,
    write_calibration,
    write_image,
    write_metadata,
)

__all__ = ["SynthConfig", "SynthResult", "parse_image_size", "build_scene", "generate_dataset"]

logger = logging.getLogger(__name__)

#: Where a scene's people walk (:attr:`SynthConfig.walk`).
WALKS = ("rig", "two-views")


@dataclass(frozen=True)
class SynthConfig:
    """Settings of ``tessetrack synth`` (CLI flags in brackets).

    Attributes:
        rig: ``ring``, ``random``, ``varied``, ``panoptic``, ``shelf``, ``campus`` or a calibration file
            (:func:`~tessetrack.synth.rigs.calibration_rig`) [--rig].
        num_cameras: V; None = the rig's default (5, Shelf 5, Campus 3) [--cameras].
        num_people: people placed in the scene [--people].
        num_frames: T [--frames].
        seed: the only source of randomness [--seed].
        split: clips from ``train``, ``val``, ``test`` or ``all`` [--split].
        image_size: (W, H); None = 512×512 (parametric rigs) or the native aspect 512 wide.
        images: render and write images [--no-images turns it off].
        detections: joint set of simulated OpenPose detections, or None for none.
        fps: frame rate (Panoptic HD: 29.97).
        limb_mix_prob: probability that a motion segment takes its arms / spine from another clip
            (:attr:`~tessetrack.synth.motion.MotionOptions.limb_mix_prob`); 0 = unmixed [--limb-mix].
        varied_floors: draw the floor pattern from
            :data:`~tessetrack.synth.render.FLOOR_PATTERNS` instead of always a checkerboard
            [--varied-floors]. Nothing else of the seed's scene changes.
        face: face joints of the people, ``humanoid`` (default) or ``measured`` (real people's
            proportions; :data:`~tessetrack.synth.motion.FACE_MODELS`) [--face]. Only the five
            face joints (and the rendered head) move.
        proportions: body proportions of the people, ``humanoid`` (default: the humanoid's, only
            scaled) or ``measured`` (each person's own bone lengths around real people's means;
            :attr:`~tessetrack.synth.motion.MotionOptions.proportions`) [--proportions].
        pose_variation: amplitude of smooth joint-angle variation within human joint limits,
            0 (default, none) to 2; 1 is up to about ±45° at the shoulders
            (:attr:`~tessetrack.synth.motion.MotionOptions.pose_variation`) [--pose-variation].
        walk: where people walk: ``rig`` (default: the named real rigs' own area, where their
            datasets' people are; a calibration file's floor that two cameras see whole) or
            ``two-views`` (:func:`~tessetrack.synth.rigs.two_view_rig`: where two or more cameras
            see a person whole, for any rig) [--walk].
        scene: composition settings (its num_people/num_frames/fps and its motion's limb_mix_prob,
            face, proportions and pose_variation are overridden).
        noise: detection error model.
    """

    rig: str = "ring"
    num_cameras: int | None = None
    num_people: int = 4
    num_frames: int = 300
    seed: int = 0
    split: str = "train"
    image_size: tuple[int, int] | None = None
    images: bool = True
    detections: str | None = "body25"
    fps: float = 29.97
    limb_mix_prob: float = 0.0
    varied_floors: bool = False
    face: str = "humanoid"
    proportions: str = "humanoid"
    pose_variation: float = 0.0
    walk: str = "rig"
    scene: SceneConfig = field(default_factory=SceneConfig)
    noise: DetectionNoise = field(default_factory=DetectionNoise)


@dataclass(frozen=True, eq=False)
class SynthResult:
    """What :func:`generate_dataset` wrote: the folder, the rig and the scene (floor frame)."""

    out: Path
    rig: Rig
    scene: Scene
    metadata: dict


def parse_image_size(text: str | None) -> tuple[int, int] | None:
    """``"640x480"`` -> (640, 480); None stays None."""
    if text is None:
        return None
    try:
        w, h = (int(x) for x in str(text).lower().split("x"))
    except ValueError:
        raise InputError(f"image size must look like 640x480, got {text!r}") from None
    if w < 16 or h < 16:
        raise InputError(f"image size must be at least 16x16, got {text!r}")
    return w, h


def _validate(config: SynthConfig) -> None:
    from_file = config.rig not in RIG_NAMES and Path(config.rig).is_file()
    if config.rig not in RIG_NAMES and not from_file:
        raise InputError(
            f"unknown rig {config.rig!r}; choose one of {', '.join(RIG_NAMES)} or a calibration file"
        )
    if from_file and config.images:
        raise InputError(
            f"{config.rig}: a calibration file's rig keeps its lens distortion, which the renderer "
            "does not draw; use it with --no-images"
        )
    if config.num_cameras is not None and config.num_cameras < 1:
        raise InputError(f"--cameras must be at least 1, got {config.num_cameras}")
    if config.num_people < 1:
        raise InputError(f"--people must be at least 1, got {config.num_people}")
    if config.num_frames < 1:
        raise InputError(f"--frames must be at least 1, got {config.num_frames}")
    if config.seed < 0:
        raise InputError(f"--seed must be non-negative, got {config.seed}")
    if config.image_size is not None and min(config.image_size) < 16:
        raise InputError(f"image size must be at least 16x16, got {config.image_size}")
    if not 0.0 <= config.limb_mix_prob <= 1.0:
        raise InputError(f"--limb-mix must be between 0 and 1, got {config.limb_mix_prob}")
    if config.face not in FACE_MODELS:
        raise InputError(f"unknown --face {config.face!r}; choose one of {', '.join(FACE_MODELS)}")
    if config.proportions not in PROPORTIONS:
        raise InputError(
            f"unknown --proportions {config.proportions!r}; choose one of {', '.join(PROPORTIONS)}"
        )
    if not 0.0 <= config.pose_variation <= 2.0:
        raise InputError(f"--pose-variation must be between 0 and 2, got {config.pose_variation}")
    if config.walk not in WALKS:
        raise InputError(f"unknown --walk {config.walk!r}; choose one of {', '.join(WALKS)}")
    if config.rig == "varied" and (config.images or config.image_size is not None):
        raise InputError(
            "the varied rig draws its own image sizes and lens distortion, which the renderer does "
            "not draw; use it with --no-images and without --image-size"
        )
    clips_for_split(config.split)  # raises for an unknown split


def _prepare_output(out: Path) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("output exists and is not a folder", out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".tessetrack_write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"cannot write to the output folder ({exc.strerror})", out) from None
    if not os.access(out, os.W_OK):
        raise InputError("the output folder is not writable", out)
    return out


def build_scene(config: SynthConfig) -> tuple[Rig, Scene, list[np.random.Generator]]:
    """The rig and scene of a config, plus the generators left for looks and detections."""
    _validate(config)
    rig_rng, scene_rng, look_rng, det_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(4)
    )
    rig = make_rig(
        config.rig, num_cameras=config.num_cameras, image_size=config.image_size, rng=rig_rng
    )
    if config.walk == "two-views":
        rig = two_view_rig(rig)
    clips = [load_clip(name) for name in clips_for_split(config.split)]
    scene_cfg = SceneConfig(
        **{
            **config.scene.__dict__,
            "num_people": config.num_people,
            "num_frames": config.num_frames,
            "fps": config.fps,
            "motion": replace(
                config.scene.motion,
                limb_mix_prob=config.limb_mix_prob,
                face=config.face,
                proportions=config.proportions,
                pose_variation=config.pose_variation,
            ),
        }
    )
    scene = generate_scene(
        scene_cfg,
        clips,
        load_skeleton(),
        scene_rng,
        area_center=rig.area_center,
        area_half_size=rig.area_half_size,
    )
    return rig, scene, [look_rng, det_rng]


def _renderer(
    rig: Rig, scene: Scene, look_rng: np.random.Generator, config: SynthConfig
) -> tuple[PeopleRenderer, SceneStyle]:
    """The scene's people renderer (looks and style drawn from ``look_rng``) and its style."""
    ref = np.stack(
        [scene.joints[int(np.argmax(scene.present[:, i])), i] for i in range(scene.num_people)]
    )  # P×19×3
    centers = np.stack([rig.world_to_floor(c.center) for c in rig.cameras])
    reach = np.abs(centers[:, :2] - rig.area_center).max() + 1.5
    looks = [sample_appearance(look_rng) for _ in range(scene.num_people)]
    style = sample_style(look_rng, varied=config.varied_floors)
    renderer = PeopleRenderer(
        ref,
        looks,
        style,
        R_world_from_floor=rig.R_world_from_floor,
        t_world_from_floor=rig.t_world_from_floor,
        floor_half_size=float(max(reach, 4.0)),
        floor_center=rig.area_center,
        rng=look_rng,
    )
    return renderer, style


def _metadata(config: SynthConfig, rig: Rig, scene: Scene, style: SceneStyle | None) -> dict:
    """What ``tessetrack_synth.json`` records about a generated scene."""
    cameras = rig.cameras
    return {
        "format": "tessetrack.synth/1",
        "seed": config.seed,
        "rig": rig.name,
        "cameras": [c.name for c in cameras],
        "split": config.split,
        "clips_available": list(clips_for_split(config.split)),
        "clips_used": sorted(
            {s["clip"] for p in scene.people for s in p["segments"]}
            | {m["clip"] for p in scene.people for s in p["segments"] for m in s.get("mixed", [])}
        ),
        "limb_mix_prob": config.limb_mix_prob,
        "varied_floors": config.varied_floors,
        "face": config.face,
        "proportions": config.proportions,
        "pose_variation": config.pose_variation,
        "walk": config.walk,
        "floor_pattern": None if style is None else style.floor_pattern,
        "fps": config.fps,
        "num_frames": scene.num_frames,
        "num_people": scene.num_people,
        "units": "cm (Panoptic layout); metadata in metres",
        "R_world_from_floor": rig.R_world_from_floor.tolist(),
        "t_world_from_floor_m": rig.t_world_from_floor.tolist(),
        "images": bool(config.images),
        "detections": config.detections,
        "people": scene.people,
    }


def generate_dataset(
    out: str | Path,
    config: SynthConfig = SynthConfig(),
    *,
    progress: Callable[[int, int], None] | None = None,
) -> SynthResult:
    """Generate a dataset into ``out`` (Panoptic layout, see :mod:`tessetrack.synth.writer`).

    Args:
        out: output folder (created; its name is the sequence name).
        config: settings.
        progress: called as ``progress(frames_done, num_frames)`` after every frame.

    Raises:
        InputError: bad settings or an unwritable folder.
    """
    _validate(config)
    out = _prepare_output(Path(out))
    rig, scene, (look_rng, det_rng) = build_scene(config)
    cameras = rig.cameras
    write_calibration(out, cameras)
    joints_world = rig.floor_to_world(scene.joints)  # T×P×19×3, NaN where absent
    renderer, style = _renderer(rig, scene, look_rng, config) if config.images else (None, None)
    detections: dict[str, dict[int, np.ndarray]] = {c.name: {} for c in cameras}
    try:
        for t in range(scene.num_frames):
            present = scene.present[t]
            ids = [i for i in range(scene.num_people) if present[i]]
            write_body3d_scene(out, t, joints_world[t, ids], ids, config.fps)
            if renderer is not None:
                renderer.set_poses(np.nan_to_num(joints_world[t]), present)
            for cam in cameras:
                uv = cam.project(np.nan_to_num(joints_world[t]))  # P×19×2
                uv[~present] = np.nan
                depth = cam.depth(np.nan_to_num(joints_world[t]))  # P×19
                occluded = None
                if renderer is not None:
                    rgb, seg = renderer.render(cam)
                    write_image(out, cam.name, t, rgb)
                    occluded = _occlusion(uv, seg)
                if config.detections is not None:
                    detections[cam.name][t] = simulate_detections(
                        uv,
                        depth=depth,
                        width=cam.width,
                        height=cam.height,
                        rng=det_rng,
                        occluded=occluded,
                        joint_set=config.detections,
                        noise=config.noise,
                    )
            if progress is not None:
                progress(t + 1, scene.num_frames)
    finally:
        if renderer is not None:
            renderer.close()
    if config.detections is not None:
        from tessetrack.io.detections import Detections2D, write_openpose

        write_openpose(out / "detections", Detections2D(config.detections, detections))
    metadata = _metadata(config, rig, scene, style)
    write_metadata(out, metadata)
    logger.info("wrote %d frames × %d cameras to %s", scene.num_frames, len(cameras), out)
    return SynthResult(out, rig, scene, metadata)


def _occlusion(uv: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """(P, 19) True where a joint's pixel shows another person or nothing (joint hidden).

    uv: (P, 19, 2) pixels (NaN for absent people); seg: (H, W) person index, −1 background.
    """
    H, W = seg.shape
    P = uv.shape[0]
    out = np.zeros(uv.shape[:2], bool)
    finite = np.isfinite(uv).all(-1)
    px = np.where(finite[..., None], np.round(np.nan_to_num(uv)), -1).astype(np.int64)
    inside = finite & (px[..., 0] >= 0) & (px[..., 0] < W) & (px[..., 1] >= 0) & (px[..., 1] < H)
    owner = np.full(uv.shape[:2], -2, np.int64)
    owner[inside] = seg[px[inside][:, 1], px[inside][:, 0]]
    out[inside] = owner[inside] != np.arange(P)[:, None].repeat(19, 1)[inside]
    return out
