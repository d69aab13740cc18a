"""Zero-shot class splits and the sample partitions built from them.

A zero-shot split divides the classes into seen and unseen. Model selection and the GZSL gate need a
second, *validation* split carved out of the seen classes only: some seen classes play the unseen
part ("pseudo-unseen"), so nothing about the real unseen classes or the test samples is ever used
to choose a model.

Sample partitions follow the dataset's protocol (cross-subject, cross-view): training-side samples
feed training and validation, test-side samples feed only the final numbers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sadvae.data.numpy_files import NUMPY_READ_ERRORS, check_numpy_file
from sadvae.data.record import Dataset
from sadvae.data.registry import DATASETS
from sadvae.data.text_files import parse_json
from sadvae.errors import ConfigError, DataFormatError

log = logging.getLogger(__name__)

__all__ = [
    "ZSLSplit",
    "load_split_files",
    "random_split",
    "check_unseen_count",
    "named_split",
    "load_split_json",
    "Partition",
    "protocol_mask",
    "make_partition",
    "PROTOCOLS",
    "MAX_SPLIT_FILE_BYTES",
    "NTU_TRAIN_PERFORMERS",
    "dataset_arrays",
    "dataset_protocol",
    "test_side_mask",
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


def check_unseen_count(num_unseen: int, num_classes: int, dataset: str | None = None) -> None:
    """Refuse an ``--unseen`` count a seeded split of ``num_classes`` classes cannot hold: as many seen classes again
    play the unseen part in the validation run, and at least 2 seen classes stay seen there."""
    if num_unseen < 1:
        raise ConfigError(f"unseen classes per split (--unseen) must be at least 1, got {num_unseen}")
    most = (num_classes - 2) // 2
    if num_unseen <= most:
        return
    of = f"{dataset}'s {num_classes} classes" if dataset else f"{num_classes} classes"
    why = "each split also holds out as many seen classes for validation and keeps at least 2 seen"
    if most < 1:
        raise ConfigError(f"--unseen {num_unseen}: {of} are too few for a seeded zero-shot split (it needs 4: {why})")
    raise ConfigError(
        f"--unseen {num_unseen} is too many for {of} (at most {most}: {why}); pass --unseen {most} or fewer"
    )


def random_split(num_classes: int, num_unseen: int, seed: int, num_val_unseen: int | None = None) -> ZSLSplit:
    """A seeded random split; the validation split takes ``num_val_unseen`` (default: ``num_unseen``) seen classes."""
    nvu = num_unseen if num_val_unseen is None else num_val_unseen
    if num_val_unseen is None:
        check_unseen_count(num_unseen, num_classes)
    if num_unseen < 1:
        raise ConfigError(f"unseen classes per split (--unseen) must be at least 1, got {num_unseen}")
    if nvu < 1 or num_classes - num_unseen - nvu < 2:
        raise ConfigError(
            f"cannot split {num_classes} classes into {num_unseen} unseen + {nvu} validation-unseen + >=2 seen"
        )
    perm = np.random.default_rng(seed).permutation(num_classes)
    unseen = tuple(sorted(int(x) for x in perm[:num_unseen]))
    val_unseen = tuple(sorted(int(x) for x in perm[num_unseen : num_unseen + nvu]))
    seen = tuple(sorted(int(x) for x in perm[num_unseen:]))
    val_seen = tuple(sorted(set(seen) - set(val_unseen)))
    return ZSLSplit(f"seed{seed}", seen, unseen, val_seen, val_unseen)


# NTU RGB+D 120 cross-subject training performers (Liu et al., TPAMI 2019). Its first 20 (performers up to 38) are
# NTU-60's, and NTU-60 has performers 1-40 only, so this one set gives both datasets' official split.
NTU_TRAIN_PERFORMERS = frozenset(
    {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38}
    | {45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93}
    | {94, 95, 97, 98, 100, 103}
)

# protocol name -> (grouping attribute, predicate on the group value telling "training side")
PROTOCOLS = {
    "cross_subject_odd": ("subject", lambda g: g % 2 == 1),  # MSR Action3D, UTKinect: subjects 1,3,5,7,9 train
    "cross_view_12": ("view", lambda g: g in (1, 2)),  # NW-UCLA: views 1+2 train, view 3 test
    "ntu_cross_subject": ("subject", lambda g: g in NTU_TRAIN_PERFORMERS),  # NTU-60 and NTU-120
    "ntu_cross_view": ("view", lambda g: g in (2, 3)),
    # HDM05 (11-class subset): the release's split by actor, train bd, bk, dg (1-3), test mm, tr (4, 5)
    "hdm05_cross_subject": ("subject", lambda g: g in (1, 2, 3)),
    # Bandai-Namco: performers are not identified per clip, so the held-out side is by style (``view`` holds the
    # style id): every third style of each set's list from the second is test (sadvae.data.mocap.BANDAI_TEST_STYLES)
    "bandai_cross_style": ("view", lambda g: (g % 100 - 1) % 3 != 1),
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
    class_names: Sequence[str] | None = None,
    copies: np.ndarray | None = None,
) -> Partition:
    """Cross the class split with the protocol's sample split (``class_names`` name the classes in warnings).

    The held-out validation-seen samples are whole groups (subjects or views) of the training side
    when it has at least three groups, so validation mimics the cross-subject / cross-view test;
    otherwise a stratified random ``holdout_fraction`` of each class. ``copies`` (boolean [n],
    :func:`copies_of_training`): test-side clips that repeat a training-side clip, left out of the seen classes'
    test clips (the model trained on their twins); an unseen class keeps them.
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
    trained_twin = np.zeros(len(labels), dtype=bool) if copies is None else np.asarray(copies, dtype=bool)
    if trained_twin.shape != labels.shape:
        raise ValueError(f"copies has shape {trained_twin.shape}, the labels {labels.shape}")
    part = Partition(
        train=np.flatnonzero(train_side & seen),
        test_seen=np.flatnonzero(test_side & seen & ~trained_twin),
        test_unseen=np.flatnonzero(test_side & unseen),
        val_train=np.flatnonzero(train_side & vseen & ~held),
        val_seen=np.flatnonzero(train_side & vseen & held),
        val_unseen=np.flatnonzero(train_side & vunseen),
    )

    def named(ids) -> str:
        return ", ".join(repr(class_names[c]) if class_names is not None else f"class {c}" for c in ids)

    # what each partition is drawn from: an empty one names its classes and side (until 7 December 2026 the
    # message was "check the protocol and classes" alone; the training audit)
    drawn = {
        "train": ("training-side", "seen", split.seen),
        "test_seen": ("test-side", "seen", split.seen),
        "test_unseen": ("test-side", "unseen", split.unseen),
        "val_train": ("training-side (not held out for validation)", "validation-seen", split.val_seen),
        "val_seen": ("held-out training-side", "validation-seen", split.val_seen),
        "val_unseen": ("training-side", "validation-unseen (pseudo-unseen)", split.val_unseen),
    }
    for name, (side, kind, classes) in drawn.items():
        if len(getattr(part, name)) == 0:
            raise ConfigError(
                f"split {split.name}: the {name} partition is empty: no {side} clip of the {kind} classes "
                f"({named(classes) or 'none'}); give those classes clips on that side (more subjects or views), or "
                "choose other classes (--unseen / --unseen-classes)"
            )
    # per class: a seen class no clip trains is a head column that never learns, and an unseen class no test clip
    # has is a ZSL score over fewer classes than the split says (both passed silently)
    untrained = [int(c) for c in split.seen if not (train_side & (labels == c)).any()]
    untested = [int(c) for c in split.unseen if not (test_side & (labels == c)).any()]

    if (left := int((test_side & seen & trained_twin).sum())) > 0:
        only_copies = [
            int(c)
            for c in split.seen
            if (test_side & trained_twin & (labels == c)).any()
            and not (test_side & ~trained_twin & (labels == c)).any()
        ]
        log.info(
            "split %s: %d test clip(s) of seen classes repeat a training clip and are not scored%s",
            split.name,
            left,
            f" (all of {named(only_copies)})" if only_copies else "",
        )
    what = [f"seen classes with no training-side clip: {named(untrained)}"] if untrained else []
    what += [f"unseen classes with no test-side clip: {named(untested)}"] if untested else []
    if what:
        log.warning(  # a warning: a registered set may lack some classes on one side (Bandai-Namco's test styles)
            "split %s: %s: their scores mean nothing; give those classes clips on that side, or leave "
            "them out of the split (an explicit split's `seen` / `unseen` lists)",
            split.name,
            "; ".join(what),
        )
    return part


def _class_ids(names: Sequence[str], class_names: Sequence[str], what: str, where: str) -> tuple[int, ...]:
    lookup = {" ".join(c.split()).casefold(): i for i, c in enumerate(class_names)}
    ids, unknown = [], []
    for n in names:
        i = lookup.get(" ".join(str(n).split()).casefold())
        (unknown.append(str(n)) if i is None else ids.append(i))
    if unknown:
        shown = "; ".join(map(repr, class_names[:30])) + ("; ..." if len(class_names) > 30 else "")
        comma = [c for c in class_names if "," in c]
        hint = (
            f" (a class name with a comma, {comma[0]!r}, cannot be given in the comma-separated --unseen-classes: "
            "use --split-file)"
            if comma and where == "--unseen-classes"
            else ""
        )
        raise ConfigError(f"{where}: {what} {unknown} are not classes of this dataset; its classes: {shown}{hint}")
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{where}: {what} name a class twice: {list(names)}")
    return tuple(sorted(ids))


def named_split(
    class_names: Sequence[str],
    unseen: Sequence[str],
    seed: int = 0,
    seen: Sequence[str] | None = None,
    val_unseen: Sequence[str] | None = None,
    name: str | None = None,
    where: str = "--unseen-classes",
) -> ZSLSplit:
    """An explicit split given by class names (matched ignoring case and spacing), e.g. a published one.

    Args:
        class_names: the dataset's classes (index = class id).
        unseen: names of the unseen classes.
        seed: seeds the choice of the validation pseudo-unseen classes when ``val_unseen`` is None.
        seen: names of the seen classes; default every class that is not unseen.
        val_unseen: seen classes that play the unseen part in the validation run; default ``len(unseen)``
            (at most ``len(seen) - 2``) seen classes drawn with ``seed``.
        name: report name; default ``"explicit"`` (``"explicit/seed<seed>"`` when the validation split is drawn).
        where: the flag or file the names came from, for error messages.

    Raises:
        ConfigError: an unknown or repeated class name, or a split that leaves too few classes.
    """
    u = _class_ids(unseen, class_names, "unseen classes", where)
    if not u:
        raise ConfigError(f"{where}: name at least one unseen class")
    if seen is None:
        s = tuple(c for c in range(len(class_names)) if c not in u)
    else:
        s = _class_ids(seen, class_names, "seen classes", where)
        if both := [class_names[c] for c in sorted(set(s) & set(u))]:
            raise ConfigError(f"{where}: classes {both} are listed both as seen and unseen; list each in one of them")
    if val_unseen is None:
        k = min(len(u), len(s) - 2)
        if k < 1:
            raise ConfigError(f"{where}: {len(s)} seen classes leave none for the validation split; unseen fewer")
        perm = np.random.default_rng(seed).permutation(len(s))
        vu = tuple(sorted(s[i] for i in perm[:k]))
        default_name = f"explicit/seed{seed}"
    else:
        vu = _class_ids(val_unseen, class_names, "validation-unseen classes", where)
        default_name = "explicit"
        if not set(vu) <= set(s):
            raise ConfigError(f"{where}: validation-unseen classes must be seen classes")
    vs = tuple(sorted(set(s) - set(vu)))
    return ZSLSplit(name or default_name, s, u, vs, vu)


def load_split_json(path: str | Path, class_names: Sequence[str], seed: int = 0) -> ZSLSplit:
    """Read a split file: ``{"unseen": [names], "seen": [names]?, "val_unseen": [names]?, "name": str?}``.

    See ``docs/data_format.md``; the fields are those of :func:`named_split`.

    Raises:
        DataFormatError: missing, too large, not JSON, or a field of the wrong type; ConfigError: unknown names.
    """
    path = Path(path)
    if path.is_dir():
        raise DataFormatError(path, None, "is a folder; pass the split's JSON file")
    if not path.is_file():
        raise DataFormatError(path, None, "split file not found; check the path")
    if path.stat().st_size > MAX_SPLIT_FILE_BYTES:
        raise DataFormatError(path, None, f"more than {MAX_SPLIT_FILE_BYTES} bytes; a split file lists class names")
    try:
        spec = parse_json(path.read_text(encoding="utf-8"), path)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataFormatError(path, None, f'not valid JSON ({e}); write {{"unseen": ["class a", "class b"]}}') from None
    if not isinstance(spec, dict):
        raise DataFormatError(path, None, 'expected a JSON object like {"unseen": ["class a", "class b"]}')
    extra = set(spec) - {"unseen", "seen", "val_unseen", "name"}
    if extra:
        raise DataFormatError(path, ", ".join(sorted(extra)), "unknown keys; allowed: unseen, seen, val_unseen, name")
    if "unseen" not in spec:
        raise DataFormatError(path, "unseen", 'missing; list the unseen class names: {"unseen": ["a", "b"]}')
    for key in ("unseen", "seen", "val_unseen"):
        val = spec.get(key)
        if val is not None and (not isinstance(val, list) or not all(isinstance(v, str) for v in val)):
            raise DataFormatError(path, key, "expected a list of class-name strings")
    if not isinstance(spec.get("name", ""), str):
        raise DataFormatError(path, "name", "expected a string")
    return named_split(
        class_names,
        spec["unseen"],
        seed,
        seen=spec.get("seen"),
        val_unseen=spec.get("val_unseen"),
        name=spec.get("name") or f"{path.stem}" + ("" if spec.get("val_unseen") else f"/seed{seed}"),
        where=str(path),
    )


def dataset_arrays(ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, subjects, views) as int arrays (-1 where unknown)."""
    lab = np.array([-1 if s.label is None else s.label for s in ds.sequences])
    subj = np.array([-1 if s.subject is None else s.subject for s in ds.sequences])
    view = np.array([-1 if s.view is None else s.view for s in ds.sequences])
    return lab, subj, view


def dataset_protocol(ds: Dataset, dataset: str) -> str:
    """The train/test protocol key of a dataset: the registry's for a registered name, else the one a clip folder's
    reader chose (``ds.protocol``: ``"clip_split"`` from the clips' ``split`` field, or ``"cross_subject_odd"``)."""
    if dataset in DATASETS:
        return DATASETS[dataset].protocol
    from sadvae.data.user_format import CLIP_SPLIT_PROTOCOL

    if ds.protocol == CLIP_SPLIT_PROTOCOL or ds.protocol in PROTOCOLS:
        return ds.protocol
    raise ConfigError(f"dataset {dataset!r} has no known train/test protocol; pass a registered name or a clip folder")


def copies_of_training(ds: Dataset, test_side: np.ndarray) -> np.ndarray:
    """Boolean [n]: True for test-side clips whose joints equal, to the bit, a training-side clip's.

    A model trained on the training side has seen such a clip, so it is no held-out clip for the classes it trained:
    the single-dataset protocol leaves them out of the seen classes' test clips (:func:`make_partition`) and the
    replays of held-out sides leave them out (``sadvae bench accuracy``); an unseen class's copy stays (no clip of
    it is trained). In the shared sets only NW-UCLA has any: as released, every view-3 file of "pick up with two
    hands" (50) and "drop trash" (45) is the view-2 file of the same action, subject and take (found 7 December 2026,
    ``sadvae.data.quality``).
    """
    from sadvae.data.record import clip_fingerprint

    test_side = np.asarray(test_side, dtype=bool)
    if test_side.shape != (len(ds.sequences),):
        raise ValueError(f"test_side has shape {test_side.shape}, the dataset {len(ds.sequences)} clips")
    trained = {clip_fingerprint(s.joints) for s, t in zip(ds.sequences, test_side, strict=True) if not t}
    return np.array(
        [bool(t) and clip_fingerprint(s.joints) in trained for s, t in zip(ds.sequences, test_side, strict=True)],
        dtype=bool,
    )


def test_side_mask(ds: Dataset, dataset: str) -> np.ndarray:
    """Boolean [n]: True for samples on the TEST side of the dataset's standard protocol."""
    from sadvae.data.user_format import CLIP_SPLIT_PROTOCOL, clip_train_side

    protocol = dataset_protocol(ds, dataset)
    if protocol == CLIP_SPLIT_PROTOCOL:
        return ~clip_train_side(ds)
    _, subj, view = dataset_arrays(ds)
    return ~protocol_mask(subj, view, protocol)
