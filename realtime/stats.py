"""Per-stage latency bookkeeping of the live pipeline (``time.perf_counter_ns`` readings, small deques).

Each stage keeps its recent call durations in a ``deque(maxlen=window)`` (for status events and
percentiles) and running totals of time and calls since start (for the per-frame cost of stages
that run only on some frames, such as inference every ``stride`` frames).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

__all__ = ["STAGES", "LEAN_STAGES", "StageStats", "StageSummary"]

# read: waiting for the source's next frame; pose: MediaPipe; mapping: MediaPipe-33 -> NTU-25 detections;
# tracking: ids; buffer: ring buffer pushes; window: resampled windows + preprocess (every stride frames);
# model: backend inference; head: zero-shot scores; decide: smoothing/hysteresis; publish: events;
# overlay: drawing/recording; total: one frame through every stage (read excluded).
STAGES = (
    "read",
    "pose",
    "mapping",
    "tracking",
    "buffer",
    "window",
    "model",
    "head",
    "decide",
    "publish",
    "overlay",
    "total",
)
# the stages that must stay lean: everything but reading, pose, inference and the optional overlay
LEAN_STAGES = ("mapping", "tracking", "buffer", "window", "head", "decide", "publish")


@dataclass(frozen=True)
class StageSummary:
    """One stage's latency: per call (recent window) and per processed frame (since start).

    Attributes:
        calls: calls since start; p50_ms / p90_ms / p99_ms / mean_ms: over the recent calls;
        per_frame_ms: total time since start divided by the frames processed.
    """

    calls: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    per_frame_ms: float


class StageStats:
    """Durations of the pipeline's stages.

    Args:
        window: recent calls kept per stage (``None`` keeps every call, for benchmarks).
    """

    def __init__(self, window: int | None = 256):
        self.recent: dict[str, collections.deque[int]] = {s: collections.deque(maxlen=window) for s in STAGES}
        self.total_ns: dict[str, int] = dict.fromkeys(STAGES, 0)
        self.calls: dict[str, int] = dict.fromkeys(STAGES, 0)
        self.frames = 0

    def add(self, stage: str, ns: int) -> None:
        """Record one call of ``stage`` that took ``ns`` nanoseconds."""
        self.recent[stage].append(ns)
        self.total_ns[stage] += ns
        self.calls[stage] += 1

    def recent_mean_ms(self) -> dict[str, float]:
        """Mean ms per call over the recent calls of every stage that ran (for status events)."""
        return {s: sum(d) / len(d) / 1e6 for s, d in self.recent.items() if d}

    def summary(self) -> dict[str, StageSummary]:
        """Percentiles per call and the cost per processed frame of every stage that ran."""
        out = {}
        for s, d in self.recent.items():
            if not d:
                continue
            ms = np.fromiter(d, dtype=np.float64, count=len(d)) / 1e6
            p50, p90, p99 = (float(v) for v in np.percentile(ms, [50, 90, 99]))
            per_frame = self.total_ns[s] / max(self.frames, 1) / 1e6
            out[s] = StageSummary(self.calls[s], p50, p90, p99, float(ms.mean()), per_frame)
        return out

    def lean_per_frame_ms(self) -> float:
        """Summed per-frame cost of :data:`LEAN_STAGES` (the < 1 ms budget)."""
        return sum(self.total_ns[s] for s in LEAN_STAGES) / max(self.frames, 1) / 1e6
