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
    ins.add_argument(
        "--bones", action="store_true", help="also print median bone lengths (m) and pose checks (upright, stature)"
    )
    ins.set_defaults(func=_inspect)

    from sadvae.data.registry import DATASETS

    prep = dsub.add_parser("prepare", help="read a dataset once and write the .npz cache training reads")
    prep.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    prep.add_argument("--root", required=True, type=Path, help="the dataset's folder")
    prep.add_argument("--out", required=True, type=Path, help="output .npz")
    prep.set_defaults(func=_prepare)

    imp = dsub.add_parser(
        "import", help="convert a dataset into a clip folder (classes.txt + one .npz per clip, docs/data_format.md)"
    )
    imp.add_argument(
        "src",
        help=f"a registered dataset ({', '.join(sorted(DATASETS))}; read from --root or ../shared/data), "
        "a dataset folder, or a skeleton file",
    )
    imp.add_argument("--root", type=Path, help="with a registered name: the dataset's folder")
    imp.add_argument("--out", required=True, type=Path, help="output folder: new, empty, or a clip folder to add to")
    imp.add_argument("--label", help="class name for unlabelled sequences (required for a --record-skeleton recording)")
    imp.add_argument("--subject", type=int, help="performer id for sequences without one")
    imp.add_argument("--view", type=int, help="view id for sequences without one")
    imp.add_argument("--split", choices=("train", "test"), help="put every clip on this side (replaces the protocol's)")
    imp.set_defaults(func=_import)


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
    if getattr(args, "bones", False):
        from sadvae.data.mocap.check import body_stats

        rows = [(k, f"{v:.3f}" if "%" not in k else f"{v:.1f}") for k, v in body_stats(ds).items()]
        print("\n" + format_table(rows, ("body measure (m, or %)", "median")))
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from sadvae.data.registry import load_dataset, save_prepared

    ds = load_dataset(args.dataset, args.root)
    out = save_prepared(ds, args.out)
    print(format_table(summarize(ds), ("field", "value")))
    print(f"\nwrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def _import(args: argparse.Namespace) -> int:
    from sadvae.cli.train import resolve_dataset
    from sadvae.data.registry import DATASETS, read_path
    from sadvae.data.splits import PROTOCOLS, protocol_mask
    from sadvae.data.user_format import (
        CLIP_SPLIT_PROTOCOL,
        clip_train_side,
        is_recording,
        read_clip_dataset,
        read_recording,
        write_clip_dataset,
    )
    from sadvae.errors import ConfigError

    if args.src in DATASETS:
        ds, root, key = resolve_dataset(args.src, args.root)
    else:
        if args.root is not None:
            raise ConfigError("--root is for registered dataset names; give a folder or file as SRC alone")
        root = Path(args.src)
        ds = read_recording(root) if is_recording(root) else read_path(root)
        key = ds.name if ds.name in DATASETS else None
    ds = _fill(ds, args)
    if args.split is not None:
        protocol, train_side = f"--split {args.split}", np.full(len(ds.sequences), args.split == "train")
    elif key is not None:
        protocol = DATASETS[key].protocol
        subj = np.array([-1 if s.subject is None else s.subject for s in ds.sequences])
        view = np.array([-1 if s.view is None else s.view for s in ds.sequences])
        train_side = protocol_mask(subj, view, protocol)
        group = subj if PROTOCOLS[protocol][0] == "subject" else view
        if (group < 0).any():
            print(f"note: {int((group < 0).sum())} sequences lack the {protocol} group; writing no split field")
            train_side = None
    elif ds.protocol == CLIP_SPLIT_PROTOCOL:
        protocol, train_side = ds.protocol, clip_train_side(ds)
    else:
        protocol, train_side = "none", None
        print(f"note: no standard train/test protocol is known for {ds.name}; the clips get no split field")
    meta = {"source": str(root), "protocol": protocol, "source_protocol": ds.protocol}
    summary = write_clip_dataset(ds, args.out, train_side, meta)
    back = read_clip_dataset(args.out)  # validate what was written
    print(format_table(summarize(back), ("field", "value")))
    sides = ""
    if train_side is not None:
        kept = [i for i, s in enumerate(ds.sequences) if s.label is not None]
        n_train = int(np.asarray(train_side)[kept].sum())
        sides = f", split {n_train} train / {len(kept) - n_train} test ({protocol})"
    verb = "added" if summary["appended"] else "wrote"
    print(f"\n{verb} {summary['clips']} clips to {args.out} (now {summary['classes']} classes){sides}")
    if summary["unlabelled"]:
        print(f"skipped {summary['unlabelled']} unlabelled sequences (the format needs a label per clip: --label)")
    if ds.rejected:
        print(f"the reader refused {len(ds.rejected)} files or tracks (see `sadvae data inspect {root}`)")
    return 0


def _fill(ds: Dataset, args: argparse.Namespace) -> Dataset:
    """Apply --label / --subject / --view to the sequences that lack them."""
    from dataclasses import replace

    from sadvae.data.user_format import dataset_class_names
    from sadvae.errors import ConfigError

    for flag in ("subject", "view"):
        if getattr(args, flag) is not None and getattr(args, flag) < 0:
            raise ConfigError(f"--{flag} must be an integer >= 0, got {getattr(args, flag)}")
    names = dataset_class_names(ds) if any(s.label is not None for s in ds.sequences) else list(ds.class_names)
    label = None
    if args.label is not None:
        name = " ".join(args.label.split())
        if not name or "|" in name:
            raise ConfigError(f"--label {args.label!r}: give a class name (no '|')")
        low = [n.casefold() for n in names]
        label = low.index(name.casefold()) if name.casefold() in low else len(names)
        names += [name] if label == len(names) else []
    seqs = []
    for s in ds.sequences:
        changes = {}
        if s.label is None and label is not None:
            changes.update(label=label, label_name=names[label])
        if s.subject is None and args.subject is not None:
            changes["subject"] = args.subject
        if s.view is None and args.view is not None:
            changes["view"] = args.view
        seqs.append(replace(s, **changes) if changes else s)
    return Dataset(ds.name, tuple(names), seqs, ds.rejected, ds.protocol)
