"""``sadvae bench latency`` result files: atomic JSON writing and checked reading, text tables, a side-by-side
comparison of several files and a PNG plot.

The documents are those of :func:`realtime.bench.latency.run_bench`. matplotlib is imported only by
:func:`plot`; when it is missing the plot is skipped with a log line saying how to install it, and
nothing else fails.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sadvae.errors import DataFormatError
from sadvae.fileio import atomic_path, atomic_write

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "write_json",
    "load_result",
    "PLOT_INSTALL_HINT",
    "machine_line",
    "format_result",
    "compare",
    "plot",
]

log = logging.getLogger(__name__)

FORMAT, FORMAT_VERSION = "sadvae-bench", 1  # a result document's "format" and "format_version"
PLOT_INSTALL_HINT = "matplotlib is not installed; install it with `pip install 'sadvae-live[train]'` (or matplotlib)"
_PIPELINE_STAGES = (
    "capture",
    "pose",
    "mapping",
    "tracking",
    "buffer",
    "window",
    "inference",
    "head",
    "decide",
    "publish",
    "total",
)


def write_json(doc: dict[str, Any], path: str | Path) -> Path:
    """Write ``doc`` to ``path`` atomically (a temporary file beside it, then a rename)."""
    path = Path(path)
    atomic_write(path, (json.dumps(doc, indent=1) + "\n").encode("utf-8"))
    return path


def load_result(path: str | Path) -> dict[str, Any]:
    """Read a ``sadvae bench latency`` JSON file.

    Raises:
        DataFormatError: not JSON, not a bench result, or a newer format version.
    """
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        why = f"expected a `sadvae bench latency` JSON file, could not read it ({e})"
        raise DataFormatError(p, None, why) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        why = f"expected {FORMAT!r} (a `sadvae bench latency --out` file), found {found!r}"
        raise DataFormatError(p, "format", why)
    if not isinstance(doc.get("format_version"), int) or doc["format_version"] > FORMAT_VERSION:
        raise DataFormatError(
            p,
            "format_version",
            f"expected an integer <= {FORMAT_VERSION}, found "
            f"{doc.get('format_version')!r}; update sadvae-live to read it",
        )
    for key in ("machine", "recognizer", "pipeline"):
        if key not in doc:
            raise DataFormatError(p, key, "expected this key in a bench result, found it missing")
    _check_fields(p, doc)
    return doc


_NUMBER = {"type": "number"}
_TIMING = {"type": "object", "required": ["p50_ms", "p90_ms", "p99_ms"], "properties": dict.fromkeys(
    ("p50_ms", "p90_ms", "p99_ms"), _NUMBER
)}  # fmt: skip
# what `bench compare` and the plots read of a result (a file that passed the format checks above can still be
# edited or cut into another shape: until 7 December 2026 that was a traceback from inside compare)
_READ_FIELDS = {
    "type": "object",
    "properties": {
        "machine": {
            "type": "object",
            "properties": {
                "versions": {"type": "object"},
                "loadavg_start": {"type": ["array", "null"], "items": _NUMBER},
                "git": {"type": ["object", "null"], "properties": {"commit": {"type": "string"}}},
                "gpu": {
                    "type": ["object", "null"],
                    "properties": {"gpus": {"type": "array", "items": {"type": "object", "required": ["name"]}}},
                },
            },
        },
        "recognizer": {
            "type": ["object", "null"],
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        **_TIMING,
                        "required": ["backend", "batch", "persons", *_TIMING["required"]],
                        "properties": {
                            **_TIMING["properties"],
                            "backend": {"type": "string"},
                            "batch": {"type": "integer"},
                            "persons": {"type": "integer"},
                        },
                    },
                }
            },
        },
        "pipeline": {
            "type": ["object", "null"],
            "properties": {
                "runs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["backend", "fps", "stages"],
                        "properties": {
                            "backend": {"type": "string"},
                            "fps": _NUMBER,
                            "stages": {"type": "object", "additionalProperties": _TIMING},
                        },
                    },
                }
            },
        },
    },
}


def _check_fields(p: Path, doc: dict[str, Any]) -> None:
    """The fields :func:`compare` and :func:`plot` read, of the types they read them as (one error naming the first
    field that is not)."""
    from realtime.events.format import require_module

    jsonschema = require_module("jsonschema", "jsonschema")  # a dependency of the live extra
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(_READ_FIELDS).iter_errors(doc))
    if error is not None:
        where = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in error.absolute_path).lstrip(".")
        raise DataFormatError(p, where or None, f"{error.message}; rerun `sadvae bench latency --out` to make it again")


def _gpu_text(gpu: Any) -> str:
    if not gpu:
        return "no GPU"
    if "board" in gpu:
        return f"{gpu['board']} ({gpu.get('l4t') or 'L4T ?'})"
    return ", ".join(g["name"] for g in gpu.get("gpus", [])) or "GPU ?"


def machine_line(doc: dict[str, Any]) -> str:
    """One line naming the machine, its load and the library versions of a result."""
    m, v = doc["machine"], doc["machine"].get("versions", {})
    libs = ", ".join(
        f"{k} {v[k]}" for k in ("torch", "onnxruntime", "onnxruntime-gpu", "tensorrt", "mediapipe") if v.get(k)
    )
    load = m.get("loadavg_start") or []
    git = m.get("git") or {}
    commit = f"; commit {git['commit'][:10]}{' (dirty)' if git.get('dirty') else ''}" if git.get("commit") else ""
    return (
        f"{m.get('hostname')}: {m.get('cpu')}, {m.get('cores')} cores ({m.get('usable_cores')} usable), "
        f"{m.get('ram_gb')} GB RAM, {_gpu_text(m.get('gpu'))}; python {m.get('python')}; {libs}; "
        f"load average {' '.join(f'{x:.2f}' for x in load)} at start{commit}"
    )


def _amortised(rec: dict[str, Any], model: dict[str, Any], options: dict[str, Any]) -> list[str]:
    """The recognizer's cost per frame, one person in view: one call every stride frames, at the stride the
    pipeline runs (``--stride``, else the model's) and the batch it sends (2 under ``--handedness pool``: each
    window with its mirror image)."""
    stride = options.get("stride") or model.get("stride")
    if not stride:
        return []
    at = (
        f"--stride {stride}"
        if options.get("stride")
        else f"the model's stride ({stride} frames at {model['fps']:g} fps)"
    )
    pool = options.get("handedness") == "pool"
    batch, why = (2, ", --handedness pool (each window with its mirror image: batch 2)") if pool else (1, "")
    lines = []
    for backend in dict.fromkeys(r["backend"] for r in rec["results"]):
        row = next(
            (r for r in rec["results"] if r["backend"] == backend and (r["batch"], r["persons"]) == (batch, 1)), None
        )
        head = f"  {backend} amortised at {at}, one person{why}: "
        if row is None:
            lines.append(head + f"not measured (no batch {batch}, persons 1 row; add --batch {batch} --persons 1)")
        else:
            lines.append(
                head + f"{row['p50_ms'] / stride:.3f} ms per frame (p50), "
                f"{row.get('cpu_ms', float('nan')) / stride:.3f} CPU ms per frame"
            )
    return lines


def _recognizer_table(
    rec: dict[str, Any], model: dict[str, Any] | None = None, options: dict[str, Any] | None = None
) -> list[str]:
    lines = [
        f"recognizer: ms per run() call, {rec['iters']} calls after {rec['warmup']} warm-up, threads "
        f"{rec['threads'] or 'default'}, onnxruntime optimisation {rec['optimization']}"
        f"{', spinning' if rec.get('spin') else ''}",
        f"  {'backend':<12} {'device':<6} {'prec':<5} {'batch':>5} {'persons':>7} {'p50':>8} {'p90':>8} "
        f"{'p99':>8} {'mean':>8} {'windows/s':>10} {'cpu ms':>8}",
    ]
    for r in rec["results"]:
        lines.append(
            f"  {r['backend']:<12} {r['device']:<6} {r['precision']:<5} {r['batch']:>5} {r['persons']:>7} "
            f"{r['p50_ms']:>8.3f} {r['p90_ms']:>8.3f} {r['p99_ms']:>8.3f} {r['mean_ms']:>8.3f} "
            f"{r['windows_per_s']:>10.1f} {r.get('cpu_ms', float('nan')):>8.3f}"
        )
    for s in rec["skipped"]:
        what = s["backend"] + (f" persons {s['persons']}" if s.get("persons") else "")
        lines.append(f"  skipped {what}: {s['reason']}")
    for a in rec.get("agreement", []):
        diffs = ", ".join(f"{k} {v:.1e}" for k, v in a["max_abs"].items())
        lines.append(
            f"  {a['backend']} vs {a['reference']} on {a['windows']} random one-person windows: top-1 agreement "
            f"{100 * a['top1_agreement']:.1f} %, max |difference| {diffs}"
        )
    p50 = {(r["backend"], r["batch"], r["persons"]): r["p50_ms"] for r in rec["results"]}
    for (backend, batch, persons), ms in p50.items():
        torch_ms = p50.get(("torch", batch, persons))
        if backend != "torch" and batch == 1 and torch_ms:
            lines.append(f"  torch / {backend} at batch 1, persons {persons}: {torch_ms / ms:.2f}x (p50)")
    lines += _amortised(rec, model or {}, options or {})
    return lines


def _pipeline_table(pipe: dict[str, Any]) -> list[str]:
    lines = []
    for r in pipe["runs"]:
        lines.append(
            f"pipeline ({r['backend']}, {r['kind']} {Path(r['source']).name}): {r['frames']} frames"
            f"{' after an untimed first frame' if r.get('warmup_frames') else ''} in "
            f"{r['wall_s']:.1f} s = {r['fps']:.1f} fps end to end; {r['windows']} windows in "
            f"{r['batches']} batches (mean {r['mean_batch']:.2f}), {r['events_received']} events "
            f"received, head {r['head_mode']}"
            + (", each window with its mirror image (--handedness pool)" if pipe.get("handedness") == "pool" else "")
        )
        lines.append(f"  {'stage':<10} {'calls':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'ms/frame':>9}")
        for name, s in r["stages"].items():
            lines.append(
                f"  {name:<10} {s['calls']:>6} {s['p50_ms']:>8.3f} {s['p90_ms']:>8.3f} {s['p99_ms']:>8.3f} "
                f"{s['per_frame_ms']:>9.3f}"
            )
        lines.append(f"  lean stages ({' + '.join(r['lean_stages'])}): {r['lean_per_frame_ms']:.3f} ms per frame")
        if not r["windows"]:  # said, not left to a reader of the stage table (a benchmark audit, 7 December 2026)
            lines.append(
                "  no window was scored: nobody was tracked for the frames the first window needs, so the fps above "
                "has no recognition in it; raise --frames (a person must be tracked for about 2 s first)"
            )
        if r.get("cpu_ms_per_frame"):
            c = r["cpu_ms_per_frame"]
            lines.append(f"  process CPU time: {c:.2f} ms per frame, every thread (one core alone: {1e3 / c:.1f} fps)")
    for s in pipe["skipped"]:
        lines.append(f"pipeline skipped {s['backend']}: {s['reason']}")
    return lines


def format_result(doc: dict[str, Any]) -> str:
    """The tables of one result as plain aligned text."""
    model = doc["model"]
    lines = [
        machine_line(doc),
        f"model {model['path']} (id {model['model_id'][:12]}, window T={model['window']}, M={model['persons']})",
    ]
    if doc.get("recognizer"):
        lines += ["", *_recognizer_table(doc["recognizer"], doc.get("model"), doc.get("options"))]
    if doc.get("pipeline"):
        lines += ["", *_pipeline_table(doc["pipeline"])]
    m = doc["machine"]
    if m.get("loadavg_end"):
        lines += [
            "",
            f"load average at end {' '.join(f'{x:.2f}' for x in m['loadavg_end'])}; peak RSS {m.get('peak_rss_mb')} MB",
        ]
    return "\n".join(lines)


def _labels(docs: Sequence[dict[str, Any]], names: Sequence[str] | None) -> list[str]:
    if names is not None:
        return list(names)
    return [chr(ord("A") + i) if i < 26 else f"R{i}" for i in range(len(docs))]


def compare(docs: Sequence[dict[str, Any] | str | Path], names: Sequence[str] | None = None) -> str:
    """Several results side by side: recognizer p50 (p99) per backend / batch / persons, pipeline stage p50s.

    Args:
        docs: result documents or paths of ``sadvae bench latency --out`` files.
        names: a column title per result (default A, B, C, ...); the legend names each one's machine.

    Returns:
        plain aligned text.

    Raises:
        DataFormatError: a path that is not a bench result.
    """
    docs = [d if isinstance(d, dict) else load_result(d) for d in docs]
    cols = _labels(docs, names)
    width = max(18, *(len(c) for c in cols))
    lines = [f"{c}: {machine_line(d)}" for c, d in zip(cols, docs, strict=True)]
    head = lambda title: f"  {title:<32}" + "".join(f"{c:>{width}}" for c in cols)  # noqa: E731
    rows: dict[tuple, list[str]] = {}
    for i, d in enumerate(docs):
        for r in (d.get("recognizer") or {}).get("results", []):
            key = (r["backend"], r["batch"], r["persons"])
            rows.setdefault(key, ["-"] * len(docs))[i] = f"{r['p50_ms']:.2f} ({r['p99_ms']:.2f})"
    if rows:
        lines += ["", "recognizer, ms per call: p50 (p99)", head("backend / batch / persons")]
        lines += [
            f"  {f'{k[0]} / {k[1]} / {k[2]}':<32}" + "".join(f"{v:>{width}}" for v in vals) for k, vals in rows.items()
        ]
    prow: dict[tuple, list[str]] = {}
    for i, d in enumerate(docs):
        for r in (d.get("pipeline") or {}).get("runs", []):
            prow.setdefault((r["backend"], "fps"), ["-"] * len(docs))[i] = f"{r['fps']:.1f}"
            for stage, s in r["stages"].items():
                key = (r["backend"], stage)
                prow.setdefault(key, ["-"] * len(docs))[i] = f"{s['p50_ms']:.3f} ({s['p99_ms']:.3f})"
    if prow:
        lines += ["", "pipeline, ms per call: p50 (p99); fps end to end", head("backend / stage")]
        lines += [f"  {f'{k[0]} / {k[1]}':<32}" + "".join(f"{v:>{width}}" for v in vals) for k, vals in prow.items()]
    return "\n".join(lines)


def _bars(ax: Any, groups: list[str], series: list[tuple[str, dict[str, tuple[float, float, float]]]]) -> None:
    """Grouped bars of p50 with a whisker to p99 and a tick at p90; series = (name, {group: (p50, p90, p99)})."""
    import numpy as np

    n = max(len(series), 1)
    width = 0.8 / n
    x = np.arange(len(groups))
    for k, (name, values) in enumerate(series):
        pos = x - 0.4 + width * (k + 0.5)
        p = np.array([values.get(g, (np.nan, np.nan, np.nan)) for g in groups], dtype=float).reshape(-1, 3)
        ax.bar(pos, p[:, 0], width, label=name)
        up = np.clip(np.nan_to_num(p[:, 2] - p[:, 0]), 0.0, None)
        ax.errorbar(
            pos, p[:, 0], yerr=[np.zeros(len(groups)), up], fmt="none", ecolor="black", elinewidth=0.8, capsize=2
        )
        ax.scatter(pos, p[:, 1], marker="_", color="black", s=40, zorder=3)
    ax.set_xticks(x, groups)


def plot(
    docs: Sequence[dict[str, Any] | str | Path], path: str | Path, names: Sequence[str] | None = None
) -> Path | None:
    """Write a PNG: recognizer p50 per batch size and pipeline stage p50 per stage, per backend and result.

    Bars are p50; whiskers reach p99 with a tick at p90. The stage panel has a log scale (pose takes
    tens of ms, mapping tens of microseconds).

    Args:
        docs: result documents or paths.
        path: the PNG to write (atomically).
        names: a name per result (default: the machine's hostname when results come from several machines).

    Returns:
        the path, or None when matplotlib is not installed (logged with :data:`PLOT_INSTALL_HINT`).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("plot skipped: %s", PLOT_INSTALL_HINT)
        return None
    docs = [d if isinstance(d, dict) else load_result(d) for d in docs]
    if names is None:
        hosts = [d["machine"].get("hostname") or "?" for d in docs]
        names = hosts if len(set(hosts)) == len(hosts) and len(docs) > 1 else _labels(docs, None)
    prefix = (lambda i: f"{names[i]} ") if len(docs) > 1 else (lambda i: "")
    rec_series, batches = [], []
    for i, d in enumerate(docs):
        by: dict[tuple[str, int], dict[str, tuple[float, float, float]]] = {}
        for r in (d.get("recognizer") or {}).get("results", []):
            group = f"batch {r['batch']}"
            batches.append((r["batch"], group))
            by.setdefault((r["backend"], r["persons"]), {})[group] = (r["p50_ms"], r["p90_ms"], r["p99_ms"])
        rec_series += [(f"{prefix(i)}{b} P={p}", v) for (b, p), v in by.items()]
    pipe_series = []
    for i, d in enumerate(docs):
        for r in (d.get("pipeline") or {}).get("runs", []):
            stages = {s: (v["p50_ms"], v["p90_ms"], v["p99_ms"]) for s, v in r["stages"].items()}
            pipe_series.append((f"{prefix(i)}{r['backend']} ({r['fps']:.0f} fps)", stages))
    panels = [p for p in (rec_series, pipe_series) if p]
    fig, axes = plt.subplots(len(panels) or 1, 1, figsize=(11, 4.2 * max(len(panels), 1)), squeeze=False)
    k = 0
    if rec_series:
        ax = axes[k][0]
        _bars(ax, [g for _, g in sorted(set(batches))], rec_series)
        ax.set_ylabel("ms per call")
        ax.set_title("recognizer latency (bar p50, whisker p99, tick p90)")
        ax.legend(fontsize=8)
        k += 1
    if pipe_series:
        ax = axes[k][0]
        present = {s for _, v in pipe_series for s in v}
        stages = [s for s in _PIPELINE_STAGES if s in present] + sorted(present - set(_PIPELINE_STAGES))
        _bars(ax, stages, pipe_series)
        ax.set_yscale("log")
        ax.set_ylabel("ms per call (log)")
        ax.set_title("live pipeline stages (bar p50, whisker p99, tick p90)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
    finally:
        plt.close(fig)
    return Path(path)
