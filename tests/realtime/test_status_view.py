"""What the model sees per person (realtime.view) and status events whose reasons are fields (issue 14, item 6)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest
from sadvae_tests_helpers import FakeCamera, PoseSkeleton, free_endpoint

from realtime.events.publisher import STATUS_REASONS, decode, encode, make_status_event, validate
from realtime.view import BODY_PARTS, TrackView, head_no_action, head_scores, make_view, out_of_view, parts_unseen
from sadvae.errors import DataFormatError

pytest.importorskip("jsonschema")

NAMES = ["wave", "clap", "sit down", "kick"]


def status(**kw) -> dict:
    base = dict(source="cam0", fps=29.5, latency_ms={"total": 30.2}, dropped={"frames": 1, "events": 0})
    base.update(kw)
    return make_status_event(**base)


def test_view_is_the_windows_top_k_and_its_no_action_verdict() -> None:
    v = make_view(
        3,
        np.array([0.1, 0.6, 0.05, 0.25]),
        NAMES,
        no_action=False,
        min_score=0.2,
        decided="clap",
        decided_score=0.55,
        window_ms=(100.0, 2166.7),
    )
    assert v.topk == (("clap", 0.6), ("kick", 0.25), ("wave", 0.1))
    assert (v.label, v.score, v.no_action, v.decided) == ("clap", 0.6, False, "clap")
    rejected = make_view(3, np.array([0.1, 0.6, 0.05, 0.25]), NAMES, no_action=True, min_score=0.2)
    assert rejected.label is None and rejected.score == 0.6 and rejected.topk[0] == ("clap", 0.6)
    # a head without a verdict: the decisions' min_score decides
    low = make_view(0, np.array([0.15, 0.1, 0.05, 0.12]), NAMES, no_action=None, min_score=0.2)
    high = make_view(0, np.array([0.15, 0.1, 0.05, 0.7]), NAMES, no_action=None, min_score=0.2)
    assert low.no_action and low.label is None and not high.no_action and high.label == "kick"
    assert len(make_view(0, np.array([0.5, 0.5]), NAMES[:2], no_action=None, min_score=0.2, top_k=3).topk) == 2


def test_head_verdict_and_scores_are_read_defensively() -> None:
    probs = np.array([[0.7, 0.3], [0.4, 0.6]])
    old = SimpleNamespace(probs=probs)  # a head result without "no action"
    assert head_no_action(old, 1) is None and head_scores(old, 1).tolist() == [0.4, 0.6]
    new = SimpleNamespace(probs=probs, no_action=np.array([False, True]), scores=probs * [[1.0], [0.2]])
    assert head_no_action(new, 0) is False and head_no_action(new, 1) is True
    assert head_scores(new, 1) == pytest.approx([0.08, 0.12])
    assert head_no_action(SimpleNamespace(no_action=np.array([True])), 5) is None  # wrong shape: ignored


def test_status_persons_validate_and_round_trip() -> None:
    views = [
        make_view(
            0,
            np.array([0.1, 0.6, 0.05, 0.25]),
            NAMES,
            no_action=False,
            min_score=0.2,
            decided="clap",
            decided_score=0.55,
            window_ms=(0.0, 2066.7),
            moving_ms=(900.0, 2066.7),
        ),
        make_view(1, np.array([0.3, 0.3, 0.2, 0.2]), NAMES, no_action=True, min_score=0.2),
    ]
    e = status(tracks=2, persons=views)
    validate(e, strict=True, published=False)
    assert decode(encode(e)) == e
    p0, p1 = e["persons"]
    assert p0 == {
        "track_id": 0,
        "label": "clap",
        "score": 0.6,
        "no_action": False,
        "decided": "clap",
        "topk": [{"label": "clap", "score": 0.6}, {"label": "kick", "score": 0.25}, {"label": "wave", "score": 0.1}],
        "window": {"start_ms": 0.0, "end_ms": 2066.7},
        "out_of_view": [],
        "moving": {"start_ms": 900.0, "end_ms": 2066.7},  # the model read only the span with motion (--trim-still)
    }
    assert p1["label"] is None and p1["no_action"] is True and p1["score"] == 0.3 and p1["decided"] is None
    assert p1["moving"] is None  # the whole window was read
    with pytest.raises(DataFormatError, match="1.5 is greater than the maximum") as info:
        validate({**e, "persons": [{**p0, "score": 1.5}]}, published=False)
    assert info.value.where == "$.persons[0].score"
    with pytest.raises(DataFormatError, match="'no_action' is a required property"):
        validate({**e, "persons": [{k: v for k, v in p0.items() if k != "no_action"}]}, published=False)


@pytest.mark.parametrize(
    ("reason", "details"),
    [
        ("heartbeat", None),
        ("started", None),
        ("labels_reloaded", {"labels": 4, "labels_hash": "ab" * 32, "labels_path": "labels.txt", "head_mode": "mixed"}),
        (
            "labels_rejected",
            {"labels": 4, "labels_hash": "ab" * 32, "labels_path": "labels.txt", "error": "labels.txt: line 2: ..."},
        ),
        ("source_disconnected", {"attempt": 0, "delay_s": 0.0}),
        ("source_reconnecting", {"attempt": 2, "delay_s": 1.5}),
        ("source_reconnected", {"attempt": 2, "delay_s": 1.5}),
        ("source_gave_up", {"attempt": 10, "delay_s": 0.0}),
        ("stopped", {"stop_reason": "end", "frames": 300, "windows": 33}),
    ],
)
def test_every_status_reason_is_a_field_with_its_details(reason, details) -> None:
    e = status(reason=reason, details=details, message="for humans")
    validate(e, strict=True, published=False)
    assert e["reason"] == reason and e.get("details") == details and e["message"] == "for humans"


def test_status_reasons_are_complete_and_checked() -> None:
    assert set(STATUS_REASONS) == set(
        __import__("realtime.events.publisher", fromlist=["load_schema"]).load_schema(strict=True)["$defs"]["status"][
            "properties"
        ]["reason"]["enum"]
    )
    assert status()["reason"] == "heartbeat" and "details" not in status() and "persons" not in status()
    with pytest.raises(ValueError, match="status reason must be one of"):
        status(reason="bored")
    with pytest.raises(ValueError, match="unknown field 'colour'"):
        status(reason="stopped", details={"colour": "red"})
    with pytest.raises(ValueError, match="attempt must be a finite number >= 0"):
        status(reason="source_reconnecting", details={"attempt": -1})
    for reason, missing in (
        ("stopped", "'details' is a required property"),
        ("labels_reloaded", "'details' is a required property"),
        ("labels_rejected", "'details' is a required property"),
    ):
        with pytest.raises(DataFormatError, match=missing):
            validate(status(reason=reason), published=False)
    with pytest.raises(DataFormatError, match="'frames' is a required property"):
        validate(status(reason="stopped", details={"stop_reason": "end"}), published=False)
    with pytest.raises(DataFormatError, match="'reason' is a required property"):
        validate({k: v for k, v in status().items() if k != "reason"}, published=False)


def test_track_view_json_clamps_rounding_noise() -> None:
    v = TrackView(0, (("wave", 1.0000000002),), False)
    assert v.to_json()["score"] == 1.0 and v.to_json()["topk"][0]["score"] == 1.0


# ---- the live pipeline and sadvae-live --print all ----------------------------------------------------------

NTU_FILE = "ntu/S001C001P001R001A001.skeleton"


def test_pipeline_status_events_carry_reasons_and_what_each_person_sees(shared_data, live_model, tmp_path) -> None:
    pytest.importorskip("zmq")
    from realtime.decisions import DecisionOptions
    from realtime.events.publisher import PublisherOptions
    from realtime.head.zero_shot import HeadOptions
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources.replay import ReplaySource

    labels = tmp_path / "labels.txt"
    labels.write_text("wave\nclap\n", encoding="utf-8")  # trained classes of the tiny bundle: no text encoder
    opts = PipelineOptions(
        stride=4,
        status_interval_s=1e-3,
        handle_signals=False,
        # every window decides (a random-weight tiny model starts nothing under the defaults, and the check of the
        # heartbeats' `decided` below then compared two empty sets)
        decisions=DecisionOptions(min_score=0.0, keep_score=0.0, start_score=0.0, start_windows=1),
        head=HeadOptions(cache_dir=str(tmp_path / "heads")),
        publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*"),
    )
    batches, events = [], []
    pipe = Pipeline(ReplaySource(shared_data / NTU_FILE), live_model, labels, opts, on_batch=batches.append)
    publish = pipe.publisher.publish
    pipe.publisher.publish = lambda e: (events.append(e), publish(e))[1]
    assert pipe.run() == "end"
    for e in events:
        validate(e, strict=True, published=False)
    statuses = [e for e in events if e["type"] == "status"]
    assert statuses[0]["reason"] == "started" and statuses[-1]["reason"] == "stopped"
    assert statuses[-1]["details"] == {"stop_reason": "end", "frames": pipe.frames, "windows": pipe.windows}
    beats = [e for e in statuses if e["reason"] == "heartbeat"]
    assert beats and all(e["message"] is None for e in beats)
    with_person = [e for e in beats if e.get("persons")]
    assert with_person, "no heartbeat carried a person"
    # the last heartbeat before the end shows the last window's scores as the head gave them; the frames after the
    # last stride boundary make one more batch when the source ends (6 December 2026), after the last heartbeat
    assert pipe.frames % 4 != 0
    last_batch = batches[-2]
    seen = with_person[-1]["persons"][0]
    want = last_batch.views[0]
    assert seen["track_id"] == want.track_id == 0 and seen["score"] == pytest.approx(want.score, abs=1e-6)
    row = head_scores(last_batch.result, 0)
    assert want.topk[0] == (last_batch.labels.names[int(row.argmax())], pytest.approx(float(row.max())))
    assert seen["window"]["end_ms"] == pytest.approx(want.window_ms[1], abs=1e-3)
    actions = [e for e in events if e["type"] != "status"]
    started = [e["label"] for e in actions if e["type"] == "start"]
    decided = {p["decided"] for e in with_person for p in e["persons"]} - {None}
    assert started and decided and decided <= set(started)
    assert all(p["out_of_view"] == [] for e in with_person for p in e["persons"])  # a replay has no confidences


def test_parts_out_of_view_need_half_the_joints_and_half_the_frames() -> None:
    assert list(BODY_PARTS) == ["head", "arms", "legs"]
    conf = np.ones(25, np.float32)
    assert not parts_unseen(conf).any() and not parts_unseen(None).any()
    conf[list(BODY_PARTS["legs"])[:2]] = 0.0  # the left knee and ankle: half the leg joints
    assert parts_unseen(conf).tolist() == [False, False, True]
    conf[list(BODY_PARTS["legs"])[:2]] = 1.0
    conf[list(BODY_PARTS["legs"])[0]] = 0.0  # one of four: still in view
    assert not parts_unseen(conf).any()
    legs = np.array([False, False, True])
    assert out_of_view([legs] * 5 + [np.zeros(3, bool)] * 5) == ("legs",)  # half the frames
    assert out_of_view([legs] * 4 + [np.zeros(3, bool)] * 6) == ()
    assert out_of_view(np.zeros((0, 3), bool)) == ()
    view = make_view(2, np.array([0.5, 0.5, 0.0, 0.0]), NAMES, no_action=False, min_score=0.2, out_of_view=("legs",))
    e = status(tracks=1, persons=[view])
    validate(e, strict=True, published=False)
    assert e["persons"][0]["out_of_view"] == ["legs"]


def test_pipeline_reports_legs_out_of_view_from_the_pose_confidences(shared_data, live_model, labels, tmp_path) -> None:
    """A person whose knees and ankles the pose stage does not see (a camera that frames them from the hips up):
    the status heartbeat's ``persons[].out_of_view`` says ``legs`` once a window holds mostly such frames."""
    pytest.importorskip("zmq")
    from realtime.events.publisher import PublisherOptions
    from realtime.head.zero_shot import HeadOptions
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources.replay import ReplaySource

    frames = list(ReplaySource(shared_data / NTU_FILE))
    legs = list(BODY_PARTS["legs"])

    class Pose:
        fresh = True

        def __init__(self, hidden_from: int):
            self.hidden_from, self.n = hidden_from, 0

        def __call__(self, frame) -> list:
            self.n += 1
            return [PoseSkeleton(frame.joints, unseen=legs if self.n > self.hidden_from else ())]

        def close(self) -> None:
            pass

    opts = PipelineOptions(
        stride=4,
        status_interval_s=1e-3,
        handle_signals=False,
        head=HeadOptions(cache_dir=str(tmp_path / "heads")),
        publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*"),
    )
    batches = []
    pipe = Pipeline(FakeCamera(frames), live_model, labels, opts, pose=Pose(hidden_from=40), on_batch=batches.append)
    assert pipe.run() == "end"
    views = [b.views[0] for b in batches]
    hidden = [(v.window_ms[1] - max(v.window_ms[0], 40 * 1000 / 30)) / (v.window_ms[1] - v.window_ms[0]) for v in views]
    assert views and [v.out_of_view for v in views] == [("legs",) if h >= 0.5 else () for h in hidden]
    assert views[0].out_of_view == () and views[-1].out_of_view == ("legs",)  # legs leave the frame at frame 40


def _replay_argv(shared_data, labels, model_files, *extra: str) -> list[str]:
    """``sadvae-live`` arguments: the NTU replay with the tiny model and ``labels``, then ``extra``, then a free
    endpoint."""
    head = ["--replay", str(shared_data / NTU_FILE), "--labels", str(labels), "--model", str(model_files[0])]
    return [*head, *extra, "--endpoint", free_endpoint()]


def test_print_all_shows_every_window_even_undecided(
    shared_data, model_files, cache_root, labels, capsys, monkeypatch
) -> None:
    pytest.importorskip("zmq")
    from realtime.cli import main

    monkeypatch.setenv("SADVAE_CACHE_DIR", str(cache_root))
    assert main(_replay_argv(shared_data, labels, model_files, "--print", "all")) == 0
    captured = capsys.readouterr()
    windows_run = int(captured.err.strip().splitlines()[-1].split()[-2])  # "... after N frames, W windows"
    lines = captured.out.splitlines()
    window_lines = [ln for ln in lines if "  window  " in ln]
    assert len(window_lines) == windows_run > 3
    # the first window can never be decided (a start needs two windows): it is shown all the same
    assert "decided:" not in window_lines[0]
    for ln in window_lines:
        assert ln.split("person 0  window  ")[1].split()[0] in ("wave", "clap", "(no")
        assert ln.count("[") == 1 and ln.split("[")[1].split("]")[0].count(",") == 1  # top 2 of 2 labels
    assert not any(" update " in ln for ln in lines)  # the window lines stand in for updates
    # the default --print (changes) prints no window lines
    assert main(_replay_argv(shared_data, labels, model_files, "--print")) == 0
    assert "  window  " not in capsys.readouterr().out


def test_print_all_survives_a_closed_pipe(shared_data, model_files, cache_root, labels) -> None:
    import os
    import subprocess
    import sys

    argv = _replay_argv(shared_data, labels, model_files, "--loop", "--max-frames", "400", "--print", "all")
    cmd = [sys.executable, "-m", "realtime.cli", *argv]
    env = {**os.environ, "SADVAE_CACHE_DIR": str(cache_root)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as `| head -1` does
    _, stderr = proc.communicate(timeout=120)
    assert b"window" in first and proc.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr and b"stopped (max_frames) after 400 frames" in stderr


def test_print_all_names_the_parts_out_of_view(capsys) -> None:
    from realtime.cli import _print_window

    legs = make_view(1, np.array([0.1, 0.7, 0.1, 0.1]), NAMES, no_action=False, min_score=0.2, out_of_view=("legs",))
    whole = make_view(2, np.array([0.1, 0.7, 0.1, 0.1]), NAMES, no_action=False, min_score=0.2)
    _print_window(SimpleNamespace(views=[legs, whole]))
    first, second = capsys.readouterr().out.splitlines()
    assert first.endswith("out of view: legs") and "person 1" in first
    assert "out of view" not in second


def test_print_all_says_how_much_of_a_cut_window_was_motion(capsys) -> None:
    from realtime.cli import _print_window

    window = (1000.0, 4200.0)
    cut = make_view(
        1,
        np.array([0.1, 0.7, 0.1, 0.1]),
        NAMES,
        no_action=False,
        min_score=0.2,
        window_ms=window,
        moving_ms=(2800.0, 4200.0),
    )
    whole = make_view(2, np.array([0.1, 0.7, 0.1, 0.1]), NAMES, no_action=False, min_score=0.2, window_ms=window)
    _print_window(SimpleNamespace(views=[cut, whole]))
    first, second = capsys.readouterr().out.splitlines()
    assert first.endswith("moving 1.4 of 3.2 s") and "moving" not in second


def test_heartbeats_go_on_while_a_camera_waits_to_reconnect(shared_data, live_model, labels, tmp_path, caplog) -> None:
    """Review of 6 December 2026: heartbeats went out only after a frame, so during a reconnect's backoff (up to
    10 s between attempts) status events came ``delay_s`` apart, and a subscriber following the documented liveness
    rule (no status for 3 intervals: the publisher is gone) ended the person's action while the camera came back.
    A live source calls ``on_idle`` while it waits; the pipeline keeps the heartbeat on time. And since the person is
    not seen while the source is away, the action ends at ``source_disconnected`` (it stayed decided in every
    heartbeat of the outage, its end sent only when frames came back)."""
    pytest.importorskip("zmq")
    import time

    from realtime.decisions import DecisionOptions
    from realtime.events.publisher import PublisherOptions
    from realtime.head.zero_shot import HeadOptions
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources.capture import SourceStatus
    from realtime.sources.replay import ReplaySource

    frames = list(ReplaySource(shared_data / NTU_FILE))[:40]

    class WaitingCamera(FakeCamera):
        on_status = on_idle = None  # what a CameraSource has before a pipeline installs its callbacks

        def __iter__(self):
            for k, f in enumerate(super().__iter__()):
                if k == 30:  # the camera dropped: 1.2 s without a frame, the source waking every 0.1 s
                    self.gap = [time.monotonic()]
                    self.on_status(SourceStatus("cam", "disconnected", 0, 0.0, "camera dropped"))
                    while time.monotonic() - self.gap[0] < 1.2:
                        time.sleep(0.1)
                        self.on_idle()
                    self.gap.append(time.monotonic())
                    self.on_status(SourceStatus("cam", "reconnected", 1, 0.5, "camera reconnected"))
                yield f

    class Pose:
        fresh = True

        def __call__(self, frame) -> list:
            return [PoseSkeleton(frame.joints)]

        def close(self) -> None:
            pass

    opts = PipelineOptions(
        stride=4,
        status_interval_s=0.3,
        min_window_frames=8,
        decisions=DecisionOptions(min_score=0.0, keep_score=0.0, start_score=0.0, start_windows=1),  # all decide
        handle_signals=False,
        head=HeadOptions(cache_dir=str(tmp_path / "heads")),
        publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*"),
    )
    events: list[dict] = []
    camera = WaitingCamera(frames)
    pipe = Pipeline(camera, live_model, labels, opts, pose=Pose())
    assert camera.on_idle is not None
    publish = pipe.publisher.publish
    pipe.publisher.publish = lambda event: events.append(event) or publish(event)
    with caplog.at_level(logging.WARNING, logger="realtime.pipeline"):
        assert pipe.run() == "end"
    # the service log says it too (integrator audit of 7 December 2026, late: only subscribers were told)
    said = [r.getMessage() for r in caplog.records if r.name == "realtime.pipeline"]
    assert "camera dropped" in said and "camera reconnected" in said
    t0, t1 = (t * 1e9 for t in camera.gap)
    beats = [e["monotonic_ns"] for e in events if e["type"] == "status" and e["reason"] == "heartbeat"]
    during = [t for t in beats if t0 <= t <= t1]
    assert len(during) >= 3, (len(during), len(beats))
    assert max(b - a for a, b in zip([t0, *during], [*during, t1], strict=True)) < 0.6e9  # never 3 intervals
    before = [e for e in events if e["type"] != "status" and e["monotonic_ns"] < t0]
    assert before and before[-1]["type"] != "end"  # an action was on when the camera dropped
    ends = [e for e in events if e["type"] == "end" and t0 <= e["monotonic_ns"] <= t1]
    assert [e["reason"] for e in ends] == ["track_end"] and ends[0]["track_id"] == before[-1]["track_id"]
    gap_beats = [e for e in events if e["type"] == "status" and e["reason"] == "heartbeat" and t0 <= e["monotonic_ns"]]
    assert all(e["tracks"] == 0 and not e["persons"] for e in gap_beats if e["monotonic_ns"] <= t1)
    assert max(pipe.stats.recent["read"]) < 0.5e9  # the read that spanned the 1.2 s outage is not a frame interval
