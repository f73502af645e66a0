"""Tracks files (SPEC.md "Tracks file"): tracked 3D poses as ``.json``, ``.npz`` or ``.csv``.

All three hold the same content, a :class:`~tessetrack.structures.Tracks`, in metres. The format
follows from the file's suffix.

**JSON** (``tessetrack.tracks/1``, the SPEC schema)::

    {"format": "tessetrack.tracks/1", "joint_names": ["neck", ...], "units": "m", "fps": 25.0,
     "frames": [{"frame": 300, "people": [{"id": 0, "joints": [[x, y, z], ...],
                                           "scores": [s, ...]}]}]}

``units`` (default ``"m"``) must be ``"m"``; ``fps`` may be ``null`` or absent; ``scores`` is
optional. A joint that is unknown is written ``null`` (JSON has no NaN); a literal ``NaN`` in a
file is refused.

**NPZ** (``numpy.savez_compressed``, read with ``allow_pickle=False``), N = people over all
frames, F = frames, J = joints:

* ``format`` (str), ``joint_names`` (J,) str, ``units`` (str), ``fps`` (float, NaN = unknown);
* ``frames`` (F,) int64 — every frame index, also those without people;
* ``frame`` (N,) int64, ``id`` (N,) int64 — frame index and track id of each person row;
* ``joints`` (N, J, 3) float64 metres, NaN for unknown joints;
* ``scores`` (N, J) float64 and ``has_scores`` (N,) bool.

**CSV** — ``#`` comment lines carry the header (``# format: tessetrack.tracks/1``,
``# units: m``, ``# fps: 25.0`` or ``# fps:``, ``# joint_names: neck;nose;...``), then a
``frame,id,joint,x,y,z,score`` header row and one row per frame/person/joint. A frame without
people is one row with only ``frame`` filled in. Unknown joints have empty ``x,y,z``; a person
without scores has empty ``score`` on all of its rows.

Every reader validates the content and raises :class:`~tessetrack.errors.InputError` naming the
file and the problem (missing key, wrong format tag, units other than metres, joints whose count
differs from ``joint_names``, NaN/inf coordinates, scores outside [0, 1], duplicate frames or ids,
an empty file).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from tessetrack.errors import InputError
from tessetrack.io.atomic import atomic_path
from tessetrack.structures import FramePoses, PersonPose, Tracks

__all__ = ["TRACKS_FORMAT", "TRACKS_SUFFIXES", "save_tracks", "load_tracks"]

#: The format tag of every tracks file.
TRACKS_FORMAT = "tessetrack.tracks/1"
#: Suffixes :func:`load_tracks` and :func:`save_tracks` understand.
TRACKS_SUFFIXES = (".json", ".npz", ".csv")
_CSV_COLUMNS = ["frame", "id", "joint", "x", "y", "z", "score"]

# A person as the readers collect it before validation: (id, joints (J, 3), scores (J,) or None).
_PersonRecord = tuple[int, np.ndarray, "np.ndarray | None"]


# -- validation shared by all formats -------------------------------------------------------------


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in TRACKS_SUFFIXES:
        raise InputError(
            f"unknown tracks file type {suffix or '(none)'!r}; use one of {', '.join(TRACKS_SUFFIXES)}",
            path,
        )
    return suffix


def _check_header(fmt: object, units: object, joint_names: object, path: Path) -> tuple[str, ...]:
    if fmt != TRACKS_FORMAT:
        raise InputError(f"format tag is {fmt!r}, expected {TRACKS_FORMAT!r}", path)
    if units != "m":
        raise InputError(
            f'units are {units!r}; tracks files are in metres ("m"): convert the coordinates',
            path,
        )
    if (
        not isinstance(joint_names, Sequence)
        or isinstance(joint_names, str)
        or not joint_names
        or not all(isinstance(n, str) and n for n in joint_names)
    ):
        raise InputError("joint_names must be a non-empty list of joint names", path)
    if len(set(joint_names)) != len(joint_names):
        raise InputError("joint_names has duplicates", path)
    return tuple(joint_names)


def _check_fps(fps: object, path: Path) -> float | None:
    if fps is None:
        return None
    if isinstance(fps, bool) or not isinstance(fps, (int, float)):
        raise InputError(f"fps must be a number or null, got {fps!r}", path)
    if math.isnan(fps):
        return None
    if not math.isfinite(fps) or fps <= 0:
        raise InputError(f"fps must be positive, got {fps}", path)
    return float(fps)


def _check_person(
    pid: int, joints: np.ndarray, scores: np.ndarray | None, num_joints: int, where: str, path: Path
) -> PersonPose:
    if joints.shape != (num_joints, 3):
        raise InputError(
            f"{where}: joints have shape {joints.shape}, expected ({num_joints}, 3) to match "
            f"the {num_joints} joint_names",
            path,
        )
    if np.isinf(joints).any():
        raise InputError(f"{where}: joints contain infinite coordinates", path)
    if scores is not None:
        if scores.shape != (num_joints,):
            raise InputError(
                f"{where}: {scores.shape[0] if scores.ndim == 1 else scores.shape} scores for "
                f"{num_joints} joint_names",
                path,
            )
        if not np.isfinite(scores).all() or (scores < 0).any() or (scores > 1).any():
            raise InputError(f"{where}: scores must lie in [0, 1]", path)
    return PersonPose(id=pid, joints=joints, scores=scores)


def _build_tracks(
    joint_names: tuple[str, ...],
    fps: float | None,
    frames: dict[int, list[_PersonRecord]],
    path: Path,
) -> Tracks:
    """Validate collected frames and assemble a :class:`Tracks` sorted by frame."""
    num_joints = len(joint_names)
    out = []
    for frame in sorted(frames):
        seen: set[int] = set()
        people = []
        for pid, joints, scores in frames[frame]:
            where = f"frame {frame}, person {pid}"
            if pid in seen:
                raise InputError(f"frame {frame}: person id {pid} appears twice", path)
            seen.add(pid)
            people.append(_check_person(pid, joints, scores, num_joints, where, path))
        out.append(FramePoses(frame=frame, people=tuple(people)))
    return Tracks(joint_names=joint_names, frames=tuple(out), fps=fps, units="m")


def _as_int(value: object, what: str, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise InputError(f"{what} must be an integer, got {value!r}", path)
    return int(value)


# -- JSON -----------------------------------------------------------------------------------------


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON; write unknown joints as null")


def _json_joint(row: np.ndarray) -> list[float] | None:
    return None if np.isnan(row).any() else [float(v) for v in row]


def _save_json(tracks: Tracks, path: Path) -> None:
    doc = {
        "format": TRACKS_FORMAT,
        "joint_names": list(tracks.joint_names),
        "units": "m",
        "fps": tracks.fps,
        "frames": [
            {
                "frame": int(f.frame),
                "people": [
                    {
                        "id": int(p.id),
                        "joints": [_json_joint(r) for r in np.asarray(p.joints, dtype=np.float64)],
                        **(
                            {"scores": [float(s) for s in np.asarray(p.scores)]}
                            if p.scores is not None
                            else {}
                        ),
                    }
                    for p in f.people
                ],
            }
            for f in tracks.frames
        ],
    }
    path.write_text(json.dumps(doc, allow_nan=False), encoding="utf-8")


def _json_joints(value: object, where: str, path: Path) -> np.ndarray:
    if not isinstance(value, list):
        raise InputError(f"{where}: 'joints' must be a list of [x, y, z]", path)
    rows = []
    for j, row in enumerate(value):
        if row is None or (isinstance(row, list) and all(v is None for v in row) and row):
            rows.append([math.nan] * 3)
            continue
        if (
            not isinstance(row, list)
            or len(row) != 3
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row)
        ):
            raise InputError(f"{where}: joint {j} is {row!r}, expected [x, y, z] or null", path)
        rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), 3)  # J×3


def _load_json(path: Path) -> Tracks:
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise InputError("empty tracks file", path)
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise InputError(f"not valid JSON ({exc})", path) from None
    if not isinstance(doc, dict):
        raise InputError("expected a JSON object at the top level", path)
    for key in ("format", "joint_names", "frames"):
        if key not in doc:
            raise InputError(f"missing key {key!r}", path)
    joint_names = _check_header(doc["format"], doc.get("units", "m"), doc["joint_names"], path)
    fps = _check_fps(doc.get("fps"), path)
    if not isinstance(doc["frames"], list):
        raise InputError("'frames' must be a list", path)
    frames: dict[int, list[_PersonRecord]] = {}
    for k, entry in enumerate(doc["frames"]):
        if not isinstance(entry, dict) or "frame" not in entry:
            raise InputError(f"frames[{k}]: missing key 'frame'", path)
        frame = _as_int(entry["frame"], f"frames[{k}].frame", path)
        if frame in frames:
            raise InputError(f"frame {frame} appears twice", path)
        people = entry.get("people", [])
        if not isinstance(people, list):
            raise InputError(f"frame {frame}: 'people' must be a list", path)
        records: list[_PersonRecord] = []
        for i, person in enumerate(people):
            where = f"frame {frame}, people[{i}]"
            if not isinstance(person, dict):
                raise InputError(f"{where}: expected an object", path)
            for key in ("id", "joints"):
                if key not in person:
                    raise InputError(f"{where}: missing key {key!r}", path)
            pid = _as_int(person["id"], f"{where}.id", path)
            joints = _json_joints(person["joints"], where, path)
            scores = None
            if person.get("scores") is not None:
                raw = person["scores"]
                if not isinstance(raw, list) or not all(
                    isinstance(s, (int, float)) and not isinstance(s, bool) for s in raw
                ):
                    raise InputError(f"{where}: 'scores' must be a list of numbers", path)
                scores = np.asarray(raw, dtype=np.float64)
            records.append((pid, joints, scores))
        frames[frame] = records
    return _build_tracks(joint_names, fps, frames, path)


# -- NPZ ------------------------------------------------------------------------------------------


def _save_npz(tracks: Tracks, path: Path) -> None:
    num_joints = len(tracks.joint_names)
    rows = [(f.frame, p) for f in tracks.frames for p in f.people]
    joints = np.full((len(rows), num_joints, 3), np.nan)  # N×J×3
    scores = np.full((len(rows), num_joints), np.nan)  # N×J
    has_scores = np.zeros(len(rows), dtype=bool)
    for n, (_, p) in enumerate(rows):
        joints[n] = p.joints
        if p.scores is not None:
            scores[n] = p.scores
            has_scores[n] = True
    with path.open("wb") as fh:
        np.savez_compressed(
            fh,
            format=np.array(TRACKS_FORMAT),
            joint_names=np.array(tracks.joint_names, dtype=str),
            units=np.array("m"),
            fps=np.array(np.nan if tracks.fps is None else float(tracks.fps)),
            frames=np.array([f.frame for f in tracks.frames], dtype=np.int64),
            frame=np.array([r[0] for r in rows], dtype=np.int64),
            id=np.array([r[1].id for r in rows], dtype=np.int64),
            joints=joints,
            scores=scores,
            has_scores=has_scores,
        )


def _load_npz(path: Path) -> Tracks:
    if path.stat().st_size == 0:
        raise InputError("empty tracks file", path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"cannot read .npz file ({exc})", path) from None
    required = ("format", "joint_names", "frames", "frame", "id", "joints")
    for key in required:
        if key not in data:
            raise InputError(f"missing array {key!r}", path)
    joint_names = _check_header(
        str(data["format"]),
        str(data["units"]) if "units" in data else "m",
        [str(n) for n in np.atleast_1d(data["joint_names"])],
        path,
    )
    fps = _check_fps(float(data["fps"]), path) if "fps" in data else None
    num = data["frame"].shape[0]
    joints = np.asarray(data["joints"], dtype=np.float64)
    if data["id"].shape != (num,) or joints.ndim != 3 or joints.shape[0] != num:
        raise InputError(
            f"arrays 'frame' {data['frame'].shape}, 'id' {data['id'].shape} and 'joints' "
            f"{joints.shape} must describe the same number of people",
            path,
        )
    scores = data.get("scores")
    has_scores = data.get("has_scores", np.zeros(num, dtype=bool))
    frames: dict[int, list[_PersonRecord]] = {}
    for f in np.asarray(data["frames"]).ravel().tolist():
        if int(f) in frames:
            raise InputError(f"frame {int(f)} appears twice", path)
        frames[int(f)] = []
    for n in range(num):
        frame = int(data["frame"][n])
        if frame not in frames:
            raise InputError(f"person row {n} refers to frame {frame}, not in 'frames'", path)
        s = None
        if scores is not None and bool(has_scores[n]):
            s = np.asarray(scores[n], dtype=np.float64)
        frames[frame].append((int(data["id"][n]), joints[n], s))
    return _build_tracks(joint_names, fps, frames, path)


# -- CSV ------------------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))


def _save_csv(tracks: Tracks, path: Path) -> None:
    buf = io.StringIO()
    buf.write(f"# format: {TRACKS_FORMAT}\n# units: m\n")
    buf.write(f"# fps: {'' if tracks.fps is None else repr(float(tracks.fps))}\n")
    buf.write(f"# joint_names: {';'.join(tracks.joint_names)}\n")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    for f in tracks.frames:
        if not f.people:
            writer.writerow([f.frame, "", "", "", "", "", ""])
        for p in f.people:
            for j, name in enumerate(tracks.joint_names):
                x, y, z = (float(v) for v in p.joints[j])
                score = "" if p.scores is None else _fmt(float(p.scores[j]))
                writer.writerow([f.frame, p.id, name, _fmt(x), _fmt(y), _fmt(z), score])
    path.write_text(buf.getvalue(), encoding="utf-8")


def _csv_float(text: str, what: str, path: Path, line: int) -> float:
    if text == "":
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"line {line}: {what} {text!r} is not a number", path) from None
    if math.isnan(value):
        raise InputError(f"line {line}: {what} is NaN; leave unknown joints empty", path)
    return value


def _csv_header(text: str, path: Path) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """The ``# key: value`` header of a CSV tracks file and its other non-empty lines (numbered)."""
    if not text.strip():
        raise InputError("empty tracks file", path)
    header: dict[str, str] = {}
    body: list[tuple[int, str]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep:
                header[key.strip()] = value.strip()
        elif line.strip():
            body.append((line_no, line))
    for key in ("format", "joint_names"):
        if key not in header:
            raise InputError(f"missing header line '# {key}: ...'", path)
    return header, body


def _csv_joint_row(
    row: list[str],
    line_no: int,
    index: dict[str, int],
    people: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]],
    path: Path,
) -> int:
    """Read one data row into ``people`` ((frame, id) → joints, scores, rows seen); its frame."""
    if len(row) != len(_CSV_COLUMNS):
        raise InputError(
            f"line {line_no}: expected {len(_CSV_COLUMNS)} columns, got {len(row)}", path
        )
    try:
        frame = int(row[0])
    except ValueError:
        raise InputError(f"line {line_no}: frame {row[0]!r} is not an integer", path) from None
    if row[1] == "" and row[2] == "":
        return frame  # a frame without people
    try:
        pid = int(row[1])
    except ValueError:
        raise InputError(f"line {line_no}: id {row[1]!r} is not an integer", path) from None
    if row[2] not in index:
        raise InputError(f"line {line_no}: joint {row[2]!r} is not in joint_names", path)
    n = len(index)
    joints, scores, seen = people.setdefault(
        (frame, pid), (np.full((n, 3), np.nan), np.full(n, np.nan), np.zeros(n, dtype=bool))
    )  # J×3, J scores, J rows seen
    j = index[row[2]]
    if seen[j]:
        raise InputError(
            f"line {line_no}: joint {row[2]!r} of frame {frame}, person {pid} repeats", path
        )
    seen[j] = True
    joints[j] = [_csv_float(row[c], "xyz"[c - 3], path, line_no) for c in (3, 4, 5)]
    scores[j] = _csv_float(row[6], "score", path, line_no)
    return frame


def _load_csv(path: Path) -> Tracks:
    header, body = _csv_header(path.read_text(encoding="utf-8"), path)
    joint_names = _check_header(
        header["format"], header.get("units", "m"), header["joint_names"].split(";"), path
    )
    fps_text = header.get("fps", "")
    try:
        fps = _check_fps(float(fps_text) if fps_text else None, path)
    except ValueError:
        raise InputError(f"fps {fps_text!r} is not a number", path) from None
    if not body:
        raise InputError("missing the column header row", path)
    rows = list(csv.reader([line for _, line in body]))
    if [c.strip() for c in rows[0]] != _CSV_COLUMNS:
        raise InputError(
            f"column header must be {','.join(_CSV_COLUMNS)}, got {body[0][1]!r}", path
        )
    index = {name: j for j, name in enumerate(joint_names)}
    frames: dict[int, list[_PersonRecord]] = {}
    people: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for (line_no, _), row in zip(body[1:], rows[1:], strict=True):
        frames.setdefault(_csv_joint_row(row, line_no, index, people, path), [])
    for (frame, pid), (joints, scores, seen) in people.items():
        if not seen.all():
            missing = [n for n, s in zip(joint_names, seen, strict=True) if not s]
            raise InputError(
                f"frame {frame}, person {pid}: no rows for joints {', '.join(missing)} "
                f"(expected one row per joint of joint_names)",
                path,
            )
        has = ~np.isnan(scores)
        if has.any() and not has.all():
            raise InputError(
                f"frame {frame}, person {pid}: scores given for some joints only", path
            )
        frames[frame].append((pid, joints, scores if has.all() else None))
    return _build_tracks(joint_names, fps, frames, path)


# -- public API -----------------------------------------------------------------------------------


def _check_tracks(tracks: Tracks, path: Path) -> Tracks:
    """Validate an in-memory :class:`Tracks` before writing it (same rules as the readers)."""
    if tracks.units != "m":
        raise InputError(f"tracks are in {tracks.units!r}; only metres are written", path)
    joint_names = _check_header(TRACKS_FORMAT, "m", list(tracks.joint_names), path)
    fps = _check_fps(tracks.fps, path)
    frames: dict[int, list[_PersonRecord]] = {}
    for f in tracks.frames:
        if int(f.frame) in frames:
            raise InputError(f"frame {f.frame} appears twice", path)
        frames[int(f.frame)] = [
            (
                int(p.id),
                np.asarray(p.joints, dtype=np.float64),
                None if p.scores is None else np.asarray(p.scores, dtype=np.float64),
            )
            for p in f.people
        ]
    return _build_tracks(joint_names, fps, frames, path)


def save_tracks(tracks: Tracks, path: str | PathLike[str]) -> Path:
    """Write tracks as ``.json``, ``.npz`` or ``.csv`` (chosen by the suffix; see the module doc).

    Frames are written sorted by frame index; a joint with any NaN coordinate is written as unknown.
    The file is written atomically (:mod:`tessetrack.io.atomic`).

    Returns:
        The path written.

    Raises:
        InputError: for an unknown suffix or content that breaks the schema (joints not (J, 3),
            infinite coordinates, scores outside [0, 1], duplicate frames or ids, units not "m").
    """
    path = Path(path)
    suffix = _suffix(path)
    tracks = _check_tracks(tracks, path)
    writer = {".json": _save_json, ".npz": _save_npz, ".csv": _save_csv}[suffix]
    with atomic_path(path) as tmp:  # whole or not at all: a failed write keeps the old file
        writer(tracks, tmp)
    return path


def load_tracks(path: str | PathLike[str]) -> Tracks:
    """Read a tracks file (``.json``, ``.npz`` or ``.csv``; see the module doc for the layouts).

    Returns:
        :class:`Tracks` in metres, frames sorted by frame index; unknown joints are NaN rows.

    Raises:
        InputError: naming the file when it is missing, empty, of unknown type, or breaks the
            schema (see the module docstring).
    """
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise InputError("tracks file not found", path)
    reader = {".json": _load_json, ".npz": _load_npz, ".csv": _load_csv}[suffix]
    try:
        return reader(path)
    except UnicodeDecodeError:
        raise InputError("not a text file", path) from None
