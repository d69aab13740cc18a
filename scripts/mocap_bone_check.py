"""Compare body measures of the mocap sets (after conversion to NTU-25) with the Kinect v1 sets.

Prints a Markdown table: median bone lengths (metres, over every frame of every sequence, left and right
averaged) and pose checks (head above spine base, stature, feet lowest, feet pointing the facing way),
one column per dataset, from :func:`sadvae.data.mocap.check.body_stats`.

Usage: python scripts/mocap_bone_check.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sadvae.paths import SHARED_DATA  # noqa: E402  (after the sys.path line)

SETS = ("hdm05", "bandai_namco", "msr_action3d", "nw_ucla", "utkinect")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=SHARED_DATA, help="the shared data folder (../shared/data)")
    args = p.parse_args(argv)

    from sadvae.data.mocap.check import body_stats
    from sadvae.data.registry import DATASETS

    t0 = time.time()
    columns = {}
    for name in SETS:
        # the dataset's own loader, not load_dataset: a Kinect set's folder also looks like a clip folder
        ds = DATASETS[name].loader(args.data / DATASETS[name].default_root)
        columns[name] = (len(ds.sequences), body_stats(ds))
    measures = list(next(iter(columns.values()))[1])
    print("| measure | " + " | ".join(f"{n} ({c[0]})" for n, c in columns.items()) + " |")
    print("|---|" + "---:|" * len(columns))
    for m in measures:
        fmt = "{:.1f}" if "%" in m else "{:.3f}"
        print(f"| {m} | " + " | ".join(fmt.format(c[1][m]) for c in columns.values()) + " |")
    print(f"\n{platform.machine()}, {time.time() - t0:.0f} s, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
