"""``sadvae data inspect`` and ``sadvae data prepare``."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from sadvae.data.record import Dataset

__all__ = ["register", "summarize", "format_table"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="inspect and prepare skeleton datasets")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    ins = dsub.add_parser("inspect", help="summary table of a dataset folder or skeleton file")
    ins.add_argument("path", type=Path, help="a dataset folder, a skeleton file, or a prepared .npz")
    ins.add_argument("--per-class", action="store_true", help="also list sequences per class")
    ins.set_defaults(func=_inspect)

    from sadvae.data.registry import DATASETS

    prep = dsub.add_parser("prepare", help="read a dataset once and write the .npz cache training reads")
    prep.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    prep.add_argument("--root", required=True, type=Path, help="the dataset's folder")
    prep.add_argument("--out", required=True, type=Path, help="output .npz")
    prep.set_defaults(func=_prepare)


def summarize(ds: Dataset) -> list[tuple[str, str]]:
    """Rows (field, value) describing a dataset."""
    seqs = ds.sequences
    frames = np.array([s.num_frames for s in seqs]) if seqs else np.zeros(1, dtype=int)
    persons = Counter(s.num_persons for s in seqs)
    fps = Counter(s.fps for s in seqs)
    labels = {s.label for s in seqs if s.label is not None}
    defects = sum(1 for s in seqs if s.defects)
    rows = [
        ("dataset", ds.name),
        ("sequences", str(len(seqs))),
        ("classes", f"{len(labels)} labelled of {len(ds.class_names)} named" if ds.class_names else str(len(labels))),
        ("frames total", str(int(frames.sum()))),
        ("frames min / median / max", f"{frames.min()} / {int(np.median(frames))} / {frames.max()}"),
        ("persons", ", ".join(f"{k}: {v}" for k, v in sorted(persons.items()))),
        ("fps", ", ".join(f"{k:g}: {v}" for k, v in sorted(fps.items()))),
        ("subjects", str(len({s.subject for s in seqs if s.subject is not None}))),
        ("views", str(len({s.view for s in seqs if s.view is not None}))),
        ("sequences with repairs", str(defects)),
        ("rejected", str(len(ds.rejected))),
    ]
    if ds.protocol:
        rows.append(("protocol", ds.protocol))
    return rows


def format_table(rows: list[tuple[str, ...]], header: tuple[str, ...] | None = None) -> str:
    all_rows = ([header] if header else []) + rows
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(all_rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in all_rows]
    if header:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _inspect(args: argparse.Namespace) -> int:
    from sadvae.data.registry import read_path

    ds = read_path(args.path)
    print(format_table(summarize(ds), ("field", "value")))
    if ds.rejected:
        print("\nrejected:")
        for src, reason in ds.rejected:
            print(f"  {src}: {reason}")
    repaired = [s for s in ds.sequences if s.defects]
    if repaired:
        print(f"\nrepairs ({len(repaired)} sequences):")
        for s in repaired[:20]:
            print(f"  {Path(s.source).name}: {'; '.join(s.defects)}")
        if len(repaired) > 20:
            print(f"  ... and {len(repaired) - 20} more")
    if args.per_class:
        counts = Counter(s.label for s in ds.sequences)
        names = ds.class_names
        rows = [
            (str(c), names[c] if names and c is not None and c < len(names) else "-", str(n))
            for c, n in sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
        ]
        print("\n" + format_table(rows, ("label", "name", "sequences")))
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from sadvae.data.registry import load_dataset, save_prepared

    ds = load_dataset(args.dataset, args.root)
    out = save_prepared(ds, args.out)
    print(format_table(summarize(ds), ("field", "value")))
    print(f"\nwrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
