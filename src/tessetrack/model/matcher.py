"""Temporal matching of person descriptors between anchors t and t+Δt (paper §3.2, Fig. 3).

Learned matcher (variant D): an attention graph neural network over the pooled descriptors of both
anchors, alternating *self* edges (persons of the same anchor) and *cross* edges (t ↔ t+Δt), each layer a
multi-head message passing step with a residual MLP update; the final matching descriptors are linear
projections ``f = W·x + b``; scores ``S_ij = <f_i^t, f_j^{t+Δt}>`` (not L2-normalised, as in the paper;
we divide by √D once, a fixed temperature that keeps Sinkhorn out of saturation at initialisation);
a learned dustbin score; log-domain Sinkhorn (``tessetrack.ops.sinkhorn``) gives log P of eq. (2).

Hungarian baseline (variant G): :func:`hungarian_match` on the mean per-joint distance of the poses,
with a maximum-distance gate (pairs further apart stay unmatched).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from tessetrack.ops.assignment import gated_assignment
from tessetrack.ops.sinkhorn import assign, log_optimal_transport

__all__ = [
    "MatchOutput",
    "masked_softmax",
    "AttentionalPropagation",
    "AttentionGNN",
    "LearnedMatcher",
    "hungarian_match",
]


class MatchOutput(NamedTuple):
    """Matching between N persons at t and M persons at t+Δt.

    Attributes:
        matches0: (B, N) long, index into the M persons at t+Δt or -1 (unmatched / padding).
        matches1: (B, M) long, index into the N persons at t or -1.
        log_P: (B, N+1, M+1) log assignment with dustbins (learned matcher), None for Hungarian.
        scores: (B, N, M) similarity scores (learned) or negated mean joint distances (Hungarian).
    """

    matches0: Tensor
    matches1: Tensor
    log_P: Tensor | None
    scores: Tensor


# --- helpers -------------------------------------------------------------------------------------


def masked_softmax(logits: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Softmax over ``dim`` restricted to ``mask``; all-masked slices give zeros (never NaN)."""
    logits = logits.masked_fill(~mask, torch.finfo(logits.dtype).min)
    return torch.softmax(logits, dim=dim) * mask


# --- blocks --------------------------------------------------------------------------------------


class AttentionalPropagation(nn.Module):
    """One message-passing step: multi-head attention from ``source`` nodes, residual MLP update.

    Args:
        dim: D, node feature width.
        heads: number of attention heads (divides D).
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.merge = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(
            nn.Linear(2 * dim, 2 * dim), nn.LayerNorm(2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim)
        )

    def forward(self, x: Tensor, source: Tensor, source_mask: Tensor) -> Tensor:
        """x (B, N, D), source (B, M, D), source_mask (B, M) bool → updated x (B, N, D)."""
        b, n, d = x.shape
        h = self.heads
        q = self.q(x).view(b, n, h, d // h).transpose(1, 2)  # B×H×N×(D/H)
        k = self.k(source).view(b, -1, h, d // h).transpose(1, 2)  # B×H×M×(D/H)
        v = self.v(source).view(b, -1, h, d // h).transpose(1, 2)  # B×H×M×(D/H)
        logits = torch.einsum("bhnd,bhmd->bhnm", q, k) / math.sqrt(d // h)  # B×H×N×M
        attn = masked_softmax(logits, source_mask[:, None, None, :])
        message = torch.einsum("bhnm,bhmd->bhnd", attn, v)  # B×H×N×(D/H)
        message = self.merge(message.transpose(1, 2).reshape(b, n, d))  # B×N×D
        return x + self.mlp(torch.cat([x, message], dim=-1))  # residual update


class AttentionGNN(nn.Module):
    """L layers alternating self and cross edges; final linear projection ``f = W·x + b``.

    Args:
        dim: D.
        heads: attention heads.
        layers: L (layer l uses self edges for even l, cross edges for odd l).
    """

    def __init__(self, dim: int, heads: int, layers: int):
        super().__init__()
        self.layers = nn.ModuleList([AttentionalPropagation(dim, heads) for _ in range(layers)])
        self.kinds = tuple("self" if i % 2 == 0 else "cross" for i in range(layers))
        self.final_proj = nn.Linear(dim, dim)

    def forward(
        self, x0: Tensor, x1: Tensor, mask0: Tensor, mask1: Tensor
    ) -> tuple[Tensor, Tensor]:
        """x0 (B, N, D) at t, x1 (B, M, D) at t+Δt, masks (B, N)/(B, M) → (f0, f1) same shapes."""
        for layer, kind in zip(self.layers, self.kinds, strict=True):
            if kind == "self":
                x0, x1 = layer(x0, x0, mask0), layer(x1, x1, mask1)
            else:  # both directions use the pre-update states (simultaneous aggregation)
                x0, x1 = layer(x0, x1, mask1), layer(x1, x0, mask0)
        return self.final_proj(x0), self.final_proj(x1)


# --- top modules ---------------------------------------------------------------------------------


#: Score of a pair ``allowed`` rules out: far below any learned score, finite (Sinkhorn's log-sum-exp
#: stays well defined for a row or column with no allowed pair).
_FORBIDDEN = -1.0e4


class LearnedMatcher(nn.Module):
    """Attention GNN + inner-product scores + dustbin + Sinkhorn (variant D).

    Args:
        dim: D, descriptor width.
        heads: attention heads.
        layers: GNN layers.
        sinkhorn_iters: unrolled Sinkhorn iterations (paper 100).
        match_threshold: minimum P_ij for a match when extracting assignments.
        dustbin_init: initial value of the learned dustbin score.
        position_encoding: add an MLP encoding of each person's centre to its descriptor before
            the GNN (SuperGlue's keypoint encoder; not in the TesseTrack paper). Descriptors of
            tesseracts are centred on their person, so without it two people in similar poses look
            alike — as they do to the heatmap-input (H) models, which see no appearance.
        position_center, position_scale: centres enter as ``(c - position_center) / position_scale``
            (metres; e.g. the volume's centre and half size).
    """

    def __init__(
        self,
        *,
        dim: int,
        heads: int,
        layers: int,
        sinkhorn_iters: int = 100,
        match_threshold: float = 0.2,
        dustbin_init: float = 1.0,
        position_encoding: bool = False,
        position_center: tuple[float, float, float] = (0.0, 0.0, 0.0),
        position_scale: tuple[float, float, float] = (1.0, 1.0, 1.0),
    ):
        super().__init__()
        self.gnn = AttentionGNN(dim, heads, layers)
        self.position_encoder: nn.Module | None = None
        if position_encoding:
            hidden = max(32, dim // 2)
            self.position_encoder = nn.Sequential(
                nn.Linear(3, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, dim)
            )
            nn.init.zeros_(self.position_encoder[-1].bias)
            self.register_buffer(
                "position_center", torch.tensor(position_center, dtype=torch.float32), False
            )
            self.register_buffer(
                "position_scale", torch.tensor(position_scale, dtype=torch.float32), False
            )
        self.dustbin = nn.Parameter(torch.tensor(float(dustbin_init)))
        self.sinkhorn_iters = sinkhorn_iters
        self.match_threshold = match_threshold
        self.scale = 1.0 / math.sqrt(dim)

    def forward(
        self,
        desc0: Tensor,
        desc1: Tensor,
        mask0: Tensor,
        mask1: Tensor,
        pos0: Tensor | None = None,
        pos1: Tensor | None = None,
        allowed: Tensor | None = None,
    ) -> MatchOutput:
        """desc0 (B, N, D) at t, desc1 (B, M, D) at t+Δt, masks (B, N)/(B, M) bool, and with
        ``position_encoding`` the centres pos0 (B, N, 3) / pos1 (B, M, 3) in metres → :class:`MatchOutput`.

        ``allowed`` (B, N, M) bool, optional: pairs that may match at all (e.g. a gate on the
        distance between centres at inference). The others get no transport mass: their score is
        set far below every other before Sinkhorn, so their rows' and columns' mass goes to the
        allowed pairs or the dustbins, and they can never be assigned.
        """
        if self.position_encoder is not None:
            if pos0 is None or pos1 is None:
                raise ValueError("this matcher encodes positions: pass pos0 and pos1 (centres, m)")
            desc0 = desc0 + self._encode(pos0, desc0.dtype)
            desc1 = desc1 + self._encode(pos1, desc1.dtype)
        f0, f1 = self.gnn(desc0, desc1, mask0, mask1)
        scores = torch.einsum("bnd,bmd->bnm", f0, f1) * self.scale  # S_ij = <f_i^t, f_j^{t+Δt}>
        ot_scores = scores.float()
        if allowed is not None:
            ot_scores = ot_scores.masked_fill(~allowed, _FORBIDDEN)
        log_p = log_optimal_transport(
            ot_scores,
            self.dustbin.float(),
            iters=self.sinkhorn_iters,
            row_mask=mask0,
            col_mask=mask1,
        )
        if allowed is not None:  # exp(-1e4) underflows to 0 already; make it exact
            log_p = log_p.clone()
            log_p[:, :-1, :-1] = log_p[:, :-1, :-1].masked_fill(~allowed, -math.inf)
        matches0, matches1 = assign(log_p, threshold=self.match_threshold)
        matches0 = matches0.masked_fill(~mask0, -1)
        matches1 = matches1.masked_fill(~mask1, -1)
        return MatchOutput(matches0, matches1, log_p, scores)

    def _encode(self, pos: Tensor, dtype: torch.dtype) -> Tensor:
        """(B, N, 3) centres (m) → (B, N, D) position codes."""
        assert self.position_encoder is not None
        x = (pos.float() - self.position_center) / self.position_scale
        return self.position_encoder(x).to(dtype)


def hungarian_match(
    poses0: Tensor, poses1: Tensor, mask0: Tensor, mask1: Tensor, *, max_distance: float
) -> MatchOutput:
    """Hungarian matching of poses by mean per-joint distance (variant G, not differentiable).

    Args:
        poses0: (B, N, J, 3) poses at t (metres).
        poses1: (B, M, J, 3) poses at t+Δt.
        mask0, mask1: (B, N), (B, M) bool, valid persons.
        max_distance: pairs with mean joint distance above this (metres) stay unmatched.

    Returns:
        :class:`MatchOutput` with ``log_P = None`` and ``scores = -distance`` (B, N, M).
    """
    b, n = poses0.shape[:2]
    m = poses1.shape[1]
    dist = torch.linalg.vector_norm(poses0[:, :, None] - poses1[:, None], dim=-1).mean(-1)  # B×N×M
    valid = mask0[:, :, None] & mask1[:, None, :]  # B×N×M
    dist_np = dist.detach().float().cpu().numpy()
    ok = valid.cpu().numpy() & (dist_np <= max_distance)  # too far, or a missing person: refused
    matches0 = np.full((b, n), -1, dtype=np.int64)
    matches1 = np.full((b, m), -1, dtype=np.int64)
    for i in range(b):  # scipy solves one assignment at a time
        rows, cols = gated_assignment(dist_np[i], ok[i], max_distance)
        matches0[i, rows] = cols
        matches1[i, cols] = rows
    device = poses0.device
    return MatchOutput(
        torch.from_numpy(matches0).to(device), torch.from_numpy(matches1).to(device), None, -dist
    )
