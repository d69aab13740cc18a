"""Per class, two ``sadvae bench accuracy`` replay runs of one dataset side by side (docs/head.md section 9).

For each class of the replayed set and each pose hold of both runs: the sequences whose window vote is right and
whose label held longest is right, in run A and in run B (``sadvae bench accuracy --out`` folders, e.g. a set's
labels by name and the same replays self-taught). Prints a table; ``--json`` also writes it.

    python scripts/compare_replays.py runs/s18/self2/nw_ucla_names runs/s18/self2/nw_ucla_self --hold 1
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def per_class(folder: Path, hold: float) -> dict[str, dict[str, int]]:
    """``{class: {"vote": right, "live": right, "n": sequences}}`` of the replay with ``hold`` in ``folder``."""
    path = folder / "accuracy.json"
    if not path.is_file():
        raise SystemExit(f"{path}: not found; pass a folder that `sadvae bench accuracy --out` wrote")
    doc = json.loads(path.read_text(encoding="utf-8"))
    rows = [r for r in doc.get("replays", []) if float(r["hold_s"]) == hold]
    if len(rows) != 1:
        held = sorted({float(r["hold_s"]) for r in doc.get("replays", [])})
        raise SystemExit(f"{path}: {len(rows)} replays with {hold:g} s held (it has {held}); pass one of those")
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"vote": 0, "live": 0, "n": 0})
    for s in rows[0]["sequences_detail"]:
        c = out[s["truth"]]
        c["vote"] += bool(s["vote_top1"])
        c["live"] += bool(s["held_correct"])
        c["n"] += 1
    return dict(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", type=Path, help="the first run's --out folder")
    ap.add_argument("b", type=Path, help="the second run's --out folder")
    ap.add_argument("--hold", type=float, default=1.0, help="the pose hold to compare, seconds (default 1)")
    ap.add_argument("--json", type=Path, help="also write the table here")
    args = ap.parse_args(argv)
    a, b = per_class(args.a, args.hold), per_class(args.b, args.hold)
    if set(a) != set(b):
        raise SystemExit(f"the two runs replayed other classes: {sorted(set(a) ^ set(b))}")
    print(f"{args.hold:g} s held; right of n: window vote A -> B, held longest A -> B")
    print(f"| class | n | vote {args.a.name} -> {args.b.name} | live {args.a.name} -> {args.b.name} |")
    print("|---|---|---|---|")
    for name in a:
        x, y = a[name], b[name]
        print(f"| {name} | {x['n']} | {x['vote']} -> {y['vote']} | {x['live']} -> {y['live']} |")
    if args.json:
        args.json.write_text(json.dumps({"hold_s": args.hold, "a": a, "b": b}, indent=1), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
