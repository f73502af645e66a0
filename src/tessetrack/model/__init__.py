"""The TesseTrack network (paper §3): backbone, person detection, tesseract descriptors, matcher, pose head.

Importing this package builds nothing and loads no weights; use :func:`build_model`.
"""

from __future__ import annotations

from tessetrack.model.tessetrack import (
    ClipBatch,
    TesseTrack,
    TesseTrackOutput,
    build_model,
    describe,
)

__all__ = ["ClipBatch", "TesseTrack", "TesseTrackOutput", "build_model", "describe"]
