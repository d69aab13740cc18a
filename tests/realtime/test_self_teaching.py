"""``sadvae-live --self-teach``: labels taught by unlabelled recordings of the place, through the live pipeline.

The recordings are the synthetic performer's (``realtime.sources.demo``), so these run on a fresh clone; the model is
the packaged default (ONNX Runtime, no torch needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("zmq")

from realtime.backends.live_model import load_live_model  # noqa: E402
from realtime.cli import main  # noqa: E402
from realtime.events.publisher import PublisherOptions  # noqa: E402
from realtime.head.examples import ExampleHead  # noqa: E402
from realtime.head.zero_shot import HeadOptions  # noqa: E402
from realtime.pipeline import Pipeline, PipelineOptions  # noqa: E402
from realtime.self_teaching import read_unlabelled, self_teach  # noqa: E402
from realtime.sources.demo import perform  # noqa: E402
from realtime.sources.replay import ReplaySource, save_recording  # noqa: E402
from sadvae.data.user_format import write_clip  # noqa: E402
from sadvae.errors import ConfigError  # noqa: E402

LABELS = "clap hands\nforward kick\nbend\nsit down\n"
PLACE = (("clap hands", 4.0), ("stand still", 1.0), ("forward kick", 4.0), ("stand still", 1.0), ("bend", 4.0))


@pytest.fixture(scope="module")
def model():
    m = load_live_model(None, "onnxruntime")
    yield m
    m.close()


def _options(tmp_path: Path) -> PipelineOptions:
    return PipelineOptions(
        handle_signals=False,
        head=HeadOptions(cache_dir=str(tmp_path / "heads")),
        publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*"),
    )


def _place(folder: Path, takes: int = 3) -> Path:
    """Unlabelled recordings of the place: ``takes`` performances of :data:`PLACE` (as --record-skeleton writes)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(takes):
        joints, times, _ = perform(PLACE, seed=10 + k)
        save_recording(folder / f"place{k}.npz", joints, times)
    return folder


class _Borrowed:  # the module's model stays open for the other tests
    def __init__(self, model):
        self._model = model

    def __getattr__(self, name):
        return getattr(self._model, name)

    def close(self):
        pass


def test_self_taught_labels_are_read_from_unlabelled_recordings_and_recognise_a_new_performance(model, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text(LABELS, encoding="utf-8")
    clips = read_unlabelled([_place(tmp_path / "place")])
    assert len(clips) == 3 and all("place" in c.source for c in clips)
    protos = self_teach(model, clips, labels, _options(tmp_path))
    assert protos is not None and protos.self_taught
    assert set(protos.names) <= {"clap hands", "forward kick", "bend", "sit down"} and len(protos) >= 2
    assert "sit down" not in protos.names  # nobody sits down at this place: that label keeps its head
    assert all(w >= 1 for w in protos.windows) and all(1 <= c <= 3 for c in protos.clips)

    joints, times, spans = perform((("stand still", 1.0), ("forward kick", 5.0), ("stand still", 1.0)), seed=7)
    batches = []
    pipe = Pipeline(
        ReplaySource.from_arrays(joints, times, name="perf"),
        _Borrowed(model),
        labels,
        _options(tmp_path),
        on_batch=batches.append,
        examples=protos,
    )
    assert isinstance(pipe.head, ExampleHead)
    lines = pipe.head.mapping_lines()
    taught = [line for line in lines if "-> self-taught from" in line]
    assert len(taught) == len(protos) and "clip(s)" in taught[0]
    pipe.run()
    kick = [b.result.probs[0] for b in batches if spans[1][1] + 1.0 <= b.times[0][-1] <= spans[1][2]]
    assert kick and all(np.isclose(p.sum(), 1.0) for p in kick)
    assert "forward kick" in protos.names  # the place's kicks taught "forward kick": a new kick is one
    assert np.mean([p.argmax() == 1 for p in kick]) >= 0.5, [np.round(p, 2) for p in kick]


def test_unlabelled_clips_and_folders_are_read_and_bad_paths_are_one_clear_error(tmp_path):
    joints, times, _ = perform((("bend", 3.0),), seed=1)
    write_clip(tmp_path / "clip.npz", joints, "anything", 30.0, timestamps=times)  # a clip's label is not read
    save_recording(tmp_path / "rec.npz", joints, times)
    clips = read_unlabelled([tmp_path / "clip.npz", tmp_path / "rec.npz"])
    assert len(clips) == 2
    with pytest.raises(ConfigError, match="no such file"):
        read_unlabelled([tmp_path / "nowhere.npz"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no recording"):
        read_unlabelled([tmp_path / "empty"])
    (tmp_path / "place.mp4").write_bytes(b"video")  # was "not a readable .npz file ... np.savez" (7 December 2026)
    with pytest.raises(ConfigError, match=r"place\.mp4: is a video; .* --record-skeleton place\.npz` and give that"):
        read_unlabelled([tmp_path / "place.mp4"])


def test_the_cli_self_teaches_and_says_so_and_refuses_it_with_examples(tmp_path, capsys):
    place = _place(tmp_path / "place", takes=1)
    joints, times, _ = perform((("stand still", 1.0), ("bend", 4.0), ("stand still", 1.0)), seed=3)
    rec = save_recording(tmp_path / "perf.npz", joints, times)
    labels = tmp_path / "labels.txt"
    labels.write_text(LABELS, encoding="utf-8")
    argv = ["--replay", str(rec), "--labels", str(labels), "--no-display", "--endpoint", "tcp://127.0.0.1:*"]
    assert main([*argv, "--self-teach", str(place)]) == 0
    err = capsys.readouterr().err
    assert "self-teaching the labels from 1 clip(s), 14 s of recordings" in err and "-> self-taught from" in err
    assert main([*argv, "--self-teach", str(place), "--examples", str(tmp_path)]) == 2
    assert "--self-teach" in capsys.readouterr().err
    assert main([*argv, "--self-teach", str(place), "--teach", "bend"]) == 2  # not "add --examples"
    assert "--teach by labelled ones" in capsys.readouterr().err
    assert main([*argv, "--self-teach", str(place), "--record-skeleton", str(place / "place0.npz")]) == 2
    assert "--record-skeleton" in capsys.readouterr().err
    # nor over the file it replays (it was cut short while it was read: a review of 7 December 2026), spelled
    # another way too, nor into an --examples folder (a recording there has no label: the next run would fail)
    assert main([*argv, "--record-skeleton", str(tmp_path / "place" / ".." / "perf.npz")]) == 2
    assert f"--replay reads ({rec})" in capsys.readouterr().err
    assert len(np.load(rec)["times"]) == len(times)
    # nor over an earlier recording: a camera's cannot be made again (overwritten silently until 7 December 2026)
    earlier = save_recording(tmp_path / "earlier.npz", joints[:40], times[:40])
    assert main([*argv, "--record-skeleton", str(earlier)]) == 2
    assert "the file exists (an earlier recording); record to another file" in capsys.readouterr().err
    assert len(np.load(earlier)["times"]) == 40
    (tmp_path / "examples").mkdir()
    assert (
        main(
            [*argv, "--examples", str(tmp_path / "examples"), "--record-skeleton", str(tmp_path / "examples" / "a.npz")]
        )
        == 2
    )
    assert "what --examples reads" in capsys.readouterr().err
    short = save_recording(tmp_path / "short.npz", joints[:3], times[:3])  # too short for a window
    assert main([*argv, "--self-teach", str(short)]) == 2
    assert "gave the model a window" in capsys.readouterr().err
    assert main([*argv, "--self-teach", str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_the_accuracy_benchmark_refuses_self_teaching_without_a_replayed_dataset(capsys):
    from sadvae.cli import main as sadvae_main

    assert sadvae_main(["bench", "accuracy", "--self-teach"]) == 2  # the videos alone: nothing to teach from
    assert "--self-teach" in capsys.readouterr().err
    argv = ["bench", "accuracy", "--no-videos", "--replay-dataset", "utkinect", "--self-teach"]
    assert sadvae_main([*argv, "--examples-per-label", "1"]) == 2
    assert "--examples-per-label" in capsys.readouterr().err
    assert sadvae_main(["bench", "accuracy", "--replay-side", "inner", "--clip", "hug"]) == 2
    assert "--replay-side inner replays part of a dataset's training side" in capsys.readouterr().err


def test_the_self_teaching_variant_and_the_side_reach_the_runs(monkeypatch, tmp_path):
    import realtime.bench.accuracy.report as report
    from sadvae.cli import main as sadvae_main

    seen = []
    monkeypatch.setattr(report, "run_accuracy", lambda opts, command="": seen.append(opts) or {})
    monkeypatch.setattr(report, "markdown", lambda doc: "")
    monkeypatch.setattr(report, "write_outputs", lambda doc, out: [])
    argv = ["bench", "accuracy", "--no-videos", "--replay-dataset", "utkinect", "--out", str(tmp_path)]
    for extra in (["--self-teach"], ["--self-teach", "all", "--replay-side", "inner"], []):
        assert sadvae_main([*argv, *extra]) == 0
    got = [(o.self_teach, o.run.self_teach_every_window, o.side) for o in seen]
    assert got == [(True, False, "test"), (True, True, "inner"), (False, False, "test")]


def test_compare_replays_tabulates_each_class_of_two_runs(tmp_path, capsys):
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location(
        "compare_replays", Path(__file__).parents[2] / "scripts/compare_replays.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    def run(name: str, votes: list[bool]) -> Path:
        seqs = [
            {"truth": t, "vote_top1": v, "held_correct": v and t == "walk"}
            for t, v in zip(["walk", "walk", "sit down"], votes, strict=True)
        ]
        (tmp_path / name).mkdir()
        doc = {"replays": [{"hold_s": 1.0, "sequences_detail": seqs}, {"hold_s": 0.0, "sequences_detail": []}]}
        (tmp_path / name / "accuracy.json").write_text(json.dumps(doc), encoding="utf-8")
        return tmp_path / name

    a, b = run("names", [False, True, False]), run("self", [True, True, True])
    assert mod.main([str(a), str(b), "--json", str(tmp_path / "t.json")]) == 0
    out = capsys.readouterr().out
    assert "| walk | 2 | 1 -> 2 | 1 -> 2 |" in out and "| sit down | 1 | 0 -> 1 | 0 -> 0 |" in out
    assert json.loads((tmp_path / "t.json").read_text())["b"]["walk"]["vote"] == 2
    with pytest.raises(SystemExit, match="2 s held"):
        mod.main([str(a), str(b), "--hold", "2"])


def test_an_edit_of_the_labels_file_while_self_teaching_runs_changes_nothing(model, tmp_path, monkeypatch):
    """The windows are scored against a copy of the labels as they were: an edit during the run (here: right after
    the windows are scored, the list reordered) cannot give one label another's windows."""
    import realtime.teaching as teaching

    labels = tmp_path / "labels.txt"
    labels.write_text(LABELS, encoding="utf-8")
    clips = read_unlabelled([_place(tmp_path / "place", takes=2)])
    real = teaching.clip_windows

    def edited_meanwhile(*args, **kwargs):
        out = real(*args, **kwargs)
        labels.write_text("sit down\nbend\nforward kick\nclap hands\n", encoding="utf-8")
        return out

    monkeypatch.setattr(teaching, "clip_windows", edited_meanwhile)
    protos = self_teach(model, clips, labels, _options(tmp_path))
    joints, times, spans = perform((("stand still", 1.0), ("forward kick", 5.0), ("stand still", 1.0)), seed=7)
    outs = teaching.clip_windows(model, [_clip(joints, times)], _options(tmp_path))[0]
    sim = protos.similarity(outs["seen_logits"], outs["latent"])
    assert protos.names[int(np.bincount(sim.argmax(1)).argmax())] == "forward kick"


def _clip(joints, times):
    from sadvae.data.record import SkeletonSequence

    return SkeletonSequence(joints, 30.0, "perf", timestamps=times - times[0])


def test_the_benchmark_self_teaches_from_the_training_side_only(shared_data, monkeypatch):
    """The unlabelled pool of `sadvae bench accuracy --self-teach` is the replayed set's training side: no sequence of
    the side that is replayed and judged."""
    import realtime.bench.accuracy.runner as runner
    from sadvae.data.registry import DATASETS, load_dataset
    from sadvae.data.splits import test_side_mask

    ds = load_dataset("utkinect", shared_data / DATASETS["utkinect"].default_root)
    train = {s.source for s, test in zip(ds.sequences, test_side_mask(ds, "utkinect"), strict=True) if not test}
    seen = {}

    def no_replay(source, labels, opts, *a, unlabelled=None, **k):
        seen["pool"] = [s.source for s in unlabelled]
        raise RuntimeError("stop here")

    monkeypatch.setattr(runner, "run_pipeline", no_replay)
    with pytest.raises(RuntimeError, match="stop here"):
        runner.run_replay_dataset("utkinect", shared_data, runner.RunOptions(), self_teach=True)
    assert seen["pool"] and set(seen["pool"]) <= train and len(seen["pool"]) == len(train)
    with pytest.raises(ConfigError, match="choose one"):
        runner.run_replay_dataset("utkinect", shared_data, runner.RunOptions(), examples_per_label=1, self_teach=True)


def test_the_benchmark_teaches_once_for_every_hold_and_phase_of_a_replay(shared_data, monkeypatch):
    import realtime.bench.accuracy.runner as runner
    import realtime.self_teaching as st

    calls = []
    real = st.self_teach

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(st, "self_teach", counted)
    monkeypatch.setattr(runner, "_SELF_TAUGHT", {})
    for hold in (0.0, 1.0):
        opts = runner.RunOptions()
        runs = runner.run_replay_phases("utkinect", shared_data, opts, hold, 2, phases=2, self_teach=True)
        assert [r[1]["examples_used"]["self_taught"] for r in runs] == [True, True]
        assert runs[0][1]["examples_used"] == runs[1][1]["examples_used"]
    assert len(calls) == 1


def test_windows_the_head_calls_no_action_teach_nothing(model, tmp_path, monkeypatch):
    """A window the head calls "no action" for the list (an action the list leaves out) is no example: the labels
    are taught by the other windows; ``every_window`` restores the first version; none left: one clear error."""
    import realtime.teaching as teaching

    labels = tmp_path / "labels.txt"
    labels.write_text(LABELS, encoding="utf-8")
    clips = read_unlabelled([_place(tmp_path / "place", takes=2)])
    real = teaching.clip_windows
    outs = real(model, clips, _options(tmp_path), labels=labels)
    assert all(o["no_action"].dtype == bool and len(o["no_action"]) == len(o["scores"]) for o in outs)
    windows = sum(len(o["scores"]) for o in outs)

    def called(flags):
        def fake(*args, **kwargs):
            return [{**o, "no_action": flags(o)} for o in outs]

        return fake

    import sadvae.head.examples as head_examples

    given = []
    real_protos = head_examples.self_taught_prototypes

    def seen(scores, logits, *args, **kwargs):
        given.append(np.asarray(logits))
        return real_protos(scores, logits, *args, **kwargs)

    monkeypatch.setattr(head_examples, "self_taught_prototypes", seen)
    monkeypatch.setattr(teaching, "clip_windows", called(lambda o: np.arange(len(o["scores"])) % 2 == 0))
    half = self_teach(model, clips, labels, _options(tmp_path))
    every = self_teach(model, clips, labels, _options(tmp_path), every_window=True)
    # exactly the windows not called "no action" (the odd ones of each clip) reach the teaching; all of them with
    # every_window
    np.testing.assert_array_equal(given[0], np.concatenate([o["seen_logits"][1::2] for o in outs]))
    np.testing.assert_array_equal(given[1], np.concatenate([o["seen_logits"] for o in outs]))
    assert sum(every.windows) <= windows and sum(half.windows) <= len(given[0])
    monkeypatch.setattr(teaching, "clip_windows", called(lambda o: np.ones(len(o["scores"]), bool)))
    with pytest.raises(ConfigError, match=f"calls every one of the {windows} window"):
        self_teach(model, clips, labels, _options(tmp_path))
    assert self_teach(model, clips, labels, _options(tmp_path), refuse_empty=False) is None


def test_the_benchmark_can_replay_inner_subjects_and_teach_from_the_rest(shared_data, monkeypatch):
    """--replay-side inner: the training side's inner-validation subjects are replayed, the rest of the training side
    self-teaches; no subject in both, nothing of the test side in either."""
    import realtime.bench.accuracy.runner as runner
    from sadvae.data.registry import DATASETS, load_dataset
    from sadvae.data.splits import test_side_mask

    ds = load_dataset("utkinect", shared_data / DATASETS["utkinect"].default_root)
    replayed, teaching = runner.replay_sides("utkinect", ds, "inner")
    test = test_side_mask(ds, "utkinect")
    subjects = np.array([s.subject for s in ds.sequences])
    assert replayed.any() and teaching.any() and not (replayed & teaching).any()
    assert not ((replayed | teaching) & test).any() and ((replayed | teaching) == ~test).all()
    assert not set(subjects[replayed]) & set(subjects[teaching])
    stream = runner.heldout_stream("utkinect", shared_data, ds=ds, side="inner")
    assert len(stream.segments) == replayed.sum()
    seen = {}

    def no_replay(source, labels, opts, *a, unlabelled=None, **k):
        seen["pool"] = {s.source for s in unlabelled}
        raise RuntimeError("stop here")

    monkeypatch.setattr(runner, "run_pipeline", no_replay)
    with pytest.raises(RuntimeError, match="stop here"):
        runner.run_replay_dataset("utkinect", shared_data, runner.RunOptions(), self_teach=True, side="inner")
    assert seen["pool"] == {s.source for s, t in zip(ds.sequences, teaching, strict=True) if t}
    with pytest.raises(ConfigError, match="unknown replay side 'val'"):
        runner.replay_sides("utkinect", ds, "val")


def test_self_taught_labels_can_keep_the_names_no_action(model, tmp_path):
    """HeadOptions(self_taught_no_action="names"): which label comes from the prototypes, P(one of my labels) and "no
    action" from the head of the labels by name, on the same windows; the default keeps the taught labels' curve."""
    from dataclasses import replace

    labels = tmp_path / "labels.txt"
    labels.write_text(LABELS, encoding="utf-8")
    protos = self_teach(model, read_unlabelled([_place(tmp_path / "place", takes=2)]), labels, _options(tmp_path))
    joints, times, _ = perform((("stand still", 1.0), ("clap hands", 4.0), ("stand still", 3.0)), seed=5)

    def run(head_opts, examples):
        batches = []
        opts = replace(_options(tmp_path), head=head_opts)
        src = ReplaySource.from_arrays(joints, times, name="perf")
        pipe = Pipeline(src, _Borrowed(model), labels, opts, on_batch=batches.append, examples=examples)
        pipe.run()
        return pipe.head, [b.result for b in batches]

    cache = str(tmp_path / "heads")
    head, gated = run(HeadOptions(cache_dir=cache, self_taught_no_action="names"), protos)
    _, plain = run(HeadOptions(cache_dir=cache), None)
    _, mixed = run(HeadOptions(cache_dir=cache), protos)
    assert isinstance(head, ExampleHead) and head.no_action_head is not None
    assert len(gated) == len(plain) == len(mixed) > 0
    for g, p, m in zip(gated, plain, mixed, strict=True):
        np.testing.assert_allclose(g.p_action, p.p_action)  # whether any: the names'
        np.testing.assert_array_equal(g.no_action, p.no_action)
        np.testing.assert_allclose(g.probs, m.probs)  # which one: the self-taught mix's
        np.testing.assert_allclose(g.scores, g.probs * np.asarray(g.p_action)[:, None])
    assert not all(np.allclose(g.p_action, m.p_action) for g, m in zip(gated, mixed, strict=True))
    with pytest.raises(ConfigError, match="self_taught_no_action"):
        HeadOptions(self_taught_no_action="both")


def test_the_videos_can_be_self_taught_from_recordings(monkeypatch, tmp_path, capsys):
    """--self-teach-from PATH: the recordings are read once and every video pairing's run self-teaches from them (the
    report says so); with --no-videos, one clear error."""
    import realtime.bench.accuracy.annotations as annotations
    import realtime.bench.accuracy.report as report
    import realtime.bench.accuracy.runner as runner
    from realtime.bench.accuracy.annotations import ClipAnnotation, Judgement
    from sadvae.cli import main as sadvae_main

    place = _place(tmp_path / "place", takes=2)
    seen = []

    def fake_clip(clip, opts, unlabelled=None):
        seen.append(unlabelled)
        return []

    monkeypatch.setattr(runner, "run_clip", fake_clip)
    clip = ClipAnnotation("a", tmp_path / "a.mp4", "", None, None, 1, False, (Judgement(tmp_path / "l.txt", None),))
    monkeypatch.setattr(annotations, "load_annotations", lambda *a, **k: [clip])
    doc = report.run_accuracy(
        report.AccuracyOptions(tmp_path / "v.toml", tmp_path, tmp_path, self_teach_from=(place,)), "cmd"
    )
    assert len(seen) == 1 and len(seen[0]) == 2 and doc["self_teach_from"] == [str(place)]
    assert "self-taught first from the unlabelled recordings" in report.markdown({**doc, "wall_s": 1.0})
    argv = ["bench", "accuracy", "--no-videos", "--replay-dataset", "utkinect", "--self-teach-from", str(place)]
    assert sadvae_main(argv) == 2
    assert "--self-teach-from teaches the videos' labels and --no-videos skips them" in capsys.readouterr().err
    assert (
        sadvae_main(["bench", "accuracy", "--self-teach-from", str(tmp_path / "none.npz"), "--out", str(tmp_path)]) == 2
    )
    assert "--self-teach-from " in capsys.readouterr().err  # the flag the path came with
