"""Shared fixtures: paths to the real sample files in ``../shared/data`` and small synthetic rigs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TESSETRACK_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the real sample files (``../shared/data``); tests needing it skip if it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real sample data not found at {SHARED_DATA} (set TESSETRACK_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def ring_scene(tmp_path_factory) -> Path:
    """Ring of 2 cameras, 2 people, 5 frames of 64² images, simulated BODY25 detections (one per
    test module: tests may write beside it)."""
    from tessetrack.synth.generate import SynthConfig, generate_dataset

    out = tmp_path_factory.mktemp("synth") / "scene"
    generate_dataset(
        out,
        SynthConfig(
            rig="ring", num_cameras=2, num_people=2, num_frames=5, image_size=(64, 64), seed=3
        ),
    )
    return out
