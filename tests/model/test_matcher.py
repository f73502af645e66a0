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


def test_allowed_pairs_gate_the_learned_matcher():
    """A forbidden pair gets no transport mass and is never assigned; the rows still sum to 1,
    and allowing every pair changes nothing."""
    torch.manual_seed(0)
    m = LearnedMatcher(dim=8, heads=2, layers=2, sinkhorn_iters=100, match_threshold=0.0)
    d = torch.randn(1, 3, 8)
    ones = torch.ones(1, 3, dtype=torch.bool)
    free = m(d, d, ones, ones)
    same = m(d, d, ones, ones, allowed=torch.ones(1, 3, 3, dtype=torch.bool))
    assert torch.equal(free.matches0, same.matches0)
    assert torch.allclose(free.log_P, same.log_P)
    allowed = torch.ones(1, 3, 3, dtype=torch.bool)
    j = int(free.matches0[0, 0])
    assert j >= 0  # the free matcher pairs row 0 somewhere (threshold 0)
    allowed[0, 0, j] = False
    gated = m(d, d, ones, ones, allowed=allowed)
    assert gated.log_P[0, 0, j] == -torch.inf and gated.matches0[0, 0] != j
    assert torch.allclose(gated.log_P[0, :3].exp().sum(-1), torch.ones(3), atol=1e-3)
    nothing = m(d, d, ones, ones, allowed=torch.zeros(1, 3, 3, dtype=torch.bool))
    assert (nothing.matches0 == -1).all() and torch.isfinite(nothing.log_P[0, :3, 3]).all()


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


def test_hungarian_match_refused_pair_cannot_push_an_accepted_one_aside():
    # 1D, gate 0.5: A=0, B=1 at t; X=0.45, Y=-0.6 at t+Δt. Only A-X (0.45) passes the gate.
    # Unclamped costs would pick A-Y + B-X (0.6 + 0.55 < 0.45 + 1.6), both refused: nobody linked.
    p0 = torch.tensor([[[[0.0, 0.0, 1.0]], [[1.0, 0.0, 1.0]]]])
    p1 = torch.tensor([[[[0.45, 0.0, 1.0]], [[-0.6, 0.0, 1.0]]]])
    ones = torch.ones(1, 2, dtype=torch.bool)
    out = hungarian_match(p0, p1, ones, ones, max_distance=0.5)
    assert out.matches0.tolist() == [[0, -1]]
    assert out.matches1.tolist() == [[0, -1]]


def test_hungarian_match_ignores_missing_people():
    p0 = torch.tensor([[[[0.0, 0.0, 1.0]], [[0.05, 0.0, 1.0]]]])
    p1 = torch.tensor([[[[0.1, 0.0, 1.0]], [[0.0, 0.0, 1.0]]]])
    mask0 = torch.tensor([[True, False]])  # slot 1 at t is empty, though its pose is nearest
    out = hungarian_match(p0, p1, mask0, torch.ones(1, 2, dtype=torch.bool), max_distance=0.5)
    assert out.matches0.tolist() == [[1, -1]]
    assert out.matches1.tolist() == [[-1, 0]]
    ungated = hungarian_match(p0, p1, mask0, torch.ones(1, 2, dtype=torch.bool),
                              max_distance=float("inf"))  # fmt: skip
    assert ungated.matches0.tolist() == [[1, -1]]  # no gate: the missing person still stays out


def test_position_encoding_tells_identical_descriptors_apart():
    """Two people whose descriptors are the same (same pose, no appearance: an H model) and who
    swap order between t and t+Δt: only their centres tell them apart. With the position encoding
    the matcher learns the swap; without it no weights can (the inputs are symmetric)."""
    torch.manual_seed(0)
    d = torch.randn(1, 1, 16).expand(1, 2, 16).contiguous()  # both people: one descriptor
    pos0 = torch.tensor([[[-1.0, 0.5, 0.9], [1.2, -0.4, 0.9]]])
    pos1 = pos0.flip(1) + 0.03  # swapped order, moved 3 cm
    mask = torch.ones(1, 2, dtype=torch.bool)
    target = torch.tensor([[1, 0]])  # person i at t is person target[i] at t+Δt

    def trained(position_encoding: bool) -> LearnedMatcher:
        m = LearnedMatcher(
            dim=16, heads=2, layers=2, sinkhorn_iters=20, position_encoding=position_encoding,
            position_center=(0.0, 0.0, 1.0), position_scale=(2.0, 2.0, 1.0),
        )  # fmt: skip
        opt = torch.optim.Adam(m.parameters(), lr=1e-2)
        for _ in range(150):
            out = m(d, d, mask, mask, pos0, pos1) if position_encoding else m(d, d, mask, mask)
            loss = -out.log_P[0, torch.arange(2), target[0]].mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return m

    with_pos = trained(True)
    out = with_pos(d, d, mask, mask, pos0, pos1)
    assert out.matches0.tolist() == target.tolist()
    assert out.log_P[0, torch.arange(2), target[0]].exp().min() > 0.8
    # the inputs of a matcher without positions are symmetric: both rows score alike
    plain = trained(False)
    p = plain(d, d, mask, mask).log_P[0, :2, :2].exp()
    assert torch.allclose(p[0], p[1], atol=1e-5) and p[0, 0].item() == pytest.approx(p[0, 1].item())
    with pytest.raises(ValueError, match="pass pos0 and pos1"):
        with_pos(d, d, mask, mask)


def test_position_encoding_is_off_by_default_and_adds_no_weights():
    plain = LearnedMatcher(dim=8, heads=2, layers=1)
    enc = LearnedMatcher(dim=8, heads=2, layers=1, position_encoding=True)
    assert plain.position_encoder is None
    extra = set(enc.state_dict()) - set(plain.state_dict())
    assert extra and all(k.startswith("position_encoder.") for k in extra)  # buffers not saved
