"""Clean shutdown on SIGINT / SIGTERM for the live loop (main thread only)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["stop_on_signals"]


@contextlib.contextmanager
def stop_on_signals(
    request_stop: Callable[[str], None],
    wake: Callable[[], None] | None = None,
    stopped: Callable[[], bool] | None = None,
) -> Iterator[None]:
    """While active, SIGINT / SIGTERM call ``request_stop("sigint" | "sigterm")`` instead of killing the process.

    A second signal raises :class:`KeyboardInterrupt` (stop now), and so does the first once ``stopped()`` says the
    loop has stopped already (it is closing: a Ctrl-C then cuts the closing short, e.g. a recording's last frames;
    until 7 December 2026 it took two after a run that ended by itself). Off the main thread this does nothing
    (Python delivers signals to the main thread only). The previous handlers come back on exit.

    Args:
        request_stop: asks the loop to stop after the current frame; must be signal-safe (set a flag).
        wake: run on a helper thread after the first signal, to unblock a loop waiting for input
            (e.g. close a camera source whose reader may be stalled).
        stopped: whether the loop has stopped already (signal-safe: read a flag).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        if stopping.is_set() or (stopped is not None and stopped()):
            raise KeyboardInterrupt
        stopping.set()
        request_stop("sigint" if signum == signal.SIGINT else "sigterm")
        if wake is not None:
            threading.Thread(target=wake, name="sadvae-stop", daemon=True).start()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
