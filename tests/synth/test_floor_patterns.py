"""Floor patterns of the renderer: the checkerboard is unchanged, each pattern looks as documented."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tessetrack.errors import InputError
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.synth.render import FLOOR_PATTERNS, floor_texture, sample_style

A, B = (200, 40, 40), (20, 20, 180)


def _style(pattern: str):
    return replace(
        sample_style(np.random.default_rng(0)), floor_colors=(A, B), floor_pattern=pattern
    )


def test_checker_is_the_old_texture_bit_for_bit() -> None:
    """The formula the renderer used before the patterns existed, written out again here."""
    style = _style("checker")
    tiles, px = 5, 8
    board = (np.add.outer(np.arange(tiles), np.arange(tiles)) % 2).astype(bool)
    old = np.where(board[..., None], A, B)
    old = np.repeat(np.repeat(old, px, 0), px, 1).astype(np.float64)
    old += np.random.default_rng(3).normal(0.0, 6.0, old.shape)
    old = np.clip(old, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(floor_texture(style, tiles, np.random.default_rng(3)), old)


@pytest.mark.parametrize("pattern", FLOOR_PATTERNS)
def test_each_pattern_has_its_colours(pattern: str) -> None:
    img = floor_texture(_style(pattern), 6, np.random.default_rng(1)).astype(float)
    assert img.shape == (48, 48, 3)
    # distance of each pixel to colour a and to colour b (noise σ = 6, so 30 is far)
    near_a = np.linalg.norm(img - A, axis=-1) < 30
    near_b = np.linalg.norm(img - B, axis=-1) < 30
    share_b = near_b.mean()
    expected_b = {
        "checker": (0.45, 0.55),  # half the cells
        "plain": (0.0, 0.0),
        "stripes": (0.45, 0.55),  # every other row of cells
        "tiles": (
            0.2,
            0.25,
        ),  # 1-pixel grout in both directions of 8-pixel cells: 1 - (7/8)² = 0.23
        "planks": (0.12, 0.2),  # row seams (1/8) plus staggered end seams
        "blotches": (0.0, 1.0),  # a blend: checked below
    }[pattern]
    assert expected_b[0] <= share_b <= expected_b[1], share_b
    if pattern == "blotches":
        # a smooth blend between the two colours: every pixel lies near the segment a-b
        a, b = np.array(A, float), np.array(B, float)
        w = ((img - a) @ (b - a)) / ((b - a) @ (b - a))
        off = np.linalg.norm(img - (a + np.clip(w, 0, 1)[..., None] * (b - a)), axis=-1)
        assert np.percentile(off, 99) < 25 and w.std() > 0.1
    elif pattern == "planks":
        # planks are colour a times a brightness in [0.8, 1.2] (clipped at 255): red dominates
        body = ~near_b
        assert (img[body][:, 0] > 2 * img[body][:, 2]).all()
    else:
        assert (near_a | near_b).mean() > 0.99


def test_bad_pattern_and_size_are_refused() -> None:
    with pytest.raises(InputError, match="floor pattern"):
        floor_texture(_style("marble"), 4, np.random.default_rng(0))
    with pytest.raises(InputError, match="at least one tile"):
        floor_texture(_style("plain"), 0, np.random.default_rng(0))


def test_varied_style_keeps_every_other_field_of_the_seed() -> None:
    plain = [sample_style(np.random.default_rng(s)) for s in range(40)]
    varied = [sample_style(np.random.default_rng(s), varied=True) for s in range(40)]
    assert all(p.floor_pattern == "checker" for p in plain)
    assert [replace(v, floor_pattern="checker") for v in varied] == plain
    assert {v.floor_pattern for v in varied} == set(FLOOR_PATTERNS)


def test_synth_records_the_floor(tmp_path: Path) -> None:
    small = SynthConfig(num_cameras=1, num_people=1, num_frames=1, image_size=(32, 32), seed=4)
    generate_dataset(tmp_path / "a", small)
    generate_dataset(tmp_path / "b", replace(small, varied_floors=True))
    meta_a = json.loads((tmp_path / "a" / "tessetrack_synth.json").read_text())
    meta_b = json.loads((tmp_path / "b" / "tessetrack_synth.json").read_text())
    assert (meta_a["varied_floors"], meta_a["floor_pattern"]) == (False, "checker")
    assert meta_b["varied_floors"] is True and meta_b["floor_pattern"] in FLOOR_PATTERNS
    # the people and their motion are the same scene either way
    assert meta_a["people"] == meta_b["people"]
