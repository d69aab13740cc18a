from __future__ import annotations

import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import realtime.pose.model as pm
from realtime.pose.mapping import MediaPipeLandmark as MP
from realtime.pose.mapping import mediapipe_to_ntu25
from realtime.pose.model import (
    LEGACY_MEDIAPIPE,
    TASK_MEMBERS,
    PoseModel,
    add_input_normalization,
    check_task_file,
    pose_cache_dir,
    resolve_pose_model,
)
from realtime.pose.stage import PoseEstimator, PoseOptions, RunningMode, Skeleton
from sadvae.errors import ConfigError, MissingDependencyError, SourceError
from sadvae.skeleton import NTUJoint as J


@pytest.fixture(scope="session")
def pose_model(tmp_path_factory: pytest.TempPathFactory) -> PoseModel:
    """The full model built from the mediapipe 0.10.21 wheel (pip download from PyPI), cached for the session."""
    pytest.importorskip("mediapipe")
    cache = tmp_path_factory.getbasetemp() / "pose-model-cache"
    try:
        return resolve_pose_model(cache_dir=cache, download=False)
    except SourceError as e:  # no package index reachable
        pytest.skip(f"cannot build the pose model here: {e}")


def fake_task(path: Path, members: tuple[str, ...] = TASK_MEMBERS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        for m in members:
            z.writestr(m, b"not a real model")
    return path


# ----------------------------------------------------------------------------------------- options


def test_options_validate_and_coerce_mode() -> None:
    assert PoseOptions(mode="live").mode is RunningMode.LIVE
    assert PoseOptions(mode="image").mode is RunningMode.IMAGE  # the ROI stage's crops: detector on every call
    assert PoseOptions().gate == "presence" and PoseOptions().correction == "none"
    cases = [
        (dict(mode="stream"), "pose mode must be one of ['video', 'live', 'image'], got 'stream'"),
        (
            dict(correction="fitted"),
            "pose correction must be one of ['none', 'shoulders', 'joint_centres'], got 'fitted'",
        ),
        (dict(variant="huge"), "pose variant must be one of ['lite', 'full', 'heavy'], got 'huge'"),
        (dict(gate="score"), "pose gate must be one of ['presence', 'visibility'], got 'score'"),
        (
            dict(num_poses=0),
            "PoseOptions.num_poses must be an integer from 1 to 10 (each person tracked runs its own landmarker), "
            "got 0",
        ),
        (  # review of 6 December 2026: 1000 loaded a landmarker per person for minutes, 2**31 blamed the model file
            dict(num_poses=1000),
            "PoseOptions.num_poses must be an integer from 1 to 10 (each person tracked runs its own landmarker), "
            "got 1000",
        ),
        (dict(min_tracking_confidence=1.5), "min_tracking_confidence must be in [0, 1], got 1.5"),
        (dict(visibility_threshold=-0.1), "visibility_threshold must be in [0, 1], got -0.1"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ConfigError) as e:
            PoseOptions(**kwargs)
        assert str(e.value) == message


# ---------------------------------------------------------------------------------------- skeleton


def standing_world() -> np.ndarray:
    """A person facing the camera in MediaPipe world coordinates (x image right, y down)."""
    p = np.zeros((33, 3), np.float32)
    for left, right, x, y in [
        (MP.LEFT_EAR, MP.RIGHT_EAR, 0.07, -0.64),
        (MP.LEFT_SHOULDER, MP.RIGHT_SHOULDER, 0.18, -0.45),
        (MP.LEFT_ELBOW, MP.RIGHT_ELBOW, 0.22, -0.18),
        (MP.LEFT_WRIST, MP.RIGHT_WRIST, 0.24, 0.06),
        (MP.LEFT_PINKY, MP.RIGHT_PINKY, 0.23, 0.14),
        (MP.LEFT_INDEX, MP.RIGHT_INDEX, 0.25, 0.15),
        (MP.LEFT_THUMB, MP.RIGHT_THUMB, 0.26, 0.11),
        (MP.LEFT_HIP, MP.RIGHT_HIP, 0.09, 0.0),
        (MP.LEFT_KNEE, MP.RIGHT_KNEE, 0.10, 0.42),
        (MP.LEFT_ANKLE, MP.RIGHT_ANKLE, 0.10, 0.82),
        (MP.LEFT_HEEL, MP.RIGHT_HEEL, 0.10, 0.87),
        (MP.LEFT_FOOT_INDEX, MP.RIGHT_FOOT_INDEX, 0.11, 0.88),
    ]:
        p[left] = (x, y, 0.0)
        p[right] = (-x, y, 0.0)
    p[MP.NOSE] = (0.0, -0.62, -0.1)
    return p


def landmarks(xyz: np.ndarray, vis: np.ndarray, pres: np.ndarray) -> list[SimpleNamespace]:
    return [
        SimpleNamespace(x=a, y=b, z=c, visibility=v, presence=q) for (a, b, c), v, q in zip(xyz, vis, pres, strict=True)
    ]


def test_skeleton_from_mediapipe_gates_on_presence_by_default() -> None:
    world = standing_world()
    image = world * 0.5 + 0.5  # normalised image coordinates of the same pose
    vis = np.ones(33, np.float32)
    vis[MP.LEFT_WRIST] = 0.2  # occluded ...
    pres = np.ones(33, np.float32)  # ... but in frame
    sk = Skeleton.from_mediapipe(landmarks(world, vis, pres), landmarks(image, vis, pres), 1234)
    assert sk.timestamp_ms == 1234 and sk.world.dtype == np.float32 and sk.image.shape == (33, 2)
    joints, conf = sk.ntu25()
    assert joints.shape == (25, 3) and conf[J.WRIST_LEFT] == 1.0
    # NTU frame: +y up, the person's left on the image right -> -x in NTU axes
    np.testing.assert_allclose(joints[J.WRIST_LEFT], [-0.24, -0.06, 0.0], atol=1e-6)
    gated, conf_v = sk.ntu25(gate="visibility")
    assert conf_v[J.WRIST_LEFT] == 0.0
    np.testing.assert_allclose(gated[J.WRIST_LEFT], gated[J.ELBOW_LEFT])  # placed on its parent


def test_skeleton_image_joints_and_mirroring() -> None:
    world = standing_world()
    image = world[:, :2] * 0.5 + 0.5
    ones = np.ones(33, np.float32)
    img_lm = landmarks(np.c_[image, np.zeros(33)], ones, ones)
    sk = Skeleton.from_mediapipe(landmarks(world, ones, ones), img_lm, 0)
    pts, conf = sk.ntu25_image()
    np.testing.assert_allclose(pts[J.SHOULDER_LEFT], image[MP.LEFT_SHOULDER], atol=1e-6)  # image axes kept
    np.testing.assert_allclose(pts[J.SPINE_SHOULDER], image[[MP.LEFT_SHOULDER, MP.RIGHT_SHOULDER]].mean(0), atol=1e-6)
    assert (conf == 1).all()
    mirrored = Skeleton.from_mediapipe(landmarks(world, ones, ones), img_lm, 0, mirrored=True)
    np.testing.assert_allclose(mirrored.image[:, 0], 1.0 - image[:, 0], atol=1e-6)
    np.testing.assert_array_equal(mirrored.world, sk.world)  # world landmarks belong to the unmirrored view


def test_skeleton_xy_from_image_landmarks() -> None:
    """xy_source="image": x/y from the image landmarks scaled into the world frame (issue 13), mirror-aware."""
    world = standing_world()
    size = (640, 480)
    image = (world[:, :2] * 300.0 + [320.0, 200.0]) / size  # the world x/y seen at 300 px per metre
    image[MP.RIGHT_WRIST, 1] += 30.0 / size[1]  # the image puts the right wrist 10 cm lower
    ones = np.ones(33, np.float32)
    img_lm = landmarks(np.c_[image, np.zeros(33)], ones, ones)
    sk = Skeleton.from_mediapipe(landmarks(world, ones, ones), img_lm, 0, image_size=size, xy_source="image")
    m = sk.metric_landmarks()
    np.testing.assert_allclose(m[MP.RIGHT_WRIST], world[MP.RIGHT_WRIST] + [0, 0.1, 0], atol=1e-5)
    np.testing.assert_allclose(np.delete(m, MP.RIGHT_WRIST, 0), np.delete(world, MP.RIGHT_WRIST, 0), atol=1e-5)
    np.testing.assert_array_equal(sk.metric_landmarks("world"), world)
    j_img, _ = sk.ntu25()
    j_world, _ = sk.ntu25(xy_source="world")
    np.testing.assert_allclose(j_img[J.WRIST_RIGHT] - j_world[J.WRIST_RIGHT], [0, -0.1, 0], atol=1e-5)  # NTU: +y up
    # a mirrored frame: image landmarks are stored for the frame as given, and flipped back before use
    mir = Skeleton.from_mediapipe(
        landmarks(world, ones, ones), img_lm, 0, mirrored=True, image_size=size, xy_source="image"
    )
    np.testing.assert_allclose(mir.metric_landmarks(), m, atol=1e-5)
    # without a frame size the world x/y are used
    no_size = Skeleton.from_mediapipe(landmarks(world, ones, ones), img_lm, 0, xy_source="image")
    np.testing.assert_array_equal(no_size.metric_landmarks(), world)
    with pytest.raises(ValueError, match="xy_source"):
        sk.ntu25(xy_source="camera")
    with pytest.raises(ConfigError, match="xy_source"):
        PoseOptions(xy_source="camera")
    assert PoseOptions().xy_source == "image"


def test_skeleton_applies_the_named_mapping_correction() -> None:
    """``correction`` (PoseOptions -> Skeleton -> ntu25): the named body-frame offsets, in the mapping only."""
    from realtime.pose.mapping import CORRECTIONS

    world = standing_world()
    ones = np.ones(33, np.float32)
    lm = landmarks(world, ones, ones)
    plain = Skeleton.from_mediapipe(lm, lm, 0)
    moved = Skeleton.from_mediapipe(lm, lm, 0, correction="shoulders")
    j0, j1 = plain.ntu25()[0], moved.ntu25()[0]
    np.testing.assert_allclose(j1, mediapipe_to_ntu25(world, ones, 0.5, correction=CORRECTIONS["shoulders"])[0])
    changed = np.flatnonzero(np.abs(j1 - j0).max(axis=1) > 1e-6)
    assert set(changed) == {J.SHOULDER_LEFT, J.SHOULDER_RIGHT}
    np.testing.assert_allclose(j1[J.SHOULDER_LEFT, 1] - j0[J.SHOULDER_LEFT, 1], -0.04, atol=1e-3)  # 4 cm down
    with pytest.raises(ValueError, match="correction"):
        Skeleton.from_mediapipe(lm, lm, 0, correction="fitted")


def test_skeleton_validates_shapes_and_missing_scores() -> None:
    with pytest.raises(ValueError, match=r"expected world shape \(33, 3\), got \(17, 2\)"):
        Skeleton(np.zeros((17, 2)), np.zeros((33, 2)), np.ones(33), np.ones(33), 0)
    xyz = standing_world()
    none = [None] * 33
    sk = Skeleton.from_mediapipe(landmarks(xyz, none, none), landmarks(xyz, none, none), 0)
    assert (sk.presence == 1).all() and (sk.visibility == 1).all()  # a model without scores: trust landmarks


# --------------------------------------------------------------------------------- model resolution


def test_check_task_file_messages(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="pose model .*nope.task not found; pass --pose-model"):
        check_task_file(tmp_path / "nope.task")
    (tmp_path / "models").mkdir()  # review: a folder was reported as "not found"
    with pytest.raises(SourceError, match=r"pose model .*models is a folder, not a file; pass --pose-model with the"):
        check_task_file(tmp_path / "models")
    fake_task(tmp_path / "models" / "pose_landmarker_lite.task")
    with pytest.raises(SourceError, match=r"is a folder, .*\(this folder holds pose_landmarker_lite\.task\)"):
        check_task_file(tmp_path / "models")
    junk = tmp_path / "junk.task"
    junk.write_bytes(b"hello")
    with pytest.raises(SourceError, match="is not a MediaPipe .task bundle .*pass --pose-model PATH"):
        check_task_file(junk)
    with pytest.raises(SourceError, match="lacks pose_landmarks_detector.tflite"):
        check_task_file(fake_task(tmp_path / "half.task", TASK_MEMBERS[:1]))
    check_task_file(fake_task(tmp_path / "ok.task"))


def test_resolve_order_explicit_then_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = fake_task(tmp_path / "mine.task")
    found = resolve_pose_model(explicit, cache_dir=tmp_path / "cache")
    assert (found.path, found.origin) == (explicit, "path")
    monkeypatch.setenv("SADVAE_CACHE_DIR", str(tmp_path / "root"))
    assert pose_cache_dir() == tmp_path / "root" / "pose"
    cached = fake_task(tmp_path / "root" / "pose" / "pose_landmarker_lite.task")
    found = resolve_pose_model(variant="lite", download=False, build=False)
    assert (found.path, found.origin, found.variant) == (cached, "cache", "lite")
    with pytest.raises(ConfigError, match="unknown pose model variant 'tiny'"):
        resolve_pose_model(variant="tiny")


def test_resolve_fails_fast_with_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pm, "OFFICIAL_URL", "https://sadvae-test.invalid/pose_landmarker_{variant}.task")
    t0 = time.monotonic()
    with pytest.raises(SourceError) as e:
        resolve_pose_model(variant="heavy", cache_dir=tmp_path, timeout_s=3.0)
    assert time.monotonic() - t0 < 10.0
    msg = str(e.value)
    assert msg.startswith(f"no pose model found in {tmp_path} (")
    assert "only the full model can be built" in msg and "could not resolve sadvae-test.invalid" in msg
    assert msg.endswith("pose_landmarker_heavy.task and pass --pose-model PATH")
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_add_input_normalization_writes_readable_metadata() -> None:
    flatbuffers = pytest.importorskip("flatbuffers")
    pytest.importorskip("mediapipe")
    from mediapipe.tasks.metadata import metadata_schema_py_generated as md_fb
    from mediapipe.tasks.metadata import schema_py_generated as tfl_fb

    model = tfl_fb.ModelT()  # the smallest TFLite flatbuffer: one empty buffer, no graph
    model.version, model.buffers, model.subgraphs = 3, [tfl_fb.BufferT()], []
    b = flatbuffers.Builder(0)
    b.Finish(model.Pack(b), b"TFL3")
    out = add_input_normalization(add_input_normalization(bytes(b.Output()), "x", 1.0, 2.0), "lm", 0.0, 255.0)
    back = tfl_fb.ModelT.InitFromObj(tfl_fb.Model.GetRootAsModel(out, 0))
    entries = [m for m in back.metadata if m.name == b"TFLITE_METADATA"]
    assert len(entries) == 1  # replaced, not added twice
    meta = md_fb.ModelMetadata.GetRootAsModelMetadata(bytes(back.buffers[entries[0].buffer].data), 0)
    tensor = meta.SubgraphMetadata(0).InputTensorMetadata(0)
    norm = md_fb.NormalizationOptions()
    norm.Init(tensor.ProcessUnits(0).Options().Bytes, tensor.ProcessUnits(0).Options().Pos)
    assert (meta.Name(), norm.Mean(0), norm.Std(0)) == (b"lm", 0.0, 255.0)
    assert tensor.Stats().Max(0) == pytest.approx(1.0)


def test_model_built_from_wheel_loads(pose_model: PoseModel) -> None:
    assert pose_model.origin in ("wheel", "cache") and LEGACY_MEDIAPIPE in pose_model.note
    check_task_file(pose_model.path)


# ---------------------------------------------------------------------------------------- estimator


def video_frames(path: Path, n: int) -> list[np.ndarray]:
    cv2 = pytest.importorskip("cv2")
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < n:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    return frames


def test_video_mode_on_a_real_clip(pose_model: PoseModel, shared_data: Path) -> None:
    frames = video_frames(shared_data / "videos" / "ta_chi.mp4", 20)
    opts = PoseOptions(model_path=str(pose_model.path), num_poses=2)
    with PoseEstimator(opts) as est:
        assert est.model.origin == "path"
        found = [est(img, timestamp_ms=round(i * 1000 / 29.97)) for i, img in enumerate(frames)]
        assert est(SimpleNamespace(image=None, timestamp_ms=10_000)) == []  # a replay frame: nothing to do
        assert est(np.zeros((64, 64, 3), np.uint8), timestamp_ms=10_001) == []  # nobody in view
        # a repeated timestamp is moved forward instead of failing inside MediaPipe
        assert isinstance(est(frames[0], timestamp_ms=10_001), list)
        with pytest.raises(ValueError, match="expected a BGR uint8 image"):
            est(np.zeros((64, 64), np.uint8), timestamp_ms=20_000)
    est.close()  # idempotent
    with pytest.raises(SourceError, match="closed"):
        est(frames[0], timestamp_ms=30_000)
    seen = [s for f in found for s in f]
    assert sum(1 for f in found if f) >= 15, "the tai chi performer should be found in most frames"
    sk = seen[-1]
    assert np.isfinite(sk.world).all() and np.abs(sk.world).max() < 1.5  # metres, hip-centred
    assert (sk.image > -0.2).all() and (sk.image < 1.2).all()
    joints, conf = sk.ntu25()
    assert joints.shape == (25, 3) and np.isfinite(joints).all()
    assert joints[J.HEAD, 1] > joints[J.SPINE_BASE, 1] > joints[J.ANKLE_LEFT, 1]  # +y up: upright person


def test_live_mode_returns_latest_result(pose_model: PoseModel, shared_data: Path) -> None:
    frames = video_frames(shared_data / "videos" / "ta_chi.mp4", 10)
    with PoseEstimator(PoseOptions(model_path=str(pose_model.path), mode="live")) as est:
        got: list = []
        fresh = 0
        for k in range(200):
            got = est(frames[k % len(frames)], timestamp_ms=k * 33)
            fresh += est.fresh
            if got and fresh >= 2:
                break
            time.sleep(0.02)
        assert got and fresh >= 2
        assert got[0].timestamp_ms <= k * 33
        est(frames[0], timestamp_ms=k * 33 + 1)  # usually before the next result: fresh may be either
        # seconds later (the stage was not called meanwhile): MediaPipe's last answer is not these frames' people
        # (until 6 December 2026 it came back marked fresh; a review found a ROI stage following the person by crops
        # get a pose 2 s old from the full frame)
        assert est(frames[0], timestamp_ms=k * 33 + 3000) == [] and not est.fresh


def test_unloadable_model_is_one_source_error(tmp_path: Path) -> None:
    pytest.importorskip("mediapipe")
    with pytest.raises(SourceError, match="MediaPipe cannot load pose model .*fake.task.*--pose-model"):
        PoseEstimator(PoseOptions(model_path=str(fake_task(tmp_path / "fake.task"))))


def test_missing_mediapipe_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # import mediapipe -> ImportError
    with pytest.raises(MissingDependencyError) as e:
        PoseEstimator(PoseOptions(model_path="unused.task"))
    assert str(e.value) == "mediapipe is not installed; install it with `pip install 'sadvae-live[live]'`"


def test_image_mode_takes_any_timestamp_without_a_warning(pose_model: PoseModel, shared_data: Path, caplog) -> None:
    """The search tiles that two trackers share (`--num-poses 2`) run in IMAGE mode, where MediaPipe reads no
    timestamp: the same one twice is neither moved nor warned about (it printed "timestamp N ms is not after N ms")."""
    frame = video_frames(shared_data / "videos" / "ta_chi.mp4", 1)[0]
    with PoseEstimator(PoseOptions(model_path=str(pose_model.path), mode="image")) as est, caplog.at_level("WARNING"):
        first, again = est(frame, timestamp_ms=500), est(frame, timestamp_ms=500)
    assert first and again and again[0].timestamp_ms == 500
    assert "is not after" not in caplog.text
