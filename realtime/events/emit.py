"""The pipeline's events: decisions -> action events, counters -> status heartbeats, on one publisher."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from realtime.decisions import Decision
from realtime.events.publisher import Publisher, make_action_event, make_status_event

__all__ = ["Emitter"]


class Emitter:
    """Builds and publishes the events of one pipeline.

    Args:
        publisher: the PUB socket (its sanitised ``source`` names every event).
        model_id: the model's id; precision: the backend's compute precision.
        on_event: also called with every action event after it is published (e.g. to print it).
        status_interval_s: seconds between heartbeats, sent in every status event (``status_interval_s``: a
            subscriber's liveness rule needs it); None leaves the field out.

    Attributes:
        frames: frames processed since the last status event (the pipeline counts them).
        last_status: ``time.monotonic()`` of the last status event.
    """

    def __init__(
        self,
        publisher: Publisher,
        model_id: str,
        precision: str,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        status_interval_s: float | None = None,
    ):
        self.publisher, self.model_id, self.precision = publisher, model_id, precision
        self.on_event = on_event
        self.status_interval_s = status_interval_s
        self.frames = 0
        self.last_status = time.monotonic()

    def action(self, d: Decision, labels_hash: str, latency: Mapping[str, float]) -> bool:
        """Publish one decision; False when the publisher dropped it."""
        event = make_action_event(
            source=self.publisher.source,
            track_id=d.track_id,
            event_type=d.type,
            label=d.label,
            score=d.score,
            topk=d.topk,
            window_ms=d.window_ms,
            labels_hash=labels_hash,
            model_id=self.model_id,
            precision=self.precision,
            latency_ms=latency,
            reason=d.reason or None,
        )
        sent = self.publisher.publish(event)
        if self.on_event is not None:
            self.on_event(event)
        return sent

    def status(
        self,
        message: str | None,
        latency: Mapping[str, float],
        dropped: Mapping[str, int],
        tracks: int,
        now: float | None = None,
        *,
        reason: str = "heartbeat",
        details: Mapping[str, Any] | None = None,
        persons: Iterable[Any] | None = None,
    ) -> bool:
        """Publish a status event: fps since the last one, mean stage latency, drop counts (events added here).

        Args:
            message: the news for humans, or None for a plain heartbeat.
            latency: mean milliseconds per stage; dropped: cumulative counts by kind; tracks: persons tracked.
            now: ``time.monotonic()``; None = read the clock.
            reason: one of :data:`realtime.events.format.STATUS_REASONS`; details: its fields.
            persons: what the model sees per track (:class:`realtime.view.TrackView`).
        """
        now = time.monotonic() if now is None else now
        dt = now - self.last_status
        fps = self.frames / dt if dt > 0 and self.frames else 0.0
        self.last_status, self.frames = now, 0
        dropped = {**dropped, "events": self.publisher.dropped}
        event = make_status_event(
            source=self.publisher.source,
            fps=fps,
            latency_ms=latency,
            dropped=dropped,
            message=message,
            tracks=tracks,
            reason=reason,
            details=details,
            persons=persons,
            status_interval_s=self.status_interval_s,
        )
        return self.publisher.publish(event)
