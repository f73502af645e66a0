"""The full TesseTrack network on tiny configs: every variant runs, gradients reach every parameter,
empty scenes, bfloat16 autocast, varying view counts."""

from __future__ import annotations

import math

import pytest
import torch

from tessetrack.config import Config, apply_overrides, preset
from tessetrack.errors import InputError
from tessetrack.losses import ClipTargets, total_loss
from tessetrack.model.tessetrack import ClipBatch, TesseTrack, build_model, describe
from tessetrack.ops.heatmaps2d import render_detection_heatmaps

# a tiny model: 64×64 images, 8³ whole-space voxels over 8 m, 8³ tesseracts, T = 3, Δt = 1
TINY = {
    "model.backbone.small_width": 4,
    "model.backbone.channels": 8,
    "model.volume.shape": [8, 8, 8],
    "model.volume.fusion_hidden": 4,
    "model.detector.hidden": 4,
    "model.detector.num_blocks": 1,
    "model.tesseract.shape": [8, 8, 8],
    "model.tesseract.channels": [8, 8],
    "model.tesseract.descriptor_dim": 16,
    "model.tesseract.fusion_hidden": 4,
    "model.matcher.layers": 2,
    "model.matcher.heads": 2,
    "model.matcher.sinkhorn_iters": 10,
    "model.pose_head.merge_hidden": 4,
}
VARIANTS = ["HI", "FI", "FT", "FTGA", "FTGL", "FTDL", "FIG"]
IMAGE = 64


def tiny_config(variant: str = "FTDL", **extra) -> Config:
    return apply_overrides(preset("cpu-small", variant), {**TINY, **extra})


def look_at(eye: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """R_cam_from_world, t of a camera at ``eye`` looking at ``target`` (z up, OpenCV axes)."""
    fwd = (target - eye) / (target - eye).norm()
    right = torch.linalg.cross(fwd, torch.tensor([0.0, 0.0, 1.0]))
    right = right / right.norm()
    down = torch.linalg.cross(fwd, right)
    R = torch.stack([right, down, fwd])
    return R, -R @ eye


def ring_rig(b: int, f: int, v: int, size: int = IMAGE) -> dict[str, torch.Tensor]:
    """V cameras on a 5 m ring at 2 m height looking at (0, 0, 1); (B, F, V, ...) tensors."""
    Rs, ts = [], []
    for i in range(v):
        a = 2 * math.pi * i / v
        R, t = look_at(
            torch.tensor([5 * math.cos(a), 5 * math.sin(a), 2.0]), torch.tensor([0.0, 0.0, 1.0])
        )
        Rs.append(R)
        ts.append(t)
    K = torch.tensor([[40.0, 0.0, size / 2], [0.0, 40.0, size / 2], [0.0, 0.0, 1.0]])

    def ex(x: torch.Tensor) -> torch.Tensor:
        return x.expand(b, f, *x.shape[-(x.ndim - 2) :]).clone()

    return {
        "K": ex(K.expand(1, 1, v, 3, 3)),
        "R": ex(torch.stack(Rs)[None, None]),
        "t": ex(torch.stack(ts)[None, None]),
        "dist": torch.zeros(b, f, v, 5),
        "image_size": torch.full((b, f, v, 2), float(size)),
        "view_mask": torch.ones(b, f, v, dtype=torch.bool),
    }


def make_clip(cfg: Config, b: int = 2, v: int = 3, p: int = 2, teacher: bool = True, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    f = cfg.model.clip_length
    rig = ring_rig(b, f, v)
    centres = torch.tensor([[0.3, 0.2, 1.0], [-0.5, 0.4, 1.0], [0.8, -0.6, 1.0]])[:p]
    centres = centres.expand(b, 2, p, 3).clone()
    mask = torch.ones(b, 2, p, dtype=torch.bool)
    if p > 1:
        mask[-1, 1, -1] = False  # last person leaves before anchor t+Δt in the last clip
    batch = ClipBatch(
        images=torch.rand(b, f, v, 3, IMAGE, IMAGE, generator=g),
        gt_centres=centres if teacher else None,
        gt_mask=mask if teacher else None,
        **rig,
    )
    joints = centres[:, :, :, None] + 0.1 * torch.randn(b, 2, p, 19, 3, generator=g)
    targets = ClipTargets(centres, mask, joints, torch.ones(b, 2, p, 19, dtype=torch.bool))
    return batch, targets


@pytest.fixture(scope="module")
def ftdl() -> TesseTrack:
    torch.manual_seed(0)
    return build_model(tiny_config("FTDL"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_builds_and_runs(variant):
    cfg = tiny_config(variant)
    torch.manual_seed(0)
    model = build_model(cfg)
    batch, targets = make_clip(cfg)
    out = model(batch)
    b, p, q = 2, 2, 19
    assert out.joints.shape == (b, 2, p, q, 3)
    assert out.joint_probs.shape == (b, 2, p, q, 8, 8, 8)
    assert out.centre_heatmaps.shape == (b, 2, 8, 8, 8)
    assert torch.isfinite(out.joints).all() and torch.isfinite(out.centre_heatmaps).all()
    assert (out.match is None) == (cfg.model.variant.matcher == "none")
    if cfg.model.variant.matcher == "learned":
        assert out.match.log_P.shape == (b, p + 1, p + 1)
    loss = total_loss(out, targets, model.grid, cfg.loss)
    assert all(torch.isfinite(x) for x in loss)
    # the instantaneous variants use T = 1 descriptors
    assert out.descriptors.shape[4] == (3 if cfg.model.variant.temporal else 1)


@pytest.mark.parametrize("views", [1, 3, 5])
def test_view_counts(ftdl, views):
    batch, _ = make_clip(ftdl_config := tiny_config("FTDL"), b=1, v=views)
    out = ftdl(batch)
    assert out.joints.shape == (1, 2, 2, 19, 3)
    assert out.descriptor_vectors.shape == (1, 2, 2, 16)
    assert ftdl_config.model.clip_length == 4  # T + Δt = 3 + 1


def test_every_parameter_gets_a_gradient():
    cfg = tiny_config("FTDL")
    torch.manual_seed(0)
    model = build_model(cfg)
    batch, targets = make_clip(cfg)
    loss = total_loss(model(batch), targets, model.grid, cfg.loss)
    loss.total.backward()
    missing = [
        n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert missing == []
    assert model.backbone.stem[0].weight.grad.abs().sum() > 0  # reached the first image conv
    assert loss.tracking > 0 and loss.detection > 0 and loss.pose > 0


@pytest.mark.parametrize("skips", [False, True])
def test_keypoint_head_and_refined_pose_head_get_gradients(skips):
    from dataclasses import replace

    cfg = tiny_config(
        "FTDL",
        **{
            "model.backbone.keypoint_head": True,
            "model.pose_head.refine": True,
            "model.pose_head.skips": skips,
            "loss.keypoint_2d": 10.0,
        },
    )
    torch.manual_seed(1)
    model = build_model(cfg)
    batch, targets = make_clip(cfg, v=2)
    b, v, p, q = 2, 2, 2, 19
    g = torch.Generator().manual_seed(1)
    targets = replace(
        targets,
        keypoints=torch.rand(b, 2, v, p, q, 2, generator=g),
        keypoint_mask=torch.ones(b, 2, v, p, q, dtype=torch.bool),
    )
    out = model(batch)
    assert out.keypoint_heatmaps.shape == (b, 2, v, q, IMAGE // 4, IMAGE // 4)
    assert float(out.keypoint_heatmaps.detach().mean()) < 0.05  # low prior: starts near zero
    loss = total_loss(out, targets, model.grid, cfg.loss)
    assert loss.keypoints > 0
    expected = loss.detection + loss.tracking + 0.01 * loss.pose + 10.0 * loss.keypoints
    assert torch.allclose(loss.total, expected)
    loss.total.backward()
    missing = [
        n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert missing == []
    from tessetrack.model.descriptor import Conv4dBlock

    levels = len(cfg.model.tesseract.channels) - 1
    assert sum(isinstance(m, Conv4dBlock) for m in model.pose_head.deconv) == levels >= 1


def test_teacher_forcing_merges_gt_partners(ftdl):
    batch, _ = make_clip(tiny_config("FTDL"))
    out = ftdl(batch)
    w = out.merge_weights  # B×A×P×2
    assert torch.allclose(w[:, 0, :, 0], torch.ones(2, 2))  # anchor t: its own descriptor only
    assert w[-1, 1, -1, 1] == 0  # that person is absent at t+Δt's partner check → not merged
    assert torch.allclose(w.sum(-1)[out.person_mask], torch.ones(int(out.person_mask.sum())))


def test_empty_scene(ftdl):
    cfg = tiny_config("FTDL")
    batch, _ = make_clip(cfg, p=0)
    out = ftdl(batch)  # no GT people
    assert out.person_mask.sum() == 0 and torch.isfinite(out.joints).all()
    targets = ClipTargets(torch.zeros(2, 2, 0, 3), torch.zeros(2, 2, 0, dtype=torch.bool),
                          torch.zeros(2, 2, 0, 19, 3), torch.zeros(2, 2, 0, 19, dtype=torch.bool))  # fmt: skip
    loss = total_loss(out, targets, ftdl.grid, cfg.loss)
    assert torch.isfinite(loss.total) and loss.tracking == 0 and loss.pose == 0
    loss.total.backward()
    # inference with nothing above threshold: no detections at all
    model = build_model(tiny_config("FTDL", **{"model.detector.threshold": 1.0}))
    batch, _ = make_clip(cfg, teacher=False)
    with torch.no_grad():
        out = model(batch)
    assert out.detection_valid.sum() == 0 and out.person_mask.sum() == 0
    assert torch.isfinite(out.joints).all()
    assert (out.match.matches0 == -1).all()


def test_inference_uses_detections():
    model = build_model(tiny_config("FTDL", **{"model.detector.threshold": 0.0}))
    batch, targets = make_clip(tiny_config("FTDL"), teacher=False)
    with torch.no_grad():
        out = model(batch)
    assert not out.teacher_forced
    assert torch.equal(out.person_mask, out.detection_valid)
    k = tiny_config("FTDL").model.detector.max_people
    assert out.joints.shape == (2, 2, k, 19, 3)
    loss = total_loss(out, targets, model.grid, tiny_config("FTDL").loss)
    assert torch.isfinite(loss.total)


def test_autocast_bfloat16_cpu(ftdl):
    batch, _ = make_clip(tiny_config("FTDL"), b=1)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = ftdl(batch)
    assert torch.isfinite(out.joints.float()).all()
    assert torch.isfinite(out.match.log_P[out.match.log_P > -math.inf]).all()


def test_heatmap_variant_with_external_detections():
    cfg = tiny_config("HI")
    model = build_model(cfg)
    batch, _ = make_clip(cfg, b=1, v=2)
    f = cfg.model.clip_length
    kp = torch.rand(f * 2, 1, 19, 3) * torch.tensor([16.0, 16.0, 1.0])  # one person per image
    hm = render_detection_heatmaps(kp, (16, 16), sigma=2.0).reshape(1, f, 2, 19, 16, 16)
    ext = ClipBatch(heatmaps=hm, images=None, gt_centres=batch.gt_centres, gt_mask=batch.gt_mask,
                    K=batch.K, R=batch.R, t=batch.t, dist=batch.dist, image_size=batch.image_size,
                    view_mask=batch.view_mask)  # fmt: skip
    out = model(ext)
    assert torch.isfinite(out.joints).all() and out.joints.shape == (1, 2, 2, 19, 3)


def test_views_may_change_over_time(ftdl):
    batch, _ = make_clip(tiny_config("FTDL"), b=1, v=3)
    batch.view_mask[0, 1:, 2] = False  # the third camera drops out after the first frame
    out = ftdl(batch)
    assert torch.isfinite(out.joints).all()


def test_short_clip_is_refused(ftdl):
    batch, _ = make_clip(tiny_config("FTDL"))
    short = ClipBatch(**{k: (getattr(batch, k)[:, :2] if k not in ("gt_centres", "gt_mask") else getattr(batch, k))
                         for k in ("K", "R", "t", "dist", "image_size", "view_mask", "images", "gt_centres", "gt_mask")})  # fmt: skip
    with pytest.raises(InputError, match="at least"):
        ftdl(short)


def test_describe_counts(ftdl):
    counts = describe(ftdl)
    assert counts["total"] == sum(p.numel() for p in ftdl.parameters())
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
    assert set(counts) >= {"backbone", "detector", "descriptor", "matcher", "pose_head"}


def test_total_loss_is_eq4_combination(ftdl):
    cfg = apply_overrides(tiny_config("FTDL"), {"loss.alpha": 2.0, "loss.gamma": 0.5})
    batch, targets = make_clip(cfg)
    with torch.no_grad():
        loss = total_loss(ftdl(batch), targets, ftdl.grid, cfg.loss)
    # L = L_D + α·L_T + γ·Σ_p L_P with α = 2, γ = 0.5
    assert loss.total.item() == pytest.approx(
        (loss.detection + 2.0 * loss.tracking + 0.5 * loss.pose).item()
    )


def test_cpu_small_preset_trains_one_step():
    cfg = preset("cpu-small")
    torch.manual_seed(0)
    model = build_model(cfg)
    batch, targets = make_clip(cfg, b=1, v=3)
    loss = total_loss(model(batch), targets, model.grid, cfg.loss)
    loss.total.backward()
    assert torch.isfinite(loss.total)
    assert all(p.grad is not None for p in model.parameters())
