from __future__ import annotations

import json
import random
from dataclasses import fields, replace

import numpy as np
import pytest
import torch

from tessetrack.config import Config, apply_overrides, preset
from tessetrack.errors import CheckpointError
from tessetrack.model.tessetrack import build_model
from tessetrack.train.checkpoints import (
    FORMAT,
    FORMAT_1,
    flatten_state,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
    unflatten_state,
)
from tessetrack.train.settings import TrainSettings

CONFIG = {"model": {"backbone": {"name": "small", "channels": 16}, "time_window": 3}, "seed": 0}


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2)
    )


def test_round_trip_weights_config_meta_and_optimizer_state(tmp_path):
    model = _model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    state = {
        "optimizer": opt.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "python_rng": random.getstate(),
        "step": 7,
    }
    path = save_checkpoint(
        tmp_path / "ck.safetensors", model.state_dict(), CONFIG, {"step": 7}, state
    )
    ck = load_checkpoint(path, expected_config=CONFIG, with_state=True)
    assert ck.config == CONFIG and ck.meta == {"step": 7}
    for k, v in model.state_dict().items():
        assert torch.equal(ck.weights[k], v)
    # The optimizer state loads back into a fresh optimizer and gives identical next steps.
    model2 = _model()
    model2.load_state_dict(ck.weights)
    opt2 = torch.optim.AdamW(model2.parameters(), lr=1e-3)
    opt2.load_state_dict(ck.state["optimizer"])
    assert torch.equal(ck.state["torch_rng"], state["torch_rng"])
    assert ck.state["python_rng"] == state["python_rng"]  # tuples survive as tuples
    x = torch.randn(5, 4)
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        m(x).sum().backward()
        o.step()
    for (k, a), b in zip(model.state_dict().items(), model2.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_flatten_unflatten_nested_structure():
    obj = {"a": [1, 2.5, None, "s", (torch.ones(2), {"b": torch.zeros(3)})], 3: True}
    skeleton, tensors = flatten_state(obj)
    assert len(tensors) == 2
    back = unflatten_state(skeleton, tensors)
    assert back["a"][:4] == [1, 2.5, None, "s"] and back[3] is True
    assert isinstance(back["a"][4], tuple) and torch.equal(back["a"][4][1]["b"], torch.zeros(3))


def test_other_config_is_refused_naming_the_key(tmp_path):
    path = save_checkpoint(tmp_path / "ck.safetensors", _model().state_dict(), CONFIG)
    other = {
        "model": {"backbone": {"name": "hrnet_w32", "channels": 16}, "time_window": 3},
        "seed": 0,
    }
    with pytest.raises(
        CheckpointError,
        match=r"model\.backbone\.name: expected 'hrnet_w32', checkpoint has 'small'",
    ):
        load_checkpoint(path, expected_config=other)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupted_or_truncated_checkpoint_is_refused(tmp_path, damage):
    path = save_checkpoint(tmp_path / "ck.safetensors", _model().state_dict(), CONFIG)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(len(data)))
    else:
        path.write_bytes(b"")
    with pytest.raises(
        CheckpointError, match="ck.safetensors: not a readable safetensors checkpoint"
    ):
        load_checkpoint(path)


def test_plain_safetensors_without_metadata_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(CheckpointError, match="without tessetrack metadata"):
        load_checkpoint(tmp_path / "plain.safetensors")


def test_checkpoint_of_another_format_version_is_refused_naming_both(tmp_path):
    # a file from a future (or older, incompatible) layout: the message names its version and ours
    from safetensors.torch import save_file

    header = {"format": "tessetrack.checkpoint/3", "tessetrack_version": "9.0", "config": "{}"}
    save_file({"w": torch.zeros(2)}, str(tmp_path / "v3.safetensors"), metadata=header)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "v3.safetensors")
    message = str(err.value)
    assert "v3.safetensors" in message and "'tessetrack.checkpoint/3'" in message
    assert "written by tessetrack 9.0" in message and "expects 'tessetrack.checkpoint/2'" in message


def _header(path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata())


def _flat(tree, prefix=""):
    if not isinstance(tree, dict):
        return {prefix: tree}
    out = {}
    for k, v in tree.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else k))
    return out


def _write_format_1(path, weights, config: dict, state_layout="null") -> None:
    """A checkpoint as format 1 wrote it (the same layout; the config as given)."""
    from safetensors.torch import save_file

    header = {
        "format": FORMAT_1,
        "tessetrack_version": "0.3.0",
        "config": json.dumps(config, sort_keys=True),
        "meta": "{}",
        "state_layout": state_layout,
    }
    save_file(weights, str(path), metadata=header)


@pytest.mark.parametrize("name", ["detections-shelf", "synthetic-small"])
def test_shipped_format_1_checkpoint_reads_the_config_it_stores(name):
    path = resolve_checkpoint(name)
    stored = json.loads(_header(path)["config"])
    assert _header(path)["format"] == FORMAT_1
    ck = load_checkpoint(path)
    assert ck.format == FORMAT_1
    typed = ck.typed_config()
    # every value the file stores reads back unchanged; the train keys it does not store take
    # the settings' defaults
    flat = _flat(typed.to_dict())
    assert {k: flat[k] for k in _flat(stored)} == _flat(stored)
    default = Config().to_dict()["train"]
    for key, value in typed.to_dict()["train"].items():
        assert value == stored["train"].get(key, default[key]), key
    assert typed.model.pose_head.refine and typed.model.pose_head.skips
    assert typed.train.image_size == tuple(stored["train"]["image_size"])


def test_format_1_config_without_a_key_reads_the_old_default(tmp_path):
    # format 1 wrote configs when refine and skips were off by default: a config that lacks them
    # meant off, though the default is on now
    cfg = preset("cpu-small", "FI")
    assert not cfg.model.pose_head.refine and Config().model.pose_head.refine
    stored = cfg.to_dict()
    del stored["model"]["pose_head"]["refine"], stored["model"]["pose_head"]["skips"]
    stored["train"] = {"image_size": [96, 64], "lr": 0.01}  # format 1 kept only what was set
    weights = build_model(cfg).state_dict()
    _write_format_1(tmp_path / "v1.safetensors", weights, stored)
    ck = load_checkpoint(tmp_path / "v1.safetensors")
    assert ck.format == FORMAT_1
    assert ck.typed_config() == replace(cfg, train=TrainSettings(image_size=(96, 64), lr=0.01))
    from tessetrack.tracking.runner import load_model

    assert load_model(tmp_path / "v1.safetensors").image_size == (96, 64)  # the weights fit
    # written again, it is a format-2 checkpoint with every field, meaning the same
    again = save_checkpoint(tmp_path / "v2.safetensors", weights, ck.typed_config())
    assert _header(again)["format"] == FORMAT
    assert load_checkpoint(again).typed_config() == ck.typed_config()


def test_a_run_resumes_from_its_format_1_checkpoint(tmp_path):
    from tessetrack.train.checkpointing import resume_run

    cfg = preset("cpu-small", "FI")
    model = build_model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    state = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
             "torch_rng": torch.get_rng_state(), "step": 7}  # fmt: skip
    path = save_checkpoint(tmp_path / "last.safetensors", model.state_dict(), cfg, {}, state)
    stored = cfg.to_dict()
    del stored["model"]["pose_head"]["refine"], stored["model"]["pose_head"]["skips"]
    from safetensors.torch import load_file

    tensors = load_file(str(path))  # weights and the state/ tensors as stored
    _write_format_1(path, tensors, stored, _header(path)["state_layout"])
    assert resume_run(path, cfg.to_dict(), build_model(cfg), opt, sched) == 7


def test_new_format_round_trips_the_typed_config(tmp_path):
    cfg = apply_overrides(
        preset("cpu-small", "HTDL"),
        {
            "model.pose_head.refine": True,
            "model.pose_head.skips": True,
            "train.image_size": [320, 240],
            "train.detection_noise": [{"profile": "openpose"}, {"jitter": 0.02}],
            "train.steps": 12,
        },
    )
    path = save_checkpoint(tmp_path / "ck.safetensors", build_model(cfg).state_dict(), cfg)
    header = _header(path)
    assert header["format"] == FORMAT == "tessetrack.checkpoint/2"
    stored = json.loads(header["config"])
    assert stored == cfg.to_dict()
    assert set(stored["train"]) == {f.name for f in fields(TrainSettings)}  # every field
    ck = load_checkpoint(path)
    assert ck.format == FORMAT and ck.config == stored
    assert ck.typed_config() == cfg
    assert ck.typed_config().train.detection_noise == ({"profile": "openpose"}, {"jitter": 0.02})


def test_missing_checkpoint_name_lists_what_exists(tmp_path):
    with pytest.raises(CheckpointError, match="neither a file nor a shipped checkpoint"):
        resolve_checkpoint("no-such-model")
    path = save_checkpoint(tmp_path / "m" / "model.safetensors", _model().state_dict(), CONFIG)
    assert resolve_checkpoint(tmp_path / "m") == path
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_half_weights_round_to_float16_and_load_into_a_float32_model(tmp_path):
    from tessetrack.train.checkpoints import half_weights

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.GroupNorm(2, 8), torch.nn.ReLU())
    weights = {**net.state_dict(), "count": torch.tensor([3], dtype=torch.int64)}
    half = half_weights(weights)
    assert half["count"].dtype == torch.int64 and torch.equal(half["count"], weights["count"])
    for name, w in net.state_dict().items():
        h = half[name]
        assert h.dtype == torch.float16
        # float16 rounds to nearest: relative error ≤ 2^-11 for normal numbers
        err = (h.double() - w.double()).abs()
        assert bool((err <= w.double().abs() * 2.0**-11 + 2.0**-24).all()), name
    save_checkpoint(tmp_path / "h.safetensors", half, {"a": 1}, {"weights_dtype": "float16"})
    loaded = load_checkpoint(tmp_path / "h.safetensors")
    copy = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.GroupNorm(2, 8), torch.nn.ReLU())
    copy.load_state_dict({k: v for k, v in loaded.weights.items() if k != "count"}, strict=True)
    assert copy[0].weight.dtype == torch.float32  # the model keeps its precision
    x = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(copy(x), net(x), atol=2e-3, rtol=2e-3)
    with pytest.raises(CheckpointError, match="'big'.*beyond float16"):
        half_weights({"big": torch.tensor([7e4])})
    with pytest.raises(CheckpointError, match="'bad'.*non-finite"):
        half_weights({"bad": torch.tensor([float("nan")])})


def test_typed_config_reads_through_config_and_names_the_file_it_refuses(tmp_path):
    from tessetrack.config import preset

    good = preset("cpu-small").to_dict()
    save_checkpoint(tmp_path / "good.safetensors", {}, good, {})
    assert load_checkpoint(tmp_path / "good.safetensors").typed_config() == preset("cpu-small")
    bad = {**good, "model": {**good["model"], "backbone": {**good["model"]["backbone"], "nme": 1}}}
    save_checkpoint(tmp_path / "bad.safetensors", {}, bad, {})
    with pytest.raises(CheckpointError, match=r"bad\.safetensors: the checkpoint's config is not"):
        load_checkpoint(tmp_path / "bad.safetensors").typed_config()
