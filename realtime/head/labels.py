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
    "parse_labels",
    "parse_labels_text",
    "MAX_FILE_BYTES",
    "MAX_LABELS",
    "MAX_NAME_CHARS",
    "MAX_DESCRIPTION_CHARS",
]

log = logging.getLogger(__name__)


class LabelWatcher:
    """Reloads a labels file when it changes, keeping the last good set when an edit is bad.

    The first parse happens in the constructor and raises :class:`ConfigError` (a pipeline must
    not start on a bad file). After that :meth:`poll` never raises: a bad edit is logged once,
    kept in :attr:`last_error`, and the previous set stays in use until the file is fixed.

    Args:
        path: the labels file.
        poll_s: minimum seconds between two looks at the file; :meth:`poll` is cheap in between.

    Attributes:
        current: the label set in use.
        last_error: the message of the last failed reload, or None after a good one.
        reloads: how many new label sets :meth:`poll` has returned.
    """

    def __init__(self, path: str | os.PathLike[str], poll_s: float = 1.0):
        if poll_s < 0:
            raise ValueError(f"poll_s must be >= 0, got {poll_s}")
        self.path = Path(path)
        self.poll_s = float(poll_s)
        self.current: LabelSet = parse_labels(self.path)
        self.last_error: str | None = None
        self.reloads = 0
        self._stamp = self._stat()
        self._next_check = time.monotonic() + self.poll_s

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _fail(self, message: str) -> None:
        if message != self.last_error:
            log.warning("%s; still using the %d labels loaded before", message, len(self.current))
        self.last_error = message

    def poll(self, now: float | None = None) -> LabelSet | None:
        """Look at the file (at most every ``poll_s`` seconds) and return a new label set if it changed.

        Args:
            now: the current ``time.monotonic()`` value (to share one clock reading per frame).

        Returns:
            The new :class:`LabelSet` (also stored in :attr:`current`) when the file changed, parses
            and differs in content; otherwise None.
        """
        now = time.monotonic() if now is None else now
        if now < self._next_check:
            return None
        self._next_check = now + self.poll_s
        stamp = self._stat()
        if stamp is None:
            self._fail(f"{self.path}: labels file is missing or unreadable")
            return None
        # a file rewritten within the filesystem's timestamp granularity keeps its stamp: look again while recent
        recent = time.time_ns() - stamp[0] < 2_000_000_000
        if stamp == self._stamp and not recent and self.last_error is None:
            return None
        self._stamp = stamp
        try:
            new = parse_labels(self.path)
        except ConfigError as e:
            self._fail(str(e))
            return None
        self.last_error = None
        if new.sha256 == self.current.sha256:
            return None
        log.info("labels reloaded from %s: %d actions (was %d)", self.path, len(new), len(self.current))
        self.current = new
        self.reloads += 1
        return new
