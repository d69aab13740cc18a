"""Representative windows for INT8 calibration and for measuring what INT8 costs.

A :class:`CalibrationSet` is a stack of *preprocessed* model windows float32 [N, 3, T, 25, M] drawn
from the data a model bundle was trained on, with exactly the bundle's
:class:`~sadvae.data.preprocess.PreprocessConfig` (the one preprocessing function, as training and
the live pipeline use it). Which sequences are used depends on the bundle:

- the default model, recipe ``shiftgcn-v2`` (``provenance["recipe_name"] == "shiftgcn-v2"``): every set
  of its class table (MSR Action3D, NW-UCLA, UTKinect, HDM05, Bandai-Namco; provenance ``datasets``), each
  class labelled with its class-table column (:func:`sadvae.train.class_table.class_table`, the bundle's
  class ids); ``train`` is the training side without inner validation, ``validation`` the inner
  validation (:func:`sadvae.train.default_shiftgcn.inner_validation`), ``holdout`` each set's standard
  test side;
- the round-1 default model, recipe ``stgcn-v1`` (``provenance["recipe"] == "scripts/train_default"``):
  MSR Action3D, NW-UCLA and UTKinect merged into its 33 classes
  (:func:`sadvae.train.default_model.merge_datasets`, with the recipe's ``limit_per_class``); ``train`` is
  the training side, ``holdout`` the held-out side (MSR and UTKinect even subjects, NW-UCLA view 3). Its
  main run has no separate validation side.
- a single-dataset bundle (``sadvae train zsl``; ``provenance["dataset"]`` and ``["root"]``): ``train``
  is the protocol's training side restricted to the seen classes, ``validation`` the validation
  partition of its split (held-out validation-seen + pseudo-unseen samples), ``holdout`` the protocol's
  test side (seen and unseen classes).

On every kind of bundle ``holdout`` leaves out the test-side clips that repeat a trained clip to the bit (NW-UCLA's
95 as released; :func:`sadvae.data.splits.copies_of_training`; an unseen class's copy stays): they were trained on.

Draws are stratified by class and seeded: each class gets ``per_class`` windows (or an even share of
``total``), from its sequences in a seeded order (cycled when a class has fewer sequences than its
quota), each with a seeded random crop. ``per_class=None`` takes every sequence once (with
``crop="center"``: the deterministic evaluation window of :func:`sadvae.train.augment.eval_window`).

Files are ``.npz`` without pickle (keys in :data:`KEYS`), written atomically.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from sadvae.data.preprocess import PreprocessConfig, preprocess
from sadvae.errors import ConfigError, DataFormatError
from sadvae.fileio import atomic_path
from sadvae.paths import SHARED_DATA
from sadvae.skeleton import NUM_JOINTS

__all__ = [
    "CALIBRATION_FORMAT",
    "KEYS",
    "SPLITS",
    "CalibrationSet",
    "split_sequences",
    "sample_windows",
    "save_calibration_set",
    "load_calibration_set",
]

log = logging.getLogger(__name__)

CALIBRATION_FORMAT = 1
SPLITS = ("train", "validation", "holdout")
KEYS = ("format", "windows", "labels", "class_names", "sources", "seed", "model_id", "preprocess", "split", "crop")
_DEFAULT_RECIPE = "scripts/train_default"  # the round-1 recipe stgcn-v1 recorded this
_SHIFTGCN_RECIPE = "shiftgcn-v2"


@dataclass(frozen=True)
class CalibrationSet:
    """Preprocessed windows with where they came from.

    Attributes:
        windows: float32 [N, 3, T, 25, M] model windows.
        labels: int64 [N] class ids (rows of ``class_names``, the bundle's global ids).
        class_names: every class name of the bundle, in id order.
        sources: [N] the sequence each window was cut from (``SkeletonSequence.source``).
        seed: the seed of the draw.
        model_id: sha256 of the bundle file the windows were drawn for.
        preprocess: the bundle's preprocessing, which made the windows.
        split: "train", "validation" or "holdout".
        crop: "random" (seeded crops) or "center".
    """

    windows: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    sources: tuple[str, ...]
    seed: int
    model_id: str
    preprocess: PreprocessConfig
    split: str
    crop: str

    def __len__(self) -> int:
        return int(self.windows.shape[0])

    def class_counts(self) -> dict[str, int]:
        """Windows per class name (classes without windows left out)."""
        ids, counts = np.unique(self.labels, return_counts=True)
        return {self.class_names[i]: int(n) for i, n in zip(ids, counts, strict=True)}


def _bundle_and_id(bundle_or_path, model_id: str | None):
    if isinstance(bundle_or_path, (str, os.PathLike)):
        from sadvae.bundle import load_bundle
        from sadvae.export import file_sha256

        path = Path(bundle_or_path)
        return load_bundle(path), model_id or file_sha256(path)
    own = model_id or getattr(bundle_or_path, "model_id", None)
    if not own:
        raise ConfigError("a loaded Bundle has no file to hash: pass model_id= (the sha256 of its bundle file)")
    return bundle_or_path, str(own)


def _merged_sequences(bundle, split: str, data_root: Path | None) -> tuple[list, np.ndarray]:
    from sadvae.data.registry import DATASETS, load_dataset
    from sadvae.train.default_model import CLASS_NAMES, DATASET_NAMES, merge_datasets

    if tuple(bundle.class_names) != CLASS_NAMES:
        raise ConfigError("the bundle says it is the default model but its classes differ from the merge table")
    if split == "validation":
        raise ConfigError(
            "the default model's main run trains on its whole training side: use split 'train' or 'holdout'"
        )
    root = Path(data_root) if data_root is not None else SHARED_DATA
    if not (root / "skeleton_sets").is_dir():
        raise ConfigError(f"{root}: no skeleton_sets/ folder here; pass data_root, the folder that holds it")
    loaded = {n: load_dataset(n, root / DATASETS[n].default_root) for n in DATASET_NAMES}
    limit = (bundle.provenance.get("config") or {}).get("limit_per_class")
    data = merge_datasets(loaded, limit)
    keep = data.holdout if split == "holdout" else ~data.holdout
    if split == "holdout":  # every class of the round-1 model is trained: each copy was seen in training
        from sadvae.data.splits import copies_of_training

        keep = keep & ~copies_of_training(data, data.holdout)
    idx = np.flatnonzero(keep)
    return [data.sequences[i] for i in idx], data.labels[idx]


def _class_table_sequences(bundle, split: str, data_root: Path | None) -> tuple[list, np.ndarray]:
    """Recipe ``shiftgcn-v2``: the sets of its class table, labelled by column (see the module docstring)."""
    from sadvae.data.registry import DATASETS, load_dataset
    from sadvae.data.splits import copies_of_training
    from sadvae.train.class_table import class_table
    from sadvae.train.default_shiftgcn import _limited, inner_validation
    from sadvae.train.protocol import dataset_arrays, test_side_mask

    table = class_table()
    if tuple(bundle.class_names) != table.names:
        raise ConfigError(
            f"the bundle says it is recipe {_SHIFTGCN_RECIPE} but its {len(bundle.class_names)} classes are not the "
            f"class table's {len(table.names)} (sadvae/train/class_table.py); retrain it with scripts/train_default"
        )
    prov = bundle.provenance
    names = list(prov.get("datasets") or {}) or list((prov.get("config") or {}).get("datasets") or [])
    if not names:
        raise ConfigError("the bundle's provenance names no datasets; cannot locate the data it was trained on")
    root = Path(data_root) if data_root is not None else SHARED_DATA
    limit = (prov.get("config") or {}).get("limit_per_class")
    seqs: list = []
    labels: list[int] = []
    for name in names:
        if name not in DATASETS:
            raise ConfigError(f"the bundle's provenance names dataset {name!r}, not one of {sorted(DATASETS)}")
        folder = root / DATASETS[name].default_root
        if not folder.exists():
            raise ConfigError(
                f"{folder}: {name} not found; pass data_root, the folder holding skeleton_sets/ and mocap/"
            )
        ds = load_dataset(name, folder)
        test = test_side_mask(ds, name)
        lab, subj, view = dataset_arrays(ds)
        if split == "holdout":  # a test clip that repeats a trained clip is no held-out window
            keep = test & ~copies_of_training(ds, test)
        else:
            val = inner_validation(lab, subj, view, test)
            keep = val if split == "validation" else ~test & ~val
        keep &= lab >= 0
        keep &= np.isin(np.arange(len(lab)), _limited(ds, test, limit))
        cols = np.asarray(table.columns(name, ds.class_names))
        for i in np.flatnonzero(keep):
            seqs.append(ds.sequences[i])
            labels.append(int(cols[lab[i]]))
    return seqs, np.asarray(labels, dtype=np.int64)


def _dataset_sequences(bundle, split: str, data_root: Path | None) -> tuple[list, np.ndarray]:
    from sadvae.data.registry import DATASETS, load_dataset
    from sadvae.data.splits import copies_of_training, random_split
    from sadvae.train.protocol import dataset_arrays, split_partition, test_side_mask

    prov = bundle.provenance
    name = prov.get("dataset")
    if name not in DATASETS:
        raise ConfigError(
            f"the bundle's provenance names dataset {name!r}, not one of {sorted(DATASETS)} or the default model's "
            "merged sets; windows can only be drawn for bundles trained on a registered dataset"
        )
    root = data_root if data_root is not None else prov.get("root")
    if root is None:
        raise ConfigError(f"the bundle records no dataset root for {name}; pass data_root")
    ds = load_dataset(name, root)
    if tuple(ds.class_names) != tuple(bundle.class_names):
        raise ConfigError(f"{root}: its {len(ds.class_names)} classes are not the bundle's {len(bundle.class_names)}")
    labels, _, _ = dataset_arrays(ds)
    seen = tuple(bundle.seen_classes)
    unseen = tuple(bundle.unseen_classes)
    test = test_side_mask(ds, name)
    if split == "train":
        idx = np.flatnonzero(~test & np.isin(labels, seen))
    elif split == "holdout":  # a seen class's test clip that repeats a training clip was trained on; an unseen
        # class's stays, as in the protocol's partition (sadvae.data.splits.copies_of_training)
        trained_copy = copies_of_training(ds, test) & np.isin(labels, seen)
        idx = np.flatnonzero(test & np.isin(labels, seen + unseen) & ~trained_copy)
    else:
        seed = int(prov.get("split_seed", 0))
        zs = random_split(len(ds.class_names), len(unseen), seed)
        if zs.seen != seen or zs.unseen != unseen:
            raise ConfigError(
                f"the bundle's seen/unseen classes are not split seed {seed}'s; cannot rebuild its "
                "validation partition (use split 'train' or 'holdout')"
            )
        part = split_partition(ds, name, zs, 0.2, seed)
        idx = np.sort(np.concatenate([part.val_seen, part.val_unseen]))
    return [ds.sequences[i] for i in idx], labels[idx]


def split_sequences(bundle, split: str, data_root: str | Path | None = None) -> tuple[list, np.ndarray]:
    """The sequences of one side of the data a bundle was trained on (see the module docstring).

    Args:
        bundle: a loaded :class:`sadvae.bundle.Bundle`.
        split: "train", "validation" or "holdout".
        data_root: default model: the folder holding ``skeleton_sets/`` (and ``mocap/``; None: ``../shared/data``);
            single-dataset bundle: the dataset folder or prepared ``.npz`` (None: the recorded root).

    Returns:
        (list of ``SkeletonSequence``, int64 [n] global class ids).

    Raises:
        ConfigError: unknown split, a bundle whose data cannot be located, or data that does not match it.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
    root = Path(data_root) if data_root is not None else None
    if bundle.provenance.get("recipe_name") == _SHIFTGCN_RECIPE:
        seqs, labels = _class_table_sequences(bundle, split, root)
    elif bundle.provenance.get("recipe") == _DEFAULT_RECIPE:
        seqs, labels = _merged_sequences(bundle, split, root)
    else:
        seqs, labels = _dataset_sequences(bundle, split, root)
    if not seqs:
        raise ConfigError(f"the {split} side of the bundle's data holds no sequences")
    return seqs, np.asarray(labels, dtype=np.int64)


def _quotas(classes: np.ndarray, per_class: int | None, total: int | None, rng: np.random.Generator) -> dict:
    if total is not None:
        if total < 1:
            raise ConfigError(f"total must be >= 1, got {total}")
        base, extra = divmod(total, len(classes))
        lucky = set(rng.permutation(classes)[:extra].tolist())
        return {int(c): base + (int(c) in lucky) for c in classes}
    if per_class is not None and per_class < 1:
        raise ConfigError(f"per_class must be >= 1 (or None for every sequence once), got {per_class}")
    return {int(c): per_class for c in classes}


def sample_windows(
    bundle_or_path,
    *,
    data_root: str | Path | None = None,
    per_class: int | None = 16,
    total: int | None = None,
    split: str = "train",
    seed: int = 0,
    crop: str = "random",
    model_id: str | None = None,
    persons: int | None = None,
) -> CalibrationSet:
    """Draw preprocessed windows, stratified by class, from the data a bundle was trained on.

    Args:
        bundle_or_path: a bundle file, or a loaded :class:`sadvae.bundle.Bundle` (then pass ``model_id``).
        data_root: where the data lies (see :func:`split_sequences`).
        per_class: windows per class (None: every sequence of the split once, in order).
        total: if set, this many windows split evenly over the classes (the remainder goes to
            seeded classes); overrides ``per_class``.
        split: "train" (calibration), "validation" or "holdout" (measuring the INT8 cost).
        seed: seeds the sequence order and the crops; the same seed gives the same windows.
        crop: "random" (seeded crop positions) or "center" (the evaluation window).
        model_id: the bundle's id (default: sha256 of the bundle file).
        persons: person slots M of the windows, as ``sadvae export --persons`` (None: the bundle's live
            window, which ``sadvae export`` exports by default); checked as the export checks it.

    Returns:
        a :class:`CalibrationSet`, windows in class order.

    Raises:
        ConfigError: bad arguments (a person count the bundle's recognizer has no graph for among them), or data
            that cannot be located; CheckpointError: unreadable bundle.
    """
    if crop not in ("random", "center"):
        raise ConfigError(f"crop must be 'random' or 'center', got {crop!r}")
    bundle, mid = _bundle_and_id(bundle_or_path, model_id)
    pre = _window_preprocess(bundle, persons)
    seqs, labels = split_sequences(bundle, split, data_root)
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    quotas = _quotas(classes, per_class, total, rng)
    windows = []
    out_labels = []
    sources = []
    for c in classes:
        idx = np.flatnonzero(labels == c)
        q = quotas[int(c)]
        picks = idx if q is None else np.resize(rng.permutation(idx), q)  # cycles when a class is short
        for i in picks:
            s = seqs[i]
            windows.append(preprocess(s.joints, s.times(), pre, crop=crop, rng=rng))  # (3, T, 25, M)
            out_labels.append(int(c))
            sources.append(str(s.source))
    log.info(
        "drew %d %s windows of %d classes from %d %s sequences (seed %d)",
        len(windows),
        crop,
        len(classes),
        len(seqs),
        split,
        seed,
    )
    return CalibrationSet(
        windows=np.stack(windows).astype(np.float32, copy=False),
        labels=np.asarray(out_labels, dtype=np.int64),
        class_names=tuple(bundle.class_names),
        sources=tuple(sources),
        seed=int(seed),
        model_id=mid,
        preprocess=pre,
        split=split,
        crop=crop,
    )


def _window_preprocess(bundle, persons: int | None) -> PreprocessConfig:
    """The preprocessing of the exported graph's windows: the live window, or ``persons`` slots (checked as
    :func:`sadvae.export.live_recognizer` checks them, so windows fit the export made with the same count)."""
    if persons is None:
        return getattr(bundle, "live_preprocess", bundle.preprocess)
    from sadvae.export import check_persons

    check_persons(bundle, persons)
    return replace(bundle.preprocess, persons=int(persons))


def save_calibration_set(cset: CalibrationSet, path: str | Path) -> Path:
    """Write ``cset`` to ``path`` (``.npz``, no pickle) through a temporary file and a rename."""
    path = Path(path)
    arrays = dict(
        format=np.array(CALIBRATION_FORMAT, dtype=np.int64),
        windows=np.ascontiguousarray(cset.windows, dtype=np.float32),
        labels=np.asarray(cset.labels, dtype=np.int64),
        class_names=np.array(cset.class_names, dtype=str),
        sources=np.array(cset.sources, dtype=str),
        seed=np.array(cset.seed, dtype=np.int64),
        model_id=np.array(cset.model_id),
        preprocess=np.array(json.dumps(asdict(cset.preprocess), sort_keys=True)),
        split=np.array(cset.split),
        crop=np.array(cset.crop),
    )
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


def _read_members(path: Path, z) -> dict[str, np.ndarray]:
    missing = [k for k in KEYS if k not in z.files]
    if missing:
        raise DataFormatError(path, missing[0], f"key missing (all missing: {missing}); expected keys {list(KEYS)}")
    arrays = {}
    for k in KEYS:
        try:
            arrays[k] = z[k]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:  # object arrays need pickle; truncation
            raise DataFormatError(path, k, f"unreadable ({e}); expected a plain numeric or string array") from None
    return arrays


def _scalar_str(a: np.ndarray, path: Path, key: str) -> str:
    if a.shape != () or a.dtype.kind != "U":
        raise DataFormatError(path, key, f"expected a string scalar, got {a.dtype} {list(a.shape)}")
    return str(a)


def _check(path: Path, z: dict[str, np.ndarray]) -> CalibrationSet:
    fmt = z["format"]
    if fmt.shape != () or fmt.dtype.kind not in "iu" or int(fmt) != CALIBRATION_FORMAT:
        raise DataFormatError(path, "format", f"expected calibration format {CALIBRATION_FORMAT}, got {fmt!r}")
    try:
        pre = PreprocessConfig(**json.loads(_scalar_str(z["preprocess"], path, "preprocess")))
    except (json.JSONDecodeError, TypeError, ValueError) as e:
        raise DataFormatError(path, "preprocess", f"expected a PreprocessConfig as JSON ({e})") from None
    w = z["windows"]
    want = f"[N>=1, 3, {pre.window}, {NUM_JOINTS}, {pre.persons}]"
    if w.ndim != 5 or w.shape[0] < 1 or w.shape[1:] != (3, pre.window, NUM_JOINTS, pre.persons):
        problem = "an empty array (no windows)" if w.ndim == 5 and w.shape[0] == 0 else f"shape {list(w.shape)}"
        raise DataFormatError(path, "windows", f"expected float32 {want}, got {problem}")
    if w.dtype != np.float32:
        raise DataFormatError(path, "windows", f"expected dtype float32, got {w.dtype}")
    if not np.isfinite(w).all():
        raise DataFormatError(path, "windows", "contains NaN or infinite values")
    n = w.shape[0]
    names = z["class_names"]
    if names.ndim != 1 or names.dtype.kind != "U" or len(names) < 1:
        raise DataFormatError(path, "class_names", f"expected a 1-D string array, got {names.dtype} {names.shape}")
    labels = z["labels"]
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise DataFormatError(path, "labels", f"expected int [{n}], got {labels.dtype} {list(labels.shape)}")
    if labels.min() < 0 or labels.max() >= len(names):
        raise DataFormatError(
            path, "labels", f"class ids must lie in [0, {len(names)}), got {labels.min()}..{labels.max()}"
        )
    sources = z["sources"]
    if sources.shape != (n,) or sources.dtype.kind != "U":
        raise DataFormatError(path, "sources", f"expected str [{n}], got {sources.dtype} {list(sources.shape)}")
    seed = z["seed"]
    if seed.shape != () or seed.dtype.kind not in "iu":
        raise DataFormatError(path, "seed", f"expected an integer scalar, got {seed.dtype} {list(seed.shape)}")
    split = _scalar_str(z["split"], path, "split")
    crop = _scalar_str(z["crop"], path, "crop")
    if split not in SPLITS:
        raise DataFormatError(path, "split", f"expected one of {list(SPLITS)}, got {split!r}")
    model_id = _scalar_str(z["model_id"], path, "model_id")
    return CalibrationSet(
        np.ascontiguousarray(w),
        labels.astype(np.int64),
        tuple(map(str, names)),
        tuple(map(str, sources)),
        int(seed),
        model_id,
        pre,
        split,
        crop,
    )


def load_calibration_set(path: str | Path) -> CalibrationSet:
    """Read and validate a file written by :func:`save_calibration_set`.

    Raises:
        DataFormatError: the file is missing, not an ``.npz``, holds pickled objects, or a key is
            missing or has the wrong shape or dtype (the message names the file and the key).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, None, "calibration windows not found; draw them with calibration/sample.py")
    try:
        z = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataFormatError(path, None, f"not a readable .npz archive ({e}); re-draw it") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataFormatError(path, None, "a single .npy array, expected an .npz archive of calibration windows")
    with z:
        return _check(path, _read_members(path, z))
