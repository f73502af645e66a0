"""The cameras of V views as one batched tensor structure: what the network's stages take.

A :class:`Views` holds the calibration of V views over any leading dimensions ``(...)``: one frame
``(V, ...)``, a window of frames ``(T, V, ...)``, a batch of clips ``(B, F, V, ...)``. The cameras
are those of the images the network sees: :meth:`Views.from_cameras` rescales each
:class:`~tessetrack.geometry.camera.Camera` to the network's input size (:meth:`Camera.scaled`),
so training clips (:func:`tessetrack.train.clips.make_clip`) and tracking
(:class:`tessetrack.tracking.runner.SequenceRunner`) turn a frame's cameras into tensors the same
way. A view without a camera (or without input) gets a harmless placeholder camera — identity
``K`` and ``R``, ``t = (0, 0, 1)``, no distortion — and ``view_mask`` False, so that every tensor
stays finite.

Indexing (``views[i]``, ``views[:, frames]``, ``views[None]``) applies to the leading dimensions
of every field at once, never to the view dimension or the ones after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import Tensor

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera

__all__ = ["Views"]

#: Trailing shape of each field after the view dimension.
_TAILS = {"K": (3, 3), "R": (3, 3), "t": (3,), "dist": (5,), "image_size": (2,), "view_mask": ()}


@dataclass(frozen=True, eq=False)
class Views:
    """V cameras over leading dimensions ``(...)`` (e.g. ``(B, F)`` for a batch of clips).

    Attributes:
        K: (..., V, 3, 3) intrinsics in pixels of the images the network sees.
        R: (..., V, 3, 3) rotation ``R_cam_from_world``.
        t: (..., V, 3) translation in metres (``x_cam = R·x_world + t``).
        dist: (..., V, 5) OpenCV distortion (k1, k2, p1, p2, k3).
        image_size: (..., V, 2) (W, H) of those images, in the cameras' float dtype.
        view_mask: (..., V) bool, the view is present (placeholder camera where False).

    Raises:
        InputError: fields whose shapes disagree with each other or with the above.
    """

    K: Tensor
    R: Tensor
    t: Tensor
    dist: Tensor
    image_size: Tensor
    view_mask: Tensor

    def __post_init__(self) -> None:
        mask = self.view_mask
        for f in fields(self):
            x, tail = getattr(self, f.name), _TAILS[f.name]
            if tuple(x.shape) != (*mask.shape, *tail):
                shape = "(..., V" + "".join(f", {n}" for n in tail) + ")"
                raise InputError(
                    f"Views.{f.name} must be {shape} = {(*mask.shape, *tail)} to match "
                    f"view_mask's (..., V), got shape {tuple(x.shape)}"
                )

    # --- construction ----------------------------------------------------------------------------

    @classmethod
    def from_cameras(
        cls,
        cameras: Sequence[Camera | None],
        image_size: tuple[int, int],
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Views:
        """The views of one frame: V cameras rescaled to the network's input size.

        Args:
            cameras: the V views in order; None for a view that is absent (no camera at this
                frame, no input, or dropped), which gets the placeholder camera and a False mask.
            image_size: (W, H) the images are resized to; each camera is rescaled to it with
                :meth:`Camera.scaled` (in float64, then cast to ``dtype``).
            dtype, device: of the float fields (``view_mask`` is bool).

        Returns:
            Views with no leading dimension: K (V, 3, 3), ..., view_mask (V,).
        """
        w, h = int(image_size[0]), int(image_size[1])
        v = len(cameras)
        K = np.tile(np.eye(3), (v, 1, 1))
        R = np.tile(np.eye(3), (v, 1, 1))
        t = np.zeros((v, 3))
        t[:, 2] = 1.0  # placeholder camera of absent views: in front of the origin, finite
        dist = np.zeros((v, 5))
        mask = np.zeros(v, bool)
        for j, cam in enumerate(cameras):
            if cam is None:
                continue
            s = cam.scaled(w, h)
            K[j], R[j], t[j], dist[j], mask[j] = s.K, s.R, s.t, s.dist, True
        f = {"dtype": dtype, "device": device}
        return cls(
            K=torch.tensor(K, **f),
            R=torch.tensor(R, **f),
            t=torch.tensor(t, **f),
            dist=torch.tensor(dist, **f),
            image_size=torch.tensor([w, h], **f).expand(v, 2).clone(),
            view_mask=torch.tensor(mask, device=device),
        )

    @classmethod
    def stack(cls, views: Sequence[Views], dim: int = 0) -> Views:
        """Views of equal shape stacked along a new leading dimension ``dim`` (e.g. T frames of
        (V, ...) → (T, V, ...)); ``dim`` counts leading dimensions only (0 … their number)."""
        if not views:
            raise InputError("Views.stack needs at least one Views")
        if not 0 <= dim <= len(views[0].batch_shape):
            raise InputError(f"Views.stack: dim must lie in 0..{len(views[0].batch_shape)}")
        return cls(
            *(torch.stack(xs, dim) for xs in zip(*(x.tensors() for x in views), strict=True))
        )

    # --- shape -----------------------------------------------------------------------------------

    @property
    def batch_shape(self) -> torch.Size:
        """The leading dimensions ``(...)`` (empty for one frame)."""
        return self.view_mask.shape[:-1]

    @property
    def num_views(self) -> int:
        """V."""
        return int(self.view_mask.shape[-1])

    @property
    def dtype(self) -> torch.dtype:
        """The float dtype of the cameras (the precision projections run in)."""
        return self.K.dtype

    @property
    def device(self) -> torch.device:
        """Where the tensors live."""
        return self.K.device

    def tensors(self) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        """(K, R, t, dist, image_size, view_mask), in that order."""
        return (self.K, self.R, self.t, self.dist, self.image_size, self.view_mask)

    # --- transforms ------------------------------------------------------------------------------

    def map(self, fn: Callable[[Tensor], Tensor]) -> Views:
        """``fn`` applied to every field; ``fn`` must change the leading dimensions only."""
        return Views(*(fn(x) for x in self.tensors()))

    def __getitem__(self, index: Any) -> Views:
        """Indexing over the leading dimensions (ints, slices, index tensors, None); an Ellipsis
        would reach the view dimension and is refused."""
        key = index if isinstance(index, tuple) else (index,)
        if any(k is Ellipsis for k in key):
            raise InputError("Views indexing covers the leading dimensions only: no Ellipsis")
        return self.map(lambda x: x[index])

    def frame(self, i: int) -> Views:
        """The views of frame ``i`` of (..., F, V) views → (..., V) (the last leading dimension)."""
        n = len(self.batch_shape)
        if n == 0:
            raise InputError("Views of one frame have no frame dimension to select from")
        return self.map(lambda x: x.select(n - 1, i))

    def flatten(self, start: int = 0, end: int = -1) -> Views:
        """Leading dimensions ``start`` … ``end`` (inclusive; negative counts from the last leading
        dimension) merged into one, as :meth:`Tensor.flatten` does."""
        n = len(self.batch_shape)
        if n == 0:
            return self
        s, e = start % n, end % n
        return self.map(lambda x: x.flatten(s, e))

    def reshape(self, *batch_shape: int) -> Views:
        """The same views with leading dimensions ``batch_shape`` (same number of elements)."""
        n = len(self.batch_shape)
        return self.map(lambda x: x.reshape(*batch_shape, *x.shape[n:]))

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> Views:
        """Moved to ``device``; with ``dtype`` the float fields are cast too (the mask stays bool)."""
        f = [x.to(device=device, dtype=dtype) for x in self.tensors()[:5]]
        return Views(*f, self.view_mask.to(device=device))
