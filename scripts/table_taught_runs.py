"""Tabulate the test-side runs of labels taught by example (docs/head.md section 8) from their ``accuracy.json``.

Reads the ``sadvae bench accuracy`` outputs that docs/head.md section 8 lists (models that never saw the set,
``runs/lodo/``; every label by name, every label taught, one label in two taught) and prints:

1. per (set, hold) the window vote top-1 / live top-1 (%) / wrong starts a minute of each run, and the means over
   the 12 cells (3 sets x hold 0 / 1 s x 1 / 3 examples per label);
2. for the mixed lists, the same means split by the kind of the sequence's label (taught or by name in the mixed
   list; the other runs' sequences split the same way, so the halves are compared on the same sequences).

    python scripts/table_taught_runs.py          # reads runs/examples and runs/taught
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SETS = (("msr_action3d", "MSR"), ("nw_ucla", "NW-UCLA"), ("utkinect", "UTKinect"))
# (column, folder pattern): {t} the set, {k} examples per label
ALL_TAUGHT = (
    ("names", "examples/{t}_k{k}_names"),
    ("first version", "examples/{t}_k{k}"),
    ("+ latent, start 0.6", "taught/{t}_k{k}_s06"),
    ("+ latent, start 0.5 (now)", "taught/{t}_k{k}"),
)
MIXED = (
    ("every label by name", "examples/{t}_k{k}_names"),
    ("every label taught", "taught/{t}_k{k}"),
    ("mixed, first version of the mix", "taught/{t}_k{k}_mixed"),
    ("mixed, the maximum", "taught/{t}_k{k}_mixed_max"),
    ("mixed, the maximum and the best-label share (now)", "taught/{t}_k{k}_mixed_best"),
)


def replays(folder: Path) -> dict[float, dict]:
    """``{hold_s: replay entry}`` of one run's ``accuracy.json``."""
    path = folder / "accuracy.json"
    if not path.is_file():
        raise SystemExit(f"{path}: missing; make it with the command of docs/head.md section 8")
    return {r["hold_s"]: r for r in json.loads(path.read_text(encoding="utf-8"))["replays"]}


def rates(entry: dict, keep=lambda s: True) -> tuple[float, float, float]:
    """(window vote top-1 %, live top-1 %, wrong starts a minute) over the sequences ``keep`` selects."""
    seqs = [s for s in entry["sequences_detail"] if keep(s)]
    minutes = sum(s["minutes"] for s in seqs)
    return (
        100.0 * sum(bool(s["vote_top1"]) for s in seqs) / len(seqs),
        100.0 * sum(bool(s["held_correct"]) for s in seqs) / len(seqs),
        sum(s["false_starts"] for s in seqs) / minutes if minutes else 0.0,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=ROOT / "runs", help="folder of examples/ and taught/ (default runs)")
    args = ap.parse_args()

    cells: dict[str, list] = {name: [] for name, _ in ALL_TAUGHT}
    print("| set, hold, K | " + " | ".join(name for name, _ in ALL_TAUGHT) + " |")
    print("|---|" + "---|" * len(ALL_TAUGHT))
    for t, short in SETS:
        for k in (1, 3):
            runs = {name: replays(args.runs / pattern.format(t=t, k=k)) for name, pattern in ALL_TAUGHT}
            for h in (0.0, 1.0):
                row = []
                for name, _ in ALL_TAUGHT:
                    r = rates(runs[name][h])
                    cells[name].append(r)
                    row.append(f"{r[0]:.1f} / {r[1]:.1f} / {r[2]:.1f}")
                print(f"| {short}, {h:g} s, {k} | " + " | ".join(row) + " |")
    means = [np.mean(cells[n], 0) for n, _ in ALL_TAUGHT]
    print("| **mean** | " + " | ".join(f"{m[0]:.1f} / {m[1]:.1f} / {m[2]:.2f}" for m in means) + " |")
    now, names = np.array(cells["+ latent, start 0.5 (now)"]), np.array(cells["names"])
    print(
        f"\nlive top-1 above the names on {int((now[:, 1] > names[:, 1]).sum())} of {len(now)} cells; "
        f"window vote above on {int((now[:, 0] > names[:, 0]).sum())}\n"
    )

    halves: dict[str, list] = {name: [] for name, _ in MIXED}
    for t, _ in SETS:
        for k in (1, 3):
            runs = {name: replays(args.runs / pattern.format(t=t, k=k)) for name, pattern in MIXED}
            for h in (0.0, 1.0):
                taught = set(runs[MIXED[-1][0]][h]["taught_labels"])
                mine, others = (lambda s: s["truth"] in taught), (lambda s: s["truth"] not in taught)  # noqa: B023
                for name, _ in MIXED:
                    entry = runs[name][h]
                    halves[name].append(rates(entry, mine)[:2] + rates(entry, others)[:2] + rates(entry))
    print("| list | taught half: vote / live | named half: vote / live | all: vote / live / wrong starts a minute |")
    print("|---|---|---|---|")
    for name, _ in MIXED:
        m = np.mean(halves[name], 0)
        print(f"| {name} | {m[0]:.1f} / {m[1]:.1f} | {m[2]:.1f} / {m[3]:.1f} | {m[4]:.1f} / {m[5]:.1f} / {m[6]:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
