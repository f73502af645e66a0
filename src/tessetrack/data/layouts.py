"""A dataset folder opened with the reader its layout calls for.

Separate from :mod:`tessetrack.data.base` so that the readers import the base and this module
imports the readers, never the other way round.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

from tessetrack.data.base import MultiViewDataset
from tessetrack.data.h36m import H36MDataset
from tessetrack.data.panoptic import PanopticDataset
from tessetrack.data.shelf_campus import ShelfCampusDataset
from tessetrack.errors import InputError

__all__ = ["open_dataset"]


def open_dataset(path: str | PathLike[str], **options: Any) -> MultiViewDataset:
    """Open a dataset folder with the reader its layout calls for.

    Looks for, in this order:

    * ``actorsGT.mat`` → TUM Shelf / Campus (:class:`~tessetrack.data.shelf_campus.ShelfCampusDataset`);
    * ``*_body3d.npz`` → preprocessed Human3.6M (:class:`~tessetrack.data.h36m.H36MDataset`);
    * ``calibration_*.json`` → CMU Panoptic (:class:`~tessetrack.data.panoptic.PanopticDataset`).

    Args:
        path: the dataset folder.
        **options: passed to the reader (e.g. ``start``, ``end``, ``stride``, ``cameras``).

    Raises:
        InputError: when the folder is missing or matches none of the layouts.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError("dataset folder not found", root)
    if (root / "actorsGT.mat").is_file():
        return ShelfCampusDataset(root, **options)
    if any(root.glob("*_body3d.npz")):
        return H36MDataset(root, **options)
    if any(root.glob("calibration_*.json")):
        return PanopticDataset(root, **options)
    raise InputError(
        "not a dataset folder tessetrack can read: looked for actorsGT.mat (Shelf/Campus), "
        "*_body3d.npz (Human3.6M) and calibration_*.json (CMU Panoptic)",
        root,
    )
