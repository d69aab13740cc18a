"""Bandai-Namco (BVH) and HDM05 (ASF/AMC) clips as :class:`SkeletonSequence` records, and their loaders.

Every clip holds one person (M = 1) in the NTU-25 layout, metres, in the virtual Kinect frame of
:mod:`sadvae.data.mocap.convert`, at the file's own frame rate (Bandai-Namco 30 fps, HDM05 120 fps;
the preprocessing resamples). What the mocap skeleton lacks is derived and listed in ``defects``.

Bandai-Namco: ``label`` indexes :data:`BANDAI_CLASSES` (both sets' actions, "walk" and "run" shared);
``subject`` is None (performers are not identified per clip); ``view`` holds the style id
(:data:`BANDAI_STYLES`, set 1 styles 1-15, set 2 styles 101-107): the clips come from no camera, and
the style is the group the standard protocol holds out. HDM05: ``label`` is the folder's class
(1-11) minus one, ``subject`` the actor (:data:`HDM05_ACTORS`), ``view`` None.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np

from sadvae.data.mocap.acclaim import (
    PERSON_SPAN_M,
    AsfSkeleton,
    amc_forward_kinematics,
    check_person_size,
    read_amc,
    read_asf,
)
from sadvae.data.mocap.bvh import bvh_forward_kinematics, read_bvh
from sadvae.data.mocap.convert import mocap_to_ntu25
from sadvae.data.record import Dataset, SkeletonSequence, warn_unread
from sadvae.errors import ConfigError, DataFormatError
from sadvae.skeleton import KinectV1Joint as K1

__all__ = [
    "BANDAI_CLASSES",
    "BANDAI_STYLES",
    "BANDAI_TEST_STYLES",
    "HDM05_CLASSES",
    "HDM05_ACTORS",
    "HDM05_FPS",
    "read_bandai_bvh",
    "read_hdm05_amc",
    "load_bandai_namco",
    "load_hdm05",
    "unread_mocap_files",
]

log = logging.getLogger(__name__)

# (the dataset's action name, a plain phrase for the text encoder); label = row. "dance-long" (set 1) is not in
# the shared subset (its one file is over 4 MiB), so it has no row; a clip of it is rejected with the reason.
BANDAI_ACTIONS: tuple[tuple[str, str], ...] = (
    ("walk", "walk"),
    ("walk-back", "walk backwards"),
    ("walk-left", "walk to the left"),
    ("walk-right", "walk to the right"),
    ("run", "run"),
    ("dash", "sprint"),
    ("bow", "bow"),
    ("bye", "wave goodbye with one hand"),
    ("byebye", "wave goodbye with both hands"),
    ("guide", "show the way with an arm"),
    ("call", "call out to someone"),
    ("respond", "answer a call"),
    ("punch", "punch"),
    ("kick", "kick"),
    ("slash", "swing a sword"),
    ("dance-short", "dance"),
    ("walk-turn-left", "walk and turn left"),
    ("walk-turn-right", "walk and turn right"),
    ("wave-both-hands", "wave both hands"),
    ("wave-left-hand", "wave the left hand"),
    ("wave-right-hand", "wave the right hand"),
    ("raise-up-both-hands", "raise both hands"),
    ("raise-up-left-hand", "raise the left hand"),
    ("raise-up-right-hand", "raise the right hand"),
)
BANDAI_CLASSES: tuple[str, ...] = tuple(phrase for _, phrase in BANDAI_ACTIONS)
_BANDAI_ROW = {name: row for row, (name, _) in enumerate(BANDAI_ACTIONS)}
# style id (``view``) -> (set, style name): set N's style_label.txt line j is id 100*(N-1) + j + 1
BANDAI_SET1_STYLES = (
    "normal",
    "happy",
    "sad",
    "angry",
    "proud",
    "not-confident",
    "masculinity",
    "feminine",
    "childish",
    "old",
    "tired",
    "active",
    "musical",
    "giant",
    "chimpira",
)
BANDAI_SET2_STYLES = ("active", "elderly", "exhausted", "feminine", "masculine", "normal", "youthful")
BANDAI_STYLES: dict[int, tuple[int, str]] = {
    **{i + 1: (1, s) for i, s in enumerate(BANDAI_SET1_STYLES)},
    **{101 + i: (2, s) for i, s in enumerate(BANDAI_SET2_STYLES)},
}
# The held-out side: every third style of each set's own list, from the second (line index % 3 == 1). Fixed by
# that rule before any result was seen; it never holds out "normal", the only style of six set-1 actions.
BANDAI_TEST_STYLES: frozenset[int] = frozenset(sid for sid in BANDAI_STYLES if (sid % 100 - 1) % 3 == 1)
_BANDAI_NAME = re.compile(r"dataset-([12])_(.+)_([a-z-]+)_(\d{3})\.bvh")
BANDAI_CM = 0.01
# Derived joints (no Kinect-like head centre or hand in this skeleton): the head centre lies 0.10 m from the
# Head joint (the skull base) along the head's own axis; the Kinect "hand" 0.3 forearm lengths from the wrist
# along the hand's axis (the Kinect sets' median wrist->hand / elbow->wrist ratio is 0.24-0.33).
BANDAI_HEAD_CENTRE_M = 0.10
BANDAI_HAND_FOREARM_RATIO = 0.3
# a joint this far (metres) from the mocap origin comes from a corrupt channel value (1e300), not from a motion
MAX_MOCAP_METRES = 1000.0

# k (folder 1-11) -> (HDM05 motion name, plain words): the MANIFEST's table
HDM05_MOTIONS: tuple[tuple[str, str], ...] = (
    ("depositFloorR", "put something on the floor with the right hand"),
    ("elbowToKnee1RepsLelbowStart", "touch the left elbow to the right knee"),
    ("grabHighR", "reach up and grab something high with the right hand"),
    ("hopBothLegs1hops", "hop on both legs"),
    ("jogLeftCircle4StepsRstart", "jog in a circle to the left"),
    ("kickLFront1Reps", "kick forward with the left leg"),
    ("lieDownFloor", "lie down on the floor"),
    ("rotateArmsBothBackward1Reps", "rotate both arms backwards"),
    ("sneak2StepsLStart", "sneak (tiptoe) two steps"),
    ("squat1Reps", "squat"),
    ("throwBasketball", "throw a basketball"),
)
HDM05_CLASSES: tuple[str, ...] = tuple(words for _, words in HDM05_MOTIONS)
HDM05_ACTORS: dict[str, int] = {"bd": 1, "bk": 2, "dg": 3, "mm": 4, "tr": 5}
HDM05_TRAIN_ACTORS = frozenset({1, 2, 3})
HDM05_FPS = 120.0
_HDM05_NAME = re.compile(r"HDM_([a-z]{2})_(.+)_(\d{3})_(\d+)\.amc")

# Kinect v1 limb joint <- the skeleton's joint (Bandai-Namco) or the bone whose end it is (HDM05), per side
_BANDAI_TO_K1 = (
    ("SHOULDER", "UpperArm"),
    ("ELBOW", "LowerArm"),
    ("WRIST", "Hand"),
    ("HIP", "UpperLeg"),
    ("KNEE", "LowerLeg"),
    ("ANKLE", "Foot"),
    ("FOOT", "Toes"),
)
# HDM05's forearm is two bones: radius, then "wrist" (its one dof, ry, is the forearm's twist), so the anatomical wrist
# is the end of "wrist", where the thumb starts and "hand" (dof rx rz: flexion, deviation) begins; "hand" ends at the
# knuckles (the Kinect hand), "fingers" at the finger tips (the NTU hand tip).
_HDM05_TO_K1 = (
    ("SHOULDER", "clavicle"),
    ("ELBOW", "humerus"),
    ("WRIST", "wrist"),
    ("HAND", "hand"),
    ("HIP", "hipjoint"),
    ("KNEE", "femur"),
    ("ANKLE", "tibia"),
    ("FOOT", "foot"),
)

_DERIVED = "derived from the Kinect v1 rules: spine mid, neck"
_BANDAI_NOTE = (
    f"{_DERIVED}, hand tips and thumbs (on the hand axis); head centre {BANDAI_HEAD_CENTRE_M} m along the head "
    f"axis from the skull base; hand {BANDAI_HAND_FOREARM_RATIO} forearm lengths along the hand axis from the wrist"
)
_HDM05_NOTE = f"{_DERIVED} (hand tips and thumbs are the skeleton's own fingers and thumb bones)"


def _check_positions(path: Path, where: str | None, pos_m: np.ndarray) -> None:
    """Refuse forward-kinematics positions [T, ...] (metres) that are not finite or beyond :data:`MAX_MOCAP_METRES`.

    A huge but finite channel value passes the readers' number checks and would overflow later (inf joints).
    """
    far = ~(np.abs(pos_m) <= MAX_MOCAP_METRES)  # NaN too
    if far.any():
        t = int(np.argwhere(far)[0][0])
        problem = (
            f"frame {t + 1} (counting from 1): its channel values put a joint beyond {MAX_MOCAP_METRES:g} m or out of "
            "number range (a value like 1e300?); fix or remove that frame's values"
        )
        raise DataFormatError(path, where, problem)


# ------------------------------------------------------------------------------------------- Bandai-Namco
def _bone_axis(offsets: np.ndarray, rot: np.ndarray, j: int) -> np.ndarray:
    """World unit direction [T, 3] of joint ``j``'s rest bone (its OFFSET from the parent), turned by its rotation."""
    d = offsets[j] / max(np.linalg.norm(offsets[j]), 1e-9)
    return rot[:, j] @ d


def _check_bvh_rest_span(path: Path, bvh) -> None:
    """The skeleton of the OFFSETs (its rest pose), read in centimetres, must be a person's size: a file in metres or
    millimetres was read as a 2 cm doll or a 14 m giant until 7 December 2026, late (a data-reader audit)."""

    hips = bvh.index("Hips")  # the body: set 2's root is a world node, and its Hips OFFSET a place in the room
    rest, body = np.zeros((len(bvh.names), 3)), np.zeros(len(bvh.names), dtype=bool)
    body[hips] = True
    for j, parent in enumerate(bvh.parents):  # parents come before their children in hierarchy order
        if parent >= 0 and body[parent]:
            rest[j], body[j] = rest[parent] + bvh.offsets[j], True
    rest = rest[body]
    span = float((rest.max(axis=0) - rest.min(axis=0)).max()) * BANDAI_CM
    lo, hi = PERSON_SPAN_M
    if not lo <= span <= hi:
        raise DataFormatError(
            path,
            "HIERARCHY",
            f"read in centimetres, as Bandai-Namco files are, the skeleton's OFFSETs span {span:.2f} m at rest, not "
            f"a person's {lo:g}-{hi:g} m: the file is in another unit; convert its OFFSETs and position channels "
            "to centimetres",
        )


def read_bandai_bvh(path: str | Path) -> SkeletonSequence:
    """Read one Bandai-Namco BVH clip (centimetres, +y up) into NTU-25 in the virtual Kinect frame.

    ``label``, ``label_name`` and ``view`` (style id) are filled when the file name has the dataset's
    form ``dataset-N_{action}_{style}_{id}.bvh`` and names a known action and style; otherwise None.

    Raises:
        DataFormatError: the BVH is malformed, or lacks a joint this mapping needs.
    """
    path = Path(path)
    bvh = read_bvh(path)
    _check_bvh_rest_span(path, bvh)
    idx = {n: bvh.index(n) for n in ("Hips", "Neck", "Head", "Spine")}
    for side in "LR":
        for n in ("UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot", "Toes"):
            idx[f"{n}_{side}"] = bvh.index(f"{n}_{side}")
    with np.errstate(over="ignore", invalid="ignore"):  # a corrupt value overflows here; refused just below
        pos, rot = bvh_forward_kinematics(bvh)
        pos = pos * BANDAI_CM
    _check_positions(path, "MOTION", pos)
    k1 = np.zeros((bvh.num_frames, 20, 3))
    k1[:, K1.HIP_CENTER] = pos[:, idx["Hips"]]
    k1[:, K1.SPINE] = pos[:, idx["Spine"]]
    k1[:, K1.SHOULDER_CENTER] = pos[:, idx["Neck"]]
    k1[:, K1.HEAD] = pos[:, idx["Head"]] + BANDAI_HEAD_CENTRE_M * _bone_axis(bvh.offsets, rot, idx["Head"])
    for side, name in (("L", "LEFT"), ("R", "RIGHT")):
        for k1_name, joint in _BANDAI_TO_K1:
            k1[:, K1[f"{k1_name}_{name}"]] = pos[:, idx[f"{joint}_{side}"]]
        wrist, elbow = pos[:, idx[f"Hand_{side}"]], pos[:, idx[f"LowerArm_{side}"]]
        forearm = np.linalg.norm(wrist - elbow, axis=-1, keepdims=True)
        axis = _bone_axis(bvh.offsets, rot, idx[f"Hand_{side}"])
        k1[:, K1[f"HAND_{name}"]] = wrist + BANDAI_HAND_FOREARM_RATIO * forearm * axis
    label = label_name = style = None
    m = _BANDAI_NAME.fullmatch(path.name)
    if m and m.group(2) in _BANDAI_ROW:
        label = _BANDAI_ROW[m.group(2)]
        label_name = BANDAI_CLASSES[label]
        styles = BANDAI_SET1_STYLES if m.group(1) == "1" else BANDAI_SET2_STYLES
        if m.group(3) in styles:
            style = 100 * (int(m.group(1)) - 1) + styles.index(m.group(3)) + 1
    return SkeletonSequence(
        joints=mocap_to_ntu25(k1),
        fps=round(1.0 / bvh.frame_time, 3),
        source=str(path),
        label=label,
        label_name=label_name,
        view=style,
        defects=(_BANDAI_NOTE,),
    )


def _read_cfg(path: Path) -> list[str]:
    from sadvae.data.text_files import MAX_LIST_FILE_BYTES, read_text

    names = [ln.strip() for ln in read_text(path, MAX_LIST_FILE_BYTES).splitlines() if ln.strip()]
    if not names:
        raise DataFormatError(path, None, "empty; expected one label a line (restore it from the dataset release)")
    return names


def _check_bandai_json(path: Path, content: list[str], style: list[str], action: str, style_name: str) -> None:
    from sadvae.data.text_files import parse_json, read_text

    try:
        obj = parse_json(read_text(path, 1 << 16), path)
    except json.JSONDecodeError as e:
        raise DataFormatError(
            path, f"line {e.lineno}", f"expected JSON {{content, style}}, found an error: {e.msg}"
        ) from None
    for key, table, want in (("content", content, action), ("style", style, style_name)):
        value = obj.get(key) if isinstance(obj, dict) else None
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < len(table):
            raise DataFormatError(path, key, f"expected a 0-based line index into cfg/{key}_label.txt, found {value!r}")
        if table[value].split("_", 1)[-1] != want:
            problem = f"indexes {table[value]!r}, but the file name says {want!r}"
            raise DataFormatError(path, key, problem)


def unread_mocap_files(name: str, root: str | Path) -> list[str]:
    """Files in a mocap set's data folders that its loader does not read, relative to ``root`` (a ``.BVH`` or
    ``.AMC`` in another case, a clip in a sub-folder, a Bandai-Namco label ``.json`` whose ``.bvh`` is gone).
    Bandai-Namco: ``set*/data/`` (``*.bvh`` and their ``.json`` are read); HDM05: ``train|test/<k>/`` (``*.amc``
    and ``*.asf``). The sets' other files (README, LICENSE, cfg/, MANIFEST, SHA256SUMS) are not data."""
    root = Path(root)
    if name == "bandai_namco":
        folders = [d / "data" for d in (root / "set1", root / "set2") if (d / "data").is_dir()]

        def read(p: Path) -> bool:
            return p.parent in folders and (
                p.suffix == ".bvh" or (p.suffix == ".json" and p.with_suffix(".bvh").is_file())
            )

    elif name == "hdm05":
        folders = [k for side in (root / "train", root / "test") if side.is_dir() for k in side.iterdir() if k.is_dir()]

        def read(p: Path) -> bool:
            return p.parent in folders and p.suffix in (".amc", ".asf")

    else:
        return []
    return sorted(p.relative_to(root).as_posix() for d in folders for p in d.rglob("*") if p.is_file() and not read(p))


def load_bandai_namco(root: str | Path) -> Dataset:
    """Load the Bandai-Namco clips under ``root`` (``set1/`` and/or ``set2/``, each with ``cfg/`` and ``data/``).

    Each clip's JSON must agree with its file name (action and style). Clips are sorted by file name;
    a clip whose action has no class row (``dance-long``) is rejected with the reason.

    Raises:
        ConfigError: ``root`` is not a folder or holds neither set.
        DataFormatError: a cfg label file or a clip's JSON is missing or disagrees, a file name does not
            parse, or a BVH file is malformed.
    """
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(
            f"{root}: bandai_namco folder not found; pass the folder holding set1/ and set2/ "
            "(e.g. ../shared/data/mocap/bandai_namco)"
        )
    sets = [d for d in (root / "set1", root / "set2") if (d / "data").is_dir()]
    if not sets:
        raise ConfigError(f"{root}: no set1/data or set2/data here; pass the bandai_namco folder as released")
    seqs, rejected = [], []
    for set_dir in sets:
        content = _read_cfg(set_dir / "cfg" / "content_label.txt")
        style = _read_cfg(set_dir / "cfg" / "style_label.txt")
        files = sorted((set_dir / "data").glob("*.bvh"))
        if not files:
            raise DataFormatError(set_dir / "data", None, "no .bvh files found; restore the dataset as released")
        for path in files:
            m = _BANDAI_NAME.fullmatch(path.name)
            if m is None or f"set{m.group(1)}" != set_dir.name:
                problem = f"expected dataset-{set_dir.name[-1]}_<action>_<style>_<NNN>.bvh; move other files away"
                raise DataFormatError(path, "file name", problem)
            _check_bandai_json(path.with_suffix(".json"), content, style, m.group(2), m.group(3))
            if m.group(2) not in _BANDAI_ROW:
                rejected.append((str(path), f"action {m.group(2)!r} has no class in BANDAI_CLASSES"))
                continue
            seq = read_bandai_bvh(path)
            if seq.view is None:
                raise DataFormatError(path, "file name", f"style {m.group(3)!r} is not a style of {set_dir.name}")
            seqs.append(seq)
    warn_unread(log, "bandai_namco", unread_mocap_files("bandai_namco", root), "<set>/data/*.bvh, each with its .json")
    log.info("bandai_namco: %d clips, %d rejected", len(seqs), len(rejected))
    test = ", ".join(f"{BANDAI_STYLES[s][1]} (set {BANDAI_STYLES[s][0]})" for s in sorted(BANDAI_TEST_STYLES))
    protocol = f"cross-style (view = style id): test on styles {test}; train on the rest"
    return Dataset("bandai_namco", BANDAI_CLASSES, seqs, rejected, protocol)


# ------------------------------------------------------------------------------------------------- HDM05
def read_hdm05_amc(path: str | Path, asf: str | Path | AsfSkeleton | None = None) -> SkeletonSequence:
    """Read one HDM05 AMC clip with its actor's ASF into NTU-25 in the virtual Kinect frame.

    Args:
        path: ``HDM_{actor}_{motion}_{nnn}_120.amc``.
        asf: the skeleton (a path or a parsed :class:`AsfSkeleton`); default ``HDM_{actor}.asf`` beside the clip.

    Returns:
        SkeletonSequence at the rate the name gives (``_120``: :data:`HDM05_FPS`), ``subject`` from the actor,
        ``label`` from the motion name when it is one of :data:`HDM05_CLASSES`' motions.

    Raises:
        DataFormatError: the ASF is missing or malformed, the AMC is malformed or names a bone the ASF lacks,
            or the skeleton lacks a bone this mapping needs.
    """
    path = Path(path)
    m = _HDM05_NAME.fullmatch(path.name)
    if asf is None:
        if m is None:
            raise DataFormatError(
                path, "file name", "expected HDM_<actor>_<motion>_<NNN>_120.amc, or pass the ASF file"
            )
        asf = path.with_name(f"HDM_{m.group(1)}.asf")
        if not asf.is_file():
            raise DataFormatError(path, None, f"its skeleton {asf.name} is missing beside it; restore the actor's ASF")
    skeleton = asf if isinstance(asf, AsfSkeleton) else read_asf(asf)
    limb = ("hipjoint", "femur", "tibia", "foot", "clavicle", "humerus", "wrist", "hand", "fingers", "thumb")
    need = ("thorax", "head") + tuple(f"{s}{b}" for s in "lr" for b in limb)
    missing = [b for b in need if b not in skeleton.bones]
    if missing:
        raise DataFormatError(skeleton.path, ":bonedata", f"expected the HDM05/CMU bones; missing {missing}")
    check_person_size(skeleton)
    motion = read_amc(path, skeleton)
    # every bone on the way from the root to a mapped one moves it (zero rotation in its place bent the arm or the
    # spine by up to 0.24 m: a data-reader audit, 7 December 2026, late); every HDM05 clip gives them all
    chain = set(need) | {"lowerback"}
    for b in need:
        while (b := skeleton.parents.get(b, "root")) != "root":
            chain.add(b)
    if lost := [b for b in motion.absent if b in chain]:
        raise DataFormatError(
            path, None, f"no frame gives bone(s) {lost} of {skeleton.path.name}; the file is damaged: restore it"
        )
    with np.errstate(over="ignore", invalid="ignore"):  # a corrupt value overflows here; refused just below
        pos, _ = amc_forward_kinematics(skeleton, motion)
    _check_positions(path, None, np.stack(list(pos.values()), axis=1))
    t_count = len(pos["root"])
    k1 = np.zeros((t_count, 20, 3))
    k1[:, K1.HIP_CENTER] = pos["root"]
    k1[:, K1.SPINE] = pos.get("lowerback", pos["root"])
    k1[:, K1.SHOULDER_CENTER] = pos["thorax"]
    k1[:, K1.HEAD] = pos["head"]
    for s, name in (("l", "LEFT"), ("r", "RIGHT")):
        for k1_name, bone in _HDM05_TO_K1:
            k1[:, K1[f"{k1_name}_{name}"]] = pos[f"{s}{bone}"]
    tips = np.stack([pos["lfingers"], pos["rfingers"]], axis=1)
    thumbs = np.stack([pos["lthumb"], pos["rthumb"]], axis=1)
    label = None
    if m is not None:
        motions = [mo for mo, _ in HDM05_MOTIONS]
        label = motions.index(m.group(2)) if m.group(2) in motions else None
    return SkeletonSequence(
        joints=mocap_to_ntu25(k1, tips, thumbs),
        fps=float(m.group(4)) if m and int(m.group(4)) > 0 else HDM05_FPS,  # the name's rate: _120 in the release
        source=str(path),
        label=label,
        label_name=None if label is None else HDM05_CLASSES[label],
        subject=HDM05_ACTORS.get(m.group(1)) if m else None,
        defects=(_HDM05_NOTE,),
    )


def load_hdm05(root: str | Path) -> Dataset:
    """Load the HDM05 11-class subset under ``root`` (``train/<k>/`` and ``test/<k>/``, k = 1..11).

    A clip's class is its folder k, and its motion name must be that class's (the MANIFEST table);
    its actor must be one of :data:`HDM05_ACTORS`, and the side (train/test) must match the actor
    (train: bd, bk, dg; test: mm, tr). Each actor's ASF is read once per folder. Clips are sorted by path.

    Raises:
        ConfigError: ``root`` is not a folder or has neither ``train/`` nor ``test/``.
        DataFormatError: an unexpected folder or file name, a motion in the wrong class folder, an actor on
            the wrong side, a missing or malformed ASF, or a malformed AMC.
    """
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(
            f"{root}: hdm05 folder not found; pass the folder holding train/ and test/ "
            "(e.g. ../shared/data/mocap/hdm05)"
        )
    sides = [d for d in (root / "train", root / "test") if d.is_dir()]
    if not sides:
        raise ConfigError(f"{root}: no train/ or test/ folder here; pass the hdm05 folder as released")
    seqs = []
    for side in sides:
        for k_dir in sorted(side.iterdir(), key=lambda p: p.name):
            if not k_dir.is_dir():
                continue
            if not (k_dir.name.isdigit() and 1 <= int(k_dir.name) <= len(HDM05_MOTIONS)):
                raise DataFormatError(k_dir, None, f"expected class folders 1..{len(HDM05_MOTIONS)}; move others away")
            k = int(k_dir.name)
            skeletons: dict[str, AsfSkeleton] = {}
            for path in sorted(k_dir.glob("*.amc")):
                m = _HDM05_NAME.fullmatch(path.name)
                if m is None:
                    raise DataFormatError(path, "file name", "expected HDM_<actor>_<motion>_<NNN>_120.amc")
                actor, motion = m.group(1), m.group(2)
                if motion != HDM05_MOTIONS[k - 1][0]:
                    problem = f"motion {motion!r} in class folder {k}, which holds {HDM05_MOTIONS[k - 1][0]!r}"
                    raise DataFormatError(path, "file name", problem)
                if actor not in HDM05_ACTORS:
                    raise DataFormatError(
                        path, "file name", f"unknown actor {actor!r}; expected {sorted(HDM05_ACTORS)}"
                    )
                if (HDM05_ACTORS[actor] in HDM05_TRAIN_ACTORS) != (side.name == "train"):
                    raise DataFormatError(path, None, f"actor {actor} is on the wrong side ({side.name}) of the split")
                if actor not in skeletons:
                    asf = path.with_name(f"HDM_{actor}.asf")
                    if not asf.is_file():
                        raise DataFormatError(path, None, f"its skeleton {asf.name} is missing beside it")
                    skeletons[actor] = read_asf(asf)
                seqs.append(read_hdm05_amc(path, skeletons[actor]))
    if not seqs:
        raise DataFormatError(root, None, "no .amc clips found under train/<k>/ or test/<k>/")
    warn_unread(log, "hdm05", unread_mocap_files("hdm05", root), "train|test/<k>/*.amc and the actors' .asf")
    log.info("hdm05: %d clips", len(seqs))
    protocol = "cross-actor (the release's split): train on actors bd, bk, dg (subjects 1-3), test on mm, tr (4, 5)"
    return Dataset("hdm05", HDM05_CLASSES, seqs, [], protocol)
