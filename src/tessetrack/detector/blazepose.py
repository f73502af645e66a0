"""The built-in 2D person detector: MediaPipe BlazePose, pretrained on real photographs.

The ``mediapipe`` wheel (:data:`MEDIAPIPE_REQUIREMENT`) bundles BlazePose's two TFLite models
(Apache-2.0): a person detector (``pose_detection.tflite``) and the full 33-landmark model
(``pose_landmark_full.tflite``). Its multi-person ``PoseLandmarker`` reads them only as a ``.task``
bundle — an uncompressed zip of ``pose_detector.tflite`` and ``pose_landmarks_detector.tflite``,
each carrying image-normalisation metadata. :func:`task_bundle` writes that bundle in memory with
mediapipe's own metadata writer; nothing is downloaded and nothing is written to disk.

Why these models: they install from a package registry and run offline on a CPU (30–70 ms per
1080p image on 2 cores), find several people per image, and were trained on real people — which
no model we can train here on renders would be. Their joints are BlazePose's 33 landmarks
(:data:`tessetrack.skeletons.BLAZEPOSE33`); :func:`landmarks_to` converts them to BODY25 or COCO-17
(neck and mid-hip as the mean of the shoulders and of the hips).

mediapipe is installed without its declared dependencies (it would bring a second OpenCV build
that shares the ``cv2`` folder with ours, and jax): see the README's install line.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tessetrack.errors import DependencyError, InputError
from tessetrack.ops.assignment import gated_assignment
from tessetrack.ops.duplicates import DUPLICATE_GATE, distinct_people, people_apart, same_people
from tessetrack.skeletons import BLAZEPOSE33, convert_joints

__all__ = [
    "MEDIAPIPE_REQUIREMENT",
    "INSTALL_HINT",
    "BlazePoseConfig",
    "BlazePose",
    "model_files",
    "task_bundle",
    "landmarks_to",
    "grey_out",
    "tiles",
    "cut_by",
    "nearest_tile",
    "boxes_overlap",
    "read_back_mirrored",
    "pair_readings",
    "merge_mirrored",
]

logger = logging.getLogger(__name__)

#: The mediapipe release whose wheel bundles both BlazePose models (later releases drop them).
MEDIAPIPE_REQUIREMENT = "mediapipe==0.10.14"
#: What to run when the detector is missing.
INSTALL_HINT = (
    f"pip install --no-deps {MEDIAPIPE_REQUIREMENT} && pip install 'tessetrack[detector]' "
    "(mediapipe 0.10.14 has wheels for Python 3.9-3.12)"
)
_DETECTOR_FILE = ("modules", "pose_detection", "pose_detection.tflite")
_LANDMARK_FILE = ("modules", "pose_landmark", "pose_landmark_full.tflite")


@dataclass(frozen=True)
class BlazePoseConfig:
    """Settings of the built-in detector.

    Attributes:
        max_people: people found per image at most (MediaPipe's ``num_poses``).
        min_detection: score the person detector needs (0..1).
        min_presence: landmark model's "a person is here" score needed to keep a person (0..1).
        duplicate: two people one search finds whose joints lie closer than this share of their
            size (median over the joints both show) are one person found twice; the less
            confident is dropped (:func:`~tessetrack.ops.duplicates.distinct_people`). 0 keeps
            both.
        passes: times the image is searched: after the first, again with the people found so far
            greyed out (their boxes, padded by ``mask_pad`` of their size), while a search finds
            somebody new — a person not within ``DUPLICATE_GATE`` of one found before (whatever
            ``duplicate`` is: a person found again around the grey is never new). MediaPipe's
            person detector often misses the second of two people close together (and finds the
            first one twice instead). Each further search costs time in every image with people (the
            second made the detector 1.5 times slower on the 4-camera recording below); 1: one
            search, the fastest.
        mask_pad: share of a found person's box size added around it when it is greyed out.
        tile_below: an image where the search finds nobody, or only people whose box is
            smaller than this share of the image's longer side, is searched again in overlapping
            tiles (:func:`tiles`), each as an image of its own: MediaPipe's person detector
            sees the image shrunk to 224 pixels and misses people under about a fifth of its
            longer side (``benchmarks/far_people.py``: the real recording below shrunk to a
            third inside a grey frame, every 10th frame, gives 8 people without tiles and 57 with
            them, against 71 at full size). 0: never.
        tile_zoom: the tiles are this many times smaller than the image's longer side (square,
            clipped to the image), at strides of at most half a tile, so that a person up to
            half a tile across lies wholly inside one; only such people are taken from the tiles
            (a larger one is the whole image's to find). Above 2, people between half a tile and
            ``tile_below`` of the image are left to the whole image's search.
        mirror: each image is read a second time mirrored left to right, and each person found
            in both readings (:func:`merge_mirrored`) gets, per landmark, the mean of the two
            where they agree, else the more visible one; the mirrored reading adds nobody. The
            landmark model does not err alike on an image and its mirror: on the real 4-camera
            recording of the test data a landmark's two readings lie a median 1.64 % of the
            person's size apart, and the other cameras' merged detections, triangulated, land
            closer to a left-out camera's people (``benchmarks/mirror_reading.py``). Twice the
            detector's time; False: one reading.
        mirror_agree: two readings of a landmark further apart than this share of the person's
            size disagree (one of them is wrong).

    The thresholds are below MediaPipe's 0.5: on the real 4-camera recording in the test data
    (every 5th of 100 frames, 2 people tracked) 0.5 finds 1.35 people per image, 0.3 finds
    1.6 (measured before a person found twice was kept once: 1.5 per image since, over all 100
    frames). The second search finds 1.78 per image there (712 people in the 400 images against
    604), most of them the second person of the recording beside the first, some onlookers at
    the back of the room. The 3D stage keeps only people that several views agree on, so the
    extra stray people cost little.
    """

    max_people: int = 8
    min_detection: float = 0.3
    min_presence: float = 0.3
    duplicate: float = DUPLICATE_GATE
    passes: int = 2
    mask_pad: float = 0.15
    tile_below: float = 0.25
    tile_zoom: int = 2
    mirror: bool = True
    mirror_agree: float = 0.1

    def __post_init__(self) -> None:
        if self.max_people < 1:
            raise InputError(f"max_people must be >= 1, got {self.max_people}")
        if self.passes < 1:
            raise InputError(f"passes must be >= 1, got {self.passes}")
        if self.tile_zoom < 2:
            raise InputError(f"tile_zoom must be >= 2, got {self.tile_zoom}")
        for name in ("min_detection", "min_presence", "duplicate", "mask_pad", "tile_below",
                     "mirror_agree"):  # fmt: skip
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(f"{name} must lie in [0, 1], got {value}")


def _mediapipe() -> Any:
    """The imported ``mediapipe`` module, or a :class:`DependencyError` saying what to install."""
    os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ logs, before its first import
    try:
        import mediapipe
        from mediapipe.tasks.python import vision  # noqa: F401
    except ImportError as exc:
        raise DependencyError(
            f"the built-in 2D detector needs mediapipe ({exc.name or exc} is missing): "
            f"{INSTALL_HINT}"
        ) from None
    return mediapipe


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence what native code (MediaPipe's C++ logging) writes to file descriptor 2 meanwhile."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (captured): nothing to silence
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def model_files() -> tuple[Path, Path]:
    """Paths of the person-detector and landmark TFLite models inside the installed mediapipe.

    Raises:
        DependencyError: mediapipe missing, or a release that does not ship both files.
    """
    mp = _mediapipe()
    root = Path(mp.__file__).parent
    files = (root.joinpath(*_DETECTOR_FILE), root.joinpath(*_LANDMARK_FILE))
    missing = [str(f.relative_to(root)) for f in files if not f.is_file()]
    if missing:
        version = getattr(mp, "__version__", "?")
        raise DependencyError(
            f"mediapipe {version} does not ship {', '.join(missing)}; install the release that "
            f"does: {INSTALL_HINT}"
        )
    return files


def task_bundle(detector_model: bytes, landmark_model: bytes) -> bytes:
    """A ``PoseLandmarker`` ``.task`` bundle (uncompressed zip) from the two bare TFLite models.

    The detector reads pixels normalised as ``(x - 127.5) / 127.5``, the landmark model ``x / 255``;
    that is the metadata written into each model.
    """
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    def with_metadata(model: bytes, name: str, mean: float, std: float) -> bytes:
        writer = metadata_writer.MetadataWriter.create(model)
        writer.add_general_info(model_name=name, model_description="BlazePose (MediaPipe)")
        writer.add_image_input(norm_mean=[mean], norm_std=[std])
        populated = writer.populate()
        return populated[0] if isinstance(populated, tuple) else populated

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as bundle:
        bundle.writestr(
            "pose_detector.tflite", with_metadata(detector_model, "pose_detector", 127.5, 127.5)
        )
        bundle.writestr(
            "pose_landmarks_detector.tflite",
            with_metadata(landmark_model, "pose_landmarks_detector", 0.0, 255.0),
        )
    return buffer.getvalue()


class BlazePose:
    """Several people's 33 BlazePose landmarks in one RGB image.

    Args:
        config: detector settings.

    Attributes:
        duplicates: people dropped so far as a copy of another person one search found.

    Raises:
        DependencyError: mediapipe missing or without the models (says what to install).
    """

    def __init__(self, config: BlazePoseConfig | None = None) -> None:
        self.config = config or BlazePoseConfig()
        mp = _mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        detector_file, landmark_file = model_files()
        bundle = task_bundle(detector_file.read_bytes(), landmark_file.read_bytes())
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=bundle),
            running_mode=vision.RunningMode.IMAGE,
            num_poses=self.config.max_people,
            min_pose_detection_confidence=self.config.min_detection,
            min_pose_presence_confidence=self.config.min_presence,
        )
        with warnings.catch_warnings(), _quiet_native_stderr():  # graph set-up chatter
            warnings.simplefilter("ignore")
            self._landmarker = vision.PoseLandmarker.create_from_options(options)
        self._mp = mp
        self._calls = 0
        self.duplicates = 0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Landmarks of everyone found in ``image``.

        Args:
            image: (H, W, 3) uint8 RGB.

        Returns:
            (P, 33, 3) float64 of (u, v, visibility): pixels of ``image`` (OpenCV convention,
            ``u = x · W``) and MediaPipe's per-landmark visibility in [0, 1]; one person found
            twice only once (``config.duplicate``); with ``config.mirror``, each person found in
            the mirrored image too is the two readings merged (:func:`merge_mirrored`).
        """
        img = np.asarray(image)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise InputError(f"expected an (H, W, 3) uint8 RGB image, got {img.shape} {img.dtype}")
        out = self._everyone(img)
        if not self.config.mirror or len(out) == 0:
            return out
        dropped = self.duplicates  # the mirrored reading's copies are not the output's
        mirrored = self._everyone(np.ascontiguousarray(img[:, ::-1]))
        self.duplicates = dropped
        return merge_mirrored(out, read_back_mirrored(mirrored, img.shape[1]),
                              agree=self.config.mirror_agree)  # fmt: skip

    def _everyone(self, img: np.ndarray) -> np.ndarray:
        """(P, 33, 3) everyone one reading of ``img`` finds: its searches, then its tiles."""
        out = self._find(img)
        if self.config.tile_below > 0 and len(out) < self.config.max_people:
            size = _sizes(out).max(initial=0.0) / max(img.shape[:2])
            if size < self.config.tile_below:
                # the tiles' people whose box overlaps nobody's found before: a tile shows a
                # person found in the whole image, or in another tile, a little differently
                out = self._add(out, self._in_tiles(img), apart=True)
        return out

    def _find(self, img: np.ndarray) -> np.ndarray:
        """(P, 33, 3) everyone the searches of ``config.passes`` find in one image."""
        out = self._distinct(self._search(img))
        for _ in range(self.config.passes - 1):
            if len(out) == 0 or len(out) >= self.config.max_people:
                break
            more = self._distinct(self._search(grey_out(img, out, self.config.mask_pad)))
            found = len(out)
            out = self._add(out, more)
            if len(out) == found:  # nobody new
                break
        return out

    def _add(self, out: np.ndarray, more: np.ndarray, apart: bool = False) -> np.ndarray:
        """``out`` with the people of ``more`` that are not somebody in it again (the gate of
        :data:`DUPLICATE_GATE`, also among those added; with ``apart``, nor in a box that
        overlaps theirs: :func:`boxes_overlap`), surest first, up to ``max_people``."""
        for person in more[np.argsort(-more[..., 2].mean(-1), kind="stable")]:
            if len(out) >= self.config.max_people:
                break
            if len(out) == 0 or not (
                same_people(person[None], out).any()
                or (apart and boxes_overlap(person[None], out, share=0.8).any())
            ):
                out = np.concatenate([out, person[None]])
        return out

    def _in_tiles(self, img: np.ndarray) -> np.ndarray:
        """(P, 33, 3) the people the searches find in the tiles of ``img`` (:func:`tiles`), in
        ``img``'s pixels: each taken only from the tile whose centre lies nearest the centre of
        their box (:func:`nearest_tile`; the tiles overlap, and one person found in several of
        them would come out differently in each), not where the tile's inner edge cuts them, and
        only people up to half a tile across (larger ones no tile holds whole: a tile shows a
        part of them, read as a person of its own)."""
        h, w = img.shape[:2]
        grid = tiles(h, w, self.config.tile_zoom)
        found = []
        for k, (y, x, th, tw) in enumerate(grid):
            people = self._find(np.ascontiguousarray(img[y : y + th, x : x + tw]))
            if len(people) == 0:
                continue
            people[..., 0] += x
            people[..., 1] += y
            box = _boxes(people)
            mine = nearest_tile((box[:, :2] + box[:, 2:]) / 2, grid) == k
            cut = cut_by(people - [x, y, 0], (th, tw), inner=(y > 0, x > 0, y + th < h, x + tw < w))
            small = _sizes(people) <= 0.5 * max(th, tw)  # whole in some tile
            found.append(people[mine & ~cut & small])
        return np.concatenate(found) if found else np.zeros((0, 33, 3))

    def _distinct(self, people: np.ndarray) -> np.ndarray:
        """One search's people with a person found twice kept once (counted in ``duplicates``)."""
        keep = distinct_people(people, gate=self.config.duplicate)
        self.duplicates += int((~keep).sum())
        return people[keep]

    def _search(self, img: np.ndarray) -> np.ndarray:
        """(P, 33, 3) everyone MediaPipe finds in one (H, W, 3) uint8 RGB image."""
        h, w = img.shape[:2]
        mp_image = self._mp.Image(
            image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(img)
        )
        quiet = _quiet_native_stderr() if self._calls == 0 else contextlib.nullcontext()
        with warnings.catch_warnings(), quiet:  # the first call logs its TFLite delegates
            warnings.simplefilter("ignore")
            result = self._landmarker.detect(mp_image)
        self._calls += 1
        out = np.zeros((len(result.pose_landmarks), 33, 3))
        for p, landmarks in enumerate(result.pose_landmarks):
            out[p] = [(lm.x * w, lm.y * h, lm.visibility) for lm in landmarks]
        out[..., 2] = np.clip(np.nan_to_num(out[..., 2]), 0.0, 1.0)
        return out

    def close(self) -> None:
        """Free the MediaPipe graph."""
        self._landmarker.close()

    def __enter__(self) -> BlazePose:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _boxes(people: np.ndarray, min_confidence: float = 0.3) -> np.ndarray:
    """(P, 4) each person's box (u0, v0, u1, v1) around their joints of at least
    ``min_confidence`` (all finite joints where fewer than three are); NaN without joints."""
    people = np.asarray(people, dtype=np.float64).reshape(-1, *np.shape(people)[-2:])
    out = np.full((len(people), 4), np.nan)
    for i, person in enumerate(people):
        ok = (person[:, 2] >= min_confidence) & np.isfinite(person[:, :2]).all(-1)
        if ok.sum() < 3:
            ok = np.isfinite(person[:, :2]).all(-1)
        if ok.any():
            out[i] = np.concatenate([person[ok, :2].min(0), person[ok, :2].max(0)])
    return out


def tiles(height: int, width: int, zoom: int) -> list[tuple[int, int, int, int]]:
    """Overlapping tiles of an image: squares of side ``max(height, width) / zoom`` (clipped to the
    image) at strides of at most half a side, first and last flush with the image's edges.

    Returns:
        (y, x, tile height, tile width) per tile, rows first.
    """
    side = int(np.ceil(max(height, width) / zoom))
    th, tw = min(side, height), min(side, width)

    def starts(n: int, t: int) -> np.ndarray:
        count = int(np.ceil(2 * (n - t) / t)) + 1  # strides of at most t / 2
        return np.unique(np.round(np.linspace(0, n - t, count)).astype(int))

    return [(int(y), int(x), th, tw) for y in starts(height, th) for x in starts(width, tw)]


def _sizes(people: np.ndarray) -> np.ndarray:
    """(P,) the longer side of each (P, J, 3) person's box (:func:`_boxes`), pixels (0: none)."""
    b = _boxes(people)
    return np.nan_to_num(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]))


def boxes_overlap(a: np.ndarray, b: np.ndarray, share: float = 0.5) -> np.ndarray:
    """(Pa, Pb) whether the boxes of people ``a`` and ``b`` (:func:`grey_out`'s) overlap by at
    least ``share`` of the smaller box's area (a person inside another's box: 1)."""
    ba, bb = _boxes(a)[:, None], _boxes(b)[None]  # Pa×1×4, 1×Pb×4
    lo, hi = np.maximum(ba[..., :2], bb[..., :2]), np.minimum(ba[..., 2:], bb[..., 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)  # Pa×Pb
    area = lambda x: np.clip(x[..., 2:] - x[..., :2], 0, None).prod(-1)  # noqa: E731
    smaller = np.maximum(np.minimum(area(ba), area(bb)), 1e-9)
    return np.nan_to_num(inter / smaller) >= share


def nearest_tile(points: np.ndarray, grid: list[tuple[int, int, int, int]]) -> np.ndarray:
    """(P,) the index in ``grid`` (:func:`tiles`) of the tile whose centre lies nearest each of
    the (P, 2) points (u, v), row and column apart (the tiles' nearest-centre cells part the
    image); -1 for a point that is not finite."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    centres = np.array([(y + th / 2, x + tw / 2) for y, x, th, tw in grid])  # K×2 (v, u)
    rows, cols = np.unique(centres[:, 0]), np.unique(centres[:, 1])  # the grid's rows, columns
    safe = np.nan_to_num(pts)
    row = rows[np.abs(rows[None] - safe[:, 1:]).argmin(1)]  # P: the nearest row's centre
    col = cols[np.abs(cols[None] - safe[:, :1]).argmin(1)]
    match = (centres[None, :, 0] == row[:, None]) & (centres[None, :, 1] == col[:, None])  # P×K
    return np.where(np.isfinite(pts).all(-1), match.argmax(1), -1)


def cut_by(people: np.ndarray, size: tuple[int, int], inner: tuple[bool, ...]) -> np.ndarray:
    """(P,) whether the box of each person's landmarks, confident or not (MediaPipe places those
    it does not see beyond the tile's edge), reaches within 1 % of the tile's side of one of its
    inner edges: the person goes on beyond it.

    Args:
        people: (P, J, 3) in the tile's pixels.
        size: the tile's (height, width).
        inner: whether its top, left, bottom and right edges lie inside the image.
    """
    th, tw = size
    m = 0.01 * max(th, tw)
    u0, v0, u1, v1 = np.nan_to_num(_boxes(people, 0.0), nan=-np.inf).T
    top, left, bottom, right = inner
    return (top & (v0 < m)) | (left & (u0 < m)) | (bottom & (v1 > th - m)) | (right & (u1 > tw - m))


def grey_out(
    image: np.ndarray, people: np.ndarray, pad: float, min_confidence: float = 0.3
) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) with each person's box filled with mid-grey.

    The box spans the person's joints of at least ``min_confidence`` (all of them where fewer than
    three are), widened by ``pad`` of its width and height on every side and clipped to the image.

    Args:
        image: (H, W, 3) uint8.
        people: (P, J, 3) of (u, v, confidence) in pixels.
    """
    out = np.array(image, copy=True)
    h, w = out.shape[:2]
    for box in _boxes(people, min_confidence):
        if not np.isfinite(box).all():
            continue
        lo, hi = box[:2], box[2:]
        lo, hi = lo - pad * (hi - lo), hi + pad * (hi - lo)
        x0, y0 = (int(np.clip(np.floor(v), 0, n)) for v, n in zip(lo, (w, h), strict=True))
        x1, y1 = (int(np.clip(np.ceil(v) + 1, 0, n)) for v, n in zip(hi, (w, h), strict=True))
        out[y0:y1, x0:x1] = 127
    return out


def _landmark_people(people: np.ndarray, what: str) -> np.ndarray:
    """``people`` as a (P, 33, 3) float array; an InputError naming ``what`` otherwise."""
    arr = np.asarray(people, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1:] != (BLAZEPOSE33.num_joints, 3):
        raise InputError(f"{what}: expected (P, 33, 3) BlazePose landmarks, got {arr.shape}")
    return arr


def read_back_mirrored(people: np.ndarray, width: int) -> np.ndarray:
    """(P, 33, 3) landmarks found in an image mirrored left to right, ``width`` pixels wide →
    the same people in the unmirrored image: ``u → width − u`` (``u = x · width``, the image
    spanning [0, width] as MediaPipe's normalised x spans [0, 1]) and each left landmark
    swapped with its right one."""
    swap = np.arange(BLAZEPOSE33.num_joints)
    for a, b in BLAZEPOSE33.flip_pairs:
        swap[a], swap[b] = b, a
    out = _landmark_people(people, "mirrored people")[:, swap]
    out[..., 0] = width - out[..., 0]
    return out


def pair_readings(
    found: np.ndarray, mirrored: np.ndarray, *, gate: float = DUPLICATE_GATE,
    min_confidence: float = 0.3, min_joints: int = 5,
) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:  # fmt: skip
    """Which person of ``mirrored`` is which of ``found``: one person, one pair, by the least
    total cost (Hungarian), the cost of a pair being the median distance of the landmarks both
    readings show with ``min_confidence`` over the larger of their sizes
    (:func:`~tessetrack.ops.duplicates.people_apart`); pairs at ``gate`` or over, or with fewer
    than ``min_joints`` such landmarks, are refused (as
    :func:`~tessetrack.ops.duplicates.same_people` refuses them).

    Args:
        found, mirrored: (P, 33, 3) and (Q, 33, 3) of (u, v, visibility), in the same image.

    Returns:
        pairs [(p, q)], dist (P, Q, 33) the landmarks' pixel distances, size (P, Q) the pairs'
        person sizes in pixels.
    """
    found = _landmark_people(found, "people found")
    mirrored = _landmark_people(mirrored, "mirrored people")
    apart, shown, dist, size = people_apart(found, mirrored, min_confidence=min_confidence)
    if found.shape[0] == 0 or mirrored.shape[0] == 0:
        return [], dist, size
    ok = (shown >= min_joints) & (apart < gate)
    rows, cols = gated_assignment(apart, ok, gate)
    return list(zip(rows.tolist(), cols.tolist(), strict=True)), dist, size


def merge_mirrored(
    found: np.ndarray,
    mirrored: np.ndarray,
    *,
    gate: float = DUPLICATE_GATE,
    agree: float = 0.1,
    min_confidence: float = 0.3,
) -> np.ndarray:
    """Each person of ``found`` merged with their reading in the mirrored image, where it has one.

    The readings are paired by :func:`pair_readings` (``gate``: one person's two readings lie a
    median 1.4-1.6 % of their size apart on the real recordings of the test data). Per landmark,
    where both readings are confident (``min_confidence``) and lie within ``agree`` of the
    person's size of each other, the position and visibility are the two readings' means;
    elsewhere the more visible reading is kept. People of ``mirrored`` that pair with nobody are
    not added: the mirrored reading moves the people found, it finds nobody.

    Args:
        found: (P, 33, 3) the image's people (u, v, visibility).
        mirrored: (Q, 33, 3) the mirrored image's people, read back (:func:`read_back_mirrored`).

    Returns:
        (P, 33, 3) ``found``'s people, merged where paired.

    Raises:
        InputError: arrays that are not (P, 33, 3) landmarks.
    """
    pairs, dist, size = pair_readings(found, mirrored, gate=gate, min_confidence=min_confidence)
    found = _landmark_people(found, "people found")
    mirrored = _landmark_people(mirrored, "mirrored people")
    out = found.copy()
    for r, c in pairs:
        a, b = found[r], mirrored[c]
        sure = (a[:, 2] >= min_confidence) & (b[:, 2] >= min_confidence)
        close = sure & (dist[r, c] <= agree * size[r, c])  # 33
        surer = np.where((b[:, 2] > a[:, 2])[:, None], b, a)
        out[r] = np.where(close[:, None], 0.5 * (a + b), surer)
    return out


def landmarks_to(landmarks: np.ndarray, joint_set: str) -> np.ndarray:
    """BlazePose landmarks (..., 33, 3) of (u, v, confidence) → another joint set's (..., J, 3).

    Joints the landmarks cannot form (BODY25's small toes) get ``(0, 0, 0)``: not detected.
    Derived joints (neck, mid-hip) are the mean of their two landmarks, confidence included.
    """
    out = convert_joints(np.asarray(landmarks, dtype=np.float64), "blazepose33", joint_set)
    bad = ~np.isfinite(out).all(axis=-1)  # ...×J
    out[bad] = 0.0
    return out
