"""Bring-your-own skeleton clips: the clip-folder format (docs/data_format.md), its validating reader and writer.

A dataset is a folder::

    my_actions/
      classes.txt        one class name per line, optionally "name | description"
      dataset.json       optional: {"name": "...", ...} (extra keys are kept for provenance)
      **/*.npz           one clip per file, at any depth, read in sorted path order

Each clip ``.npz`` holds (see ``docs/data_format.md`` for the full specification):

- ``joints``: float [T, M, 25, 3] (or [T, 25, 3] for one person), metres, NTU-25 joint order, Kinect camera
  frame (x right, y up, z away from the camera); an absent person or joint is all zeros.
- ``label``: the class name, a string listed in ``classes.txt``.
- ``fps`` (frames per second) and/or ``timestamps`` (float [T], seconds, strictly increasing).
- optional ``subject`` and ``view`` (integers >= 0) and ``split`` ("train" or "test").

Train/test side: when the clips carry ``split``, every clip must, and it decides; otherwise the training side
is the odd subjects (the MSR Action3D / UTKinect cross-subject protocol) and every clip needs ``subject``.

Every problem raises one :class:`~sadvae.errors.DataFormatError` naming the file, the field and the fix.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sadvae.data.record import Dataset, SkeletonSequence, clip_fingerprint
from sadvae.data.text_files import parse_json
from sadvae.errors import ConfigError, DataFormatError
from sadvae.labels import duplicate_key
from sadvae.skeleton import NUM_JOINTS

__all__ = [
    "CLASSES_FILE",
    "META_FILE",
    "CLIP_SPLIT_PROTOCOL",
    "ClassList",
    "is_clip_dataset",
    "is_recording",
    "read_recording",
    "read_classes",
    "read_clip",
    "read_clip_dataset",
    "read_single_clip",
    "write_clip",
    "write_clip_dataset",
    "check_clip_output",
    "clip_fingerprint",
    "dataset_class_names",
    "check_metres",
    "check_tracks",
    "timestamp_rate",
    "clip_train_side",
    "clip_test_side",
]

log = logging.getLogger(__name__)

CLASSES_FILE = "classes.txt"
META_FILE = "dataset.json"
CLIP_SPLIT_PROTOCOL = "clip_split"
MAX_CLASSES_BYTES = 1 << 20
MAX_ABS_METRES = 50.0  # a coordinate beyond this is millimetres or pixels, not metres
TIMESTAMP_FPS_RANGE = (1.0, 1000.0)  # frame rates clip timestamps may imply; outside it they are not seconds
SPLITS = ("train", "test")
_SPEC = "see docs/data_format.md"


@dataclass(frozen=True)
class ClassList:
    """A parsed ``classes.txt``.

    Attributes:
        names: class names in file order (the order defines the label ids).
        descriptions: one per name: the text after ``|``, or None.
    """

    names: tuple[str, ...]
    descriptions: tuple[str | None, ...]


def is_clip_dataset(path: str | Path) -> bool:
    """True when ``path`` looks like a clip folder (valid or not): a ``classes.txt`` plus a ``dataset.json`` or a
    ``.npz`` at the top level or one folder down (other datasets ship a ``classes.txt`` too)."""
    p = Path(path)
    if not (p.is_dir() and (p / CLASSES_FILE).is_file()):
        return False
    if (p / META_FILE).is_file():
        return True
    return next(p.glob("*.npz"), None) is not None or next(p.glob("*/*.npz"), None) is not None


def read_classes(path: str | Path) -> ClassList:
    """Parse ``classes.txt``: one ``name`` or ``name | description`` per line; ``#`` lines and blank lines skipped.

    Raises:
        DataFormatError: missing, too large, not UTF-8, no classes, an empty name, or a duplicate name (ignoring
            case and spacing).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, None, f"not found; write one class name per line ({_SPEC})")
    if path.stat().st_size > MAX_CLASSES_BYTES:
        raise DataFormatError(path, None, f"larger than {MAX_CLASSES_BYTES} bytes; it should list class names only")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataFormatError(path, f"line {line}", "not valid UTF-8 text; save the file as UTF-8") from None
    names: list[str] = []
    descs: list[str | None] = []
    first_line: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, desc = line.partition("|")
        name, desc = " ".join(name.split()), " ".join(desc.split())
        if not name:
            raise DataFormatError(path, f"line {n}", "empty class name before '|'; write 'name | description'")
        key = duplicate_key(name)  # the labels file's rule, so the file stays a valid `sadvae-live --labels` file
        if key in first_line:
            raise DataFormatError(
                path,
                f"line {n}",
                f"duplicate class {name!r} (also on line {first_line[key]}, the same name ignoring case, spacing, "
                "punctuation and Unicode forms); list each class once",
            )
        first_line[key] = n
        names.append(name)
        descs.append(desc or None if sep else None)
    if not names:
        raise DataFormatError(path, None, "lists no classes; write one class name per line")
    return ClassList(tuple(names), tuple(descs))


def _int_field(z, key: str, path: Path) -> int | None:
    if key not in z.files:
        return None
    arr = z[key]
    if arr.dtype.kind not in "iu" or arr.size != 1:
        raise DataFormatError(path, key, f"expected one integer >= 0, got {arr.dtype} {arr.shape}; save e.g. {key}=3")
    v = int(arr.reshape(()))
    if v < 0:
        raise DataFormatError(path, key, f"expected an integer >= 0, got {v}")
    return v


def _str_field(z, key: str, path: Path) -> str | None:
    if key not in z.files:
        return None
    arr = z[key]
    if arr.dtype.kind not in "US" or arr.size != 1:
        raise DataFormatError(path, key, f"expected one string, got {arr.dtype} {arr.shape}; save e.g. {key}='wave'")
    v = arr.reshape(()).item()
    return " ".join((v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)).split())


def _joints(z, path: Path) -> np.ndarray:
    if "joints" not in z.files:
        raise DataFormatError(path, "joints", f"missing; save joints=float32 array [T, M, 25, 3] in metres ({_SPEC})")
    j = z["joints"]
    if j.dtype.kind not in "fiu":
        raise DataFormatError(path, "joints", f"expected a float array, got dtype {j.dtype}")
    if j.ndim == 3:
        j = j[:, None]
    if j.ndim != 4 or j.shape[2:] != (NUM_JOINTS, 3):
        raise DataFormatError(
            path,
            "joints",
            f"expected shape [T, M, 25, 3] (or [T, 25, 3]), got {list(z['joints'].shape)}; "
            "use the NTU-25 joint order with x, y, z per joint",
        )
    if j.shape[0] == 0 or j.shape[1] == 0:
        raise DataFormatError(path, "joints", f"empty clip (shape {list(j.shape)}); drop the file or add frames")
    j = j.astype(np.float32)
    bad = ~np.isfinite(j)
    if bad.any():
        t, m, k, _ = np.argwhere(bad)[0]
        raise DataFormatError(
            path,
            "joints",
            f"{int(bad.sum())} NaN/inf values (first at frame {t}, person {m}, joint {k}); "
            "write a missing joint or person as 0, 0, 0",
        )
    if not np.abs(j).any():
        raise DataFormatError(path, "joints", "all zeros: no person in any frame; drop the clip")
    check_metres(path, j)
    return np.ascontiguousarray(j)


def check_metres(path: Path, joints: np.ndarray, field: str = "joints") -> None:
    """Refuse joints whose coordinates cannot be metres (beyond :data:`MAX_ABS_METRES`: millimetres or pixels)."""
    peak = float(np.abs(joints).max()) if joints.size else 0.0
    if peak > MAX_ABS_METRES:
        raise DataFormatError(
            path,
            field,
            f"a coordinate of {peak:.4g} is not metres (limit {MAX_ABS_METRES:g}); convert "
            "millimetres (divide by 1000) or pixels (lift to 3-D first) to metres",
        )


def _timing(z, path: Path, t: int) -> tuple[float, np.ndarray | None]:
    fps = None
    if "fps" in z.files:
        arr = z["fps"]
        if arr.dtype.kind not in "fiu" or arr.size != 1 or not np.isfinite(arr).all() or float(arr.reshape(())) <= 0:
            raise DataFormatError(path, "fps", f"expected one positive number (frames per second), got {arr!r}")
        fps = float(arr.reshape(()))
        low, high = TIMESTAMP_FPS_RANGE
        if not low <= fps <= high:  # 0.03 or 1e6 "fps" is a unit mistake: such a clip plays as a still or a blur
            raise DataFormatError(
                path, "fps", f"{fps:.4g} frames per second is outside {low:g}-{high:g}; save the camera's frame rate"
            )
    ts = None
    if "timestamps" in z.files:
        arr = z["timestamps"]
        if arr.dtype.kind not in "fiu" or arr.shape != (t,):
            raise DataFormatError(
                path, "timestamps", f"expected {t} numbers (seconds, one per frame), got {arr.dtype} {list(arr.shape)}"
            )
        ts = arr.astype(np.float64)
        if not np.isfinite(ts).all() or (t > 1 and not (np.diff(ts) > 0).all()):
            raise DataFormatError(path, "timestamps", "must be finite and strictly increasing (seconds per frame)")
        ts = ts - ts[0]
    if fps is None and ts is None:
        raise DataFormatError(path, "fps", "missing; save fps=30.0 (frames per second) or timestamps=[T] in seconds")
    if ts is not None and t > 1:
        implied = timestamp_rate(path, ts)
        # fps is the nominal (camera) rate: skeleton frames may be sparser (UTKinect's: 1/8 to 1/2 of it), never
        # denser
        if fps is not None and implied > 2.0 * fps:
            raise DataFormatError(
                path,
                "timestamps",
                f"their median step gives {implied:.4g} fps, more than twice the fps of {fps:g}; timestamps are "
                "seconds from the first frame: fix their unit or the fps",
            )
    if fps is None:
        if t < 2:
            raise DataFormatError(path, "fps", "missing, and one timestamp cannot give a frame rate; save fps too")
        fps = float(1.0 / np.median(np.diff(ts)))
    return fps, ts


def timestamp_rate(
    path: Path, ts: np.ndarray, field: str = "timestamps", fps_range: tuple[float, float] = TIMESTAMP_FPS_RANGE
) -> float:
    """The frame rate the timestamps' median step implies, refused outside ``fps_range`` (a step of 33 is
    milliseconds, not seconds: the clip would play 1000 times too slow, a static pose); ``field`` names them in the
    error."""
    step = float(np.median(np.diff(ts)))
    implied = 1.0 / step
    low, high = fps_range
    if low <= implied <= high:
        return implied
    hint = "timestamps are seconds from the first frame"
    for unit, factor, text in (
        ("milliseconds", 1e3, "1000"),
        ("microseconds", 1e6, "1e6"),
        ("nanoseconds", 1e9, "1e9"),
    ):
        if low <= factor / step <= high:
            hint = f"timestamps look like {unit}; divide by {text}"
            break
    raise DataFormatError(
        path,
        field,
        f"median step {step:.4g} between frames gives {implied:.4g} fps, outside {low:g}-{high:g} fps; {hint}",
    )


def read_clip(path: str | Path, classes: Sequence[str]) -> tuple[SkeletonSequence, str | None]:
    """Read one clip ``.npz``; returns the sequence (label = index in ``classes``) and its ``split`` (or None).

    Raises:
        DataFormatError: not an ``.npz``, corrupt, or a field is missing or malformed (named in the message).
    """
    from sadvae.data.numpy_files import NUMPY_READ_ERRORS, check_numpy_file

    path = Path(path)
    check_numpy_file(path, ".npz", f"save each clip with np.savez ({_SPEC})")
    try:
        with np.load(path, allow_pickle=False) as z:
            if {"format", "offsets"} <= set(z.files):
                raise DataFormatError(
                    path,
                    None,
                    "is a `sadvae data prepare` cache, not a clip; move it out of the clip folder (prepare's --out "
                    "belongs outside --root)",
                )
            joints = _joints(z, path)
            label = _str_field(z, "label", path)
            if label is None:
                raise DataFormatError(path, "label", "missing; save label='<class name from classes.txt>'")
            lookup = {c.casefold(): i for i, c in enumerate(classes)}
            if label.casefold() not in lookup:
                shown = ", ".join(classes[:12]) + (", ..." if len(classes) > 12 else "")
                raise DataFormatError(
                    path, "label", f"{label!r} is not in {CLASSES_FILE} ({shown}); add it there or fix the label"
                )
            fps, ts = _timing(z, path, joints.shape[0])
            subject, view = _int_field(z, "subject", path), _int_field(z, "view", path)
            split = _str_field(z, "split", path)
            if split is not None and split not in SPLITS:
                raise DataFormatError(path, "split", f"expected 'train' or 'test', got {split!r}")
    except DataFormatError:
        raise
    except (*NUMPY_READ_ERRORS, TypeError) as e:
        msg = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        if "allow_pickle" in msg:
            raise DataFormatError(
                path, None, "holds a Python object (pickled) array; save plain numbers and strings with np.savez"
            ) from None
        raise DataFormatError(path, None, f"corrupt or unreadable .npz ({msg}); save it again with np.savez") from None
    c = lookup[label.casefold()]
    regular = ts is None or np.allclose(ts, np.arange(len(ts)) / fps, atol=1e-6)
    seq = SkeletonSequence(
        joints=joints,
        fps=fps,
        source=str(path),
        label=c,
        label_name=classes[c],
        subject=subject,
        view=view,
        timestamps=None if regular else ts,
    )
    return seq, split


def read_single_clip(path: str | Path) -> Dataset:
    """One clip ``.npz`` on its own (``sadvae data inspect``, ``sadvae-live --replay``): its label is checked against
    the ``classes.txt`` of the clip folder it lies in, when there is one.

    Raises:
        DataFormatError: as :func:`read_clip`.
    """
    path = Path(path)
    folder = next((d for d in path.resolve().parents[:4] if is_clip_dataset(d)), None)
    if folder is not None:
        classes = read_classes(folder / CLASSES_FILE).names
    else:
        from sadvae.data.numpy_files import NUMPY_READ_ERRORS, check_numpy_file

        check_numpy_file(path, ".npz", f"save each clip with np.savez ({_SPEC})")
        try:
            with np.load(path, allow_pickle=False) as z:
                label = _str_field(z, "label", path)
        except (*NUMPY_READ_ERRORS, TypeError):
            label = None  # read_clip reports it
        classes = (label,) if label else ()
    seq, split = read_clip(path, classes)
    return Dataset(path.name.split(".")[0], tuple(classes), [_with_split(seq, split) if split else seq])


def read_clip_dataset(root: str | Path) -> Dataset:
    """Read a clip folder (``classes.txt`` + ``*.npz`` clips) into a :class:`Dataset`.

    The returned dataset's ``protocol`` is :data:`CLIP_SPLIT_PROTOCOL` when the clips carry ``split`` (see
    :func:`clip_train_side`) and ``"cross_subject_odd"`` otherwise.

    Raises:
        ConfigError: ``root`` is not a folder.
        DataFormatError: the first malformed file (``classes.txt``, ``dataset.json`` or a clip), a class without
            clips, no clips, or clips that mix having and lacking ``split`` / ``subject``.
    """
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a folder; pass a folder holding {CLASSES_FILE} and the clip .npz files")
    classes = read_classes(root / CLASSES_FILE)
    name = root.resolve().name
    meta_path = root / META_FILE
    if meta_path.exists():
        if not meta_path.is_file():
            raise DataFormatError(meta_path, None, "is not a file; the optional dataset.json must be a JSON file")
        try:
            meta = parse_json(meta_path.read_text(encoding="utf-8"), meta_path)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataFormatError(
                meta_path, None, f"not valid JSON ({e}); fix it or delete the optional file"
            ) from None
        if not isinstance(meta, dict) or not isinstance(meta.get("name", ""), str):
            raise DataFormatError(meta_path, "name", 'expected a JSON object like {"name": "my_actions"}')
        name = meta.get("name") or name
    files = sorted(p for p in root.rglob("*.npz") if p.is_file())
    if not files:
        raise DataFormatError(root, None, f"no clip .npz files here; write one per clip ({_SPEC})")
    seqs, splits = [], []
    for f in files:
        seq, split = read_clip(f, classes.names)
        seqs.append(seq)
        splits.append(split)
    counts = np.bincount([s.label for s in seqs], minlength=len(classes.names))
    empty = [classes.names[c] for c in np.flatnonzero(counts == 0)]
    if empty:
        raise DataFormatError(
            root / CLASSES_FILE, None, f"classes without any clip: {', '.join(empty)}; add clips or remove them"
        )
    with_split = [s is not None for s in splits]
    if any(with_split) and not all(with_split):
        raise DataFormatError(
            files[with_split.index(False)],
            "split",
            "missing while other clips have it; give every clip split='train'/'test'",
        )
    if all(with_split):
        protocol = CLIP_SPLIT_PROTOCOL
        seqs = [_with_split(s, sp) for s, sp in zip(seqs, splits, strict=True)]
    else:
        protocol = "cross_subject_odd"
        for f, s in zip(files, seqs, strict=True):
            if s.subject is None:
                raise DataFormatError(
                    f,
                    "subject",
                    "missing: without 'split' the odd subjects train and the even ones test, so every "
                    "clip needs subject=<int>; or give every clip split='train'/'test'",
                )
    log.info("%s: %d clips of %d classes (%s)", root, len(seqs), len(classes.names), protocol)
    ds = Dataset(name, classes.names, seqs, [], protocol)
    from sadvae.data.quality import log_clip_warnings

    log_clip_warnings(ds, str(root), clip_test_side(ds))
    return ds


def _with_split(seq: SkeletonSequence, split: str) -> SkeletonSequence:
    from dataclasses import replace

    return replace(seq, split=split)


def clip_train_side(ds: Dataset) -> np.ndarray:
    """Boolean [n]: True for sequences whose ``split`` is "train" (the :data:`CLIP_SPLIT_PROTOCOL` protocol)."""
    return np.array([getattr(s, "split", None) == "train" for s in ds.sequences], dtype=bool)


def clip_test_side(ds: Dataset) -> np.ndarray:
    """Boolean [n]: True for a clip folder's test side: ``split == "test"`` when its clips carry a split, else the
    even subjects (odd subjects train: the ``cross_subject_odd`` protocol)."""
    if ds.protocol == CLIP_SPLIT_PROTOCOL:
        return ~clip_train_side(ds)
    return np.array([s.subject is not None and s.subject % 2 == 0 for s in ds.sequences], dtype=bool)


def write_clip(
    path: str | Path,
    joints: np.ndarray,
    label: str,
    fps: float,
    subject: int | None = None,
    view: int | None = None,
    split: str | None = None,
    timestamps: np.ndarray | None = None,
    source: str | None = None,
) -> Path:
    """Write one clip ``.npz`` (uncompressed ``np.savez``; no pickle).

    Args:
        path: output file (``.npz``).
        joints: [T, M, 25, 3] metres, NTU-25 order, Kinect camera frame.
        label: class name (must be listed in the folder's ``classes.txt``).
        fps: frames per second (nominal when ``timestamps`` is given).
        subject, view: ids >= 0, or None.
        split: "train", "test" or None.
        timestamps: [T] seconds, or None for evenly spaced frames.
        source: where the clip came from (kept as provenance; not read back).
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "joints": np.asarray(joints, dtype=np.float32),
        "label": np.array(label),
        "fps": np.array(float(fps)),
    }
    for key, val in (("subject", subject), ("view", view)):
        if val is not None:
            arrays[key] = np.array(int(val), dtype=np.int64)
    if split is not None:
        arrays["split"] = np.array(split)
    if timestamps is not None:
        arrays["timestamps"] = np.asarray(timestamps, dtype=np.float64)
    if source is not None:
        arrays["source"] = np.array(source)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def _write_classes(path: Path, names: Sequence[str], descriptions: Sequence[str | None] | None = None) -> None:
    descs = list(descriptions) if descriptions is not None else [None] * len(names)
    lines = [f"{n} | {d}" if d else n for n, d in zip(names, descs, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "clip"


def check_clip_output(out: str | Path) -> bool:
    """Whether clips can go to ``out``: True for an existing clip folder (they are added to it), False for an
    absent or empty folder (a new clip folder is written). Reads no clip: callers check it before slow work.

    Raises:
        ConfigError: ``out`` is a file, a non-empty folder that is not a clip folder, or lies inside a file.
    """
    out = Path(out)
    if is_clip_dataset(out):
        return True
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out}: exists and is neither empty nor a clip folder; pass a new --out folder")
    above = next((p for p in out.absolute().parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise ConfigError(f"{out}: {above} is a file, not a folder; pass an --out folder elsewhere")
    return False


def _clip_class_names(ds: Dataset) -> list[str]:
    """:func:`dataset_class_names` as ``classes.txt`` reads them back (spacing collapsed), checked to be writable.

    Raises:
        ConfigError: a name is empty, has a '|' or starts with '#', or two names differ only in case or spacing.
    """
    names = [" ".join(n.split()) for n in dataset_class_names(ds)]
    labels = {s.label for s in ds.sequences if s.label is not None}
    seen: dict[str, str] = {}
    for i, n in enumerate(names):
        if i not in labels:
            continue
        if not n or "|" in n or n.startswith("#"):
            raise ConfigError(
                f"{ds.name}: class name {n!r} cannot be written to {CLASSES_FILE} (empty, has a '|' or starts "
                "with '#'); rename the class (or pass --label NAME)"
            )
        if duplicate_key(n) in seen:
            raise ConfigError(
                f"{ds.name}: classes {seen[duplicate_key(n)]!r} and {n!r} differ only in case, spacing, punctuation "
                f"or Unicode form, which {CLASSES_FILE} cannot tell apart; rename one of them"
            )
        seen[duplicate_key(n)] = n
    return names


def _refuse_duplicates(out: Path, old: Dataset, new: Sequence[SkeletonSequence], prints: Sequence[str]) -> None:
    """Refuse clips whose content (``prints``: their :func:`clip_fingerprint`) the folder already holds: a second
    import of a recording would count it twice."""
    have: dict[str, str] = {}
    for s in old.sequences:
        have.setdefault(clip_fingerprint(s.joints), s.source)
    dups = [(s.source, have[fp]) for s, fp in zip(new, prints, strict=True) if fp in have]
    if dups:
        src, clip = dups[0]
        raise ConfigError(
            f"{out}: already holds {len(dups)} of the {len(new)} clips to import (e.g. {src} is "
            f"{os.path.relpath(clip, out)} there); adding them again would count them twice, possibly on both "
            "the train and the test side. Import only the new recordings, or pass a new --out folder"
        )


def _check_subjects(new: Sequence[SkeletonSequence], out: Path, append: bool) -> None:
    """Without ``split`` the odd subjects train and the even ones test: every clip needs a subject."""
    lack = [s for s in new if s.subject is None]
    if lack:
        where = f"the clips of {out} carry no split field, so" if append else "without a train/test split"
        raise ConfigError(
            f"{lack[0].source}: no subject (performer id), and {len(lack)} of {len(new)} sequences lack one; "
            f"{where} the odd subjects train and the even ones test, so every clip needs a subject: pass "
            "--subject N (or --split train|test)"
        )


def _make_parents(folder: Path) -> list[Path]:
    """Create the missing folders above ``folder``; returns them, deepest first, for :func:`_remove_empty`."""
    made = [p for p in folder.absolute().parents if not p.exists()]
    folder.absolute().parent.mkdir(parents=True, exist_ok=True)
    return made


def _remove_empty(folders: Sequence[Path]) -> None:
    for d in folders:
        try:
            d.rmdir()
        except OSError:
            return


def write_clip_dataset(
    ds: Dataset,
    out: str | Path,
    train_side: np.ndarray | None = None,
    meta: dict | None = None,
) -> dict:
    """Write a dataset as a clip folder: ``classes.txt``, ``dataset.json`` and ``clips/NNNNN_<source>.npz``.

    Labelled sequences only (the unlabelled ones are counted in the returned summary, never dropped silently);
    ``classes.txt`` lists the classes that have clips, in the dataset's order. When ``out`` already is a clip
    folder, the clips are added to it (new classes appended to its ``classes.txt``, the import recorded under
    ``"added"`` in its ``dataset.json``); the existing clips and the new ones must agree on carrying ``split``,
    and a clip whose joints the folder already holds (:func:`clip_fingerprint`) is refused.

    All or nothing: everything is checked first, the clips are written to a temporary folder beside ``out`` and
    read back with :func:`read_clip`, and only then moved into place, so a refused or failed import leaves
    ``out`` as it was (absent, empty, or the clip folder it was).

    Args:
        ds: the dataset.
        out: output folder: absent, empty, or an existing clip folder to add to.
        train_side: optional boolean [len(ds.sequences)]: each clip's ``split`` (True = "train").
        meta: extra provenance for ``dataset.json``.

    Returns:
        {"clips": written, "classes": n in the folder, "unlabelled": skipped sequences, "out": folder,
        "appended": bool, "added_to": the folder's dataset name when appended, "same_content": [(source,
        source)] pairs of new clips with the same joints (the source holds copies; both are written)}.

    Raises:
        ConfigError: ``out`` is a file or a non-empty folder that is not a clip folder, no sequence is labelled,
            a class name cannot be written, a clip lacks a subject where the split needs one, the new clips'
            ``split`` does not match the existing clips', the folder already holds one of the clips, or the
            folder cannot be written.
        DataFormatError: the existing clip folder is malformed, or a sequence fails the clip checks (the message
            names its source).
    """
    out = Path(out)
    append = check_clip_output(out)
    keep = [i for i, s in enumerate(ds.sequences) if s.label is not None]
    if not keep:
        raise ConfigError(f"{ds.name}: no labelled sequences to write; the format needs a label per clip (--label)")
    names = _clip_class_names(ds)
    new = [ds.sequences[i] for i in keep]
    used = sorted({names[s.label] for s in new}, key=lambda n: _first_index(names, n))
    prints = [clip_fingerprint(s.joints) for s in new]
    old = read_clip_dataset(out) if append else None
    if old is not None:
        has_split = old.protocol == CLIP_SPLIT_PROTOCOL
        if has_split != (train_side is not None):
            need = "carry split: pass --split train|test" if has_split else "carry no split: drop --split"
            raise ConfigError(f"{out}: its clips {need}")
        _refuse_duplicates(out, old, new, prints)
    if train_side is None:
        _check_subjects(new, out, append)
    first: dict[str, str] = {}
    same: list[tuple[str, str]] = []
    for s, fp in zip(new, prints, strict=True):
        if fp in first:
            same.append((s.source, first[fp]))
        first.setdefault(fp, s.source)
    if old is not None:  # a name the folder has, however written ("wave-hands" for "wave hands"), is its class
        # (until 7 December 2026 only case was ignored here: the import wrote both names, and the folder's
        # classes.txt, which ignores punctuation too, no longer read)
        known = {duplicate_key(c) for c in old.class_names}
        used = list(old.class_names) + [n for n in used if duplicate_key(n) not in known]
    canonical = {duplicate_key(n): n for n in used}
    start = _next_clip_number(out) if old is not None else 0
    width = max(5, len(str(start + len(keep))))
    clip_names = []
    for k, s in enumerate(new, start):
        base, _, segment = Path(s.source).name.partition("#")
        clip_names.append(f"{k:0{width}d}_{_slug(base.split('.')[0] + (f'_{segment}' if segment else ''))}.npz")
    meta_out = _meta(out, ds, meta, len(new)) if old is not None else None
    try:
        made = _make_parents(out)
        stage = Path(tempfile.mkdtemp(dir=out.absolute().parent, prefix=f".{out.name}.import-"))
    except OSError as e:
        raise ConfigError(f"{out}: cannot create the folder ({e.strerror or e}); pass an --out you can write") from None
    try:
        _write_classes(stage / CLASSES_FILE, used, _descriptions(out / CLASSES_FILE, used) if old is not None else None)
        try:
            read_classes(stage / CLASSES_FILE)  # the folder's reader accepts its classes, before anything reaches out
        except DataFormatError as e:
            raise DataFormatError(out / CLASSES_FILE, e.where, f"{e.problem} (nothing was written to {out})") from None
        if meta_out is None:
            meta_out = {"name": ds.name, "format": "sadvae-clips", "version": 1, **(meta or {})}
        (stage / META_FILE).write_text(json.dumps(meta_out, indent=1) + "\n", encoding="utf-8")
        for i, s, name in zip(keep, new, clip_names, strict=True):
            split = None if train_side is None else ("train" if train_side[i] else "test")
            f = write_clip(
                stage / "clips" / name,
                s.joints,
                canonical[duplicate_key(names[s.label])],
                s.fps,
                subject=s.subject,
                view=s.view,
                split=split,
                timestamps=s.timestamps,
                source=s.source,
            )
            try:
                read_clip(f, used)  # the reader accepts what was written, before anything reaches out
            except DataFormatError as e:
                raise DataFormatError(s.source, e.where, f"{e.problem} (nothing was written to {out})") from None
        if old is None:
            _move_folder(stage, out)
        else:
            _move_in(stage, out, clip_names)
    except OSError as e:
        _remove_empty(made)
        raise ConfigError(f"{out}: cannot write the clips ({e.strerror or e}); nothing was written") from None
    except BaseException:
        _remove_empty(made)
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return {
        "clips": len(keep),
        "classes": len(used),
        "unlabelled": len(ds.sequences) - len(keep),
        "out": str(out),
        "appended": old is not None,
        "added_to": old.name if old is not None else None,
        "same_content": same,
    }


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _next_clip_number(out: Path) -> int:
    """One past the highest ``NNNNN_`` number in ``out/clips`` (new clips never take an existing name)."""
    numbers = [int(m.group(1)) for p in (out / "clips").glob("*.npz") if (m := re.match(r"(\d+)_", p.name))]
    return max(numbers, default=-1) + 1


def _meta(out: Path, ds: Dataset, meta: dict | None, clips: int) -> dict:
    """The existing ``dataset.json`` with this import appended to its ``"added"`` list (provenance)."""
    path = out / META_FILE
    old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}  # read_clip_dataset checked it
    added = old.get("added") if isinstance(old.get("added"), list) else []
    return {**old, "added": [*added, {"name": ds.name, "clips": clips, **(meta or {})}]}


def _move_folder(stage: Path, out: Path) -> None:
    """Rename the staged folder to ``out`` (absent or empty), in one step."""
    os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes 0700; give the folder the usual permissions
    was_empty = out.is_dir()
    if was_empty:
        out.rmdir()  # empty (checked): the staged folder takes its place
    try:
        os.replace(stage, out)
    except BaseException:
        if was_empty:
            out.mkdir(exist_ok=True)
        raise


def _move_in(stage: Path, out: Path, clip_names: Sequence[str]) -> None:
    """Move staged clips into ``out/clips``, then replace ``dataset.json`` and ``classes.txt``; on an error the
    clips already moved are taken out again and the old ``dataset.json`` is put back, so ``out`` is as it was."""
    meta = out / META_FILE
    old_meta = meta.read_bytes() if meta.is_file() else None
    made_clips = not (out / "clips").exists()
    (out / "clips").mkdir(exist_ok=True)
    moved: list[Path] = []
    try:
        for name in clip_names:
            dst = out / "clips" / name
            if dst.exists():
                raise FileExistsError(17, "a clip of that name exists already", str(dst))
            os.replace(stage / "clips" / name, dst)
            moved.append(dst)
        os.replace(stage / META_FILE, meta)
        os.replace(stage / CLASSES_FILE, out / CLASSES_FILE)
    except BaseException:
        for dst in moved:
            dst.unlink(missing_ok=True)
        if made_clips:
            _remove_empty([out / "clips"])
        if old_meta is None:
            meta.unlink(missing_ok=True)
        else:
            meta.write_bytes(old_meta)
        raise


def _descriptions(path: Path, names: Sequence[str]) -> list[str | None]:
    """The descriptions of an existing ``classes.txt`` for ``names`` (None for the new ones)."""
    old = read_classes(path)
    by_name = {duplicate_key(n): d for n, d in zip(old.names, old.descriptions, strict=True)}
    return [by_name.get(duplicate_key(n)) for n in names]


def is_recording(path: str | Path) -> bool:
    """True for an unlabelled skeleton recording ``.npz`` (``joints`` + ``times``, as ``sadvae-live
    --record-skeleton`` and ``realtime.sources.replay.save_recording`` write it)."""
    from sadvae.data.numpy_files import NUMPY_READ_ERRORS

    p = Path(path)
    if p.suffix != ".npz" or not p.is_file():
        return False
    try:
        with np.load(p, allow_pickle=False) as z:
            return {"joints", "times"} <= set(z.files) and "label" not in z.files
    except NUMPY_READ_ERRORS:
        return False


def read_recording(path: str | Path) -> Dataset:
    """Read a recording as unlabelled sequences, one per track (a person column, or with a ``tracks`` array the
    frames of a column that one track holds), cut to the frames it is present.

    Raises:
        DataFormatError: not an ``.npz``, ``joints`` / ``times`` missing or malformed.
    """
    from sadvae.data.numpy_files import NUMPY_READ_ERRORS, check_numpy_file

    path = Path(path)
    check_numpy_file(path, ".npz", "record it again with sadvae-live --record-skeleton")
    try:
        with np.load(path, allow_pickle=False) as z:
            joints = _joints(z, path)
            if "times" not in z.files:
                raise DataFormatError(path, "times", "missing; a recording holds joints and times (seconds)")
            times = z["times"]
            tracks = z["tracks"] if "tracks" in z.files else None
    except DataFormatError:
        raise
    except (*NUMPY_READ_ERRORS, TypeError) as e:
        msg = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise DataFormatError(path, None, f"corrupt or unreadable .npz ({msg}); record it again") from None
    if tracks is not None:
        check_tracks(path, tracks, joints)
    if times.dtype.kind not in "fiu" or times.shape != (joints.shape[0],):
        raise DataFormatError(path, "times", f"expected {joints.shape[0]} seconds, one per frame, got {times.shape}")
    times = times.astype(np.float64)
    if not np.isfinite(times).all() or (len(times) > 1 and not (np.diff(times) > 0).all()):
        raise DataFormatError(path, "times", "must be finite and strictly increasing (seconds per frame)")
    if len(times) > 1 and (step := float(np.median(np.diff(times)))) > 1.0:  # under 1 fps: no camera's seconds
        raise DataFormatError(
            path, "times", f"frames are {step:g} apart (median): not seconds; milliseconds? divide them by 1000"
        )
    seqs, rejected = [], []
    # (column, frames of one track): a column per track, or, with ``tracks``, the tracks that took turns in a column
    if tracks is None:
        cuts = [(m, f"{path}#track{m}", np.ones(len(times), bool)) for m in range(joints.shape[1])]
    else:
        cuts = []
        for i in sorted(int(i) for i in np.unique(tracks) if i >= 0):
            where = tracks == i
            m = int(np.flatnonzero(where.any(0))[0])  # the column it was recorded in
            cuts.append((m, f"{path}#track{i}", where[:, m]))
    for m, src, mine in cuts:
        present = np.flatnonzero(np.abs(joints[:, m]).reshape(len(times), -1).any(1) & mine)
        if len(present) < 2:
            rejected.append((src, f"present in {len(present)} frame(s); a clip needs at least 2"))
            continue
        a, b = int(present[0]), int(present[-1]) + 1
        t = times[a:b] - times[a]
        fps = float(1.0 / np.median(np.diff(t)))
        regular = np.allclose(t, np.arange(b - a) / fps, atol=1e-3)
        clip = joints[a:b, m : m + 1] * mine[a:b, None, None, None]  # another track's frames inside the span: absent
        seqs.append(SkeletonSequence(np.ascontiguousarray(clip), fps, src, timestamps=None if regular else t))
    return Dataset(path.name.split(".")[0], (), seqs, rejected, "recording")


def check_tracks(path: Path, tracks: np.ndarray, joints: np.ndarray) -> None:
    """A recording's ``tracks`` [T, K] as ``sadvae-live --record-skeleton`` writes it: a track id (>= 0) per person
    column and frame, -1 where the column holds nobody; each track in one column; no joints where nobody is."""
    if tracks.shape != joints.shape[:2] or tracks.dtype.kind not in "iu" or (tracks.size and tracks.min() < -1):
        raise DataFormatError(
            path,
            "tracks",
            f"expected whole numbers >= -1 of shape {list(joints.shape[:2])} (a track id per person column and "
            f"frame, -1 for nobody), got {tracks.dtype} {list(tracks.shape)}; record it again",
        )
    for i in np.unique(tracks[tracks >= 0]):
        columns = np.flatnonzero((tracks == i).any(0))
        if len(columns) > 1:
            raise DataFormatError(
                path, "tracks", f"track {int(i)} is in person columns {columns.tolist()}; a track keeps one column"
            )
    stray = (tracks < 0) & np.abs(joints).reshape(joints.shape[:2] + (-1,)).any(-1)
    if stray.any():
        t, m = (int(v) for v in np.argwhere(stray)[0])
        raise DataFormatError(
            path,
            "tracks",
            f"{int(stray.sum())} frame(s) hold joints where the track is -1 (nobody), the first frame {t}, column {m}; "
            "give them their track's id",
        )


def _first_index(names: Sequence[str], name: str) -> int:
    return list(names).index(name)


def dataset_class_names(ds: Dataset) -> list[str]:
    """Names by label: the dataset's class list, else each sequence's ``label_name``, else ``class_<id>``."""
    top = max((s.label for s in ds.sequences if s.label is not None), default=-1)
    names = list(ds.class_names) + [""] * max(0, top + 1 - len(ds.class_names))
    for s in ds.sequences:
        if s.label is not None and not names[s.label] and s.label_name:
            names[s.label] = s.label_name
    names = [n or f"class_{i}" for i, n in enumerate(names)]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):  # the format needs unique names (ignoring case)
        if n.casefold() in seen:
            names[i] = f"{n} ({i})"
        seen[n.casefold()] = i
    return names
