"""scripts/input_conditions.py: the clips a condition is scored on are the recipe's own test rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sadvae_tests_helpers import exec_by_path

ROOT = Path(__file__).resolve().parents[2]


def load_script():
    return exec_by_path("input_conditions_under_test", ROOT / "scripts" / "input_conditions.py")


def test_a_test_clip_that_repeats_a_training_clip_is_not_scored_under_any_condition():
    """The "full" row reads the recipe's test rows, which leave NW-UCLA's 95 repeated clips out; the other
    conditions read the clips this function gives, so the two must agree (until 7 December 2026 the conditions
    counted the copies, and "mirror" beside "full" refused to pool 369 clips with 464)."""
    from sadvae.data.record import Dataset, SkeletonSequence
    from sadvae.data.splits import test_side_mask

    rng = np.random.default_rng(0)
    joints = [rng.normal(size=(6, 1, 25, 3)).astype(np.float32) for _ in range(4)]
    seqs = [
        SkeletonSequence(joints[k % 4] if k != 5 else joints[0], 30.0, f"/x/{k}", label=k % 2, subject=1 + k % 2)
        for k in range(6)
    ]  # subjects 1 and 2 alternate: one trains, the other tests; clip 5 (test or training) repeats clip 0
    ds = Dataset("msr_action3d", ("a", "b"), seqs, [])
    test = test_side_mask(ds, "msr_action3d")
    assert test[5] != test[0], "the fixture needs the copy on the other side"
    copy = 5 if test[5] else 0
    clips = load_script().condition_clips(ds, "msr_action3d", "test")
    assert copy not in clips.tolist()
    assert sorted(clips.tolist()) == sorted(set(np.flatnonzero(test).tolist()) - {copy})
