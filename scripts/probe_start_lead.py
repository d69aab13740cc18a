"""Probe: does a start rule that also asks the leader to be R times the runner-up move the decision frontier?

docs/live.md, "Where live loses to the window vote". Over the same recordings and inner model as
``scripts/tune_decisions.py`` (cached under ``runs/head/``; made by it on a miss), an idle label starts only when its
smoothed score reaches the start score AND is at least R times the second best (R = 1: the current rule). Prints
the best mean live top-1 at 1 / 1.5 / 2 false starts a minute on near misses, for R = 1 alone and with R in
1.5 / 2 / 3 added to the grid (minimum window 40 / 64, smoothing 0.5 / 0.7, start 0.25-0.6, 1 / 2 start windows).

    python scripts/probe_start_lead.py --model runs/margin/inner/default_model.pt     # ~1 min with recordings cached
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="the inner model bundle (scripts/tune_decisions.py)")
    args = ap.parse_args()
    recs, scored = td.default_recordings(args.model)
    ratio = [1.0]
    plain = DecisionMaker._track_candidate

    def with_lead(self, label, leads):  # idle: the leader must also be `ratio` times the runner-up
        if leads and self.active is None and ratio[0] > 1.0:
            second = np.sort(self._s)[-2] if len(self._s) > 1 else 0.0
            leads = self._s[label] >= ratio[0] * second
        return plain(self, label, leads)

    DecisionMaker._track_candidate = with_lead
    rows = []
    for mw, a, s, sw, r in itertools.product((40, 64), (0.5, 0.7), (0.25, 0.3, 0.4, 0.5, 0.6), (1, 2), (1, 1.5, 2, 3)):
        ratio[0] = r
        live, false, _ = td.summary(td.evaluate(recs, scored, td.options(a, s, sw, 2), mw))
        rows.append((live, false, r))
    DecisionMaker._track_candidate = plain
    for lim in (1.0, 1.5, 2.0):
        best = [max((x[0] for x in rows if x[1] <= lim and pick(x[2])), default=float("nan")) for pick in (
            lambda r: r == 1, lambda r: True)]  # fmt: skip
        print(f"at most {lim:g} false starts a minute: best mean live top-1 {100 * best[0]:.1f} % (R = 1), "
              f"{100 * best[1]:.1f} % (R in 1, 1.5, 2, 3)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
