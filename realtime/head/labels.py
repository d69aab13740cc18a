"""The user's action vocabulary on the live side: hot reload of a labels file (:class:`LabelWatcher`).

The format and its parser are :mod:`sadvae.labels` (one parser for the live side, the benchmarks and
evaluation); they are re-exported here.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from sadvae.errors import ConfigError
from sadvae.labels import (
    MAX_DESCRIPTION_CHARS,
    MAX_FILE_BYTES,
    MAX_LABELS,
    MAX_NAME_CHARS,
    LabelSet,
    parse_labels,
    parse_labels_text,
)

__all__ = [
    "LabelSet",
    "LabelWatcher",
    "SETTLE_S",
    "parse_labels",
    "parse_labels_text",
    "MAX_FILE_BYTES",
    "MAX_LABELS",
    "MAX_NAME_CHARS",
    "MAX_DESCRIPTION_CHARS",
]

log = logging.getLogger(__name__)


SETTLE_S = 0.3
"""A changed file is applied once it has been still this long (a save in progress is not parsed half-written)."""


class LabelWatcher:
    """Reloads a labels file when it changes, keeping the last good set when an edit is bad.

    The first parse happens in the constructor and raises :class:`ConfigError` (a pipeline must
    not start on a bad file). After that :meth:`poll` never raises: a bad edit is logged once,
    kept in :attr:`last_error`, and the previous set stays in use until the file is fixed.

    A changed file is read only once it has settled: its modification time is at least
    :data:`SETTLE_S` old, or its stamp was the same at a look at least :data:`SETTLE_S` earlier
    (for clocks that disagree with the file's). While a change settles the file is looked at every
    :data:`SETTLE_S` seconds, so a normal save applies within about ``poll_s`` + 0.3 s.

    With ``poll(commit=False)`` a new set is only offered: the caller builds on it and then calls
    :meth:`accept` (it becomes :attr:`current`) or :meth:`reject` (the set in use stays, and the
    offered file is not offered again until it is saved again: a new content, or the same one saved once the cause of
    the failure, e.g. a missing head cache or text encoder, is mended).

    Args:
        path: the labels file.
        poll_s: minimum seconds between two looks at the file; :meth:`poll` is cheap in between.

    Attributes:
        current: the label set in use.
        last_error: the message of the last failed reload, or None after a good one.
        reloads: how many new label sets became :attr:`current` after the first.
    """

    def __init__(self, path: str | os.PathLike[str], poll_s: float = 1.0):
        if poll_s < 0:
            raise ValueError(f"poll_s must be >= 0, got {poll_s}")
        self.path = Path(path)
        self.poll_s = float(poll_s)
        self.current: LabelSet = parse_labels(self.path)
        self.last_error: str | None = None
        self._news: str | None = None  # a new last_error that take_error() has not returned yet
        self.reloads = 0
        self._stamp = self._stat()
        self._offered = self.current.sha256  # the content last returned by poll (or in use)
        self._rejected_at: tuple[int, ...] | None = None  # the file's stamp when its offered set was rejected
        self._settling: tuple[tuple[int, ...], float] | None = None  # a changed stamp and when it counts as still
        self._next_check = time.monotonic() + self.poll_s

    def _stat(self) -> tuple[int, ...] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        # ctime too: a replacement that keeps the mtime (cp -p, rsync -t) still changes it
        return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)

    def _fail(self, message: str) -> None:
        if message != self.last_error:
            log.warning("%s; still using the %d labels loaded before", message, len(self.current))
            self._news = message
        self.last_error = message

    def take_error(self) -> str | None:
        """The message of a failed reload not taken before (each new failure once), else None."""
        news, self._news = self._news, None
        return news

    def _settled(self, stamp: tuple[int, ...], now: float) -> bool:
        if time.time_ns() - stamp[0] >= SETTLE_S * 1e9:
            return True
        if self._settling is not None and self._settling[0] == stamp and now >= self._settling[1]:
            return True
        if self._settling is None or self._settling[0] != stamp:
            self._settling = (stamp, now + SETTLE_S)
        self._next_check = min(self._next_check, now + SETTLE_S)
        return False

    def poll(self, now: float | None = None, *, commit: bool = True) -> LabelSet | None:
        """Look at the file (at most every ``poll_s`` seconds) and return a new label set if it changed.

        Args:
            now: the current ``time.monotonic()`` value (to share one clock reading per frame).
            commit: make the new set :attr:`current` at once; False only offers it (see :meth:`accept`).

        Returns:
            The new :class:`LabelSet` when the file changed, has settled, parses and differs in
            content from the set in use and from the last one offered; otherwise None.
        """
        now = time.monotonic() if now is None else now
        if now < self._next_check:
            return None
        self._next_check = now + self.poll_s
        stamp = self._stat()
        if stamp is None:
            self._settling = None
            self._fail(f"{self.path}: labels file is missing or unreadable")
            return None
        # a file rewritten within the filesystem's timestamp granularity keeps its stamp: look again while recent
        recent = time.time_ns() - stamp[0] < 2_000_000_000
        if stamp == self._stamp and not recent and self.last_error is None:
            return None
        if not self._settled(stamp, now):
            return None
        self._settling = None
        self._stamp = stamp
        try:
            new = parse_labels(self.path)
        except ConfigError as e:
            self._fail(str(e))
            return None
        failed, self.last_error = self.last_error, None
        if new.sha256 == self.current.sha256:
            self._offered = new.sha256  # back to the set in use: nothing to build
            if failed is not None:  # the warning above is answered (until 7 December 2026, late, nothing was said)
                log.warning("%s is usable again and holds the %d labels in use: nothing to reload", self.path, len(new))
            return None
        if new.sha256 == self._offered and (self._rejected_at is None or self._rejected_at == stamp):
            return None  # offered already; a rejected set only once the file is saved again
        self._offered, self._rejected_at = new.sha256, None
        if commit:
            self.accept(new)
        return new

    def holds(self, labels: LabelSet) -> bool:
        """Whether the file holds ``labels`` now (read at once, whatever ``poll_s``; a file being written, missing or
        bad does not)."""
        try:
            return parse_labels(self.path).sha256 == labels.sha256
        except ConfigError:
            return False

    def withdraw(self, labels: LabelSet) -> None:
        """Take back the offer of ``labels`` (its head was not used): whatever the file holds once it has settled is
        offered again, ``labels`` too, unless it is the set in use."""
        if self._offered == labels.sha256:
            self._offered = self.current.sha256
        self._stamp = None  # look at the file again at the next poll, even if its stamp is the one read before

    def accept(self, labels: LabelSet) -> None:
        """Make ``labels`` (offered by ``poll(commit=False)``) the set in use."""
        log.info("labels reloaded from %s: %d actions (was %d)", self.path, len(labels), len(self.current))
        self.current = labels
        self._offered, self._rejected_at = labels.sha256, None
        self.reloads += 1

    def reject(self, labels: LabelSet) -> None:
        """Keep the set in use; ``labels`` is not offered again until the file is saved again (same content or not).

        Until 7 December 2026 only a new content was offered again: a user who mended the failure's cause (copied
        the head cache, installed torch) and saved the file again saw nothing happen until the labels changed."""
        self._offered, self._rejected_at = labels.sha256, self._stamp
