"""Backbone features of whole datasets, cached on disk so that heads can be compared cheaply.

One cache file per (backbone, weights, dataset, preprocessing): ``<cache_dir>/<dataset>-<key>.npz``
(plain arrays, no pickle) holding, for every sequence of the dataset in reader order, the clip
feature ``feats [n, d]``, the backbone's own classifier logits ``logits [n, K]`` (K = 0 when it has
none), the label, subject, view and whether the clip is on the test side of the dataset's standard
protocol. Extraction runs in chunks that are written as they finish, so an interrupted run resumes;
a finished file is reused without even reading the dataset again.

An *extractor* is anything with ``id`` (names the backbone and its weights, e.g. ``shiftgcn:0d17f748...``),
``settings`` (a JSON-able dict of the preprocessing and windowing) and ``__call__(seqs) -> (feats, logits)``.
Defined here: :class:`BundleExtractor` (the ST-GCN of a model bundle, its centre window, as ``sadvae eval``
reads it), :class:`ShiftGCNExtractor` (the NTU-pretrained Shift-GCN, frozen) and :class:`EnsembleExtractor`
(several released checkpoints as one backbone: ``--weights ntu120_xsub+ntu120_xsetup``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sadvae.data.record import Dataset, SkeletonSequence
from sadvae.data.splits import dataset_arrays, test_side_mask
from sadvae.errors import ConfigError
from sadvae.fileio import atomic_path

__all__ = [
    "FeatureSet",
    "Extractor",
    "BundleExtractor",
    "ShiftGCNExtractor",
    "EnsembleExtractor",
    "shiftgcn_extractor",
    "load_shiftgcn",
    "file_digest",
    "dataset_fingerprint",
    "code_fingerprint",
    "cached_features",
    "default_feature_dir",
]

log = logging.getLogger(__name__)

_FORMAT = 1
_REPO = Path(__file__).resolve().parents[1]


def default_feature_dir() -> Path:
    """``runs/features`` in the project (an ignored folder)."""
    return _REPO / "runs" / "features"


class Extractor(Protocol):
    """What :func:`cached_features` needs of a backbone."""

    id: str
    settings: dict

    def __call__(self, seqs: Sequence[SkeletonSequence]) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class FeatureSet:
    """Cached features of one dataset.

    Attributes:
        dataset: registry name.
        class_names: the dataset's class names (``labels`` index them).
        feats: float32 [n, d] clip features.
        logits: float32 [n, K] the backbone's own classifier logits (K = 0: none).
        labels: int64 [n] class ids (-1 unlabelled); subjects, views: int64 [n] (-1 unknown).
        test_side: bool [n] on the test side of the dataset's standard protocol.
        extractor: the extractor's id; settings: its preprocessing / windowing.
        path: the cache file.
    """

    dataset: str
    class_names: tuple[str, ...]
    feats: np.ndarray
    logits: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    views: np.ndarray
    test_side: np.ndarray
    extractor: str
    settings: dict
    path: Path | None = None

    def subset(self, mask: np.ndarray) -> FeatureSet:
        """The rows where ``mask`` is True (same class list)."""
        m = np.asarray(mask)
        return FeatureSet(
            self.dataset,
            self.class_names,
            self.feats[m],
            self.logits[m],
            self.labels[m],
            self.subjects[m],
            self.views[m],
            self.test_side[m],
            self.extractor,
            self.settings,
            self.path,
        )


def file_digest(path: str | Path, n: int = 16) -> str:
    """First ``n`` hex digits of the sha256 of a file."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:n]


# the code whose output a feature cache stores (reading, preprocessing, splits, windowing, the network and its
# weights' loading, augmentation): a change to any of it makes cached features stale
_FEATURE_CODE = (
    "data",  # every reader, the splits (test_side is stored), the record and preprocessing
    "skeleton.py",
    "features.py",
    "train/window_features.py",
    "train/augment.py",
    "models/shiftgcn.py",
    "models/pretrained.py",
    "models/batchnorm_stats.py",
)


def _torch_version() -> str:
    """``torch.__version__`` (features are float results of its kernels), or ``"none"`` without torch."""
    try:
        import torch
    except ImportError:
        return "none"
    return str(torch.__version__)


def code_fingerprint(dataset: str) -> str:
    """sha256 (16 hex) of the source files whose output a dataset's cached features hold, and of the torch version.

    Every ``sadvae/data/**/*.py`` (readers, preprocessing, splits), the skeleton helpers, the windowing and
    extraction code (this module, :mod:`sadvae.train.window_features`, :mod:`sadvae.train.augment`) and the
    Shift-GCN code (``models/shiftgcn.py``, ``models/pretrained.py``, ``models/batchnorm_stats.py``). ``dataset``
    is kept for the callers; every dataset shares the key.
    """
    pkg = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for rel in _FEATURE_CODE:
        path = pkg / rel
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            if f.is_file():
                h.update(f.relative_to(pkg).as_posix().encode())
                h.update(f.read_bytes())
    h.update(f"torch {_torch_version()}".encode())
    return h.hexdigest()[:16]


# what the caches write (``<name>-<16 hex key>.npz``, its ``.parts`` folder, an atomic write's temporary file): a
# feature folder inside the data folder must not change the data's fingerprint with every cache it writes
_CACHE_FILE = re.compile(r".+-[0-9a-f]{16}\.npz|\..+\.tmp\.npz")
_CACHE_PARTS = re.compile(r".+-[0-9a-f]{16}\.parts")


# (path, size, mtime, ctime, inode) -> content digest: each file is read once per process however often it is keyed
# (the ctime changes with every write, even one that restores the old mtime as ``cp -p`` does)
_DIGESTS: dict[tuple[str, int, int, int, int], str] = {}


def _content_digest(f: Path, st: os.stat_result) -> str:
    """``f``'s content digest. The key holds what a file says, not when it was written: an unpacked archive or a
    re-mounted share gives every file new times, and a key with the mtime in it threw away caches that took 15
    minutes per window length to extract."""
    key = (str(f), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    if (digest := _DIGESTS.get(key)) is None:
        try:
            digest = file_digest(f)
        except OSError:  # unreadable: the reader says so when it gets there; its name and size still count
            return "unreadable"
        _DIGESTS[key] = digest
    return digest


def _tree_listing(root: Path) -> bytes:
    """Every file under ``root`` (recursively, sorted; feature caches left out): relative path, size and content
    digest, one a line."""
    rows = []
    for top, dirs, files in os.walk(root, followlinks=True):  # a linked sub-folder of clips is the dataset's too
        dirs[:] = [d for d in dirs if not _CACHE_PARTS.fullmatch(d)]
        for name in files:
            if _CACHE_FILE.fullmatch(name):
                continue
            f = Path(top) / name
            try:
                st = f.stat()
            except OSError:  # a dangling link: its name still counts
                rows.append(f"{f.relative_to(root).as_posix()}:missing")
                continue
            rows.append(f"{f.relative_to(root).as_posix()}:{st.st_size}:{_content_digest(f, st)}")
    return "\n".join(sorted(rows)).encode()


def dataset_fingerprint(root: str | Path, dataset: str | None = None) -> str:
    """Identifies a dataset copy: its resolved path, its ``SHA256SUMS`` / ``MANIFEST*`` when present, every file
    under it (relative path, size, content digest: an edited or added clip is read again, checksums or not, while
    new file times alone, as a re-mounted share or a copy restored to the same path gives, keep the key) and, with
    ``dataset``, the code whose output the caches hold (:func:`code_fingerprint`)."""
    root = Path(root).resolve()
    h = hashlib.sha256(str(root).encode())
    if dataset is not None:
        h.update(code_fingerprint(dataset).encode())
    if root.is_file():
        st = root.stat()
        h.update(f"{st.st_size}:{_content_digest(root, st)}".encode())
    elif root.is_dir():
        sums = sorted(p.name for p in root.glob("SHA256SUMS*")) + sorted(p.name for p in root.glob("MANIFEST*"))
        for name in sums:
            h.update((root / name).read_bytes())
        h.update(_tree_listing(root))
    return h.hexdigest()[:16]


def _cache_path(cache_dir: Path, dataset: str, extractor: Extractor, fingerprint: str) -> Path:
    payload = {"format": _FORMAT, "extractor": extractor.id, "settings": extractor.settings, "data": fingerprint}
    key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    # a clip folder's dataset name is its path: its last part names the file (an absolute path put the file beside
    # the clips, whatever --feature-dir said); the key holds the resolved path
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(dataset).name) or "dataset"
    return cache_dir / f"{name}-{key}.npz"


def _row_problem(rows: dict[str, int]) -> str | None:
    """None when every array has as many rows as there are clips (``rows["clips"]``), else what differs."""
    if bad := {k: v for k, v in rows.items() if v != rows["clips"]}:
        return f"{rows['clips']} clips but " + ", ".join(f"{v} {k} rows" for k, v in bad.items())
    return None


def _stale(path: Path, problem: str) -> ConfigError:
    return ConfigError(f"{path}: inconsistent feature cache ({problem}); delete it to re-extract")


def _read(path: Path) -> FeatureSet:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        fs = FeatureSet(
            meta["dataset"],
            tuple(meta["class_names"]),
            z["feats"],
            z["logits"],
            z["labels"],
            z["subjects"],
            z["views"],
            z["test_side"].astype(bool),
            meta["extractor"],
            meta["settings"],
            path,
        )
    rows = {"clips": len(meta.get("sources", fs.labels))}
    rows.update((k, len(getattr(fs, k))) for k in ("feats", "logits", "labels", "subjects", "views", "test_side"))
    if problem := _row_problem(rows):  # one feature row per clip, or the rows belong to other clips
        raise _stale(path, problem)
    return fs


def _atomic_savez(path: Path, **arrays: Any) -> None:
    with atomic_path(path) as tmp:  # the temporary name ends in .npz, so np.savez keeps it
        np.savez(tmp, **arrays)


def cached_features(
    extractor: Extractor,
    dataset: str,
    load: Callable[[], Dataset],
    fingerprint: str,
    cache_dir: str | Path | None = None,
    chunk: int = 64,
    progress: bool = True,
) -> FeatureSet:
    """Features of every sequence of a dataset, from the cache or extracted now (resumable by chunks).

    Args:
        extractor: the backbone (see the module docstring).
        dataset: registry name (also names the cache file and decides the test side).
        load: returns the dataset; called only when the cache is missing or incomplete.
        fingerprint: identifies the dataset copy (:func:`dataset_fingerprint` of its root).
        cache_dir: where caches live (default :func:`default_feature_dir`).
        chunk: sequences per resumable chunk.
        progress: show a tqdm bar.

    Returns:
        The :class:`FeatureSet` (rows in the reader's order).
    """
    cache_dir = Path(cache_dir) if cache_dir else default_feature_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = _cache_path(cache_dir, dataset, extractor, fingerprint)
    if path.is_file():
        log.info("%s: features from %s", dataset, path)
        return _read(path)
    ds = load()
    if not ds.sequences:
        raise ConfigError(f"{dataset}: no sequences to extract features from")
    labels, subjects, views = dataset_arrays(ds)
    test = test_side_mask(ds, dataset)
    parts = path.with_suffix(".parts")
    parts.mkdir(exist_ok=True)
    feats, logits = [], []
    starts = range(0, len(ds.sequences), chunk)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(ds.sequences), desc=f"features {dataset}", unit="clip")
    for a in starts:
        seqs = ds.sequences[a : a + chunk]
        part = parts / f"{a:06d}-{a + len(seqs):06d}.npz"  # its rows: a part of another chunk size is not reused
        if part.is_file():
            with np.load(part, allow_pickle=False) as z:
                f, lg = z["feats"], z["logits"]
            if len(f) != len(seqs) or len(lg) != len(seqs):
                raise _stale(part, f"{len(seqs)} clips but {len(f)} feats rows, {len(lg)} logits rows")
        else:
            f, lg = extractor(seqs)
            f, lg = np.asarray(f, np.float32), np.asarray(lg, np.float32).reshape(len(seqs), -1)
            _atomic_savez(part, feats=f, logits=lg)
        feats.append(f)
        logits.append(lg)
        if bar is not None:
            bar.update(len(seqs))
    if bar is not None:
        bar.close()
    meta = {
        "dataset": dataset,
        "class_names": list(ds.class_names),
        "extractor": extractor.id,
        "settings": extractor.settings,
        "sources": [s.source for s in ds.sequences],
    }
    feats, logits = np.concatenate(feats), np.concatenate(logits)
    rows = {"clips": len(ds.sequences), "feats": len(feats), "logits": len(logits), "labels": len(labels)}
    rows.update(subjects=len(subjects), views=len(views), test_side=len(test))
    if problem := _row_problem(rows):  # never write a cache whose rows are not the clips'
        raise _stale(parts, problem)
    _atomic_savez(
        path,
        meta=np.array(json.dumps(meta)),
        feats=feats,
        logits=logits,
        labels=labels.astype(np.int64),
        subjects=subjects.astype(np.int64),
        views=views.astype(np.int64),
        test_side=test.astype(bool),
    )
    for p in parts.glob("*.npz"):
        p.unlink()
    parts.rmdir()
    log.info("%s: wrote %s", dataset, path)
    return _read(path)


class BundleExtractor:
    """The ST-GCN of a model bundle: centre window, the bundle's own preprocessing (as ``sadvae eval``).

    ``feats`` are the backbone features the bundle's SA-DVAE reads; ``logits`` its seen-class head.
    """

    def __init__(self, bundle_path: str | Path, device: str = "cpu"):
        from sadvae.bundle import load_bundle

        self.path = Path(bundle_path)
        self.bundle = load_bundle(self.path)
        self.device = device
        self.id = f"bundle:{file_digest(self.path)}"
        from dataclasses import asdict

        self.settings = {"window": "center", "preprocess": asdict(self.bundle.preprocess)}

    def __call__(self, seqs: Sequence[SkeletonSequence]) -> tuple[np.ndarray, np.ndarray]:
        from sadvae.data.preprocess import preprocess
        from sadvae.models.shiftgcn import shiftgcn_features

        model = self.bundle.backbone.to(self.device)
        if not seqs:
            return np.zeros((0, model.cfg.feature_dim), np.float32), np.zeros((0, model.cfg.num_classes), np.float32)
        windows = np.stack([preprocess(s.joints, s.times(), self.bundle.preprocess, crop="center") for s in seqs])
        return shiftgcn_features(model, windows, batch_size=64, threads=None)


class ShiftGCNExtractor:
    """The NTU-pretrained Shift-GCN, frozen: mean feature and logits over windows of each clip.

    Each clip is resampled to 30 fps; clips of at most ``window`` frames give one window, longer ones
    windows of ``window`` frames every ``stride`` frames (the last one ending at the clip's end), whose
    features and logits are averaged. Each window gets the official NTU pre-normalisation.

    Args:
        weights: a released checkpoint (``../shared/models/shiftgcn/*.pt``).
        window: frames per window (a multiple of 4); stride: frames between window starts (an integer >= 1).
        batch_size: windows per forward pass.
        mirror: test-time mirroring: each window's features and logits are the mean of the window's and its
            left-right mirror image's (:func:`sadvae.skeleton.mirror_windows`), so a left-handed performer and a
            right-handed one look alike to whatever is trained on the features. Twice the compute.
    """

    def __init__(
        self, weights: str | Path, window: int = 64, stride: int = 32, batch_size: int = 32, mirror: bool = False
    ):
        if window % 4 or window < 8:
            raise ConfigError(f"Shift-GCN window must be a multiple of 4 (>= 8), got {window}")
        if isinstance(stride, bool) or not isinstance(stride, int | np.integer) or stride < 1:
            raise ConfigError(f"Shift-GCN stride must be an integer >= 1 (frames between windows), got {stride!r}")
        self.weights = Path(weights)
        if not self.weights.is_file():
            raise ConfigError(f"{self.weights}: Shift-GCN weights not found; see ../shared/models/shiftgcn/MANIFEST.md")
        self.window, self.stride, self.batch_size = int(window), int(stride), int(batch_size)
        self.mirror = bool(mirror)
        self.id = f"shiftgcn:{file_digest(self.weights)}"
        self.settings = {
            "fps": 30.0,
            "window": self.window,
            "stride": self.stride,
            "normalisation": "ntu",
            "persons": 2,
            "pooling": "mean over windows",
        }
        if self.mirror:  # only when on: the caches of unmirrored features keep their keys
            self.settings["test_time"] = "mean of the window and its mirror image"
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = load_shiftgcn(self.weights)
        return self._model

    def windows(self, seq: SkeletonSequence) -> list[np.ndarray]:
        """The clip's model windows, each float32 [3, window, 25, 2] (30 fps, official NTU normalisation)."""
        from sadvae.data.preprocess import PreprocessConfig, preprocess, resample

        cfg = PreprocessConfig(window=self.window, fps=30.0, persons=2, normalization="ntu")
        joints = resample(seq.joints, seq.times(), cfg.fps) if seq.num_frames > 1 else seq.joints
        t, w = joints.shape[0], self.window
        starts = [0] if t <= w else sorted(set(range(0, t - w + 1, self.stride)) | {t - w})
        return [preprocess(joints[a : a + w], None, cfg) for a in starts]

    def encode(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features [N, 256] and NTU logits [N, classes] of windows [N, 3, T, 25, 2] from :meth:`windows`."""
        from sadvae.models.shiftgcn import shiftgcn_features
        from sadvae.skeleton import mirror_windows

        f, lg = shiftgcn_features(self.model, windows, self.batch_size, threads=None)
        if self.mirror:
            fm, lgm = shiftgcn_features(self.model, mirror_windows(windows), self.batch_size, threads=None)
            f, lg = (f + fm) / 2, (lg + lgm) / 2
        return f, lg

    def __call__(self, seqs: Sequence[SkeletonSequence]) -> tuple[np.ndarray, np.ndarray]:
        wins, owner = [], []
        for i, s in enumerate(seqs):
            w = self.windows(s)
            wins += w
            owner += [i] * len(w)
        owner = np.asarray(owner)
        f, lg = self.encode(np.stack(wins))
        out_f = np.stack([f[owner == i].mean(0) for i in range(len(seqs))])
        out_l = np.stack([lg[owner == i].mean(0) for i in range(len(seqs))])
        return out_f.astype(np.float32), out_l.astype(np.float32)


class EnsembleExtractor:
    """Several frozen backbones trained on the same classes as one: their clip features side by side, their
    classifier logits averaged (the usual ensemble of independently trained networks, e.g. the NTU-120 x-sub and
    x-setup Shift-GCNs: the same 120 classes, different training subjects and camera setups).

    Args:
        members: extractors whose logits have the same classes in the same order (two or more).
    """

    def __init__(self, members: Sequence[Extractor]):
        if len(members) < 2:
            raise ConfigError(f"an ensemble needs at least two backbones, got {len(members)}")
        grids = {(getattr(m, "window", None), getattr(m, "stride", None)) for m in members}
        if len(grids) != 1:
            got = sorted(map(str, grids))
            raise ConfigError(f"ensemble members must cut the same windows, got (window, stride) {got}")
        self.members = list(members)
        self.window, self.stride = grids.pop()
        self.id = "ensemble:" + "+".join(m.id for m in self.members)
        self.settings = {"members": [m.settings for m in self.members], "combine": "features side by side, mean logits"}

    @property
    def model(self):
        """The first member's model (what needs one network, e.g. the NTU fc's shape, reads it)."""
        return self.members[0].model

    def windows(self, seq: SkeletonSequence) -> list[np.ndarray]:
        """The clip's model windows (every member reads the same ones: the first member's)."""
        return self.members[0].windows(seq)

    def encode(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features side by side [N, sum of the members' widths] and mean logits of windows from :meth:`windows`."""
        return _combine([m.encode(windows) for m in self.members])

    def __call__(self, seqs: Sequence[SkeletonSequence]) -> tuple[np.ndarray, np.ndarray]:
        return _combine([m(seqs) for m in self.members])


def _combine(outs: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The members' (features, logits) as the ensemble's: features side by side, logits averaged."""
    shapes = {lg.shape[1] for _, lg in outs}
    if len(shapes) != 1:
        raise ConfigError(f"ensemble members disagree on their classes: logits of widths {sorted(shapes)}")
    feats = np.concatenate([f for f, _ in outs], axis=1)
    logits = np.mean([lg for _, lg in outs], axis=0)
    return feats.astype(np.float32), logits.astype(np.float32)


def shiftgcn_extractor(
    weights: str | Path, window: int, stride: int, mirror: bool = False, resolve: Callable[[str], Path] | None = None
):
    """A :class:`ShiftGCNExtractor`, or an :class:`EnsembleExtractor` of several for ``"a+b"`` (checkpoint
    paths or short names, each resolved by ``resolve``, default as given)."""
    from sadvae.models.pretrained import split_checkpoints

    parts = split_checkpoints(weights)
    paths = [resolve(p) if resolve else Path(p) for p in parts]
    members = [ShiftGCNExtractor(p, window, stride, mirror=mirror) for p in paths]
    return members[0] if len(members) == 1 else EnsembleExtractor(members)


def load_shiftgcn(weights: str | Path):
    """The released Shift-GCN checkpoint as a frozen model in eval mode (empty-slot cache on)."""
    try:
        from sadvae.models.pretrained import load_pretrained_shiftgcn
    except ImportError:  # the loader module is not there yet: load the state dict directly
        load_pretrained_shiftgcn = None
    if load_pretrained_shiftgcn is not None:
        model = load_pretrained_shiftgcn(weights)
    else:
        import torch

        from sadvae.models.shiftgcn import ShiftGCN, ShiftGCNConfig

        state = torch.load(weights, map_location="cpu", weights_only=True)
        state = {k.removeprefix("module."): v for k, v in state.items()}
        model = ShiftGCN(ShiftGCNConfig(num_classes=int(state["fc.weight"].shape[0])))
        model.load_state_dict(state)
        model.check_shift_tables(weights)
    model.cache_empty_slot = True
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()
