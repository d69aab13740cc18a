"""The mapping check of issue 4: MediaPipe on the NTU colour video against the same frames' Kinect skeleton.

Runs ``scripts/check_mapping.py`` (the same code that wrote ``docs/mapping_check.md``) and applies its
pass marks, ``THRESHOLDS``; the reasons for each mark are in that doc. About 5 s: 103 frames of
1920x1080 through the full pose model, plus building the model from the mediapipe 0.10.21 wheel
once per session.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from realtime.pose.model import PoseModel, resolve_pose_model
from sadvae.errors import SourceError

ROOT = Path(__file__).resolve().parents[2]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_mapping", ROOT / "scripts" / "check_mapping.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def pose_model(tmp_path_factory: pytest.TempPathFactory) -> PoseModel:
    """Built from the wheel (as in CI), in the same session folder as tests/realtime/test_pose.py uses."""
    pytest.importorskip("mediapipe")
    pytest.importorskip("cv2")
    try:
        return resolve_pose_model(cache_dir=tmp_path_factory.getbasetemp() / "pose-model-cache", download=False)
    except SourceError as e:
        pytest.skip(f"cannot build the pose model here: {e}")


def test_umeyama_recovers_a_similarity() -> None:
    check = load_script()
    rng = np.random.default_rng(1)
    src = rng.normal(size=(25, 3))
    angle = np.radians(30)
    r = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    dst = 0.8 * src @ r.T + [1.0, -2.0, 3.0]
    s, r_fit, t = check.umeyama(src, dst, np.ones(25))
    assert s == pytest.approx(0.8)
    np.testing.assert_allclose(r_fit, r, atol=1e-9)
    np.testing.assert_allclose(t, [1.0, -2.0, 3.0], atol=1e-9)
    _, r_mirror, _ = check.umeyama(src, src * [-1, 1, 1], np.ones(25))
    assert np.linalg.det(r_mirror) == pytest.approx(1.0)  # never a reflection


def test_mapping_matches_kinect_on_the_ntu_video(pose_model: PoseModel, shared_data: Path) -> None:
    check = load_script()
    ntu = shared_data / "ntu"
    res = check.run_check(
        ntu / "S001C001P001R001A001_rgb.avi", ntu / "S001C001P001R001A001.skeleton", pose_model.path, compare=False
    )
    assert res["frames"] == 103 and res["frame_size"] == [1920, 1080]
    assert check.failures(res) == [], check.format_table(res)
    o = res["overall"]
    assert o["px_tracked_body"]["median"] < o["px_tracked"]["median"] < o["px_all"]["p90"]


# trained NTU names that a person seen from the waist up could be doing with a hand near the face
UPPER_BODY_LABELS = (
    "drink water\neat meal/snack\nbrushing teeth\nmake a phone call/answer phone\nplaying with phone/tablet\n"
    "pointing to something with finger\ntaking a selfie\nwipe face\n"
)


@pytest.mark.slow
def test_a_person_seen_from_the_waist_up_is_turned_upright(
    pose_model: PoseModel, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A desk webcam: the NTU A001 colour video (drink water) cut to head-to-waist, the hips out of the frame, through
    ``sadvae-live`` with the packaged model. Until 7 December 2026 the unseen spine base and spine mid sat at exactly
    (0, 0, 0), the normalisation left the window in the camera's axes, and every window led with "pointing to something
    with finger" (0.88-0.89, an event started); with the torso kept upright (realtime/pose/mapping.py, UNSEEN_TORSO_M)
    every window leads with "drink water" (0.40-0.43), as the whole-body video's do."""
    cv2 = pytest.importorskip("cv2")
    from realtime.cli import main

    cap = cv2.VideoCapture(str(shared_data / "ntu" / "S001C001P001R001A001_rgb.avi"))
    video = tmp_path / "a001_waist_up.avi"
    out = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (640, 480))
    frames = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        out.write(cv2.resize(frame[250:490, 890:1210], (640, 480)))  # head to just above the hips (1920x1080 frames)
        frames += 1
    out.release()
    assert frames == 103
    labels = tmp_path / "labels.txt"
    labels.write_text(UPPER_BODY_LABELS, encoding="utf-8")
    argv = ["--video", str(video), "--mirror", "--labels", str(labels), "--print", "all", "--pose-model"]
    assert main([*argv, str(pose_model.path), "--endpoint", "tcp://127.0.0.1:*"]) == 0
    windows = [line for line in capsys.readouterr().out.splitlines() if "  window  " in line]
    assert len(windows) == 3 and all("out of view: legs" in line for line in windows), windows
    assert all(line.split("  window  ")[1].startswith("drink water ") for line in windows), windows
