"""tessetrack: end-to-end learnable multi-person 3D pose tracking (TesseTrack, CVPR 2021).

Importing the package has no side effects: no weights are loaded, nothing is printed.
"""

from __future__ import annotations

__version__ = "0.18.0"
__all__ = ["__version__"]
