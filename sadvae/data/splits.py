"""Zero-shot class splits and the sample partitions built from them.

A zero-shot split divides the classes into seen and unseen. Model selection and the GZSL gate need a
second, *validation* split carved out of the seen classes only: some seen classes play the unseen
part ("pseudo-unseen"), so nothing about the real unseen classes or the test samples is ever used
to choose a model.

Sample partitions follow the dataset's protocol (cross-subject, cross-view): training-side samples
feed training and validation, test-side samples feed only the final numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sadvae.data.registry import NUMPY_READ_ERRORS, check_numpy_file
from sadvae.errors import ConfigError, DataFormatError

__all__ = [
    "ZSLSplit",
    "load_split_files",
    "random_split",
    "Partition",
    "protocol_mask",
    "make_partition",
    "PROTOCOLS",
    "MAX_SPLIT_FILE_BYTES",
]

# a split file lists at most a few hundred class ids; a larger file is the wrong file
MAX_SPLIT_FILE_BYTES = 1 << 16


@dataclass(frozen=True)
class ZSLSplit:
    """Class ids (0-based, global) of one zero-shot split and its validation split.

    Attributes:
        name: identifier used in reports ("msr_action3d/seed0", "ntu60/ru5").
        seen: classes the backbone and the VAEs train on.
        unseen: classes only named at test time.
        val_seen: the seen classes the validation run trains on (seen minus val_unseen).
        val_unseen: seen classes that play the unseen part in the validation run.
    """

    name: str
    seen: tuple[int, ...]
    unseen: tuple[int, ...]
    val_seen: tuple[int, ...]
    val_unseen: tuple[int, ...]

    def __post_init__(self) -> None:
        s, u, vs, vu = map(set, (self.seen, self.unseen, self.val_seen, self.val_unseen))
        if s & u:
            raise ConfigError(f"split {self.name}: classes {sorted(s & u)} are both seen and unseen")
        if not vu <= s or not vs <= s or vs & vu or (vs | vu) != s:
            raise ConfigError(f"split {self.name}: val_seen and val_unseen must partition the seen classes")
        if not u or not vu or len(vs) < 2:
            raise ConfigError(f"split {self.name}: needs unseen classes and at least 2 validation-seen classes")


def _read_ids(path: Path) -> tuple[int, ...]:
    if not path.exists():
        raise DataFormatError(path, None, "split file not found; expected ru*/rs*/rv* .npy files")
    check_numpy_file(path, ".npy", "expected a split file of class ids saved with np.save")
    size = path.stat().st_size
    if size > MAX_SPLIT_FILE_BYTES:
        raise DataFormatError(
            path, None, f"file is {size} bytes, more than the {MAX_SPLIT_FILE_BYTES}-byte limit for a split file"
        )
    try:
        arr = np.load(path, allow_pickle=False)
    except NUMPY_READ_ERRORS as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise DataFormatError(path, None, f"not a plain numeric .npy array ({first})") from None
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise DataFormatError(path, None, f"expected a 1-D integer array of class ids, got {arr.dtype} {arr.shape}")
    return tuple(sorted(int(x) for x in arr))


def load_split_files(directory: str | Path, num_unseen: int, num_classes: int) -> ZSLSplit:
    """Load a SynSE / SA-DVAE fixed split: ``ru{u}.npy``, ``rs{N-u}.npy`` and ``rv{u}_0.npy``.

    Args:
        directory: folder holding the split files (e.g. ``../shared/data/labels/splits``).
        num_unseen: u, the number of unseen classes (5, 12, 10, 24 in the published splits).
        num_classes: N, the number of classes of the dataset (60 or 120).
    """
    d = Path(directory)
    u, n = num_unseen, num_classes
    unseen = _read_ids(d / f"ru{u}.npy")
    seen = _read_ids(d / f"rs{n - u}.npy")
    val_unseen = _read_ids(d / f"rv{u}_0.npy")
    # The validation-seen classes are the seen ones minus the pseudo-unseen ones. The published
    # rs{N-2u}_0 files are not always that (NTU-120 rs100_0 holds only 81 ids), so derive, never read.
    val_seen = tuple(sorted(set(seen) - set(val_unseen)))
    for name, ids in (("unseen", unseen), ("seen", seen)):
        if any(i < 0 or i >= n for i in ids):
            raise DataFormatError(d, f"{name} ids", f"class ids must lie in [0, {n}), got {ids}")
    if len(unseen) != u or set(seen) | set(unseen) != set(range(n)):
        raise DataFormatError(d, f"ru{u}/rs{n - u}", f"seen and unseen must partition {n} classes with {u} unseen")
    return ZSLSplit(f"{d.name}/ru{u}", seen, unseen, val_seen, val_unseen)


def random_split(num_classes: int, num_unseen: int, seed: int, num_val_unseen: int | None = None) -> ZSLSplit:
    """A seeded random split; the validation split takes ``num_val_unseen`` (default: ``num_unseen``) seen classes."""
    nvu = num_unseen if num_val_unseen is None else num_val_unseen
    if num_unseen < 1 or nvu < 1 or num_classes - num_unseen - nvu < 2:
        raise ConfigError(
            f"cannot split {num_classes} classes into {num_unseen} unseen + {nvu} validation-unseen + >=2 seen"
        )
    perm = np.random.default_rng(seed).permutation(num_classes)
    unseen = tuple(sorted(int(x) for x in perm[:num_unseen]))
    val_unseen = tuple(sorted(int(x) for x in perm[num_unseen : num_unseen + nvu]))
    seen = tuple(sorted(int(x) for x in perm[num_unseen:]))
    val_seen = tuple(sorted(set(seen) - set(val_unseen)))
    return ZSLSplit(f"seed{seed}", seen, unseen, val_seen, val_unseen)


# protocol name -> (grouping attribute, predicate on the group value telling "training side")
PROTOCOLS = {
    "cross_subject_odd": ("subject", lambda g: g % 2 == 1),  # MSR Action3D, UTKinect: subjects 1,3,5,7,9 train
    "cross_view_12": ("view", lambda g: g in (1, 2)),  # NW-UCLA: views 1+2 train, view 3 test
    "ntu_cross_subject": (
        "subject",
        lambda g: g in {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38},
    ),
    "ntu_cross_view": ("view", lambda g: g in (2, 3)),
}


def protocol_mask(groups_subject: np.ndarray, groups_view: np.ndarray, protocol: str) -> np.ndarray:
    """Boolean [N]: True for samples on the training side of ``protocol``."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; choose one of {sorted(PROTOCOLS)}")
    attr, is_train = PROTOCOLS[protocol]
    groups = groups_subject if attr == "subject" else groups_view
    return np.array([g is not None and g >= 0 and bool(is_train(int(g))) for g in groups], dtype=bool)


@dataclass(frozen=True)
class Partition:
    """Sample indices for one zero-shot experiment (all arrays index the dataset's sequence list).

    Main run: ``train`` (seen classes, training side), ``test_seen`` / ``test_unseen`` (test side).
    Validation run: ``val_train`` (validation-seen classes, training side minus the held-out part),
    ``val_seen`` (held-out validation-seen samples), ``val_unseen`` (pseudo-unseen classes, training side).
    """

    train: np.ndarray
    test_seen: np.ndarray
    test_unseen: np.ndarray
    val_train: np.ndarray
    val_seen: np.ndarray
    val_unseen: np.ndarray


def make_partition(
    labels: np.ndarray,
    groups: np.ndarray,
    train_side: np.ndarray,
    split: ZSLSplit,
    holdout_fraction: float = 0.2,
    seed: int = 0,
) -> Partition:
    """Cross the class split with the protocol's sample split.

    The held-out validation-seen samples are whole groups (subjects or views) of the training side
    when it has at least three groups, so validation mimics the cross-subject / cross-view test;
    otherwise a stratified random ``holdout_fraction`` of each class.
    """
    labels = np.asarray(labels)
    groups = np.asarray(groups)
    rng = np.random.default_rng(seed)
    seen, unseen = np.isin(labels, split.seen), np.isin(labels, split.unseen)
    vseen, vunseen = np.isin(labels, split.val_seen), np.isin(labels, split.val_unseen)
    test_side = ~train_side
    train_groups = np.unique(groups[train_side])
    held = np.zeros(len(labels), dtype=bool)
    if len(train_groups) >= 3:
        k = max(1, int(round(holdout_fraction * len(train_groups))))
        held_groups = rng.choice(train_groups, size=k, replace=False)
        held = train_side & np.isin(groups, held_groups)
    else:
        for c in split.val_seen:
            idx = np.flatnonzero(train_side & (labels == c))
            k = int(round(holdout_fraction * len(idx)))
            held[rng.choice(idx, size=k, replace=False)] = True
    part = Partition(
        train=np.flatnonzero(train_side & seen),
        test_seen=np.flatnonzero(test_side & seen),
        test_unseen=np.flatnonzero(test_side & unseen),
        val_train=np.flatnonzero(train_side & vseen & ~held),
        val_seen=np.flatnonzero(train_side & vseen & held),
        val_unseen=np.flatnonzero(train_side & vunseen),
    )
    for name in ("train", "test_seen", "test_unseen", "val_train", "val_seen", "val_unseen"):
        if len(getattr(part, name)) == 0:
            raise ConfigError(f"split {split.name}: the {name} partition is empty; check the protocol and classes")
    return part
