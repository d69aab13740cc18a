"""Labels hot reload off the live loop: the changed file is turned into a new head on a worker thread.

A fit (text embedding + latent classifier) can take seconds; the live loop only polls: it gets the
new :class:`realtime.head.zero_shot.ZeroShotHead` once it is ready and swaps it in between two frames.

A build cannot be interrupted: when the loop stops during one (Ctrl-C), :meth:`HeadReloader.close` abandons it (its
result is dropped, and whatever its thread logs from then on, e.g. an encoder refused at interpreter shutdown, is
silenced); the interpreter still waits for it to finish before exiting.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading

from realtime.head.labels import LabelSet, LabelWatcher
from realtime.head.zero_shot import HeadBuilder, ZeroShotHead
from sadvae.errors import SadvaeError

__all__ = ["HeadReloader"]

log = logging.getLogger(__name__)


class _Silence(logging.Filter):
    """Drops the log records of one thread (an abandoned build) on every handler while installed."""

    def __init__(self, thread: int):
        super().__init__()
        self.thread = thread
        self._handlers: list[logging.Handler] = []

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread

    def install(self) -> None:
        loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
        found = {id(h): h for lg in loggers if isinstance(lg, logging.Logger) for h in lg.handlers}
        if logging.lastResort is not None:  # what prints warnings when no handler is configured
            found[id(logging.lastResort)] = logging.lastResort
        self._handlers = list(found.values())
        for h in self._handlers:
            h.addFilter(self)

    def remove(self) -> None:
        for h in self._handlers:
            h.removeFilter(self)
        self._handlers = []


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
        self._news: str | None = None  # why the last build failed, until take_rejection() returns it
        self._lock = threading.Lock()
        self._closed = False
        self._worker: int | None = None  # the thread running a build now
        self._silence: _Silence | None = None  # installed by close() while an abandoned build runs

    @property
    def busy(self) -> bool:
        """A build is running."""
        return self._pending is not None

    def poll(self, now: float | None = None) -> ZeroShotHead | None:
        """The new head when a build finished since the last call, else None; never blocks, never raises.

        Args:
            now: ``time.monotonic()`` (one clock reading per frame).
        """
        if self._closed:
            return None
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
                self._news = str(e)
                log.warning("labels from %s not applied, keeping the previous ones: %s", self.watcher.path, e)
            except Exception as e:  # a failed fit must never stop the live loop
                self.failures += 1
                self._news = f"building the head for the new labels failed ({type(e).__name__}: {e})"
                log.exception("building the head for the new labels failed; keeping the previous ones")
            # the watcher's set in use changes only with the head, so its messages name the labels really in use
            if offered is not None:
                if head is None:
                    self.watcher.reject(offered)
                else:
                    # the file may have been saved again while the head was built (a typo mended): a head for a set
                    # that is no longer the file's is dropped, and what the file holds is offered again once it has
                    # settled (until 7 December 2026 the stale one was swapped in first, ending the actions twice)
                    if self.watcher.holds(offered):
                        self.watcher.accept(offered)
                    else:
                        # said at the default level: the set was printed as nothing, and the next message may be
                        # about the set after it (a labels-file audit of 7 December 2026, late, missed an edit)
                        log.warning(
                            "%s changed again while the head of its %d labels was built: those labels are not used, "
                            "the file's new content is read",
                            offered.path,
                            len(offered),
                        )
                        self.watcher.withdraw(offered)
                        head = None
        labels = self.watcher.poll(now, commit=False)
        if labels is not None:
            self._pending_labels = labels
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sadvae-head")
            self._pending = self._executor.submit(self._build, labels)
        return head

    def take_rejection(self) -> str | None:
        """Why an edit of the labels file was not applied (a file that does not parse, is missing, or whose head
        failed to build), each failure once, else None; the labels in use stay."""
        news, self._news = self._news, None
        return news or self.watcher.take_error()

    def _build(self, labels: LabelSet) -> ZeroShotHead | None:
        """The worker's job: the builder's head, or None when the reloader closed before it started."""
        with self._lock:
            if self._closed:
                return None
            self._worker = threading.get_ident()
        try:
            return self.builder.build(labels)
        finally:
            with self._lock:
                self._worker, silence, self._silence = None, self._silence, None
            if silence is not None:
                silence.remove()

    def close(self) -> None:
        """Stop reloading; idempotent. A queued build is cancelled; a running one cannot be interrupted: it is
        abandoned (logged at info), its result dropped and its thread's log records silenced until it ends."""
        with self._lock:
            self._closed = True
            if self._worker is not None and self._silence is None:
                self._silence = _Silence(self._worker)
                self._silence.install()
                log.info("labels reload abandoned (stopping): the head for %s is not built", self.watcher.path)
        if self._pending is not None:
            self._pending.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._pending = self._pending_labels = None
