"""Config: paper defaults, presets, variants, YAML + dotted overrides, validation, dict round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tessetrack.config import (
    Config,
    ModelConfig,
    apply_overrides,
    load_config,
    parse_override,
    preset,
    variant,
)
from tessetrack.errors import ConfigError
from tessetrack.train.settings import TrainSettings

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_paper_defaults():
    c = Config()
    m = c.model
    assert m.backbone.name == "hrnet_w32" and m.backbone.channels == 32  # R = 32
    assert m.volume.shape == (64, 64, 64) and m.volume.size == (12.0, 12.0, 12.0)
    assert m.tesseract.size == 2.5 and m.tesseract.time_window == 5 and m.tesseract.stride == 5
    assert m.pose_head.num_joints == 19 and m.matcher.sinkhorn_iters == 100
    assert (c.loss.alpha, c.loss.beta, c.loss.gamma) == (1.0, 0.01, 0.01)
    assert m.variant == variant("FTDL")
    assert m.clip_length == 10  # T + Δt = 5 + 5


def test_variants_switches():
    assert variant("HI").input == "heatmaps" and not variant("HI").temporal
    assert variant("FTGA").matcher == "hungarian" and variant("FTGA").merge == "average"
    assert variant("ftgl").merge == "learned"  # case-insensitive
    assert variant("FIG").temporal is False and variant("FIG").matcher == "hungarian"
    cfg = preset("cpu-small", "FI")
    assert cfg.model.time_window == 1  # instantaneous: T = 1
    assert cfg.model.clip_length == 2  # 1 + Δt(1)
    with pytest.raises(ConfigError, match="unknown variant"):
        variant("XYZ")


def test_heatmap_variant_channels():
    cfg = preset("cpu-small", "HI")
    assert cfg.model.feature_channels == 19  # J Panoptic heatmaps instead of R features


@pytest.mark.parametrize("name", ["paper", "cpu-small"])
def test_yaml_files_equal_presets(name):
    assert load_config(CONFIGS / f"{name}.yaml") == preset(name)


def test_round_trip_through_json():
    cfg = apply_overrides(preset("cpu-small", "FTGL"), ["train.lr=0.01", "loss.gamma=0.5"])
    text = json.dumps(cfg.to_dict())
    back = Config.from_dict(json.loads(text))
    assert back == cfg
    assert back.model.tesseract.shape == (16, 16, 16)  # lists come back as tuples
    assert back.train == TrainSettings(lr=0.01)  # the typed settings, every other field default


def test_dotted_overrides():
    cfg = load_config(
        CONFIGS / "cpu-small.yaml", ["model.tesseract.time_window=5", "model.variant=FTGA"]
    )
    assert cfg.model.tesseract.time_window == 5
    assert cfg.model.variant == variant("FTGA")
    assert cfg.model.backbone.name == "small"  # the file's overrides stay
    assert parse_override("model.volume.size=[6, 6, 3]") == ("model.volume.size", [6, 6, 3])


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.tesseract.time_window=4", "model.tesseract.time_window"),  # even window
        ("model.tesseract.time_window=abc", "model.tesseract.time_window"),  # wrong type
        ("model.tesseract.nope=1", "model.tesseract.nope"),  # unknown key
        ("model.variant.matcher=magic", "model.variant.matcher"),
        ("model.volume.shape=[1, 2]", "model.volume.shape"),  # wrong length
        ("loss.alpha=-1", "loss.alpha"),
        ("model.matcher.heads=3", "model.matcher.heads"),  # 3 does not divide D = 128
        # redrawing the 2D head's peaks needs a 2D head that reads images
        ("model.backbone.image_heatmaps_peaks=true", "model.backbone.image_heatmaps_peaks"),
        ("model.backbone.image_heatmaps_threshold=0", "model.backbone.image_heatmaps_threshold"),
    ],
)
def test_bad_override_names_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        apply_overrides(Config(), [override])


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="dotted.key=value"):
        parse_override("model.tesseract.time_window")


def test_bad_file_names_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  detector: {max_peopel: 3}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*model\.detector\.max_peopel"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_file_with_preset_and_variant(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("preset: cpu-small\nvariant: FIG\nloss: {gamma: 0.1}\n")
    cfg = load_config(path)
    assert cfg.model.backbone.name == "small" and cfg.model.variant == variant("FIG")
    assert cfg.loss.gamma == 0.1


def test_configs_are_frozen():
    with pytest.raises(AttributeError):
        ModelConfig().backbone.channels = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        Config().train.lr = 0.1  # type: ignore[misc]


def test_train_section_is_typed_at_load(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(
        "preset: cpu-small\n"
        "train: {image_size: [512, 384], data: runs/a, lr: 1, detection_noise: {profile: openpose}}\n"
    )
    cfg = load_config(
        path, ["train.steps=20", "train.init_prefixes=[backbone.]", "train.init_from=x"]
    )
    t = cfg.train
    assert isinstance(t, TrainSettings)
    assert t.image_size == (512, 384) and t.data == ("runs/a",) and t.steps == 20
    assert t.lr == 1.0 and isinstance(t.lr, float) and t.init_prefixes == ("backbone.",)
    assert t.detection_noise == {"profile": "openpose"} and t.batch_size == 1  # default
    assert Config.from_dict(cfg.to_dict()) == cfg  # every field stored, read back exactly


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ("{lr: -1}", r"train\.lr: must be > 0, got -1"),
        ("{steps: 0}", r"train\.steps: must be >= 1, got 0"),
        ("{optimiser: adam}", r"train\.optimiser: unknown setting; known: "),
        ("{image_size: [8, 8]}", r"train\.image_size: expected \[W, H\] >= 16"),
        ("{stage: 2d}", r"train\.stage: expected one of \['full', 'keypoints'\], got '2d'"),
        ("{paste_near: 1.5}", r"train\.paste_near: must be in \[0, 1\], got 1.5"),
        ("{detection_noise: {profile: nope}}", r"train\.detection_noise: unknown profile 'nope'"),
        ("{init_prefixes: [backbone.]}", r"train\.init_prefixes: only used with train\.init_from"),
        ("{lr: fast}", r"train\.lr: expected a number, got 'fast'"),
        ("{steps: 1.5}", r"train\.steps: expected an integer, got 1\.5"),
        ("{amp: 1}", r"train\.amp: expected true/false, got 1"),
        ("{data: 3}", r"train\.data: expected a string or a list of them, got 3"),
        ("[1, 2]", r"train: expected a mapping, got \[1, 2\]"),
    ],
)
def test_bad_train_value_fails_at_load(tmp_path, train, message):
    # the same one-line ConfigError from a YAML file, a key=value override and a stored dict
    path = tmp_path / "bad.yaml"
    path.write_text(f"preset: cpu-small\ntrain: {train}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: " + message) as err:
        load_config(path)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=message):
        Config.from_dict({"train": yaml.safe_load(train)})
    if train.startswith("{") and train.count(":") == 1 and "{" not in train[1:]:
        key, value = train.strip("{}").split(": ")
        with pytest.raises(ConfigError, match=message):
            apply_overrides(Config(), [f"train.{key}={value}"])


def test_pose_head_defaults_and_the_presets():
    # refine and skips are on by default (every shipped model uses them); both presets are the
    # paper's plain deconvolution head
    assert Config().model.pose_head.refine and Config().model.pose_head.skips
    for name in ("paper", "cpu-small"):
        head = preset(name).model.pose_head
        assert not head.refine and not head.skips


@pytest.mark.parametrize(
    "path",
    sorted(CONFIGS.glob("*.yaml"))
    + sorted((CONFIGS.parent / "experiments" / "configs").glob("*.yaml")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_no_config_file_relies_on_the_pose_head_defaults(path):
    # the files written when refine and skips were off by default still mean what they meant:
    # off unless the file turns them on
    on = "refine: true" in path.read_text()
    head = load_config(path).model.pose_head
    assert head.refine == on and head.skips == on


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "configs").glob("*.yaml")))
def test_every_shipped_config_file_loads_and_builds(path):
    from tessetrack.model.tessetrack import build_model

    cfg = load_config(path)  # the train section is checked here too
    assert isinstance(cfg.train, TrainSettings)
    if cfg.model.backbone.name == "small":  # the paper preset is too big to build in a unit test
        model = build_model(cfg)
        assert model.heatmap_input == (cfg.model.variant.input == "heatmaps")
    if path.stem.startswith("detections-"):
        assert cfg.model.variant.input == "heatmaps" and cfg.model.pose_head.skips
