"""sadvae-live's head and decision flags (issue 14.5): every threshold a flag, its default from the code."""

from __future__ import annotations

import pytest

from realtime.cli import _options, build_parser
from realtime.decisions import DecisionOptions
from realtime.head.zero_shot import HeadOptions
from sadvae.errors import ConfigError

BASE = ["--demo", "--labels", "labels/demo.txt"]


def test_flags_reach_the_options() -> None:
    args = build_parser().parse_args(
        [
            *BASE,
            "--smoothing",
            "0.7",
            "--start-score",
            "0.4",
            "--start-windows",
            "3",
            "--keep-score",
            "0.3",
            "--end-windows",
            "1",
            "--min-score",
            "0.1",
            "--min-lead",
            "0.2",
            "--no-action-threshold",
            "0.4",
            "--match-threshold",
            "0.9",
            "--zero-shot",
            "linear-relu",
            "--mixed",
            "gate",
        ]
    )
    opts = _options(args)
    d, h = opts.decisions, opts.head
    assert (d.ema_alpha, d.start_score, d.start_windows, d.keep_score, d.end_windows, d.min_score, d.switch_margin) == (
        0.7,
        0.4,
        3,
        0.3,
        1,
        0.1,
        0.2,
    )
    assert (h.reject_threshold, h.match_threshold, h.zs_method, h.combine, h.match) == (
        0.4,
        0.9,
        "linear-relu",
        "gate",
        True,
    )
    assert _options(build_parser().parse_args([*BASE, "--exact-labels"])).head.match is False


def test_defaults_are_the_dataclasses_and_help_says_them(capsys) -> None:
    opts = _options(build_parser().parse_args(BASE))
    assert opts.decisions == DecisionOptions() and opts.head == HeadOptions()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    d = DecisionOptions()
    flags = {
        "--start-score": d.start_score,
        "--min-lead": d.switch_margin,
        "--smoothing": d.ema_alpha,
        "--match-threshold": HeadOptions().match_threshold,
    }
    for flag, default in flags.items():
        assert flag in text and f"(default {default}" in text


def test_inconsistent_thresholds_are_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="keep_score <= start_score"):
        _options(build_parser().parse_args([*BASE, "--keep-score", "0.9"]))
    with pytest.raises(ConfigError, match="match_threshold must be in"):
        _options(build_parser().parse_args([*BASE, "--match-threshold", "1.5"]))


def test_min_window_frames_flag_reaches_the_pipeline(capsys) -> None:
    """--min-window-frames (partial windows, issue 14 item 5): default from realtime.buffer, 0 = whole windows."""
    from realtime.buffer import MIN_WINDOW_FRAMES
    from realtime.pipeline import PipelineOptions

    assert _options(build_parser().parse_args(BASE)).min_window_frames == MIN_WINDOW_FRAMES
    assert PipelineOptions().min_window_frames == MIN_WINDOW_FRAMES  # the library and the CLI agree
    assert _options(build_parser().parse_args([*BASE, "--min-window-frames", "40"])).min_window_frames == 40
    assert _options(build_parser().parse_args([*BASE, "--min-window-frames", "0"])).min_window_frames is None
    with pytest.raises(ConfigError, match="min_window_frames must be an integer >= 2, got 1"):
        _options(build_parser().parse_args([*BASE, "--min-window-frames", "1"]))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--min-window-frames N frames (at the model's rate)" in text and f"(default {MIN_WINDOW_FRAMES}," in text
