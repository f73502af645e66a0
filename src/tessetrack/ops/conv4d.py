"""4D (time × 3D space) convolution, transposed convolution and max pooling (paper §3.2).

The tesseract of a person is a ``C×T×X×Y×Z`` tensor; PyTorch has no 4D convolution, so each layer
here is a sum over the temporal kernel taps of 3D operations, with time folded into the batch::

    y[t] = b + Σ_k conv3d(x[s_t · t + k - p_t], W[:, :, k])          (Conv4d)

One ``conv3d`` call per temporal tap runs on all output times at once (the input slices it needs
are stacked along the batch), so a layer costs ``k_t`` kernel launches, independent of ``T``; a
temporal kernel of 1 is a single ``conv3d`` over every frame. The input is copied once into a
time-major channels-last layout, so each tap's slice is a ``channels_last_3d`` view. On CPU at
the ``cpu-small`` sizes this is faster than per-tap copies in the default layout where it
matters, a 16³ tesseract: 1.4–1.6× forward + backward (2× forward) for channel counts that are
not a multiple of 16 (19 joint heatmaps), 1.15× for 16, and the same at 8³ and below. A kernel
pointwise in space (1×1×1) is instead one ``conv3d`` on the taps stacked along the channels,
where channels-last was slower. ``benchmarks/hotspots.py`` times both against the former code.

Layouts: inputs are ``(B, C, T, X, Y, Z)``; weights ``(C_out, C_in, kt, kx, ky, kz)`` for
:class:`Conv4d` and ``(C_in, C_out, kt, kx, ky, kz)`` for :class:`ConvTranspose4d` (as in
``nn.Conv3d`` / ``nn.ConvTranspose3d``). Output sizes follow the PyTorch formulas per axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tessetrack.errors import InputError

__all__ = ["Conv4d", "ConvTranspose4d", "MaxPool4d", "conv4d", "conv_transpose4d", "max_pool4d"]

Tuple4 = tuple[int, int, int, int]


def _quad(value: int | Sequence[int], name: str, minimum: int = 0) -> Tuple4:
    out = (value,) * 4 if isinstance(value, int) else tuple(int(v) for v in value)
    if len(out) != 4:
        raise InputError(f"{name} must be an int or 4 ints (t, x, y, z), got {value!r}")
    if any(v < minimum for v in out):
        raise InputError(f"{name} entries must be >= {minimum}, got {value!r}")
    return out  # type: ignore[return-value]


def _check_input(x: Tensor, channels: int, what: str) -> None:
    if x.ndim != 6:
        raise InputError(f"{what} expects (B, C, T, X, Y, Z) input, got shape {tuple(x.shape)}")
    if x.shape[1] != channels:
        raise InputError(f"{what} expects {channels} channels, got {x.shape[1]}")


# --- functional ---------------------------------------------------------------------------------


def conv4d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
) -> Tensor:
    """4D convolution as a sum of 3D convolutions over the temporal taps.

    Args:
        x: (B, C_in, T, X, Y, Z).
        weight: (C_out, C_in, kt, kx, ky, kz).
        bias: (C_out,) or None.
        stride, padding: int or (t, x, y, z); zero padding.

    Returns:
        (B, C_out, T', X', Y', Z') with ``T' = (T + 2 p_t - kt) // s_t + 1`` (same per axis).
    """
    st, *s3 = _quad(stride, "stride", minimum=1)
    pt, *p3 = _quad(padding, "padding")
    b, _, t = x.shape[:3]
    kt = weight.shape[2]
    if kt < 1:
        raise InputError("conv4d: the temporal kernel size must be >= 1")
    t_out = (t + 2 * pt - kt) // st + 1
    if t_out < 1:
        raise InputError(
            f"conv4d: temporal kernel {kt} larger than padded input length {t + 2 * pt}"
        )
    taps = [slice(k, k + st * (t_out - 1) + 1, st) for k in range(kt)]  # input times of tap k
    if tuple(weight.shape[3:]) == (1, 1, 1):
        # pointwise in space (e.g. the pose head's T → 1 layer): the taps stacked along the
        # channels make a single 1×1×1 conv3d, one matrix product over kt·C_in
        xt = x.transpose(1, 2)  # B×T×C×X×Y×Z
        if pt > 0:
            xt = F.pad(xt, (0, 0, 0, 0, 0, 0, 0, 0, pt, pt))  # B×(T+2p)×C×X×Y×Z, zeros in time
        xs = torch.cat([xt[:, tk] for tk in taps], dim=2)  # B×T'×(kt·C)×X×Y×Z, tap-major
        w = weight.transpose(1, 2).flatten(1, 2)  # C_out×(kt·C_in)×1×1×1, same order
        out = F.conv3d(xs.flatten(0, 1), w, bias, s3, p3)  # (B·T')×C_out×X'×Y'×Z'
    else:
        # one time-major, channels-last copy of the input: every tap's slice is then a
        # channels_last_3d view, the layout oneDNN's conv3d wants (no per-tap reorder copies)
        xl = x.permute(0, 2, 3, 4, 5, 1)  # B×T×X×Y×Z×C
        if pt > 0:
            xl = F.pad(xl, (0, 0, 0, 0, 0, 0, 0, 0, pt, pt))  # B×(T+2p)×X×Y×Z×C, zeros in time
        xl = xl.contiguous()
        out = None
        for k, tk in enumerate(taps):
            # input times s_t · t' + k for t' = 0..T'-1, stacked into the batch
            xs = xl[:, tk].flatten(0, 1).permute(0, 4, 1, 2, 3)  # (B·T')×C×X×Y×Z, channels-last
            y = F.conv3d(xs, weight[:, :, k], bias if k == 0 else None, s3, p3)  # bias once
            out = y if out is None else out + y  # (B·T')×C_out×X'×Y'×Z'
    return out.reshape(b, t_out, *out.shape[1:]).transpose(1, 2)  # B×C_out×T'×X'×Y'×Z'


def conv_transpose4d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    output_padding: int | Sequence[int] = 0,
) -> Tensor:
    """4D transposed convolution (the adjoint of :func:`conv4d`) from 3D transposed convolutions.

    Each input time ``t`` scatters ``conv_transpose3d(x[t], W[:, :, k])`` into output time
    ``s_t · t + k - p_t``; output padding adds zeros at the end of the time axis.

    Args:
        x: (B, C_in, T, X, Y, Z).
        weight: (C_in, C_out, kt, kx, ky, kz).
        bias: (C_out,) or None.
        stride, padding, output_padding: int or (t, x, y, z).

    Returns:
        (B, C_out, T', X', Y', Z') with ``T' = (T - 1) s_t - 2 p_t + kt + op_t`` (same per axis).
    """
    st, *s3 = _quad(stride, "stride", minimum=1)
    pt, *p3 = _quad(padding, "padding")
    opt, *op3 = _quad(output_padding, "output_padding")
    if any(o >= s for o, s in zip((opt, *op3), (st, *s3), strict=True)):
        raise InputError("conv_transpose4d: output_padding must be smaller than stride per axis")
    b, _, t = x.shape[:3]
    kt = weight.shape[2]
    t_full = (t - 1) * st + kt + opt  # before cropping the padding
    t_out = t_full - 2 * pt
    if t_out < 1:
        raise InputError(f"conv_transpose4d: padding {pt} leaves no output time steps")
    x_flat = x.transpose(1, 2).flatten(0, 1)  # (B·T)×C_in×X×Y×Z
    out: Tensor | None = None
    for k in range(kt):
        y = F.conv_transpose3d(x_flat, weight[:, :, k], None, s3, p3, op3)  # (B·T)×C_out×X'×Y'×Z'
        y = y.reshape(b, t, *y.shape[1:])  # B×T×C_out×X'×Y'×Z'
        if out is None:
            out = y.new_zeros(b, t_full, *y.shape[2:])  # B×T_full×C_out×X'×Y'×Z'
        # input time t lands on full-output time s_t · t + k
        idx = torch.arange(t, device=x.device) * st + k
        out = out.index_add(1, idx, y)
    if out is None:
        raise InputError("conv_transpose4d: the temporal kernel size must be >= 1")
    out = out[:, pt : pt + t_out].transpose(1, 2)  # B×C_out×T'×X'×Y'×Z'
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1, 1, 1)
    return out


def max_pool4d(
    x: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
) -> Tensor:
    """4D max pooling: 3D max pooling per time step, then a max over temporal windows.

    Args:
        x: (B, C, T, X, Y, Z).
        kernel_size: int or (t, x, y, z).
        stride: int or (t, x, y, z); defaults to ``kernel_size``.
        padding: int or (t, x, y, z); implicit -inf padding (as ``nn.MaxPool3d``).

    Returns:
        (B, C, T', X', Y', Z') with ``T' = (T + 2 p_t - kt) // s_t + 1`` (same per axis).
    """
    kt, *k3 = _quad(kernel_size, "kernel_size", minimum=1)
    st, *s3 = _quad(kernel_size if stride is None else stride, "stride", minimum=1)
    pt, *p3 = _quad(padding, "padding")
    b, c, t = x.shape[:3]
    y = F.max_pool3d(x.flatten(1, 2).reshape(b * c * t, 1, *x.shape[3:]), k3, s3, p3)
    y = y.reshape(b, c, t, *y.shape[2:])  # B×C×T×X'×Y'×Z'
    if pt > 0:
        y = F.pad(y, (0, 0, 0, 0, 0, 0, pt, pt), value=-math.inf)  # B×C×(T+2p)×X'×Y'×Z'
    if kt == 1 and st == 1:
        return y
    # temporal windows: B×C×T'×X'×Y'×Z'×kt -> max over the window
    return y.unfold(2, kt, st).amax(dim=-1)


# --- modules ------------------------------------------------------------------------------------


class Conv4d(nn.Module):
    """4D convolution over ``(B, C, T, X, Y, Z)`` tesseracts.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: int or (kt, kx, ky, kz).
        stride: int or (t, x, y, z).
        padding: int or (t, x, y, z), zeros.
        bias: learn an additive bias per output channel.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _quad(kernel_size, "kernel_size", minimum=1)
        self.stride = _quad(stride, "stride", minimum=1)
        self.padding = _quad(padding, "padding")
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``nn.Conv3d``'s initialisation with the 4D fan-in ``C_in·kt·kx·ky·kz``."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight[0].numel())
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, T, X, Y, Z) -> (B, C_out, T', X', Y', Z')."""
        _check_input(x, self.in_channels, "Conv4d")
        return conv4d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}"
        )


class ConvTranspose4d(nn.Module):
    """4D transposed convolution over ``(B, C, T, X, Y, Z)`` (tesseract deconvolution, §3.4).

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: int or (kt, kx, ky, kz).
        stride, padding, output_padding: int or (t, x, y, z), as ``nn.ConvTranspose3d``.
        bias: learn an additive bias per output channel.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        output_padding: int | Sequence[int] = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _quad(kernel_size, "kernel_size", minimum=1)
        self.stride = _quad(stride, "stride", minimum=1)
        self.padding = _quad(padding, "padding")
        self.output_padding = _quad(output_padding, "output_padding")
        if any(o >= s for o, s in zip(self.output_padding, self.stride, strict=True)):
            raise InputError("ConvTranspose4d: output_padding must be smaller than stride per axis")
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``nn.ConvTranspose3d``'s initialisation (fan-in from ``weight.shape[1:]``)."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight[0].numel())
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, T, X, Y, Z) -> (B, C_out, T', X', Y', Z')."""
        _check_input(x, self.in_channels, "ConvTranspose4d")
        return conv_transpose4d(
            x, self.weight, self.bias, self.stride, self.padding, self.output_padding
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, output_padding={self.output_padding}"
        )


class MaxPool4d(nn.Module):
    """4D max pooling over ``(B, C, T, X, Y, Z)``; ``kernel_size=(1, 2, 2, 2)`` halves space only.

    Args:
        kernel_size: int or (t, x, y, z).
        stride: int or (t, x, y, z); defaults to ``kernel_size``.
        padding: int or (t, x, y, z), implicit -inf.
    """

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
    ) -> None:
        super().__init__()
        self.kernel_size = _quad(kernel_size, "kernel_size", minimum=1)
        self.stride = self.kernel_size if stride is None else _quad(stride, "stride", minimum=1)
        self.padding = _quad(padding, "padding")

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, T, X, Y, Z) -> (B, C, T', X', Y', Z')."""
        if x.ndim != 6:
            raise InputError(f"MaxPool4d expects (B, C, T, X, Y, Z) input, got {tuple(x.shape)}")
        return max_pool4d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
