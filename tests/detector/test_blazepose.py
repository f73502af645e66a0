"""The built-in detector: mediapipe's bundled BlazePose models, run on a real frame; the joint
mapping by hand; clear errors when mediapipe is missing."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

from tessetrack.detector import BlazePose, BlazePoseConfig, landmarks_to, model_files
from tessetrack.detector.blazepose import grey_out
from tessetrack.errors import DependencyError, InputError
from tessetrack.skeletons import get_joint_set


def _frame(shared_data, cam: str = "cam01", index: int = 40) -> np.ndarray:
    cap = cv2.VideoCapture(str(shared_data / "multiperson_videos_4cams" / "videos" / f"{cam}.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, bgr = cap.read()
    cap.release()
    assert ok, "OpenCV could not decode the real video with mediapipe installed"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def test_the_installed_mediapipe_ships_both_models():
    detector, landmarks = model_files()
    assert detector.name == "pose_detection.tflite" and detector.stat().st_size > 1_000_000
    assert landmarks.name == "pose_landmark_full.tflite" and landmarks.stat().st_size > 1_000_000


def test_one_opencv_and_video_decoding_works_beside_mediapipe(shared_data):
    import importlib.metadata as md

    import mediapipe  # noqa: F401  (imported first on purpose)

    owners = [d.metadata["Name"] for d in md.distributions()
              if d.metadata["Name"] and d.metadata["Name"].lower().startswith("opencv")]  # fmt: skip
    assert owners == ["opencv-python-headless"], owners
    image = _frame(shared_data)
    assert image.shape == (1920, 1088, 3)


def test_finds_people_on_a_real_frame(shared_data):
    image = _frame(shared_data)
    with BlazePose() as detect:
        people = detect(image)
    assert people.ndim == 3 and people.shape[1:] == (33, 3) and len(people) >= 1
    inside = (
        (people[..., 0] >= -50)
        & (people[..., 0] <= 1138)
        & (people[..., 1] >= -50)
        & (people[..., 1] <= 1970)
    )
    assert inside.mean() > 0.9
    assert ((people[..., 2] >= 0) & (people[..., 2] <= 1)).all()
    # a standing person: the nose above the hips above the ankles (image v grows downwards)
    best = people[np.argmax(people[..., 2].mean(-1))]
    assert best[0, 1] < best[23, 1] < best[27, 1]


def test_landmarks_to_body25_and_coco17_by_hand():
    lm = np.zeros((1, 33, 3))
    lm[0, :, 0] = np.arange(33)
    lm[0, :, 1] = 100 + np.arange(33)
    lm[0, :, 2] = 0.5
    lm[0, 11, 2], lm[0, 12, 2] = 0.9, 0.7  # shoulders
    body = landmarks_to(lm, "body25")
    b = get_joint_set("body25")
    np.testing.assert_allclose(body[0, b.index("neck")], [11.5, 111.5, 0.8])  # mean of shoulders
    np.testing.assert_allclose(body[0, b.index("mid_hip")], [23.5, 123.5, 0.5])
    np.testing.assert_allclose(body[0, b.index("r_wrist")], [16, 116, 0.5])
    np.testing.assert_allclose(body[0, b.index("l_big_toe")], [31, 131, 0.5])
    np.testing.assert_allclose(body[0, b.index("r_small_toe")], [0, 0, 0])  # not formable: missing
    coco = landmarks_to(lm, "coco17")
    c = get_joint_set("coco17")
    np.testing.assert_allclose(coco[0, c.index("l_ear")], [7, 107, 0.5])
    np.testing.assert_allclose(coco[0, c.index("r_ankle")], [28, 128, 0.5])


def test_missing_mediapipe_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # import mediapipe -> ImportError
    with pytest.raises(DependencyError, match=r"pip install --no-deps mediapipe==0\.10\.14"):
        BlazePose()


def test_a_mediapipe_without_the_models_is_named(monkeypatch, tmp_path):
    import types

    fake = types.ModuleType("mediapipe")
    fake.__file__ = str(tmp_path / "mediapipe" / "__init__.py")
    fake.__version__ = "1.2.3"
    vision = types.ModuleType("mediapipe.tasks.python.vision")
    monkeypatch.setitem(sys.modules, "mediapipe", fake)
    monkeypatch.setitem(sys.modules, "mediapipe.tasks", types.ModuleType("mediapipe.tasks"))
    monkeypatch.setitem(
        sys.modules, "mediapipe.tasks.python", types.ModuleType("mediapipe.tasks.python")
    )
    monkeypatch.setitem(sys.modules, "mediapipe.tasks.python.vision", vision)
    with pytest.raises(DependencyError, match=r"mediapipe 1\.2\.3 does not ship .*pose_detection"):
        model_files()


def test_one_person_found_twice_on_a_real_frame_is_kept_once(shared_data):
    # cam03's frame 17: BlazePose finds the nearer person twice, joints ~2 % of their size apart
    image = _frame(shared_data, "cam03", 17)
    with (
        BlazePose(BlazePoseConfig(duplicate=0.0, passes=1)) as raw,
        BlazePose(BlazePoseConfig(passes=1)) as once,
    ):
        both, kept = raw(image), once(image)
    assert len(both) == 2 and len(kept) == 1 and once.duplicates == 1 and raw.duplicates == 0
    gap = np.median(np.linalg.norm(both[0, :, :2] - both[1, :, :2], axis=-1))
    assert gap < 0.05 * np.ptp(both[0, :, 1])
    assert np.allclose(kept[0], both[np.argmax(both[..., 2].mean(-1))])


def test_a_second_search_with_the_found_person_greyed_out_finds_the_other(shared_data):
    # the same frame: one search finds only the nearer person (twice); the woman beside him, to
    # his left in the image, is found once he is greyed out
    image = _frame(shared_data, "cam03", 17)
    with BlazePose(BlazePoseConfig(passes=1)) as one, BlazePose() as two:
        first, both = one(image), two(image)
    assert len(first) == 1 and len(both) == 2 and two.duplicates == 1
    np.testing.assert_allclose(both[0], first[0])  # the first search's person comes first
    sure = both[1, :, 2] > 0.5
    near = first[0, first[0, :, 2] > 0.5, 0]
    assert sure.sum() >= 10 and np.median(both[1, sure, 0]) < near.min()


def test_grey_out_by_hand():
    image = np.full((10, 20, 3), 7, np.uint8)
    person = np.array([[[4.0, 2.0, 0.9], [8.0, 6.0, 0.9], [6.0, 4.0, 0.9], [19.0, 9.0, 0.1]]])
    out = grey_out(image, person, pad=0.25)  # box u 4..8, v 2..6, widened by 1 px each side
    assert (out[1:8, 3:10] == 127).all()
    assert (out[:1] == 7).all() and (out[8:] == 7).all() and (out[:, :3] == 7).all()
    assert (out[:, 10:] == 7).all() and (image == 7).all()  # the input is left as it is
    edge = grey_out(image, np.array([[[15.0, 5.0, 1.0], [30.0, 12.0, 1.0], [16.0, 6.0, 1.0]]]), 0)
    assert (edge[5:, 15:] == 127).all() and (edge[:5] == 7).all()  # clipped to the image
    assert np.array_equal(grey_out(image, np.zeros((0, 4, 3)), 0.2), image)
    # fewer than three confident joints: the box spans every joint with coordinates (NaN: none)
    faint = np.array([[[2.0, 1.0, 0.1], [5.0, 3.0, 0.1], [np.nan, np.nan, 0.9], [4.0, 2.0, 0.9]]])
    out = grey_out(image, faint, pad=0.0)
    assert (out[1:4, 2:6] == 127).all() and (out[4:] == 7).all() and (out[:, 6:] == 7).all()
    assert np.array_equal(grey_out(image, np.full((1, 3, 3), np.nan), 0.2), image)


class _Canned(BlazePose):
    """BlazePose whose searches return canned people (no MediaPipe), recording the images."""

    def __init__(self, searches, config=None):
        self.config = config or BlazePoseConfig()
        self.duplicates = 0
        self.searches = list(searches)
        self.images = []

    def _search(self, img):
        self.images.append(img.copy())
        return self.searches.pop(0) if self.searches else np.zeros((0, 33, 3))


def _someone(rng, u0, confidence=0.9):
    uv = rng.uniform(0.0, 200.0, (33, 2)) + [u0, 100.0]
    return np.concatenate([uv, np.full((33, 1), confidence)], 1)


def test_further_searches_add_only_people_not_found_before(rng):
    image = np.full((600, 900, 3), 50, np.uint8)
    a, b, c, d = (_someone(rng, u) for u in (0.0, 300.0, 600.0, 450.0))
    copy = a.copy()
    copy[:, :2] += 2.0
    copy[:, 2] = 0.6
    # the first search finds A twice: one A counts, and the second search, A greyed out, finds B
    det = _Canned([np.stack([copy, a]), b[None]], BlazePoseConfig(max_people=2))
    out = det(image)
    np.testing.assert_array_equal(out, np.stack([a, b]))
    assert det.duplicates == 1 and len(det.images) == 2
    assert (det.images[1][int(a[:, 1].min()) + 5, int(a[:, 0].min()) + 5] == 127).all()
    assert (det.images[0] == 50).all()  # the first search sees the image as it is
    # a person found again around the grey, surer than the first time, is not new and not counted
    again = a.copy()
    again[:, 2] = 0.99
    det = _Canned([a[None], np.stack([again, b])])
    np.testing.assert_array_equal(det(image), np.stack([a, b]))
    assert det.duplicates == 0
    # duplicate=0 keeps one search's copies, yet a person found again is never new: the searches stop
    det = _Canned(
        [np.stack([a, copy]), copy[None], b[None]], BlazePoseConfig(duplicate=0.0, passes=3)
    )
    np.testing.assert_array_equal(det(image), np.stack([a, copy]))
    assert len(det.images) == 2
    # new people surest first, up to max_people; passes=1 searches once
    c[:, 2], d[:, 2] = 0.5, 0.8
    det = _Canned([a[None], np.stack([c, b, d])], BlazePoseConfig(max_people=3))
    np.testing.assert_array_equal(det(image), np.stack([a, b, d]))
    det = _Canned([a[None], b[None]], BlazePoseConfig(passes=1))
    assert len(det(image)) == 1 and len(det.images) == 1
    with pytest.raises(InputError, match="passes"):
        BlazePoseConfig(passes=0)
