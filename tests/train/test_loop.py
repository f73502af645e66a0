"""Training loop: a short run learns, resume is exact, other configs are refused, DDP replicas agree."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys

import pytest
import torch
import yaml

from tessetrack.config import apply_overrides, preset
from tessetrack.errors import CheckpointError, ConfigError, InputError
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.train.loop import TrainSettings, train
from tiny_network import TINY_NETWORK

TINY = TINY_NETWORK


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A tiny synthetic scene: ring of 2 cameras, 2 people, 4 frames (one clip of T + Δt = 3 + 1), 64²."""
    out = tmp_path_factory.mktemp("synth") / "tiny"
    generate_dataset(
        out,
        SynthConfig(
            rig="ring",
            num_cameras=2,
            num_people=2,
            num_frames=4,
            image_size=(64, 64),
            detections=None,
            seed=3,
        ),
    )
    return out


def _config(scene, **train):
    settings = {
        "data": [str(scene)],
        "steps": 4,
        "image_size": [64, 64],
        "log_every": 1,
        "checkpoint_every": 2,
        "val_every": 100,
        "max_people": 3,
        "min_views": 2,
        "warmup_steps": 1,
        "lr": 3e-3,
        **train,
    }
    return apply_overrides(
        preset("cpu-small"), {**TINY, **{f"train.{k}": v for k, v in settings.items()}}
    )


def _losses(run_dir):
    with (run_dir / "log.csv").open() as fh:
        return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(fh)}


def test_short_run_lowers_the_loss(scene, tmp_path):
    # One clip, seen over and over: 12 AdamW steps must bring the joint loss of eq. (4) down.
    result = train(_config(scene, steps=12), tmp_path / "run")
    losses = _losses(tmp_path / "run")
    assert result.step == 12 and len(losses) == 12
    assert losses[12] < 0.8 * losses[1], losses
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["step"] == 12 and (tmp_path / "run" / "curves.png").is_file()


def test_kill_and_resume_reproduces_the_next_step(scene, tmp_path):
    # view dropout and centre jitter on: the clip RNG must be replayed too
    cfg = _config(scene, steps=4, min_views=1, centre_jitter=0.05)
    train(cfg, tmp_path / "straight")
    train(cfg, tmp_path / "resumed", max_steps_this_run=2)  # "killed" after step 2 (checkpointed)
    assert max(_losses(tmp_path / "resumed")) == 2
    train(cfg, tmp_path / "resumed")  # resumes at step 2
    a, b = _losses(tmp_path / "straight"), _losses(tmp_path / "resumed")
    assert sorted(b) == [1, 2, 3, 4]
    for step in (3, 4):
        assert b[step] == pytest.approx(a[step], rel=1e-5), (step, a, b)


def test_resume_with_another_model_config_is_refused(scene, tmp_path):
    train(_config(scene, steps=1), tmp_path / "run")
    other = apply_overrides(_config(scene, steps=2), {"model.tesseract.descriptor_dim": 32})
    with pytest.raises(
        CheckpointError, match=r"model\.tesseract\.descriptor_dim: expected 32, checkpoint has 16"
    ):
        train(other, tmp_path / "run")


def test_bad_train_settings_are_refused():
    with pytest.raises(ConfigError, match="train.optimiser: unknown setting"):
        TrainSettings.from_mapping({"optimiser": "adam"})
    with pytest.raises(ConfigError, match=r"train.centre_jitter: must be in \[0, 1\] m"):
        TrainSettings.from_mapping({"centre_jitter": -0.1})
    with pytest.raises(ConfigError, match="train.paste_people: must be >= 0"):
        TrainSettings.from_mapping({"paste_people": -1})
    with pytest.raises(ConfigError, match=r"train.paste_near: must be in \[0, 1\]"):
        TrainSettings.from_mapping({"paste_near": 1.5})
    with pytest.raises(ConfigError, match=r"train.color_jitter: must be in \[0, 1\)"):
        TrainSettings.from_mapping({"color_jitter": 1.0})
    with pytest.raises(ConfigError, match=r"train.single_view_prob: must be in \[0, 1\]"):
        TrainSettings.from_mapping({"single_view_prob": 1.2})


def test_colour_jitter_per_view_factors_against_a_hand_computation():
    import numpy as np

    from tessetrack.model.tessetrack import ClipBatch
    from tessetrack.train.loop import jitter_colours

    B, F, V = 2, 3, 4
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(B, F, V, 3, 8, 8, generator=gen, dtype=torch.float64) * 0.5 + 0.25
    z = torch.zeros
    batch = ClipBatch(
        K=z(B, F, V, 3, 3), R=z(B, F, V, 3, 3), t=z(B, F, V, 3), dist=z(B, F, V, 5),
        image_size=z(B, F, V, 2), view_mask=torch.ones(B, F, V, dtype=torch.bool), images=images,
    )  # fmt: skip
    out = jitter_colours(batch, 0.2, np.random.default_rng(7))
    # the same draws, applied by hand to one (clip, view) at a time
    rng = np.random.default_rng(7)
    gain, contrast = rng.uniform(0.8, 1.2, (B, V)), rng.uniform(0.8, 1.2, (B, V))
    channel = rng.uniform(0.8, 1.2, (B, V, 3))
    for b in range(B):
        for v in range(V):
            x = images[b, :, v].numpy()  # F×3×H×W: every frame of one camera
            m = x.mean()
            want = (m + (x - m) * contrast[b, v]) * gain[b, v] * channel[b, v][:, None, None]
            np.testing.assert_allclose(out.images[b, :, v].numpy(), np.clip(want, 0, 1))
    assert out.K is batch.K and out.view_mask is batch.view_mask  # nothing else moves
    assert float(out.images.min()) >= 0.0 and float(out.images.max()) <= 1.0
    assert not torch.equal(out.images, images)
    assert jitter_colours(batch, 0.0, np.random.default_rng(0)) is batch
    no_images = ClipBatch(**{**batch.__dict__, "images": None})
    assert jitter_colours(no_images, 0.2, np.random.default_rng(0)) is no_images


def test_centre_jitter_moves_only_the_tesseract_centres(scene):
    import numpy as np

    from tessetrack.data import open_dataset
    from tessetrack.train.clips import ClipSpec, collate_clips, make_clip
    from tessetrack.train.loop import jitter_centres

    ds = open_dataset(scene)
    spec = ClipSpec(length=4, anchors=(1, 2), image_size=(64, 64), max_people=3, min_views=2)
    clip = make_clip([ds[i] for i in range(4)], spec, np.random.default_rng(0), with_images=False)
    batch, targets = collate_clips([clip] * 6, teacher_forcing=True)
    c = batch.gt_centres  # 6×2×P×3
    out = jitter_centres(batch, 0.1, np.random.default_rng(0))
    d = (out.gt_centres - c).numpy()
    assert out.gt_centres.dtype == c.dtype and d.shape == tuple(c.shape)
    assert 0.06 < d.std() < 0.14 and abs(d.mean()) < 0.05  # N(0, 0.1) per axis
    assert torch.equal(targets.centres, c)  # the loss keeps the true centres
    assert out.images is batch.images and out.K is batch.K  # nothing else moves
    again = jitter_centres(batch, 0.1, np.random.default_rng(0)).gt_centres
    assert torch.equal(again, out.gt_centres)  # the step's generator fixes the noise
    assert jitter_centres(batch, 0.0, np.random.default_rng(0)) is batch
    untaught, _ = collate_clips([clip], teacher_forcing=False)
    assert jitter_centres(untaught, 0.1, np.random.default_rng(0)) is untaught

    with pytest.raises(ConfigError, match="train.steps: must be >= 1"):
        TrainSettings.from_mapping({"steps": 0})


def test_tensorboard_logs_hold_the_train_and_val_curves(scene, tmp_path):
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator"
    )
    train(
        _config(scene, steps=3, val_every=3, val_clips=1, val_data=[str(scene)]), tmp_path / "run"
    )
    acc = event_accumulator.EventAccumulator(str(tmp_path / "run" / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/detection", "train/pose", "val/mpjpe_mm"} <= tags
    assert [e.step for e in acc.Scalars("train/loss")] == [1, 2, 3]
    logged = {e.step: e.value for e in acc.Scalars("train/loss")}
    assert logged == pytest.approx(
        _losses(tmp_path / "run"), rel=1e-6
    )  # the same numbers as log.csv
    assert [e.step for e in acc.Scalars("val/mpjpe_mm")] == [3]


def test_amp_run_computes_in_bfloat16_and_never_writes_nan_weights(scene, tmp_path):
    # train.amp: the forward runs under bf16 autocast; the loss of the same first clip stays close
    # to the float32 one. On CPU the bf16 backward often gives an infinite gradient norm (not
    # deterministically): such updates are skipped, so no NaN reaches the weights or the losses.
    from tessetrack.train.checkpoints import load_checkpoint

    train(_config(scene, steps=2), tmp_path / "fp32")
    train(_config(scene, steps=3, amp=True), tmp_path / "amp")
    fp32, amp = _losses(tmp_path / "fp32"), _losses(tmp_path / "amp")
    assert len(amp) == 3 and all(math.isfinite(v) for v in amp.values())
    assert amp[1] == pytest.approx(fp32[1], rel=0.05) and amp[1] != fp32[1]
    weights = load_checkpoint(tmp_path / "amp" / "last.safetensors").weights
    assert {w.dtype for w in weights.values() if w.is_floating_point()} == {torch.float32}
    assert all(bool(torch.isfinite(w).all()) for w in weights.values() if w.is_floating_point())


def test_a_non_finite_gradient_skips_the_update(scene, tmp_path, monkeypatch, caplog):
    # force an infinite gradient norm at every step: the weights must stay the initial ones
    import logging

    import tessetrack.train.loop as loop
    from tessetrack.train.checkpoints import load_checkpoint

    monkeypatch.setattr(
        loop.nn.utils, "clip_grad_norm_", lambda params, max_norm: torch.tensor(math.inf)
    )
    with caplog.at_level(logging.WARNING, logger=loop.log.name):
        train(_config(scene, steps=2), tmp_path / "run")
    assert caplog.text.count("update skipped") == 2
    monkeypatch.undo()
    train(_config(scene, steps=2), tmp_path / "initial", max_steps_this_run=0)  # saves step 0
    a = load_checkpoint(tmp_path / "run" / "last.safetensors").weights
    b = load_checkpoint(tmp_path / "initial" / "last.safetensors").weights
    params = [k for k in a if "running_" not in k and "num_batches" not in k]  # BN stats do move
    assert params and all(torch.equal(a[k], b[k]) for k in params)


def test_two_gloo_ranks_hold_identical_weights(scene, tmp_path):
    # 5 steps: after step 5 the ranks' BatchNorm statistics differ (each updates them from its own
    # clip), and the replica check failed until the checkpoint took rank 0's buffers first, as
    # DDP's next forward would
    cfg = _config(scene, steps=5, min_views=1)
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg.to_dict()))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "tessetrack",
        "train",
        "--config",
        str(cfg_file),
        "--output",
        str(tmp_path / "ddp"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "ddp" / "report.json").read_text())
    # Each rank drew different clips (seeded by rank), yet DDP's gradient averaging keeps replicas equal.
    assert report["world_size"] == 2 and report["step"] == 5
    digests = report["weights_sha1_per_rank"]
    assert len(digests) == 2 and digests[0] == digests[1]


def _rank_pids(launcher_pid: int) -> dict[int, int]:
    """{RANK: pid} of the worker processes under a torchrun launcher (Linux /proc)."""
    found: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            environ = open(f"/proc/{entry}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) != launcher_pid:
            continue
        for var in environ:
            if var.startswith(b"RANK="):
                found[int(var[5:])] = int(entry)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the ranks through /proc")
def test_a_signal_to_one_rank_stops_all_ranks_at_the_same_step(scene, tmp_path):
    # SIGTERM to rank 1 only: the ranks agree on the stop once per step, so both checkpoint the same
    # step and exit cleanly (before, rank 1 died and rank 0 was left in a collective).
    import signal
    import time

    cfg = _config(scene, steps=10_000, min_views=1, checkpoint_every=10_000)
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg.to_dict()))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "tessetrack", "train", "--config", str(cfg_file), "--output", str(tmp_path / "d")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            log = tmp_path / "d" / "log.csv"
            if log.is_file() and len(log.read_text().splitlines()) >= 3:  # two steps done
                break
            time.sleep(0.5)
        ranks = _rank_pids(proc.pid)
        assert set(ranks) == {0, 1}, ranks
        os.kill(ranks[1], signal.SIGTERM)
        _, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    report = json.loads((tmp_path / "d" / "report.json").read_text())
    assert 2 <= report["step"] < 10_000
    digests = report["weights_sha1_per_rank"]
    assert len(digests) == 2 and digests[0] == digests[1]


def test_resume_accepts_a_checkpoint_from_before_a_new_default_field(scene, tmp_path):
    # A run checkpointed by an older version lacks config fields added since; they take defaults.
    from tessetrack.train.checkpoints import load_checkpoint, save_checkpoint

    cfg = _config(scene, steps=2)
    train(apply_overrides(cfg, {"train.steps": 1}), tmp_path / "run")
    ck = load_checkpoint(tmp_path / "run" / "last.safetensors", with_state=True)
    old_config = ck.config
    del old_config["model"]["tesseract"]["activation_checkpointing"]
    save_checkpoint(
        tmp_path / "run" / "last.safetensors", ck.weights, old_config, ck.meta, ck.state
    )
    assert train(cfg, tmp_path / "run").step == 2


def test_warm_start_from_another_run(scene, tmp_path):
    # init_from copies weights only: a new run starts at step 0 from the source run's weights.
    cfg = _config(scene, steps=2)
    train(apply_overrides(cfg, {"train.steps": 1}), tmp_path / "a")
    warm = apply_overrides(
        cfg, {"train.steps": 1, "train.init_from": str(tmp_path / "a" / "last.safetensors")}
    )
    assert train(warm, tmp_path / "b").step == 1
    from tessetrack.train.checkpoints import load_checkpoint

    a = load_checkpoint(tmp_path / "a" / "last.safetensors").weights
    b = load_checkpoint(tmp_path / "b" / "last.safetensors").weights
    assert a.keys() == b.keys() and any(
        not (a[k] == b[k]).all() for k in a
    )  # trained on from a's weights
    other = apply_overrides(warm, {"model.tesseract.descriptor_dim": 32})
    with pytest.raises(CheckpointError, match="weights do not fit this model"):
        train(other, tmp_path / "c")


@pytest.fixture(scope="module")
def poses_only(tmp_path_factory):
    """The ``scene`` fixture's rig and people without images (for heatmap-input models)."""
    out = tmp_path_factory.mktemp("synth") / "poses_only"
    generate_dataset(
        out,
        SynthConfig(
            rig="ring", num_cameras=2, num_people=2, num_frames=4, image_size=(64, 64),
            images=False, detections=None, seed=3,
        ),
    )  # fmt: skip
    return out


def test_heatmap_model_trains_on_simulated_detections(poses_only, tmp_path):
    # Variant H with the temporal tesseract: no images at all, 2D detections simulated per clip.
    cfg = apply_overrides(
        _config(poses_only, steps=12, detection_noise={"false_positives_per_image": 0.0}),
        {"model.variant.input": "heatmaps"},
    )
    train(cfg, tmp_path / "run")
    losses = _losses(tmp_path / "run")
    assert len(losses) == 12 and losses[12] < 0.8 * losses[1], losses


def test_heatmap_model_on_images_trains_through_its_2d_network(scene, poses_only, tmp_path):
    # backbone.image_heatmaps: variant H whose heatmaps come from its own 2D head on the images
    cfg = apply_overrides(
        _config(scene, steps=12), {"model.variant.input": "heatmaps", "model.backbone.image_heatmaps": True}
    )  # fmt: skip
    train(cfg, tmp_path / "run")
    losses = _losses(tmp_path / "run")
    # slower than on rendered detection heatmaps (its 2D head starts untrained): measured 0.89×
    assert len(losses) == 12 and losses[12] < 0.95 * losses[1], losses
    # it needs the images: a scene of poses only is refused, naming the missing images
    with pytest.raises(InputError, match="image"):
        train(apply_overrides(cfg, {"train.data": [str(poses_only)]}), tmp_path / "no_images")


def test_heatmap_model_trains_on_two_detector_profiles(poses_only, tmp_path):
    # one noise model drawn per view: the OpenPose-like defaults and the measured BlazePose profile
    noise = [{"profile": "openpose"}, {"profile": "blazepose", "false_positives_per_image": 0.0}]
    cfg = apply_overrides(_config(poses_only, steps=3, detection_noise=noise),
                          {"model.variant.input": "heatmaps"})  # fmt: skip
    res = train(cfg, tmp_path / "run")
    assert res.step == 3 and torch.isfinite(torch.tensor(res.last_loss))
    s = TrainSettings.from_mapping({"detection_noise": noise})
    assert s.detection_noise == tuple(noise)


def test_pasting_people_is_for_heatmap_models_only(scene, poses_only, tmp_path):
    cfg = apply_overrides(
        _config(poses_only, steps=3, paste_people=2), {"model.variant.input": "heatmaps"}
    )
    res = train(cfg, tmp_path / "run")
    assert res.step == 3 and torch.isfinite(torch.tensor(res.last_loss))
    with pytest.raises(ConfigError, match="paste_people .* only models that read 2D detections"):
        train(_config(scene, paste_people=1), tmp_path / "images")


def test_detection_settings_are_checked(scene, tmp_path):
    with pytest.raises(ConfigError, match="detection_noise"):
        train(_config(scene, detection_noise={"jiter": 0.1}), tmp_path / "a")
    with pytest.raises(ConfigError, match="unknown profile"):
        TrainSettings.from_mapping({"detection_noise": [{"profile": "openpose"}, {"profile": "x"}]})
    with pytest.raises(ConfigError, match="empty list"):
        TrainSettings.from_mapping({"detection_noise": []})
    with pytest.raises(ConfigError, match="detection_joint_sets"):
        train(_config(scene, detection_joint_sets=["openpose99"]), tmp_path / "b")


def test_keypoints_stage_trains_the_backbone_alone(scene, tmp_path):
    # Stage 1 of the image models: only the backbone and its 2D head learn; the 3D parts keep
    # their initial weights; the 2D loss goes down on the one clip seen over and over.
    cfg = apply_overrides(
        _config(scene, steps=12, stage="keypoints", val_every=12, val_data=[str(scene)]),
        {"model.backbone.keypoint_head": True, "loss.keypoint_2d": 1.0},
    )
    train(cfg, tmp_path / "kp", max_steps_this_run=0)  # step 0: the initial weights
    from tessetrack.train.checkpoints import load_checkpoint

    w0 = load_checkpoint(tmp_path / "kp" / "last.safetensors").weights
    train(cfg, tmp_path / "kp")
    w1 = load_checkpoint(tmp_path / "kp" / "last.safetensors").weights
    changed = {k for k in w0 if not torch.equal(w0[k], w1[k])}
    assert changed and all(k.startswith(("backbone.", "keypoint_head.")) for k in changed)
    assert any(k.startswith("keypoint_head.") for k in changed)
    losses = _losses(tmp_path / "kp")
    assert losses[12] < 0.9 * losses[1], losses
    with (tmp_path / "kp" / "val.csv").open() as fh:
        (row,) = list(csv.DictReader(fh))
    assert 0.0 <= float(row["keypoint_hit"]) <= 100.0 and row["mpjpe_mm"] == ""

    # stage 2: another variant starts from the pretrained backbone only
    fi = apply_overrides(
        _config(
            scene,
            steps=1,
            init_from=str(tmp_path / "kp" / "last.safetensors"),
            init_prefixes=["backbone."],
        ),
        {"model.variant": "FI"},
    )
    train(fi, tmp_path / "fi", max_steps_this_run=0)
    w2 = load_checkpoint(tmp_path / "fi" / "last.safetensors").weights
    assert all(torch.equal(w2[k], w1[k]) for k in w2 if k.startswith("backbone."))
    wrong = apply_overrides(fi, {"model.backbone.channels": 4})
    with pytest.raises(CheckpointError, match="has shape"):
        train(wrong, tmp_path / "wrong")
    with pytest.raises(CheckpointError, match="no weights start with"):
        train(apply_overrides(fi, {"train.init_prefixes": ["nothing."]}), tmp_path / "none")


def test_keypoints_stage_needs_the_head(scene, tmp_path):
    with pytest.raises(ConfigError, match="keypoint_head=true"):
        train(_config(scene, stage="keypoints"), tmp_path / "r")
    with pytest.raises(ConfigError, match="train.stage"):
        TrainSettings.from_mapping({"stage": "2d"})
    with pytest.raises(ConfigError, match="init_prefixes"):
        TrainSettings.from_mapping({"init_prefixes": ["backbone."]})


def test_keypoint_hits_by_hand():
    # one view, one joint, 4×4 heatmap: the GT joint at pixel (x=2, y=1)
    heat = torch.zeros(1, 1, 1, 1, 4, 4)
    kp = torch.tensor([2.5 / 4, 1.5 / 4]).view(1, 1, 1, 1, 1, 2)
    mask = torch.ones(1, 1, 1, 1, 1, dtype=torch.bool)
    from tessetrack.train.loop import keypoint_hits

    assert keypoint_hits(heat, kp, mask) == (0, 1)
    heat[..., 1, 2] = 0.7
    assert keypoint_hits(heat, kp, mask) == (1, 1)
    assert keypoint_hits(heat, kp, ~mask) == (0, 0)
    heat2 = torch.zeros(1, 1, 1, 1, 4, 4)
    heat2[..., 2, 1] = 0.9  # transposed location: a miss
    assert keypoint_hits(heat2, kp, mask) == (0, 1)
    # one pixel off diagonally: found within radius 1, not 0; radius 1 never reaches 2 px away
    assert keypoint_hits(heat2, kp, mask, radius=1) == (1, 1)
    heat3 = torch.zeros(1, 1, 1, 1, 4, 4)
    heat3[..., 3, 0] = 0.9
    assert keypoint_hits(heat3, kp, mask, radius=1) == (0, 1)
    assert keypoint_hits(heat3, kp, mask, radius=2) == (1, 1)
    assert keypoint_hits(heat2, kp, mask, level=0.95, radius=1) == (0, 1)


def test_validation_runs_without_autograd_and_restores_train_mode(scene):
    import numpy as np

    from tessetrack.data import open_dataset
    from tessetrack.model.tessetrack import build_model
    from tessetrack.train.clips import ClipSpec, make_clip
    from tessetrack.train.loop import evaluate_clips

    cfg = _config(scene)
    model = build_model(cfg.model)
    ds = open_dataset(scene)
    spec = ClipSpec(length=4, anchors=(1, 2), image_size=(64, 64), max_people=3, min_views=2)
    clip = make_clip([ds[i] for i in range(4)], spec, np.random.default_rng(0))
    seen = []
    model.register_forward_pre_hook(lambda m, a: seen.append((torch.is_grad_enabled(), m.training)))
    res = evaluate_clips(model, [clip], torch.device("cpu"), cfg.loss)
    assert seen == [(False, False)] and model.training
    assert np.isfinite(res["mpjpe_mm"])
