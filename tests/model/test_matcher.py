"""Attention GNN + Sinkhorn matcher and the Hungarian baseline."""

from __future__ import annotations

import pytest
import torch

from tessetrack.model.matcher import AttentionGNN, LearnedMatcher, hungarian_match, masked_softmax


def test_masked_softmax_all_masked_is_zero():
    logits = torch.randn(2, 3)
    mask = torch.tensor([[True, False, True], [False, False, False]])
    w = masked_softmax(logits, mask)
    assert torch.allclose(w[0].sum(), torch.tensor(1.0)) and w[0, 1] == 0
    assert torch.equal(w[1], torch.zeros(3))


def test_gnn_is_permutation_equivariant():
    torch.manual_seed(0)
    gnn = AttentionGNN(dim=8, heads=2, layers=4).double().eval()
    x0, x1 = torch.randn(1, 3, 8, dtype=torch.float64), torch.randn(1, 4, 8, dtype=torch.float64)
    m0, m1 = torch.ones(1, 3, dtype=torch.bool), torch.ones(1, 4, dtype=torch.bool)
    f0, f1 = gnn(x0, x1, m0, m1)
    perm = torch.tensor([2, 0, 1])
    g0, g1 = gnn(x0[:, perm], x1, m0, m1)
    assert torch.allclose(g0, f0[:, perm]) and torch.allclose(g1, f1)
    assert gnn.kinds == ("self", "cross", "self", "cross")


def test_gnn_padding_does_not_leak():
    torch.manual_seed(0)
    gnn = AttentionGNN(dim=8, heads=2, layers=2).double().eval()
    x0, x1 = torch.randn(1, 2, 8, dtype=torch.float64), torch.randn(1, 3, 8, dtype=torch.float64)
    f0, _ = gnn(
        x0, x1[:, :2], torch.ones(1, 2, dtype=torch.bool), torch.ones(1, 2, dtype=torch.bool)
    )
    pad_mask = torch.tensor([[True, True, False]])
    g0, _ = gnn(x0, x1, torch.ones(1, 2, dtype=torch.bool), pad_mask)  # third person is padding
    assert torch.allclose(f0, g0)


def test_learned_matcher_outputs():
    torch.manual_seed(0)
    m = LearnedMatcher(dim=16, heads=2, layers=2, sinkhorn_iters=50)
    d0, d1 = torch.randn(2, 3, 16), torch.randn(2, 4, 16)
    m0 = torch.tensor([[True, True, True], [True, True, False]])
    m1 = torch.ones(2, 4, dtype=torch.bool)
    out = m(d0, d1, m0, m1)
    assert out.log_P.shape == (2, 4, 5) and out.scores.shape == (2, 3, 4)
    rows = out.log_P[:, :3].exp().sum(-1)  # each real person's mass is 1 (dustbin included)
    assert torch.allclose(rows[m0], torch.ones(int(m0.sum())), atol=1e-3)
    assert out.matches0[1, 2] == -1  # padding never matches
    assert out.matches0.shape == (2, 3) and out.matches1.shape == (2, 4)


def test_learned_matcher_empty_sets():
    m = LearnedMatcher(dim=8, heads=2, layers=2, sinkhorn_iters=5)
    out = m(torch.randn(1, 1, 8), torch.randn(1, 2, 8), torch.zeros(1, 1, dtype=torch.bool),
            torch.zeros(1, 2, dtype=torch.bool))  # fmt: skip
    assert (out.matches0 == -1).all() and (out.matches1 == -1).all()
    assert not torch.isnan(out.scores).any()


def test_hungarian_match_with_gate():
    # 2 persons at t, 3 at t+Δt (J = 1 joint). Person 0 moved 0.1 m; person 1 jumped 2 m (gated out).
    p0 = torch.tensor([[[[0.0, 0.0, 1.0]], [[3.0, 0.0, 1.0]]]])
    p1 = torch.tensor([[[[5.0, 0.0, 1.0]], [[0.1, 0.0, 1.0]], [[-9.0, 0.0, 1.0]]]])
    out = hungarian_match(p0, p1, torch.ones(1, 2, dtype=torch.bool), torch.ones(1, 3, dtype=torch.bool),
                          max_distance=0.5)  # fmt: skip
    assert out.matches0.tolist() == [[1, -1]]
    assert out.matches1.tolist() == [[-1, 0, -1]]
    assert out.log_P is None
    assert out.scores[0, 0, 1].item() == pytest.approx(
        -0.1
    )  # negated mean joint distance: |0.1 - 0|
