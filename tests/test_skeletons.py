"""Joint-set conversions: exact copies, documented recipes, NaN for what cannot be formed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tessetrack.errors import InputError
from tessetrack.skeletons import (
    JOINT_SETS,
    conversion_matrix,
    convert_joints,
    get_joint_set,
)


def _random_joints(
    rng: np.random.Generator, name: str, lead: tuple[int, ...] = (2, 3)
) -> np.ndarray:
    return rng.normal(size=(*lead, get_joint_set(name).num_joints, 3))


@pytest.mark.parametrize("src", sorted(JOINT_SETS))
@pytest.mark.parametrize("dst", sorted(JOINT_SETS))
def test_shared_joints_are_copied_and_round_trip(src: str, dst: str, rng: np.random.Generator):
    x = _random_joints(rng, src)
    y = convert_joints(x, src, dst)
    back = convert_joints(y, dst, src)
    src_set, dst_set = get_joint_set(src), get_joint_set(dst)
    for name in set(src_set.joints) & set(dst_set.joints):
        i, j = src_set.index(name), dst_set.index(name)
        np.testing.assert_array_equal(y[..., j, :], x[..., i, :])
        np.testing.assert_array_equal(back[..., i, :], x[..., i, :])


def test_identity_conversion_is_identity_matrix():
    for name, js in JOINT_SETS.items():
        np.testing.assert_array_equal(conversion_matrix(name, name), np.eye(js.num_joints))


def test_rows_of_formable_joints_sum_to_one():
    # Every recipe is an affine combination, so translating the input translates the output.
    for src in JOINT_SETS:
        for dst in JOINT_SETS:
            W = conversion_matrix(src, dst)
            ok = ~np.isnan(W).any(axis=1)
            np.testing.assert_allclose(W[ok].sum(axis=1), 1.0, atol=1e-12)


def test_coco17_to_panoptic_neck_and_mid_hip_hand_computed():
    x = np.zeros((17, 3))
    coco = get_joint_set("coco17")
    x[coco.index("l_shoulder")] = [0.2, 0.0, 1.4]
    x[coco.index("r_shoulder")] = [-0.2, 0.0, 1.4]
    x[coco.index("l_hip")] = [0.1, 0.1, 0.9]
    x[coco.index("r_hip")] = [-0.1, -0.1, 0.9]
    y = convert_joints(x, "coco17", "panoptic19")
    pan = get_joint_set("panoptic19")
    # neck = (l_sho + r_sho)/2 = ((0.2-0.2)/2, 0, (1.4+1.4)/2) = (0, 0, 1.4)
    np.testing.assert_allclose(y[pan.index("neck")], [0.0, 0.0, 1.4])
    # mid_hip = ((0.1-0.1)/2, (0.1-0.1)/2, 0.9) = (0, 0, 0.9)
    np.testing.assert_allclose(y[pan.index("mid_hip")], [0.0, 0.0, 0.9])


def test_body25_and_coco18_keep_their_own_neck():
    x = _random_joints(np.random.default_rng(1), "body25", ())
    y = convert_joints(x, "body25", "panoptic19")
    b25, pan = get_joint_set("body25"), get_joint_set("panoptic19")
    np.testing.assert_array_equal(y[pan.index("neck")], x[b25.index("neck")])
    np.testing.assert_array_equal(y[pan.index("mid_hip")], x[b25.index("mid_hip")])
    c18 = _random_joints(np.random.default_rng(2), "coco18", ())
    z = convert_joints(c18, "coco18", "panoptic19")
    # coco18 has every Panoptic joint but mid_hip, which is the hips' mean
    assert not np.isnan(z).any()
    coco18 = get_joint_set("coco18")
    hips = (c18[coco18.index("l_hip")] + c18[coco18.index("r_hip")]) / 2
    np.testing.assert_allclose(z[pan.index("mid_hip")], hips)


def test_shelf_head_hand_computed():
    pan = get_joint_set("panoptic19")
    x = np.zeros((19, 3))
    x[pan.index("l_shoulder")] = [0.2, 0.0, 1.4]
    x[pan.index("r_shoulder")] = [-0.2, 0.0, 1.4]
    x[pan.index("nose")] = [0.0, 0.1, 1.6]
    x[pan.index("l_ear")] = [0.08, 0.0, 1.6]
    x[pan.index("r_ear")] = [-0.08, 0.0, 1.6]
    y = convert_joints(x, "panoptic19", "shelf14")
    shelf = get_joint_set("shelf14")
    # S = (0, 0, 1.4), N = (0, 0.1, 1.6), E = (0, 0, 1.6)
    # bottom = 0.5 S + 0.375 N + 0.125 E = (0, 0.0375, 0.7 + 0.6 + 0.2) = (0, 0.0375, 1.5)
    np.testing.assert_allclose(y[shelf.index("bottom_head")], [0.0, 0.0375, 1.5], atol=1e-12)
    # top = 1.5 E - 0.5 S = (0, 0, 2.4 - 0.7) = (0, 0, 1.7)
    np.testing.assert_allclose(y[shelf.index("top_head")], [0.0, 0.0, 1.7], atol=1e-12)
    # coco17 has the same head joints, so it gives the same head
    coco = convert_joints(convert_joints(x, "panoptic19", "coco17"), "coco17", "shelf14")
    np.testing.assert_allclose(coco, y, atol=1e-12)


def test_unformable_joints_are_nan():
    x = _random_joints(np.random.default_rng(3), "h36m17", ())
    y = convert_joints(x, "h36m17", "panoptic19")
    pan = get_joint_set("panoptic19")
    for name in ("nose", "l_eye", "l_ear", "r_eye", "r_ear"):
        assert np.isnan(y[pan.index(name)]).all(), name
    assert not np.isnan(
        np.delete(y, [pan.index(n) for n in ("nose", "l_eye", "l_ear", "r_eye", "r_ear")], 0)
    ).any()
    h36m = get_joint_set("h36m17")
    # h36m pelvis is formed from the hips: (l_hip + r_hip)/2
    z = convert_joints(y, "panoptic19", "h36m17")
    np.testing.assert_allclose(
        z[h36m.index("pelvis")], (x[h36m.index("l_hip")] + x[h36m.index("r_hip")]) / 2
    )
    for name in ("spine", "neck_base", "head"):
        assert np.isnan(z[h36m.index(name)]).all(), name
    # the feet of BODY25 cannot be formed from anything else
    w = convert_joints(
        _random_joints(np.random.default_rng(4), "panoptic19", ()), "panoptic19", "body25"
    )
    assert np.isnan(w[get_joint_set("body25").index("l_heel")]).all()


def test_nan_source_joint_spreads_only_where_used():
    pan = get_joint_set("panoptic19")
    x = _random_joints(np.random.default_rng(5), "panoptic19", ())
    x[pan.index("l_wrist")] = np.nan
    x[pan.index("l_ear")] = np.nan
    y = convert_joints(x, "panoptic19", "shelf14")
    shelf = get_joint_set("shelf14")
    bad = {shelf.index("l_wrist"), shelf.index("bottom_head"), shelf.index("top_head")}
    for j in range(14):
        assert np.isnan(y[j]).all() == (j in bad), shelf.joints[j]


def test_torch_matches_numpy_and_keeps_device_dtype_and_gradient():
    x = _random_joints(np.random.default_rng(6), "coco17", (4,))
    expected = convert_joints(x, "coco17", "shelf14")
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = convert_joints(t, "coco17", "shelf14")
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64 and out.shape == (4, 14, 3)
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-12)
    out.sum().backward()
    assert t.grad is not None and torch.isfinite(t.grad).all()
    # 2D detections with a confidence channel convert too: (P, J, 3) = (u, v, c)
    uvc = torch.rand(2, 17, 3)
    assert convert_joints(uvc, "coco", "panoptic").shape == (2, 19, 3)


def test_unknown_joint_set_and_wrong_shape_raise_input_error():
    with pytest.raises(InputError, match="unknown joint set"):
        convert_joints(np.zeros((17, 3)), "coco17", "smpl24")
    with pytest.raises(InputError, match="unknown joint set"):
        conversion_matrix("mpii", "panoptic19")
    with pytest.raises(InputError, match=r"\(\.\.\., 17, D\)"):
        convert_joints(np.zeros((19, 3)), "coco17", "panoptic19")


def test_convert_people_keeps_missing_joints_missing():
    """A COCO-17 person with one hip missing (0, 0, 0): no mid-hip (the average of a hip and the
    origin would be a joint half-way to the image's corner, at half the confidence)."""
    from tessetrack.skeletons import COCO17, PANOPTIC19, convert_people

    person = np.zeros((1, COCO17.num_joints, 3))
    person[0, :, :2] = np.arange(COCO17.num_joints)[:, None] * [10.0, 20.0] + [300.0, 100.0]
    person[0, :, 2] = 0.9
    person[0, COCO17.joints.index("l_hip")] = 0.0
    out = convert_people(person, "coco17", "panoptic19")
    assert out.shape == (1, PANOPTIC19.num_joints, 3)
    np.testing.assert_array_equal(out[0, PANOPTIC19.joints.index("mid_hip")], 0.0)
    r = PANOPTIC19.joints.index("r_hip")
    np.testing.assert_allclose(out[0, r], person[0, COCO17.joints.index("r_hip")])
    both = person.copy()
    both[0, COCO17.joints.index("l_hip")] = [500.0, 400.0, 0.5]
    mid = convert_people(both, "coco17", "panoptic19")[0, PANOPTIC19.joints.index("mid_hip")]
    hips = both[0, [COCO17.joints.index("l_hip"), COCO17.joints.index("r_hip")]]
    np.testing.assert_allclose(mid, hips.mean(0))
    # None: already the target set, NaN read as missing
    nan = out.copy()
    nan[0, 0] = np.nan
    np.testing.assert_array_equal(convert_people(nan, None, "panoptic19")[0, 0], 0.0)
