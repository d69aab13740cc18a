"""What the model sees, per tracked person: the latest window's best labels, "no action", the decided action.

One :class:`TrackView` per track is refreshed after every window the track gets. The status heartbeat
(``persons``), the overlay panel and ``sadvae-live --print all`` all show it, so a user can see why
something did or did not fire: the scores are the head's probabilities for that one window (before
smoothing), the decided action is the decision state machine's (:mod:`realtime.decisions`).

Body parts out of view: a part (head, arms, legs) counts as unseen in a frame when at least half of its joints
are (the mapping gives them confidence 0 and places them on an ancestor: legs outside the image sit on the
hips), and as out of view in a window when it is unseen in at least half of the window's frames
(:func:`out_of_view`). Legs out of view cost 20 points of top-1 on real held-out skeletons
(docs/camera_gap.md section 7): the view says so, so a user can see why actions of the legs are missed.

"No action" comes from the head when it can reject a window (a boolean ``no_action`` [N] on its
:class:`realtime.head.zero_shot.HeadResult`); a head without one falls back to the decisions' own rule: a
window whose best score is under ``DecisionOptions.min_score`` is "no action". The scores shown are
the head's calibrated ``scores`` where it has them, else its ``probs`` (:func:`head_scores`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sadvae.skeleton import NTUJoint as J

__all__ = ["BODY_PARTS", "TrackView", "make_view", "head_no_action", "head_scores", "parts_unseen", "out_of_view"]

# NTU-25 joints whose confidence tells whether a body part is in view
BODY_PARTS: dict[str, tuple[int, ...]] = {
    "head": (J.HEAD,),
    "arms": (J.ELBOW_LEFT, J.WRIST_LEFT, J.ELBOW_RIGHT, J.WRIST_RIGHT),
    "legs": (J.KNEE_LEFT, J.ANKLE_LEFT, J.KNEE_RIGHT, J.ANKLE_RIGHT),
}


def parts_unseen(joint_conf: np.ndarray | None) -> np.ndarray:
    """bool [len(BODY_PARTS)]: the parts at least half of whose joints have confidence 0 in one frame (all False
    when there are no confidences, as in skeleton replays)."""
    if joint_conf is None:
        return np.zeros(len(BODY_PARTS), dtype=bool)
    c = np.asarray(joint_conf).reshape(-1)
    return np.array([np.mean(c[list(js)] <= 0.0) >= 0.5 for js in BODY_PARTS.values()], dtype=bool)


def out_of_view(unseen: np.ndarray) -> tuple[str, ...]:
    """The parts unseen in at least half of a window's frames, from ``unseen`` bool [frames, len(BODY_PARTS)]."""
    u = np.asarray(unseen, dtype=bool).reshape(-1, len(BODY_PARTS))
    if not len(u):
        return ()
    return tuple(name for name, share in zip(BODY_PARTS, u.mean(axis=0), strict=True) if share >= 0.5)


@dataclass(frozen=True)
class TrackView:
    """One person's latest window as the model scored it.

    Attributes:
        track_id: the person's track id.
        topk: the best labels of the latest window, ``(name, probability)`` pairs, best first (also when
            the window is "no action": they are the rejected candidates).
        no_action: none of the labels fits the latest window.
        decided: the action currently started for this person (between its ``start`` and ``end``
            events), or None.
        decided_score: the decided action's smoothed score (as in its latest start/update), else 0.
        window_ms: ``(start_ms, end_ms)`` of the latest window on the source's timeline.
        out_of_view: body parts (:data:`BODY_PARTS` names) outside the image for most of the window.
        moving_ms: ``(start_ms, end_ms)`` of the part of the window the model read when the still poses around the
            person's motion were cut from it (``sadvae-live --trim-still``); None when it read the whole window.
    """

    track_id: int
    topk: tuple[tuple[str, float], ...]
    no_action: bool
    decided: str | None = None
    decided_score: float = 0.0
    window_ms: tuple[float, float] = (0.0, 0.0)
    out_of_view: tuple[str, ...] = ()
    moving_ms: tuple[float, float] | None = None

    @property
    def label(self) -> str | None:
        """The best label of the latest window, or None when it is "no action"."""
        return None if self.no_action or not self.topk else self.topk[0][0]

    @property
    def score(self) -> float:
        """The best label's probability in the latest window (also when rejected as "no action")."""
        return self.topk[0][1] if self.topk else 0.0

    def to_json(self) -> dict[str, Any]:
        """The ``persons`` entry of a status event (see ``event_schema.json``)."""
        return {
            "track_id": int(self.track_id),
            "label": self.label,
            "score": round(min(max(float(self.score), 0.0), 1.0), 6),
            "no_action": bool(self.no_action),
            "topk": [{"label": name, "score": round(min(max(float(s), 0.0), 1.0), 6)} for name, s in self.topk],
            "decided": self.decided,
            "window": {"start_ms": round(float(self.window_ms[0]), 3), "end_ms": round(float(self.window_ms[1]), 3)},
            "out_of_view": list(self.out_of_view),
            "moving": None
            if self.moving_ms is None
            else {"start_ms": round(float(self.moving_ms[0]), 3), "end_ms": round(float(self.moving_ms[1]), 3)},
        }


def head_scores(result: Any, row: int) -> np.ndarray:
    """One window's scores over the labels: the head's calibrated ``scores`` (label probability times
    P(one of the labels is happening)) when it has them, else its ``probs`` (which sum to 1 over the labels).
    """
    scores = getattr(result, "scores", None)
    return np.asarray(result.probs[row] if scores is None else scores[row], dtype=np.float64)


def head_no_action(result: Any, row: int) -> bool | None:
    """The head's own "no action" verdict for one window of a batch, or None when the head has none.

    Reads ``result.no_action`` (bool [N]) if the head result carries it; any other shape or type is ignored.
    """
    flags = getattr(result, "no_action", None)
    if flags is None:
        return None
    try:
        return bool(np.asarray(flags)[row])
    except (IndexError, TypeError, ValueError):
        return None


def make_view(
    track_id: int,
    probs: np.ndarray,
    names: Sequence[str],
    *,
    no_action: bool | None,
    min_score: float,
    decided: str | None = None,
    decided_score: float = 0.0,
    window_ms: tuple[float, float] = (0.0, 0.0),
    top_k: int = 3,
    out_of_view: Sequence[str] = (),
    moving_ms: tuple[float, float] | None = None,
) -> TrackView:
    """Build a :class:`TrackView` from one window's probabilities.

    Args:
        track_id: the track.
        probs: float [L] the head's probabilities over ``names`` for this window.
        names: the label names, in the order of ``probs``.
        no_action: the head's verdict (:func:`head_no_action`); None = best score < ``min_score``.
        min_score: the decisions' "no action" threshold, used when the head gives no verdict.
        decided: the decided action's name or None; decided_score: its smoothed score.
        window_ms: the window's span; top_k: labels kept; out_of_view: body parts out of view (:func:`out_of_view`).
        moving_ms: the span the model read when still poses were cut from the window, else None.
    """
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    k = min(int(top_k), len(p))
    best = np.argsort(-p, kind="stable")[:k]
    topk = tuple((str(names[i]), float(p[i])) for i in best)
    if no_action is None:
        no_action = not topk or topk[0][1] < min_score
    window = (float(window_ms[0]), float(window_ms[1]))
    parts = tuple(str(p) for p in out_of_view)
    moving = None if moving_ms is None else (float(moving_ms[0]), float(moving_ms[1]))
    return TrackView(int(track_id), topk, bool(no_action), decided, float(decided_score), window, parts, moving)
