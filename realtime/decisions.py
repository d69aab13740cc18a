"""Per-track decisions: temporal smoothing and hysteresis over the head's window probabilities (numpy).

Each classified window of a track gives a score vector over the label set: the head's ``scores``
(:class:`realtime.head.zero_shot.HeadResult`), i.e. each label's probability times the calibrated probability
that one of the listed actions is happening at all, so a window of none of them scores low on every
label (any vector in [0, 1] works: plain probabilities too). A :class:`DecisionMaker` smooths it with
an exponential moving average and runs a small state machine. It is idle ("no action") or has one
active label:

- **start**: the same label leads the smoothed scores with at least ``start_score`` for
  ``start_windows`` consecutive windows, or (``instant_score`` > 0) leads with at least ``instant_score`` in one
  window;
- **update**: while active, every ``update_every`` windows;
- **end**, with a reason:

  - ``"switch"``: another label leads with at least ``start_score`` and ``switch_margin`` above
    the active one for ``start_windows`` consecutive windows; its start follows in the same call;
  - ``"no_action"``: the active label's smoothed score falls below ``min_score`` (at once);
  - ``"low_score"``: it stays below ``keep_score`` for ``end_windows`` consecutive windows;
  - ``"gap"``: no window for longer than ``max_gap_ms`` (the smoothing restarts too);
  - ``"track_end"`` (:meth:`DecisionMaker.end_track`) and ``"labels_changed"``
    (:meth:`DecisionMaker.set_labels`);
  - ``"motion_end"``: a decision on a whole motion (below) ends as soon as it is made.

**Decisions on a whole motion** (``segment_score`` > 0, and the caller says per window whether the person is still
moving at its end, ``update(moving=...)``): a short action can be over before any label has led for
``start_windows`` windows at ``start_score``; the window vote, which averages the head's scores over the windows
of the action, still knows it. So when a motion ends (the first window after moving windows whose person no longer
moves at its end, or the track's end) and no label was active at any point of it, the mean of the scores of its
windows decides: a label whose mean is at least ``segment_score`` gets a ``start`` and at once an ``end`` with
reason ``"motion_end"`` (or ``"track_end"``), both at the time the motion was seen to end (or, when the windows
stop for longer than ``max_gap_ms``, at the last one); the decision's ``score`` and ``topk`` are the motion's means.
Nothing is emitted for a motion that a normal start already covered, and the label so decided cannot start normally
until its smoothed score falls under ``keep_score`` or a new motion begins (the windows after a motion still show
it). A motion still open when the labels change is dropped (its scores were over the old labels). "Moving at the
window's end" is the still-pose rule's moving span reaching the window's last frame; the rule keeps a still run
shorter than its lag (0.25 s) inside the span, so a motion's end is seen one to two strides after it.

**Labels taught by example** (``sadvae-live --examples``; the caller passes which labels are ``taught``) start at
``taught_start_score`` instead of ``start_score``, and their keep, min and segment scores scale by the same ratio. A
taught label's calibrated probability is shared with the look-alikes among the taught labels (a softmax over
cosines to their examples), so on the same evidence it stays lower than a trained class's: at ``start_score`` it
rarely starts at all (docs/head.md section 8). ``scripts/tune_example_decisions.py`` chooses its value by the rule
of the other defaults on the training sides of sets the deciding model never saw.

Hysteresis comes from ``start_score > keep_score`` and from the window counts: a score that
wobbles around one threshold neither flickers on nor off. The EMA with ``ema_alpha`` weighs a
window ``k`` windows back by ``alpha (1 - alpha)^k``; ``alpha = 2 / (n + 1)`` has the same mean
age as an ``n``-window moving average, and ``alpha = 1`` turns smoothing off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sadvae.errors import ConfigError

__all__ = ["DECISION_TYPES", "END_REASONS", "DecisionOptions", "Decision", "DecisionMaker"]

DECISION_TYPES = ("start", "update", "end")
END_REASONS = ("switch", "no_action", "low_score", "gap", "track_end", "labels_changed", "motion_end")
# the start score of labels taught by example: scripts/tune_example_decisions.py (module docstring)
TAUGHT_START_SCORE = 0.5


@dataclass(frozen=True)
class DecisionOptions:
    """Smoothing and hysteresis settings (see the module docstring).

    The defaults were chosen by ``scripts/tune_decisions.py`` on labelled replays of the training side's
    inner-validation clips (best live top-1 with at most 1 false start per minute on clips of unlisted classes;
    keep and min score scale with the start score, 0.7x and 0.4x); round 1 had start 0.5, keep 0.35, min 0.2.
    The measurements: docs/live.md, "Partial windows".

    Attributes:
        ema_alpha: weight of the newest window in the moving average, in (0, 1]; 1 = no smoothing.
        min_score: below it a window is "no action": an active label scoring less ends at once.
        keep_score: an active label continues while its smoothed score stays at or above it.
        start_score: smoothed score a label needs to start (or to take over); >= keep_score.
        start_windows: consecutive windows a label must lead to start or take over.
        end_windows: consecutive windows below ``keep_score`` that end an action.
        switch_margin: how far another label must lead the active one to take over.
        top_k: labels listed in each decision.
        update_every: an update every this many windows while active; 0 = no updates.
        max_gap_ms: a longer pause between two windows ends the action and restarts the smoothing.
        segment_score: a motion during which no label was active is decided at its end when its windows' mean
            score reaches this (module docstring); 0 = never (as until 5 December 2026).
        instant_score: a label that leads with at least this smoothed score starts in one window, without waiting
            ``start_windows`` (a short action may give only one or two windows); 0 = off; else >= start_score.
            Starts from "no action" only; a take-over still needs ``start_windows``. Taught labels' scales with
            theirs and is clipped at 1 (a taught start score above ``start_score`` can turn it off for them).
        taught_start_score: ``start_score`` of labels taught by example (``sadvae-live --examples``, the decision
            maker's ``taught`` labels); their keep, min and segment scores scale with it as ``start_score``'s do
            (module docstring, "Labels taught by example").
    """

    ema_alpha: float = 0.5
    min_score: float = 0.24
    keep_score: float = 0.42
    start_score: float = 0.6
    taught_start_score: float = TAUGHT_START_SCORE
    start_windows: int = 2
    end_windows: int = 2
    switch_margin: float = 0.1
    top_k: int = 3
    update_every: int = 1
    max_gap_ms: float = 2000.0
    segment_score: float = 0.0
    instant_score: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 < self.ema_alpha <= 1.0:
            raise ConfigError(f"DecisionOptions.ema_alpha must be in (0, 1], got {self.ema_alpha}")
        if not 0.0 <= self.min_score <= self.keep_score <= self.start_score <= 1.0:
            raise ConfigError(
                "DecisionOptions needs 0 <= min_score <= keep_score <= start_score <= 1, got "
                f"min_score={self.min_score}, keep_score={self.keep_score}, start_score={self.start_score}"
            )
        for name in ("start_windows", "end_windows", "top_k"):
            if getattr(self, name) < 1:
                raise ConfigError(f"DecisionOptions.{name} must be >= 1, got {getattr(self, name)}")
        if self.update_every < 0:
            raise ConfigError(f"DecisionOptions.update_every must be >= 0, got {self.update_every}")
        if not 0 <= self.switch_margin < 1:  # scores are in [0, 1]: a lead of 1 or more never happens
            raise ConfigError(
                f"DecisionOptions.switch_margin must be >= 0 and < 1 (a difference of two scores), got "
                f"{self.switch_margin}"
            )
        if not self.max_gap_ms > 0:
            raise ConfigError(f"DecisionOptions.max_gap_ms must be > 0, got {self.max_gap_ms}")
        if not 0.0 <= self.segment_score <= 1.0:
            raise ConfigError(f"DecisionOptions.segment_score must be in [0, 1] (0 = off), got {self.segment_score}")
        if not 0.0 < self.taught_start_score <= 1.0:
            raise ConfigError(f"DecisionOptions.taught_start_score must be in (0, 1], got {self.taught_start_score}")
        if self.instant_score and not self.start_score <= self.instant_score <= 1.0:
            raise ConfigError(
                f"DecisionOptions.instant_score must be 0 (off) or between the start score ({self.start_score}) and 1, "
                f"got {self.instant_score}"
            )

    def thresholds(self, taught: Sequence[bool] | np.ndarray | None, n: int) -> np.ndarray:
        """float64 [5, n]: each label's start, keep, min, segment and instant score (``taught`` labels' scaled by
        ``taught_start_score / start_score``; None or all False: the scores as set; 0 stays off)."""
        base = np.array(
            [self.start_score, self.keep_score, self.min_score, self.segment_score, self.instant_score], np.float64
        )
        out = np.repeat(base[:, None], n, axis=1)
        if taught is None:
            return out
        mask = np.asarray(taught, dtype=bool)
        if mask.shape != (n,):
            raise ValueError(f"taught: expected {n} flags, one per label, got shape {mask.shape}")
        ratio = self.taught_start_score / self.start_score if self.start_score > 0 else 1.0
        out[:, mask] = (base * ratio)[:, None]
        out[0, mask] = self.taught_start_score
        return np.minimum(out, 1.0)


@dataclass(frozen=True)
class Decision:
    """One decision about one track.

    Attributes:
        type: "start", "update" or "end".
        track_id: the track it is about.
        label: the action's name; label_id: its index in the label set.
        score: the label's smoothed score in [0, 1].
        topk: the best ``top_k`` labels by smoothed score, ``(name, score)`` pairs, best first.
        window_ms: ``(start_ms, end_ms)`` of the window that triggered it (for "end": the last one seen).
        t_ms: time of the decision.
        reason: why an action ended (one of :data:`END_REASONS`); "" for start and update.
    """

    type: str
    track_id: int
    label: str
    label_id: int
    score: float
    topk: tuple[tuple[str, float], ...]
    window_ms: tuple[float, float]
    t_ms: int
    reason: str = ""


class DecisionMaker:
    """Smoothing plus hysteresis for one track.

    Args:
        names: the label names, in the order of the probability vectors.
        opts: thresholds and smoothing.
        track_id: copied into every decision.
        taught: per label, whether it is taught by example (its thresholds follow ``opts.taught_start_score``);
            None: none is.

    Attributes:
        active: index of the active label, or None ("no action").
        smoothed: float64 [L] the current smoothed scores, or None before the first window.
    """

    def __init__(
        self,
        names: Sequence[str],
        opts: DecisionOptions | None = None,
        track_id: int = 0,
        taught: Sequence[bool] | np.ndarray | None = None,
    ):
        self.opts = opts or DecisionOptions()
        self.track_id = int(track_id)
        self._set_names(names, taught)

    def _set_names(self, names: Sequence[str], taught: Sequence[bool] | np.ndarray | None) -> None:
        self.names = tuple(str(n) for n in names)
        if not self.names:
            raise ConfigError("a decision maker needs at least one label name")
        n = len(self.names)
        self._start_at, self._keep_at, self._min_at, self._segment_at, self._instant_at = self.opts.thresholds(
            taught, n
        )
        self._s = np.zeros(n)  # smoothed scores
        self._tmp = np.empty(n)
        self._fresh = True  # no window since the last reset
        self.active: int | None = None
        self._candidate, self._streak = -1, 0  # label that leads towards a start or take-over, and for how long
        self._low = 0  # consecutive windows of the active label below keep_score
        self._since_start = 0
        self._last_t: int | None = None
        self._last_window: tuple[float, float] = (0.0, 0.0)
        self._reset_motion()

    def _reset_motion(self) -> None:
        self._decided = -1  # the label of the last whole-motion decision, until it fades or a new motion begins
        self._in_motion = False  # windows whose person moves at their end since the motion began
        self._motion_sum = np.zeros(len(self.names))
        self._motion_n = 0
        self._motion_covered = False  # a label was active during the motion

    @property
    def smoothed(self) -> np.ndarray | None:
        return None if self._fresh else self._s

    @property
    def label(self) -> str | None:
        """The active label's name, or None for "no action"."""
        return None if self.active is None else self.names[self.active]

    def update(
        self, probs: np.ndarray, t_ms: int, window_ms: tuple[float, float], moving: bool | None = None
    ) -> list[Decision]:
        """Take one window's probabilities.

        Args:
            probs: float [L] scores in [0, 1] over the label set (one row of the head's ``scores``).
            t_ms: time of the window (its end), integer milliseconds, not decreasing.
            window_ms: ``(start_ms, end_ms)`` of the window.
            moving: whether the person still moves at the window's end (decisions on a whole motion, module
                docstring); None: not known, no such decisions.

        Returns:
            The decisions it causes, in order (none, one, an end followed by a start, or a whole motion's start and
            end; after a pause longer than ``max_gap_ms`` the ends it caused come first).

        Raises:
            ValueError: wrong length, non-finite probabilities, or time going backwards.
        """
        p = np.asarray(probs, dtype=np.float64)
        if p.shape != self._s.shape or not np.isfinite(p).all():
            raise ValueError(f"expected {len(self.names)} finite probabilities, got shape {p.shape}")
        t, o = int(t_ms), self.opts
        if self._last_t is not None and t < self._last_t:
            raise ValueError(f"window time {t} ms is before the previous window's {self._last_t} ms")
        out: list[Decision] = []
        if self._last_t is not None and t - self._last_t > o.max_gap_ms:
            if o.segment_score > 0:  # a motion cut short by the pause is decided on what it showed
                out += self._motion(None, self._last_t, False, "motion_end")
            out += self._end("gap", self._last_t)
            self._fresh, self._candidate, self._streak = True, -1, 0
            self._reset_motion()
        self._last_t, self._last_window = t, (float(window_ms[0]), float(window_ms[1]))
        if o.segment_score > 0 and moving and not self._in_motion:
            self._decided = -1  # a new motion begins: the last whole-motion decision no longer holds its label back
        out += self._step(p, t)
        if o.segment_score > 0 and moving is not None:
            out += self._motion(p, t, bool(moving), "motion_end")
        return out

    def _step(self, p: np.ndarray, t: int) -> list[Decision]:
        """Smoothing and the state machine for one window (module docstring)."""
        o, out = self.opts, []
        if self._fresh:
            self._s[:] = p
            self._fresh = False
        else:
            np.multiply(p, o.ema_alpha, out=self._tmp)
            self._s *= 1.0 - o.ema_alpha
            self._s += self._tmp
        s = self._s
        top = int(s.argmax())
        if self.active is None:
            if self._decided >= 0 and s[self._decided] < self._keep_at[self._decided]:
                self._decided = -1  # the label decided on a whole motion has faded: it may start again
            self._track_candidate(top, s[top] >= self._start_at[top] and top != self._decided)
            instant = o.instant_score > 0 and self._streak >= 1 and s[top] >= self._instant_at[top]
            if self._streak >= o.start_windows or instant:
                out.append(self._start(top, t))
            return out
        score, a = s[self.active], self.active
        if self._decided >= 0 and s[self._decided] < self._keep_at[self._decided]:
            self._decided = -1  # as above: the whole-motion decision has faded
        # the label decided on a whole motion takes over no more than it starts (until it fades or a motion begins)
        take_over = top != a and top != self._decided and s[top] >= max(self._start_at[top], score + o.switch_margin)
        self._track_candidate(top, take_over)
        if self._streak >= o.start_windows:
            out += self._end("switch", t)
            out.append(self._start(top, t))
        elif score < self._min_at[a]:
            out += self._end("no_action", t)
        else:
            self._low = self._low + 1 if score < self._keep_at[a] else 0
            if self._low >= o.end_windows:
                out += self._end("low_score", t)
            else:
                self._since_start += 1
                if o.update_every and self._since_start % o.update_every == 0:
                    out.append(self._decision("update", self.active, t))
        return out

    def end_track(self, t_ms: int | None = None) -> list[Decision]:
        """The track is gone: end its active action (if any) and forget the smoothing.

        Args:
            t_ms: time of the end; None = the last window's time.
        """
        t = self._last_t if t_ms is None else int(t_ms)
        t = 0 if t is None else t
        out = self._motion(None, t, False, "track_end") if self.opts.segment_score > 0 else []
        out += self._end("track_end", t)
        self._fresh, self._candidate, self._streak = True, -1, 0
        self._reset_motion()
        return out

    def _motion(self, p: np.ndarray | None, t: int, moving: bool, reason: str) -> list[Decision]:
        """Follow the current motion; at its end decide on it when no label was active during it (module
        docstring). ``p``: this window's scores (None at a track's end); ``moving``: the person moves at its end."""
        if not self._in_motion:
            if not moving:
                return []
            self._reset_motion()
            self._in_motion = True
        if self.active is not None:
            self._motion_covered = True
        if p is not None:
            self._motion_sum += p
            self._motion_n += 1
        if moving:
            return []
        mean, covered, n = self._motion_sum / max(self._motion_n, 1), self._motion_covered, self._motion_n
        self._reset_motion()
        if covered or n == 0:
            return []
        top = int(mean.argmax())
        if mean[top] < self._segment_at[top]:
            return []
        # the windows after a motion still show it: the same label must not start again for the same motion
        self._decided, self._candidate, self._streak = top, -1, 0
        return [
            self._decision("start", top, t, scores=mean),
            self._decision("end", top, t, reason, scores=mean),
        ]

    def set_labels(
        self, names: Sequence[str], t_ms: int | None = None, taught: Sequence[bool] | np.ndarray | None = None
    ) -> list[Decision]:
        """Switch to a new label set (``taught``: as in the constructor): end the active action (reason
        "labels_changed") and restart.

        Returns:
            The end decision, if an action was active.
        """
        t = self._last_t if t_ms is None else int(t_ms)
        out = self._end("labels_changed", 0 if t is None else t)
        self._set_names(names, taught)
        return out

    def _track_candidate(self, label: int, leads: bool) -> None:
        if not leads:
            self._candidate, self._streak = -1, 0
        elif label == self._candidate:
            self._streak += 1
        else:
            self._candidate, self._streak = label, 1

    def _start(self, label: int, t: int) -> Decision:
        self.active, self._low, self._since_start = label, 0, 0
        self._candidate, self._streak = -1, 0
        return self._decision("start", label, t)

    def _end(self, reason: str, t: int) -> list[Decision]:
        if self.active is None:
            return []
        d = self._decision("end", self.active, t, reason)
        self.active, self._low = None, 0  # a label on its way to take over keeps its streak
        return [d]

    def _decision(self, kind: str, label: int, t: int, reason: str = "", scores: np.ndarray | None = None) -> Decision:
        s, k = (self._s if scores is None else scores), min(self.opts.top_k, len(self.names))
        best = np.argpartition(-s, k - 1)[:k] if k < len(s) else np.arange(len(s))
        best = best[np.argsort(-s[best], kind="stable")]
        topk = tuple((self.names[i], float(s[i])) for i in best)
        name, score = self.names[label], float(s[label])
        return Decision(kind, self.track_id, name, label, score, topk, self._last_window, t, reason)
