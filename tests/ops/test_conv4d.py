"""Conv4d / ConvTranspose4d / MaxPool4d against explicit per-tap references in float64."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from tessetrack.errors import InputError
from tessetrack.ops.conv4d import (
    Conv4d,
    ConvTranspose4d,
    MaxPool4d,
    conv4d,
    conv_transpose4d,
    max_pool4d,
)

D = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def naive_conv4d(x, w, b, stride, padding):
    """out[t,x,y,z] = b + Σ_{c,k} w[:, c, k] · x_pad[c, s·(t,x,y,z) + k], one loop per kernel tap."""
    xp = F.pad(x, tuple(p for p in reversed(padding) for _ in range(2)))  # zeros on all 4 axes
    ins = xp.shape[2:]
    ks = w.shape[2:]
    outs = [(n - k) // s + 1 for n, k, s in zip(ins, ks, stride, strict=True)]
    out = torch.zeros(x.shape[0], w.shape[0], *outs, dtype=x.dtype)
    for k in itertools.product(*(range(n) for n in ks)):
        sl = tuple(
            slice(ki, ki + si * (oi - 1) + 1, si)
            for ki, si, oi in zip(k, stride, outs, strict=True)
        )
        out += torch.einsum("bctxyz,oc->botxyz", xp[(slice(None), slice(None), *sl)], w[(..., *k)])
    return out + b.reshape(1, -1, 1, 1, 1, 1)


def naive_conv_transpose4d(x, w, b, stride, padding, output_padding):
    """Every input voxel scatters w[c, :, k] into output position s·i + k - p (per kernel tap)."""
    ins = x.shape[2:]
    ks = w.shape[2:]
    full = [
        (n - 1) * s + k + op for n, s, k, op in zip(ins, stride, ks, output_padding, strict=True)
    ]
    out = torch.zeros(x.shape[0], w.shape[1], *full, dtype=x.dtype)
    for k in itertools.product(*(range(n) for n in ks)):
        sl = tuple(
            slice(ki, ki + si * (ni - 1) + 1, si) for ki, si, ni in zip(k, stride, ins, strict=True)
        )
        out[(slice(None), slice(None), *sl)] += torch.einsum("bctxyz,co->botxyz", x, w[(..., *k)])
    crop = tuple(slice(p, f - p) for p, f in zip(padding, full, strict=True))
    return out[(slice(None), slice(None), *crop)] + b.reshape(1, -1, 1, 1, 1, 1)


def naive_max_pool4d(x, kernel, stride, padding):
    xp = F.pad(x, tuple(p for p in reversed(padding) for _ in range(2)), value=-math.inf)
    outs = [(n - k) // s + 1 for n, k, s in zip(xp.shape[2:], kernel, stride, strict=True)]
    out = torch.full((*x.shape[:2], *outs), -math.inf, dtype=x.dtype)
    for k in itertools.product(*(range(n) for n in kernel)):
        sl = tuple(
            slice(ki, ki + si * (oi - 1) + 1, si)
            for ki, si, oi in zip(k, stride, outs, strict=True)
        )
        out = torch.maximum(out, xp[(slice(None), slice(None), *sl)])
    return out


CONV_CASES = [
    # kernel, stride, padding, input (T, X, Y, Z)
    ((3, 3, 3, 3), (1, 1, 1, 1), (1, 1, 1, 1), (5, 4, 5, 3)),
    ((2, 3, 1, 2), (2, 1, 2, 1), (0, 1, 0, 1), (5, 4, 5, 3)),
    ((5, 1, 1, 1), (1, 1, 1, 1), (0, 0, 0, 0), (5, 3, 3, 3)),  # collapses T=5 to 1
    ((3, 2, 2, 2), (2, 2, 2, 2), (1, 0, 1, 0), (6, 5, 4, 4)),
]


@pytest.mark.parametrize(("kernel", "stride", "padding", "size"), CONV_CASES)
def test_conv4d_matches_naive_reference(kernel, stride, padding, size) -> None:
    g = _gen(1)
    m = Conv4d(3, 4, kernel, stride=stride, padding=padding).to(D)
    x = torch.randn(2, 3, *size, generator=g, dtype=D)
    out = m(x)
    ref = naive_conv4d(x, m.weight.detach(), m.bias.detach(), stride, padding)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-10)


def test_conv4d_with_unit_time_kernel_is_conv3d_per_frame() -> None:
    g = _gen(2)
    m = Conv4d(2, 3, (1, 3, 3, 3), padding=(0, 1, 1, 1)).to(D)
    x = torch.randn(1, 2, 4, 5, 5, 5, generator=g, dtype=D)
    out = m(x)
    for t in range(4):
        ref = F.conv3d(x[:, :, t], m.weight[:, :, 0], m.bias, padding=1)
        torch.testing.assert_close(out[:, :, t], ref)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "output_padding"),
    [
        ((1, 2, 2, 2), (1, 2, 2, 2), (0, 0, 0, 0), (0, 0, 0, 0)),
        ((3, 3, 2, 3), (2, 1, 2, 2), (1, 1, 0, 1), (1, 0, 1, 0)),
        ((2, 1, 3, 2), (3, 1, 1, 2), (0, 0, 1, 0), (2, 0, 0, 1)),
    ],
)
def test_conv_transpose4d_matches_naive_reference(kernel, stride, padding, output_padding) -> None:
    g = _gen(3)
    m = ConvTranspose4d(3, 2, kernel, stride, padding, output_padding).to(D)
    x = torch.randn(2, 3, 3, 3, 4, 2, generator=g, dtype=D)
    out = m(x)
    ref = naive_conv_transpose4d(
        x, m.weight.detach(), m.bias.detach(), stride, padding, output_padding
    )
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-10)


def test_conv_transpose4d_is_the_adjoint_of_conv4d() -> None:
    # <conv4d(x, w), y> = <x, conv_transpose4d(y, w)> for the same stride/padding
    g = _gen(4)
    w = torch.randn(4, 3, 3, 3, 2, 3, generator=g, dtype=D)  # C_out×C_in×kt×kx×ky×kz
    x = torch.randn(2, 3, 7, 5, 6, 5, generator=g, dtype=D)
    stride, padding = (2, 2, 1, 2), (1, 1, 0, 1)
    fx = conv4d(x, w, None, stride, padding)  # T' = (7 + 2 - 3)//2 + 1 = 4
    y = torch.randn(fx.shape, generator=g, dtype=D)
    # output_padding recovers the input sizes lost by the floor: T: (4-1)·2 - 2 + 3 = 7 (+0)
    op = tuple(
        n - ((o - 1) * s - 2 * p + k)
        for n, o, s, p, k in zip(
            x.shape[2:], fx.shape[2:], stride, padding, w.shape[2:], strict=True
        )
    )
    aty = conv_transpose4d(y, w, None, stride, padding, op)
    assert aty.shape == x.shape
    torch.testing.assert_close((fx * y).sum(), (x * aty).sum())


@pytest.mark.parametrize(
    ("kernel", "stride", "padding"),
    [
        ((1, 2, 2, 2), (1, 2, 2, 2), (0, 0, 0, 0)),
        ((2, 2, 2, 2), (2, 2, 2, 2), (0, 0, 0, 0)),
        ((3, 3, 1, 3), (2, 1, 1, 2), (1, 1, 0, 1)),
    ],
)
def test_max_pool4d_matches_naive_reference(kernel, stride, padding) -> None:
    x = torch.randn(2, 3, 5, 6, 4, 5, generator=_gen(5), dtype=D)
    out = MaxPool4d(kernel, stride, padding)(x)
    ref = naive_max_pool4d(x, kernel, stride, padding)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, atol=0, rtol=0)


def test_max_pool4d_hand_example() -> None:
    # 1×1×2×2×2×2 tensor holding 0..15: a 2⁴ window's max is 15
    x = torch.arange(16, dtype=D).reshape(1, 1, 2, 2, 2, 2)
    assert max_pool4d(x, 2).flatten().tolist() == [15.0]
    # spatial-only pooling keeps T: the max of frame t is 8t + 7
    assert max_pool4d(x, (1, 2, 2, 2)).flatten().tolist() == [7.0, 15.0]


def test_gradcheck_all_ops() -> None:
    g = _gen(6)
    x = torch.randn(1, 2, 3, 3, 2, 3, generator=g, dtype=D, requires_grad=True)
    w = torch.randn(2, 2, 2, 2, 1, 2, generator=g, dtype=D, requires_grad=True)
    b = torch.randn(2, generator=g, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: conv4d(x, w, b, (2, 1, 1, 1), (1, 1, 0, 0)), (x, w, b)
    )
    assert torch.autograd.gradcheck(
        lambda x, w, b: conv_transpose4d(x, w, b, (2, 2, 1, 1), (1, 0, 0, 1), (1, 0, 0, 0)),
        (x, w, b),
    )
    # distinct values so the max is unique and differentiable
    xm = (torch.randperm(54, generator=g).to(D) / 7).reshape(1, 2, 3, 3, 1, 3).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: max_pool4d(x, (2, 2, 1, 2), 1), (xm,))


def test_float32_and_modules_train() -> None:
    m = torch.nn.Sequential(
        Conv4d(2, 4, 3, padding=1),
        MaxPool4d((1, 2, 2, 2)),
        ConvTranspose4d(4, 1, (1, 2, 2, 2), (1, 2, 2, 2)),
    )
    x = torch.randn(2, 2, 3, 4, 4, 4, generator=_gen(7))
    out = m(x)
    assert out.shape == (2, 1, 3, 4, 4, 4) and out.dtype == torch.float32
    out.square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())


def test_bad_arguments_raise_input_error() -> None:
    with pytest.raises(InputError):
        Conv4d(2, 2, (3, 3, 3))
    with pytest.raises(InputError):
        Conv4d(2, 2, 3)(torch.zeros(1, 3, 3, 3, 3, 3))  # wrong channel count
    with pytest.raises(InputError):
        Conv4d(2, 2, 3)(torch.zeros(1, 2, 3, 3, 3))  # 5D input
    with pytest.raises(InputError):
        ConvTranspose4d(2, 2, 2, stride=2, output_padding=2)
    with pytest.raises(InputError):
        Conv4d(2, 2, (5, 1, 1, 1))(torch.zeros(1, 2, 3, 2, 2, 2))  # kernel longer than T


@pytest.mark.parametrize(("kernel", "stride", "padding", "size"), CONV_CASES)
def test_conv4d_float32_forward_and_gradients_match_the_reference(
    kernel, stride, padding, size
) -> None:
    # float32 runs oneDNN's channels-last conv3d (float64 above does not): values and gradients
    # against the float64 per-tap reference, on a non-contiguous input (a transposed view)
    g = _gen(8)
    m = Conv4d(3, 4, kernel, stride=stride, padding=padding)
    x = torch.randn(2, size[0], 3, *size[1:], generator=g).transpose(1, 2).requires_grad_()
    out = m(x)
    grad_out = torch.randn(out.shape, generator=g)
    grads = torch.autograd.grad(out, (x, m.weight, m.bias), grad_out)
    x64, w64, b64 = (t.detach().double().requires_grad_() for t in (x, m.weight, m.bias))
    ref = naive_conv4d(x64, w64, b64, stride, padding)
    ref_grads = torch.autograd.grad(ref, (x64, w64, b64), grad_out.double())
    torch.testing.assert_close(out, ref.float(), atol=1e-5, rtol=1e-4)
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got, want.float(), atol=1e-4, rtol=1e-4)


def test_conv4d_chain_of_channels_last_outputs() -> None:
    # a Conv4d's output is a strided view of channels-last memory; the next layer reads it as is
    g = _gen(9)
    a = Conv4d(3, 4, 3, padding=1).to(D)
    b = Conv4d(4, 2, (3, 1, 1, 1)).to(D)  # T: 4 → 2, pointwise in space
    x = torch.randn(2, 3, 4, 3, 4, 5, generator=g, dtype=D)
    out = b(torch.relu(a(x)))
    mid = naive_conv4d(x, a.weight.detach(), a.bias.detach(), (1,) * 4, (1,) * 4)
    ref = naive_conv4d(torch.relu(mid), b.weight.detach(), b.bias.detach(), (1,) * 4, (0,) * 4)
    assert out.shape == ref.shape == (2, 2, 2, 3, 4, 5)
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-10)
