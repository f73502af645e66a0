"""The ``train`` section of a config: what :func:`tessetrack.train.loop.train` runs."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tessetrack.errors import ConfigError, InputError

__all__ = ["STAGES", "TrainSettings"]

#: ``train.stage`` values: the joint loss, or 2D pretraining of the backbone.
STAGES = ("full", "keypoints")


@dataclass(frozen=True)
class TrainSettings:
    """The ``train`` section of a config (:attr:`tessetrack.config.Config.train`): every field is
    optional, and the whole section is checked when the config is loaded (a YAML file, ``key=value``
    overrides, a checkpoint's config), so a bad value fails before any work.

    Attributes:
        data: training dataset folders.
        val_data: validation dataset folders.
        steps: optimizer steps in all.
        batch_size: clips per step and rank.
        optimizer: ``adamw`` or ``sgd`` (paper: lr 0.01).
        lr, weight_decay, momentum: optimizer settings.
        warmup_steps: linear warm-up; then cosine decay to ``lr · min_lr_ratio``.
        grad_clip: max gradient norm (0 disables).
        amp: bf16 autocast (CPU and GPU). On CPU (torch 2.13) its backward gives non-finite
            gradients in many steps, nondeterministically; those updates are skipped with a warning,
            so keep it off on CPU.
        image_size: (W, H) input size of the backbone.
        max_people: person slots per anchor.
        min_views: view dropout keeps at least this many views (a large value disables it).
        single_view_prob: probability that a clip keeps exactly one view (0: off).
        teacher_forcing: build tesseracts on GT centres (else on NMS detections).
        checkpoint_every, checkpoint_minutes: checkpoint cadence.
        val_every, val_clips: validation cadence and size.
        log_every: CSV/TensorBoard cadence.
        seed: data sampling and model initialisation.
        threads: torch intra-op threads (None: leave torch's default).
        init_from: a checkpoint whose weights start a NEW run (warm start; optimizer, step and
            config are not taken from it; its weights must fit this model exactly).
        detection_joint_sets: heatmap-input (H) models train on 2D detections simulated from the
            GT at every clip; each view's simulated detector outputs one of these joint sets.
        detection_noise: the simulated detector's errors: a mapping of a ``profile``
            (:data:`~tessetrack.synth.detections_sim.DETECTOR_PROFILES`: ``openpose``,
            ``blazepose``) and/or fields of :class:`~tessetrack.synth.detections_sim.DetectionNoise`
            (jitter, miss_prob, swap_prob, person_miss_prob, offsets, ...); or a list of such
            mappings, one drawn per view (a model for several detectors).
        stage: ``full`` (the joint loss, eq. 4) or ``keypoints``: 2D pretraining of the backbone alone
            with the auxiliary joint-heatmap loss (needs ``model.backbone.keypoint_head``); only the
            anchor frames' images go through the backbone. It stands in for HRNet's 2D pretraining.
        init_prefixes: with ``init_from``, copy only the weights whose names start with one of these
            (e.g. ``[backbone.]`` to start any variant from a pretrained backbone); each copied
            tensor must fit exactly. Empty: all weights, and they must fit the whole model.
        centre_jitter: σ (metres, per axis) of Gaussian noise added to the teacher-forced GT
            centres the tesseracts are built on (the loss targets keep the true centres). At
            inference the tesseracts sit on the detector's centres, which are off by centimetres;
            without jitter the pose head learns that the root lies exactly at the tesseract's
            centre and the matcher sees only perfect positions. 0 (default): exact GT centres.
        paste_people: models that read 2D detections only (H without ``image_heatmaps``): each
            training clip gets 0 … N people of another random training clip added
            (:func:`~tessetrack.train.clips.paste_people`; their 2D detections are simulated with
            everyone else's). 0 (default): off.
        paste_near: probability that a pasted person is placed 0.5–1.2 m from one of the clip's
            people (the synthetic scenes seldom hold close people; real rigs and the test scenes
            do, and a detector that never saw them returns one blob for two people).
        color_jitter: image models only: per clip and view, a random brightness, contrast and
            per-channel gain, each a factor in [1 − s, 1 + s] (:func:`jitter_colours`), the same
            for all frames of the view (one camera). 0 (default): off.
    """

    data: tuple[str, ...] = ()
    val_data: tuple[str, ...] = ()
    steps: int = 1000
    batch_size: int = 1
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    warmup_steps: int = 50
    min_lr_ratio: float = 0.05
    grad_clip: float = 5.0
    amp: bool = False
    image_size: tuple[int, int] = (256, 256)
    max_people: int = 6
    min_views: int = 1
    single_view_prob: float = 0.0
    teacher_forcing: bool = True
    checkpoint_every: int = 200
    checkpoint_minutes: float = 5.0
    val_every: int = 250
    val_clips: int = 8
    log_every: int = 10
    seed: int = 0
    threads: int | None = None
    init_from: str | None = None
    detection_joint_sets: tuple[str, ...] = ("body25", "coco17")
    detection_noise: Mapping[str, Any] | tuple[Mapping[str, Any], ...] = field(default_factory=dict)
    stage: str = "full"
    init_prefixes: tuple[str, ...] = ()
    centre_jitter: float = 0.0
    paste_people: int = 0
    paste_near: float = 0.5
    color_jitter: float = 0.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TrainSettings:
        """The settings of a config's ``train`` mapping, checked.

        Raises:
            ConfigError: an unknown key or an invalid value, named with its ``train.`` path.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"train: expected a mapping, got {data!r}")
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in hints:
                raise ConfigError(
                    f"train.{key}: unknown setting; known: {', '.join(sorted(hints))}"
                )
            kwargs[key] = _parse_value(key, value, hints[key])
        s = cls(**kwargs)
        _validate(s)
        return s


#: Fields that hold folder names, joint-set names or weight-name prefixes: a list, or one string.
_STRING_LISTS = ("data", "val_data", "detection_joint_sets", "init_prefixes")

#: How a wrong scalar is named in the error: the field's type → what was expected.
_EXPECTED = {bool: "true/false", int: "an integer", float: "a number", str: "a string"}


def _parse_value(key: str, value: Any, tp: Any) -> Any:
    """One ``train`` value in the type ``tp`` its field holds (tuples for lists, checked noise
    specs); raise ConfigError naming ``train.<key>`` for a value of another type."""
    if key in _STRING_LISTS:
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"train.{key}: expected a string or a list of them, got {value!r}")
        return tuple(str(v) for v in value)
    if key == "image_size":
        if not isinstance(value, list | tuple) or not all(_is_int(v) for v in value):
            raise ConfigError(f"train.image_size: expected [W, H] >= 16, got {value!r}")
        return tuple(value)
    if key == "detection_noise":
        return _parse_noise(value)
    return _parse_scalar(key, value, tp)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_scalar(key: str, value: Any, tp: Any) -> Any:
    """``value`` as the field type ``tp``: ``bool``, ``int``, ``float`` (an integer is a number
    too), ``str``, or one of them ``| None``."""
    options = typing.get_args(tp) or (tp,)
    if value is None and type(None) in options:
        return None
    base = next(t for t in options if t is not type(None))
    if base is float and (_is_int(value) or isinstance(value, float)):
        return float(value)
    if (base is int and _is_int(value)) or (base in (bool, str) and isinstance(value, base)):
        return value
    raise ConfigError(f"train.{key}: expected {_EXPECTED[base]}, got {value!r}")


def _parse_noise(value: Any) -> Mapping[str, Any] | tuple[Mapping[str, Any], ...]:
    """``train.detection_noise``: one noise spec (a mapping) or a list of them, each checked."""
    from tessetrack.synth.detections_sim import detection_noise  # torch: loaded only when needed

    many = isinstance(value, list | tuple)
    specs = list(value) if many else [value]
    if not specs:
        raise ConfigError("train.detection_noise: an empty list")
    for spec in specs:
        try:
            detection_noise(spec)
        except InputError as err:
            why = str(err).removeprefix("detection noise: ")
            raise ConfigError(f"train.detection_noise: {why}") from None
    return tuple(dict(v) for v in specs) if many else dict(specs[0])


def _validate(s: TrainSettings) -> None:
    """Raise ConfigError for a value out of its range or a combination that cannot run."""
    if s.stage not in STAGES:
        raise ConfigError(f"train.stage: expected one of {list(STAGES)}, got {s.stage!r}")
    if s.init_prefixes and not s.init_from:
        raise ConfigError("train.init_prefixes: only used with train.init_from (none given)")
    if s.optimizer not in ("adamw", "sgd"):
        raise ConfigError(f"train.optimizer: expected 'adamw' or 'sgd', got {s.optimizer!r}")
    for key in (
        "steps",
        "batch_size",
        "checkpoint_every",
        "val_every",
        "log_every",
        "max_people",
        "min_views",
    ):
        if int(getattr(s, key)) < 1:
            raise ConfigError(f"train.{key}: must be >= 1, got {getattr(s, key)}")
    if s.lr <= 0:
        raise ConfigError(f"train.lr: must be > 0, got {s.lr}")
    if not 0.0 <= s.single_view_prob <= 1.0:
        raise ConfigError(f"train.single_view_prob: must be in [0, 1], got {s.single_view_prob}")
    if not 0.0 <= s.centre_jitter <= 1.0:
        raise ConfigError(f"train.centre_jitter: must be in [0, 1] m, got {s.centre_jitter}")
    if s.paste_people < 0:
        raise ConfigError(f"train.paste_people: must be >= 0, got {s.paste_people}")
    if not 0.0 <= s.color_jitter < 1.0:
        raise ConfigError(f"train.color_jitter: must be in [0, 1), got {s.color_jitter}")
    if not 0.0 <= s.paste_near <= 1.0:
        raise ConfigError(f"train.paste_near: must be in [0, 1], got {s.paste_near}")
    from tessetrack.skeletons import get_joint_set  # torch: loaded only when needed

    for name in s.detection_joint_sets:
        try:
            get_joint_set(name)
        except Exception as exc:
            raise ConfigError(f"train.detection_joint_sets: {exc}") from None
    if len(s.image_size) != 2 or min(s.image_size) < 16:
        raise ConfigError(f"train.image_size: expected [W, H] >= 16, got {s.image_size}")
