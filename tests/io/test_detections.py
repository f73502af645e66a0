"""2D detections: OpenPose folders and COCO results read into exact arrays; writers round-trip."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from tessetrack.errors import InputError
from tessetrack.io.detections import (
    Detections2D,
    coco_frame_map,
    load_detections,
    read_coco,
    read_openpose,
    read_openpose_file,
    write_coco_results,
    write_openpose,
)


def _person(num_joints: int, base: float) -> list[float]:
    """Joint j at (base + j, base + 100 + j) with confidence j / 100."""
    out: list[float] = []
    for j in range(num_joints):
        out += [base + j, base + 100 + j, j / 100]
    return out


def _write(path, doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def test_openpose_body25_folder_exact_values(tmp_path):
    root = tmp_path / "dets"
    # camera "cam1": frame 0 with two people, frame 1 with nobody; file names as OpenPose writes
    _write(
        root / "cam1" / "video_000000000000_keypoints.json",
        {
            "version": 1.3,
            "people": [
                {"pose_keypoints_2d": _person(25, 10.0)},
                {"pose_keypoints_2d": _person(25, 500.0)},
            ],
        },
    )
    _write(root / "cam1" / "video_000000000001_keypoints.json", {"version": 1.3, "people": []})
    # camera "cam2": a prefix that ends in digits ("run7") is not part of the 12-digit frame
    _write(
        root / "cam2" / "run7000000000012_keypoints.json",
        {"people": [{"pose_keypoints_2d": _person(25, 0.0)}]},
    )
    (root / "cam2" / "notes.txt").write_text("ignored")
    dets = read_openpose(root)
    assert dets.joint_set == "body25" and dets.cameras == ("cam1", "cam2")
    assert sorted(dets.by_camera["cam1"]) == [0, 1] and list(dets.by_camera["cam2"]) == [12]
    a = dets.get("cam1", 0)
    assert a.shape == (2, 25, 3) and a.dtype == np.float64
    # person 1, joint 4: (500 + 4, 500 + 100 + 4, 4 / 100)
    np.testing.assert_array_equal(a[1, 4], [504.0, 604.0, 0.04])
    assert dets.get("cam1", 1).shape == (0, 25, 3)
    assert dets.get("cam2", 3).shape == (0, 25, 3)  # no file for frame 3
    np.testing.assert_array_equal(dets.get("cam2", 12)[0, 24], [24.0, 124.0, 0.24])
    assert dets.frames == (0, 1, 12)


def test_openpose_coco18_and_single_camera_folder(tmp_path):
    cam = tmp_path / "side"
    _write(
        cam / "000000000007_keypoints.json", {"people": [{"pose_keypoints_2d": _person(18, 1.0)}]}
    )
    dets = read_openpose(cam)  # a folder of files is one camera named after the folder
    assert dets.joint_set == "coco18" and dets.cameras == ("side",)
    np.testing.assert_array_equal(dets.get("side", 7)[0, 17], [18.0, 118.0, 0.17])


def test_openpose_errors(tmp_path):
    bad_len = tmp_path / "a" / "c" / "000000000000_keypoints.json"
    _write(bad_len, {"people": [{"pose_keypoints_2d": [1.0] * 60}]})
    with pytest.raises(InputError, match=r"000000000000_keypoints\.json.*60 numbers"):
        read_openpose(tmp_path / "a")
    malformed = tmp_path / "b" / "c" / "000000000000_keypoints.json"
    malformed.parent.mkdir(parents=True)
    malformed.write_text('{"people": [')
    with pytest.raises(InputError, match="malformed JSON"):
        read_openpose_file(malformed)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no camera folders"):
        read_openpose(tmp_path / "empty")
    with pytest.raises(InputError, match="no detections folder for camera 'x'"):
        read_openpose(tmp_path / "empty", cameras=["x"])
    no_people = tmp_path / "np.json"
    _write(no_people, {"frames": []})
    with pytest.raises(InputError, match="people"):
        read_openpose_file(no_people)
    mixed = tmp_path / "mixed"
    _write(
        mixed / "c1" / "000000000000_keypoints.json",
        {"people": [{"pose_keypoints_2d": _person(25, 0)}]},
    )
    _write(
        mixed / "c2" / "000000000000_keypoints.json",
        {"people": [{"pose_keypoints_2d": _person(18, 0)}]},
    )
    with pytest.raises(InputError, match="coco18"):
        read_openpose(mixed)


def test_openpose_write_read_round_trip(tmp_path, rng):
    people = rng.uniform(0, 1000, size=(3, 25, 3))
    people[..., 2] = rng.uniform(0, 1, size=(3, 25))
    people[1, 5] = np.nan  # a missing joint is written as OpenPose does: 0, 0, 0
    dets = Detections2D(
        "body25", {"c0": {0: people, 4: np.zeros((0, 25, 3))}, "c1": {2: people[:1]}}
    )
    files = write_openpose(tmp_path, dets, prefix="clip_")
    assert sorted(f.name for f in files) == [
        "clip_000000000000_keypoints.json",
        "clip_000000000002_keypoints.json",
        "clip_000000000004_keypoints.json",
    ]
    back = load_detections(tmp_path)  # auto-detected as OpenPose
    assert back.joint_set == "body25" and back.cameras == ("c0", "c1")
    expected = people.copy()
    expected[1, 5] = 0.0
    np.testing.assert_allclose(back.get("c0", 0), expected, rtol=0, atol=1e-9)
    assert back.get("c0", 4).shape == (0, 25, 3)
    np.testing.assert_allclose(back.get("c1", 2), people[:1], atol=1e-9)
    with pytest.raises(InputError, match="coco17"):
        write_openpose(tmp_path, Detections2D("coco17", {"c": {0: np.zeros((1, 17, 3))}}))


def _coco_result(image_id: int, base: float, score: float, category: int = 1) -> dict:
    return {
        "image_id": image_id,
        "category_id": category,
        "keypoints": _person(17, base),
        "score": score,
    }


def _sure_person(base: float, confidence: float = 0.9) -> np.ndarray:
    """(17, 3): joint j at (base + 10 j, base + 20 j), every joint at ``confidence``; 320 px tall."""
    j = np.arange(17.0)
    return np.stack([base + 10 * j, base + 20 * j, np.full(17, confidence)], -1)


@pytest.mark.parametrize("fmt", ["openpose", "coco"])
def test_a_person_found_twice_in_one_image_is_kept_once(tmp_path, caplog, fmt):
    a, b = _sure_person(0.0), _sure_person(900.0)
    copy = _sure_person(3.0, confidence=0.6)  # 4.2 px off: 1.3 % of the person's 320 px
    near = _sure_person(40.0)  # 57 px off: 18 % of the size, somebody else
    frames = {"c0": {0: np.stack([copy, a, b]), 1: np.stack([a, near])}, "c1": {0: a[None]}}
    if fmt == "openpose":
        coco18 = np.zeros(
            (3, 18, 3)
        )  # written as 18-joint OpenPose rows (the check reads no names)
        write_openpose(
            tmp_path,
            Detections2D(
                "coco18",
                {
                    c: {f: np.concatenate([p, coco18[: len(p), :1]], 1) for f, p in fr.items()}
                    for c, fr in frames.items()
                },
            ),
        )
    else:
        for cam, fr in frames.items():
            write_coco_results(tmp_path / f"{cam}.json", fr)
    with caplog.at_level(logging.WARNING):
        dets = load_detections(tmp_path, format=fmt)
    kept = dets.get("c0", 0)
    assert kept.shape[0] == 2  # the more confident copy stays
    assert np.isclose(kept[:, :, 2].max(), 0.9) and not np.isclose(kept[:, :, 2], 0.6).any()
    assert dets.get("c0", 1).shape[0] == 2 and dets.get("c1", 0).shape[0] == 1
    assert "1 of 6 2D people were found twice" in caplog.text and str(tmp_path) in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        every = load_detections(tmp_path, format=fmt, duplicate=0)
    assert every.get("c0", 0).shape[0] == 3 and "found twice" not in caplog.text


def test_coco_results_folder_sorted_by_score(tmp_path):
    root = tmp_path / "coco"
    _write(
        root / "cam_a.json",
        [
            _coco_result(0, 10.0, 0.5),
            _coco_result(0, 300.0, 0.9),  # higher score: comes first
            _coco_result(3, 50.0, 0.8),
            _coco_result(3, 70.0, 0.05),  # dropped by min_score
            _coco_result(3, 90.0, 0.99, category=2),  # not a person
        ],
    )
    _write(root / "cam_b.json", [])
    dets = read_coco(root, min_score=0.1)
    assert dets.joint_set == "coco17" and dets.cameras == ("cam_a", "cam_b")
    a0 = dets.get("cam_a", 0)
    assert a0.shape == (2, 17, 3)
    # first person = the 0.9 one, base 300: joint 16 at (316, 416, 0.16)
    np.testing.assert_array_equal(a0[0, 16], [316.0, 416.0, 0.16])
    np.testing.assert_array_equal(a0[1, 0], [10.0, 110.0, 0.0])
    assert dets.get("cam_a", 3).shape == (1, 17, 3)
    assert dets.get("cam_b", 0).shape == (0, 17, 3)
    assert load_detections(root).joint_set == "coco17"  # auto-detected as COCO


def test_coco_annotations_map_image_ids_to_frames(tmp_path):
    ann = tmp_path / "ann.json"
    _write(
        ann,
        {
            "images": [
                {"id": 11, "file_name": "cam_a/000123.jpg"},
                {"id": 12, "file_name": "f_7.png"},
            ],
            "annotations": [],
        },
    )
    assert coco_frame_map(ann) == {11: 123, 12: 7}
    _write(tmp_path / "cam_a.json", [_coco_result(11, 0.0, 1.0), _coco_result(12, 5.0, 1.0)])
    dets = read_coco(tmp_path, annotations=ann)  # the annotations file in the folder is skipped
    assert dets.cameras == ("cam_a",)
    assert sorted(dets.by_camera["cam_a"]) == [7, 123]
    np.testing.assert_array_equal(dets.get("cam_a", 7)[0, 1], [6.0, 106.0, 0.01])
    _write(tmp_path / "other" / "cam_b.json", [_coco_result(99, 0.0, 1.0)])
    with pytest.raises(InputError, match="image_id 99"):
        read_coco(tmp_path / "other", annotations=ann)


def test_coco_errors_and_round_trip(tmp_path, rng):
    _write(tmp_path / "bad" / "c.json", [{"image_id": 0, "keypoints": [0.0] * 54, "score": 1}])
    with pytest.raises(InputError, match=r"c\.json.*54 numbers"):
        read_coco(tmp_path / "bad")
    _write(tmp_path / "ann_only" / "c.json", {"images": [], "annotations": []})
    with pytest.raises(InputError, match="annotations file"):
        read_coco(tmp_path / "ann_only")
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(InputError, match="malformed JSON"):
        read_coco(tmp_path / "broken.json")
    (tmp_path / "none").mkdir()
    with pytest.raises(InputError):
        load_detections(tmp_path / "none")
    with pytest.raises(InputError, match="unknown detections format"):
        load_detections(tmp_path / "none", format="alphapose")

    people = rng.uniform(0, 500, size=(2, 17, 3))
    write_coco_results(tmp_path / "rt" / "c9.json", {5: people}, scores={5: np.array([0.2, 0.7])})
    back = read_coco(tmp_path / "rt" / "c9.json")
    np.testing.assert_allclose(back.get("c9", 5), people[::-1], atol=1e-9)  # 0.7 first


def test_converted_body25_to_coco17_and_panoptic19():
    person = np.zeros((1, 25, 3))
    person[0, :, 0] = np.arange(25)  # u = BODY25 index
    person[0, :, 1] = 100 + np.arange(25)
    person[0, :, 2] = 0.5
    person[0, 12, 2] = 0.0  # BODY25 12 = l_hip missing
    dets = Detections2D("body25", {"c": {0: person, 1: np.zeros((0, 25, 3))}})
    coco = dets.converted("coco17")
    assert coco.joint_set == "coco17" and coco.get("c", 1).shape == (0, 17, 3)
    # COCO-17 joint 0 = nose = BODY25 0; COCO 5 = l_shoulder = BODY25 5; COCO 11 = l_hip (missing)
    np.testing.assert_array_equal(
        coco.get("c", 0)[0, [0, 5, 11]], [[0, 100, 0.5], [5, 105, 0.5], [0, 0, 0]]
    )
    pan = dets.converted("panoptic19")
    # Panoptic 2 = mid_hip = BODY25 8 (copied by name, not rebuilt from the missing l_hip)
    np.testing.assert_array_equal(pan.get("c", 0)[0, 2], [8, 108, 0.5])
    assert dets.converted("body25") is dets


def test_converted_builds_neck_from_shoulders():
    person = np.zeros((1, 17, 3))
    person[0, 5] = [10.0, 20.0, 0.4]  # COCO 5 = l_shoulder
    person[0, 6] = [30.0, 40.0, 0.8]  # COCO 6 = r_shoulder
    pan = Detections2D("coco17", {"c": {0: person}}).converted("panoptic19")
    # neck = mean of the shoulders: ((10+30)/2, (20+40)/2, (0.4+0.8)/2) = (20, 30, 0.6)
    np.testing.assert_allclose(pan.get("c", 0)[0, 0], [20.0, 30.0, 0.6])
    assert np.all(pan.get("c", 0)[0, 2] == 0)  # mid_hip from missing hips -> (0, 0, 0)
