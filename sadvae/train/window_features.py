"""Per-window features of the frozen Shift-GCN, cached on disk (what the default recipe trains its heads on).

:mod:`sadvae.features` caches one row per clip (the mean over its windows). The live loop scores single
windows, so the default recipe trains and calibrates on windows: this module keeps every window of a
clip as its own row, with the clip it came from. The windows are exactly those of
:class:`sadvae.features.ShiftGCNExtractor` (30 fps unless told, ``window`` frames every ``stride`` frames,
the last one ending at the clip's end, official NTU normalisation), so the mean over a clip's rows is
that cache's clip feature.

Cache file: ``<cache_dir>/<dataset>-<key>.npz`` (plain arrays, no pickle), the key hashing the
extractor id, its settings, the dataset fingerprint and the clips extracted:

- ``feats`` float32 [W, 256], ``logits`` float32 [W, 120] (the NTU fc), ``owner`` int64 [W] (clip row);
- per clip (rows of the dataset in reader order, all of them): ``labels``, ``subjects``, ``views`` int64,
  ``test_side`` bool, ``extracted`` bool (False: the clip was not asked for, it has no window rows);
- ``meta``: JSON with the dataset name, class names, extractor id and settings.

Extraction is resumable: chunks of clips are written as they finish (``<file>.parts/``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from sadvae.data.record import Dataset
from sadvae.errors import ConfigError
from sadvae.features import FeatureSet
from sadvae.fileio import atomic_path

__all__ = [
    "AugmentedWindows",
    "DerivedExtractor",
    "OwnStatistics",
    "WindowFeatures",
    "window_features",
    "default_window_dir",
]

log = logging.getLogger(__name__)

_FORMAT = 1
_REPO = Path(__file__).resolve().parents[2]


def default_window_dir() -> Path:
    """``runs/features/windows`` in the project (ignored)."""
    return _REPO / "runs" / "features" / "windows"


@dataclass(frozen=True)
class WindowFeatures:
    """Per-window features of one dataset (module docstring for the fields)."""

    dataset: str
    class_names: tuple[str, ...]
    feats: np.ndarray
    logits: np.ndarray
    owner: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    views: np.ndarray
    test_side: np.ndarray
    extracted: np.ndarray
    extractor: str
    settings: dict
    path: Path | None = None

    def select(self, clips: np.ndarray) -> WindowFeatures:
        """The same features restricted to the windows of ``clips`` (clip rows); ``extracted`` says which."""
        keep = np.isin(self.owner, clips)
        extracted = self.extracted & np.isin(np.arange(len(self.extracted)), clips)
        return replace(
            self, feats=self.feats[keep], logits=self.logits[keep], owner=self.owner[keep], extracted=extracted
        )

    def clip_means(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(clip rows [n'] that have windows, mean feature [n', d], mean logits [n', K])."""
        clips = np.flatnonzero(self.extracted)
        pos = np.searchsorted(clips, self.owner)
        counts = np.bincount(pos, minlength=len(clips))[:, None]
        f = np.zeros((len(clips), self.feats.shape[1]), np.float64)
        lg = np.zeros((len(clips), self.logits.shape[1]), np.float64)
        np.add.at(f, pos, self.feats)
        np.add.at(lg, pos, self.logits)
        return clips, (f / counts).astype(np.float32), (lg / counts).astype(np.float32)

    def clip_set(self) -> FeatureSet:
        """The extracted clips as a :class:`sadvae.features.FeatureSet`: one row per clip (reader order), feature
        and logits = the mean over its windows (what :class:`sadvae.features.ShiftGCNExtractor` caches)."""
        clips, f, lg = self.clip_means()
        return FeatureSet(
            self.dataset,
            self.class_names,
            f,
            lg,
            self.labels[clips],
            self.subjects[clips],
            self.views[clips],
            self.test_side[clips],
            self.extractor,
            dict(self.settings, source="window cache"),
            self.path,
        )


class DerivedExtractor:
    """A :class:`sadvae.features.ShiftGCNExtractor` that sees each clip changed (a subclass overrides
    :meth:`windows`): same network and encoding, its own cache key (the base's settings plus ``settings``)."""

    def __init__(self, base, **settings):
        self.base = base
        self.id = base.id
        self.settings = dict(base.settings, **settings)
        self.batch_size = getattr(base, "batch_size", None)  # an ensemble has one per member

    @property
    def model(self):
        return self.base.model

    def encode(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.base.encode(windows)

    def windows(self, seq) -> list[np.ndarray]:
        return self.base.windows(seq)


class MirroredWindows(DerivedExtractor):
    """A :class:`sadvae.features.ShiftGCNExtractor` that sees each clip's left-right mirror image (sides swapped, x
    negated): a left-handed performer of the recording. Its windows are the mirror images of the base's windows
    (the preprocessing commutes with mirroring). Cache key: the base's settings plus ``condition="mirror"``, the
    same as ``scripts/input_conditions.py``'s mirror condition, so either reuses the other's extraction."""

    def __init__(self, base):
        super().__init__(base, condition="mirror", condition_code=1)

    def windows(self, seq) -> list[np.ndarray]:
        from dataclasses import replace

        from sadvae.skeleton import mirror_joints

        return self.base.windows(replace(seq, joints=mirror_joints(seq.joints)))


class AugmentedWindows(DerivedExtractor):
    """A :class:`sadvae.features.ShiftGCNExtractor` whose windows are augmented copies (training only).

    Each clip's windows go through :func:`sadvae.train.augment.augment_window` with a generator seeded by
    ``seed``, ``copy`` and the clip's own joints, so a copy is the same whichever clips are extracted with it
    and in whatever order. The augmentation's name, seed and copy are part of the cache key (``settings``).
    """

    def __init__(self, base, augment: str, seed: int = 0, copy: int = 0):
        from sadvae.train.augment import AUGMENTS

        if augment not in AUGMENTS:
            raise ConfigError(f"unknown augmentation {augment!r}; known: {sorted(AUGMENTS)}")
        self.aug, self.seed, self.copy = AUGMENTS[augment], int(seed), int(copy)
        # the settings, not only the name, key the cache: a retuned augmentation is extracted again
        super().__init__(
            base, augment=augment, augment_config=asdict(self.aug), augment_seed=self.seed, augment_copy=self.copy
        )

    def windows(self, seq) -> list[np.ndarray]:
        from sadvae.train.augment import augment_window

        digest = hashlib.sha256(np.ascontiguousarray(seq.joints, np.float32).tobytes()).digest()
        rng = np.random.default_rng([self.seed, self.copy, int.from_bytes(digest[:8], "little")])
        return [augment_window(w, self.aug, rng) for w in self.base.windows(seq)]


class OwnStatistics(DerivedExtractor):
    """A :class:`sadvae.features.ShiftGCNExtractor` (or an ensemble of them) whose BatchNorm statistics are
    re-estimated on windows of the dataset it extracts (AdaBN, :mod:`sadvae.models.batchnorm_stats`): no label and
    no weight is used or changed, only the running means and variances.

    The statistics come from the clips ``clips(dataset)`` picks (e.g. the training side: never the clips scored),
    all their windows shuffled with ``seed`` into batches of ``batch``; they are estimated once, on first use,
    from ``load()``. The cache key holds ``statistics`` (say which clips, in words that change when the choice
    does) besides the base's settings.

    Args:
        base: the extractor whose network(s) are adapted.
        load: returns the dataset whose clips give the statistics (the one this extractor then extracts).
        clips: ``Dataset -> clip rows`` whose windows give the statistics.
        statistics: the words for the cache key and the report, e.g. ``"the set's training side"``.
    """

    def __init__(
        self,
        base,
        load: Callable[[], Dataset],
        clips: Callable[[Dataset], np.ndarray],
        statistics: str,
        batch: int = 32,
        seed: int = 0,
    ):
        # (the cache key has no word for channels the windows never moved: their rule, re-estimated mean and released
        # variance, gives the same features as the variance 0 of before for every window that leaves them unmoved)
        super().__init__(base, batchnorm=f"re-estimated on {statistics}", batchnorm_batch=batch, batchnorm_seed=seed)
        self._load, self._clips, self._batch, self._seed = load, clips, int(batch), int(seed)
        self._adapted = None
        self.statistics_windows = 0

    @property
    def model(self):
        """The first network, adapted (what needs one network, e.g. the NTU fc's shape, reads it)."""
        return self.adapted.model

    @property
    def adapted(self):
        """The base with its network(s) adapted (estimated on first use)."""
        if self._adapted is None:
            ds = self._load()
            rows = np.asarray(self._clips(ds), np.int64)
            wins = [w for i in rows for w in self.base.windows(ds.sequences[int(i)])]
            if len(wins) < 2:
                raise ConfigError(
                    f"{ds.name}: {len(wins)} window(s) in the clips chosen for its BatchNorm statistics; at least "
                    "two are needed (use the released statistics)"
                )
            order = np.random.default_rng(self._seed).permutation(len(wins))
            batch = min(self._batch, len(wins))
            starts = range(0, len(wins) - batch + 1, batch)  # equal batches; the shuffle decides the few left out
            self.statistics_windows = len(starts) * batch
            log.info("%s: BatchNorm statistics from %d windows of %d clips", ds.name, len(wins), len(rows))
            batches = lambda: (np.stack([wins[j] for j in order[a : a + batch]]) for a in starts)  # noqa: E731
            self._adapted = _with_statistics(self.base, batches)
        return self._adapted

    def encode(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.adapted.encode(windows)

    def __call__(self, seqs) -> tuple[np.ndarray, np.ndarray]:
        return self.adapted(seqs)


def _with_statistics(extractor, batches: Callable[[], object]):
    """A copy of a Shift-GCN extractor (or ensemble) whose network(s) re-estimated their BatchNorm statistics on
    ``batches()`` (each member on the same windows)."""
    import copy

    from sadvae.features import EnsembleExtractor
    from sadvae.models.batchnorm_stats import reestimate_batchnorm

    if isinstance(extractor, EnsembleExtractor):
        return EnsembleExtractor([_with_statistics(m, batches) for m in extractor.members])
    if not hasattr(extractor, "_model"):
        raise ConfigError(f"{type(extractor).__name__}: BatchNorm statistics are re-estimated for Shift-GCN only")
    out = copy.copy(extractor)
    out._model = reestimate_batchnorm(extractor.model, batches())
    out._model.cache_empty_slot = True
    return out


def _key(extractor, fingerprint: str, clips: np.ndarray | None) -> str:
    payload = {
        "format": _FORMAT,
        "extractor": extractor.id,
        "settings": extractor.settings,
        "data": fingerprint,
        "clips": None if clips is None else hashlib.sha256(np.asarray(clips, np.int64).tobytes()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _savez(path: Path, **arrays) -> None:
    with atomic_path(path) as tmp:  # the temporary name ends in .npz, so np.savez keeps it
        np.savez(tmp, **arrays)


def _window_problem(feats, logits, owner, clips: np.ndarray, n: int, per_clip: dict[str, int]) -> str | None:
    """What is inconsistent in window rows: their three arrays' lengths, the clips they belong to (``clips``, each with
    at least one window, of ``n`` clips) and the per-clip arrays' lengths (``per_clip``); None when nothing is."""
    if not len(feats) == len(logits) == len(owner):
        return f"{len(feats)} feats rows, {len(logits)} logits rows, {len(owner)} owner rows"
    if bad := {k: v for k, v in per_clip.items() if v != n}:
        return f"{n} clips but " + ", ".join(f"{v} {k} rows" for k, v in bad.items())
    if not np.array_equal(np.unique(owner), clips):
        return f"windows of {len(np.unique(owner))} clips for the {len(clips)} clips extracted"
    return None


def _stale(path: Path, problem: str) -> ConfigError:
    return ConfigError(f"{path}: inconsistent window-feature cache ({problem}); delete it to re-extract")


def _read(path: Path) -> WindowFeatures:
    wf = _read_unchecked(path)
    per_clip = {k: len(getattr(wf, k)) for k in ("subjects", "views", "test_side", "extracted")}
    clips = np.flatnonzero(wf.extracted)
    if problem := _window_problem(wf.feats, wf.logits, wf.owner, clips, len(wf.labels), per_clip):
        raise _stale(path, problem)
    return wf


def _read_unchecked(path: Path) -> WindowFeatures:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        return WindowFeatures(
            meta["dataset"],
            tuple(meta["class_names"]),
            z["feats"],
            z["logits"],
            z["owner"],
            z["labels"],
            z["subjects"],
            z["views"],
            z["test_side"].astype(bool),
            z["extracted"].astype(bool),
            meta["extractor"],
            meta["settings"],
            path,
        )


def window_features(
    extractor,
    dataset: str,
    load: Callable[[], Dataset],
    fingerprint: str,
    clips: Sequence[int] | None = None,
    select: Callable[[Dataset], np.ndarray] | None = None,
    cache_dir: str | Path | None = None,
    chunk: int = 48,
) -> WindowFeatures:
    """Every window of the chosen clips of a dataset, from the cache or extracted now (resumable).

    Args:
        extractor: a :class:`sadvae.features.ShiftGCNExtractor` (its ``windows`` and ``model`` are used).
        dataset: registry name or clip folder path (names the file, decides the test side).
        load: returns the dataset (called only when the cache is missing or incomplete).
        fingerprint: :func:`sadvae.features.dataset_fingerprint` of the dataset's root.
        clips: clip rows to extract (None: all). Part of the cache key.
        select: alternatively, ``Dataset -> clip rows``; then the dataset is always loaded (to know the rows).
        cache_dir: default :func:`default_window_dir`.
        chunk: clips per resumable chunk.

    Returns:
        The :class:`WindowFeatures`.
    """
    from sadvae.data.splits import dataset_arrays, test_side_mask

    cache_dir = Path(cache_dir) if cache_dir else default_window_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    ds = None
    if select is not None:
        ds = load()
        clips = select(ds)
    rows = None if clips is None else np.unique(np.asarray(clips, np.int64))
    # a clip folder's dataset name is its path: its last part names the file (the key holds the resolved path)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(dataset).name) or "dataset"
    path = cache_dir / f"{stem}-{_key(extractor, fingerprint, rows)}.npz"
    if path.is_file():
        log.info("%s: window features from %s", dataset, path)
        return _read(path)
    full = cache_dir / f"{stem}-{_key(extractor, fingerprint, None)}.npz"
    if rows is not None and full.is_file():  # every clip is cached already: take the rows asked for
        log.info("%s: window features of %d clips from %s", dataset, len(rows), full)
        return _read(full).select(rows)
    ds = ds if ds is not None else load()
    if not ds.sequences:
        raise ConfigError(f"{dataset}: no sequences to extract features from")
    rows = np.arange(len(ds.sequences)) if rows is None else rows
    labels, subjects, views = dataset_arrays(ds)
    test = test_side_mask(ds, dataset)
    parts = path.with_suffix(".parts")
    parts.mkdir(exist_ok=True)
    feats, logits, owner = [], [], []
    for a in range(0, len(rows), chunk):
        sel = rows[a : a + chunk]
        part = parts / f"{a:06d}-{a + len(sel):06d}.npz"  # its rows: a part of another chunk size is not reused
        if part.is_file():
            with np.load(part, allow_pickle=False) as z:
                f, lg, ow = z["feats"], z["logits"], z["owner"]
            if problem := _window_problem(f, lg, ow, sel, 0, {}):
                raise _stale(part, problem)
        else:
            wins, ow = [], []
            for i in sel:
                w = extractor.windows(ds.sequences[int(i)])
                wins += w
                ow += [int(i)] * len(w)
            f, lg = extractor.encode(np.stack(wins))
            f, lg, ow = f.astype(np.float32), lg.astype(np.float32), np.asarray(ow, np.int64)
            _savez(part, feats=f, logits=lg, owner=ow)
        feats.append(f)
        logits.append(lg)
        owner.append(ow)
        log.info("%s: windows of %d/%d clips", dataset, min(a + chunk, len(rows)), len(rows))
    extracted = np.zeros(len(ds.sequences), bool)
    extracted[rows] = True
    meta = {
        "dataset": dataset,
        "class_names": list(ds.class_names),
        "extractor": extractor.id,
        "settings": extractor.settings,
    }
    feats, logits, owner = np.concatenate(feats), np.concatenate(logits), np.concatenate(owner)
    per_clip = {"subjects": len(subjects), "views": len(views), "test_side": len(test), "extracted": len(extracted)}
    if problem := _window_problem(feats, logits, owner, rows, len(labels), per_clip):  # never write misaligned rows
        raise _stale(parts, problem)
    _savez(
        path,
        meta=np.array(json.dumps(meta)),
        feats=feats,
        logits=logits,
        owner=owner,
        labels=labels.astype(np.int64),
        subjects=subjects.astype(np.int64),
        views=views.astype(np.int64),
        test_side=test.astype(bool),
        extracted=extracted,
    )
    for p in parts.glob("*.npz"):
        p.unlink()
    parts.rmdir()
    log.info("%s: wrote %s", dataset, path)
    return _read(path)
