"""Dataset names -> loaders, file-format detection, and the prepared ``.npz`` cache that training reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sadvae.data.numpy_files import NUMPY_READ_ERRORS, check_numpy_file
from sadvae.data.record import Dataset, SkeletonSequence
from sadvae.errors import ConfigError, DataFormatError
from sadvae.fileio import atomic_path

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "DatasetSource",
    "dataset_source",
    "dataset_key",
    "load_dataset",
    "read_path",
    "save_prepared",
    "load_prepared",
]

# 2: each sequence's train/test ``split`` is kept (format 1 dropped it); a format-1 cache is still read unless its
# protocol is the clips' own split, which it lost
CACHE_FORMAT = 2


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


def _bandai(root: Path) -> Dataset:
    from sadvae.data.mocap import load_bandai_namco

    return load_bandai_namco(root)


def _hdm05(root: Path) -> Dataset:
    from sadvae.data.mocap import load_hdm05

    return load_hdm05(root)


DATASETS: dict[str, DatasetSpec] = {
    "msr_action3d": DatasetSpec(_msr, "cross_subject_odd", "skeleton_sets/msr_action3d"),
    "nw_ucla": DatasetSpec(_ucla, "cross_view_12", "skeleton_sets/nw_ucla"),
    "utkinect": DatasetSpec(_utk, "cross_subject_odd", "skeleton_sets/utkinect_action3d"),
    "ntu": DatasetSpec(_ntu, "ntu_cross_subject", "ntu"),
    "bandai_namco": DatasetSpec(_bandai, "bandai_cross_style", "mocap/bandai_namco"),
    "hdm05": DatasetSpec(_hdm05, "hdm05_cross_subject", "mocap/hdm05"),
}


@dataclass(frozen=True)
class DatasetSource:
    """One set a recipe trains on: a registered dataset under the data root, or a user's clip folder.

    Attributes:
        key: the registry name, or the clip folder's absolute path (what bundles record and class tables key on).
        root: where its files lie.
    """

    key: str
    root: Path

    @property
    def registered(self) -> bool:
        return self.key in DATASETS

    def load(self) -> Dataset:
        return load_dataset(self.key, self.root)


def dataset_key(name: str) -> str:
    """A dataset as commands record it: a registered name as given, any other entry (a clip folder) as its absolute
    path, so a recorded config or report finds it again from any working directory."""
    path = Path(name).expanduser()
    return str(path.resolve()) if name not in DATASETS and path.exists() else name  # a typo stays a name


def dataset_source(name: str, data_root: str | Path) -> DatasetSource:
    """A recipe's ``--datasets`` entry as a :class:`DatasetSource`: a registered name (under ``data_root``) or the
    path of a clip folder (docs/data_format.md).

    Raises:
        ConfigError: neither, or a registered set missing under ``data_root``.
    """
    from sadvae.data.user_format import is_clip_dataset

    if name in DATASETS:
        root = Path(data_root) / DATASETS[name].default_root
        if not root.exists():
            raise ConfigError(
                f"{root}: {name} not found; pass --data-root, the folder holding skeleton_sets/ and mocap/"
            )
        return DatasetSource(name, root)
    folder = Path(name).expanduser()
    if is_clip_dataset(folder):
        return DatasetSource(str(folder.resolve()), folder.resolve())
    if folder.is_dir():
        hint = " (a folder, but no classes.txt with clips: see docs/data_format.md)"
    elif folder.exists():
        hint = " (a file: pass the clip folder, with its classes.txt, not one of its files)"
    elif "/" in name or "\\" in name:  # a path: a clip folder a bundle or config recorded, since moved or removed
        raise ConfigError(f"clip folder {name} not found (moved or removed?); pass the folder where it is now")
    else:
        import difflib

        close = difflib.get_close_matches(name, sorted(DATASETS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(
        f"unknown dataset {name!r}{hint}; pass a registered name ({', '.join(sorted(DATASETS))}) or the path of a "
        "clip folder (docs/data_format.md; `sadvae data import` makes one)"
    )


def load_dataset(name: str, root: str | Path) -> Dataset:
    """Load a registered dataset from ``root``; a prepared ``.npz`` cache or a clip folder (``classes.txt`` + clip
    ``.npz`` files, ``docs/data_format.md``) is accepted as ``root`` too; a cache must not record another registered
    dataset's name (ConfigError naming ``--root``)."""
    root = Path(root)
    if root.suffix == ".npz":
        ds = load_prepared(root)
        # a cache of another registered dataset read as this one trains and scores under the wrong name and protocol
        # (a cache prepared from a clip folder records that folder's name, and is read as before)
        if name in DATASETS and ds.name in DATASETS and ds.name != name:
            raise ConfigError(
                f"--root {root}: a prepared cache of {ds.name} ({len(ds.class_names)} classes), not of {name}; "
                f"pass --dataset {ds.name}, or --root the {name} data (`sadvae data prepare --dataset {name}`)"
            )
        return ds
    from sadvae.data.user_format import is_clip_dataset, read_clip_dataset

    if is_clip_dataset(root):
        return read_clip_dataset(root)
    if name not in DATASETS:
        if "/" in name or "\\" in name:  # a clip folder a bundle recorded by its path, since moved or removed
            if str(root) != name:  # another --root was given: say it is no clip folder
                raise ConfigError(
                    f"--root {root}: not a clip folder (no classes.txt and clips/ there); the data is the clip folder "
                    f"{name}: pass --root with that folder (where it is now)"
                )
            if Path(name).exists():  # the recorded folder is there, but no longer a clip folder
                raise ConfigError(
                    f"clip folder {name}: no longer a clip folder (no classes.txt and clips/ there); restore it, or "
                    "pass --root with the folder where its clips are now"
                )
            raise ConfigError(
                f"clip folder {name} not found (moved or removed?); pass --root with the folder where it is now"
            )
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
        from sadvae.data.user_format import is_clip_dataset, read_clip_dataset

        if is_clip_dataset(p):
            return read_clip_dataset(p)
        if (p / "MSRAction3DSkeletonReal3D").is_dir():
            return DATASETS["msr_action3d"].loader(p)
        if (p / "all_sqe").is_dir():
            return DATASETS["nw_ucla"].loader(p)
        if (p / "joints" / "actionLabel_modified.txt").exists():
            return DATASETS["utkinect"].loader(p)
        if any(p.glob("*.skeleton")) or any(p.glob("*.skeleton.npy")):
            return DATASETS["ntu"].loader(p)
        if (p / "set1" / "data").is_dir() or (p / "set2" / "data").is_dir():
            return DATASETS["bandai_namco"].loader(p)
        if (p / "train").is_dir() and any((p / "train").glob("*/*.amc")):
            return DATASETS["hdm05"].loader(p)
        if not any(p.iterdir()):
            raise ConfigError(f"{p}: the folder is empty; pass a folder or file of skeletons")
        if (p / "dataset.json").is_file() or (p / "clips").is_dir():  # a clip folder but for its class list
            raise ConfigError(
                f"{p / 'classes.txt'}: missing; a clip folder lists its classes there, one per line (optionally "
                "`name | description`), as docs/data_format.md shows"
            )
        raise ConfigError(
            f"{p}: no known dataset layout here (NTU .skeleton files, a Kinect set's or a mocap set's folder); pass a "
            "dataset folder or file"
        )
    if name.lower().endswith(".bvh"):
        from sadvae.data.mocap import read_bandai_bvh

        return _single("bandai_namco", read_bandai_bvh(p))
    if name.lower().endswith(".amc"):
        from sadvae.data.mocap import read_hdm05_amc

        return _single("hdm05", read_hdm05_amc(p))
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
        if keys == {"joints"}:  # neither: say what each needs (the clip reader's "label: missing" misled)
            raise DataFormatError(
                p,
                None,
                "holds only `joints`: a recording (sadvae-live --record-skeleton) also holds `times`, seconds per "
                "frame; a clip holds `label` and `fps` or `timestamps` (docs/data_format.md)",
            )
        if "joints" in keys:  # a recording (joints + times), else one clip of a clip folder, complete or not
            from sadvae.data.user_format import read_recording, read_single_clip

            recording = ("times" in keys or "tracks" in keys) and "label" not in keys  # `tracks`: recordings only
            return read_recording(p) if recording else read_single_clip(p)
        from sadvae.data.ntu import read_ctrgcn_npz

        return read_ctrgcn_npz(p)  # both halves, each sequence with its split
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
    supported = ".skeleton, .skeleton.npy, .npz, .json, .txt, .bvh, .amc"
    raise ConfigError(f"{p}: unknown skeleton file type; supported: {supported}")


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
        split=np.array([s.split or "" for s in seqs]),
        rejected=np.array([json.dumps(list(r)) for r in dataset.rejected] or [""]),
    )
    with atomic_path(out, suffix=".npz") as tmp:  # np.savez_compressed appends .npz to a path without it
        np.savez_compressed(tmp, **arrays)
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
    from sadvae.data.user_format import CLIP_SPLIT_PROTOCOL

    with np.load(path, allow_pickle=False) as z:
        missing = {"format", "meta", "joints", "times", "offsets", "fps", "label"} - set(z.files)
        if missing:
            raise DataFormatError(path, f"keys {sorted(missing)}", "missing; not a `sadvae data prepare` cache")
        fmt = int(z["format"])
        if fmt not in (1, CACHE_FORMAT):
            problem = f"cache format {fmt}, expected 1 or {CACHE_FORMAT}; re-run `sadvae data prepare`"
            raise DataFormatError(path, "format", problem)
        meta = json.loads(str(z["meta"]))
        if fmt == 1 and meta.get("protocol") == CLIP_SPLIT_PROTOCOL:
            raise DataFormatError(
                path,
                "format",
                "cache format 1 did not keep each clip's train/test split, which this dataset's protocol "
                "(clip_split) needs; "
                "re-run `sadvae data prepare`",
            )
        # each z[key] decompresses the whole member: read every array once, never per sequence
        joints, times, off = z["joints"], z["times"], z["offsets"]
        fps_all, labels, subjects, views = z["fps"], z["label"], z["subject"], z["view"]
        sources, defects = z["source"], z["defects"]
        splits = [str(v) for v in z["split"]] if fmt >= 2 else [""] * (len(off) - 1)
        rejected = [tuple(json.loads(str(r))) for r in z["rejected"] if str(r)]
    _check_prepared_lengths(path, meta, joints, times, off, fps_all, labels, subjects, views, sources, defects, splits)
    from sadvae.data.kinect_v1_files import check_metres

    # a cache is read as metres like every reader's output (a data-reader audit of 7 December 2026, late)
    check_metres(path, joints, fix="the readers check their files' units; re-run `sadvae data prepare`")
    odd = sorted(set(splits) - {"", "train", "test"})
    if odd:
        raise DataFormatError(
            path, "split", f"expected 'train', 'test' or '', found {odd[0]!r}; re-run `sadvae data prepare`"
        )
    names = meta["class_names"]
    seqs = []
    for i in range(len(off) - 1):
        a, b = int(off[i]), int(off[i + 1])
        t = times[a:b] - times[a]
        fps = float(fps_all[i])
        if not 0 < fps < float("inf"):  # the record refuses it too, after numpy's divide-by-zero warnings
            raise DataFormatError(path, "fps", f"clip {i} ({sources[i]}) has {fps:g}; re-run `sadvae data prepare`")
        regular = np.allclose(t, np.arange(b - a) / fps, atol=1e-6)
        lab, subj, view = int(labels[i]), int(subjects[i]), int(views[i])
        seqs.append(
            SkeletonSequence(
                joints=np.ascontiguousarray(joints[a:b]),
                fps=fps,
                source=str(sources[i]),
                label=None if lab < 0 else lab,
                label_name=names[lab] if 0 <= lab < len(names) else None,
                subject=None if subj < 0 else subj,
                view=None if view < 0 else view,
                timestamps=None if regular else t,
                defects=tuple(json.loads(str(defects[i]))),
                split=splits[i] or None,
            )
        )
    return Dataset(meta["name"], tuple(names), seqs, rejected, meta.get("protocol", ""))


def _check_prepared_lengths(path: Path, meta: dict, joints, times, off, *per_clip) -> None:
    """A cache whose arrays disagree (a truncated ``offsets`` dropped clips silently, a label outside the class list
    emptied a partition): one DataFormatError naming the file and the field."""
    fix = "re-run `sadvae data prepare`"
    if off.ndim != 1 or off.dtype.kind not in "iu" or len(off) < 1 or int(off[0]) != 0:
        raise DataFormatError(path, "offsets", f"expected a 1-D integer array of clip starts from 0; {fix}")
    if (np.diff(off) < 0).any():
        at = int(np.flatnonzero(np.diff(off) < 0)[0])
        raise DataFormatError(path, "offsets", f"decrease at clip {at} (a damaged cache); {fix}")
    frames = int(off[-1])
    for field, arr in (("joints", joints), ("times", times)):
        if len(arr) != frames:
            problem = f"{len(arr)} frames, but offsets ends at frame {frames} (a truncated or edited cache); {fix}"
            raise DataFormatError(path, field, problem)
    n = len(off) - 1
    names = ("fps", "label", "subject", "view", "source", "defects", "split")
    for field, arr in zip(names, per_clip, strict=True):
        if len(arr) != n:
            raise DataFormatError(path, field, f"{len(arr)} entries for the {n} clips that offsets lists; {fix}")
    labels, classes = per_clip[1], len(meta["class_names"])
    bad = np.flatnonzero((labels < -1) | (labels >= classes))
    if len(bad):
        i = int(bad[0])
        problem = (
            f"clip {i} ({per_clip[4][i]}) has label {int(labels[i])}, not a class id in [0, {classes}) of the cache's "
            f"{classes} class names (or -1 for none); {fix}"
        )
        raise DataFormatError(path, "label", problem)
