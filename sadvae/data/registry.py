"""Dataset names -> loaders, file-format detection, and the prepared ``.npz`` cache that training reads."""

from __future__ import annotations

import json
import tokenize
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sadvae.data.record import Dataset, SkeletonSequence
from sadvae.errors import ConfigError, DataFormatError

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "load_dataset",
    "read_path",
    "save_prepared",
    "load_prepared",
    "check_numpy_file",
    "NUMPY_READ_ERRORS",
]

CACHE_FORMAT = 1
_MAGIC = {".npz": (b"PK\x03\x04", b"PK\x05\x06"), ".npy": (b"\x93NUMPY",)}
# what np.load and reading an archive member raise on a truncated or corrupt file (a garbled .npy header is
# parsed as a Python literal, hence SyntaxError and TokenError)
NUMPY_READ_ERRORS = (
    OSError, ValueError, EOFError, KeyError, OverflowError, SyntaxError, tokenize.TokenError, zipfile.BadZipFile,
    zlib.error,
)  # fmt: skip


def check_numpy_file(path: Path, kind: str, fix: str = "restore the original file") -> None:
    """Refuse, before ``np.load`` sees it, anything but an existing file that starts as a ``kind`` file should.

    ``np.load`` unpickles (or advises ``allow_pickle=True``) for any file without the numpy magic; this check
    gives one clear error instead, and ``np.load`` is then always called with ``allow_pickle=False``.

    Args:
        path: the file.
        kind: ".npz" (a zip archive) or ".npy".
        fix: what the user should do, appended to the message.

    Raises:
        DataFormatError: missing, a folder, unreadable, empty or not a ``kind`` file.
    """
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except FileNotFoundError:
        raise DataFormatError(path, None, "file not found; check the path") from None
    except IsADirectoryError:
        raise DataFormatError(path, None, f"is a folder, expected a {kind} file; pass the file's path") from None
    except OSError as e:
        raise DataFormatError(path, None, f"cannot read the file ({e.strerror or e}); check its permissions") from None
    if not head.startswith(_MAGIC[kind]):
        found = "an empty file" if not head else f"bytes {head[:6]!r}"
        what = "zip archive" if kind == ".npz" else "numpy array file"
        raise DataFormatError(path, None, f"not a readable {kind} file: expected a {what}, found {found}; {fix}")


@dataclass(frozen=True)
class DatasetSpec:
    """How to load one dataset and evaluate on it.

    Attributes:
        loader: ``root -> Dataset``.
        protocol: the standard train/test protocol (a key of ``sadvae.data.splits.PROTOCOLS``).
        default_root: where the dataset lies relative to the project's ``../shared/data``.
    """

    loader: Callable[[Path], Dataset]
    protocol: str
    default_root: str


def _msr(root: Path) -> Dataset:
    from sadvae.data.kinect_v1 import load_msr_action3d

    return load_msr_action3d(root)


def _ucla(root: Path) -> Dataset:
    from sadvae.data.kinect_v1 import load_nw_ucla

    return load_nw_ucla(root)


def _utk(root: Path) -> Dataset:
    from sadvae.data.kinect_v1 import load_utkinect

    return load_utkinect(root)


def _ntu(root: Path) -> Dataset:
    from sadvae.data.ntu import load_ntu_dir

    return load_ntu_dir(root)


DATASETS: dict[str, DatasetSpec] = {
    "msr_action3d": DatasetSpec(_msr, "cross_subject_odd", "skeleton_sets/msr_action3d"),
    "nw_ucla": DatasetSpec(_ucla, "cross_view_12", "skeleton_sets/nw_ucla"),
    "utkinect": DatasetSpec(_utk, "cross_subject_odd", "skeleton_sets/utkinect_action3d"),
    "ntu": DatasetSpec(_ntu, "ntu_cross_subject", "ntu"),
}


def load_dataset(name: str, root: str | Path) -> Dataset:
    """Load a registered dataset from ``root``; a prepared ``.npz`` cache is accepted as ``root`` too."""
    root = Path(root)
    if root.suffix == ".npz":
        return load_prepared(root)
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
    if not root.exists():
        raise ConfigError(f"{root}: dataset folder not found; pass --root pointing at the {name} data")
    return DATASETS[name].loader(root)


def read_path(path: str | Path) -> Dataset:
    """Read any supported file or folder, detecting its format from its name and layout."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p}: no such file or folder")
    name = p.name
    if p.is_dir():
        if (p / "MSRAction3DSkeletonReal3D").is_dir():
            return DATASETS["msr_action3d"].loader(p)
        if (p / "all_sqe").is_dir():
            return DATASETS["nw_ucla"].loader(p)
        if (p / "joints" / "actionLabel_modified.txt").exists():
            return DATASETS["utkinect"].loader(p)
        if any(p.glob("*.skeleton")) or any(p.glob("*.skeleton.npy")):
            return DATASETS["ntu"].loader(p)
        raise ConfigError(f"{p}: no known dataset layout here; pass a dataset file or one of {sorted(DATASETS)}")
    if name.endswith(".skeleton"):
        from sadvae.data.ntu import read_ntu_skeleton

        return _single("ntu", read_ntu_skeleton(p))
    if name.endswith(".skeleton.npy"):
        from sadvae.data.ntu import read_txt2npy

        return _single("ntu_txt2npy", read_txt2npy(p))
    if name.endswith(".npz"):
        check_numpy_file(p, ".npz")
        try:
            with np.load(p, allow_pickle=False) as z:
                keys = set(z.files)
        except NUMPY_READ_ERRORS as e:
            raise DataFormatError(p, None, f"corrupt or truncated .npz archive ({_first_line(e)})") from None
        if "format" in keys and "offsets" in keys:
            return load_prepared(p)
        from sadvae.data.ntu import read_ctrgcn_npz

        return read_ctrgcn_npz(p)
    if name.endswith("_skeleton3D.txt"):
        from sadvae.data.kinect_v1 import read_msr_file

        return _single("msr_action3d", read_msr_file(p))
    if name.endswith(".json"):
        from sadvae.data.kinect_v1 import read_nw_ucla_file

        return _single("nw_ucla", read_nw_ucla_file(p))
    if name.startswith("joints_s") and name.endswith(".txt"):
        from sadvae.data.kinect_v1 import read_utkinect_joints

        return _single("utkinect", read_utkinect_joints(p))
    if name.endswith(".txt"):
        from sadvae.data.pku import read_pku_mmd

        return Dataset("pku_mmd", (), read_pku_mmd(p))
    raise ConfigError(f"{p}: unknown skeleton file type; supported: .skeleton, .skeleton.npy, .npz, .json, .txt")


def _single(name: str, seq: SkeletonSequence) -> Dataset:
    return Dataset(name, (), [seq])


def _first_line(e: BaseException) -> str:
    """The first line of an exception's message (library messages can run to paragraphs), or its type."""
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


def save_prepared(dataset: Dataset, out: str | Path) -> Path:
    """Write a dataset to one ``.npz`` (no pickle): joints concatenated over time plus per-sequence fields.

    The file is written to a temporary name and renamed, so a failed run leaves no partial cache.
    """
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"{out}: is a folder; pass the path of the .npz file to write")
    seqs = dataset.sequences
    if not seqs:
        raise ConfigError(f"{dataset.name}: no usable sequences to write to {out}")
    m = max(s.joints.shape[1] for s in seqs)
    padded = [
        s.joints if s.joints.shape[1] == m else np.pad(s.joints, ((0, 0), (0, m - s.joints.shape[1]), (0, 0), (0, 0)))
        for s in seqs
    ]
    offsets = np.cumsum([0] + [s.num_frames for s in seqs]).astype(np.int64)
    meta = {"name": dataset.name, "protocol": dataset.protocol, "class_names": list(dataset.class_names)}
    arrays = dict(
        format=np.array(CACHE_FORMAT),
        meta=np.array(json.dumps(meta)),
        joints=np.concatenate(padded).astype(np.float32),
        times=np.concatenate([s.times() for s in seqs]),
        offsets=offsets,
        fps=np.array([s.fps for s in seqs], dtype=np.float64),
        label=np.array([-1 if s.label is None else s.label for s in seqs], dtype=np.int64),
        subject=np.array([-1 if s.subject is None else s.subject for s in seqs], dtype=np.int64),
        view=np.array([-1 if s.view is None else s.view for s in seqs], dtype=np.int64),
        source=np.array([s.source for s in seqs]),
        defects=np.array([json.dumps(list(s.defects)) for s in seqs]),
        rejected=np.array([json.dumps(list(r)) for r in dataset.rejected] or [""]),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    try:
        np.savez_compressed(tmp, **arrays)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def load_prepared(path: str | Path) -> Dataset:
    """Read a cache written by :func:`save_prepared`.

    Raises:
        ConfigError: the file does not exist.
        DataFormatError: not an .npz, truncated or corrupt, or not a cache of this format (the key is named).
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: prepared dataset not found; create it with `sadvae data prepare`")
    fix = "re-run `sadvae data prepare`"
    check_numpy_file(path, ".npz", fix)
    try:
        return _read_prepared(path)
    except DataFormatError:
        raise
    except (*NUMPY_READ_ERRORS, IndexError, TypeError) as e:
        problem = f"corrupt or inconsistent cache ({type(e).__name__}: {_first_line(e)}); {fix}"
        raise DataFormatError(path, None, problem) from None


def _read_prepared(path: Path) -> Dataset:
    with np.load(path, allow_pickle=False) as z:
        missing = {"format", "meta", "joints", "times", "offsets", "fps", "label"} - set(z.files)
        if missing:
            raise DataFormatError(path, f"keys {sorted(missing)}", "missing; not a `sadvae data prepare` cache")
        if int(z["format"]) != CACHE_FORMAT:
            raise DataFormatError(path, "format", f"cache format {int(z['format'])}, expected {CACHE_FORMAT}")
        meta = json.loads(str(z["meta"]))
        joints, times, off = z["joints"], z["times"], z["offsets"]
        seqs = []
        for i in range(len(off) - 1):
            a, b = int(off[i]), int(off[i + 1])
            t = times[a:b] - times[a]
            fps = float(z["fps"][i])
            regular = np.allclose(t, np.arange(b - a) / fps, atol=1e-6)
            lab, subj, view = (int(z[k][i]) for k in ("label", "subject", "view"))
            seqs.append(
                SkeletonSequence(
                    joints=np.ascontiguousarray(joints[a:b]),
                    fps=fps,
                    source=str(z["source"][i]),
                    label=None if lab < 0 else lab,
                    label_name=meta["class_names"][lab] if 0 <= lab < len(meta["class_names"]) else None,
                    subject=None if subj < 0 else subj,
                    view=None if view < 0 else view,
                    timestamps=None if regular else t,
                    defects=tuple(json.loads(str(z["defects"][i]))),
                )
            )
        rejected = [tuple(json.loads(str(r))) for r in z["rejected"] if str(r)]
    return Dataset(meta["name"], tuple(meta["class_names"]), seqs, rejected, meta.get("protocol", ""))
