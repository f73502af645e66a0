"""Recipes: a model's whole training chain in one config file, and the runner of its stages.

A recipe is a config file (the keys of any config: ``preset``, ``variant``, ``model``, ``loss``,
``train``) with a ``stages`` list. Every stage has a ``name`` and may hold its own ``variant``,
``model``, ``loss`` and ``train`` overrides::

    preset: cpu-small
    variant: HTDL
    model: {volume: {shape: [32, 32, 8]}}
    train:
      data: [dets/shelf_train_*]
      val_data: [dets/shelf_val_0]
      steps: 3000
    stages:
      - name: base
      - name: fine
        model: {volume: {shape: [64, 64, 16]}}
        train: {steps: 1000, lr: 0.0005}

* **Settings.** Each stage's overrides go on top of the stage before it (the first stage's on top
  of the file's own sections): ``model`` and ``loss`` key by key at every depth, like dotted
  overrides; each ``train`` setting and ``variant`` replaced whole (a ``detection_noise`` is not
  merged with the one before it).
* **Weights.** The first stage starts as the file says (``train.init_from``: a shipped checkpoint's
  name such as ``detections-shelf``, a file, or nothing: from scratch); every later stage starts from
  the stage before it (``RUN/<previous>/last.safetensors``, all its weights or those under
  ``train.init_prefixes``), unless its own ``train`` section names ``init_from`` (``null``: from
  scratch).
* **Data.** ``train.data`` and ``train.val_data`` entries are folder names or glob patterns, found in
  the folders given on the command line: ``--data DIR`` (every entry is looked up as ``DIR/ENTRY``;
  repeatable) and ``--data NAME=DIR`` (an entry ``NAME/PATTERN`` is looked up as ``DIR/PATTERN``).
  Matches are data folders, in natural order (``train_2`` before ``train_10``); an entry that matches
  nothing stops the command before any training, naming the entry and the folders searched. Without
  ``--data`` the entries are used as the paths they are, and a glob pattern among them is an error.
* **Runs.** ``tessetrack train --config RECIPE --data DIR --output RUN`` trains every stage into
  ``RUN/<stage name>/``, a run folder like any other; a stage that finished is skipped and an
  interrupted one resumes, so the same command continues where it stopped. ``RUN/recipe.json`` lists
  the stages: the last one's folder holds the model the recipe makes (:func:`final_run_folder`).
  ``key=value`` arguments override every stage, except ``train.init_from``, which sets the first
  stage's start only.

A file without ``stages`` is an ordinary config: one run into ``RUN`` itself.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tessetrack.config import (
    Config,
    apply_overrides,
    config_from_mapping,
    override_items,
    read_config_file,
)
from tessetrack.errors import CheckpointError, ConfigError, InputError

if TYPE_CHECKING:
    from tessetrack.train.loop import TrainResult

__all__ = [
    "INDEX_FILE",
    "STAGE_KEYS",
    "DataFolders",
    "Recipe",
    "Stage",
    "StageOutcome",
    "StagePlan",
    "final_run_folder",
    "merge_overrides",
    "resolve_data",
    "run_recipe",
]

#: The file in a recipe's run folder that lists its stages, in order.
INDEX_FILE = "recipe.json"

#: The keys a stage may hold.
STAGE_KEYS = ("name", "variant", "model", "loss", "train")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_GLOB_MAGIC = re.compile(r"[*?\[]")

#: ``progress(stage, step, total, losses)`` after each training step.
Progress = Callable[[str, int, int, dict[str, float]], None]


# --- the file ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """One stage of a recipe.

    Attributes:
        name: the stage's name, also its folder in the run folder.
        overrides: its own ``variant``, ``model``, ``loss`` and ``train`` overrides, as written.
    """

    name: str
    overrides: Mapping[str, Any]

    @property
    def names_init(self) -> bool:
        """Whether the stage itself says where its weights start (``train.init_from``)."""
        train = self.overrides.get("train")
        return isinstance(train, Mapping) and "init_from" in train


def _parse_stage(path: Path, index: int, item: Any, seen: set[str]) -> Stage:
    """Stage ``index`` of the ``stages`` list of ``path``, checked."""
    where = f"{path}: stages[{index}]"
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where}: expected a mapping with a name, got {item!r}")
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: name: expected a folder name (letters, digits, '.', '_', '-'), got {name!r}"
        )
    unknown = sorted(set(item) - set(STAGE_KEYS))
    if unknown:
        raise ConfigError(
            f"{where} ({name}): unknown key {unknown[0]!r}; a stage holds {', '.join(STAGE_KEYS)}"
        )
    for key in ("model", "loss", "train"):
        if key in item and not isinstance(item[key], Mapping):
            raise ConfigError(f"{where} ({name}): {key}: expected a mapping, got {item[key]!r}")
    if name in seen:
        raise ConfigError(f"{where}: the stage name {name!r} is used twice")
    seen.add(name)
    return Stage(name, {k: v for k, v in item.items() if k != "name"})


def merge_overrides(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, two config mappings: ``model`` and ``loss`` key by key at every
    depth (as dotted overrides); each ``train`` setting, and anything else, replaced whole."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = {**old, **value} if key == "train" else _deep_merge(old, value)
        else:
            out[key] = value
    return out


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        both = isinstance(old, Mapping) and isinstance(value, Mapping)
        out[key] = _deep_merge(old, value) if both else value
    return out


# --- data folders --------------------------------------------------------------------------------


def _natural_key(text: str) -> list[Any]:
    """Sort key that orders ``train_2`` before ``train_10``."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text)]


@dataclass(frozen=True)
class DataFolders:
    """Where the data entries of a config are found (``tessetrack train --data``).

    Attributes:
        roots: ``--data DIR`` folders: an entry ``E`` is looked up as ``DIR/E`` in each.
        named: ``--data NAME=DIR`` pairs: an entry ``NAME/P`` is looked up as ``DIR/P`` only.
    """

    roots: tuple[Path, ...] = ()
    named: tuple[tuple[str, Path], ...] = ()

    @classmethod
    def parse(cls, specs: Iterable[str | os.PathLike[str]]) -> DataFolders:
        """``--data`` values (``DIR`` or ``NAME=DIR``); each folder must exist.

        Raises:
            InputError: a folder that does not exist, or a name given twice.
        """
        roots: list[Path] = []
        named: dict[str, Path] = {}
        for spec in map(os.fspath, specs):
            name, sep, folder = spec.partition("=")
            if sep and _NAME.fullmatch(name):
                if name in named:
                    raise InputError(f"--data {name}=... is given twice")
                path = named[name] = Path(folder)
            else:
                path = Path(spec)
                roots.append(path)
            if not path.is_dir():
                raise InputError("data folder not found (--data)", path)
        return cls(tuple(roots), tuple(named.items()))

    def __bool__(self) -> bool:
        return bool(self.roots or self.named)

    def _patterns(self, entry: str) -> list[str]:
        head, _, rest = entry.partition("/")
        named = dict(self.named)
        if head in named:
            base = glob.escape(str(named[head]))
            return [os.path.join(base, rest) if rest else base]
        return [os.path.join(glob.escape(str(root)), entry) for root in self.roots]

    def resolve(self, entry: str) -> list[str]:
        """The data folders ``entry`` (a folder name or a glob pattern) names, in natural order."""
        found: list[str] = []
        for pattern in self._patterns(entry):
            for match in sorted(glob.glob(pattern), key=_natural_key):
                if os.path.isdir(match) and match not in found:
                    found.append(match)
        return found

    def searched(self, entry: str) -> str:
        """The folders :meth:`resolve` looks in for ``entry``, for messages."""
        head = entry.partition("/")[0]
        named = dict(self.named)
        if head in named:
            return f"{named[head]} (--data {head}=...)"
        if not self.roots:
            return f"no folder: give --data DIR, or --data {head}=DIR"
        return ", ".join(str(root) for root in self.roots)


def resolve_data(cfg: Config, folders: DataFolders, where: str) -> Config:
    """``cfg`` with its ``train.data`` and ``train.val_data`` entries found in ``folders``; without
    folders the entries stay the paths they are, and a glob pattern among them is an error.

    Raises:
        InputError: an entry that matches no data folder, naming it and the folders searched.
        ConfigError: a pattern with no ``--data`` folder to look in.
    """
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("data", "val_data"):
        entries: tuple[str, ...] = getattr(cfg.train, key)
        if not folders:
            patterns = [e for e in entries if _GLOB_MAGIC.search(e)]
            if patterns:
                raise ConfigError(
                    f"{where}: train.{key}: {patterns[0]!r} is a pattern: give the folder that "
                    "holds the data sets with --data DIR (or one set's folder with --data NAME=DIR)"
                )
            continue
        found: list[str] = []
        for entry in entries:
            matches = folders.resolve(entry)
            if not matches:
                raise InputError(
                    f"{where}: train.{key}: {entry!r} matches no data folder in "
                    f"{folders.searched(entry)}"
                )
            found.extend(m for m in matches if m not in found)
        lists[key] = tuple(found)
    return replace(cfg, train=replace(cfg.train, **lists)) if lists else cfg


# --- stages and their configs --------------------------------------------------------------------


@dataclass(frozen=True)
class StagePlan:
    """A stage ready to run.

    Attributes:
        name: the stage's name (empty for a config without stages).
        config: its whole config, data folders and start weights resolved.
        out_dir: its run folder.
    """

    name: str
    config: Config
    out_dir: Path


@dataclass(frozen=True)
class Recipe:
    """A config file read as a recipe.

    Attributes:
        path: the file.
        base: its mapping without ``stages`` (``preset``, ``variant``, ``model``, ``loss``, ``train``).
        stages: its stages, in order; empty for an ordinary single-run config.
    """

    path: Path
    base: Mapping[str, Any]
    stages: tuple[Stage, ...] = ()

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Recipe:
        """Read a config file (with or without ``stages``)."""
        return cls.from_mapping(Path(path), read_config_file(path))

    @classmethod
    def from_mapping(cls, path: str | os.PathLike[str], data: Mapping[str, Any]) -> Recipe:
        """The recipe of a config file's mapping; ``path`` names it in messages."""
        path, data = Path(path), dict(data)
        if "stages" not in data:
            return cls(path, data)
        items = data.pop("stages")
        if not isinstance(items, list) or not items:
            raise ConfigError(f"{path}: stages: expected a non-empty list of named stages")
        seen: set[str] = set()
        return cls(path, data, tuple(_parse_stage(path, i, s, seen) for i, s in enumerate(items)))

    @property
    def names(self) -> tuple[str, ...]:
        """The stages' names, in order."""
        return tuple(s.name for s in self.stages)

    def _index(self, index: int) -> int:
        try:
            return range(max(1, len(self.stages)))[index]
        except IndexError:
            raise ConfigError(f"{self.path}: no stage {index}") from None

    def _where(self, index: int) -> str:
        return f"{self.path}, stage {self.stages[index].name!r}" if self.stages else str(self.path)

    def stage_mapping(self, index: int, run: Path | None = None) -> dict[str, Any]:
        """Stage ``index``'s mapping: the file's sections with the overrides of every stage up to it
        merged in (:func:`merge_overrides`), and where its weights start. A later stage that names no
        ``train.init_from`` starts from ``run/<previous stage>/last.safetensors`` (with no ``run``:
        ``<previous stage>/last.safetensors``, the path inside the run folder)."""
        index = self._index(index)
        merged = dict(self.base)
        for stage in self.stages[: index + 1]:
            merged = merge_overrides(merged, stage.overrides)
        if index > 0 and not self.stages[index].names_init:
            start = Path(self.stages[index - 1].name) / "last.safetensors"
            train = merged.get("train") if isinstance(merged.get("train"), Mapping) else {}
            merged["train"] = {**train, "init_from": str(start if run is None else run / start)}
        return merged

    def stage_config(
        self,
        index: int = -1,
        overrides: Mapping[str, Any] | Iterable[str] = (),
        run: Path | None = None,
        data: DataFolders | None = None,
    ) -> Config:
        """The config of stage ``index`` (the last by default; 0 for a config without stages): its
        :meth:`stage_mapping`, then ``overrides`` (``train.init_from`` on the first stage only),
        then its data entries found in ``data`` (:func:`resolve_data`; None: left as written).

        Raises:
            ConfigError: a bad key or value, named with the file and the stage.
        """
        index = self._index(index)
        where = self._where(index)
        try:
            cfg = config_from_mapping(self.stage_mapping(index, run))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        items = override_items(overrides)
        if index > 0:
            items = [(k, v) for k, v in items if k != "train.init_from"]
        cfg = apply_overrides(cfg, dict(items))
        return cfg if data is None else resolve_data(cfg, data, where)

    def plan(
        self,
        run: Path,
        overrides: Mapping[str, Any] | Iterable[str] = (),
        data: DataFolders | None = None,
        until: str | None = None,
    ) -> list[StagePlan]:
        """The runs that train the recipe into ``run``: every stage, or those up to and including
        ``until``, each in ``run/<name>``; a config without stages is one run into ``run`` itself.
        Every config is built and its data found here, before any training.

        Raises:
            ConfigError: ``until`` is not a stage, or any stage's config is bad.
            InputError: a data entry of any stage matches no folder.
        """
        run, data = Path(run), data if data is not None else DataFolders()
        overrides = override_items(overrides)
        if not self.stages:
            if until is not None:
                raise ConfigError(f"{self.path}: has no stages (--stage {until})")
            return [StagePlan("", self.stage_config(0, overrides, run, data), run)]
        if until is not None and until not in self.names:
            raise ConfigError(
                f"{self.path}: no stage {until!r}; its stages: {', '.join(self.names)}"
            )
        last = self.names.index(until) if until is not None else len(self.stages) - 1
        return [
            StagePlan(name, self.stage_config(i, overrides, run, data), run / name)
            for i, name in enumerate(self.names[: last + 1])
        ]


# --- running -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageOutcome:
    """What one stage of :func:`run_recipe` did.

    Attributes:
        name: the stage ("" for a config without stages).
        out_dir: its run folder.
        step, steps: where it stands, of how many steps.
        result: the training call's result; None when the stage had finished before (skipped).
    """

    name: str
    out_dir: Path
    step: int
    steps: int
    result: TrainResult | None

    @property
    def skipped(self) -> bool:
        """Whether the stage had finished before this call."""
        return self.result is None

    def describe(self) -> str:
        """One line for the user: where the stage stands and where its checkpoint is."""
        where = f"stage {self.name}: " if self.name else ""
        if self.result is None:
            return f"{where}finished before (step {self.step}), skipped: {self.out_dir}"
        r = self.result
        return (
            f"{where}step {r.step} of {self.steps}, last loss {r.last_loss:.4g}, "
            f"val {r.val or '-'} -> {r.checkpoint}"
        )


def _is_main() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _write_index(run: Path, recipe: Recipe) -> None:
    """``run/recipe.json``: the recipe file and its stages, in order."""
    from tessetrack.io.atomic import atomic_write_text

    run.mkdir(parents=True, exist_ok=True)
    index = {"recipe": str(recipe.path), "stages": list(recipe.names)}
    atomic_write_text(run / INDEX_FILE, json.dumps(index, indent=2) + "\n")


def _trained_step(plan: StagePlan) -> int | None:
    """The step a stage's run folder holds (None: not started).

    Raises:
        CheckpointError: the folder's run was trained with another ``model`` or ``loss`` config.
    """
    from tessetrack.train.checkpoints import config_differences, load_checkpoint

    path = plan.out_dir / "last.safetensors"
    if not path.is_file():
        return None
    ck = load_checkpoint(path)
    saved, expected = ck.typed_config().to_dict(), plan.config.to_dict()
    diffs = config_differences(
        {k: expected[k] for k in ("model", "loss")}, {k: saved[k] for k in ("model", "loss")}
    )
    if diffs:
        raise CheckpointError(
            f"{path}: stage {plan.name!r} was trained with another config "
            f"({'; '.join(diffs[:6])}); remove its folder to train it again"
        )
    return int(ck.meta.get("step", 0))


def run_recipe(
    config: str | os.PathLike[str],
    run: str | os.PathLike[str],
    overrides: Mapping[str, Any] | Iterable[str] = (),
    data: Iterable[str | os.PathLike[str]] = (),
    *,
    until: str | None = None,
    resume: bool = True,
    max_steps: int | None = None,
    progress: Progress | None = None,
) -> list[StageOutcome]:
    """Train a config file into ``run``: every stage of a recipe in turn, or a config's one run.

    Args:
        config: the config file (with or without ``stages``).
        run: the run folder (a recipe's stages go to ``run/<stage>``).
        overrides: ``key=value`` strings (or a mapping) applied to every stage.
        data: ``--data`` values (``DIR`` or ``NAME=DIR``) the data entries are found in.
        until: run the stages up to and including this one only.
        resume: skip finished stages and resume an interrupted one; False trains each anew.
        max_steps: stop (checkpointed) after this many steps of this call, over all stages.
        progress: ``progress(stage, step, total, losses)`` after each step.

    Returns:
        One outcome per stage run or skipped; a stage that stopped early is the last.
    """
    from tessetrack.train.loop import train

    recipe = Recipe.load(config)
    plans = recipe.plan(Path(run), overrides, DataFolders.parse(data), until)
    if recipe.stages and _is_main():
        _write_index(Path(run), recipe)
    outcomes: list[StageOutcome] = []
    budget = max_steps
    for plan in plans:
        steps = plan.config.train.steps
        done = _trained_step(plan) if resume and recipe.stages else None
        if done is not None and done >= steps:
            outcomes.append(StageOutcome(plan.name, plan.out_dir, done, steps, None))
            continue
        report = None if progress is None else functools.partial(progress, plan.name)
        result = train(
            plan.config, plan.out_dir, resume=resume, max_steps_this_run=budget, progress=report
        )
        outcomes.append(StageOutcome(plan.name, plan.out_dir, result.step, steps, result))
        if budget is not None:
            budget -= result.step - (done or 0)
        if result.step < steps or budget == 0:  # stopped early: the next stages wait for it
            break
    return outcomes


def final_run_folder(run: str | os.PathLike[str]) -> Path:
    """The folder that holds the model a run made: ``run`` itself for a config's one run, its
    recipe's last stage's folder for a recipe's run (listed in ``run/recipe.json``).

    Raises:
        InputError: ``run/recipe.json`` is unreadable.
    """
    run = Path(run)
    index = run / INDEX_FILE
    if (run / "last.safetensors").is_file() or not index.is_file():
        return run
    try:
        stages = json.loads(index.read_text(encoding="utf-8"))["stages"]
        return run / str(stages[-1])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        raise InputError("not a recipe's stage list (JSON with a 'stages' list)", index) from None
