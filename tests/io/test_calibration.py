"""Calibration readers/writers: real sample files, cross-format checks, round trips, errors."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.io import load_cameras, save_cameras
from tessetrack.io.calibration import detect_format

PANOPTIC = "panoptic/160906_band1/calibration_160906_band1.json"
QCA = "multiperson_videos_4cams/calibration/Calib.qca.txt"
#: Faster-VoxelPose's z-up world from Panoptic's y-down one: (x, y, z) -> (x, z, -y)
PANOPTIC_TO_ZUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def _random_cameras(rng: np.random.Generator, n: int = 3) -> dict[str, Camera]:
    cams = {}
    for i in range(n):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        w, x, y, z = q  # quaternion -> rotation matrix
        R = np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        )
        K = np.array([[1000 + 100 * rng.random(), 0.3, 640.5], [0, 990.25, 360.125], [0, 0, 1]])
        cams[f"c{i}"] = Camera(
            f"c{i}", K, R, rng.normal(size=3) * 3, rng.normal(size=5) * 0.01, 1280, 720
        )
    return cams


def _assert_same(a: dict[str, Camera], b: dict[str, Camera], atol: float = 1e-12) -> None:
    assert list(a) == list(b)
    for name in a:
        for attr in ("K", "R", "t", "dist"):
            np.testing.assert_allclose(getattr(b[name], attr), getattr(a[name], attr), atol=atol)
        assert (b[name].width, b[name].height) == (a[name].width, a[name].height)


# --------------------------------------------------------------------------------- panoptic
def test_panoptic_hd_cameras_and_units(shared_data: Path) -> None:
    path = shared_data / PANOPTIC
    cams = load_cameras(path)
    assert list(cams) == [f"00_{i:02d}" for i in range(31)]
    raw = {c["name"]: c for c in json.loads(path.read_text())["cameras"]}
    cam = cams["00_00"]
    assert (cam.width, cam.height) == (1920, 1080)
    # t is stored in centimetres: 20.90028135 cm -> 0.2090028135 m
    np.testing.assert_allclose(cam.t, np.ravel(raw["00_00"]["t"]) / 100, rtol=1e-15)
    np.testing.assert_allclose(cam.dist, raw["00_00"]["distCoef"])
    assert len(load_cameras(path, camera_types=None)) == 520  # 479 VGA + 31 HD + 10 Kinect
    assert len(load_cameras(path, camera_types=("vga",))) == 479


def test_panoptic_projection_matches_opencv_and_gt_is_in_view(shared_data: Path) -> None:
    cams = load_cameras(shared_data / PANOPTIC)
    scene = sorted((shared_data / "panoptic/160906_band1/hdPose3d_stage1_coco19").glob("*.json"))[0]
    bodies = json.loads(scene.read_text())["bodies"]
    joints_cm = np.concatenate([np.reshape(b["joints19"], (19, 4))[:, :3] for b in bodies])
    joints_m = joints_cm / 100
    worst = 0.0
    for cam in cams.values():
        rvec, _ = cv2.Rodrigues(cam.R)
        # OpenCV in centimetres with the file's own t: the same pixels
        ref, _ = cv2.projectPoints(joints_cm, rvec, cam.t * 100, cam.K, cam.dist)
        in_front = cam.depth(joints_m) > 0
        worst = max(worst, float(np.abs(cam.project(joints_m) - ref[:, 0])[in_front].max()))
    assert worst < 1e-6  # measured 5.4e-8 px
    # the three people are inside most HD views (the dome's cameras look at its centre)
    inside = []
    for cam in cams.values():
        uv = cam.project(joints_m)
        inside.append(np.mean((uv >= 0).all(1) & (uv[:, 0] < 1920) & (uv[:, 1] < 1080)))
    assert np.median(inside) > 0.75  # measured median 0.86 (people stand off-centre)


def test_mmpose_panoptic_camera_parameters(shared_data: Path) -> None:
    path = shared_data / "panoptic_demo_images/camera_parameters.json"
    assert detect_format(path) == "panoptic"
    cams = load_cameras(path, format="mmpose_panoptic")
    assert len(cams) == 31
    for name in ("00_03", "00_06", "00_12", "00_13", "00_23"):  # the demo's image folders
        assert (shared_data / "panoptic_demo_images" / name).is_dir()
        assert (cams[name].width, cams[name].height) == (1920, 1080)
        # the dome is ~5 m across: every HD camera centre lies 2-4 m from its middle
        assert 2.0 < np.linalg.norm(cams[name].center) < 4.0


# -------------------------------------------------------------------------------- voxelpose
@pytest.mark.parametrize(("dataset", "size"), [("shelf", (1032, 776)), ("campus", (360, 288))])
def test_shelf_campus_project_ground_truth_into_images(
    shared_data: Path, dataset: str, size: tuple[int, int]
) -> None:
    path = shared_data / dataset / f"calibration_{dataset}.json"
    assert detect_format(path) == "voxelpose"
    cams = load_cameras(path)
    assert len(cams) == {"shelf": 5, "campus": 3}[dataset]
    raw = json.loads(path.read_text())
    # T is the camera centre in mm: the camera sits at T / 1000 m (R has 6 decimals, so
    # −Rᵀ(−R T) returns T only to ~1e-6 relative)
    np.testing.assert_allclose(cams["0"].center, np.ravel(raw["0"]["T"]) / 1000, atol=1e-5)
    mat = scipy.io.loadmat(str(shared_data / dataset / "actorsGT.mat"))
    poses = [c for actor in mat["actor3D"][0] for c in actor.ravel() if c.shape == (14, 3)]
    points = np.concatenate(poses)  # metres
    W, H = size
    for cam in cams.values():
        assert (cam.width, cam.height) == size
        assert cam.depth(points).min() > 1.0  # everyone in front of every camera
        uv = cam.project(points)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & (uv[:, 1] < H)
        assert inside.mean() > 0.8  # measured: >= 0.96 (Shelf), >= 0.88 (Campus)


def test_shelf_matches_actor2d(shared_data: Path) -> None:
    cams = list(load_cameras(shared_data / "shelf/calibration_shelf.json").values())
    mat = scipy.io.loadmat(str(shared_data / "shelf/actorsGT.mat"))
    errors = []
    for actor3d, actor2d in zip(mat["actor3D"][0], mat["actor2D"][0], strict=True):
        for p3, p2 in zip(actor3d.ravel(), actor2d.ravel(), strict=True):
            if p3.shape != (14, 3):
                continue
            for cam, uv in zip(cams, p2.ravel(), strict=True):
                if uv.shape == (14, 2):
                    errors.append(np.abs(cam.project(p3) - uv).max())
    assert len(errors) > 10 and max(errors) < 0.1  # measured 0.044 px over 30 views


def test_voxelpose_image_size_option(shared_data: Path) -> None:
    path = shared_data / "shelf/calibration_shelf.json"
    cams = load_cameras(path, image_size=(640, 480))
    assert {(c.width, c.height) for c in cams.values()} == {(640, 480)}


def test_faster_voxelpose_demo_equals_panoptic_cameras(shared_data: Path) -> None:
    demo = load_cameras(shared_data / "panoptic_demo_5views/calibration.json")
    assert list(demo) == ["0", "1", "2", "3", "4"]
    assert (demo["0"].width, demo["0"].height) == (0, 0)  # the file states no size
    panoptic = load_cameras(shared_data / PANOPTIC)
    rng = np.random.default_rng(1)
    points_panoptic = rng.uniform([-1, -2, -1], [1, -0.2, 1], size=(50, 3))  # m, y down
    points_zup = points_panoptic @ PANOPTIC_TO_ZUP.T
    for i, name in enumerate(("00_03", "00_06", "00_12", "00_13", "00_23")):
        a, b = panoptic[name], demo[str(i)]
        np.testing.assert_allclose(b.K, a.K, atol=1e-9)
        np.testing.assert_allclose(b.dist, a.dist, atol=1e-9)  # k/p reordered to OpenCV's
        np.testing.assert_allclose(b.center, PANOPTIC_TO_ZUP @ a.center, atol=1e-6)
        # the same points seen through the same camera in the two worlds: the same pixels
        np.testing.assert_allclose(b.project(points_zup), a.project(points_panoptic), atol=1e-3)


# ------------------------------------------------------------------------------------- h36m
def test_h36m_cameras_and_ground_truth(shared_data: Path) -> None:
    cams = load_cameras(shared_data / "h36m/cameras.pkl")
    assert detect_format(shared_data / "h36m/cameras.pkl") == "h36m"
    assert len(cams) == 44  # 11 subjects x 4 cameras
    cam = cams["S1_54138969"]
    assert (cam.width, cam.height) == (1000, 1002)
    # 1145.04940459 px focal length, centre 1.84 m / 4.96 m / 1.56 m (metres in mmpose's pickle)
    assert cam.K[0, 0] == pytest.approx(1145.04940459)
    np.testing.assert_allclose(cam.center, [1.84110703, 4.95528462, 1.5634454], atol=1e-8)
    body = np.load(shared_data / "h36m/test_h36m_body3d.npz")
    for imgname, joints, part in zip(body["imgname"], body["S"], body["part"], strict=True):
        subject, clip = imgname.split("/")[:2]
        cam = cams[f"{subject}_{clip.split('.')[1]}"]
        points_world = (joints[:, :3] - cam.t) @ cam.R  # x_world = Rᵀ (x_cam − t)
        # intrinsics + distortion reproduce the 2D ground truth (measured <= 0.19 px)
        assert np.abs(cam.project(points_world) - part[:, :2]).max() < 0.5
        # extrinsics: the person stands on the floor (z up): feet low, head 1.4-1.8 m up
        feet_z, head_z = points_world[[3, 6], 2], points_world[10, 2]
        assert feet_z.min() < 0.15 and -0.05 < feet_z.min()
        if "Sitting" not in imgname:
            assert 1.4 < head_z < 1.8
    # every camera looks at the capture area around the origin
    for cam in cams.values():
        to_origin = -cam.center / np.linalg.norm(cam.center)
        assert cam.R[2] @ to_origin > 0.9


def test_h36m_millimetre_pickle_detected(tmp_path: Path) -> None:
    R = np.eye(3)
    entry = {"R": R, "T": np.array([[100.0], [-2000.0], [1500.0]]), "f": np.array([[1000.0], [1000.0]]),
             "c": np.array([[500.0], [500.0]]), "k": np.zeros((3, 1)), "p": np.zeros((2, 1)),
             "w": 1000, "h": 1000}  # fmt: skip
    path = tmp_path / "cameras.pkl"
    path.write_bytes(pickle.dumps({("S1", "1"): entry}))
    cam = load_cameras(path)["S1_1"]
    np.testing.assert_allclose(cam.center, [0.1, -2.0, 1.5])  # mm -> m
    cam_m = load_cameras(path, units="m")["S1_1"]
    np.testing.assert_allclose(cam_m.center, [100.0, -2000.0, 1500.0])


# -------------------------------------------------------------------------------- qualisys
def test_qualisys_cameras_look_at_a_common_point(shared_data: Path) -> None:
    path = shared_data / QCA
    assert detect_format(path) == "qualisys"
    cams = load_cameras(path)
    assert list(cams) == ["cam01", "cam02", "cam03", "cam04"]
    cam = cams["cam01"]
    # focalLengthU 107599.671875 / 64 = 1681.2448730; centerPointU 34110.316406 / 64 = 532.9737
    assert cam.K[0, 0] == pytest.approx(1681.2448730, abs=1e-6)
    assert cam.K[0, 2] == pytest.approx(532.9736938, abs=1e-6)
    # the distortion coefficients as written: k1, k2, p1, p2, k3 (not sub-pixels)
    np.testing.assert_allclose(cam.dist, [-0.046183, 0.139983, 0.000608, 0.00069, 0.0])
    # x, y, z = 1460.23, -1909.16, 1896.51 mm is the camera position
    np.testing.assert_allclose(cam.center, [1.4602323709, -1.9091590482, 1.8965058524], atol=1e-9)
    for c in cams.values():  # fov_video 0..1087 x 0..1919 = the videos' 1088x1920 frames
        assert (c.width, c.height) == (1088, 1920)
    # least-squares point closest to the four optical axes
    centres = np.stack([c.center for c in cams.values()])
    axes = np.stack([c.R[2] for c in cams.values()])  # optical axis in world
    proj = np.eye(3) - axes[:, :, None] * axes[:, None, :]  # 4×3×3 projectors off each axis
    point = np.linalg.solve(proj.sum(0), np.einsum("nij,nj->i", proj, centres))
    miss = np.linalg.norm(np.einsum("nij,nj->ni", proj, point - centres), axis=1)
    assert miss.max() < 0.15  # measured 0.04-0.11 m
    assert all(c.depth(point) > 2.0 for c in cams.values())  # 3.3-3.8 m in front of each
    for c in cams.values():
        assert c.R[1] @ np.array([0.0, 0.0, 1.0]) < -0.8  # image "down" is world -z (z up)
        uv = c.project(point)
        assert 0 < uv[0] < c.width and 0 < uv[1] < c.height


def test_qualisys_skips_marker_cameras(shared_data: Path, tmp_path: Path) -> None:
    text = (shared_data / QCA).read_text()
    path = tmp_path / "calib.qca.txt"
    path.write_text(text.replace('model="none" point-count="999999999" serial="cam02"',
                                 'model="Miqus M3" point-count="1" serial="cam02"'))  # fmt: skip
    assert list(load_cameras(path)) == ["cam01", "cam03", "cam04"]


def test_qualisys_distortion_written_64_times_over_is_read_back_with_a_warning(
    shared_data: Path, tmp_path: Path, caplog
) -> None:
    """Pose2Sim's TOML-to-QCA converter writes the OpenCV coefficients times 64: a first radial
    coefficient no lens has (here -2.955712) is divided back, and said so."""
    text = (shared_data / QCA).read_text()
    path = tmp_path / "pose2sim.qca.txt"
    path.write_text(text.replace('radialDistortion1="-0.046183" radialDistortion2="0.139983"',
                                 'radialDistortion1="-2.955712" radialDistortion2="8.958912"'))  # fmt: skip
    with caplog.at_level("WARNING"):
        cams = load_cameras(path)
    np.testing.assert_allclose(cams["cam01"].dist[:2], [-0.046183, 0.139983])
    assert cams["cam01"].dist[2] == pytest.approx(0.000608 / 64)
    np.testing.assert_allclose(cams["cam02"].dist, load_cameras(shared_data / QCA)["cam02"].dist)
    assert "cam01's radialDistortion1 -2.95571" in caplog.text and "64 times" in caplog.text


# ---------------------------------------------------------------------- opencv / easymocap
def _write_easymocap(folder: Path, cams: dict[str, Camera], rodrigues: bool) -> None:
    """intri.yml + extri.yml exactly as EasyMocap's ``write_intri``/``write_extri`` lay them out."""
    folder.mkdir(parents=True, exist_ok=True)
    intri = cv2.FileStorage(str(folder / "intri.yml"), cv2.FILE_STORAGE_WRITE)
    extri = cv2.FileStorage(str(folder / "extri.yml"), cv2.FILE_STORAGE_WRITE)
    for fs in (intri, extri):
        fs.startWriteStruct("names", cv2.FileNode_SEQ)
        for name in cams:
            fs.write("", name)
        fs.endWriteStruct()
    for name, cam in cams.items():
        intri.write(f"K_{name}", cam.K)
        intri.write(f"dist_{name}", cam.dist[None])  # 1×5
        extri.write(f"R_{name}", cv2.Rodrigues(cam.R)[0])  # 3×1 Rodrigues
        if not rodrigues:
            extri.write(f"Rot_{name}", cam.R)
        extri.write(f"T_{name}", cam.t[:, None])  # metres
    intri.release()
    extri.release()


@pytest.mark.parametrize("rodrigues", [False, True])
def test_easymocap_yaml(tmp_path: Path, rng: np.random.Generator, rodrigues: bool) -> None:
    cams = _random_cameras(rng)
    folder = tmp_path / "calib"
    _write_easymocap(folder, cams, rodrigues)
    assert "K_c0: !!opencv-matrix" in (folder / "intri.yml").read_text()
    assert detect_format(folder) == "opencv"
    sized = {n: Camera(n, c.K, c.R, c.t, c.dist, 1280, 720) for n, c in cams.items()}
    for source in (folder, folder / "intri.yml", folder / "extri.yml"):
        back = load_cameras(source, image_size=(1280, 720))
        # Rot_ is exact; Rodrigues through OpenCV's float64 conversion is good to ~1e-15
        _assert_same(sized, back, atol=1e-12)
    unsized = load_cameras(folder, format="easymocap")
    assert unsized["c0"].width == 0


def test_easymocap_missing_key(tmp_path: Path, rng: np.random.Generator) -> None:
    cams = _random_cameras(rng, n=1)
    _write_easymocap(tmp_path, cams, rodrigues=True)
    fs = cv2.FileStorage(str(tmp_path / "extri.yml"), cv2.FILE_STORAGE_WRITE)
    fs.startWriteStruct("names", cv2.FileNode_SEQ)
    fs.write("", "c0")
    fs.endWriteStruct()
    fs.release()  # extri.yml without R_c0/T_c0
    with pytest.raises(InputError, match=r"extri\.yml: camera 'c0' lacks 'R_c0'"):
        load_cameras(tmp_path)


# ------------------------------------------------------------------------------------ toml
def test_anipose_toml_defaults_to_millimetres(tmp_path: Path) -> None:
    path = tmp_path / "calibration.toml"
    path.write_text(
        '[cam_0]\nname = "A"\nsize = [ 1920.0, 1080.0,]\n'
        "matrix = [ [ 1000.0, 0.0, 960.0,], [ 0.0, 1000.0, 540.0,], [ 0.0, 0.0, 1.0,],]\n"
        "distortions = [ -0.1, 0.01, 0.0, 0.0, 0.0,]\n"
        "rotation = [ 0.0, 0.0, 1.5707963267948966,]\ntranslation = [ 100.0, -200.0, 3000.0,]\n"
        "fisheye = false\n\n[metadata]\nadjusted = false\nerror = 0.5\n"
    )
    cam = load_cameras(path)["A"]
    # Rodrigues (0, 0, π/2): 90° about z: x -> y
    np.testing.assert_allclose(cam.R, [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-15)
    np.testing.assert_allclose(cam.t, [0.1, -0.2, 3.0])  # mm -> m
    assert (cam.width, cam.height) == (1920, 1080)
    np.testing.assert_allclose(load_cameras(path, units="m")["A"].t, [100.0, -200.0, 3000.0])


@pytest.mark.parametrize("suffix", [".json", ".toml"])
@pytest.mark.parametrize("units", ["m", "mm"])
def test_writer_round_trip(
    tmp_path: Path, rng: np.random.Generator, suffix: str, units: str
) -> None:
    cams = _random_cameras(rng, n=4)
    path = save_cameras(cams, tmp_path / f"out{suffix}", units=units)
    assert detect_format(path) == ("tessetrack" if suffix == ".json" else "toml")
    _assert_same(cams, load_cameras(path), atol=1e-12)


def test_writer_accepts_a_list_and_json_layout(tmp_path: Path, rng: np.random.Generator) -> None:
    cams = _random_cameras(rng, n=2)
    path = save_cameras(list(cams.values()), tmp_path / "cams.json")
    doc = json.loads(path.read_text())
    assert doc["format"] == "tessetrack.cameras/1" and doc["units"] == "m"
    assert set(doc["cameras"][0]) == {"name", "K", "R", "t", "dist", "width", "height"}


def test_real_rigs_survive_our_formats(shared_data: Path, tmp_path: Path) -> None:
    for source in (shared_data / QCA, shared_data / "shelf/calibration_shelf.json"):
        cams = load_cameras(source)
        _assert_same(cams, load_cameras(save_cameras(cams, tmp_path / "c.json")))
        # TOML stores R as a Rodrigues vector: Shelf's R, printed with 6 decimals, is a rotation
        # only to ~1e-6, which is what the vector keeps of it
        _assert_same(cams, load_cameras(save_cameras(cams, tmp_path / "c.toml")), atol=2e-6)


# ---------------------------------------------------------------------------------- errors
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.json: calibration file not found"):
        load_cameras(tmp_path / "nope.json")
    with pytest.raises(InputError, match="not found"):
        load_cameras(tmp_path / "nope.json", format="voxelpose")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.json", '{"0": {"R": [', "malformed JSON"),
        ("bad.qca.txt", "<calibration><cameras><camera>", "malformed XML"),
        ("bad.toml", "[cam_0\nname = 1", "malformed TOML"),
        ("bad.yml", "%YAML:1.0\n---\nnames: [a, \n  K_a: {", "malformed OpenCV YAML"),
    ],
)
def test_malformed_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        load_cameras(path)
    assert name in str(info.value)


def test_missing_field_is_named(tmp_path: Path, shared_data: Path) -> None:
    data = json.loads((shared_data / "shelf/calibration_shelf.json").read_text())
    del data["3"]["fx"]
    path = tmp_path / "calib.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"calib\.json: camera '3' lacks 'fx'"):
        load_cameras(path, format="voxelpose")
    # auto-detection needs every camera to look like VoxelPose's
    with pytest.raises(InputError, match="unrecognised calibration JSON"):
        load_cameras(path)


def test_missing_panoptic_field(tmp_path: Path) -> None:
    path = tmp_path / "calibration_x.json"
    path.write_text(json.dumps({"cameras": [{"name": "00_00", "type": "hd", "K": np.eye(3).tolist(),
                                             "R": np.eye(3).tolist(), "resolution": [10, 10]}]}))  # fmt: skip
    with pytest.raises(InputError, match=r"camera '00_00' lacks 't'"):
        load_cameras(path)


def test_invalid_rotation_names_file(tmp_path: Path) -> None:
    path = tmp_path / "calib.json"
    path.write_text(json.dumps({"0": {"R": np.full((3, 3), 0.5).tolist(), "T": [0, 0, 0],
                                      "fx": 1, "fy": 1, "cx": 0, "cy": 0}}))  # fmt: skip
    with pytest.raises(InputError, match=r"calib\.json: camera '0': R is not a rotation"):
        load_cameras(path)


def test_unknown_format(tmp_path: Path, shared_data: Path) -> None:
    with pytest.raises(InputError, match="unknown calibration format 'blender'"):
        load_cameras(shared_data / "shelf/calibration_shelf.json", format="blender")
    odd = tmp_path / "calib.dat"
    odd.write_text("1 2 3")
    with pytest.raises(InputError, match=r"calib\.dat: cannot tell the calibration format"):
        load_cameras(odd)
    with pytest.raises(InputError, match="cannot tell the output format"):
        save_cameras(load_cameras(shared_data / "shelf/calibration_shelf.json"), tmp_path / "x.txt")


@pytest.mark.parametrize(
    ("name", "text", "fmt"),
    [
        ("calibration_e.json", '{"cameras": []}', "panoptic"),
        ("calibration_shelf.json", "{}", "voxelpose"),
        ("cams.json", '{"format": "tessetrack.cameras/1", "units": "m", "cameras": []}', None),
        ("calibration.toml", "[metadata]\nadjusted = false\n", None),
        ("calib.qca.txt", "<calibration><cameras></cameras></calibration>", None),
    ],
)
def test_empty_camera_list(tmp_path: Path, name: str, text: str, fmt: str | None) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match="holds no cameras") as info:
        load_cameras(path, format=fmt)
    assert name in str(info.value)


def test_save_nothing_or_duplicates(tmp_path: Path, rng: np.random.Generator) -> None:
    with pytest.raises(InputError, match="no cameras"):
        save_cameras({}, tmp_path / "c.json")
    cam = next(iter(_random_cameras(rng, n=1).values()))
    with pytest.raises(InputError, match="unique"):
        save_cameras([cam, cam], tmp_path / "c.json")
