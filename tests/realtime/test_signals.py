"""realtime.signals.stop_on_signals: the first Ctrl-C asks the loop to stop, the next stops now; once the loop has
stopped by itself (closing: a recording's last frames), the first one stops now."""

from __future__ import annotations

import signal

import pytest

from realtime.signals import stop_on_signals


def test_the_first_signal_asks_to_stop_and_the_second_interrupts() -> None:
    asked: list[str] = []
    with stop_on_signals(asked.append):
        signal.raise_signal(signal.SIGINT)
        assert asked == ["sigint"]
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the previous handler is back


def test_once_the_loop_has_stopped_the_first_signal_interrupts() -> None:
    """A run that ended by itself closes its parts inside the handler: until 7 December 2026 the first Ctrl-C only
    asked an ended loop to stop, and cutting a long recording's encoding short took two (the diff review)."""
    asked: list[str] = []
    closing = [False]
    with stop_on_signals(asked.append, stopped=lambda: closing[0]):
        closing[0] = True
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert asked == []
