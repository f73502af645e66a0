"""Recipes: every shipped model's chain in one file, faithful to the stage configs it replaced; the
runner trains the stages in turn, skips finished ones, resumes an interrupted one; data entries are
found in the --data folders."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tessetrack.config import load_config
from tessetrack.errors import ConfigError, InputError
from tessetrack.train.checkpoints import load_checkpoint, resolve_checkpoint, shipped_checkpoints
from tessetrack.train.recipe import (
    DataFolders,
    Recipe,
    final_run_folder,
    merge_overrides,
    run_recipe,
)
from tiny_network import TINY_NETWORK

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
EXPERIMENTS = ROOT / "experiments" / "configs"
DATA = Path(__file__).parent / "data"

#: Every shipped chain as its stage configs gave it before they became one recipe each: per model,
#: its stages in order, each with the old file, the ``key=value`` overrides of its header command,
#: the run folder that command wrote and the resolved config (``Config.to_dict()``).
OLD_STAGES: dict[str, list[dict[str, Any]]] = json.loads(
    (DATA / "shipped_recipe_stages.json").read_text()
)
#: The resolved config of every experiment config as it was while it named ``runs/`` folders.
OLD_EXPERIMENTS: dict[str, dict[str, Any]] = json.loads(
    (DATA / "experiment_configs.json").read_text()
)
PRESETS = {"paper", "cpu-small"}


def _old_folder(path: str, root: Path) -> str:
    """An old ``runs/...`` data folder, in the fake data root."""
    return str(root / path.removeprefix("runs/"))


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """Empty folders where the data scripts write: every folder the old configs named (without
    ``runs/``) and the test scene each script writes beside them."""
    root = tmp_path_factory.mktemp("data")
    configs = [s["config"] for chain in OLD_STAGES.values() for s in chain]
    for cfg in [*configs, *OLD_EXPERIMENTS.values()]:
        for path in cfg["train"]["data"] + cfg["train"]["val_data"]:
            folder = Path(_old_folder(path, root))
            folder.mkdir(parents=True, exist_ok=True)
            (folder.parent / re.sub(r"(train|val)_\d+$", "test_0", folder.name)).mkdir(
                exist_ok=True
            )
    return root


# --- the configs folder --------------------------------------------------------------------------


def test_configs_hold_the_presets_and_one_recipe_per_trained_shipped_model():
    trained = set(shipped_checkpoints()) - {"synthetic-images"}  # a graft, no training of its own
    assert {p.stem for p in CONFIGS.glob("*.yaml")} == PRESETS | trained
    assert set(OLD_STAGES) == trained
    for name in trained:
        assert Recipe.load(CONFIGS / f"{name}.yaml").stages, name
    assert sum(len(chain) for chain in OLD_STAGES.values()) == 25  # every stage is compared below


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


@pytest.mark.parametrize(
    "path", sorted([*CONFIGS.glob("*.yaml"), *EXPERIMENTS.glob("*.yaml")]), ids=lambda p: p.name
)
def test_no_config_names_a_runs_folder(path: Path):
    values = _strings(yaml.safe_load(path.read_text()))
    assert [v for v in values if v.startswith(("runs/", "./runs/"))] == []


# --- the shipped recipes are the chains they replaced ---------------------------------------------


@pytest.mark.parametrize("model", sorted(OLD_STAGES))
def test_each_stage_of_a_shipped_recipe_is_the_stage_config_it_replaced(model, data_root, tmp_path):
    run = tmp_path / "run"
    plans = Recipe.load(CONFIGS / f"{model}.yaml").plan(run, data=DataFolders.parse([data_root]))
    old = OLD_STAGES[model]
    assert [p.name for p in plans] == [s["stage"] for s in old]
    for i, (plan, stage) in enumerate(zip(plans, old, strict=True)):
        new_cfg, old_cfg = plan.config.to_dict(), json.loads(json.dumps(stage["config"]))
        new_train, old_train = new_cfg.pop("train"), old_cfg.pop("train")
        assert new_cfg == old_cfg, stage["stage"]  # model and loss
        for key in ("data", "val_data"):  # the same folders, in the same order
            assert new_train.pop(key) == [_old_folder(p, data_root) for p in old_train.pop(key)]
        new_init, old_init = new_train.pop("init_from"), old_train.pop("init_from")
        assert new_train == old_train, stage["stage"]  # every other train setting
        assert plan.out_dir == run / stage["stage"]
        if i == 0:  # from scratch, or from the same shipped file
            assert (new_init is None and old_init is None) or (
                resolve_checkpoint(new_init).resolve() == (ROOT / old_init).resolve()
            )
        else:  # the old chain started each stage from the one before, and so does the recipe
            assert old_init == f"{old[i - 1]['old_output']}/last.safetensors"
            assert new_init == str(run / old[i - 1]["stage"] / "last.safetensors")


def test_loading_a_recipe_gives_the_model_it_makes_its_last_stage():
    recipe = Recipe.load(CONFIGS / "synthetic-small.yaml")
    assert load_config(CONFIGS / "synthetic-small.yaml") == recipe.stage_config(-1)
    final = load_config(CONFIGS / "synthetic-small.yaml", ["train.threads=1"]).train
    assert final.steps == 500 and final.threads == 1
    assert final.init_from == "ftdl/last.safetensors"  # inside the recipe's run folder


# --- experiments: data by name, start weights on the documented command line ----------------------


def _documented_command(path: Path) -> list[str]:
    """The ``tessetrack train --config <path>`` command of the file's header, as arguments."""
    lines = [line[1:].strip() for line in path.read_text().splitlines() if line.startswith("#")]
    rel = f"--config {path.relative_to(ROOT)}"
    for i, line in enumerate(lines):
        if line.startswith("tessetrack train") and rel in line:
            command = line
            while command.endswith("\\"):
                i += 1
                command = command[:-1] + " " + lines[i]
            return shlex.split(command)
    raise AssertionError(f"{path.name}: no `tessetrack train {rel}` command in its header")


def _same_start(new: str | None, old: str | None) -> bool:
    """Whether the documented start is the run folder the old config named: a shipped chain's
    stage is now in the recipe's run folder, the last one is also the shipped checkpoint."""
    if old is None or new is None:
        return new == old
    where = {}
    for model, chain in OLD_STAGES.items():
        for stage in chain:
            where[f"{stage['old_output']}/last.safetensors"] = {
                f"runs/{model}/{stage['stage']}/last.safetensors"
            } | ({model} if stage is chain[-1] else set())
    return new in where.get(old, {old})


@pytest.mark.parametrize("name", sorted(OLD_EXPERIMENTS))
def test_each_experiment_with_its_documented_command_is_the_config_it_was(
    name, data_root, tmp_path
):
    path = EXPERIMENTS / f"{name}.yaml"
    args = _documented_command(path)
    assert args[args.index("--data") + 1] == "runs"
    overrides = [a for a in args if "=" in a and not a.startswith("-")]
    cfg = Recipe.load(path).plan(tmp_path, overrides, DataFolders.parse([data_root]))[0].config
    new, old = cfg.to_dict(), json.loads(json.dumps(OLD_EXPERIMENTS[name]))
    for key in ("data", "val_data"):
        assert new["train"].pop(key) == [_old_folder(p, data_root) for p in old["train"].pop(key)]
    new_init, old_init = new["train"].pop("init_from"), old["train"].pop("init_from")
    assert new == old
    assert _same_start(new_init, old_init), (new_init, old_init)


# --- how a recipe resolves -----------------------------------------------------------------------


def test_stage_overrides_merge_model_and_loss_deeply_and_replace_train_settings():
    base = {
        "model": {"volume": {"shape": [32, 32, 8], "size": [8.0, 8.0, 2.0]}},
        "train": {"lr": 0.001, "detection_noise": {"jitter": 0.02, "miss_prob": 0.05}},
    }
    over = {"model": {"volume": {"shape": [64, 64, 16]}}, "train": {"detection_noise": {"profile": "blazepose"}}}  # fmt: skip
    merged = merge_overrides(base, over)
    assert merged["model"]["volume"] == {"shape": [64, 64, 16], "size": [8.0, 8.0, 2.0]}
    assert merged["train"] == {"lr": 0.001, "detection_noise": {"profile": "blazepose"}}
    assert base["model"]["volume"]["shape"] == [32, 32, 8]  # untouched


def test_command_line_overrides_reach_every_stage_and_init_from_only_the_first(data_root, tmp_path):
    plans = Recipe.load(CONFIGS / "synthetic-detections.yaml").plan(
        tmp_path, ["train.threads=1", "train.init_from=mine.safetensors"], DataFolders.parse([data_root])
    )  # fmt: skip
    assert [p.config.train.threads for p in plans] == [1, 1]
    assert plans[0].config.train.init_from == "mine.safetensors"
    assert plans[1].config.train.init_from == str(tmp_path / "base" / "last.safetensors")


def test_stage_runs_the_stages_up_to_it(data_root, tmp_path):
    recipe = Recipe.load(CONFIGS / "detections-shelf.yaml")
    data = DataFolders.parse([data_root])
    plans = recipe.plan(tmp_path, data=data, until="fine2")
    assert [p.name for p in plans] == ["base", "near", "fine", "fine2"]
    with pytest.raises(ConfigError, match="no stage 'fine3'; its stages: base, near, fine, fine2"):
        recipe.plan(tmp_path, data=data, until="fine3")


def test_a_config_without_stages_is_one_run_into_the_run_folder_with_its_paths(tmp_path):
    (plan,) = Recipe.load(CONFIGS / "cpu-small.yaml").plan(tmp_path, ["train.data=[my/scene_0]"])
    assert plan.out_dir == tmp_path and plan.name == ""
    assert plan.config.train.data == ("my/scene_0",)
    assert plan.config == load_config(CONFIGS / "cpu-small.yaml", ["train.data=[my/scene_0]"])
    with pytest.raises(ConfigError, match="has no stages"):
        Recipe.load(CONFIGS / "cpu-small.yaml").plan(tmp_path, until="base")


def test_a_pattern_needs_a_data_folder(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"detections-shelf.yaml, stage 'base': train.data: 'dets/shelf_train_\*' is a "
        r"pattern: give the folder that holds the data sets with --data DIR",
    ):
        Recipe.load(CONFIGS / "detections-shelf.yaml").plan(tmp_path)


def test_data_entries_are_found_by_name_in_natural_order(tmp_path):
    for name in ("s_train_10", "s_train_2", "s_train_1", "s_val_0"):
        (tmp_path / "a" / name).mkdir(parents=True)
    (tmp_path / "a" / "s_train_3").write_text("a file, not a data folder")
    by_root = DataFolders.parse([tmp_path])
    assert by_root.resolve("a/s_train_*") == [
        str(tmp_path / "a" / f"s_train_{i}") for i in (1, 2, 10)
    ]
    by_name = DataFolders.parse([f"sets={tmp_path / 'a'}"])
    assert by_name.resolve("sets/s_val_0") == [str(tmp_path / "a" / "s_val_0")]
    assert by_name.resolve("a/s_val_0") == []  # no --data DIR to look in
    with pytest.raises(InputError, match="data folder not found"):
        DataFolders.parse([str(tmp_path / "nowhere")])


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([], "stages: expected a non-empty list"),
        ([{"name": "a"}, {"name": "a"}], "the stage name 'a' is used twice"),
        ([{"name": "a b"}], "name: expected a folder name"),
        ([{"name": "a", "steps": 3}], "unknown key 'steps'; a stage holds name, variant, model"),
        ([{"name": "a", "train": [1]}], r"train: expected a mapping"),
    ],
)
def test_bad_stages_are_refused_naming_the_file(stages, message, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"preset": "cpu-small", "stages": stages}))
    with pytest.raises(ConfigError, match=message) as info:
        Recipe.load(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


# --- running one -------------------------------------------------------------------------------


def _nested(dotted: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny 2-stage recipe (2 steps each, the second at another rate) and the folder of its one
    scene: ring of 2 cameras, 2 people, 4 frames (one clip of T + Δt = 3 + 1), 64²."""
    from tessetrack.synth.generate import SynthConfig, generate_dataset

    root = tmp_path_factory.mktemp("tiny")
    scenes = root / "scenes"
    generate_dataset(
        scenes / "tiny_0",
        SynthConfig(rig="ring", num_cameras=2, num_people=2, num_frames=4, image_size=(64, 64),
                    detections=None, seed=3),
    )  # fmt: skip
    train = {"data": ["scenes/tiny_*"], "steps": 2, "image_size": [64, 64], "log_every": 1,
             "checkpoint_every": 2, "val_every": 100, "max_people": 3, "min_views": 2,
             "warmup_steps": 1, "lr": 0.003}  # fmt: skip
    recipe = {
        "preset": "cpu-small",
        **_nested(TINY_NETWORK),
        "train": train,
        "stages": [{"name": "first"}, {"name": "second", "train": {"lr": 0.001}}],
    }
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path, scenes


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    from tessetrack.cli import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def _logged_steps(run: Path) -> list[int]:
    lines = (run / "log.csv").read_text().splitlines()
    return [int(line.split(",")[0]) for line in lines[1:]]


def test_a_two_stage_recipe_trains_resumes_and_skips(tiny, tmp_path, monkeypatch, capsys):
    import torch

    from tessetrack.train import loop

    recipe, scenes = tiny
    run, data = tmp_path / "run", [f"scenes={scenes}"]
    starts: list[tuple[str, bool]] = []
    real_warm_start = loop.warm_start

    def warm_start(model, source, prefixes):  # the real one, and whether it took source's weights
        real_warm_start(model, source, prefixes)
        weights = load_checkpoint(source).weights
        starts.append(
            (source, all(torch.equal(v, weights[k]) for k, v in model.state_dict().items()))
        )

    monkeypatch.setattr(loop, "warm_start", warm_start)
    # three steps in all: the first stage's two and one of the second's, where the call stops
    done = run_recipe(recipe, run, data=data, max_steps=3)
    assert [(d.name, d.step, d.steps, d.skipped) for d in done] == [
        ("first", 2, 2, False), ("second", 1, 2, False)
    ]  # fmt: skip
    first = str(run / "first" / "last.safetensors")
    assert starts == [(first, True)]  # the second stage started from the first's weights
    second = load_checkpoint(run / "second" / "last.safetensors")
    assert second.config["train"]["init_from"] == first and second.config["train"]["lr"] == 0.001
    assert second.meta["data"] == [str(scenes / "tiny_0")]
    assert json.loads((run / "recipe.json").read_text())["stages"] == ["first", "second"]
    # the same command again, on the command line: the first stage is skipped, the second resumes
    code, out, err = _cli(["train", "--config", str(recipe), "--data", data[0], "--output", str(run)], capsys)  # fmt: skip
    assert code == 0, err
    assert "stage first: finished before (step 2), skipped" in out and "stage second: " in out
    assert _logged_steps(run / "first") == [1, 2] and _logged_steps(run / "second") == [1, 2]
    assert len(starts) == 1  # resumed from its own checkpoint, not started again
    # and once more: nothing left to train
    monkeypatch.setattr(loop, "train", lambda *a, **k: pytest.fail("a finished stage ran again"))
    done = run_recipe(recipe, run, data=data)
    assert [(d.name, d.step, d.skipped) for d in done] == [("first", 2, True), ("second", 2, True)]
    assert final_run_folder(run) == run / "second"  # what scripts/export_checkpoint.py exports
    assert final_run_folder(run / "first") == run / "first"


def test_a_data_pattern_that_matches_nothing_is_a_one_line_error(tiny, tmp_path, capsys):
    recipe, _ = tiny
    empty = tmp_path / "empty"
    empty.mkdir()
    run = tmp_path / "run"
    code, _, err = _cli(
        ["train", "--config", str(recipe), "--data", str(empty), "-o", str(run)], capsys
    )
    assert code == 2
    assert err == (
        f"error: {recipe}, stage 'first': train.data: 'scenes/tiny_*' matches no data folder in "
        f"{empty}\n"
    )
    assert not run.exists()  # refused before any work


# --- the one command per shipped model -----------------------------------------------------------


@pytest.mark.parametrize("model", sorted(OLD_STAGES))
def test_train_shipped_makes_the_data_trains_the_recipe_and_exports_it(model, tmp_path):
    work = tmp_path / "work"
    env = {**os.environ, "DRY_RUN": "1"}
    out = subprocess.run(
        ["bash", "scripts/train_shipped.sh", model, str(work)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    commands = [shlex.split(line[2:]) for line in out.splitlines() if line.startswith("+ ")]
    made = {Path(c[-1]).name for c in commands if any("scripts/make_" in a for a in c)}
    recipe = Recipe.load(CONFIGS / f"{model}.yaml")
    named = {
        entry.split("/")[0]
        for i in range(len(recipe.stages))
        for key in ("data", "val_data")
        for entry in recipe.stage_mapping(i)["train"][key]
    }
    assert named <= made, (named, made)  # every data set the recipe names is made
    train = ["tessetrack", "train", "--config", f"configs/{model}.yaml", "--data", str(work),
             "--output", str(work / model)]  # fmt: skip
    assert commands[-2] == train
    export = commands[-1]
    assert export[1:4] == ["scripts/export_checkpoint.py", str(work / model), model]
    assert export[-2:] == ["--command", f"scripts/train_shipped.sh {model}"]
    half = load_checkpoint(resolve_checkpoint(model)).meta.get("weights_dtype") == "float16"
    assert ("--half" in export) == half
    report = json.loads((resolve_checkpoint(model).parent / "report.json").read_text())
    assert report["training_command"] == f"scripts/train_shipped.sh {model}"
