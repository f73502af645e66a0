"""2D pose detections per camera and frame: OpenPose JSON folders and COCO keypoint results.

Everything is read into :class:`Detections2D`: for each camera name and frame index a
``(P, J, 3)`` float64 array of ``(u, v, confidence)`` in pixels of that camera's image, P people,
J joints of one joint set of :mod:`tessetrack.skeletons`. A joint a detector did not find has
confidence 0 (OpenPose and COCO write ``0, 0, 0`` for it; we keep those numbers as they are).

Formats (SPEC.md "Detections input"):

* **OpenPose** — one folder per camera, one file per frame named
  ``<anything><frame:012d>_keypoints.json`` holding ``{"people": [{"pose_keypoints_2d": [u0, v0,
  c0, u1, ...]}]}``. The joint set follows from the list's length: 75 numbers = ``body25``,
  54 = ``coco18``.
* **COCO keypoint results** — one JSON file per camera (camera name = file stem) holding a list
  of ``{"image_id", "category_id", "keypoints": [51 numbers], "score"}`` (``coco17``). The frame
  is ``image_id`` unless a COCO annotations file is given, whose ``images[]`` map ``id`` to
  ``file_name``; the frame is then the last number in the file name (``000123.jpg`` -> 123).

:func:`load_detections` also keeps a person a detector found twice in one image once
(:func:`keep_distinct_people`): top-down detectors (a person box, then joints in its crop) give one
person twice when two boxes overlap, and downstream the copy would be a second person.

Writers for both formats let tests and the detection simulator produce files the readers accept.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from tessetrack.errors import InputError
from tessetrack.io.atomic import atomic_write_text
from tessetrack.io.video import natural_key
from tessetrack.ops.duplicates import DUPLICATE_GATE, distinct_people
from tessetrack.skeletons import convert_people, get_joint_set

__all__ = [
    "Detections2D",
    "OPENPOSE_LAYOUTS",
    "read_openpose_file",
    "read_openpose_camera",
    "read_openpose",
    "read_coco_results",
    "read_coco",
    "coco_frame_map",
    "load_detections",
    "check_confidences",
    "keep_distinct_people",
    "write_openpose_frame",
    "write_openpose",
    "write_coco_results",
]

logger = logging.getLogger(__name__)

#: Length of OpenPose's flat ``pose_keypoints_2d`` list -> joint set name.
OPENPOSE_LAYOUTS: dict[int, str] = {75: "body25", 54: "coco18"}
_COCO_LENGTH = 51  # 17 joints × (u, v, confidence)
_SLIGHTLY_ABOVE_ONE = 1.5  # the largest confidence read as [0, 1] (clipped); above: a 0-100 scale

_OPENPOSE_FILE = re.compile(r"(\d+)_keypoints\.json$")
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


@dataclass(frozen=True, eq=False)
class Detections2D:
    """2D detections of several cameras over time.

    Attributes:
        joint_set: name of the joint set of every array (``body25``, ``coco18``, ``coco17``, ...).
        by_camera: ``camera name -> frame index -> (P, J, 3)`` float64 arrays of (u, v, confidence);
            a frame with nobody detected holds a (0, J, 3) array; a frame absent from a camera's
            dict had no detection file.
    """

    joint_set: str
    by_camera: dict[str, dict[int, np.ndarray]]

    @property
    def num_joints(self) -> int:
        return get_joint_set(self.joint_set).num_joints

    @property
    def cameras(self) -> tuple[str, ...]:
        """Camera names in natural order."""
        return tuple(sorted(self.by_camera, key=natural_key))

    @property
    def frames(self) -> tuple[int, ...]:
        """Sorted union of the frame indices of all cameras."""
        return tuple(sorted({f for frames in self.by_camera.values() for f in frames}))

    def get(self, camera: str, frame: int) -> np.ndarray:
        """(P, J, 3) detections of ``camera`` at ``frame``; (0, J, 3) when there are none."""
        people = self.by_camera.get(camera, {}).get(int(frame))
        if people is None:
            return np.zeros((0, self.num_joints, 3))
        return people

    def at_frame(self, frame: int) -> dict[str, np.ndarray]:
        """``camera -> (P, J, 3)`` for every camera at ``frame`` (empty arrays where none)."""
        return {cam: self.get(cam, frame) for cam in self.by_camera}

    def converted(self, joint_set: str) -> Detections2D:
        """The same detections in another joint set (:func:`tessetrack.skeletons.convert_joints`).

        Joints with confidence 0 count as missing: a target joint built from any missing joint,
        or one the source set cannot form, comes out as ``(0, 0, 0)``. The confidence of a joint
        built from several (e.g. ``mid_hip`` from the hips) is their weighted mean.
        """
        dst = get_joint_set(joint_set).name
        if dst == get_joint_set(self.joint_set).name:
            return self
        J = get_joint_set(dst).num_joints
        out: dict[str, dict[int, np.ndarray]] = {}
        for cam, frames in self.by_camera.items():
            out[cam] = {}
            for frame, people in frames.items():
                if len(people) == 0:
                    out[cam][frame] = np.zeros((0, J, 3))
                    continue
                out[cam][frame] = convert_people(people, self.joint_set, dst)  # P×J_dst×3
        return Detections2D(dst, out)

    def renamed(self, names: Mapping[str, str]) -> Detections2D:
        """The same detections with cameras renamed by ``names`` (old -> new; others kept)."""
        return Detections2D(
            self.joint_set, {names.get(cam, cam): frames for cam, frames in self.by_camera.items()}
        )


# -- helpers ------------------------------------------------------------------------------------


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON ({exc.msg} at line {exc.lineno})", path) from None
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 JSON text file", path) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path) from None


def _people_array(rows: list[list[float]], num_joints: int, path: Path) -> np.ndarray:
    """Flat keypoint lists -> (P, J, 3) float64, checking that the numbers are finite."""
    people = np.asarray(rows, dtype=np.float64).reshape(len(rows), num_joints, 3)  # P×J×3
    if not np.all(np.isfinite(people)):
        raise InputError("keypoints contain NaN or infinite values", path)
    return people


def _flat_numbers(value: Any, what: str, path: Path) -> list[float]:
    if not isinstance(value, list) or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in value
    ):
        raise InputError(f"{what} must be a flat list of numbers", path)
    return value


# -- OpenPose -----------------------------------------------------------------------------------


def read_openpose_file(path: str | PathLike[str]) -> tuple[str | None, np.ndarray]:
    """One OpenPose ``*_keypoints.json`` file.

    Returns:
        ``(joint_set, people)``: ``joint_set`` is ``body25``/``coco18`` (None when the file lists
        nobody) and ``people`` is (P, J, 3) float64 (u, v, confidence); (0, 0, 3) when empty.

    Raises:
        InputError: malformed JSON, no ``people`` list, a keypoint list whose length is neither
            75 (BODY25) nor 54 (COCO-18) — the message gives the length — or people of mixed
            layouts in one file.
    """
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise InputError('not an OpenPose keypoints file: no "people" list', path)
    rows: list[list[float]] = []
    layout: str | None = None
    for k, person in enumerate(data["people"]):
        if not isinstance(person, dict) or "pose_keypoints_2d" not in person:
            raise InputError(f'person {k} has no "pose_keypoints_2d"', path)
        flat = _flat_numbers(person["pose_keypoints_2d"], f"person {k}'s pose_keypoints_2d", path)
        if len(flat) not in OPENPOSE_LAYOUTS:
            raise InputError(
                f"person {k}: pose_keypoints_2d has {len(flat)} numbers; expected 75 (BODY25) "
                "or 54 (COCO-18)",
                path,
            )
        this = OPENPOSE_LAYOUTS[len(flat)]
        if layout is not None and this != layout:
            raise InputError(f"people of different layouts ({layout} and {this}) in one file", path)
        layout = this
        rows.append(flat)
    if layout is None:
        return None, np.zeros((0, 0, 3))
    return layout, _people_array(rows, get_joint_set(layout).num_joints, path)


def _openpose_files(folder: Path) -> dict[int, Path]:
    """``frame -> file`` of the ``*_keypoints.json`` files directly in ``folder``."""
    files: dict[int, Path] = {}
    for p in sorted(folder.iterdir(), key=lambda q: natural_key(q.name)):
        m = _OPENPOSE_FILE.search(p.name)
        if m is None or not p.is_file():
            continue
        digits = m.group(1)
        frame = int(digits[-12:])  # OpenPose pads to 12 digits; a name may end in more digits
        if frame in files:
            raise InputError(
                f"two files for frame {frame}: {files[frame].name} and {p.name}", folder
            )
        files[frame] = p
    return files


def read_openpose_camera(
    folder: str | PathLike[str], joint_set: str | None = None
) -> tuple[str | None, dict[int, np.ndarray]]:
    """All frames of one camera's OpenPose folder.

    Args:
        folder: holds ``<anything><frame:012d>_keypoints.json`` files.
        joint_set: the expected layout (``body25``/``coco18``); None to detect it from the files.

    Returns:
        ``(joint_set, frame -> (P, J, 3))``; ``joint_set`` is None only when nobody is detected
        in any file and none was given (then every array is (0, 0, 3)).

    Raises:
        InputError: missing folder, no keypoint files, or files of different layouts.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("OpenPose detections folder not found", folder)
    files = _openpose_files(folder)
    if not files:
        raise InputError("no OpenPose files (<frame:012d>_keypoints.json) in this folder", folder)
    layout = None if joint_set is None else get_joint_set(joint_set).name
    frames: dict[int, np.ndarray] = {}
    for frame, path in files.items():
        this, people = read_openpose_file(path)
        if this is not None:
            if layout is not None and this != layout:
                raise InputError(
                    f"this file is {this} ({len(people[0]) * 3} numbers per person) but earlier "
                    f"files or the caller say {layout}",
                    path,
                )
            layout = this
        frames[frame] = people
    if layout is not None:
        J = get_joint_set(layout).num_joints
        frames = {f: p if len(p) else np.zeros((0, J, 3)) for f, p in frames.items()}
    return layout, frames


def read_openpose(
    root: str | PathLike[str],
    cameras: Iterable[str] | None = None,
    joint_set: str | None = None,
) -> Detections2D:
    """OpenPose detections of several cameras: ``root/<camera>/<...><frame:012d>_keypoints.json``.

    Args:
        root: folder with one subfolder per camera (its name is the camera name). A folder that
            holds keypoint files itself is read as a single camera named after the folder.
        cameras: read only these subfolders (each must exist); None for all subfolders that
            hold keypoint files.
        joint_set: the expected layout; None to detect it (``body25`` if nobody is ever detected).

    Raises:
        InputError: missing or empty root, a named camera folder that is missing, no keypoint
            files in a camera folder, mixed layouts, malformed files.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError("detections folder not found", root)
    if cameras is not None:
        folders = {str(c): root / str(c) for c in cameras}
        for name, folder in folders.items():
            if not folder.is_dir():
                raise InputError(f"no detections folder for camera {name!r}", folder)
    elif _openpose_files(root):
        folders = {root.name: root}
    else:
        folders = {
            p.name: p
            for p in sorted(root.iterdir(), key=lambda q: natural_key(q.name))
            if p.is_dir() and _openpose_files(p)
        }
        if not folders:
            raise InputError(
                "no camera folders with OpenPose files (<camera>/<frame:012d>_keypoints.json)",
                root,
            )
    layout = None if joint_set is None else get_joint_set(joint_set).name
    by_camera: dict[str, dict[int, np.ndarray]] = {}
    for name, folder in folders.items():
        this, frames = read_openpose_camera(folder, joint_set=layout)
        if this is not None:
            layout = this  # read_openpose_camera checked consistency against the given layout
        by_camera[name] = frames
    if layout is None:
        layout = "body25"
    J = get_joint_set(layout).num_joints
    for frames in by_camera.values():  # cameras with nobody, read before the layout was known
        for f, people in frames.items():
            if people.shape[1] != J:
                frames[f] = np.zeros((0, J, 3))
    return Detections2D(layout, by_camera)


def write_openpose_frame(
    path: str | PathLike[str],
    people: np.ndarray,
    extra: Iterable[Mapping[str, Any]] | None = None,
) -> Path:
    """Write one OpenPose ``*_keypoints.json`` file (atomically: whole or not at all).

    Args:
        path: the file to write (parents are created).
        people: (P, J, 3) of (u, v, confidence) with J = 25 (BODY25) or 18 (COCO-18). NaN values
            are written as OpenPose writes a missing joint: ``0, 0, 0``.
        extra: one mapping per person of further fields for that person's entry (readers ignore
            fields they do not know), e.g. the detector's own landmarks.

    Raises:
        InputError: when J is neither 25 nor 18.
    """
    arr = np.asarray(people, dtype=np.float64)
    empty = arr.ndim == 3 and arr.shape[0] == 0
    if not empty and (
        arr.ndim != 3 or arr.shape[2] != 3 or 3 * arr.shape[1] not in OPENPOSE_LAYOUTS
    ):
        raise InputError(
            f"OpenPose files hold (P, 25, 3) or (P, 18, 3) arrays, got {arr.shape}", path
        )
    arr = arr.copy()
    arr[~np.isfinite(arr).all(axis=-1)] = 0.0  # a joint with any NaN -> (0, 0, 0)
    doc = {
        "version": 1.3,
        "people": [
            {
                "person_id": [-1],
                "pose_keypoints_2d": [float(x) for x in person.reshape(-1)],
                "face_keypoints_2d": [],
                "hand_left_keypoints_2d": [],
                "hand_right_keypoints_2d": [],
                "pose_keypoints_3d": [],
                "face_keypoints_3d": [],
                "hand_left_keypoints_3d": [],
                "hand_right_keypoints_3d": [],
            }
            for person in arr
        ],
    }
    if extra is not None:
        extra = list(extra)
        if len(extra) != len(doc["people"]):
            raise InputError(f"{len(extra)} extra entries for {len(doc['people'])} people", path)
        for person, more in zip(doc["people"], extra, strict=True):
            person.update(more)
    return atomic_write_text(path, json.dumps(doc))


def write_openpose(
    root: str | PathLike[str], detections: Detections2D, prefix: str = ""
) -> list[Path]:
    """Write ``root/<camera>/<prefix><frame:012d>_keypoints.json`` for every camera and frame.

    Args:
        root: output folder (created).
        detections: joint set ``body25`` or ``coco18``.
        prefix: file name start, e.g. the video name with a trailing ``_`` as OpenPose writes it.

    Returns:
        the files written.

    Raises:
        InputError: for another joint set (OpenPose files cannot say which it is).
    """
    name = get_joint_set(detections.joint_set).name
    if name not in OPENPOSE_LAYOUTS.values():
        raise InputError(
            f"OpenPose files hold body25 or coco18 detections, not {name}; convert them first"
        )
    J = get_joint_set(name).num_joints
    written = []
    for cam, frames in detections.by_camera.items():
        for frame, people in sorted(frames.items()):
            people = np.asarray(people, dtype=np.float64).reshape(-1, J, 3)  # P×J×3
            path = Path(root) / cam / f"{prefix}{int(frame):012d}_keypoints.json"
            written.append(write_openpose_frame(path, people))
    return written


# -- COCO keypoint results ----------------------------------------------------------------------


def coco_frame_map(annotations: str | PathLike[str]) -> dict[int, int]:
    """``image_id -> frame`` from a COCO annotations file: the last number in each file name.

    Example: ``{"images": [{"id": 7, "file_name": "cam1/000123.jpg"}]}`` gives ``{7: 123}``.

    Raises:
        InputError: malformed file, no ``images`` list, a file name without a number.
    """
    path = Path(annotations)
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise InputError('not a COCO annotations file: no "images" list', path)
    mapping: dict[int, int] = {}
    for k, image in enumerate(data["images"]):
        if not isinstance(image, dict) or "id" not in image or "file_name" not in image:
            raise InputError(f'images[{k}] lacks "id" or "file_name"', path)
        m = _LAST_NUMBER.search(Path(str(image["file_name"])).stem)
        if m is None:
            raise InputError(
                f"images[{k}]: file name {image['file_name']!r} holds no frame number", path
            )
        mapping[int(image["id"])] = int(m.group(1))
    return mapping


def read_coco_results(
    path: str | PathLike[str],
    image_to_frame: Mapping[int, int] | None = None,
    category_id: int | None = 1,
    min_score: float = 0.0,
) -> dict[int, np.ndarray]:
    """One camera's COCO keypoint results (COCO-17).

    Args:
        path: JSON list of ``{"image_id", "category_id", "keypoints": [51 numbers], "score"}``.
        image_to_frame: ``image_id -> frame``; None: the frame is the image_id. Results of images
            missing from the map are an error.
        category_id: keep only results of this category (1 = person); None keeps all.
        min_score: drop results whose ``score`` is below this.

    Returns:
        ``frame -> (P, 17, 3)`` with people sorted by descending score.

    Raises:
        InputError: malformed JSON, not a list, a result without ``image_id``/``keypoints``, a
            keypoint list that is not 51 numbers long, an image_id missing from the map.
    """
    path = Path(path)
    data = _load_json(path)
    if isinstance(data, dict) and "annotations" in data:
        raise InputError(
            "this looks like a COCO annotations file, not keypoint results (a JSON list)", path
        )
    if not isinstance(data, list):
        raise InputError("COCO keypoint results must be a JSON list of detections", path)
    grouped: dict[int, list[tuple[float, list[float]]]] = {}
    for k, res in enumerate(data):
        if not isinstance(res, dict) or "image_id" not in res or "keypoints" not in res:
            raise InputError(f'result {k} lacks "image_id" or "keypoints"', path)
        if category_id is not None and int(res.get("category_id", 1)) != category_id:
            continue
        flat = _flat_numbers(res["keypoints"], f"result {k}'s keypoints", path)
        if len(flat) != _COCO_LENGTH:
            raise InputError(
                f"result {k}: keypoints has {len(flat)} numbers; expected 51 (COCO-17 × 3)", path
            )
        score = float(res.get("score", 1.0))
        if not math.isfinite(score) or score < min_score:
            continue
        image_id = int(res["image_id"])
        if image_to_frame is None:
            frame = image_id
        elif image_id in image_to_frame:
            frame = int(image_to_frame[image_id])
        else:
            raise InputError(f"result {k}: image_id {image_id} is not in the annotations", path)
        grouped.setdefault(frame, []).append((score, flat))
    out: dict[int, np.ndarray] = {}
    for frame in sorted(grouped):
        rows = [flat for _, flat in sorted(grouped[frame], key=lambda sr: -sr[0])]
        out[frame] = _people_array(rows, 17, path)
    return out


def read_coco(
    source: str | PathLike[str] | Mapping[str, str | PathLike[str]],
    annotations: str | PathLike[str] | Mapping[str, str | PathLike[str]] | None = None,
    category_id: int | None = 1,
    min_score: float = 0.0,
) -> Detections2D:
    """COCO keypoint results of several cameras.

    Args:
        source: a folder of ``<camera>.json`` result files (the annotations file, if it lies
            there, is skipped), a single results file (one camera named after its stem), or a
            mapping ``camera -> results file``.
        annotations: None (frame = image_id), one COCO annotations file for all cameras, or a
            mapping ``camera -> annotations file``; see :func:`coco_frame_map`.
        category_id, min_score: see :func:`read_coco_results`.

    Raises:
        InputError: missing or empty folder, missing files, malformed files.
    """
    if isinstance(source, Mapping):
        files = {str(cam): Path(p) for cam, p in source.items()}
    else:
        src = Path(source)
        if src.is_file():
            files = {src.stem: src}
        elif src.is_dir():
            skip = set()
            if annotations is not None and not isinstance(annotations, Mapping):
                skip.add(Path(annotations).resolve())
            elif isinstance(annotations, Mapping):
                skip.update(Path(a).resolve() for a in annotations.values())
            files = {
                p.stem: p
                for p in sorted(src.glob("*.json"), key=lambda q: natural_key(q.name))
                if p.resolve() not in skip
            }
            if not files:
                raise InputError("no COCO keypoint results (<camera>.json) in this folder", src)
        else:
            raise InputError("COCO detections file or folder not found", src)
    by_camera: dict[str, dict[int, np.ndarray]] = {}
    shared_map = None
    if annotations is not None and not isinstance(annotations, Mapping):
        shared_map = coco_frame_map(annotations)
    for cam, path in files.items():
        if not path.is_file():
            raise InputError(f"COCO results file of camera {cam!r} not found", path)
        if isinstance(annotations, Mapping):
            if cam not in annotations:
                raise InputError(f"no annotations file given for camera {cam!r}", path)
            frame_map: Mapping[int, int] | None = coco_frame_map(annotations[cam])
        else:
            frame_map = shared_map
        by_camera[cam] = read_coco_results(
            path, image_to_frame=frame_map, category_id=category_id, min_score=min_score
        )
    return Detections2D("coco17", by_camera)


def write_coco_results(
    path: str | PathLike[str],
    frames: Mapping[int, np.ndarray],
    scores: Mapping[int, np.ndarray] | None = None,
) -> Path:
    """Write one camera's COCO keypoint results (image_id = frame, category 1).

    Args:
        path: output JSON file (parents are created).
        frames: ``frame -> (P, 17, 3)`` (u, v, confidence); NaN joints are written as ``0, 0, 0``.
        scores: ``frame -> (P,)`` person scores; None: the mean joint confidence.

    Raises:
        InputError: arrays that are not (P, 17, 3).
    """
    results = []
    for frame, people in sorted(frames.items()):
        arr = np.asarray(people, dtype=np.float64)
        if arr.ndim != 3 or arr.shape[1:] != (17, 3):
            raise InputError(f"frame {frame}: COCO results hold (P, 17, 3) arrays, got {arr.shape}")
        arr = arr.copy()
        arr[~np.isfinite(arr).all(axis=-1)] = 0.0
        s = arr[..., 2].mean(axis=1) if scores is None else np.asarray(scores[frame], float)
        for person, score in zip(arr, s, strict=True):
            results.append(
                {
                    "image_id": int(frame),
                    "category_id": 1,
                    "keypoints": [float(x) for x in person.reshape(-1)],
                    "score": float(score),
                }
            )
    return atomic_write_text(path, json.dumps(results))


# -- any format ---------------------------------------------------------------------------------


def check_confidences(detections: Detections2D, where: str | PathLike[str]) -> Detections2D:
    """Keypoint confidences on the [0, 1] scale: a 0-100 scale (some exporters write
    percentages) is divided by 100 with a warning; values a little above 1 (heatmap maxima, up to
    1.5) are clipped to 1; negative ones, or ones above 100, are refused.

    Raises:
        InputError: negative or above-100 confidences, naming ``where``.
    """
    conf = [p[..., 2].ravel() for frames in detections.by_camera.values() for p in frames.values()]
    values = np.concatenate(conf) if conf else np.zeros(0)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return detections
    low, high = float(values.min()), float(values.max())
    if low < 0:
        raise InputError(
            f"{int((values < 0).sum())} keypoint confidences are negative (lowest {low:g}); "
            "confidences must lie in [0, 1] (0: joint not found)",
            where,
        )
    if high <= 1.0:
        return detections
    if high <= _SLIGHTLY_ABOVE_ONE:  # heatmap maxima a little over 1: clipped
        clipped = {
            cam: {
                f: np.concatenate([p[..., :2], p[..., 2:].clip(0.0, 1.0)], -1)
                for f, p in fr.items()
            }
            for cam, fr in detections.by_camera.items()
        }
        return Detections2D(detections.joint_set, clipped)
    if high > 100.0:
        raise InputError(
            f"keypoint confidences reach {high:g}; expected [0, 1] (or 0-100, rescaled)", where
        )
    logger.warning(
        "%s: keypoint confidences reach %g: read as a 0-100 scale and divided by 100", where, high
    )
    scaled = {
        cam: {f: p * np.array([1.0, 1.0, 0.01]) for f, p in frames.items()}
        for cam, frames in detections.by_camera.items()
    }
    return Detections2D(detections.joint_set, scaled)


def keep_distinct_people(
    detections: Detections2D, where: str | PathLike[str], gate: float = DUPLICATE_GATE
) -> Detections2D:
    """Each image's people with a person found twice kept once, the more confident copy
    (:func:`tessetrack.ops.duplicates.distinct_people`: the median distance between the two
    people's joints under ``gate`` times the larger person's size, over at least 5 joints both
    show); one warning counts the people dropped. ``gate`` 0 keeps everyone.

    Raises:
        InputError: ``gate`` negative or not a number.
    """
    if not (math.isfinite(gate) and gate >= 0):
        raise InputError(f"the duplicate gate must be a share >= 0 of a person's size, got {gate}")
    if gate == 0:
        return detections
    dropped = total = 0
    out: dict[str, dict[int, np.ndarray]] = {}
    for cam, frames in detections.by_camera.items():
        out[cam] = {}
        for frame, people in frames.items():
            keep = distinct_people(people, gate=gate)
            out[cam][frame] = people if keep.all() else people[keep]
            dropped += int((~keep).sum())
            total += len(people)
    if not dropped:
        return detections
    logger.warning(
        "%s: %d of %d 2D people were found twice in their image (joints within %g of their size "
        "of another person's) and are kept once",
        where,
        dropped,
        total,
        gate,
    )
    return Detections2D(detections.joint_set, out)


def _warn_missing_files(detections: Detections2D, where: Path) -> None:
    """One warning counting, per camera, the frames other cameras have files for but it lacks."""
    every = set(detections.frames)
    missing = {
        cam: len(every - set(frames))
        for cam, frames in detections.by_camera.items()
        if len(frames) < len(every)
    }
    if missing:
        listing = ", ".join(f"{cam}: {n}" for cam, n in missing.items())
        logger.warning(
            "%s: frame files missing in %d of %d cameras (%s); those views count as seeing "
            "nobody at those frames",
            where,
            len(missing),
            len(detections.by_camera),
            listing,
        )


def load_detections(
    path: str | PathLike[str],
    format: str | None = None,
    cameras: Iterable[str] | None = None,
    annotations: str | PathLike[str] | None = None,
    duplicate: float = DUPLICATE_GATE,
) -> Detections2D:
    """Read detections of several cameras, format ``openpose`` or ``coco`` (None: auto-detect).

    Auto-detection: a folder whose subfolders (or itself) hold ``*_keypoints.json`` files is
    OpenPose; a ``.json`` file or a folder of ``.json`` files is COCO.

    Args:
        path: the detections folder (or a single COCO results file).
        format: ``openpose``, ``coco`` or None.
        cameras: OpenPose only: read only these camera folders.
        annotations: COCO only: annotations file mapping image ids to frames.
        duplicate: a person found twice in one image is kept once
            (:func:`keep_distinct_people`); 0 keeps every person as read.

    Confidences go through :func:`check_confidences`; OpenPose cameras that lack some frames'
    files (which then count as seeing nobody) are warned about in one line.

    Raises:
        InputError: unknown format, nothing recognisable at ``path``, negative or out-of-scale
            confidences, or any reader error.
    """
    p = Path(path)
    fmt = None if format is None else format.lower()
    if fmt is None:
        if not p.exists():
            raise InputError("detections file or folder not found", p)
        if p.is_dir() and (
            _openpose_files(p) or any(q.is_dir() and _openpose_files(q) for q in p.iterdir())
        ):
            fmt = "openpose"
        elif p.is_file() or any(p.glob("*.json")):
            fmt = "coco"
        else:
            raise InputError(
                "cannot tell the detections format: no <camera>/<frame:012d>_keypoints.json "
                "(OpenPose) and no <camera>.json (COCO) files",
                p,
            )
        logger.debug("%s: detections format %s", p, fmt)
    if fmt == "openpose":
        dets = read_openpose(p, cameras=cameras)
        _warn_missing_files(dets, p)
        return keep_distinct_people(check_confidences(dets, p), p, duplicate)
    if fmt == "coco":
        dets = check_confidences(read_coco(p, annotations=annotations), p)
        return keep_distinct_people(dets, p, duplicate)
    raise InputError(f"unknown detections format {format!r}; use 'openpose' or 'coco'")
