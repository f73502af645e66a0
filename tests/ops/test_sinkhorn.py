"""Log-domain Sinkhorn with dustbins: marginals, Hungarian limit, padding, edge cases, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from tessetrack.errors import InputError
from tessetrack.ops.sinkhorn import LOG_ZERO, assign, log_optimal_transport

D = torch.float64


def _scores(b: int, n: int, m: int, seed: int = 0, dtype: torch.dtype = D) -> torch.Tensor:
    return torch.randn(b, n, m, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_real_rows_and_columns_sum_to_one(dtype: torch.dtype) -> None:
    n, m = 4, 6
    s = _scores(3, n, m, dtype=dtype)
    p = log_optimal_transport(s, torch.tensor(0.5), iters=100).exp()
    assert p.shape == (3, n + 1, m + 1)
    tol = 1e-4 if dtype == torch.float32 else 1e-8
    # each real row / column carries mass 1, dustbin entry included
    torch.testing.assert_close(p[:, :n, :].sum(-1), torch.ones(3, n, dtype=dtype), atol=tol, rtol=0)
    torch.testing.assert_close(p[:, :, :m].sum(-2), torch.ones(3, m, dtype=dtype), atol=tol, rtol=0)
    # the dustbin row carries M = 6, the dustbin column N = 4
    torch.testing.assert_close(
        p[:, n, :].sum(-1), torch.full((3,), 6.0, dtype=dtype), atol=10 * tol, rtol=0
    )
    torch.testing.assert_close(
        p[:, :, m].sum(-1), torch.full((3,), 4.0, dtype=dtype), atol=10 * tol, rtol=0
    )


def _hungarian(scores: np.ndarray) -> np.ndarray:
    """matches0 of the maximum-score assignment of every row (N <= M)."""
    r, c = linear_sum_assignment(scores, maximize=True)
    out = np.full(scores.shape[0], -1)
    out[r] = c
    return out


@pytest.mark.parametrize(("n", "m"), [(5, 5), (4, 7)])
def test_assignment_converges_to_hungarian_as_temperature_falls(n: int, m: int) -> None:
    s = _scores(8, n, m, seed=1)
    expected = np.stack([_hungarian(x) for x in s.numpy()])  # B×N
    agreement = []
    for tau in (1.0, 0.1, 0.02):
        # dustbin far below every score: every real row must be matched to a real column
        log_p = log_optimal_transport(s / tau, torch.tensor(-10.0 / tau, dtype=D), iters=500)
        m0, m1 = assign(log_p, threshold=0.0)
        agreement.append(float((m0.numpy() == expected).mean()))
        # matches0 and matches1 describe the same pairs
        for bi in range(s.shape[0]):
            for i, j in enumerate(m0[bi].tolist()):
                if j >= 0:
                    assert m1[bi, j] == i
    assert agreement[-1] == 1.0, agreement
    assert agreement[0] <= agreement[-1]


def test_masking_equals_running_on_the_cropped_matrix() -> None:
    n, m = 6, 5
    s = _scores(3, n, m, seed=2)
    sizes = [(6, 5), (3, 4), (2, 1)]
    rows = torch.zeros(3, n, dtype=torch.bool)
    cols = torch.zeros(3, m, dtype=torch.bool)
    for bi, (nb, mb) in enumerate(sizes):
        rows[bi, :nb] = True
        cols[bi, :mb] = True
    dustbin = torch.tensor(0.3, dtype=D)
    log_p = log_optimal_transport(s, dustbin, iters=100, row_mask=rows, col_mask=cols)
    m0, m1 = assign(log_p)
    for bi, (nb, mb) in enumerate(sizes):
        ref = log_optimal_transport(s[bi : bi + 1, :nb, :mb], dustbin, iters=100)[0]
        got = log_p[bi]
        torch.testing.assert_close(got[:nb, :mb], ref[:nb, :mb])
        torch.testing.assert_close(got[:nb, m], ref[:nb, mb])  # dustbin column
        torch.testing.assert_close(got[n, :mb], ref[nb, :mb])  # dustbin row
        torch.testing.assert_close(got[n, m], ref[nb, mb])
        # padded entries carry no mass
        assert (got[nb:n, :] == LOG_ZERO).all() and (got[:, mb:m] == LOG_ZERO).all()
        r0, r1 = assign(ref[None])
        assert m0[bi, :nb].tolist() == r0[0].tolist() and (m0[bi, nb:] == -1).all()
        assert m1[bi, :mb].tolist() == r1[0].tolist() and (m1[bi, mb:] == -1).all()


@pytest.mark.parametrize(("n", "m"), [(0, 3), (3, 0), (0, 0)])
def test_empty_sides(n: int, m: int) -> None:
    s = torch.zeros(2, n, m, dtype=D)
    log_p = log_optimal_transport(s, torch.tensor(1.0, dtype=D), iters=10)
    assert log_p.shape == (2, n + 1, m + 1) and torch.isfinite(log_p).all()
    p = log_p.exp()
    # with nobody on the other side, every real person goes to the dustbin with mass 1
    torch.testing.assert_close(p[:, :n, m], torch.ones(2, n, dtype=D))
    torch.testing.assert_close(p[:, n, :m], torch.ones(2, m, dtype=D))
    m0, m1 = assign(log_p)
    assert m0.shape == (2, n) and m1.shape == (2, m)
    assert (m0 == -1).all() and (m1 == -1).all()


def test_fully_masked_element_gives_no_matches_and_finite_gradients() -> None:
    s = _scores(2, 3, 3, seed=3).requires_grad_()
    dustbin = torch.tensor(0.0, dtype=D, requires_grad=True)
    rows = torch.tensor([[True, True, True], [False, False, False]])
    log_p = log_optimal_transport(s, dustbin, iters=50, row_mask=rows)
    m0, m1 = assign(log_p)
    assert (m0[1] == -1).all() and (m1[1] == -1).all()
    log_p[:, :3, :].logsumexp(-1).sum().backward()
    assert torch.isfinite(s.grad).all() and torch.isfinite(dustbin.grad)


def test_assign_hand_example() -> None:
    # P (real part) = [[0.7, 0.1], [0.6, 0.3]]: row 0 -> col 0 (mutual: col 0's best row is 0);
    # row 1's best is col 0 too but not mutual -> -1; col 1's best row is 1 but row 1 picks col 0.
    p = torch.tensor([[[0.7, 0.1, 0.2], [0.6, 0.3, 0.1], [0.0, 0.6, 0.0]]], dtype=D)
    m0, m1 = assign(p.clamp_min(1e-12).log(), threshold=0.2)
    assert m0.tolist() == [[0, -1]] and m1.tolist() == [[0, -1]]
    # a mutual pair below the threshold is dropped: 0.7 < 0.8
    m0, m1 = assign(p.clamp_min(1e-12).log(), threshold=0.8)
    assert m0.tolist() == [[-1, -1]] and m1.tolist() == [[-1, -1]]


def test_gradcheck() -> None:
    s = _scores(2, 3, 2, seed=4).requires_grad_()
    dustbin = torch.tensor(0.2, dtype=D, requires_grad=True)
    cols = torch.tensor([[True, True], [True, False]])
    assert torch.autograd.gradcheck(
        lambda s, a: log_optimal_transport(s, a, iters=20, col_mask=cols), (s, dustbin)
    )


def test_large_scores_do_not_overflow() -> None:
    s = _scores(1, 3, 3, seed=5, dtype=torch.float32) * 1000.0  # exp(1000) overflows float32
    log_p = log_optimal_transport(s, torch.tensor(0.0), iters=100)
    assert torch.isfinite(log_p).all()
    # the last half-step normalises columns, so they sum to 1 even where rows have not converged
    # (at this temperature 100 iterations are not enough for the rows)
    col_sums = log_p[0, :, :3].exp().sum(0)
    assert all(math.isclose(c, 1.0, abs_tol=1e-4) for c in col_sums.tolist())


def test_bad_input_raises() -> None:
    with pytest.raises(InputError):
        log_optimal_transport(torch.zeros(3, 3), torch.tensor(0.0))
    with pytest.raises(InputError):
        log_optimal_transport(
            torch.zeros(1, 3, 3), torch.tensor(0.0), row_mask=torch.ones(1, 2, dtype=torch.bool)
        )
