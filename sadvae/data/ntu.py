"""NTU RGB+D 60/120 readers: raw ``.skeleton`` text, txt2npy ``.skeleton.npy``, CTR-GCN ``.npz``, whole folders.

The raw text format and the main-actor rule live in :mod:`sadvae.data.ntu_skeleton` and are re-exported here.
Every reader gives NTU-25 joints in metres at 30 fps; label = action - 1 (0-based), subject = performer,
view = camera, all read from the ``SsssCcccPpppRrrrAaaa`` sample name.
"""

from __future__ import annotations

import csv
import io
import logging
import pickle
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from sadvae.data.ntu_skeleton import (
    NTU_FPS,
    fill_slots,
    label_fields,
    motion_energy,
    parse_ntu_name,
    read_ntu_skeleton,
    read_ntu_skeleton_color,
)
from sadvae.data.numpy_files import NUMPY_READ_ERRORS, check_numpy_file
from sadvae.data.record import Dataset, SkeletonSequence
from sadvae.data.text_files import F32_MAX, MAX_LIST_FILE_BYTES, all_numbers, read_text
from sadvae.errors import ConfigError, DataFormatError
from sadvae.skeleton import NUM_JOINTS

__all__ = [
    "MAX_LIST_FILE_BYTES",
    "NTU_FPS",
    "parse_ntu_name",
    "load_class_names",
    "read_ntu_skeleton",
    "read_ntu_skeleton_color",
    "read_txt2npy",
    "read_ctrgcn_npz",
    "load_missing_list",
    "load_ntu_dir",
]

log = logging.getLogger(__name__)

_SAMPLE_RE = re.compile(r"S\d{3}C\d{3}P\d{3}R\d{3}A\d{3}")
_SAMPLE_START_RE = re.compile(r"S\d{3}C\d")  # a line starting like a sample name must be one (not cut short)
_PROTOCOL = (
    "NTU-60: cross-subject (20 training performers) and cross-view (cameras 2, 3 train); "
    "NTU-120: cross-subject (53 training performers) and cross-setup (even setup ids train)"
)


def load_class_names(csv_path: str | Path) -> tuple[str, ...]:
    """Read an ``idx,label`` csv (header optional, indices contiguous from 0 or 1) into names by 0-based label.

    Raises:
        DataFormatError: missing, unreadable, over :data:`MAX_LIST_FILE_BYTES` or not UTF-8; a row is not
            ``idx,label`` or the indices skip, repeat or start above 1.
    """
    path = Path(csv_path)
    reader = csv.reader(io.StringIO(read_text(path, MAX_LIST_FILE_BYTES), newline=""))
    try:
        rows = [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]
    except csv.Error as e:
        raise DataFormatError(path, f"line {reader.line_num}", f"expected 'idx,label' csv rows ({e})") from None
    if rows and not rows[0][1][0].strip().isdigit():
        rows = rows[1:]  # header
    if not rows:
        raise DataFormatError(path, None, "expected idx,label rows, found none")
    names: list[str] = []
    first = None
    for n, row in rows:
        if len(row) != 2 or not row[0].strip().isdigit():
            raise DataFormatError(path, f"line {n}", f"expected 'idx,label', found {','.join(row)[:60]!r}")
        idx = int(row[0])
        first = idx if first is None else first
        if first not in (0, 1) or idx != first + len(names):
            raise DataFormatError(
                path, f"line {n}", f"expected index {first + len(names) if names else '0 or 1'}, found {idx}"
            )
        if not row[1].strip():
            raise DataFormatError(path, f"line {n}", f"expected a class name after the index {idx}, found nothing")
        names.append(row[1].strip())
    return tuple(names)


def _numpy_global(module: str, name: str) -> object:
    core = getattr(np, "_core", None) or np.core  # numpy 2 moved numpy.core to numpy._core
    return {
        "ndarray": np.ndarray,
        "dtype": np.dtype,
        "_reconstruct": core.multiarray._reconstruct,
        "scalar": core.multiarray.scalar,
    }[name]


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers, numbers, strings and numpy arrays/scalars; any other global is refused.

    A pickle calls what its GLOBAL opcodes name; only the four callables numpy needs to rebuild arrays,
    dtypes and scalars are handed out, so a hostile file cannot run ``os.system`` or import anything.
    """

    ALLOWED = frozenset(
        (module, name)
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    ) | {("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused to load the global {module}.{name}")
        return _numpy_global(module, name)


def _load_object_npy(path: Path) -> object:
    """The object of a 0-d object .npy, unpickled with :class:`_ArrayUnpickler` (never ``allow_pickle=True``)."""
    try:
        check_numpy_file(path, ".npy")
    except DataFormatError as e:
        if not e.problem.startswith("not a readable"):
            raise  # missing, a folder, unreadable
        raise DataFormatError(path, "header", f"expected an .npy file holding the txt2npy dict ({e.problem})") from None
    fmt = np.lib.format
    with path.open("rb") as f:
        try:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, _, dtype = fmt.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except ValueError as e:
            raise DataFormatError(path, "header", f"expected an .npy file holding the txt2npy dict ({e})") from e
        if dtype != np.dtype(object) or shape != ():
            raise DataFormatError(
                path, "header", f"expected a 0-d object array (the txt2npy dict), found {dtype} {shape}"
            )
        try:
            arr = _ArrayUnpickler(f, encoding="latin1").load()
        except Exception as e:  # noqa: BLE001 - unpickling fails in many ways; the file is what is wrong
            problem = f"cannot unpickle the txt2npy dict ({type(e).__name__}: {str(e)[:200]})"
            if isinstance(e, pickle.UnpicklingError) and str(e).startswith("refused"):
                problem += "; a txt2npy file holds only numpy arrays, lists, numbers and strings"
            raise DataFormatError(path, "pickle", problem) from None
    if not isinstance(arr, np.ndarray) or arr.shape != ():
        raise DataFormatError(path, "pickle", f"expected a 0-d object array, found {type(arr).__name__}")
    return arr.item()


def _dict_field(path: Path, d: dict, key: str, what: str) -> object:
    if key not in d:
        raise DataFormatError(path, f"key {key!r}", f"expected {what}; keys found: {sorted(map(str, d))}")
    return d[key]


def read_txt2npy(path: str | Path, max_persons: int = 2, class_names: Sequence[str] | None = None) -> SkeletonSequence:
    """Read a ``.skeleton.npy`` written by the NTU authors' txt2npy script.

    The file holds a dict: ``file_name`` (sample name), ``nbodys`` (bodies per frame, length T), ``njoints`` (25),
    ``skel_body{i}`` float [T, 25, 3] for i < max(nbodys) (the i-th body listed in each frame, zeros where absent)
    and optionally ``rgb_body{i}`` / ``depth_body{i}`` [T, 25, 2] (ignored). The format keeps no bodyID, so the
    ``max_persons`` bodies with the most motion energy are kept, in decreasing energy, as in the raw reader.

    Security: the dict is stored as a pickle, and a pickle can name any Python callable to run. This reader
    never calls ``np.load(allow_pickle=True)``: it checks the .npy header, then unpickles with a restricted
    unpickler that hands out only numpy's array, dtype and scalar constructors; a file naming anything else
    (``os.system``, ``builtins.eval``, ...) is refused with DataFormatError before anything runs.

    Args:
        path: the ``.skeleton.npy`` file.
        max_persons: person slots M.
        class_names: names by 0-based label, for ``label_name``.

    Returns:
        joints float32 [T, M, 25, 3] metres; label, subject and view from ``file_name`` (else the path's name).

    Raises:
        DataFormatError: missing, not an object .npy, truncated, a pickle naming anything but numpy arrays,
            not a dict, or a key is missing or has the wrong shape (named).
    """
    from sadvae.data.kinect_v1_files import check_metres

    p = Path(path)
    obj = _load_object_npy(p)
    if not isinstance(obj, dict):
        raise DataFormatError(
            p, "root", f"expected a dict with keys nbodys, njoints, skel_body0, found {type(obj).__name__}"
        )
    nbodys = np.asarray(_dict_field(p, obj, "nbodys", "bodies per frame (list of ints)"))
    if nbodys.ndim != 1 or len(nbodys) == 0 or nbodys.dtype.kind not in "iu" or (nbodys < 0).any():
        raise DataFormatError(
            p, "key 'nbodys'", f"expected a non-empty list of counts, found {nbodys.dtype} {nbodys.shape}"
        )
    njoints = _dict_field(p, obj, "njoints", "the joint count 25")
    if not isinstance(njoints, int | np.integer) or njoints != NUM_JOINTS:
        raise DataFormatError(p, "key 'njoints'", f"expected {NUM_JOINTS}, found {njoints!r}")
    t = len(nbodys)
    bodies: dict[str, np.ndarray] = {}
    for i in range(max(int(nbodys.max()), 1)):
        key = f"skel_body{i}"
        arr = np.asarray(_dict_field(p, obj, key, f"[{t}, 25, 3] joints (nbodys reaches {nbodys.max()})"))
        if arr.shape != (t, NUM_JOINTS, 3) or arr.dtype.kind != "f":
            raise DataFormatError(
                p, f"key {key!r}", f"expected finite floats [{t}, 25, 3], found {arr.dtype} {arr.shape}"
            )
        if not all_numbers(arr):
            frame, joint = (int(v) for v in np.argwhere(~(np.abs(arr) <= F32_MAX))[0][:2])
            raise DataFormatError(
                p, f"key {key!r}", f"not a float32 number (NaN, inf or too large) at frame {frame}, joint {joint}"
            )
        check_metres(p, arr)  # millimetres were read as a 1.4 km person until 7 December 2026, late (an audit)
        bodies[key] = arr
    present = {k: np.flatnonzero(np.abs(a).reshape(t, -1).any(axis=1)) for k, a in bodies.items()}
    present = {k: f for k, f in present.items() if len(f)}
    if not present:
        raise DataFormatError(p, None, f"no skeleton in any of the {t} frames (NTU lists it as missing)")
    energy = {k: motion_energy(bodies[k][f]) for k, f in present.items()}
    slots, notes = fill_slots(present, energy, max_persons, t)
    joints = np.zeros((t, max_persons, NUM_JOINTS, 3), np.float32)
    for m, keys in enumerate(slots):
        for k in keys:
            joints[present[k], m] = bodies[k][present[k]]
    name = obj.get("file_name")
    fields, more = label_fields(name if isinstance(name, str) else p, p, class_names)
    return SkeletonSequence(joints, NTU_FPS, str(p), defects=tuple(notes + more), **fields)


def read_ctrgcn_npz(path: str | Path, split: str | None = None, class_names: Sequence[str] | None = None) -> Dataset:
    """Read a CTR-GCN style ``.npz`` (e.g. ``NTU60_CS.npz``, ``NTU120_CSet.npz``): both halves, or one.

    Expected keys (loaded with ``allow_pickle=False``): ``x_train``, ``y_train``, ``x_test``, ``y_test``;
    ``x_*`` float [N, T, M * 75] (T = 300, M = 2 persons x 25 joints x xyz in metres, zero-padded at the end),
    ``y_*`` one-hot [N, K] or integer labels [N] (0-based). Trailing all-zero frames are trimmed from each
    sample (noted in its defects); an all-zero sample is rejected. The file keeps no sample names, so
    subject and view are None, the source is ``path#split/index`` and each sequence's ``split`` says its half.

    Args:
        path: the ``.npz`` file.
        split: None (both halves, the training half first; the dataset's protocol is then
            :data:`~sadvae.data.user_format.CLIP_SPLIT_PROTOCOL`, so the file's own split decides), ``"train"``
            or ``"test"``.
        class_names: names by label; default ``A001``... placeholders, as many as the labels need.

    Raises:
        ConfigError: unknown split.
        DataFormatError: not an npz, a key is missing (named), or shapes / labels are wrong.
    """
    from sadvae.data.user_format import CLIP_SPLIT_PROTOCOL

    p = Path(path)
    if split not in (None, "train", "test"):
        raise ConfigError(f"split must be 'train' or 'test' (or None for both), got {split!r}")
    halves = ("train", "test") if split is None else (split,)
    keys = [k for h in halves for k in (f"x_{h}", f"y_{h}")]
    check_numpy_file(p, ".npz")
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                found = sorted(z.files)
                if len(missing) == len(keys):  # none of them: probably not meant as a CTR-GCN file at all
                    raise DataFormatError(
                        p,
                        None,
                        f"an .npz of none of the read formats (keys {found}): a recording has joints and times "
                        "(sadvae-live --record-skeleton), a CTR-GCN file x_train, y_train, x_test, y_test, a clip "
                        "joints and label (docs/data_format.md)",
                    )
                raise DataFormatError(
                    p, f"key {missing[0]!r}", f"expected x_train, y_train, x_test, y_test; found {found}"
                )
            arrays = {k: z[k] for k in keys}
    except (*NUMPY_READ_ERRORS, AttributeError) as e:
        if isinstance(e, DataFormatError):
            raise
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise DataFormatError(p, None, f"expected an .npz of numeric arrays without pickles ({first})") from None
    read = [_ctrgcn_labels(p, h, arrays[f"x_{h}"], arrays[f"y_{h}"]) for h in halves]
    num_classes = max(k for _, k in read)
    if class_names is None:
        class_names = tuple(f"A{i + 1:03d}" for i in range(num_classes))
    elif len(class_names) < num_classes:
        yk = f"y_{halves[int(np.argmax([k for _, k in read]))]}"
        raise DataFormatError(p, f"key {yk!r}", f"labels need {num_classes} classes, {len(class_names)} names given")
    sequences: list[SkeletonSequence] = []
    rejected: list[tuple[str, str]] = []
    for h, (labels, _) in zip(halves, read, strict=True):
        _ctrgcn_sequences(p, h, arrays[f"x_{h}"], labels, class_names, sequences, rejected)
    if split is None:
        protocol = CLIP_SPLIT_PROTOCOL  # the file's own train/test halves (ntu._PROTOCOL says which protocol)
    else:
        protocol = f"{p.stem} '{split}' split as prepared for CTR-GCN ({_PROTOCOL})"
    return Dataset(p.stem, tuple(class_names), sequences, rejected, protocol)


def _ctrgcn_labels(p: Path, half: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int]:
    """(labels [N], number of classes) of one half of a CTR-GCN file, after the shape checks of ``x`` and ``y``."""
    xk, yk = f"x_{half}", f"y_{half}"
    if x.ndim != 3 or x.shape[2] % (NUM_JOINTS * 3) or x.dtype.kind not in "fiu":
        raise DataFormatError(p, f"key {xk!r}", f"expected numbers [N, T, M * 75], found {x.dtype} {x.shape}")
    n = x.shape[0]
    if y.ndim == 2 and y.shape[0] == n:
        if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            raise DataFormatError(p, f"key {yk!r}", "expected one-hot rows (a single 1, zeros elsewhere)")
        return y.argmax(axis=1), y.shape[1]
    if y.ndim == 1 and y.shape[0] == n and y.dtype.kind in "iu" and (n == 0 or y.min() >= 0):
        return y, int(y.max()) + 1 if n else 0
    raise DataFormatError(p, f"key {yk!r}", f"expected one-hot [{n}, K] or labels [{n}], found {y.dtype} {y.shape}")


def _ctrgcn_sequences(
    p: Path,
    half: str,
    x: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    sequences: list[SkeletonSequence],
    rejected: list[tuple[str, str]],
) -> None:
    """Append one half's samples to ``sequences`` (trailing zero frames trimmed) or ``rejected``."""
    n, t = x.shape[0], x.shape[1]
    persons = x.shape[2] // (NUM_JOINTS * 3)
    chunks = [(x[i : i + 1024] != 0).any(axis=2) for i in range(0, n, 1024)]  # bounded temporaries
    nonzero = np.concatenate(chunks) if chunks else np.zeros((0, t), bool)  # [N, T]
    lengths = t - np.argmax(nonzero[:, ::-1], axis=1)
    for i in range(n):
        source = f"{p}#{half}/{i}"
        if not nonzero[i].any():
            rejected.append((source, "all frames are zero"))
            continue
        joints = x[i, : lengths[i]].reshape(lengths[i], persons, NUM_JOINTS, 3).astype(np.float32)  # (T, M, V, C)
        if not np.isfinite(joints).all():
            rejected.append((source, "joints contain NaN or inf"))
            continue
        notes = (f"trimmed {t - lengths[i]} trailing all-zero padding frames",) if lengths[i] < t else ()
        label = int(labels[i])
        sequences.append(
            SkeletonSequence(joints, NTU_FPS, source, label, class_names[label], defects=notes, split=half)
        )


def load_missing_list(path: str | Path) -> set[str]:
    """Sample names from an official ``*_samples_with_missing_skeletons.txt`` (prose lines are skipped).

    Raises:
        DataFormatError: missing, unreadable, over :data:`MAX_LIST_FILE_BYTES` or not UTF-8, or no line holds a
            sample name.
    """
    p = Path(path)
    lines = read_text(p, MAX_LIST_FILE_BYTES).splitlines()
    names = {s for line in lines if _SAMPLE_RE.fullmatch(s := line.strip())}
    partial = (n for n, line in enumerate(lines, 1) if _SAMPLE_START_RE.match(s := line.strip()) and s not in names)
    cut = next(partial, 0)
    if cut:
        found = lines[cut - 1].strip()[:60]
        raise DataFormatError(p, f"line {cut}", f"expected a sample name like S001C002P005R002A008, found {found!r}")
    if not names:
        raise DataFormatError(p, None, "expected sample names like S001C002P005R002A008, one per line; found none")
    return names


def load_ntu_dir(
    root: str | Path,
    missing_lists: Iterable[str | Path] | None = None,
    class_names: Sequence[str] | None = None,
    max_persons: int = 2,
) -> Dataset:
    """Load every ``*.skeleton`` and ``*.skeleton.npy`` directly in ``root``, in name order.

    Args:
        root: the folder.
        missing_lists: official missing-skeleton lists; samples they name are rejected. None (default) uses
            every ``*samples_with_missing_skeletons.txt`` in ``root``; pass ``()`` to use none.
        class_names: names by label; default ``A001``... placeholders (60, or 120 when an action exceeds 60).
        max_persons: person slots M.

    Returns:
        The dataset; listed, duplicate (raw and .npy of one sample), misnamed and malformed files are in
        ``rejected`` with the reason.

    Raises:
        ConfigError: ``root`` is not a folder or holds no NTU files.
    """
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a folder; pass the folder holding the NTU .skeleton files")
    files = sorted(root.glob("*.skeleton")) + sorted(root.glob("*.skeleton.npy"))
    if not files:
        raise ConfigError(f"{root}: no *.skeleton or *.skeleton.npy files here")
    if missing_lists is None:
        missing_lists = sorted(root.glob("*samples_with_missing_skeletons.txt"))
    missing: dict[str, str] = {}
    for lp in missing_lists:
        for name in load_missing_list(lp):
            missing.setdefault(name, Path(lp).name)
    if class_names is None:
        actions = [int(m.group(1)) for f in files if (m := re.match(r"S\d{3}C\d{3}P\d{3}R\d{3}A(\d{3})", f.name))]
        top = max(actions, default=60)
        class_names = tuple(f"A{i:03d}" for i in range(1, (60 if top <= 60 else max(120, top)) + 1))
    sequences: list[SkeletonSequence] = []
    rejected: list[tuple[str, str]] = []
    seen: dict[str, Path] = {}
    for f in files:
        sample = f.name.split(".")[0]
        if sample in missing:
            rejected.append((str(f), f"listed in {missing[sample]} as a sample with missing or incomplete skeletons"))
        elif sample in seen:
            rejected.append((str(f), f"duplicate of {seen[sample].name}"))
        else:
            reader = read_txt2npy if f.name.endswith(".npy") else read_ntu_skeleton
            try:
                parse_ntu_name(f)
                sequences.append(reader(f, max_persons=max_persons, class_names=class_names))
                seen[sample] = f
            except DataFormatError as e:
                rejected.append((str(f), str(e)))
    log.info("%s: %d NTU sequences, %d rejected", root, len(sequences), len(rejected))
    return Dataset("ntu", tuple(class_names), sequences, rejected, _PROTOCOL)
