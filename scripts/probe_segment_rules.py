"""Probe: do stricter whole-motion decisions (a minimum motion length, a lead over the runner-up) move the frontier?

docs/live.md, "Decisions on a whole motion". ``--segment-score`` decides a motion no label started on from the mean
of its windows' scores; on near misses (a listed sibling of an unlisted action) that mean often reaches the score
too, which is what keeps it off by default. Two stricter rules, probed over the same recordings and inner model as
``scripts/tune_decisions.py`` (cached under ``runs/head/``; made by it on a miss): the motion must span at least
M windows, and its best label's mean must be at least R times the runner-up's. Prints the best mean live top-1 at
1 / 1.5 / 2 / 3 false starts a minute on near misses for the tuning grid without whole-motion decisions, with them
as they are (M = 1, R = 1), and with M in 1 / 2 / 3 and R in 1 / 1.5 / 2 / 3 added.

    python scripts/probe_segment_rules.py --model runs/margin/inner/default_model.pt   # ~8 min with recordings cached
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import tune_decisions as td  # noqa: E402

from realtime.decisions import DecisionMaker  # noqa: E402

LIMITS = (1.0, 1.5, 2.0, 3.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="the inner model bundle (scripts/tune_decisions.py)")
    args = ap.parse_args()
    recs, scored = td.default_recordings(args.model)
    rule = {"windows": 1, "ratio": 1.0}
    plain = DecisionMaker._motion

    def stricter(self, p, t, moving, reason):
        """The motion's mean is read as it ends; a short motion or a narrow lead is left undecided."""
        ending = self._in_motion and not moving
        n = self._motion_n + (p is not None)
        total = self._motion_sum + (0.0 if p is None else p)
        if ending and (n < rule["windows"] or _lead(total) < rule["ratio"]):
            self._motion_covered = True  # undecided: the rule of the live code then drops it
        return plain(self, p, t, moving, reason)

    DecisionMaker._motion = stricter
    rows = []
    grid = itertools.product(
        (24, 40, 64), (0.5, 0.7), (0.4, 0.5, 0.6), (1, 2), (0.0, 0.3, 0.4, 0.5), (1, 2, 3), (1.0, 1.5, 2.0, 3.0)
    )
    for mw, a, s, sw, seg, m, r in grid:
        if seg == 0.0 and (m, r) != (1, 1.0):
            continue
        rule["windows"], rule["ratio"] = m, r
        live, false, _ = td.summary(td.evaluate(recs, scored, td.options(a, s, sw, 2, seg), mw))
        rows.append({"live": live, "false": false, "seg": seg, "m": m, "r": r, "setting": (mw, a, s, sw)})
    DecisionMaker._motion = plain
    picks = {
        "no whole-motion decisions": lambda x: x["seg"] == 0.0,
        "whole motions as they are (M = 1, R = 1), or none": lambda x: x["m"] == 1 and x["r"] == 1.0,
        "with M in 1-3 and R in 1-3": lambda x: True,
    }
    print("| best mean live top-1 (%) with at most ... false starts a minute | " + " | ".join(f"{x:g}" for x in LIMITS))
    print("|---|" + "---|" * len(LIMITS))
    for name, pick in picks.items():
        cells = []
        for lim in LIMITS:
            ok = [x for x in rows if x["false"] <= lim and pick(x)]
            best = max(ok, key=lambda x: x["live"], default=None)
            cells.append(
                "-" if best is None else f"{100 * best['live']:.1f} (M {best['m']}, R {best['r']:g}, s {best['seg']:g})"
            )
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


def _lead(total: np.ndarray) -> float:
    top2 = np.sort(np.asarray(total, np.float64))[-2:]
    return float("inf") if len(top2) < 2 or top2[0] <= 0 else float(top2[1] / top2[0])


if __name__ == "__main__":
    raise SystemExit(main())
