"""Accuracy of the live decisions on one judged time segment, from the pipeline's public outputs (numpy only).

Inputs are what a subscriber and the ``on_batch`` hook see: action events (dicts with ``type``,
``track_id``, ``label`` and ``window.end_ms``, times on the source's timeline; see :func:`event_time_s`) and one
:class:`WindowScore` per track and inference window (the head's probabilities over the labels).

Definitions (all times in seconds on the source's timeline):

- *judged span* ``[t0, t1)``: the part of the run a truth applies to (a whole video; one replayed
  sequence plus the gap after it). An event belongs to it when it is published inside it (the time of the frame it
  was published on, :func:`event_time_s`).
- *action span* ``[start, end]``: when the true action happens (annotation; default the judged span).
- *held*: seconds each label was the decision, summed over tracks: from a ``start``/``update`` to the
  track's next event (an ``end`` closes it; a decision still open at ``t1`` counts until ``t1``).
- *label held longest*: the label with the most held seconds (None when nothing was decided). Correct
  when it is the truth; on a "none" clip (truth None) when nothing, or only a tolerated label, was held. A tie
  (two labels held equally long, e.g. two decided for no time) goes to the label that became the decision first
  inside the judged span (a decision carried in from before ``t0`` counts from ``t0``); only labels tied on that
  too are taken alphabetically (until 6 December 2026 every tie was alphabetical).
- *window vote*: the mean of the probabilities of every window (all tracks) whose end lies in the
  action span, before smoothing and thresholds; top-1 / top-5: the truth is among its best 1 / 5.
- *events*: ``start`` events (an action beginning, what a subscriber reacts to). *False*: its label
  is neither the truth nor a tolerated label; on a "none" clip every non-tolerated start is false. ``false_labels``:
  their labels, in order; ``performed``: on a "none" sequence of a half list, the class replayed (reports only).
- *false per minute* (``false_per_min``): the false starts published inside the judged span per minute of the
  judged span: on a replay a sequence with its held poses and the gap after it (``scripts/tune_decisions.py``
  counts alike), on a video the whole clip. *False per action minute* (``false_per_action_min``): the same false
  starts per minute of the action span only (no held first pose, no gap; a start published in the gap, up to a
  stride after the person left, still counts), the rate while someone acts.
- *time to first correct event*: when the first ``start`` of the true label is published (what a subscriber
  sees; it can come up to a stride after its window's end, when the person has just left) minus the action's start
  (negative when it fires early); None when it never starts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "EMITTED",
    "WindowScore",
    "Segment",
    "SegmentScore",
    "held_seconds",
    "score_segment",
    "summarise",
    "event_time_s",
]

_TOL_S = 0.02  # frame times are whole milliseconds: a window ending on the action's last frame may end 1 ms after it
EMITTED = "emitted_s"  # key the runner adds to each event: the source time (s) of the frame it was published on


@dataclass(frozen=True)
class WindowScore:
    """One track's window as the head scored it.

    Attributes:
        track_id: the track; start_s, end_s: the window's first and last frame time (seconds).
        probs: float [L] the head's probabilities in label order.
    """

    track_id: int
    start_s: float
    end_s: float
    probs: np.ndarray


@dataclass(frozen=True)
class Segment:
    """What is judged: a time span of a run, its truth and the labels it is judged against.

    Attributes:
        name: the clip's name in reports.
        truth: the true label (one of ``labels``), or None: none of the labels applies.
        labels: the label names, in the head's order.
        t0, t1: the judged span (seconds).
        start, end: the action span (seconds); None = the judged span's bounds.
        tolerated: labels that are neither required nor counted as false (e.g. "throw" for a basketball shot).
        performed: the class replayed when ``truth`` is None because the labels leave it out (a half list), so a
            report can say what the false starts named it; None otherwise. Never judged.
    """

    name: str
    truth: str | None
    labels: tuple[str, ...]
    t0: float
    t1: float
    start: float | None = None
    end: float | None = None
    tolerated: tuple[str, ...] = ()
    performed: str | None = None

    @property
    def action(self) -> tuple[float, float]:
        return (self.t0 if self.start is None else self.start, self.t1 if self.end is None else self.end)


@dataclass
class SegmentScore:
    """Per-segment result (see the module docstring for each field's definition)."""

    name: str
    truth: str | None
    minutes: float
    held_s: dict[str, float] = field(default_factory=dict)
    held_longest: str | None = None
    held_correct: bool = False
    windows: int = 0
    vote_top1: bool | None = None
    vote_top5: bool | None = None
    vote_label: str | None = None
    vote_rank: int | None = None
    starts: int = 0
    false_starts: int = 0
    false_per_min: float = 0.0
    action_minutes: float = 0.0
    false_per_action_min: float = 0.0
    first_correct_s: float | None = None
    first_labels: list[str] = field(default_factory=list)
    false_labels: list[str] = field(default_factory=list)
    performed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def event_time_s(event: Mapping[str, Any]) -> float:
    """An action event's time on the source's timeline, in seconds.

    The time of the frame it was published on (:data:`EMITTED`, added by the runner) when present, else
    the end of its window. The two usually agree; an event of a window scored a few frames after the person's
    last detection (the next stride), and an ``end`` caused by the track ending, are published later.
    """
    if event.get(EMITTED) is not None:
        return float(event[EMITTED])
    return float(event["window"]["end_ms"]) / 1000.0


def held_seconds(events: Iterable[Mapping[str, Any]], t0: float, t1: float) -> dict[str, float]:
    """Seconds each label was the decision within ``[t0, t1)``, summed over tracks (module docstring).

    Args:
        events: action events in publication order (any tracks).
        t0, t1: the judged span.

    Returns:
        ``{label: seconds}`` for every label held, or started inside the span (then possibly 0 seconds).
    """
    return _holds(events, t0, t1)[0]


def _holds(events: Iterable[Mapping[str, Any]], t0: float, t1: float) -> tuple[dict[str, float], dict[str, float]]:
    """(:func:`held_seconds`, ``{label: when it first became the decision inside [t0, t1)}``: the tie rule)."""
    held: dict[str, float] = defaultdict(float)
    first: dict[str, float] = {}

    def hold(label: str, a: float, b: float) -> None:
        held[label] += b - a
        first[label] = min(first.get(label, a), a)

    open_: dict[int, tuple[str, float]] = {}
    for e in events:
        t, tid = event_time_s(e), int(e["track_id"])
        if tid in open_:
            label, since = open_.pop(tid)
            a, b = max(since, t0), min(t, t1)
            if b > a:
                hold(label, a, b)
        if e["type"] != "end" and e.get("label") is not None:
            open_[tid] = (str(e["label"]), t)
            if e["type"] == "start" and t0 <= t < t1:
                hold(str(e["label"]), t, t)  # decided, even if for no time (it ended on the same frame)
    for label, since in open_.values():  # still active when the run ended
        if t1 > max(since, t0):
            hold(label, max(since, t0), t1)
    return dict(held), first


def _longest(held: Mapping[str, float], first: Mapping[str, float]) -> str | None:
    """The label held longest; a tie goes to the label decided first, then alphabetically (module docstring)."""
    if not held:
        return None
    return min(held.items(), key=lambda kv: (-kv[1], first.get(kv[0], float("inf")), kv[0]))[0]


def score_segment(events: Sequence[Mapping[str, Any]], windows: Sequence[WindowScore], seg: Segment) -> SegmentScore:
    """Score one segment (module docstring for the definitions).

    Args:
        events: every action event of the run (filtered here by time).
        windows: every window of the run (filtered here by time).
        seg: the segment and its truth.
    """
    mine = [e for e in events if seg.t0 <= event_time_s(e) < seg.t1]
    minutes = max(seg.t1 - seg.t0, 0.0) / 60.0
    out = SegmentScore(name=seg.name, truth=seg.truth, minutes=minutes, performed=seg.performed)
    # every event: a decision started before t0 and still held counts inside the span (held_seconds clips)
    out.held_s, first = _holds(events, seg.t0, seg.t1)
    out.held_longest = _longest(out.held_s, first)
    if seg.truth is None:  # every label held is tolerated (until 6 December 2026: only the one held longest)
        out.held_correct = all(label in seg.tolerated for label in out.held_s)
    else:
        out.held_correct = out.held_longest == seg.truth
    ok = {seg.truth, *seg.tolerated} - {None}
    a, b = seg.action
    starts = [e for e in mine if e["type"] == "start"]
    out.starts = len(starts)
    out.first_labels = [str(e["label"]) for e in starts[:3]]
    out.false_labels = [str(e["label"]) for e in starts if str(e["label"]) not in ok]
    out.false_starts = len(out.false_labels)
    out.false_per_min = float(out.false_starts / minutes) if minutes > 0 else 0.0
    out.action_minutes = max(b - a, 0.0) / 60.0
    out.false_per_action_min = float(out.false_starts / out.action_minutes) if out.action_minutes > 0 else 0.0
    if seg.truth is not None:
        hits = [event_time_s(e) for e in starts if e["label"] == seg.truth]
        out.first_correct_s = round(hits[0] - a, 3) if hits else None
    probs = [w.probs for w in windows if a - _TOL_S <= w.end_s <= b + _TOL_S and seg.t0 <= w.end_s < seg.t1]
    out.windows = len(probs)
    if probs:
        mean = np.mean(np.asarray(probs, dtype=np.float64), axis=0)
        order = np.argsort(-mean, kind="stable")
        out.vote_label = seg.labels[int(order[0])]
        if seg.truth is not None:
            rank = int(np.flatnonzero(order == seg.labels.index(seg.truth))[0]) + 1
            out.vote_rank, out.vote_top1, out.vote_top5 = rank, rank == 1, rank <= 5
    elif seg.truth is not None:
        out.vote_top1 = out.vote_top5 = False  # no window: the clip counts as wrong
    return out


def _mean(xs: Sequence[float]) -> float | None:
    return float(np.mean(xs)) if len(xs) else None


def summarise(scores: Sequence[SegmentScore]) -> dict[str, Any]:
    """Totals over segments: labelled ones (a true label) and "none" ones separately.

    Returns:
        ``{"labelled": {...}, "none": {...}, "segments", "no_event"}``; rates are fractions in [0, 1],
        false events per minute (``false_per_min``) = all false starts / all judged minutes of that group,
        ``false_per_action_min`` = the same starts / all minutes of the groups' action spans.
    """
    lab = [s for s in scores if s.truth is not None]
    non = [s for s in scores if s.truth is None]

    def fpm(group: Sequence[SegmentScore], action: bool = False) -> float | None:
        minutes = sum(s.action_minutes if action else s.minutes for s in group)
        return float(sum(s.false_starts for s in group) / minutes) if minutes > 0 else None

    firsts = [s.first_correct_s for s in lab if s.first_correct_s is not None]
    return {
        "segments": len(scores),
        "no_event": sum(s.starts == 0 for s in scores),
        "labelled": {
            "segments": len(lab),
            "held_top1": _mean([float(s.held_correct) for s in lab]),
            "vote_top1": _mean([float(bool(s.vote_top1)) for s in lab]),
            "vote_top5": _mean([float(bool(s.vote_top5)) for s in lab]),
            "with_window": sum(s.windows > 0 for s in lab),
            "decided": sum(s.held_longest is not None for s in lab),
            "with_correct_event": len(firsts),
            "first_correct_s_mean": _mean(firsts),
            "first_correct_s_median": float(np.median(firsts)) if firsts else None,
            "false_per_min": fpm(lab),
            "false_per_action_min": fpm(lab, action=True),
            "no_event": sum(s.starts == 0 for s in lab),
        },
        "none": {
            "segments": len(non),
            "held_ok": _mean([float(s.held_correct) for s in non]),
            "false_starts": sum(s.false_starts for s in non),
            "false_per_min": fpm(non),
            "false_per_action_min": fpm(non, action=True),
            "no_event": sum(s.starts == 0 for s in non),
        },
    }
