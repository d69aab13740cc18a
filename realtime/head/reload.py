"""Labels hot reload off the live loop: the changed file is turned into a new head on a worker thread.

A fit (text embedding + latent classifier) can take seconds; the live loop only polls: it gets the
new :class:`realtime.head.zero_shot.ZeroShotHead` once it is ready and swaps it in between two frames.
"""

from __future__ import annotations

import concurrent.futures
import logging

from realtime.head.labels import LabelSet, LabelWatcher
from realtime.head.zero_shot import HeadBuilder, ZeroShotHead
from sadvae.errors import SadvaeError

__all__ = ["HeadReloader"]

log = logging.getLogger(__name__)


class HeadReloader:
    """Polls a :class:`LabelWatcher` and builds heads with a :class:`HeadBuilder` on one worker thread.

    Args:
        watcher: the labels file's watcher (its ``current`` is the set in use).
        builder: builds (and caches) heads; only the worker thread uses it once polling starts.

    Attributes:
        builds: heads built by the worker; failures: builds that failed (the old head stays).
    """

    def __init__(self, watcher: LabelWatcher, builder: HeadBuilder):
        self.watcher, self.builder = watcher, builder
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: concurrent.futures.Future | None = None
        self._pending_labels: LabelSet | None = None
        self.builds = self.failures = 0

    @property
    def busy(self) -> bool:
        """A build is running."""
        return self._pending is not None

    def poll(self, now: float | None = None) -> ZeroShotHead | None:
        """The new head when a build finished since the last call, else None; never blocks, never raises.

        Args:
            now: ``time.monotonic()`` (one clock reading per frame).
        """
        head = None
        fut = self._pending
        if fut is not None:
            if not fut.done():
                return None
            offered, self._pending, self._pending_labels = self._pending_labels, None, None
            try:
                head = fut.result()
                self.builds += 1
            except SadvaeError as e:
                self.failures += 1
                log.warning("labels from %s not applied, keeping the previous ones: %s", self.watcher.path, e)
            except Exception:  # a failed fit must never stop the live loop
                self.failures += 1
                log.exception("building the head for the new labels failed; keeping the previous ones")
            # the watcher's set in use changes only with the head, so its messages name the labels really in use
            if offered is not None:
                if head is not None:
                    self.watcher.accept(offered)
                else:
                    self.watcher.reject(offered)
        labels = self.watcher.poll(now, commit=False)
        if labels is not None:
            self._pending_labels = labels
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sadvae-head")
            self._pending = self._executor.submit(self.builder.build, labels)
        return head

    def close(self) -> None:
        """Drop a queued build and let a running one finish in the background; idempotent."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._pending = self._pending_labels = None
