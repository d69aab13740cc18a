"""Half-list replay runs side by side: listed sequences and the unlisted ones (docs/head.md section 9).

Each argument is a ``sadvae bench accuracy --out`` folder, optionally prefixed ``NAME=``; its replays with
``--half-lists`` (and, where the folder has them, those with every class listed) are summarised per dataset and pose
hold: live top-1 and window vote top-1 of the listed classes' sequences, mean over the half lists; false starts a
minute on the unlisted classes' sequences (every start there is false) and the share of them on which no label was
held, mean over the half lists; and, for full lists, live and vote top-1. Prints a markdown table; ``--json`` also
writes it (``{"rows": [...], "what_fired": {...}}``; a list of the rows before 7 December 2026). Then, per run and
dataset, what fired on the unlisted sequences over every half list and hold: the false starts as "class replayed ->
label started" pairs, the most frequent six (first phase; runs made before 7 December 2026 lack them: "-").

    python scripts/table_half_lists.py names=runs/s19/half/utkinect_names self=runs/s19/half/utkinect_self

Folders given the same NAME (a full-list run and a half-list run) make one row.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def summarise(folder: Path) -> dict[tuple[str, float], dict[str, float | int | None]]:
    """``{(dataset, hold): {...}}`` of the replays in ``folder`` (module docstring); percentages in 0-100."""
    path = folder / "accuracy.json"
    if not path.is_file():
        raise SystemExit(f"{path}: not found; pass a folder that `sadvae bench accuracy --out` wrote")
    doc = json.loads(path.read_text(encoding="utf-8"))
    out: dict[tuple[str, float], dict[str, list[float]]] = {}
    for r in doc.get("replays", []):
        key = (r["dataset"], float(r["hold_s"]))
        acc = out.setdefault(key, {})
        lab, non = r["summary"]["labelled"], r["summary"]["none"]
        kind = "half" if r.get("half_list_seed") is not None else "full"
        pct = lambda x: None if x is None else 100 * x  # noqa: E731 (a missing value stays missing, not 0)
        acc.setdefault(f"{kind}_live", []).append(pct(lab["held_top1"]))
        acc.setdefault(f"{kind}_vote", []).append(pct(lab["vote_top1"]))
        if kind == "half":
            acc.setdefault("unlisted_false_per_min", []).append(non["false_per_min"])
            acc.setdefault("unlisted_silent", []).append(pct(non["held_ok"]))
            acc.setdefault("lists", []).append(1)

    def mean(k: str, v: list) -> float | int | None:
        if k == "lists":
            return len(v)
        return None if any(x is None for x in v) else float(np.mean(v))

    return {key: {k: mean(k, v) for k, v in acc.items()} for key, acc in out.items()}


def _named(item: str) -> tuple[str, Path]:
    """``NAME=FOLDER`` -> (NAME, FOLDER); a bare folder is named by its last part."""
    name, eq, folder = item.partition("=")
    return (name, Path(folder)) if eq else (Path(item).name, Path(item))


def half_list_details(folder: Path) -> dict[str, list[dict]]:
    """``{dataset: first-phase sequence details}`` of the half-list replays of ``folder``."""
    doc = json.loads((folder / "accuracy.json").read_text(encoding="utf-8"))
    details: dict[str, list[dict]] = {}
    for r in doc.get("replays", []):
        if r.get("half_list_seed") is not None:
            details.setdefault(r["dataset"], []).extend(r.get("sequences_detail") or [])
    return details


def what_fired(rows: list[dict]) -> dict[str, int | str | None]:
    """The false starts on the unlisted sequences of ``rows`` (sequence details) and their "class -> label" pairs
    (:func:`realtime.bench.accuracy.report.fired_pairs`); ``false_starts`` None for runs made before 7 December
    2026, whose details lack the labels."""
    from realtime.bench.accuracy.report import fired_pairs

    known = any("false_labels" in q for q in rows)
    n = sum(len(q.get("false_labels") or []) for q in rows if q.get("truth") is None)
    return {"false_starts": n if known else None, "pairs": fired_pairs(rows, most=6)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="[NAME=]FOLDER of a `sadvae bench accuracy --out` run")
    ap.add_argument(
        "--json",
        type=Path,
        help='also write {"rows": the rows, "what_fired": {run: {dataset: {"false_starts", "pairs"}}}} as JSON',
    )
    args = ap.parse_args(argv)
    runs = [_named(item) for item in args.runs]
    merged: dict[tuple[str, str, float], dict] = {}  # folders given the same NAME make one row per set and hold
    for name, folder in runs:
        for (dataset, hold), v in summarise(folder).items():
            merged.setdefault((name, dataset, hold), {"run": name, "dataset": dataset, "hold_s": hold}).update(v)
    rows = sorted(merged.values(), key=lambda r: (r["dataset"], r["hold_s"]))
    cols = [
        ("full_live", "full list: live top-1"),
        ("full_vote", "full list: vote top-1"),
        ("half_live", "half lists: listed live top-1"),
        ("half_vote", "half lists: listed vote top-1"),
        ("unlisted_false_per_min", "unlisted: false starts / min"),
        ("unlisted_silent", "unlisted: silent (%)"),
        ("lists", "half lists"),
    ]
    print("| run | dataset | held | " + " | ".join(c for _, c in cols) + " |")
    print("|---|---|---|" + "---|" * len(cols))
    for r in rows:
        cells = []
        for k, _ in cols:
            v = r.get(k)
            cells.append(
                "-" if v is None else f"{v:d}" if isinstance(v, int) else f"{v:.1f}" if "min" not in k else f"{v:.2f}"
            )
        print(f"| {r['run']} | {r['dataset']} | {r['hold_s']:g} s | " + " | ".join(cells) + " |")
    details: dict[str, dict[str, list[dict]]] = {}  # folders given the same NAME pool their sequences
    for name, folder in runs:
        for dataset, rows_ in half_list_details(folder).items():
            details.setdefault(name, {}).setdefault(dataset, []).extend(rows_)
    fired = {name: {d: what_fired(r) for d, r in sorted(per.items())} for name, per in details.items()}
    if any(fired.values()):
        print("\nWhat fired on the unlisted sequences (every half list and hold, first phase):\n")
        for name, per in fired.items():
            for dataset, v in per.items():
                if v["false_starts"] is None:
                    print(f"- {name}, {dataset}: not recorded (a run made before 7 December 2026)")
                else:
                    print(f"- {name}, {dataset}: {v['false_starts']} false starts: {v['pairs']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows, "what_fired": fired}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
