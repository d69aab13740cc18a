"""The accuracy benchmark's replays and the pipeline's inference phase (review of 6 December 2026).

The pipeline scores its windows every ``stride`` frames of the whole stream (a frame counter), and the replays put
a fixed gap after each sequence, so which frames of a sequence were scored depended on the lengths of every
sequence before it: leaving out UTKinect's first held-out sequence changed the scores of 60 of the other 98, and
shifting the stream by a few frames moved its live top-1 by up to 6 points. Now every sequence starts on the
stride, and ``--phases N`` measures the spread that the phase alone gives.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from realtime.bench.accuracy import runner

SET = "utkinect"  # the quickest set to load; 30 fps: a stride of 24 frames


@pytest.fixture(scope="module")
def utk(shared_data):
    pytest.importorskip("onnxruntime")
    from sadvae.data.registry import DATASETS, load_dataset

    return load_dataset(SET, shared_data / DATASETS[SET].default_root)


def _windows(stream, shared_data) -> dict[str, list[tuple[float, float, np.ndarray]]]:
    """Run ``stream`` through the real pipeline; per sequence its windows (start, end relative to the sequence's
    start, probabilities)."""
    from realtime.sources.replay import ReplaySource

    with tempfile.TemporaryDirectory() as tmp:
        labels = Path(tmp) / "labels.txt"
        labels.write_text("\n".join(stream.class_names) + "\n", encoding="utf-8")
        res = runner.run_pipeline(ReplaySource.from_arrays(stream.joints, stream.times), labels, runner.RunOptions())
    return {
        s.name: [(w.start_s - s.t0, w.end_s - s.t0, w.probs) for w in res.windows if s.t0 <= w.end_s < s.t1]
        for s in stream.segments
    }


def _same(a, b) -> bool:
    """The same windows: times to the millisecond, probabilities to float32 rounding (absolute times differ)."""
    return len(a) == len(b) and all(
        abs(x[0] - y[0]) < 1.5e-3 and abs(x[1] - y[1]) < 1.5e-3 and np.allclose(x[2], y[2], atol=1e-5)
        for x, y in zip(a, b, strict=True)
    )


def _stride(utk) -> int:
    model = runner.load_model(runner.RunOptions())
    try:
        return runner.replay_stride(model, runner.replay_fps(SET, utk))
    finally:
        model.close()


def test_a_sequence_is_scored_alike_whatever_comes_before_it(utk, shared_data):
    """Three sequences with and without the one before them: their windows are the same (they were not)."""
    from sadvae.train.protocol import test_side_mask

    stride = _stride(utk)
    first = int(np.flatnonzero(test_side_mask(utk, SET))[0])
    kw = {"hold_s": 1.0, "limit": 4, "ds": utk, "stride": stride}
    whole = runner.heldout_stream(SET, shared_data, **kw)
    rest = runner.heldout_stream(SET, shared_data, skip={first}, **kw)
    assert len(whole.segments) == 4 and len(rest.segments) == 3
    a, b = _windows(whole, shared_data), _windows(rest, shared_data)
    for name in b:
        assert b[name] and _same(a[name], b[name]), name
    # every sequence starts on the stride, after at least GAP_S of empty frames
    for stream in (whole, rest):
        starts = np.searchsorted(stream.times, [s.t0 - 1e-9 for s in stream.segments])
        assert all(int(i) % stride == 0 for i in starts)
        assert all(b.t0 - a.end >= runner.GAP_S for a, b in zip(stream.segments, stream.segments[1:], strict=False))
    # the old stream (a fixed gap): the same three sequences scored at other frames once the first is left out
    old = {"hold_s": 1.0, "limit": 4, "ds": utk}
    a = _windows(runner.heldout_stream(SET, shared_data, **old), shared_data)
    b = _windows(runner.heldout_stream(SET, shared_data, skip={first}, **old), shared_data)
    assert not all(_same(a[name], b[name]) for name in b)


def test_the_benchmark_replays_every_sequence_on_the_stride(utk, shared_data, monkeypatch):
    """run_replay_dataset (sadvae bench accuracy) builds its stream on the pipeline's stride and runs the pipeline
    with that stride."""
    seen = []
    real = runner.heldout_stream
    monkeypatch.setattr(runner, "heldout_stream", lambda *a, **k: seen.append(real(*a, **k)) or seen[-1])
    scores, info = runner.run_replay_dataset(SET, shared_data, runner.RunOptions(), hold_s=1.0, limit=3)
    (stream,) = seen
    assert info["stride"] == 24 and info["phases"] == 1 and len(scores) == 3
    starts = np.searchsorted(stream.times, [s.t0 - 1e-9 for s in stream.segments])
    assert [int(i) % info["stride"] for i in starts] == [0, 0, 0]


def test_phases_shift_every_sequence_and_rows_give_mean_and_spread(utk, shared_data, monkeypatch):
    """--phases 2: two runs, run 1 with every sequence shifted by half a stride, so its windows are scored at other
    frames of each sequence; the replay row gives the mean over both and their min-max."""
    from realtime.bench.accuracy.report import AccuracyOptions, markdown, run_accuracy

    results = []
    real = runner.run_pipeline
    monkeypatch.setattr(runner, "run_pipeline", lambda *a, **k: results.append(real(*a, **k)) or results[-1])
    streams = []
    real_stream = runner.heldout_stream
    monkeypatch.setattr(runner, "heldout_stream", lambda *a, **k: streams.append(real_stream(*a, **k)) or streams[-1])
    opts = AccuracyOptions(None, shared_data, Path.cwd(), replay_datasets=(SET,), hold_s=(1.0,), limit=3, phases=2)
    doc = run_accuracy(opts)
    assert len(results) == 2 and len(streams) == 2
    (row,) = doc["replays"]
    assert doc["phases"] == 2 and row["phases"] == 2
    assert [p["offset_frames"] for p in row["phase_runs"]] == [0, 12]
    # the same sequences, shifted by 12 frames (0.4 s): windows end at other points of each sequence
    for s0, s1 in zip(streams[0].segments, streams[1].segments, strict=True):
        assert s0.name == s1.name and s1.t0 - s0.t0 == pytest.approx(0.4, abs=1e-3)
        ends = [
            [round(w.end_s - s.t0, 3) for w in r.windows if s.t0 <= w.end_s < s.t1]
            for r, s in zip(results, (s0, s1), strict=True)
        ]
        assert ends[0] and ends[1] and ends[0] != ends[1]
    over = row["over_phases"]["labelled"]
    for key in ("held_top1", "vote_top1", "vote_top5", "false_per_min", "false_per_action_min"):
        values = [p["summary"]["labelled"][key] for p in row["phase_runs"]]
        assert over[key] == pytest.approx({"mean": np.mean(values), "min": min(values), "max": max(values)})
    assert row["summary"] == row["phase_runs"][0]["summary"]  # the aligned run
    # every run's action events are kept, each with the sequence it was published in (the starts scored there)
    detail = row["sequences_detail"]
    starts0 = [e["sequence"] for e in row["phase_runs"][0]["events"] if e["type"] == "start"]
    assert [starts0.count(s["name"]) for s in detail] == [s["starts"] for s in detail]
    assert "events" not in row and all(set(e) >= {"label", "t_s", "sequence"} for e in row["phase_runs"][0]["events"])
    assert row["wall_s"] == pytest.approx(sum(p["wall_s"] for p in row["phase_runs"]), abs=0.02)
    text = markdown(doc)
    assert "replayed 2 times" in text and "| 24, offsets 0/12 |" in text


def test_phases_beyond_the_stride_are_refused():
    from sadvae.errors import ConfigError

    assert runner.phase_offsets(24, 1) == [0]
    assert runner.phase_offsets(24, 3) == [0, 8, 16]
    assert runner.phase_offsets(12, 5) == [0, 2, 4, 7, 9]
    with pytest.raises(ConfigError, match="--phases 25: needs 1 <= N <= the stride"):
        runner.phase_offsets(24, 25)


def test_a_stride_offset_needs_a_stride(utk, shared_data):
    from sadvae.errors import ConfigError

    with pytest.raises(ConfigError, match="needs the stride"):
        runner.heldout_stream(SET, shared_data, limit=2, ds=utk, offset=3)
    with pytest.raises(ConfigError, match="0 <= offset < stride"):
        runner.heldout_stream(SET, shared_data, limit=2, ds=utk, stride=12, offset=12)
