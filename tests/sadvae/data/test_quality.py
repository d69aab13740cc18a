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
def test_nw_ucla_view_3_of_two_classes_is_view_2_again(shared_data):
    """NW-UCLA as released (all_sqe JSON): every view-3 (test side) file of "pick up with two hands" (50) and "drop
    trash" (45) holds, number for number, the joints of the view-2 (training side) file of the same action, subject
    and take; measured 7 December 2026. The other sets hold no recording twice."""
    ds = load_dataset("nw_ucla", shared_data / DATASETS["nw_ucla"].default_root)
    test = splits.test_side_mask(ds, "nw_ucla")
    across = [line for line in clip_warnings(ds, test) if "both sides" in line]
    assert len(across) == 1 and across[0].startswith("95 recording(s) appear on both sides")
    assert "a02_s01_e00_v02.json = a02_s01_e00_v03.json" in across[0]
    copies = splits.copies_of_training(ds, test)
    two = {"pick up with two hands", "drop trash"}
    assert copies.sum() == 95 and {ds.sequences[i].label_name for i in np.flatnonzero(copies)} == two
    assert not {ds.sequences[i].label_name for i in np.flatnonzero(test & ~copies)} & two  # no view-3 clip of theirs
    for name in ("msr_action3d", "hdm05", "bandai_namco"):
        other = load_dataset(name, shared_data / DATASETS[name].default_root)
        assert not [line for line in clip_warnings(other, splits.test_side_mask(other, name)) if "recording(s)" in line]


def test_short_clip_threshold_counts_the_last_frame(tmp_path: Path):
    at_limit = _seq(_waving()[:15], "fifteen")  # 15 frames at 30 fps: 0.5 s with the last frame's interval
    assert clip_warnings(Dataset("x", ["wave"], [at_limit], [])) == []
