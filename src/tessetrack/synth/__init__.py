"""Synthetic multi-person multi-view data from real motion capture (``tessetrack synth``).

Modules, in data-path order: :mod:`.motion` (DeepMimic clips, forward kinematics, variety, clip
split), :mod:`.rigs` (real and parametric camera rigs), :mod:`.scene` (people sharing a capture
area), :mod:`.render` (pybullet TinyRenderer images + segmentation), :mod:`.detections_sim`
(OpenPose-like 2D detections), :mod:`.writer` (CMU Panoptic layout) and :mod:`.generate` (the
library function behind the CLI). Importing this package imports nothing heavy.
"""

from __future__ import annotations

__all__ = ["SynthConfig", "generate_dataset"]


def __getattr__(name: str):  # lazy: keep ``import tessetrack.synth`` free of pybullet/cv2
    if name in __all__:
        from tessetrack.synth import generate

        return getattr(generate, name)
    raise AttributeError(name)
