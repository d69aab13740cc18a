"""Copy an examples clip folder without one label's clips (``sadvae-live --teach`` measurements on real videos).

``python scripts/examples_without.py FOLDER LABEL OUT``: OUT gets FOLDER's clips of every other label (through
:func:`sadvae.data.user_format.write_clip_dataset`, so it is a clip folder of its own). Used by
``scripts/teach_real_videos.sh``: each video's label is taught from its own first seconds, with the other labels'
examples beside it, and the video is judged on what follows.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sadvae.data.record import Dataset  # noqa: E402  (after the sys.path line)
from sadvae.data.user_format import read_clip_dataset, write_clip_dataset  # noqa: E402
from sadvae.labels import normalise_name  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    p.add_argument("label")
    p.add_argument("out", type=Path)
    args = p.parse_args(argv)
    ds = read_clip_dataset(args.folder)
    drop = {i for i, n in enumerate(ds.class_names) if normalise_name(n) == normalise_name(args.label)}
    keep = [s for s in ds.sequences if s.label not in drop]
    names = [n for i, n in enumerate(ds.class_names) if i not in drop]
    remap = {old: names.index(ds.class_names[old]) for old in range(len(ds.class_names)) if old not in drop}
    seqs = [replace(s, label=remap[s.label]) for s in keep]
    write_clip_dataset(
        Dataset(ds.name, tuple(names), seqs, [], ds.protocol), args.out, None, {"source": str(args.folder)}
    )
    print(f"{args.out}: {len(seqs)} clips of {', '.join(names)} (without {args.label!r})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
