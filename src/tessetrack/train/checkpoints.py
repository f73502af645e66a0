"""Checkpoints that load without unpickling code: safetensors tensors + JSON config and metadata.

A checkpoint is ONE ``.safetensors`` file. Its header metadata (text only) holds:

- ``format``: ``"tessetrack.checkpoint/2"`` (:data:`FORMAT`),
- ``tessetrack_version``: the version that wrote it,
- ``config``: the typed config as JSON (:meth:`tessetrack.config.Config.to_dict`: every field of
  ``model``, ``loss`` and ``train``, so that a later change of a default cannot change what a
  checkpoint means),
- ``meta``: free JSON (training data, step, metrics, ...),
- ``state_layout``: JSON skeleton of nested non-tensor state (optimizer, scheduler, RNG) whose tensors are
  stored beside the weights under the ``state/`` key prefix (see :func:`flatten_state`).

Format 1 (``"tessetrack.checkpoint/1"``, :data:`FORMAT_1`) has the same layout; its configs were
written before the pose head's ``refine`` and ``skips`` defaulted to on, and may store only part of
the ``train`` section. It still loads: a key its config lacks takes the value format 1 defaulted to
(:data:`FORMAT_1_DEFAULTS` where the default has changed since, this version's default otherwise),
so its model and training settings read exactly as when it was written. New checkpoints are always
written in format 2.

Loading never calls ``pickle``/``torch.load``; a file from another config or an unknown format
version is refused with a :class:`~tessetrack.errors.CheckpointError` naming the mismatch.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from tessetrack import __version__
from tessetrack.config import Config
from tessetrack.errors import CheckpointError, ConfigError

__all__ = [
    "FORMAT",
    "FORMAT_1",
    "FORMAT_1_DEFAULTS",
    "upgrade_format_1",
    "Checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "flatten_state",
    "unflatten_state",
    "config_differences",
    "half_weights",
    "shipped_checkpoints",
    "resolve_checkpoint",
]

#: The format :func:`save_checkpoint` writes.
FORMAT = "tessetrack.checkpoint/2"
#: The previous format, still read by :func:`load_checkpoint`.
FORMAT_1 = "tessetrack.checkpoint/1"
#: What a format-1 config meant by a key it lacks, for the keys whose default has changed since
#: (dotted key → the format-1 default).
FORMAT_1_DEFAULTS: dict[str, Any] = {
    "model.pose_head.refine": False,
    "model.pose_head.skips": False,
}
_STATE_PREFIX = "state/"
_SHIPPED_DIR = Path(__file__).resolve().parents[1] / "checkpoints"


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """What :func:`load_checkpoint` returns.

    Attributes:
        weights: model parameters and buffers by name.
        config: the config dict the weights were trained with, in this format's terms (a format-1
            config has the keys of :data:`FORMAT_1_DEFAULTS` it lacked filled in).
        meta: free metadata (step, metrics, data, command line ...).
        state: nested training state (optimizer, scheduler, RNG) or None when not saved.
        path: the file it came from.
        format: the format the file was written in (:data:`FORMAT` or :data:`FORMAT_1`).
    """

    weights: dict[str, torch.Tensor]
    config: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    state: Any = None
    path: Path | None = None
    format: str = FORMAT

    def typed_config(self) -> Config:
        """The config as the frozen :class:`~tessetrack.config.Config`, checked (fields added
        since the checkpoint was written take their defaults).

        Raises:
            CheckpointError: a config this version cannot read, naming the file.
        """
        try:
            return Config.from_dict(self.config)
        except ConfigError as exc:
            raise CheckpointError(
                f"{self.path}: the checkpoint's config is not valid here: {exc}"
            ) from None


# --- nested state <-> flat tensors ---------------------------------------------------------------


def flatten_state(obj: Any, prefix: str = "") -> tuple[Any, dict[str, torch.Tensor]]:
    """Split a nested structure (dicts, lists, tuples, tensors, JSON scalars) into a JSON skeleton and tensors.

    Tensors are replaced by ``{"__tensor__": key}`` and returned in a flat dict, so an optimizer's
    ``state_dict()`` or RNG states can be stored in safetensors without pickle.
    """
    tensors: dict[str, torch.Tensor] = {}

    def walk(x: Any, path: str) -> Any:
        if isinstance(x, torch.Tensor):
            tensors[path] = x.detach().cpu().contiguous()
            return {"__tensor__": path}
        if isinstance(x, dict):
            if not all(isinstance(k, (str, int)) for k in x):
                raise CheckpointError(
                    f"cannot store dict keys of types {sorted({type(k).__name__ for k in x})} at {path!r}"
                )
            return {
                "__dict__": [[k, walk(v, f"{path}/{k}")] for k, v in x.items()],
            }
        if isinstance(x, (list, tuple)):
            items = [walk(v, f"{path}/{i}") for i, v in enumerate(x)]
            return {"__tuple__": items} if isinstance(x, tuple) else items
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        raise CheckpointError(f"cannot store a {type(x).__name__} at {path!r} in a checkpoint")

    return walk(obj, prefix), tensors


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        if "__tuple__" in skeleton:
            return tuple(unflatten_state(v, tensors) for v in skeleton["__tuple__"])
        return {k: unflatten_state(v, tensors) for k, v in skeleton["__dict__"]}
    if isinstance(skeleton, list):
        return [unflatten_state(v, tensors) for v in skeleton]
    return skeleton


# --- config comparison ---------------------------------------------------------------------------


def _flatten_dict(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flatten_dict(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def config_differences(expected: dict[str, Any], found: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ, as readable ``key: expected X, checkpoint has Y`` lines."""
    a, b = (
        _flatten_dict(json.loads(json.dumps(expected))),
        _flatten_dict(json.loads(json.dumps(found))),
    )
    diffs = []
    for key in sorted(set(a) | set(b)):
        if key not in b:
            diffs.append(f"{key}: expected {a[key]!r}, checkpoint lacks it")
        elif key not in a:
            diffs.append(f"{key}: checkpoint has {b[key]!r}, unknown to this config")
        elif a[key] != b[key]:
            diffs.append(f"{key}: expected {a[key]!r}, checkpoint has {b[key]!r}")
    return diffs


# --- format 1 ------------------------------------------------------------------------------------


def upgrade_format_1(config: Mapping[str, Any]) -> dict[str, Any]:
    """A format-1 config in format-2 terms: each key of :data:`FORMAT_1_DEFAULTS` it lacks gets
    the value format 1 defaulted to (every other key it lacks kept its default since)."""
    out = copy.deepcopy(dict(config))
    for key, old_default in FORMAT_1_DEFAULTS.items():
        *sections, name = key.split(".")
        node = out
        for section in sections:
            node = node.setdefault(section, {})
            if not isinstance(node, dict):
                break
        else:
            node.setdefault(name, old_default)
    return out


# --- save / load ---------------------------------------------------------------------------------


def save_checkpoint(
    path: str | os.PathLike[str],
    weights: dict[str, torch.Tensor],
    config: Config | Mapping[str, Any],
    meta: dict[str, Any] | None = None,
    state: Any = None,
) -> Path:
    """Write a checkpoint atomically (temporary file + rename, so a crash never leaves half a file).

    Args:
        path: target ``.safetensors`` file; parent folders are created.
        weights: e.g. ``model.state_dict()``; shared storage is copied.
        config: the typed :class:`~tessetrack.config.Config` (stored as its ``to_dict()``, every
            field), or a JSON-serialisable config dict (stored as given).
        meta: JSON-serialisable metadata.
        state: nested training state (see :func:`flatten_state`), or None.
    """
    if isinstance(config, Config):
        config = config.to_dict()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: t.detach().cpu().contiguous().clone() for name, t in weights.items()}
    for name in tensors:
        if name.startswith(_STATE_PREFIX):
            raise CheckpointError(
                f"weight name {name!r} uses the reserved prefix {_STATE_PREFIX!r}"
            )
    layout, state_tensors = flatten_state(state, "")
    tensors.update({_STATE_PREFIX + k: v for k, v in state_tensors.items()})
    header = {
        "format": FORMAT,
        "tessetrack_version": __version__,
        "config": json.dumps(config, sort_keys=True),
        "meta": json.dumps(meta or {}, sort_keys=True),
        "state_layout": json.dumps(layout),
    }
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=header)
    os.replace(tmp, path)
    return path


def load_checkpoint(
    path: str | os.PathLike[str],
    expected_config: dict[str, Any] | None = None,
    with_state: bool = False,
) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`, without unpickling anything.

    Args:
        path: the ``.safetensors`` file.
        expected_config: when given, the checkpoint's config must equal it; otherwise a
            :class:`CheckpointError` lists every differing key.
        with_state: also rebuild the nested training state.

    A format-1 file loads too; its config is read as it was meant when written
    (:func:`upgrade_format_1`).

    Raises:
        CheckpointError: missing, truncated or corrupted file; not a tessetrack checkpoint; an
            unsupported format version; a config mismatch.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file does not exist")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path}: not a readable safetensors checkpoint (truncated or corrupted?): {exc}"
        ) from None
    fmt = header.get("format")
    if fmt is None:
        raise CheckpointError(
            f"{path}: safetensors file without tessetrack metadata (no 'format' in its header)"
        )
    if fmt not in (FORMAT, FORMAT_1):
        raise CheckpointError(
            f"{path}: checkpoint format {fmt!r} (written by tessetrack "
            f"{header.get('tessetrack_version', '?')}) is not supported by tessetrack "
            f"{__version__} (expects {FORMAT!r}, or {FORMAT_1!r})"
        )
    try:
        config = json.loads(header["config"])
        meta = json.loads(header.get("meta", "{}"))
        layout = json.loads(header.get("state_layout", "null"))
    except (KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: corrupted checkpoint header ({exc})") from None
    if fmt == FORMAT_1 and isinstance(config, dict):
        config = upgrade_format_1(config)
    if expected_config is not None:
        diffs = config_differences(expected_config, config)
        if diffs:
            shown = "; ".join(diffs[:8]) + (
                f"; ... {len(diffs) - 8} more" if len(diffs) > 8 else ""
            )
            raise CheckpointError(f"{path}: checkpoint was trained with another config: {shown}")
    weights = {k: v for k, v in tensors.items() if not k.startswith(_STATE_PREFIX)}
    state = None
    if with_state:
        state_tensors = {
            k[len(_STATE_PREFIX) :]: v for k, v in tensors.items() if k.startswith(_STATE_PREFIX)
        }
        state = unflatten_state(layout, state_tensors)
    return Checkpoint(weights=weights, config=config, meta=meta, state=state, path=path, format=fmt)


def half_weights(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The weights with every float32/float64 tensor stored as float16 (others unchanged).

    Halves a shipped checkpoint's size. Loading needs nothing special: ``load_state_dict`` copies
    float16 values into the model's float32 parameters. Float16 keeps ~3 significant digits
    (relative rounding ≤ 2⁻¹¹); values below ~6e-8 round to zero.

    Raises:
        CheckpointError: a value beyond float16's range (±65504) or not finite, naming the tensor.
    """
    out: dict[str, torch.Tensor] = {}
    for name, w in weights.items():
        if w.dtype in (torch.float32, torch.float64):
            if not bool(torch.isfinite(w).all()):
                raise CheckpointError(f"weight {name!r} holds non-finite values")
            big = float(w.abs().max()) if w.numel() else 0.0
            if big > torch.finfo(torch.float16).max:
                raise CheckpointError(
                    f"weight {name!r} reaches {big:.4g}, beyond float16's range; keep it float32"
                )
            w = w.to(torch.float16)
        out[name] = w
    return out


# --- registry of shipped checkpoints -------------------------------------------------------------


def shipped_checkpoints() -> dict[str, Path]:
    """Names of the checkpoints shipped inside the package (``tessetrack/checkpoints/<name>/model.safetensors``)."""
    if not _SHIPPED_DIR.is_dir():
        return {}
    return {p.parent.name: p for p in sorted(_SHIPPED_DIR.glob("*/model.safetensors"))}


def resolve_checkpoint(name_or_path: str | os.PathLike[str]) -> Path:
    """A shipped checkpoint's name (e.g. ``synthetic-small``) or a file path -> the file's path."""
    shipped = shipped_checkpoints()
    key = str(name_or_path)
    if key in shipped:
        return shipped[key]
    path = Path(key)
    if path.is_file():
        return path
    if path.is_dir() and (path / "model.safetensors").is_file():
        return path / "model.safetensors"
    names = ", ".join(shipped) or "none shipped in this build"
    raise CheckpointError(
        f"checkpoint {key!r} is neither a file nor a shipped checkpoint (shipped: {names}); "
        "pass a path to a .safetensors file written by `tessetrack train`"
    )
