"""The restricted unpickler: real data pickles load, code-executing pickles are refused."""

from __future__ import annotations

import collections
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from tessetrack.errors import InputError
from tessetrack.io.safe_pickle import load_pickle, loads_pickle


class _Exploit:
    """Unpickling this would call ``os.system(...)``."""

    def __reduce__(self):  # noqa: D105
        return (os.system, ("echo pwned > /dev/null",))


def test_real_shelf_predictions(shared_data: Path) -> None:
    preds = load_pickle(shared_data / "shelf" / "pred_shelf_maskrcnn_hrnet_coco.pkl")
    # VoxelPose: defaultdict "<camera>_<frame>" -> list of {"pred": (17, 3) COCO-17 u, v, score}
    assert isinstance(preds, collections.defaultdict)
    assert len(preds) == 15  # 5 cameras x 3 frames
    person = preds["0_0"][0]["pred"]
    assert isinstance(person, np.ndarray) and person.shape == (17, 3)
    assert np.all((person[:, 2] >= 0) & (person[:, 2] <= 1))  # scores


def test_real_panoptic_training_pose(shared_data: Path) -> None:
    poses = load_pickle(shared_data / "shelf" / "panoptic_training_pose.pkl")
    # a list of {"pose": (17, 3) mm, "vis": (17, 3) bool}
    assert isinstance(poses, list) and len(poses) == 3
    assert poses[0]["pose"].shape == (17, 3) and poses[0]["vis"].dtype == np.bool_
    assert np.all(np.isfinite(poses[0]["pose"]))


def test_real_h36m_cameras(shared_data: Path) -> None:
    cams = load_pickle(shared_data / "h36m" / "cameras.pkl")
    assert isinstance(cams, dict) and ("S1", "54138969") in cams
    cam = cams[("S1", "54138969")]
    assert cam["w"] == 1000 and cam["h"] == 1002
    # every camera holds a 3x3 rotation: R Rᵀ = I
    R = np.asarray(cam["R"], dtype=np.float64)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-6)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_round_trip_all_protocols(protocol: int) -> None:
    obj = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "s": np.float64(2.5),
        "i": np.int64(7),
        "strings": np.array(["ab", "c"]),
        "bytes": b"\x00\xff",
        "od": collections.OrderedDict(x=1),
        "nested": [(1, 2.0, None, True), {3}, frozenset({4})],
    }
    back = loads_pickle(pickle.dumps(obj, protocol=protocol))
    np.testing.assert_array_equal(back["a"], obj["a"])
    assert back["a"].dtype == np.float32
    assert back["s"] == 2.5 and back["i"] == 7
    assert back["strings"].tolist() == ["ab", "c"]
    assert back["bytes"] == b"\x00\xff"
    assert back["od"] == {"x": 1} and back["nested"] == obj["nested"]


def test_os_system_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps(_Exploit()))  # names the global posix.system (os.system)
    calls: list[str] = []
    monkeypatch.setattr(os, "system", lambda cmd: calls.append(cmd) or 0)
    with pytest.raises(InputError) as info:
        load_pickle(bad)
    msg = str(info.value)
    assert "evil.pkl" in msg and "system'" in msg and "forbidden" in msg
    assert calls == []  # refused before anything was called


def _exploit_payload() -> bytes:
    # a hand-written protocol-0 pickle: GLOBAL os.system, the argument tuple, REDUCE
    return b"cos\nsystem\n(S'echo pwned'\ntR."


def test_hand_written_exploit_refused(tmp_path: Path) -> None:
    bad = tmp_path / "evil0.pkl"
    bad.write_bytes(_exploit_payload())
    with pytest.raises(InputError, match=r"evil0\.pkl.*'os\.system'"):
        load_pickle(bad)


def test_reduce_object_refused() -> None:
    with pytest.raises(InputError, match="forbidden global"):
        loads_pickle(pickle.dumps(_Exploit()), source="mem.pkl")


@pytest.mark.parametrize(
    "payload",
    [
        b"cbuiltins\neval\n(S'1+1'\ntR.",  # builtins.eval is not a container
        b"cbuiltins\ngetattr\n(S'x'\nS'y'\ntR.",
        b"cnumpy\nload\n(S'x'\ntR.",  # numpy functions other than array reconstruction
    ],
)
def test_other_dangerous_globals_refused(payload: bytes) -> None:
    with pytest.raises(InputError, match="forbidden global"):
        loads_pickle(payload, source="x.pkl")


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_pickle(tmp_path / "nope.pkl")
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(pickle.dumps({"a": 1})[:-3])
    with pytest.raises(InputError, match=r"broken\.pkl.*not a valid data pickle"):
        load_pickle(broken)
