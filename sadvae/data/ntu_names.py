"""The NTU RGB+D 120 action names, so that NTU data imported into a clip folder carries names, not codes.

The readers in :mod:`sadvae.data.ntu` label classes ``A001``... (the codes of the sample names, what training
code and scripts index by); :func:`name_ntu_classes` swaps those codes for the action names when the data
leaves the NTU readers (``sadvae data import``), since a clip folder's class names are what a text encoder reads.
The table is the NTU README list (trailing full stops dropped), the same as mmaction2's ``label_map_ntu120.txt``;
the first 60 are NTU-60's. It is the project's one NTU-120 name table (``sadvae.train.class_table`` scores the
Shift-GCN's fc columns by it).
"""

from __future__ import annotations

import re
from dataclasses import replace

from sadvae.data.record import Dataset

__all__ = ["NTU120_NAMES", "NTU_DATASET_NAMES", "ntu_action_name", "name_ntu_classes"]

# the names the NTU readers give their datasets (sadvae.data.registry.read_path, sadvae.data.ntu.load_ntu_dir)
NTU_DATASET_NAMES = ("ntu", "ntu_txt2npy")
_CODE_RE = re.compile(r"A(\d{3})")

# NTU RGB+D 120 action names by 0-based label (label k = action A(k+1))
NTU120_NAMES: tuple[str, ...] = (
    "drink water",
    "eat meal/snack",
    "brushing teeth",
    "brushing hair",
    "drop",
    "pickup",
    "throw",
    "sitting down",
    "standing up (from sitting position)",
    "clapping",
    "reading",
    "writing",
    "tear up paper",
    "wear jacket",
    "take off jacket",
    "wear a shoe",
    "take off a shoe",
    "wear on glasses",
    "take off glasses",
    "put on a hat/cap",
    "take off a hat/cap",
    "cheer up",
    "hand waving",
    "kicking something",
    "reach into pocket",
    "hopping (one foot jumping)",
    "jump up",
    "make a phone call/answer phone",
    "playing with phone/tablet",
    "typing on a keyboard",
    "pointing to something with finger",
    "taking a selfie",
    "check time (from watch)",
    "rub two hands together",
    "nod head/bow",
    "shake head",
    "wipe face",
    "salute",
    "put the palms together",
    "cross hands in front (say stop)",
    "sneeze/cough",
    "staggering",
    "falling",
    "touch head (headache)",
    "touch chest (stomachache/heart pain)",
    "touch back (backache)",
    "touch neck (neckache)",
    "nausea or vomiting condition",
    "use a fan (with hand or paper)/feeling warm",
    "punching/slapping other person",
    "kicking other person",
    "pushing other person",
    "pat on back of other person",
    "point finger at the other person",
    "hugging other person",
    "giving something to other person",
    "touch other person's pocket",
    "handshaking",
    "walking towards each other",
    "walking apart from each other",
    "put on headphone",
    "take off headphone",
    "shoot at the basket",
    "bounce ball",
    "tennis bat swing",
    "juggling table tennis balls",
    "hush (quite)",
    "flick hair",
    "thumb up",
    "thumb down",
    "make ok sign",
    "make victory sign",
    "staple book",
    "counting money",
    "cutting nails",
    "cutting paper (using scissors)",
    "snapping fingers",
    "open bottle",
    "sniff (smell)",
    "squat down",
    "toss a coin",
    "fold paper",
    "ball up paper",
    "play magic cube",
    "apply cream on face",
    "apply cream on hand back",
    "put on bag",
    "take off bag",
    "put something into a bag",
    "take something out of a bag",
    "open a box",
    "move heavy objects",
    "shake fist",
    "throw up cap/hat",
    "hands up (both hands)",
    "cross arms",
    "arm circles",
    "arm swings",
    "running on the spot",
    "butt kicks (kick backward)",
    "cross toe touch",
    "side kick",
    "yawn",
    "stretch oneself",
    "blow nose",
    "hit other person with something",
    "wield knife towards other person",
    "knock over other person (hit with body)",
    "grab other person’s stuff",
    "shoot at other person with a gun",
    "step on foot",
    "high-five",
    "cheers and drink",
    "carry something with other person",
    "take a photo of other person",
    "follow other person",
    "whisper in other person’s ear",
    "exchange things with other person",
    "support somebody with hand",
    "finger-guessing game (playing rock-paper-scissors)",
)


def ntu_action_name(label: int) -> str | None:
    """The NTU action name of a 0-based label (A001 -> "drink water"), or None beyond NTU-120."""
    return NTU120_NAMES[label] if 0 <= label < len(NTU120_NAMES) else None


def _is_code(name: str | None, label: int) -> bool:
    m = _CODE_RE.fullmatch(name or "")
    return m is not None and int(m.group(1)) == label + 1


def name_ntu_classes(ds: Dataset) -> Dataset:
    """``ds`` with the NTU action names in place of the ``A001``... codes, or of no name (one file read alone).

    Applies to the datasets of the NTU readers (a name in :data:`NTU_DATASET_NAMES`) and to a dataset whose class
    list is the codes A001, A002... in order and that is named NTU-something or has 60 or more classes (a CTR-GCN
    ``.npz``). Other datasets come back unchanged, and so do classes with a real name (a class list the caller
    gave the reader).
    """
    codes = bool(ds.class_names) and all(_is_code(n, i) for i, n in enumerate(ds.class_names))
    ctrgcn = codes and (len(ds.class_names) >= 60 or "ntu" in ds.name.casefold())
    if ds.name not in NTU_DATASET_NAMES and not ctrgcn:
        return ds
    top = max((s.label for s in ds.sequences if s.label is not None), default=-1)
    size = max(len(ds.class_names), top + 1)
    size = 60 if size <= 60 else max(len(NTU120_NAMES), size)
    old = list(ds.class_names) + [""] * (size - len(ds.class_names))
    names = tuple(n if n and not _is_code(n, i) else (ntu_action_name(i) or f"A{i + 1:03d}") for i, n in enumerate(old))
    seqs = [
        replace(s, label_name=names[s.label])
        if s.label is not None and (not s.label_name or _is_code(s.label_name, s.label))
        else s
        for s in ds.sequences
    ]
    return Dataset(ds.name, names, seqs, ds.rejected, ds.protocol)
