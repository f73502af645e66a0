"""Dataset readers: CMU Panoptic, TUM Shelf/Campus, Human3.6M, own cameras, and :func:`open_dataset`.

Every reader is a :class:`MultiViewDataset`, a sequence of
:class:`~tessetrack.structures.MultiViewFrame` in metres.
"""

from __future__ import annotations

from tessetrack.data.base import MultiViewDataset, select_cameras, select_frames
from tessetrack.data.h36m import H36MDataset
from tessetrack.data.layouts import open_dataset
from tessetrack.data.own_cameras import OwnCamerasDataset
from tessetrack.data.panoptic import VOXELPOSE_CAMERAS, PanopticDataset
from tessetrack.data.shelf_campus import STANDARD_EVALUATION_FRAMES, ShelfCampusDataset

__all__ = [
    "MultiViewDataset",
    "open_dataset",
    "select_frames",
    "select_cameras",
    "PanopticDataset",
    "VOXELPOSE_CAMERAS",
    "ShelfCampusDataset",
    "STANDARD_EVALUATION_FRAMES",
    "H36MDataset",
    "OwnCamerasDataset",
]
