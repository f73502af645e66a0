"""2D joint heatmaps: Gaussians rendered from keypoints, and keypoints read back from heatmaps.

Variant H of TesseTrack (paper §3.1) casts 2D joint heatmaps into the voxel volume instead of image
features. External 2D detections become such heatmaps through :func:`render_detection_heatmaps`;
a 2D network's own heatmaps are turned into detections by :func:`heatmap_peaks` and redrawn in the
rendered form by :func:`rerender_heatmap_peaks` (ours). Pixel convention on both sides: (u, v) in
heatmap pixels, integer = pixel centre.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tessetrack.errors import InputError

__all__ = ["heatmap_peaks", "render_detection_heatmaps", "rerender_heatmap_peaks"]


def render_detection_heatmaps(keypoints: Tensor, size: tuple[int, int], sigma: float) -> Tensor:
    """Render 2D keypoint detections as Gaussian joint heatmaps (variant H with external detections).

    Args:
        keypoints: (N, P, J, 3) per image N, person P, joint J: (u, v, confidence), with (u, v) in the
            pixel coordinates of the OUTPUT heatmap (integer = pixel centre; rescale image pixels first).
            Confidence 0 marks a missing joint.
        size: (H, W) of the heatmaps.
        sigma: Gaussian standard deviation in heatmap pixels.

    Returns:
        (N, J, H, W): per joint, the max over people of ``conf · exp(-d² / 2σ²)``; zeros when P = 0.
    """
    if keypoints.ndim != 4 or keypoints.shape[-1] != 3:
        raise InputError(f"keypoints must be (N, P, J, 3), got {tuple(keypoints.shape)}")
    n, p, j, _ = keypoints.shape
    h, w = size
    if p == 0:
        return keypoints.new_zeros(n, j, h, w)
    vs = torch.arange(h, dtype=keypoints.dtype, device=keypoints.device)
    us = torch.arange(w, dtype=keypoints.dtype, device=keypoints.device)
    # separable Gaussian: exp(-(du² + dv²)/2σ²) = exp(-du²/2σ²)·exp(-dv²/2σ²), H + W exps per joint
    conf = keypoints[..., 2, None].clamp(min=0.0)  # N×P×J×1
    gu = torch.exp(-(us - keypoints[..., 0, None]).square() / (2.0 * sigma**2))  # N×P×J×W
    gv = torch.exp(-(vs - keypoints[..., 1, None]).square() / (2.0 * sigma**2)) * conf  # N×P×J×H
    g = gv[..., :, None] * gu[..., None, :]  # N×P×J×H×W
    return g.amax(dim=1)  # N×J×H×W


def heatmap_peaks(heatmaps: Tensor, *, threshold: float, max_peaks: int, kernel: int = 3) -> Tensor:
    """Local maxima of joint heatmaps as 2D detections, with sub-pixel positions.

    Args:
        heatmaps: (N, J, H, W), non-negative (a heatmap head's output is in [0, 1]).
        threshold: peaks below this value are dropped (confidence 0).
        max_peaks: K, the strongest peaks kept per image and joint.
        kernel: odd window of the non-maximum suppression (pixels).

    Returns:
        (N, K, J, 3) of (u, v, confidence) in heatmap pixels (integer = pixel centre), the input of
        :func:`render_detection_heatmaps`; confidence 0 where a joint has fewer than K peaks. A
        plateau (equal neighbours) gives one peak, at its first pixel in raster order. The position
        is refined per axis by the parabola through the logarithms of the peak and its two
        neighbours — exact for a Gaussian — and moves at most half a pixel; it stays at the pixel
        on an axis where a neighbour lies outside the image.
    """
    if heatmaps.ndim != 4:
        raise InputError(f"heatmaps must be (N, J, H, W), got {tuple(heatmaps.shape)}")
    if kernel < 1 or kernel % 2 == 0:
        raise InputError(f"the peak window must be an odd number of pixels, got {kernel}")
    n, j, h, w = heatmaps.shape
    k = min(max_peaks, h * w)
    r = kernel // 2
    # every pixel's kernel×kernel window (-inf outside the image): N×J×kernel²×(H·W)
    padded = torch.nn.functional.pad(heatmaps, (r, r, r, r), value=float("-inf"))
    windows = torch.nn.functional.unfold(
        padded.reshape(n * j, 1, h + 2 * r, w + 2 * r), kernel_size=kernel
    ).reshape(n, j, kernel * kernel, h * w)
    centre = (kernel * kernel) // 2  # window positions before it come earlier in raster order
    flat = heatmaps.reshape(n, j, h * w)
    earlier = windows[:, :, :centre].amax(2) if centre else torch.full_like(flat, float("-inf"))
    later = windows[:, :, centre + 1 :].amax(2) if centre else torch.full_like(flat, float("-inf"))
    is_peak = (flat > earlier) & (flat >= later) & (flat >= threshold)
    conf, idx = torch.where(is_peak, flat, 0.0).topk(k, dim=-1)  # N×J×K
    v0 = torch.div(idx, w, rounding_mode="floor")
    u0 = idx - v0 * w

    def offset(minus: Tensor, plus: Tensor, inside: Tensor) -> Tensor:
        lm, l0, lp = (x.clamp(min=1e-6).log() for x in (minus, conf, plus))
        curv = lm - 2.0 * l0 + lp  # ≤ 0 at a maximum
        d = 0.5 * (lm - lp) / torch.where(curv < 0, curv, -1.0)
        return torch.where(inside & (curv < 0), d.clamp(-0.5, 0.5), 0.0)

    def at(dv: int, du: int) -> Tensor:  # value next to every peak (clamped at the border)
        vv, uu = (v0 + dv).clamp(0, h - 1), (u0 + du).clamp(0, w - 1)
        return flat.gather(2, vv * w + uu)

    du = offset(at(0, -1), at(0, 1), (u0 > 0) & (u0 < w - 1))
    dv = offset(at(-1, 0), at(1, 0), (v0 > 0) & (v0 < h - 1))
    u = u0.to(heatmaps.dtype) + du
    v = v0.to(heatmaps.dtype) + dv
    out = torch.stack([u, v, conf], dim=-1)  # N×J×K×3
    return out.permute(0, 2, 1, 3).contiguous()  # N×K×J×3


def rerender_heatmap_peaks(
    heatmaps: Tensor, *, sigma: float, threshold: float, max_peaks: int
) -> Tensor:
    """(N, J, H, W) predicted joint heatmaps → the same heatmaps redrawn from their peaks.

    Every local maximum at or above ``threshold`` (at most ``max_peaks`` per joint) becomes a
    Gaussian of ``sigma`` pixels scaled by its value — exactly how 2D detections are rendered
    (:func:`render_detection_heatmaps`). A 3D network trained on rendered detections thus reads a 2D
    network's output in the form it was trained on: peak widths, the flat background and faint
    responses no longer differ from training. Not differentiable in the peak positions (ours; not in
    the paper, whose H variants read HRNet's heatmaps as they are).
    """
    peaks = heatmap_peaks(heatmaps, threshold=threshold, max_peaks=max_peaks)
    return render_detection_heatmaps(peaks, tuple(heatmaps.shape[-2:]), sigma)
