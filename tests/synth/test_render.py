"""Rendering with our cameras: OpenGL matrices vs Camera.project, segmentation vs joints."""

from __future__ import annotations

import numpy as np

from tessetrack.geometry.camera import Camera
from tessetrack.synth.motion import CLIP_SPLITS, load_clip, load_skeleton, synthesize_motion
from tessetrack.synth.render import (
    PeopleRenderer,
    projection_matrix_gl,
    sample_appearance,
    sample_style,
    view_matrix,
)
from tessetrack.synth.rigs import ring_rig


def test_gl_matrices_reproduce_camera_project() -> None:
    """Applying view + projection + viewport by hand gives Camera.project's pixel."""
    K = np.array([[300.0, 2.0, 100.3], [0.0, 310.0, 80.7], [0.0, 0.0, 1.0]])
    cam = ring_rig(3, width=200, height=160).cameras[1]
    cam = Camera("c", K, cam.R, cam.t, width=200, height=160)
    pts = np.random.default_rng(0).uniform(-1, 1, (20, 3)) + [0, 0, 1]
    clip = projection_matrix_gl(cam) @ view_matrix(cam) @ np.c_[pts, np.ones(20)].T  # 4×N
    ndc = clip[:2] / clip[3]
    # TinyRenderer's sampling (see projection_matrix_gl): u = (x+1) W/2, v = H - 1 - (y+1) H/2
    u = (ndc[0] + 1) * 200 / 2
    v = 160 - 1 - (ndc[1] + 1) * 160 / 2
    np.testing.assert_allclose(np.c_[u, v], cam.project(pts), atol=1e-9)


def test_rendered_sphere_lands_on_projected_pixel() -> None:
    import pybullet as p

    cam = Camera(
        "c",
        np.array([[300.0, 0.0, 100.3], [0.0, 310.0, 80.7], [0.0, 0.0, 1.0]]),
        np.eye(3),
        np.zeros(3),
        width=200,
        height=160,
    )
    cid = p.connect(p.DIRECT)
    try:
        vs = p.createVisualShape(p.GEOM_SPHERE, radius=0.15, physicsClientId=cid)
        body = p.createMultiBody(0, -1, vs, basePosition=[0, 0, 3], physicsClientId=cid)
        errors = []
        for X in ([0.3, -0.2, 3.0], [-0.5, 0.3, 4.0], [0.1, 0.1, 2.5]):
            p.resetBasePositionAndOrientation(body, X, [0, 0, 0, 1], physicsClientId=cid)
            *_, seg = p.getCameraImage(
                200,
                160,
                viewMatrix=list(view_matrix(cam).T.reshape(-1)),
                projectionMatrix=list(projection_matrix_gl(cam).T.reshape(-1)),
                renderer=p.ER_TINY_RENDERER,
                physicsClientId=cid,
            )
            rows, cols = np.nonzero(np.asarray(seg).reshape(160, 200) == body)
            errors.append(np.array([cols.mean(), rows.mean()]) - cam.project(np.array(X)))
        # measured: the disc centroid is within 0.12 px of the projected centre
        assert np.abs(errors).max() < 0.25
    finally:
        p.disconnect(physicsClientId=cid)


def test_joints_land_on_their_person_when_visible() -> None:
    rng = np.random.default_rng(0)
    sk = load_skeleton()
    clips = [load_clip(n) for n in CLIP_SPLITS["train"]]
    area = dict(area_center=np.zeros(2), area_half_size=np.array([2.0, 2.0]))
    people = np.stack(
        [
            synthesize_motion(clips, sk, 5, 29.97, rng, start_xy=np.array([x, y]), **area)[0]
            for x, y in ((-1.0, 0.0), (1.0, 0.5))
        ],
        axis=1,
    )  # T×P×19×3
    rig = ring_rig(3, width=256, height=256)
    pose = people[4]
    with PeopleRenderer(
        people[0],
        [sample_appearance(rng) for _ in range(2)],
        sample_style(rng),
        R_world_from_floor=np.eye(3),
        t_world_from_floor=np.zeros(3),
        floor_half_size=6.0,
        floor_center=np.zeros(2),
        rng=rng,
    ) as renderer:
        for cam in rig.cameras:
            uv = np.round(cam.project(pose)).astype(int)  # P×19×2, all inside the image here
            assert (uv >= 0).all() and (uv < 256).all()
            # alone, nothing can hide a person: every joint's pixel is that person's
            for i in range(2):
                renderer.set_poses(pose, np.arange(2) == i)
                _, ids = renderer.render(cam)
                assert (ids[uv[i, :, 1], uv[i, :, 0]] == i).all()
            # together: a joint's pixel is its person's or, when hidden, the other's; never empty
            renderer.set_poses(pose, np.array([True, True]))
            rgb, ids = renderer.render(cam)
            assert rgb.shape == (256, 256, 3) and ids.shape == (256, 256)
            owners = ids[uv[..., 1], uv[..., 0]]  # P×19
            assert (owners >= 0).all()
            assert (owners == np.arange(2)[:, None]).mean() > 0.8
        # an absent person disappears from the segmentation
        renderer.set_poses(people[4], np.array([True, False]))
        _, ids = renderer.render(rig.cameras[0])
        assert not (ids == 1).any()
