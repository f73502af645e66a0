"""Descriptor merging (learned / average) and the deconvolution pose head."""

from __future__ import annotations

import pytest
import torch

from tessetrack.geometry.voxel_grid import grid_centers
from tessetrack.model.pose_head import DescriptorMerge, PoseHead


def test_average_merge_is_mean_of_valid():
    d = torch.randn(2, 3, 4, 1, 2, 2, 2)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    merged, w = DescriptorMerge(4, 8, learned=False)(d, mask)
    assert torch.allclose(merged[0], (d[0, 0] + d[0, 1]) / 2)  # 2 valid → weights 1/2
    assert torch.allclose(merged[1], d[1, 0])
    assert torch.allclose(w, torch.tensor([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]))


def test_learned_merge_weights():
    torch.manual_seed(0)
    d = torch.randn(2, 3, 4, 3, 2, 2, 2)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    merged, w = DescriptorMerge(4, 8, learned=True)(d, mask)
    assert torch.allclose(w.sum(-1), torch.ones(2)) and w[1, 1] == 0 and w[1, 2] == 0
    assert torch.allclose(merged[1], d[1, 0])  # a single valid descriptor is returned unchanged
    expected = (w[0].view(3, 1, 1, 1, 1, 1) * d[0]).sum(0)  # softmax-weighted sum
    assert torch.allclose(merged[0], expected, atol=1e-6)


@pytest.mark.parametrize(("time_window", "levels"), [(1, 1), (3, 1), (3, 2)])
def test_pose_head_shapes_and_joint_range(time_window, levels):
    torch.manual_seed(0)
    head = PoseHead(
        in_channels=8, num_levels=levels, time_window=time_window, num_joints=19, merge_hidden=4
    )
    side = 8 // 2**levels
    d = torch.randn(3, 2, 8, time_window, side, side, side)
    mask = torch.tensor([[True, True], [True, False], [True, True]])
    centres = torch.tensor([[0.0, 0.0, 1.0], [1.0, 2.0, 1.0], [-1.0, 0.0, 0.5]])
    xyz = grid_centers(centres, torch.full((3,), 2.5), (8, 8, 8))  # 3×8×8×8×3
    out = head(d, mask, xyz)
    assert out.joints.shape == (3, 19, 3) and out.probs.shape == (3, 19, 8, 8, 8)
    assert torch.allclose(out.probs.sum((-3, -2, -1)), torch.ones(3, 19), atol=1e-5)
    # soft-argmax is a convex combination of voxel centres: inside the 2.5 m cuboid (± 1.25 - half voxel)
    half = 1.25 - 2.5 / 16
    assert ((out.joints - centres[:, None]).abs() <= half + 1e-5).all()


def test_skips_are_concatenated_and_required():
    torch.manual_seed(0)
    head = PoseHead(
        in_channels=8, num_levels=2, time_window=3, num_joints=5, merge_hidden=4,
        skip_channels=(6, 4),
    )  # fmt: skip
    d = torch.randn(2, 2, 8, 3, 2, 2, 2)
    mask = torch.tensor([[True, True], [True, False]])
    xyz = grid_centers(torch.zeros(2, 3), torch.full((3,), 2.5), (8, 8, 8))
    skips = [torch.randn(2, 6, 3, 4, 4, 4), torch.randn(2, 4, 3, 8, 8, 8)]  # coarse to fine
    out = head(d, mask, xyz, skips)
    assert out.joints.shape == (2, 5, 3)
    # the fine skip changes the heatmaps: the head really reads it
    other = head(d, mask, xyz, [skips[0], skips[1] + 1.0])
    assert not torch.allclose(out.probs, other.probs)
    with pytest.raises(ValueError, match="built with skips"):
        head(d, mask, xyz)
    plain = PoseHead(in_channels=8, num_levels=2, time_window=3, num_joints=5, merge_hidden=4)
    with pytest.raises(ValueError, match="no skips"):
        plain(d, mask, xyz, skips)
