"""Views -> voxels: feature sampling at projected points and softmax view fusion."""

from __future__ import annotations

import math

import pytest
import torch

from tessetrack.errors import InputError
from tessetrack.geometry.camera import pixel_to_ray
from tessetrack.ops.unproject import ViewFusion, pixels_to_grid_sample, sample_views

D = torch.float64
W, H = 64, 48  # original image
w, h = 32, 24  # feature map (stride 2)


def _rot_y(a: float) -> torch.Tensor:
    c, s = math.cos(a), math.sin(a)
    return torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=D)


def _rig(b: int, v: int) -> dict[str, torch.Tensor]:
    """V cameras 4 m from the origin, all looking at it (origin at depth 4 on the optical axis)."""
    K = torch.tensor([[100.0, 0.0, 31.5], [0.0, 100.0, 23.5], [0.0, 0.0, 1.0]], dtype=D)
    R = torch.stack([_rot_y(2 * math.pi * i / v) for i in range(v)])  # V×3×3
    t = torch.tensor([0.0, 0.0, 4.0], dtype=D).expand(v, 3)
    dist = torch.tensor([-0.05, 0.01, 0.001, -0.002, 0.0], dtype=D).expand(v, 5)
    size = torch.tensor([W, H], dtype=D).expand(v, 2)
    return {
        "K": K.expand(b, v, 3, 3),
        "R": R.expand(b, v, 3, 3),
        "t": t.expand(b, v, 3),
        "dist": dist.expand(b, v, 5),
        "image_size": size.expand(b, v, 2),
    }


def _features(b: int, v: int, c: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, v, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=D)


def test_pixel_convention_edges_and_centres() -> None:
    size = torch.tensor([64.0, 48.0])
    # outer edges of the image (u = -0.5 and u = W - 0.5) are -1 and +1; (2·31.5 + 1)/64 - 1 = 0
    uv = torch.tensor([[-0.5, -0.5], [63.5, 47.5], [31.5, 23.5]])
    torch.testing.assert_close(
        pixels_to_grid_sample(uv, size), torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]])
    )


@pytest.mark.parametrize("v", [1, 3, 5])
def test_shapes(v: int) -> None:
    b, c, n = 2, 4, 7
    pts = torch.rand(b, n, 3, generator=torch.Generator().manual_seed(1), dtype=D) - 0.5
    sampled, valid = sample_views(_features(b, v, c), pts, **_rig(b, v))
    assert sampled.shape == (b, v, c, n) and valid.shape == (b, v, n)
    assert valid.all()  # points within 0.5 m of the origin are seen by every camera
    fused = ViewFusion(c, hidden=8).to(D)(sampled, valid)
    assert fused.shape == (b, c, n)


def test_single_view_reads_the_feature_at_the_projected_pixel() -> None:
    b, c = 2, 3
    cams = _rig(b, 1)
    feats = _features(b, 1, c, seed=2)
    # feature pixel (i, j) has its centre at image pixel (2i + 0.5, 2j + 0.5): (i + 0.5)·64/32 - 0.5
    ij = torch.tensor([[0, 0], [31, 23], [5, 17], [20, 3], [12, 12]])
    uv = (ij.to(D) + 0.5) * 2 - 0.5  # N×2
    origin, direction = pixel_to_ray(
        uv, cams["K"][0, 0], cams["R"][0, 0], cams["t"][0, 0], cams["dist"][0, 0]
    )
    depth = torch.tensor([3.0, 3.5, 4.0, 4.5, 5.0], dtype=D)[:, None]
    pts = (origin + depth * direction).expand(b, -1, 3)  # B×N×3, undistortion then re-projection
    sampled, valid = sample_views(feats, pts, **cams)
    assert valid.all()
    expected = feats[:, 0, :, ij[:, 1], ij[:, 0]]  # B×C×N: rows are v (j), columns u (i)
    torch.testing.assert_close(sampled[:, 0], expected, atol=1e-8, rtol=0)
    fused = ViewFusion(c).to(D)(sampled, valid)  # one view: weight 1
    torch.testing.assert_close(fused, expected, atol=1e-8, rtol=0)


def test_validity_behind_outside_and_missing_views() -> None:
    cams = _rig(1, 2)
    feats = _features(1, 2, 2)
    pts = torch.tensor(
        [
            [
                [0.0, 0.0, 0.0],  # centre: seen by both
                [
                    0.0,
                    0.0,
                    8.0,
                ],  # camera 0 is at z = -4 looking +z; camera 1 (rotated 180°) is at z = +4
                [3.0, 0.0, 0.0],
            ]
        ],  # depth 4 for camera 0, x = 3 m -> u = 31.5 + 75 > 64: outside
        dtype=D,
    )
    sampled, valid = sample_views(feats, pts, **cams)
    assert valid[0, 0].tolist() == [True, True, False]
    assert valid[0, 1].tolist() == [True, False, False]  # behind camera 1 (depth -4), outside
    assert (sampled[~valid[:, :, None].expand_as(sampled)] == 0).all()
    _, valid_masked = sample_views(feats, pts, **cams, view_mask=torch.tensor([[False, True]]))
    assert valid_masked[0, 0].tolist() == [False, False, False]


def test_invalid_view_never_contributes_and_per_batch_view_masks() -> None:
    b, v, c, n = 2, 3, 4, 6
    cams = _rig(b, v)
    pts = torch.rand(b, n, 3, generator=torch.Generator().manual_seed(3), dtype=D) - 0.5
    view_mask = torch.tensor([[True, False, True], [True, True, False]])
    fusion = ViewFusion(c, hidden=16).to(D)
    feats = _features(b, v, c, seed=4)
    sampled, valid = sample_views(feats, pts, **cams, view_mask=view_mask)
    fused = fusion(sampled, valid)
    # garbage in the missing views changes nothing
    feats2 = feats.clone()
    feats2[0, 1] = 1e6
    feats2[1, 2] = -1e6
    fused2 = fusion(*sample_views(feats2, pts, **cams, view_mask=view_mask))
    torch.testing.assert_close(fused, fused2)
    # each element equals running it alone on its present views only
    for bi in range(b):
        keep = view_mask[bi]
        cams_i = {k: x[bi : bi + 1, keep] for k, x in cams.items()}
        ref = fusion(*sample_views(feats[bi : bi + 1, keep], pts[bi : bi + 1], **cams_i))
        torch.testing.assert_close(fused[bi : bi + 1], ref)
    # weights sum to 1 over the valid views of a voxel
    wts = fusion.weights(sampled, valid)
    torch.testing.assert_close(wts.sum(1), torch.ones(b, n, dtype=D))
    assert (wts[~valid] == 0).all()


def test_voxel_seen_by_no_view_is_zero_and_gradients_are_finite() -> None:
    b, v, c = 1, 3, 2
    cams = _rig(b, v)
    feats = _features(b, v, c, seed=5).requires_grad_()
    pts = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 50.0, 0.0]]], dtype=D)  # second: far above all
    fusion = ViewFusion(c, hidden=4).to(D)
    sampled, valid = sample_views(feats, pts, **cams)
    assert valid[0, :, 1].tolist() == [False, False, False]
    fused = fusion(sampled, valid)
    assert (fused[0, :, 1] == 0).all()
    fused.sum().backward()
    assert torch.isfinite(feats.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in fusion.parameters())


def test_gradcheck_sampling_and_fusion() -> None:
    b, v, c = 1, 2, 2
    cams = _rig(b, v)
    g = torch.Generator().manual_seed(6)
    # a coarse 8×6 feature map of the 64×48 image keeps the numerical Jacobian small
    feats = torch.randn(b, v, c, 6, 8, generator=g, dtype=D, requires_grad=True)
    pts = (torch.rand(b, 3, 3, generator=g, dtype=D) - 0.5).requires_grad_()
    fusion = ViewFusion(c, hidden=4).to(D)
    assert torch.autograd.gradcheck(lambda f, p: fusion(*sample_views(f, p, **cams)), (feats, pts))


def test_float32_features_with_float64_cameras() -> None:
    cams = _rig(1, 2)
    feats = _features(1, 2, 3).float()
    sampled, _ = sample_views(feats, torch.zeros(1, 1, 3, dtype=D), **cams)
    assert sampled.dtype == torch.float32


def test_bad_shapes_raise() -> None:
    cams = _rig(1, 2)
    with pytest.raises(InputError):
        sample_views(_features(1, 3, 2), torch.zeros(1, 1, 3, dtype=D), **cams)
    with pytest.raises(InputError):
        sample_views(_features(1, 2, 2), torch.zeros(1, 3, dtype=D), **cams)
    with pytest.raises(InputError):
        ViewFusion(3)(torch.zeros(1, 2, 4, 5), torch.ones(1, 2, 5, dtype=torch.bool))


@pytest.mark.parametrize(
    ("m", "n", "chunk", "calls"),
    [
        # blocks only beyond 4 · chunk positions
        (13, 10, 30, 5),  # 130 > 120: 3 whole rows per block, 13 rows → 3 + 3 + 3 + 3 + 1
        (3, 50, 16, 12),  # 150 > 64, rows longer than a block: 3 × (16 + 16 + 16 + 2 columns)
        (4, 6, 8, 1),  # 4 · 6 = 24 <= 32 positions: a single call
    ],
)
def test_chunked_scores_equal_one_conv1d_call(m: int, n: int, chunk: int, calls: int) -> None:
    # the blocks are a speed device only: logits and every gradient equal the plain nn.Conv1d net
    c, hidden = 5, 16
    torch.manual_seed(0)
    fusion = ViewFusion(c, hidden=hidden, chunk=chunk)
    seen: list[tuple[int, ...]] = []
    hook = fusion.score.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape))
    x = torch.randn(m, c, n, generator=torch.Generator().manual_seed(7), requires_grad=True)
    g_out = torch.randn(m, 1, n, generator=torch.Generator().manual_seed(8))
    out = fusion.scores(x)
    hook.remove()
    assert len(seen) == calls and all(r * k <= (chunk if calls > 1 else m * n) for r, _, k in seen)
    grads = torch.autograd.grad(out, [x, *fusion.parameters()], g_out)
    ref = fusion.score(x)  # one call on all M·N positions
    ref_grads = torch.autograd.grad(ref, [x, *fusion.parameters()], g_out)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r, atol=1e-5, rtol=1e-5)


def test_fusion_parameters_keep_their_checkpoint_names_and_shapes() -> None:
    # checkpoints written before the blocked scoring must still load
    shapes = {k: tuple(v.shape) for k, v in ViewFusion(19, hidden=16, chunk=8).state_dict().items()}
    assert shapes == {
        "score.0.weight": (16, 19, 1),
        "score.0.bias": (16,),
        "score.2.weight": (1, 16, 1),
        "score.2.bias": (1,),
    }
    with pytest.raises(InputError):
        ViewFusion(3, chunk=0)
