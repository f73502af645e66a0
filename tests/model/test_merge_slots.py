"""merge_slots: the one rule for when a person's descriptor is merged with its partner's, in the
training forward and in tracking alike."""

from __future__ import annotations

import torch
from test_tessetrack_model import make_clip, tiny_config

from tessetrack.model.tessetrack import build_model, merge_slots

T = 3


def _descriptors(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, T, 2, 2, 2, generator=g)  # N×C×T×X'×Y'×Z'


def test_nobody_with_a_partner_gets_poses_alone():
    d = _descriptors(3)
    stack, mask = merge_slots(d, None, None, 1, T)
    assert stack.shape == (3, 2, 4, T, 2, 2, 2)
    assert torch.equal(stack[:, 0], d) and not stack[:, 1].any()
    assert mask.tolist() == [[True, False]] * 3


def test_a_known_partner_whose_window_overlaps_is_merged():
    d, prev = _descriptors(4), _descriptors(4, seed=1)
    linked = torch.tensor([True, True, False, True])
    gap = torch.tensor([1, 2, 1, 3])  # row 3: windows T = 3 frames apart share no frame
    stack, mask = merge_slots(d, prev, linked, gap, T)
    assert mask.tolist() == [[True, True], [True, True], [True, False], [True, False]]
    assert torch.equal(stack[:2, 1], prev[:2])
    assert not stack[2:, 1].any()  # what is not merged is zero, whatever the partner held
    assert torch.equal(stack[:, 0], d)


def test_one_gap_for_every_row_and_instantaneous_windows():
    d, prev = _descriptors(2), _descriptors(2, seed=1)
    linked = torch.tensor([True, False])
    assert merge_slots(d, prev, linked, 1, T)[1].tolist() == [[True, True], [True, False]]
    assert merge_slots(d, prev, linked, T, T)[1].tolist() == [[True, False], [True, False]]
    # T = 1 (instantaneous variants): two anchors never share a frame
    assert not merge_slots(d[:, :, :1], prev[:, :, :1], linked, 1, 1)[1][:, 1].any()


def test_a_padded_slot_is_neither_posed_nor_merged():
    d, prev = _descriptors(2), _descriptors(2, seed=1)
    linked, valid = torch.tensor([True, True]), torch.tensor([True, False])
    stack, mask = merge_slots(d, prev, linked, 1, T, valid)
    assert mask.tolist() == [[True, True], [False, False]]
    assert not stack[1, 1].any()


def test_the_training_forward_merges_gt_partners_whatever_the_matcher():
    """matcher: none (FT) merges its teacher-forced GT partners like the learned matcher does;
    without teacher forcing it has no partner and merges nothing."""
    cfg = tiny_config("FT")
    torch.manual_seed(0)
    model = build_model(cfg)
    batch, _ = make_clip(cfg)
    w = model(batch).merge_weights  # B×A×P×2; average merge: 0.5 each when merged
    assert torch.allclose(w[0, 1, :, 1], torch.full((2,), 0.5))
    assert w[-1, 1, -1, 1] == 0  # that person is gone at a1: no partner
    assert not w[:, 0, :, 1].any()  # anchor a0 has no earlier partner
    detections, _ = make_clip(cfg, teacher=False)
    assert not model(detections).merge_weights[:, :, :, 1].any()
