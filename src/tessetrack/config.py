"""Frozen, typed configuration of the TesseTrack network (paper §3, §4 "Implementation details").

Every stage has its own frozen dataclass whose defaults are the paper's values (HRNet-W32, R = 32,
64³ voxels over a 12 m indoor space, 2.5 m tesseracts, T = Δt = 5, Q = 19 Panoptic joints, α = 1,
β = γ = 0.01, 100 Sinkhorn iterations), with one exception: the pose head's ``refine`` and ``skips``
(ours) are on by default, as in every shipped model; the ``paper`` preset turns them off. Experiment
files (``configs/*.yaml``) hold *overrides only*::

    model:
      backbone: {name: small, channels: 16}
      tesseract: {time_window: 3}
    loss: {gamma: 0.1}

and command lines add dotted overrides such as ``model.tesseract.time_window=3``. The root object is
:class:`Config` (``model`` + ``loss`` + ``train``, the training loop's
:class:`~tessetrack.train.settings.TrainSettings`); all three parts are checked when a config is
loaded, so a bad value in a file or an override fails with a one-line :class:`ConfigError` naming
its dotted key. A checkpoint stores ``Config.to_dict()`` (every field) as JSON;
:meth:`Config.from_dict` reads it back exactly.

Variants (paper §4, "TesseTrack variants") are four switches of :class:`VariantConfig`:

=========  ==========  ==========  =========  =========
name       input       temporal    matcher    merge
=========  ==========  ==========  =========  =========
HI         heatmaps    False       none       average
FI         features    False       none       average
FT         features    True        none       average
FTGA       features    True        hungarian  average
FTGL       features    True        hungarian  learned
FTDL       features    True        learned    learned
FIG        features    False       hungarian  average
HT         heatmaps    True        none       average
HTGA       heatmaps    True        hungarian  average
HTGL       heatmaps    True        hungarian  learned
HTDL       heatmaps    True        learned    learned
HIG        heatmaps    False       hungarian  average
=========  ==========  ==========  =========  =========

``matcher: none`` (pose estimation only, no tracking inside the network) is our extension: the paper's
HI / FI / FT rows are evaluated for pose accuracy only. The ``H*`` rows after ``FIG`` are our extension
too: the paper's temporal, matching and merging switches on 2D-heatmap input (the ``detections-*``
models are HTDL), so that the switches can be compared on input from a 2D detector.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tessetrack.errors import ConfigError
from tessetrack.train.settings import TrainSettings

__all__ = [
    "BackboneConfig",
    "VolumeConfig",
    "DetectorConfig",
    "TesseractConfig",
    "MatcherConfig",
    "PoseHeadConfig",
    "VariantConfig",
    "ModelConfig",
    "LossConfig",
    "Config",
    "VARIANTS",
    "PRESETS",
    "preset",
    "variant",
    "apply_overrides",
    "override_items",
    "config_from_mapping",
    "load_config",
    "parse_override",
    "read_config_file",
]

Vec3 = tuple[float, float, float]
Shape3 = tuple[int, int, int]


# --- stage configs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackboneConfig:
    """Image backbone (§3.1): HRNet-W32 whose highest-resolution branch goes through one 1×1 conv to R channels.

    Attributes:
        name: ``"hrnet_w32"`` (paper), ``"small"`` (a few strided convs, CPU friendly) or ``"unet"``
            (a small encoder-decoder down to 1/32: CPU-sized, sees the whole view).
        channels: R, channels of the feature map cast into voxels (paper: 32).
        small_width: base width of the ``small`` and ``unet`` backbones.
        small_dilations: the ``small`` backbone's residual blocks, one dilation each; (1, 1) is the
            original, (2, 4) widens what each feature sees from ~40 to ~100 px at the same cost.
        weights: optional LOCAL file (``.safetensors`` or a ``state_dict`` file) with pretrained weights.
        heatmap_sigma: Gaussian sigma in feature-map pixels when rendering 2D detections (variant H).
        keypoint_head: add a 1×1 conv from the R features to Q 2D joint heatmaps, trained by the
            auxiliary ``loss.keypoint_2d`` term against projected GT joints. Not in the paper: its HRNet
            came pretrained on 2D pose, and without downloadable weights this intermediate
            supervision is what teaches a from-scratch backbone where joints are. Not used at
            inference (features, not these heatmaps, are cast into voxels).
        image_heatmaps: variant H only: read images, not 2D detections; the backbone and its 2D
            head (``heatmap_head``) make the joint heatmaps, as the paper's H variants take HRNet's
            2D heatmaps. Off (default): the heatmaps are rendered from external 2D detections.
        image_heatmaps_peaks: with ``image_heatmaps``: redraw the 2D head's heatmaps from their
            local maxima (value >= ``image_heatmaps_threshold``, at most 2 × ``detector.max_people``
            per joint) as Gaussians of ``heatmap_sigma``, the way 2D detections are rendered
            (:func:`tessetrack.ops.heatmaps2d.rerender_heatmap_peaks`; ours). For a 3D network trained
            on rendered detections. Off (default): the heatmaps are read as they are.
        image_heatmaps_threshold: the smallest peak kept by ``image_heatmaps_peaks`` (0.3: the best
            of 0.2 / 0.3 / 0.4 on the synthetic val scene for `synthetic-small`'s 2D network).
    """

    name: str = "hrnet_w32"
    channels: int = 32
    small_width: int = 32
    small_dilations: tuple[int, ...] = (1, 1)
    weights: str | None = None
    heatmap_sigma: float = 2.0
    keypoint_head: bool = False
    image_heatmaps: bool = False
    image_heatmaps_peaks: bool = False
    image_heatmaps_threshold: float = 0.3


@dataclass(frozen=True)
class VolumeConfig:
    """The whole-space voxel grid of the person detection network (metres, z up).

    Attributes:
        center: world centre of the observed space.
        size: edge lengths of the space (paper: 12 m indoor, 50 m outdoor).
        shape: voxels per axis (paper: 64).
        fusion_hidden: hidden width of the per-view scoring net that fuses views.
    """

    center: Vec3 = (0.0, 0.0, 1.0)
    size: Vec3 = (12.0, 12.0, 12.0)
    shape: Shape3 = (64, 64, 64)
    fusion_hidden: int = 32


@dataclass(frozen=True)
class DetectorConfig:
    """3D CNN on the fused volume → person-centre heatmap → 3D NMS (§3.1).

    ``refine_blocks`` (ours, 0 in both presets) adds residual 3D blocks at the volume's full
    resolution after the decoder. The encoder-decoder alone sees people at half resolution and
    tends to return one blob between two people closer than about four voxels; the full-resolution
    blocks keep their peaks apart. They start as the identity, so a warm start from a checkpoint
    without them begins from its exact outputs.

    ``height_levels`` (ours, 0 = off in both presets) tells the 3D CNN how high above the floor
    each voxel is: the voxel's height ``dot(centre, up) - floor`` is encoded by that many Gaussian
    bumps spread over 0..2 m and mixed into the fused volume by a 1×1×1 conv that starts at zero
    (a warm start keeps its outputs). A convolution alone is translation-equivariant and cannot
    tell the floor from any other height; with one view the only cue for depth along the ray is
    where the feet meet the floor.
    """

    hidden: int = 32
    num_blocks: int = 3
    refine_blocks: int = 0
    height_levels: int = 0
    up: Vec3 = (0.0, 0.0, 1.0)
    floor: float = 0.0
    nms_kernel: int = 3
    max_people: int = 10
    threshold: float = 0.3


@dataclass(frozen=True)
class TesseractConfig:
    """Spatio-temporal person volume (tesseract) and its 4D CNN (§3.2).

    Attributes:
        size: edge length of the cuboid around a detected centre (paper: 2.5 m).
        shape: voxels per axis of the cuboid.
        time_window: T, frames per tesseract (odd: centred on the detection frame; paper: 5).
        stride: Δt, frames between the two anchors that are matched (paper: 5).
        channels: output channels of the 4D conv blocks; each block but the first halves X, Y, Z.
        descriptor_dim: D, width of the pooled descriptor used for matching.
        fusion_hidden: hidden width of the view-fusion net of the tesseract sampler.
        activation_checkpointing: recompute the 4D CNN activations in backward (saves memory).
    """

    size: float = 2.5
    shape: Shape3 = (64, 64, 64)
    time_window: int = 5
    stride: int = 5
    channels: tuple[int, ...] = (32, 64, 64)
    descriptor_dim: int = 128
    fusion_hidden: int = 32
    activation_checkpointing: bool = False


@dataclass(frozen=True)
class MatcherConfig:
    """Attention GNN + Sinkhorn matcher (§3.2) and the Hungarian baseline (variant G).

    ``position_encoding`` (ours, off in the paper preset) adds an encoding of each person's centre,
    relative to the volume, to its descriptor before the GNN (see
    :class:`tessetrack.model.matcher.LearnedMatcher`).
    """

    layers: int = 6
    heads: int = 4
    sinkhorn_iters: int = 100
    match_threshold: float = 0.2
    dustbin_init: float = 1.0
    max_distance: float = 0.5
    position_encoding: bool = False


@dataclass(frozen=True)
class PoseHeadConfig:
    """Descriptor merging and tesseract deconvolution to Q joint heatmaps (§3.3).

    Attributes:
        num_joints: Q; joint_set: their layout (``tessetrack.skeletons``).
        merge_hidden: width of the learned merge's scoring net.
        softargmax_beta: inverse temperature of the soft-argmax.
        refine: follow each 2× transposed convolution by a 3×3×3 Conv4d block, so that the
            upsampled heatmaps are smoothed across the parent cells of the bottleneck (the paper
            only says "deconvolutions"; without it each fine voxel sees one bottleneck cell).
            On by default (every shipped model uses it); the ``paper`` preset turns it off.
        skips: U-Net skips: the current tesseract's encoder features at each resolution are
            concatenated into the decoder (before its refine blocks). Not in the paper, whose pose
            comes from the merged bottleneck alone; the temporal merge still enters through the
            bottleneck, the skips add the current frame's fine spatial detail. On by default
            (every shipped model uses it); the ``paper`` preset turns it off.
    """

    num_joints: int = 19
    joint_set: str = "panoptic19"
    merge_hidden: int = 32
    softargmax_beta: float = 1.0
    refine: bool = True
    skips: bool = True


@dataclass(frozen=True)
class VariantConfig:
    """The four design switches of paper §4 (see the module docstring for the named variants)."""

    input: str = "features"
    temporal: bool = True
    matcher: str = "learned"
    merge: str = "learned"


@dataclass(frozen=True)
class ModelConfig:
    """All network stages. Defaults: the paper's FTDL model."""

    variant: VariantConfig = field(default_factory=VariantConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    volume: VolumeConfig = field(default_factory=VolumeConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    tesseract: TesseractConfig = field(default_factory=TesseractConfig)
    matcher: MatcherConfig = field(default_factory=MatcherConfig)
    pose_head: PoseHeadConfig = field(default_factory=PoseHeadConfig)

    @property
    def time_window(self) -> int:
        """Effective T: 1 for instantaneous (I) variants."""
        return self.tesseract.time_window if self.variant.temporal else 1

    @property
    def clip_length(self) -> int:
        """F = T + Δt frames of a training clip (two anchors Δt apart, each with a T-frame window)."""
        return self.time_window + self.tesseract.stride

    @property
    def feature_channels(self) -> int:
        """Channels cast into voxels: R for features (F), J joint heatmaps for H."""
        if self.variant.input == "heatmaps":
            return self.pose_head.num_joints
        return self.backbone.channels


@dataclass(frozen=True)
class LossConfig:
    """Weights and widths of the losses (eqs. 1-4).

    Attributes:
        alpha: weight of the tracking loss (eq. 4; paper 1).
        beta: weight of the heatmap term of the pose loss (eq. 3; paper 0.01).
        gamma: weight of the pose loss (eq. 4; paper 0.01).
        centre_sigma: sigma in metres of the Gaussian centre targets (eq. 1). The paper gives no
            value; VoxelPose uses two voxels (200 mm on its 100 mm grid). With one voxel or less the
            targets are so sparse that the squared error of eq. (1) is minimised by an all-zero
            heatmap early in training (seen with 0.2 m on cpu-small's 0.25 m voxels: the heatmap
            collapsed to a maximum of 0.007 after 650 steps). Default: two paper voxels (0.375 m).
        l1_scale: unit factor of the L1 joint term (1000: metres → millimetres, the unit in which
            the paper's β and γ balance the terms).
        detection_reduction: ``"sum"`` over voxels as in eq. (1), or ``"mean"``.
        keypoint_2d: weight of the auxiliary 2D joint-heatmap loss on the backbone (needs
            ``model.backbone.keypoint_head``; 0 = off, the paper's loss): squared error summed over
            the feature-map pixels, averaged over anchors, present views and joints.
        keypoint_sigma: sigma of its Gaussian targets, feature-map pixels.
        keypoint_loss: ``"mse"`` (that squared error) or ``"focal"`` (CenterNet's focal loss, which
            keeps learning where the sigmoid head predicts ~0; see :func:`tessetrack.losses.keypoint_loss`).
    """

    alpha: float = 1.0
    beta: float = 0.01
    gamma: float = 0.01
    centre_sigma: float = 0.375
    l1_scale: float = 1000.0
    detection_reduction: str = "sum"
    keypoint_2d: float = 0.0
    keypoint_sigma: float = 2.0
    keypoint_loss: str = "mse"


@dataclass(frozen=True)
class Config:
    """Root config: the model, the losses and the training settings."""

    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainSettings = field(default_factory=TrainSettings)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able nested dict (tuples become lists)."""
        return json.loads(json.dumps(_to_plain(self)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Inverse of :meth:`to_dict`; unknown keys or wrong types raise :class:`ConfigError`."""
        return validate(_from_plain(cls, data, ""))


# --- variants and presets ------------------------------------------------------------------------

VARIANTS: dict[str, VariantConfig] = {
    "HI": VariantConfig(input="heatmaps", temporal=False, matcher="none", merge="average"),
    "FI": VariantConfig(input="features", temporal=False, matcher="none", merge="average"),
    "FT": VariantConfig(input="features", temporal=True, matcher="none", merge="average"),
    "FTGA": VariantConfig(input="features", temporal=True, matcher="hungarian", merge="average"),
    "FTGL": VariantConfig(input="features", temporal=True, matcher="hungarian", merge="learned"),
    "FTDL": VariantConfig(input="features", temporal=True, matcher="learned", merge="learned"),
    "FIG": VariantConfig(input="features", temporal=False, matcher="hungarian", merge="average"),
    # our extension: the same switches on 2D-heatmap input (see the module docstring)
    "HT": VariantConfig(input="heatmaps", temporal=True, matcher="none", merge="average"),
    "HTGA": VariantConfig(input="heatmaps", temporal=True, matcher="hungarian", merge="average"),
    "HTGL": VariantConfig(input="heatmaps", temporal=True, matcher="hungarian", merge="learned"),
    "HTDL": VariantConfig(input="heatmaps", temporal=True, matcher="learned", merge="learned"),
    "HIG": VariantConfig(input="heatmaps", temporal=False, matcher="hungarian", merge="average"),
}

#: Overrides (dotted keys) of each preset on top of the defaults; ``configs/<name>.yaml`` holds the same.
#: Both turn off the pose head's ``refine`` and ``skips`` (ours, on by default): the paper's head.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"model.pose_head.refine": False, "model.pose_head.skips": False},
    "cpu-small": {
        "model.backbone.name": "small",
        "model.backbone.channels": 16,
        "model.volume.size": [8.0, 8.0, 8.0],
        "model.volume.shape": [32, 32, 32],
        "model.volume.fusion_hidden": 16,
        "model.detector.hidden": 16,
        "model.detector.num_blocks": 2,
        "model.tesseract.shape": [16, 16, 16],
        "model.tesseract.time_window": 3,
        "model.tesseract.stride": 1,
        "model.tesseract.channels": [16, 32, 32],
        "model.tesseract.descriptor_dim": 64,
        "model.tesseract.fusion_hidden": 16,
        "model.matcher.layers": 2,
        "model.matcher.heads": 2,
        "model.pose_head.merge_hidden": 16,
        "model.pose_head.refine": False,
        "model.pose_head.skips": False,
        "loss.centre_sigma": 0.5,
    },
}


def variant(name: str) -> VariantConfig:
    """The switches of a named variant (paper: ``HI``, ``FI``, ``FT``, ``FTGA``, ``FTGL``, ``FTDL``,
    ``FIG``; ours: ``HT``, ``HTGA``, ``HTGL``, ``HTDL``, ``HIG``)."""
    try:
        return VARIANTS[name.upper()]
    except KeyError:
        raise ConfigError(f"unknown variant {name!r}; choose one of {sorted(VARIANTS)}") from None


def preset(name: str, variant_name: str | None = None) -> Config:
    """A named preset (``paper`` or ``cpu-small``), optionally with a named variant."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    cfg = apply_overrides(Config(), PRESETS[name])
    if variant_name is not None:
        cfg = replace(cfg, model=replace(cfg.model, variant=variant(variant_name)))
    return validate(cfg)


# --- dict <-> dataclass --------------------------------------------------------------------------

T = TypeVar("T")


def _to_plain(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    return obj


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(tp: Any, value: Any, key: str) -> Any:
    """Convert a plain JSON/YAML value to the annotated type ``tp``; raise ConfigError naming ``key``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is TrainSettings:  # its own parsing and checks, with messages of their own
        return TrainSettings.from_mapping(value)
    if is_dataclass(tp):
        return _from_plain(tp, value, key)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: {value!r} is not a {' | '.join(_type_name(a) for a in args)}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{key}: expected {len(args)} values, got {len(value)} ({value!r})")
        return tuple(
            _coerce(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin is not None and issubclass(origin, Mapping) or tp is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    return value


def _from_plain(cls: type[T], data: Any, prefix: str) -> T:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(
            f"unknown config key {where}{unknown[0]}; known keys here: {sorted(names)}"
        )
    kwargs = {
        name: _coerce(hints[name], value, f"{prefix}.{name}" if prefix else name)
        for name, value in data.items()
    }
    return cls(**kwargs)


# --- overrides -----------------------------------------------------------------------------------


def parse_override(text: str) -> tuple[str, Any]:
    """``"model.tesseract.time_window=3"`` → ``("model.tesseract.time_window", 3)`` (value parsed as YAML)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {text!r} is not of the form dotted.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{key}: cannot parse value {raw!r} ({exc})") from None
    return key, value


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set ``tree[a][b][c] = value`` for ``key = "a.b.c"``; only ``train.*`` may create new keys
    (:class:`~tessetrack.train.settings.TrainSettings` names an unknown one)."""
    parts = key.split(".")
    free = parts[0] == "train"
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            if not free or child is not None:
                raise ConfigError(f"unknown config key {key}")
            child = node[part] = {}
        node = child
    if not free and parts[-1] not in node:
        raise ConfigError(f"unknown config key {key}")
    if not free and isinstance(node[parts[-1]], dict) and isinstance(value, Mapping):
        for k, v in value.items():
            _set_dotted(tree, f"{key}.{k}", v)
        return
    node[parts[-1]] = value


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and v and key != "train":
            yield from _flatten(v, key)
        else:
            yield key, v


def override_items(
    overrides: Mapping[str, Any] | Iterable[str | tuple[str, Any]],
) -> list[tuple[str, Any]]:
    """Overrides as ``(dotted key, value)`` pairs: from a mapping ``{key: value}``, ``"key=value"``
    strings (:func:`parse_override`) or pairs already made."""
    if isinstance(overrides, Mapping):
        return list(overrides.items())
    return [o if isinstance(o, tuple) else parse_override(o) for o in overrides]


def apply_overrides(cfg: Config, overrides: Mapping[str, Any] | Iterable[str]) -> Config:
    """Return ``cfg`` with dotted overrides applied (a mapping ``{key: value}`` or ``"key=value"`` strings).

    ``model.variant`` also accepts a variant name (``model.variant=FTGA``). Unknown keys and values of
    the wrong type raise :class:`ConfigError` naming the key.
    """
    items = override_items(overrides)
    tree = cfg.to_dict()
    for key, value in items:
        if key == "model.variant" and isinstance(value, str):
            value = dataclasses.asdict(variant(value))
        _set_dotted(tree, key, value)
    return Config.from_dict(tree)


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping a YAML config file holds; a one-line :class:`ConfigError` naming the file when it
    cannot be read, is not YAML or holds no mapping."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config ({exc.strerror})") from None
    except (UnicodeDecodeError, ValueError):  # binary content; yaml's reader errors too
        raise ConfigError(f"{p}: not a text file; a YAML config was expected") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: invalid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{p}: a config file must hold a mapping at its top")
    return dict(data)


def config_from_mapping(data: Mapping[str, Any]) -> Config:
    """The config a file's mapping describes: optionally ``preset`` and ``variant`` at its top, the
    rest nested overrides of the paper defaults (a ``train`` mapping is the whole train section)."""
    data = dict(data)
    base = data.pop("preset", None)
    var = data.pop("variant", None)
    cfg = preset(str(base)) if base is not None else Config()
    if var is not None:
        cfg = replace(cfg, model=replace(cfg.model, variant=variant(str(var))))
    return apply_overrides(cfg, dict(_flatten(data)))


def load_config(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | Iterable[str] = (),
) -> Config:
    """Read a YAML file of overrides (optionally ``preset: cpu-small`` and ``variant: FTGA`` at its top)
    on top of the paper defaults, then apply ``overrides``. A recipe with ``stages``
    (:mod:`tessetrack.train.recipe`) gives the config of its last stage: the model it makes.
    """
    cfg = Config()
    if path is not None:
        p = Path(path)
        data = read_config_file(p)
        if "stages" in data:
            from tessetrack.train.recipe import Recipe  # it builds on this module

            return Recipe.from_mapping(p, data).stage_config(-1, overrides)
        try:
            cfg = config_from_mapping(data)
        except ConfigError as exc:
            raise ConfigError(f"{p}: {exc}") from None
    return apply_overrides(cfg, overrides)


# --- validation ----------------------------------------------------------------------------------


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


def _validate_network(m: ModelConfig) -> None:
    """The variant, backbone, volume and person detector."""
    _check(
        m.variant.input in ("features", "heatmaps"),
        "model.variant.input",
        "must be 'features' or 'heatmaps'",
    )
    _check(m.variant.matcher in ("learned", "hungarian", "none"), "model.variant.matcher",
           "must be 'learned', 'hungarian' or 'none'")  # fmt: skip
    _check(
        m.variant.merge in ("learned", "average"),
        "model.variant.merge",
        "must be 'learned' or 'average'",
    )
    _check(
        m.backbone.name in ("hrnet_w32", "small", "unet"),
        "model.backbone.name",
        "must be 'hrnet_w32', 'small' or 'unet'",
    )
    _check(m.backbone.channels > 0, "model.backbone.channels", "must be positive")
    _check(m.backbone.small_width > 0, "model.backbone.small_width", "must be positive")
    _check(
        len(m.backbone.small_dilations) >= 1 and min(m.backbone.small_dilations) >= 1,
        "model.backbone.small_dilations",
        "needs at least one block, each dilation >= 1",
    )
    _check(m.backbone.heatmap_sigma > 0, "model.backbone.heatmap_sigma", "must be positive")
    _check(all(s > 0 for s in m.volume.size), "model.volume.size", "must be positive")
    _check(all(s > 0 and s % 2 == 0 for s in m.volume.shape), "model.volume.shape",
           "must be positive even integers (the detector CNN halves and doubles the grid)")  # fmt: skip
    _check(m.volume.fusion_hidden > 0, "model.volume.fusion_hidden", "must be positive")
    _check(m.detector.hidden > 0, "model.detector.hidden", "must be positive")
    _check(m.detector.num_blocks >= 0, "model.detector.num_blocks", "must be >= 0")
    _check(m.detector.refine_blocks >= 0, "model.detector.refine_blocks", "must be >= 0")
    _check(
        m.detector.height_levels == 0 or m.detector.height_levels >= 2,
        "model.detector.height_levels",
        "must be 0 (off) or >= 2",
    )
    _check(
        math.isfinite(sum(m.detector.up)) and sum(u * u for u in m.detector.up) > 1e-12,
        "model.detector.up",
        "must be a finite non-zero vector (the world's up direction)",
    )
    _check(m.detector.nms_kernel % 2 == 1 and m.detector.nms_kernel > 0, "model.detector.nms_kernel",
           "must be a positive odd integer")  # fmt: skip
    _check(m.detector.max_people > 0, "model.detector.max_people", "must be positive")
    _check(0.0 <= m.detector.threshold <= 1.0, "model.detector.threshold", "must lie in [0, 1]")


def _validate_tesseract(m: ModelConfig) -> None:
    """The tesseracts, the matcher and the pose head."""
    t = m.tesseract
    _check(t.size > 0, "model.tesseract.size", "must be positive")
    _check(t.time_window > 0 and t.time_window % 2 == 1, "model.tesseract.time_window",
           "must be a positive odd integer (the window is centred on the detection frame)")  # fmt: skip
    _check(t.stride > 0, "model.tesseract.stride", "must be positive")
    _check(len(t.channels) >= 1 and all(c > 0 for c in t.channels), "model.tesseract.channels",
           "must be a non-empty list of positive integers")  # fmt: skip
    down = 2 ** (len(t.channels) - 1)
    _check(all(s > 0 and s % down == 0 for s in t.shape), "model.tesseract.shape",
           f"each side must be a positive multiple of {down} (one halving per extra conv block)")  # fmt: skip
    _check(t.descriptor_dim > 0, "model.tesseract.descriptor_dim", "must be positive")
    _check(m.matcher.layers >= 0, "model.matcher.layers", "must be >= 0")
    _check(m.matcher.heads > 0 and t.descriptor_dim % m.matcher.heads == 0, "model.matcher.heads",
           "must be positive and divide model.tesseract.descriptor_dim")  # fmt: skip
    _check(m.matcher.sinkhorn_iters > 0, "model.matcher.sinkhorn_iters", "must be positive")
    _check(m.matcher.max_distance > 0, "model.matcher.max_distance", "must be positive")
    _check(m.pose_head.num_joints > 0, "model.pose_head.num_joints", "must be positive")
    _check(m.pose_head.softargmax_beta > 0, "model.pose_head.softargmax_beta", "must be positive")


def _validate_loss(cfg: Config) -> None:
    """The loss, and the switches that must agree with the model."""
    m = cfg.model
    for name in ("alpha", "beta", "gamma"):
        _check(getattr(cfg.loss, name) >= 0, f"loss.{name}", "must be >= 0")
    _check(cfg.loss.centre_sigma > 0, "loss.centre_sigma", "must be positive")
    _check(cfg.loss.l1_scale > 0, "loss.l1_scale", "must be positive")
    _check(cfg.loss.keypoint_2d >= 0, "loss.keypoint_2d", "must be >= 0")
    _check(cfg.loss.keypoint_sigma > 0, "loss.keypoint_sigma", "must be positive")
    _check(cfg.loss.keypoint_loss in ("mse", "focal"), "loss.keypoint_loss",
           "must be 'mse' or 'focal'")  # fmt: skip
    _check(cfg.loss.keypoint_2d == 0 or m.backbone.keypoint_head, "loss.keypoint_2d",
           "needs model.backbone.keypoint_head: true (the head the 2D loss trains)")  # fmt: skip
    _check(not m.backbone.image_heatmaps or m.variant.input == "heatmaps",
           "model.backbone.image_heatmaps", "applies to heatmap-input (H) variants only: their "
           "2D head makes the heatmaps from images")  # fmt: skip
    _check(not m.backbone.image_heatmaps_peaks or m.backbone.image_heatmaps,
           "model.backbone.image_heatmaps_peaks", "needs model.backbone.image_heatmaps: true "
           "(it redraws the heatmaps the 2D head makes from images)")  # fmt: skip
    _check(0 < m.backbone.image_heatmaps_threshold < 1, "model.backbone.image_heatmaps_threshold",
           "must be in (0, 1)")  # fmt: skip
    _check(not m.backbone.keypoint_head or m.variant.input == "features",
           "model.backbone.keypoint_head", "applies to feature-input variants only (H variants "
           "already predict 2D heatmaps)")  # fmt: skip
    _check(
        cfg.loss.detection_reduction in ("sum", "mean"),
        "loss.detection_reduction",
        "must be 'sum' or 'mean'",
    )


def validate(cfg: Config) -> Config:
    """Check value ranges and choices; raise :class:`ConfigError` naming the offending dotted key."""
    m = cfg.model
    _validate_network(m)
    _validate_tesseract(m)
    _validate_loss(cfg)
    return cfg
