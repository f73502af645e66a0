"""The built-in detector: mediapipe's bundled BlazePose models, run on a real frame; the joint
mapping by hand; clear errors when mediapipe is missing."""

from __future__ import annotations

import dataclasses
import sys

import cv2
import numpy as np
import pytest

from tessetrack.detector import BlazePose, BlazePoseConfig, landmarks_to, model_files
from tessetrack.detector.blazepose import (
    boxes_overlap,
    cut_by,
    grey_out,
    merge_mirrored,
    nearest_tile,
    pair_readings,
    read_back_mirrored,
    tiles,
)
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
        BlazePose(BlazePoseConfig(duplicate=0.0, passes=1, mirror=False)) as raw,
        BlazePose(BlazePoseConfig(passes=1, mirror=False)) as once,
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
    single = BlazePoseConfig(mirror=False)
    with BlazePose(dataclasses.replace(single, passes=1)) as one, BlazePose(single) as two:
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
    """BlazePose whose searches return canned people (no MediaPipe), recording the images; no
    tiles and no mirrored reading (both tested below)."""

    def __init__(self, searches, config=None):
        self.config = dataclasses.replace(config or BlazePoseConfig(), tile_below=0.0,
                                          mirror=False)  # fmt: skip
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


def test_tiles_by_hand():
    assert tiles(600, 900, 2) == [(y, x, 450, 450) for y in (0, 150) for x in (0, 225, 450)]
    assert tiles(100, 100, 2) == [(y, x, 50, 50) for y in (0, 25, 50) for x in (0, 25, 50)]
    assert tiles(1920, 1088, 3) == [
        (y, x, 640, 640) for y in (0, 320, 640, 960, 1280) for x in (0, 224, 448)
    ]


def test_every_person_up_to_half_a_tile_lies_whole_in_a_tile(rng):
    for h, w, zoom in ((600, 900, 2), (1920, 1088, 2), (1080, 1920, 3), (777, 333, 2)):
        grid = tiles(h, w, zoom)
        side = max(h, w) / zoom
        assert all(0 <= y and y + th <= h and 0 <= x and x + tw <= w for y, x, th, tw in grid)
        for _ in range(200):
            bh, bw = rng.uniform(1, min(side / 2, h), 1)[0], rng.uniform(1, min(side / 2, w), 1)[0]
            y0, x0 = rng.uniform(0, h - bh), rng.uniform(0, w - bw)
            assert any(y <= y0 and y0 + bh <= y + th and x <= x0 and x0 + bw <= x + tw
                       for y, x, th, tw in grid)  # fmt: skip


def test_cut_by_by_hand():
    def person(u0, v0, u1, v1):
        return np.array([[u0, v0, 0.9], [u1, v1, 0.9], [(u0 + u1) / 2, (v0 + v1) / 2, 0.9]])

    people = np.stack([person(0.5, 40, 30, 60), person(40, 40, 99.5, 60), person(30, 30, 70, 70),
                       person(40, 0.2, 60, 20)])  # fmt: skip
    inner = (True, True, True, True)
    assert cut_by(people, (100, 100), inner).tolist() == [True, True, False, True]
    # edges that are the image's own do not cut: a person at the image's border is whole
    assert cut_by(people, (100, 100), (False, False, True, False)).tolist() == [False] * 4


class _Located(BlazePose):
    """BlazePose that finds the given people in any image that holds them whole where they measure
    at least ``least`` of its longer side (as MediaPipe misses small people); the image's pixels
    encode their own coordinates, so a tile knows where it lies (read once: a mirrored image's
    pixels would not)."""

    def __init__(self, people, config, least=0.2):
        self.config = dataclasses.replace(config, mirror=False)
        self.duplicates, self.people, self.least = 0, people, least
        self.searched = []

    @staticmethod
    def image(h, w):
        y, x = np.mgrid[:h, :w]
        return np.stack([x % 256, y % 256, x // 256 + 16 * (y // 256)], -1).astype(np.uint8)

    def _search(self, img):
        x0 = int(img[0, 0, 0]) + 256 * (int(img[0, 0, 2]) % 16)
        y0 = int(img[0, 0, 1]) + 256 * (int(img[0, 0, 2]) // 16)
        h, w = img.shape[:2]
        self.searched.append((y0, x0, h, w))
        found = []
        for p in self.people:
            lo, hi = p[:, :2].min(0), p[:, :2].max(0)
            inside = (lo >= [x0, y0]).all() and (hi < [x0 + w, y0 + h]).all()
            if inside and (hi - lo).max() >= self.least * max(h, w):
                found.append(p - [x0, y0, 0])
        return np.array(found).reshape(-1, 33, 3)


def test_small_people_are_found_in_tiles_once_each(rng):
    image = _Located.image(600, 900)
    small = [_someone(rng, u) * [0.5, 0.5, 1] + [0, 200, 0] for u in (100.0, 1000.0)]  # 100 px
    for p in small:
        p[0, :2] = p[:, :2].min(0)  # a joint at the box corner, for the sizes below
    config = BlazePoseConfig(passes=1)
    det = _Located(small, config)
    assert len(det(image)) == 2 and len(det.searched) == 1 + 6  # the image, then its 6 tiles
    found = det(image)
    order = np.argsort(found[:, 0, 0])
    np.testing.assert_allclose(found[order], np.stack(small))  # in the image's pixels, once each
    assert len(_Located(small, dataclasses.replace(config, tile_below=0.0))(image)) == 0
    # a person the whole image shows big enough: no tiles
    big = [_someone(rng, 100.0) * [1.2, 1.2, 1]]
    det = _Located(big, config)
    assert len(det(image)) == 1 and len(det.searched) == 1


def test_a_person_a_tile_cuts_is_taken_whole_from_another(rng):
    image = _Located.image(600, 900)
    person = _someone(rng, 0.0) * [0.5, 0.5, 1] + [600, 200, 0]  # u 600..700: x-tile 225 cuts
    parts = []

    class Partial(_Located):  # the whole image finds nobody; a tile that cuts the person shows
        def _search(self, img):  # their part inside it, the rest placed beyond its edge, unsure
            whole = super()._search(img)
            y0, x0, h, w = self.searched[-1]
            if (h, w) == (600, 900):
                return np.zeros((0, 33, 3))
            rel = person - [x0, y0, 0]
            inside = (rel[:, 0] >= 0) & (rel[:, 0] < w) & (rel[:, 1] >= 0) & (rel[:, 1] < h)
            if len(whole) or inside.sum() < 3:
                return whole
            part = rel.copy()
            part[~inside, 2] = 0.0
            parts.append((x0, y0))
            return part[None]

    found = Partial([person], BlazePoseConfig(passes=1, tile_below=1.0), least=0.0)(image)
    assert parts and len(found) == 1  # parts were shown, and not taken
    np.testing.assert_allclose(found[0], person)
    part = person[None] - [225, 0, 0]
    part[0, part[0, :, 0] >= 450, 2] = 0.0
    assert cut_by(part, (450, 450), (False, True, True, True)).tolist() == [True]


def test_tiles_find_people_in_a_real_frame_shrunk_to_a_third(shared_data):
    image = _frame(shared_data, "cam01", 40)
    with BlazePose() as det:
        full = det(image)
        h, w = image.shape[:2]
        small = cv2.resize(image, (w // 3, h // 3), interpolation=cv2.INTER_AREA)
        canvas = np.full_like(image, 114)
        canvas[h // 3 : h // 3 + small.shape[0], w // 3 : w // 3 + small.shape[1]] = small
        with BlazePose(BlazePoseConfig(tile_below=0.0)) as whole_only:
            assert len(whole_only(canvas)) == 0  # too small for MediaPipe's person detector
        tiled = det(canvas)
    assert len(full) >= 1 and len(tiled) == len(full)
    back = (tiled[..., :2] - [w // 3, h // 3]) * 3  # in the full frame's pixels
    for person in full:  # each person found at full size is found small, where they are
        sure = person[:, 2] > 0.5
        gap = np.median(np.linalg.norm(back[:, sure] - person[sure, :2], axis=-1), -1).min()
        assert gap < 0.15 * np.ptp(person[sure, 1])  # a third of the pixels: a little coarser


def _box(u0, v0, u1, v1):
    return np.array([[u0, v0, 0.9], [u1, v1, 0.9], [(u0 + u1) / 2, (v0 + v1) / 2, 0.9]])


def test_boxes_overlap_and_nearest_tile_by_hand():
    a = np.stack([_box(0, 0, 10, 10), _box(100, 100, 110, 110)])
    b = np.stack([_box(2, 2, 6, 6), _box(5, 0, 15, 10), _box(8, 0, 18, 10)])
    # b0 lies inside a0 (1.0); b1 covers half of a0 (0.5); b2 a fifth (0.2)
    assert boxes_overlap(a, b).tolist() == [[True, True, False], [False, False, False]]
    assert boxes_overlap(a, b, share=0.6).tolist() == [[True, False, False], [False] * 3]
    assert boxes_overlap(a[:0], b).shape == (0, 3)
    grid = tiles(600, 900, 2)  # centres: rows 225, 375; columns 225, 450, 675
    points = np.array([[0, 0], [330, 299], [330, 301], [899, 599], [np.nan, 5]])
    assert nearest_tile(points, grid).tolist() == [0, 0, 3, 5, -1]


def test_a_small_person_the_whole_image_shows_is_not_added_again_from_a_tile(rng):
    image = _Located.image(600, 900)
    person = _someone(rng, 100.0) * [0.5, 0.5, 1] + [0, 200, 0]
    coarse = person.copy()
    coarse[:, :2] += rng.normal(0, 15, (33, 2))  # beyond the duplicate gate, in the same box

    class Coarse(_Located):  # the whole image shows the person coarsely, the tiles sharply
        def _search(self, img):
            found = super()._search(img)
            return coarse[None] if img.shape[:2] == (600, 900) else found

    det = Coarse([person], BlazePoseConfig(passes=1))
    found = det(image)
    assert len(found) == 1 and len(det.searched) == 7  # the tiles were searched
    np.testing.assert_allclose(found[0], coarse)


def test_people_over_half_a_tile_are_not_taken_from_tiles(rng):
    # the whole image misses a 300 px person (as MediaPipe misses some poses) and a tile shows
    # them whole: over half a tile (225 px), a tile usually shows only part of such a person, read
    # as a person of its own, so the tiles do not stand in for the whole image's search
    image = _Located.image(600, 900)
    big = _someone(rng, 0.0) * [1.5, 1.5, 1] + [100, 0, 0]
    det = _Located([big], BlazePoseConfig(passes=1), least=0.34)
    assert len(det(image)) == 0 and len(det.searched) == 7
    small = _someone(rng, 0.0) + [100, 0, 0]  # 200 px: taken
    assert len(_Located([small], BlazePoseConfig(passes=1), least=0.34)(image)) == 1


def test_tile_settings_out_of_range_are_refused():
    with pytest.raises(InputError, match="tile_zoom must be >= 2, got 1"):
        BlazePoseConfig(tile_zoom=1)
    with pytest.raises(InputError, match=r"tile_below must lie in \[0, 1\], got 1.5"):
        BlazePoseConfig(tile_below=1.5)
    with pytest.raises(InputError, match=r"mask_pad must lie in \[0, 1\], got -0.1"):
        BlazePoseConfig(mask_pad=-0.1)


def test_read_back_mirrored_by_hand():
    names = get_joint_set("blazepose33").joints
    seen = np.zeros((1, 33, 3))
    seen[0, :, 0] = np.arange(33)  # u = the landmark's index, in the mirrored image
    seen[0, :, 1] = 100 + np.arange(33)
    seen[0, :, 2] = np.linspace(0.1, 0.9, 33)
    back = read_back_mirrored(seen, width=640)
    # the mirrored image's left wrist is the person's right wrist, 640 - u from the left edge
    lw, rw = names.index("l_wrist"), names.index("r_wrist")
    np.testing.assert_allclose(back[0, rw], [640 - lw, 100 + lw, seen[0, lw, 2]])
    np.testing.assert_allclose(back[0, lw], [640 - rw, 100 + rw, seen[0, rw, 2]])
    nose = names.index("nose")
    np.testing.assert_allclose(back[0, nose], [640 - nose, 100 + nose, seen[0, nose, 2]])
    # reading back twice gives the reading itself
    np.testing.assert_allclose(read_back_mirrored(back, width=640), seen)


def test_mirrored_readings_merge_where_they_agree(rng):
    a = _someone(rng, 0.0)  # 33 landmarks over a 200-pixel box
    b = a.copy()
    b[:, :2] += [3.0, -1.0]  # the mirror's reading: 1.6 % of the person's size off
    b[:, 2] = 0.7
    b[5, :2] += 40.0  # one landmark 20 % off: they disagree there
    b[6, 2] = 0.95  # ... and another one they agree on, more visible in the mirror
    other = _someone(rng, 600.0)  # found in the mirror only: not added
    out = merge_mirrored(a[None], np.stack([other, b]))
    assert out.shape == (1, 33, 3)
    mean = 0.5 * (a + b)
    keep = np.ones(33, bool)
    keep[5] = False
    np.testing.assert_allclose(out[0, keep], mean[keep])
    np.testing.assert_allclose(out[0, 5], a[5])  # the more visible reading (0.9 against 0.7)
    b[5, 2] = 0.99
    np.testing.assert_allclose(merge_mirrored(a[None], b[None])[0, 5], b[5])
    # a landmark one reading is unsure of is not averaged either: the surer one is kept
    b[7, 2] = 0.1
    np.testing.assert_allclose(merge_mirrored(a[None], b[None])[0, 7], a[7])
    # nobody in the mirror, or nobody alike: the people as found
    np.testing.assert_array_equal(merge_mirrored(a[None], np.zeros((0, 33, 3))), a[None])
    np.testing.assert_array_equal(merge_mirrored(a[None], other[None]), a[None])
    np.testing.assert_array_equal(merge_mirrored(np.zeros((0, 33, 3)), b[None]).shape, (0, 33, 3))


def test_each_person_merges_with_their_own_mirrored_reading(rng):
    # two people 12 px apart on 200 px bodies (0.06 of their size, within the pairing gate of
    # 0.1): each could pair with either reading, and the least total cost pairs them rightly
    a = _someone(rng, 0.0)
    c = a.copy()
    c[:, :2] += [12.0, 0.0]
    a2, c2 = a.copy(), c.copy()
    a2[:, :2] -= [2.0, 0.0]  # a's reading is 10 px from c's, c's 14 px from a's
    c2[:, :2] += [2.0, 0.0]
    stranger = _someone(rng, 600.0)
    pairs, _, _ = pair_readings(np.stack([a, c]), np.stack([stranger, c2, a2]))
    assert sorted(pairs) == [(0, 2), (1, 1)]
    out = merge_mirrored(np.stack([a, c]), np.stack([stranger, c2, a2]))
    np.testing.assert_allclose(out[0, :, :2], a[:, :2] - [1.0, 0.0])
    np.testing.assert_allclose(out[1, :, :2], c[:, :2] + [1.0, 0.0])


def test_readings_pair_on_the_landmarks_both_are_sure_of(rng):
    a = _someone(rng, 0.0)
    b = a.copy()
    b[:, :2] += 1.0
    unsure = np.arange(33) >= 13  # 20 of the 33 landmarks unsure in both, and far apart
    a[unsure, 2] = b[unsure, 2] = 0.1
    b[unsure, :2] += 150.0
    stranger = _someone(rng, 600.0)
    for mirrored in (b[None], np.stack([stranger, b])):
        out = merge_mirrored(a[None], mirrored)
        np.testing.assert_allclose(out[0, ~unsure, :2], a[~unsure, :2] + 0.5)  # merged
    a[0, :2] = np.nan  # a landmark without a place is neither compared nor averaged
    assert pair_readings(a[None], b[None])[0] == [(0, 0)]
    with pytest.raises(InputError, match=r"expected \(P, 33, 3\)"):
        merge_mirrored(np.zeros((1, 17, 3)), b[None])
    with pytest.raises(InputError, match="mirrored people"):
        read_back_mirrored(np.zeros((1, 17, 3)), 100)


class _Mirrored(_Canned):
    """The canned detector with the mirrored reading on (its searches: the image's, then the
    mirrored image's)."""

    def __init__(self, searches, config=None):
        super().__init__(searches, config)
        self.config = dataclasses.replace(self.config, mirror=True)


def test_the_detector_reads_the_mirrored_image_and_merges(rng):
    image = np.zeros((600, 900, 3), np.uint8)
    image[:, :450] = 200  # the left half bright: the mirrored image has it on the right
    a = _someone(rng, 100.0)
    a[:, 2] = np.linspace(0.4, 0.9, 33)
    # the same person where the mirror shows them (u -> 900 - u, sides swapped), 4 px off; the
    # mirror's copy of them (a duplicate its own search drops) is not counted
    seen = np.empty_like(a)
    swap = np.arange(33)
    for i, j in get_joint_set("blazepose33").flip_pairs:
        swap[i], swap[j] = j, i
    seen[swap] = a
    seen[:, 0] = 900.0 - seen[:, 0] + 4.0
    seen[:, 2] = 0.8
    copy = seen.copy()
    copy[:, 2] = 0.5
    det = _Mirrored([a[None], np.stack([seen, copy])], BlazePoseConfig(passes=1))
    out = det(image)
    assert len(det.images) == 2 and det.duplicates == 0
    np.testing.assert_array_equal(det.images[1], image[:, ::-1])
    expected = a.copy()
    expected[:, 0] -= 2.0  # the mean of the two readings: 4 px apart, back in the image
    expected[:, 2] = (a[:, 2] + 0.8) / 2
    np.testing.assert_allclose(out[0], expected)
    # mirror_agree reaches the merge: under 4 px of a 200 px person, the readings disagree
    det = _Mirrored([a[None], seen[None]], BlazePoseConfig(passes=1, mirror_agree=0.01))
    np.testing.assert_allclose(det(image)[0, :, 0], np.where(a[:, 2] >= 0.8, a[:, 0], a[:, 0] - 4))
    # nobody found: the mirrored image is not read
    det = _Mirrored([np.zeros((0, 33, 3))], BlazePoseConfig(passes=1))
    assert len(det(image)) == 0 and len(det.images) == 1


def test_the_mirrored_reading_on_a_real_frame(shared_data):
    image = _frame(shared_data)
    with BlazePose(BlazePoseConfig(mirror=False)) as once, BlazePose() as twice:
        one, merged = once(image), twice(image)
    assert len(merged) == len(one) >= 1
    # each person stays where one reading put them, moved by a few pixels at most
    sure = one[..., 2] > 0.5
    size = np.ptp(one[..., 1], axis=-1)[:, None]
    moved = np.linalg.norm(merged[..., :2] - one[..., :2], axis=-1) / size
    assert np.median(moved[sure]) < 0.03
    # merged with the mirror's reading: most sure landmarks move by 0.2 % of the size or more
    assert (moved[sure] > 0.002).mean() > 0.5
    with pytest.raises(InputError, match="mirror_agree"):
        BlazePoseConfig(mirror_agree=1.5)
