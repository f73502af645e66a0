"""Differentiable assignment with dustbins: Softassign / Sinkhorn in the log domain (paper §3.3).

The matching layer scores every pair of people ``S_ij = <f_i^t, f_j^{t+Δt}>`` (eq. 2). Each side
gets a *dustbin* — an extra row and column holding one learned score ``α`` — so that a person can
stay unmatched (a false detection, someone entering or leaving). The augmented ``(N+1)×(M+1)``
score matrix ``S̄`` is turned into a soft assignment ``P̄`` by Sinkhorn matrix balancing, i.e. the
entropy-regularised optimal transport

    P̄ = argmax_P  <P, S̄> + H(P)    s.t.  P̄ 1 = a,  P̄ᵀ 1 = b,

with marginals ``a = (1, …, 1, M)`` (each of the N people at t has mass 1, the dustbin row takes
whatever the M people at t+Δt leave over) and ``b = (1, …, 1, N)``. Both sum to ``N + M``; the
iterations work with ``a / (N+M)`` and ``b / (N+M)`` (probability vectors) and the result is
scaled back so that every real row and column of ``P̄`` sums to 1. Dividing the scores by a
temperature ``τ → 0`` makes ``P̄`` converge to the optimal (Hungarian) assignment (Softassign,
Gold & Rangarajan 1996; Mena et al. 2018). All computation is in the log domain with
``logsumexp``, so large scores never overflow; a fixed number of iterations is unrolled, which
keeps the layer differentiable.

Padding: batches hold different N, M per element through ``row_mask`` / ``col_mask``. A padded
row or column gets zero marginal mass and is excluded from the counts N, M, so a padded problem
gives exactly the result of the cropped one. "Zero mass" is represented by the finite log value
:data:`LOG_ZERO` (far below ``log`` of the smallest float64), never ``-inf``: ``-inf - (-inf)`` would
put NaNs into the forward or the backward pass.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tessetrack.errors import InputError

__all__ = ["LOG_ZERO", "log_optimal_transport", "assign"]

#: log of "no mass": exp(-1e4) is 0 in float32 and float64, and sums with it stay finite.
LOG_ZERO = -1.0e4


def _log_mass(mass: Tensor) -> Tensor:
    """log of non-negative masses, with LOG_ZERO for zero mass (no -inf, no NaN gradients)."""
    positive = mass > 0
    return torch.where(positive, mass.clamp_min(1e-30).log(), torch.full_like(mass, LOG_ZERO))


def _check_mask(mask: Tensor | None, b: int, n: int, name: str, device: torch.device) -> Tensor:
    if mask is None:
        return torch.ones(b, n, dtype=torch.bool, device=device)
    if mask.shape != (b, n):
        raise InputError(f"{name} must have shape {(b, n)}, got {tuple(mask.shape)}")
    return mask.bool()


def log_optimal_transport(
    scores: Tensor,
    dustbin: Tensor,
    iters: int = 100,
    row_mask: Tensor | None = None,
    col_mask: Tensor | None = None,
) -> Tensor:
    """Log-domain Sinkhorn with a dustbin row and column.

    Args:
        scores: (B, N, M) pairwise scores (already divided by any temperature).
        dustbin: scalar tensor, the score ``α`` of every dustbin entry (learnable).
        iters: Sinkhorn iterations (the paper uses 100).
        row_mask: (B, N) bool, True for real rows; None = all real.
        col_mask: (B, M) bool, True for real columns; None = all real.

    Returns:
        (B, N+1, M+1) ``log P̄``: the last row/column are the dustbins. Each real row and each real
        column of ``exp(log P̄)`` sums to 1 (dustbin entry included); the dustbin row sums to M
        and the dustbin column to N (counting real entries only). Entries in padded rows or
        columns are :data:`LOG_ZERO`.
    """
    if scores.ndim != 3:
        raise InputError(f"scores must have shape (B, N, M), got {tuple(scores.shape)}")
    if iters < 1:
        raise InputError(f"Sinkhorn needs at least one iteration, got {iters}")
    b, n, m = scores.shape
    rows = _check_mask(row_mask, b, n, "row_mask", scores.device)  # B×N
    cols = _check_mask(col_mask, b, m, "col_mask", scores.device)  # B×M
    dtype = scores.dtype
    n_real = rows.sum(-1).to(dtype)  # B, the N of each element
    m_real = cols.sum(-1).to(dtype)  # B, the M of each element

    # augmented scores S̄ (B×(N+1)×(M+1)): α in the dustbin row and column
    alpha = dustbin.to(dtype).reshape(1, 1, 1)
    s_bar = torch.cat([scores, alpha.expand(b, n, 1)], dim=2)  # B×N×(M+1)
    s_bar = torch.cat([s_bar, alpha.expand(b, 1, m + 1)], dim=1)  # B×(N+1)×(M+1)
    row_ok = torch.cat([rows, rows.new_ones(b, 1)], dim=1)  # B×(N+1)
    col_ok = torch.cat([cols, cols.new_ones(b, 1)], dim=1)  # B×(M+1)
    pair_ok = row_ok[:, :, None] & col_ok[:, None, :]  # B×(N+1)×(M+1)
    s_bar = s_bar.masked_fill(~pair_ok, LOG_ZERO)

    # marginals a = (1…1, M) / (N+M), b = (1…1, N) / (N+M); padded entries have mass 0
    total = (n_real + m_real).clamp_min(1.0)  # B
    a = torch.cat([rows.to(dtype), m_real[:, None]], dim=1) / total[:, None]  # B×(N+1)
    bb = torch.cat([cols.to(dtype), n_real[:, None]], dim=1) / total[:, None]  # B×(M+1)
    log_a, log_b = _log_mass(a), _log_mass(bb)

    # Sinkhorn balancing of exp(S̄) in the log domain: P̄ = diag(e^u) exp(S̄) diag(e^v)
    u = torch.zeros_like(log_a)  # B×(N+1)
    v = torch.zeros_like(log_b)  # B×(M+1)
    for _ in range(iters):
        u = log_a - torch.logsumexp(s_bar + v[:, None, :], dim=2)  # rows sum to a
        v = log_b - torch.logsumexp(s_bar + u[:, :, None], dim=1)  # columns sum to b
    log_p = s_bar + u[:, :, None] + v[:, None, :] + total.log()[:, None, None]  # undo 1/(N+M)
    return log_p.masked_fill(~pair_ok, LOG_ZERO)


def assign(log_P: Tensor, threshold: float = 0.2) -> tuple[Tensor, Tensor]:
    """Hard matches from a soft assignment: mutual argmax over the real entries, above a threshold.

    Row ``i`` is matched to column ``j`` when ``j = argmax_j' P_ij'`` over the real columns,
    ``i = argmax_i' P_i'j`` over the real rows, and ``P_ij > threshold``.

    Args:
        log_P: (B, N+1, M+1) from :func:`log_optimal_transport`.
        threshold: minimum assignment probability of a match.

    Returns:
        matches0: (B, N) long, the matched column of each row or -1.
        matches1: (B, M) long, the matched row of each column or -1.
    """
    if log_P.ndim != 3:
        raise InputError(f"log_P must have shape (B, N+1, M+1), got {tuple(log_P.shape)}")
    b, n1, m1 = log_P.shape
    n, m = n1 - 1, m1 - 1
    dev = log_P.device
    if n == 0 or m == 0:
        return (
            torch.full((b, n), -1, dtype=torch.long, device=dev),
            torch.full((b, m), -1, dtype=torch.long, device=dev),
        )
    real = log_P[:, :n, :m]  # B×N×M
    best0, idx0 = real.max(dim=2)  # B×N: best column of each row
    idx1 = real.max(dim=1).indices  # B×M: best row of each column
    rows = torch.arange(n, device=dev).expand(b, n)  # B×N
    cols = torch.arange(m, device=dev).expand(b, m)  # B×M
    mutual0 = idx1.gather(1, idx0) == rows  # B×N: my column picks me back
    mutual1 = idx0.gather(1, idx1) == cols  # B×M
    log_thr = torch.log(torch.tensor(threshold, dtype=log_P.dtype, device=dev))
    ok0 = mutual0 & (best0 > log_thr)  # B×N
    ok1 = mutual1 & ok0.gather(1, idx1)  # B×M: the pair is the same one seen from the column
    matches0 = torch.where(ok0, idx0, torch.full_like(idx0, -1))
    matches1 = torch.where(ok1, idx1, torch.full_like(idx1, -1))
    return matches0, matches1
