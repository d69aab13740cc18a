"""Clip checks (sadvae/data/quality.py): what no reader refuses but spoils training or its numbers."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from realtime.sources.demo import perform
from sadvae.data import splits
from sadvae.data.quality import clip_warnings
from sadvae.data.record import Dataset, SkeletonSequence
from sadvae.data.registry import DATASETS, load_dataset
from sadvae.data.user_format import read_clip_dataset, write_clip
from sadvae.skeleton import NTUJoint as J


def _waving(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    joints, _, _ = perform((("high arm wave", seconds),), seed=seed)
    return joints


def _seq(joints: np.ndarray, name: str, subject: int = 1) -> SkeletonSequence:
    return SkeletonSequence(
        joints=joints.astype(np.float32), fps=30.0, source=f"/x/{name}.npz", label=0, subject=subject
    )


def test_clean_clips_give_no_warning_and_a_person_lying_down_is_not_upside_down():
    lying = _waving(seed=1).copy()
    lying[..., 1] = lying[..., 1] * 0.05 + 0.2  # head and hips at about one height
    ds = Dataset("x", ["wave"], [_seq(_waving(), "a"), _seq(_waving(seed=2), "b"), _seq(lying, "lying")], [])
    assert clip_warnings(ds, np.array([False, True, False])) == []


def test_each_kind_of_suspect_clip_is_named_once_with_its_fix():
    good = _waving()
    flipped = good.copy()
    flipped[..., 1] *= -1  # an exporter whose y points down
    still = np.repeat(good[:1], 60, axis=0)
    ds = Dataset(
        "x",
        ["wave"],
        [
            _seq(good, "good"),
            _seq(flipped, "flipped"),
            _seq(good[:6], "short"),  # 0.2 s
            _seq(still, "still"),
            _seq(good, "copy_on_test", subject=2),
            _seq(_waving(seed=3), "twice_a"),
            _seq(_waving(seed=3), "twice_b"),
        ],
        [],
    )
    test = np.array([s.subject == 2 for s in ds.sequences])
    lines = clip_warnings(ds, test)
    assert len(lines) == 5, lines
    flip, short, still_line, across, within = lines
    assert flip.startswith("1 clip(s) have the head below the hips") and "flipped.npz" in flip
    assert "joints[..., 1] *= -1" in flip
    assert short.startswith("1 clip(s) last under 0.5 s (short.npz)")
    assert still_line.startswith("1 clip(s) never move by 2 cm (still.npz)")
    assert across.startswith("1 recording(s) appear on both sides") and "good.npz = copy_on_test.npz" in across
    assert within.startswith("1 recording(s) appear more than once (twice_a.npz = twice_b.npz)")
    # without the split's sides a copy is still a copy
    assert sum("more than once" in line for line in clip_warnings(ds)) == 1


def test_a_clip_folder_read_logs_its_checks_and_inspect_prints_them(tmp_path, caplog, capsys):
    from sadvae.cli import main

    root = tmp_path / "set"
    root.mkdir()
    (root / "classes.txt").write_text("wave\n")
    good = _waving()
    flipped = good.copy()
    flipped[..., 1] *= -1
    write_clip(root / "a.npz", good, "wave", 30.0, split="train")
    write_clip(root / "b.npz", flipped, "wave", 30.0, split="train")
    write_clip(root / "c.npz", good, "wave", 30.0, split="test")
    with caplog.at_level(logging.WARNING, logger="sadvae.data.quality"):
        read_clip_dataset(root)
    logged = [r.getMessage() for r in caplog.records if r.name == "sadvae.data.quality"]
    assert len(logged) == 2 and all(m.startswith(f"{root}: ") for m in logged)
    assert "head below the hips" in logged[0] and "b.npz" in logged[0]
    assert "both sides of the train/test split (a.npz = c.npz)" in logged[1]
    caplog.clear()
    assert main(["data", "inspect", str(root)]) == 0
    out = capsys.readouterr().out
    assert "checks (2):" in out and "head below the hips" in out and "a.npz = c.npz" in out
    assert not [r for r in caplog.records if r.name == "sadvae.data.quality"]  # printed once, not logged as well


def test_a_flipped_real_clip_is_caught(shared_data):
    ds = load_dataset("utkinect", shared_data / DATASETS["utkinect"].default_root)
    assert clip_warnings(ds, splits.test_side_mask(ds, "utkinect")) == []
    seq = ds.sequences[0]
    flipped = seq.joints.copy()
    flipped[..., 1] *= -1
    one = Dataset("utk", ds.class_names, [_seq(flipped, "flipped")], [])
    (line,) = clip_warnings(one)
    assert "head below the hips" in line
    assert seq.joints[:, 0, J.HEAD, 1].mean() > seq.joints[:, 0, J.SPINE_BASE, 1].mean()


@pytest.mark.slow
def test_no_shared_set_holds_a_recording_twice_as_its_reader_reads_it(shared_data):
    """NW-UCLA's release holds 95 view-3 files that are view-2 files under another name; its reader rejects them
    (tests/sadvae/data/test_kinect_v1.py), so no set, as read, has a clip on both sides or twice."""
    for name in ("msr_action3d", "nw_ucla", "hdm05", "bandai_namco"):
        ds = load_dataset(name, shared_data / DATASETS[name].default_root)
        assert not [line for line in clip_warnings(ds, splits.test_side_mask(ds, name)) if "recording(s)" in line]


def test_short_clip_threshold_counts_the_last_frame(tmp_path: Path):
    at_limit = _seq(_waving()[:15], "fifteen")  # 15 frames at 30 fps: 0.5 s with the last frame's interval
    assert clip_warnings(Dataset("x", ["wave"], [at_limit], [])) == []
