"""Checks of a dataset's clips that no reader can refuse but that quietly spoil training or its numbers.

Every reader validates its format (units, shapes, timing), so what reaches here is well formed. What can still be
wrong is what the numbers mean: a clip exported with the y axis pointing down (image coordinates: the person stands
on their head and is left-right mirrored once turned upright), a clip of a few frames or one that never moves (it
trains as a still pose), and the same recording twice, worst of all once on each side of the train/test split (a
test clip the model trained on). :func:`clip_warnings` names each kind once, with the first files and the fix;
``sadvae data inspect`` prints them and every read of a clip folder (training, evaluation, taught examples) logs them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from sadvae.data.record import Dataset, SkeletonSequence, clip_fingerprint
from sadvae.skeleton import NTUJoint as J

__all__ = ["SHORT_SECONDS", "STILL_METRES", "clip_warnings", "log_clip_warnings"]

log = logging.getLogger(__name__)

SHORT_SECONDS = 0.5  # an action takes longer; a shorter clip is a pose or a cut-off fragment
STILL_METRES = 0.02  # no joint moves farther than this from where it starts: a still pose (or one frame repeated)
UPSIDE_DOWN_METRES = 0.1  # the head this far below the base of the spine, in most frames
_SHOWN = 3


def _first_person(seq: SkeletonSequence) -> np.ndarray | None:
    """The first person slot that holds a skeleton in some frame: [T, 25, 3] (absent frames all zeros)."""
    for m in range(seq.joints.shape[1]):
        if np.abs(seq.joints[:, m]).sum() > 0:
            return seq.joints[:, m]
    return None


def _upside_down(person: np.ndarray) -> bool:
    seen = (np.abs(person[:, J.HEAD]).sum(-1) > 0) & (np.abs(person[:, J.SPINE_BASE]).sum(-1) > 0)
    if not seen.any():
        return False
    below = person[seen, J.HEAD, 1] < person[seen, J.SPINE_BASE, 1] - UPSIDE_DOWN_METRES
    return bool(below.mean() > 0.5)


def _still(person: np.ndarray) -> bool:
    present = np.abs(person).sum((1, 2)) > 0
    if present.sum() < 2:
        return True
    p = person[present]
    joints = np.abs(p).sum((0, 2)) > 0  # joints that are tracked at all (an untracked joint is zeros)
    moved = np.linalg.norm(p[:, joints] - p[:1, joints], axis=-1).max()
    return bool(moved < STILL_METRES)


def _names(seqs: list[SkeletonSequence]) -> str:
    shown = ", ".join(Path(s.source).name for s in seqs[:_SHOWN])
    return shown + (f" and {len(seqs) - _SHOWN} more" if len(seqs) > _SHOWN else "")


def clip_warnings(ds: Dataset, test_side: np.ndarray | None = None) -> list[str]:
    """One line per kind of suspect clip in ``ds`` (empty when none), each naming the first clips and the fix.

    Args:
        ds: a dataset as the readers return it.
        test_side: boolean [n], True for the test side of its split, when known; duplicates across the two sides
            are then named as such.
    """
    seqs = ds.sequences
    out: list[str] = []
    persons = [_first_person(s) for s in seqs]
    flipped = [s for s, p in zip(seqs, persons, strict=True) if p is not None and _upside_down(p)]
    if flipped:
        out.append(
            f"{len(flipped)} clip(s) have the head below the hips in most frames ({_names(flipped)}): the format's y "
            "axis points up (docs/data_format.md); an exporter whose y points down (image coordinates) needs "
            "joints[..., 1] *= -1, else the model reads an upside-down, mirrored person"
        )
    is_short = [s.times()[-1] + 1.0 / s.fps < SHORT_SECONDS for s in seqs]
    short = [s for s, k in zip(seqs, is_short, strict=True) if k]
    if short:
        out.append(
            f"{len(short)} clip(s) last under {SHORT_SECONDS:g} s ({_names(short)}): a clip is one whole action; "
            "one this short trains as a still pose or a fragment; record or cut the whole action"
        )
    still = [s for s, p, k in zip(seqs, persons, is_short, strict=True) if not k and p is not None and _still(p)]
    if still:
        out.append(
            f"{len(still)} clip(s) never move by {100 * STILL_METRES:g} cm ({_names(still)}): each trains as a "
            "still pose; check that the exporter wrote every frame, not the first one repeated"
        )
    groups: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(seqs):
        groups[clip_fingerprint(s.joints)].append(i)
    twins = [g for g in groups.values() if len(g) > 1]
    across = [g for g in twins if test_side is not None and len({bool(test_side[i]) for i in g}) > 1]
    within = [g for g in twins if g not in across]
    if across:
        out.append(
            f"{len(across)} recording(s) appear on both sides of the train/test split ({_pairs(seqs, across)}): a "
            "model trained on the training side has seen those test clips, so the benchmarks do not score them for "
            "its trained classes (sadvae.data.splits.copies_of_training); in data of your own keep one copy of each"
        )
    if within:
        out.append(
            f"{len(within)} recording(s) appear more than once ({_pairs(seqs, within)}): each copy counts again, in "
            "training or in a test score; keep one copy of each"
        )
    return out


def _pairs(seqs: list[SkeletonSequence], groups: list[list[int]]) -> str:
    return "; ".join(" = ".join(Path(seqs[i].source).name for i in g[:_SHOWN]) for g in groups[:_SHOWN])


def log_clip_warnings(ds: Dataset, where: str, test_side: np.ndarray | None = None) -> None:
    """Log :func:`clip_warnings` as warnings, each prefixed with ``where`` (the folder read)."""
    for line in clip_warnings(ds, test_side):
        log.warning("%s: %s", where, line)
