"""File formats: camera calibrations, tracks files, videos/images and 2D detections.

The stable API (SPEC.md) is ``from tessetrack.io import load_cameras, load_tracks, save_tracks``.
Importing this package reads no file and has no side effects.
"""

from __future__ import annotations

from tessetrack.io.calibration import detect_format, load_cameras, save_cameras
from tessetrack.io.safe_pickle import load_pickle

__all__ = ["detect_format", "load_cameras", "save_cameras", "load_pickle"]

# load_tracks/save_tracks come from io/tracks.py (written by another module owner); re-export
# them when that module is present.
try:
    from tessetrack.io.tracks import load_tracks, save_tracks
except ImportError:  # pragma: no cover - io/tracks.py not written yet
    pass
else:
    __all__ += ["load_tracks", "save_tracks"]
