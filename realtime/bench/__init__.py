"""Benchmarks of the live side: latency (``sadvae bench``) and accuracy (``sadvae bench accuracy``).

:mod:`.latency` times the recognizer, the windows and the whole pipeline; :mod:`.report` writes,
reads, compares and plots results; :mod:`.machine` describes the machine; :mod:`.accuracy` scores the
live system on annotated videos and held-out replays (its submodules import lazily).
"""

from __future__ import annotations

from realtime.bench.latency import (
    STAGE_NAMES,
    BenchOptions,
    bench_pipeline,
    bench_recognizer,
    bench_windows,
    run_bench,
)
from realtime.bench.machine import machine_info
from realtime.bench.report import (
    FORMAT,
    FORMAT_VERSION,
    PLOT_INSTALL_HINT,
    compare,
    format_result,
    load_result,
    plot,
    write_json,
)

__all__ = [
    "BenchOptions",
    "STAGE_NAMES",
    "bench_pipeline",
    "bench_recognizer",
    "bench_windows",
    "run_bench",
    "machine_info",
    "FORMAT",
    "FORMAT_VERSION",
    "PLOT_INSTALL_HINT",
    "compare",
    "format_result",
    "load_result",
    "plot",
    "write_json",
]
