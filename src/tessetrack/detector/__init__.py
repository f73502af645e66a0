"""The built-in 2D person detector (MediaPipe BlazePose) and ``tessetrack detect``."""

from tessetrack.detector.blazepose import (
    INSTALL_HINT,
    MEDIAPIPE_REQUIREMENT,
    BlazePose,
    BlazePoseConfig,
    landmarks_to,
    model_files,
)
from tessetrack.detector.recording import (
    DetectSummary,
    detect_recording,
    detector_settings,
    open_recording,
    read_detector_settings,
)

__all__ = [
    "INSTALL_HINT",
    "MEDIAPIPE_REQUIREMENT",
    "BlazePose",
    "BlazePoseConfig",
    "landmarks_to",
    "model_files",
    "DetectSummary",
    "detect_recording",
    "open_recording",
    "detector_settings",
    "read_detector_settings",
]
