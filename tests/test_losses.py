"""Losses of eqs. (1)-(4) against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from tessetrack.config import LossConfig
from tessetrack.errors import ConfigError
from tessetrack.geometry.voxel_grid import VoxelGrid
from tessetrack.losses import (
    assign_detections_to_gt,
    detection_loss,
    gaussian_centre_targets,
    heatmap_probability_at,
    identity_matches,
    keypoint_loss,
    keypoint_targets,
    matching_loss,
    pose_loss,
)

# 8 m cube of 8³ voxels centred at (0, 0, 1): 1 m voxels, centres at -3.5 … 3.5 (x, y) and -2.5 … 4.5 (z)
GRID = VoxelGrid(center=(0.0, 0.0, 1.0), size=(8.0, 8.0, 8.0), shape=(8, 8, 8))


def test_gaussian_centre_targets_values():
    centres = torch.tensor(
        [[[0.5, 0.5, 1.5], [-3.5, -3.5, -2.5]]]
    )  # voxel (4,4,4) and (0,0,0) centres
    t = gaussian_centre_targets(centres, GRID, sigma=1.0)
    assert t.shape == (1, 8, 8, 8)
    assert t[0, 4, 4, 4] == pytest.approx(1.0) and t[0, 0, 0, 0] == pytest.approx(1.0)
    assert t[0, 5, 4, 4] == pytest.approx(math.exp(-0.5))  # 1 m away, σ = 1 m: exp(-1/2)
    assert t[0, 5, 5, 4] == pytest.approx(math.exp(-1.0))  # √2 m away: exp(-2/2)
    masked = gaussian_centre_targets(centres, GRID, 1.0, torch.tensor([[True, False]]))
    assert masked[0, 0, 0, 0] < 1e-3  # the masked person is not drawn (nearest other is 4√3 m away)
    assert gaussian_centre_targets(torch.zeros(2, 0, 3), GRID, 1.0).abs().sum() == 0


def test_detection_loss_hand():
    pred = torch.zeros(2, 8, 8, 8)
    target = torch.zeros(2, 8, 8, 8)
    target[0, 1, 2, 3] = 1.0
    target[1, 0, 0, 0] = 0.5
    # per-volume sums of squares: 1 and 0.25 → mean over the 2 volumes = 0.625
    assert detection_loss(pred, target).item() == pytest.approx(0.625)
    assert detection_loss(pred, target, "mean").item() == pytest.approx(0.625 / 512)


def test_matching_loss_hand():
    # N = 2 persons at t, M = 2 at t+Δt; log_P entries chosen by hand
    P = torch.tensor([[[0.7, 0.1, 0.2], [0.1, 0.3, 0.6], [0.2, 0.6, 0.0]]])
    log_p = P.log()
    gt0 = torch.tensor(
        [[0, -1]]
    )  # person 0 ↔ 0, person 1 at t unmatched, person 1 at t+Δt unmatched
    mask = torch.tensor([[True, True]])
    loss = matching_loss(log_p, gt0, mask, mask)
    # terms: -log P[0,0] (match), -log P[1,2] (row dustbin), -log P[2,1] (column dustbin)
    expected = -(math.log(0.7) + math.log(0.6) + math.log(0.6)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_matching_loss_ignores_padding_and_empty():
    log_p = torch.full((1, 3, 3), -math.inf)
    log_p[0, 0, 0] = math.log(0.9)
    log_p[0, 0, 2] = math.log(0.1)
    log_p[0, 2, 0] = math.log(0.1)
    gt0 = torch.tensor([[0, -1]])
    loss = matching_loss(log_p, gt0, torch.tensor([[True, False]]), torch.tensor([[True, False]]))
    assert loss.item() == pytest.approx(-math.log(0.9))  # padded row/column (-inf) never enter
    empty = torch.zeros(2, 1, 1, requires_grad=True)
    zero = matching_loss(empty, torch.zeros(2, 0, dtype=torch.long), torch.zeros(2, 0, dtype=torch.bool),
                         torch.zeros(2, 0, dtype=torch.bool))  # fmt: skip
    assert zero.item() == 0.0
    zero.backward()


def test_identity_matches():
    m0 = torch.tensor([[True, True, False]])
    m1 = torch.tensor([[True, False, True]])
    assert identity_matches(m0, m1).tolist() == [[0, -1, -1]]


def test_heatmap_probability_trilinear():
    probs = torch.zeros(1, 1, 1, 8, 8, 8)
    probs[0, 0, 0, 4, 4, 4] = 1.0
    centres = torch.tensor(
        [[[0.0, 0.0, 1.0]]]
    )  # cuboid of 8 m, 1 m voxels, voxel (4,4,4) at (0.5,0.5,1.5)
    at = torch.tensor([[[[0.5, 0.5, 1.5]], [[1.0, 0.5, 1.5]]]]).reshape(1, 1, 2, 3)
    v = heatmap_probability_at(probs.expand(1, 1, 2, 8, 8, 8), at, centres, 8.0)
    assert v[0, 0, 0].item() == pytest.approx(1.0)  # at the voxel centre
    assert v[0, 0, 1].item() == pytest.approx(0.5)  # half a voxel along x: linear weight 1/2


def test_pose_loss_hand():
    centres = torch.zeros(1, 1, 3)
    gt = torch.zeros(1, 1, 2, 3)
    pred = gt + torch.tensor([0.01, 0.0, -0.02])  # L1 = 0.03 m = 30 mm per joint
    probs = torch.full((1, 1, 2, 4, 4, 4), 1.0 / 64)  # uniform over 4³ voxels
    mask = torch.tensor([[[True, False]]])  # second joint not annotated
    loss = pose_loss(pred, probs, centres, 2.0, gt, mask, beta=0.01, l1_scale=1000.0, eps=0.0)
    # 30 + 0.01 · (-log(1/64)) = 30 + 0.01 · 4.158883 = 30.041589
    assert loss.shape == (1, 1)
    assert loss.item() == pytest.approx(30.0 + 0.01 * math.log(64), rel=1e-5)


def test_assign_detections_to_gt():
    det = torch.tensor([[[0.0, 0.0, 1.0], [2.0, 0.0, 1.0], [9.0, 9.0, 1.0]]])
    gt = torch.tensor([[[2.1, 0.0, 1.0], [0.1, 0.1, 1.0]]])
    out = assign_detections_to_gt(det, torch.ones(1, 3, dtype=torch.bool), gt, torch.ones(1, 2, dtype=torch.bool),
                                  max_distance=0.5)  # fmt: skip
    assert out.tolist() == [[1, 0, -1]]  # the far detection is a false positive


def test_assign_detections_a_refused_pair_cannot_push_an_accepted_one_aside():
    # gate 0.5 m, along x: detections A=0, B=1; GT X=0.45, Y=-0.6. Only A-X passes the gate;
    # refused pairs at their own cost would win (0.6 + 0.55 < 0.45 + 1.6) and assign nobody.
    det = torch.tensor([[[0.0, 0.0, 1.0], [1.0, 0.0, 1.0]]])
    gt = torch.tensor([[[0.45, 0.0, 1.0], [-0.6, 0.0, 1.0]]])
    ones = torch.ones(1, 2, dtype=torch.bool)
    assert assign_detections_to_gt(det, ones, gt, ones, max_distance=0.5).tolist() == [[0, -1]]


def test_loss_config_defaults_match_paper():
    c = LossConfig()
    assert (c.alpha, c.beta, c.gamma) == (1.0, 0.01, 0.01)


# --- auxiliary 2D keypoint loss ---------------------------------------------------------------------


def test_keypoint_targets_peak_at_the_projected_pixel():
    # image fraction (u + 0.5) / W: pixel 3 of an 8-wide map is 3.5 / 8; row 5 of a 6-high map 5.5 / 6
    kp = torch.tensor([[[[3.5 / 8, 5.5 / 6], [0.5, 0.5]]]])  # N=1, P=1, Q=2
    mask = torch.tensor([[[True, False]]])
    t = keypoint_targets(kp, mask, (6, 8), sigma=1.0)
    assert t.shape == (1, 2, 6, 8)
    assert t[0, 0, 5, 3] == 1.0 and t[0, 0].argmax() == 5 * 8 + 3
    assert t[0, 0, 5, 4] == pytest.approx(math.exp(-0.5))  # one pixel away, sigma 1
    assert t[0, 0, 4, 4] == pytest.approx(math.exp(-1.0))
    assert t[0, 1].abs().sum() == 0  # masked joint: no target


def test_keypoint_targets_take_the_max_over_people():
    kp = torch.tensor(
        [[[[0.5 / 4, 0.5 / 4]], [[1.5 / 4, 0.5 / 4]]]]
    )  # two people, 1 joint, 1 px apart
    t = keypoint_targets(kp, torch.ones(1, 2, 1, dtype=torch.bool), (4, 4), sigma=1.0)
    assert t[0, 0, 0, 0] == 1.0 and t[0, 0, 0, 1] == 1.0
    assert t[0, 0, 0, 2] == pytest.approx(math.exp(-0.5))


def test_keypoint_loss_hand():
    # B=1, A=1, V=2 views, Q=1 joint, 2×2 maps; view 1 has no usable joint and does not count
    kp = torch.tensor([0.25, 0.25]).expand(1, 1, 2, 1, 1, 2)  # pixel (0, 0)
    mask = torch.tensor([True, False]).view(1, 1, 2, 1, 1)
    target = keypoint_targets(kp[0, 0, :1], mask[0, 0, :1], (2, 2), sigma=1.0)[0, 0]
    pred = torch.zeros(1, 1, 2, 1, 2, 2)
    pred[0, 0, 1] = 5.0  # garbage in the view without joints: ignored
    expected = float((target**2).sum())  # 1 + 2·e^-0.5·² ... summed over the 4 pixels
    assert expected == pytest.approx(1 + 2 * math.exp(-1.0) + math.exp(-2.0))
    assert float(keypoint_loss(pred, kp, mask, sigma=1.0)) == pytest.approx(expected)
    pred[0, 0, 0, 0] = target
    assert float(keypoint_loss(pred, kp, mask, sigma=1.0)) == pytest.approx(0.0, abs=1e-12)


def test_keypoint_focal_loss_hand():
    # 1 view, 1 joint at the centre of pixel (0, 0) of a 1×2 map; sigma 1: targets (1, e^-0.5)
    kp = torch.tensor([0.25, 0.5]).view(1, 1, 1, 1, 1, 2)
    mask = torch.ones(1, 1, 1, 1, 1, dtype=torch.bool)
    pred = torch.tensor([0.8, 0.3]).view(1, 1, 1, 1, 1, 2)
    pos = -((1 - 0.8) ** 2) * math.log(0.8)
    neg = -((1 - math.exp(-0.5)) ** 4) * 0.3**2 * math.log(1 - 0.3)
    got = float(keypoint_loss(pred, kp, mask, sigma=1.0, kind="focal"))
    assert got == pytest.approx(pos + neg, rel=1e-6)  # one joint drawn: divided by 1
    # a joint off the pixel centre is drawn at the centre of the pixel holding it: same loss
    kp_off = torch.tensor([0.1, 0.9]).view(1, 1, 1, 1, 1, 2)
    assert float(keypoint_loss(pred, kp_off, mask, sigma=1.0, kind="focal")) == pytest.approx(got)
    # a perfect prediction costs ~0 (clamped at 1e-4), an all-zero one costs ≈ -log(1e-4)
    perfect = torch.tensor([1.0, 0.0]).view(1, 1, 1, 1, 1, 2)
    assert float(keypoint_loss(perfect, kp, mask, sigma=1.0, kind="focal")) < 1e-6
    zero = torch.zeros(1, 1, 1, 1, 1, 2)
    assert float(keypoint_loss(zero, kp, mask, sigma=1.0, kind="focal")) == pytest.approx(
        -((1 - 1e-4) ** 2) * math.log(1e-4), rel=1e-4
    )
    with pytest.raises(ValueError, match="unknown keypoint loss"):
        keypoint_loss(pred, kp, mask, sigma=1.0, kind="l1")


def test_keypoint_focal_loss_keeps_its_gradient_where_the_mse_loses_it():
    # the failure it fixes: a sigmoid head at p ≈ 0.01 on a missed joint
    kp = torch.tensor([0.25, 0.5]).view(1, 1, 1, 1, 1, 2)
    mask = torch.ones(1, 1, 1, 1, 1, dtype=torch.bool)
    grads = {}
    for kind in ("mse", "focal"):
        logit = torch.full((1, 1, 1, 1, 1, 2), -4.6, requires_grad=True)
        keypoint_loss(torch.sigmoid(logit), kp, mask, sigma=1.0, kind=kind).backward()
        grads[kind] = -float(logit.grad[..., 0])  # pull up at the joint's pixel
    assert grads["mse"] < 0.03 and grads["focal"] > 0.9


def test_keypoint_loss_enters_the_total_with_its_weight():
    from tessetrack.config import apply_overrides, preset

    cfg = apply_overrides(preset("cpu-small"), {"model.backbone.keypoint_head": True})
    assert cfg.loss.keypoint_2d == 0.0  # off unless asked: the paper's eq. (4)
    with pytest.raises(ConfigError, match="keypoint_head"):
        apply_overrides(preset("cpu-small"), {"loss.keypoint_2d": 1.0})
    with pytest.raises(ConfigError, match="feature-input"):
        apply_overrides(preset("cpu-small", "HI"), {"model.backbone.keypoint_head": True})
    with pytest.raises(ConfigError, match="keypoint_loss"):
        apply_overrides(preset("cpu-small"), {"loss.keypoint_loss": "l1"})
