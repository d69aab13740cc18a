"""The class table of the default model (recipe ``shiftgcn-v2``): NTU-120 + the classes of the shared sets, merged.

The model's trained vocabulary has two parts, in column order:

1. the 120 NTU RGB+D actions (:data:`NTU120_NAMES`), scored by the frozen Shift-GCN's own fc;
2. the *extra* classes (:data:`EXTRA_TABLE`): every class of MSR Action3D, NW-UCLA, UTKinect, HDM05 and
   Bandai-Namco that is not an NTU action, scored by a linear head on the same 256-d features; two sets'
   classes share one extra class only where they are the same action.

A dataset class that is the same action as an NTU class maps onto that NTU column (:data:`NTU_MAP`, e.g.
NW-UCLA "sit down" = NTU "sitting down"): its clips are scored by the NTU fc and teach the extra head to
stay low on them. The correspondence was checked by hand against each set's description (MSR/UTKinect
papers, NW-UCLA's action list, the mocap MANIFESTs): *same action only*. Near misses that were kept apart
are listed with the reason in :data:`KEPT_APART`, so the decisions can be reviewed.

Other code reads the table as data: :func:`class_table` returns a :class:`ClassTable` (names by column,
where each came from, dataset class -> column, "is this a trained name", the names trained without a
given set), and :meth:`ClassTable.to_dict` is the JSON form stored in the bundle's provenance.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from sadvae.data.ntu_names import NTU120_NAMES  # logit k = action A(k+1): the one NTU-120 name table
from sadvae.errors import ConfigError

__all__ = [
    "TABLE_DATASETS",
    "NTU120_NAMES",
    "NTU_MAP",
    "EXTRA_TABLE",
    "KEPT_APART",
    "ClassTable",
    "class_table",
]

TABLE_DATASETS = ("msr_action3d", "nw_ucla", "utkinect", "hdm05", "bandai_namco")
NTU_SOURCE = "ntu120"  # the origin of the fc columns (NTU RGB+D 120, through the released Shift-GCN weights)

# (dataset, class name in its reader) -> NTU action number (1-based, A-number) and the NTU name (checked)
NTU_MAP: dict[tuple[str, str], tuple[int, str]] = {
    ("msr_action3d", "hand clap"): (10, "clapping"),
    ("msr_action3d", "side kick"): (102, "side kick"),
    # MSR's subjects jog in place in front of the camera: the NTU action is the same (doubtful: MSR calls it jogging)
    ("msr_action3d", "jogging"): (99, "running on the spot"),
    ("msr_action3d", "tennis swing"): (65, "tennis bat swing"),
    ("nw_ucla", "sit down"): (8, "sitting down"),
    ("nw_ucla", "stand up"): (9, "standing up (from sitting position)"),
    ("nw_ucla", "throw"): (7, "throw"),
    ("utkinect", "sit down"): (8, "sitting down"),
    ("utkinect", "stand up"): (9, "standing up (from sitting position)"),
    ("utkinect", "pick up"): (6, "pickup"),
    ("utkinect", "throw"): (7, "throw"),
    ("utkinect", "clap hands"): (10, "clapping"),
    # HDM05 squat1Reps: one squat down (and up); NTU "squat down" (doubtful: NTU clips may stay down)
    ("hdm05", "squat"): (80, "squat down"),
    ("bandai_namco", "bow"): (35, "nod head/bow"),
    # Bandai "bye": a one-hand goodbye wave
    ("bandai_namco", "wave goodbye with one hand"): (23, "hand waving"),
    ("bandai_namco", "raise both hands"): (95, "hands up (both hands)"),
}

# extra class -> the dataset classes it holds. Order = extra column order.
EXTRA_TABLE: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("high arm wave", (("msr_action3d", "high arm wave"),)),
    ("horizontal arm wave", (("msr_action3d", "horizontal arm wave"),)),
    ("hammer", (("msr_action3d", "hammer"),)),
    ("hand catch", (("msr_action3d", "hand catch"),)),
    ("forward punch", (("msr_action3d", "forward punch"),)),
    ("high throw", (("msr_action3d", "high throw"),)),
    ("draw x", (("msr_action3d", "draw x"),)),
    ("draw tick", (("msr_action3d", "draw tick"),)),
    ("draw circle", (("msr_action3d", "draw circle"),)),
    (
        "wave both hands",
        (("msr_action3d", "two hand wave"), ("utkinect", "wave hands"), ("bandai_namco", "wave both hands")),
    ),
    ("side boxing", (("msr_action3d", "side-boxing"),)),
    ("bend", (("msr_action3d", "bend"),)),
    ("forward kick", (("msr_action3d", "forward kick"),)),
    ("tennis serve", (("msr_action3d", "tennis serve"),)),
    ("golf swing", (("msr_action3d", "golf swing"),)),
    ("pick up and throw", (("msr_action3d", "pick up & throw"),)),
    ("pick up with one hand", (("nw_ucla", "pick up with one hand"),)),
    ("pick up with two hands", (("nw_ucla", "pick up with two hands"),)),
    ("drop trash", (("nw_ucla", "drop trash"),)),
    ("walk", (("nw_ucla", "walk around"), ("utkinect", "walk"), ("bandai_namco", "walk"))),
    ("put on clothes", (("nw_ucla", "donning"),)),
    ("take off clothes", (("nw_ucla", "doffing"),)),
    ("carry", (("nw_ucla", "carry"), ("utkinect", "carry"))),
    ("push", (("utkinect", "push"),)),
    ("pull", (("utkinect", "pull"),)),
    ("put something on the floor with the right hand", (("hdm05", "put something on the floor with the right hand"),)),
    ("touch the left elbow to the right knee", (("hdm05", "touch the left elbow to the right knee"),)),
    (
        "reach up and grab something high with the right hand",
        (("hdm05", "reach up and grab something high with the right hand"),),
    ),
    ("hop on both legs", (("hdm05", "hop on both legs"),)),
    ("jog in a circle to the left", (("hdm05", "jog in a circle to the left"),)),
    ("kick forward with the left leg", (("hdm05", "kick forward with the left leg"),)),
    ("lie down on the floor", (("hdm05", "lie down on the floor"),)),
    ("rotate both arms backwards", (("hdm05", "rotate both arms backwards"),)),
    ("sneak (tiptoe) two steps", (("hdm05", "sneak (tiptoe) two steps"),)),
    ("throw a basketball", (("hdm05", "throw a basketball"),)),
    ("walk backwards", (("bandai_namco", "walk backwards"),)),
    ("walk to the left", (("bandai_namco", "walk to the left"),)),
    ("walk to the right", (("bandai_namco", "walk to the right"),)),
    ("run", (("bandai_namco", "run"),)),
    ("sprint", (("bandai_namco", "sprint"),)),
    ("wave goodbye with both hands", (("bandai_namco", "wave goodbye with both hands"),)),
    ("show the way with an arm", (("bandai_namco", "show the way with an arm"),)),
    ("call out to someone", (("bandai_namco", "call out to someone"),)),
    ("answer a call", (("bandai_namco", "answer a call"),)),
    ("punch", (("bandai_namco", "punch"),)),
    ("kick", (("bandai_namco", "kick"),)),
    ("swing a sword", (("bandai_namco", "swing a sword"),)),
    ("dance", (("bandai_namco", "dance"),)),
    ("walk and turn left", (("bandai_namco", "walk and turn left"),)),
    ("walk and turn right", (("bandai_namco", "walk and turn right"),)),
    ("wave the left hand", (("bandai_namco", "wave the left hand"),)),
    ("wave the right hand", (("bandai_namco", "wave the right hand"),)),
    ("raise the left hand", (("bandai_namco", "raise the left hand"),)),
    ("raise the right hand", (("bandai_namco", "raise the right hand"),)),
)

# near misses kept apart: (dataset class or extra class, the class it resembles, why it is not the same action)
KEPT_APART: tuple[tuple[str, str, str], ...] = (
    (
        "msr high arm wave / horizontal arm wave",
        "NTU hand waving",
        "one arm waved high overhead / sideways: a specific gesture, not NTU's greeting wave",
    ),
    (
        "wave both hands (MSR two hand wave, UTK wave hands, Bandai wave both hands)",
        "NTU hand waving",
        "both arms; NTU's is one hand",
    ),
    ("msr forward punch, bandai punch", "NTU punching/slapping other person", "NTU's is a two-person interaction"),
    ("msr forward punch", "bandai punch", "a straight punch vs any punch in 15 styles: not merged"),
    (
        "msr forward kick, bandai kick, hdm05 kick forward with the left leg",
        "NTU kicking something",
        "kicks in the air vs kicking an object; the three kept apart (leg and form differ)",
    ),
    (
        "msr high throw, hdm05 throw a basketball",
        "NTU throw",
        "overhand throw / two-hand basketball throw vs a generic throw; NTU shoot at the basket is a shot, not a throw",
    ),
    ("msr pick up & throw", "NTU pickup / throw", "a compound action"),
    (
        "nw_ucla pick up with one hand / two hands",
        "NTU pickup",
        "specialisations of it; merging would lose "
        "their difference (UTKinect pick up is generic and maps to NTU pickup)",
    ),
    ("nw_ucla drop trash", "NTU drop", "dropping trash into a bin vs letting an object fall"),
    ("nw_ucla donning / doffing", "NTU wear jacket / take off jacket", "NW-UCLA does not say the garment"),
    (
        "walk (NW-UCLA walk around, UTKinect walk, Bandai walk)",
        "NTU walking towards / apart from each other",
        "NTU's are two-person",
    ),
    ("carry (NW-UCLA, UTKinect)", "NTU carry something with other person", "NTU's is two-person"),
    ("utkinect push", "NTU pushing other person", "UTKinect pushes an object"),
    ("hdm05 hop on both legs", "NTU jump up / hopping (one foot jumping)", "one two-legged hop, possibly forward"),
    ("hdm05 rotate both arms backwards", "NTU arm circles", "direction fixed (backwards); NTU's not"),
    ("hdm05 touch the left elbow to the right knee", "NTU cross toe touch", "elbow to knee, not hand to toe"),
    ("hdm05 jog in a circle to the left, bandai run", "NTU running on the spot", "they move through the room"),
    ("bandai wave the left / right hand", "NTU hand waving", "one side fixed; merging would lose the side"),
    ("bandai raise the left / right hand", "NTU hands up (both hands)", "one hand"),
    ("bandai wave goodbye with both hands", "wave both hands", "Bandai has both as separate classes"),
    ("bandai answer a call", "NTU make a phone call/answer phone", "answering someone who calls out, no phone"),
    ("bandai swing a sword", "NTU wield knife towards other person", "two-person, a knife"),
)


@dataclass(frozen=True)
class ClassTable:
    """The default model's classes by logit column (module docstring).

    Attributes:
        names: every column's name: the 120 NTU names, then the extra classes.
        num_ntu: columns scored by the NTU fc (they come first).
        members: per column, the dataset classes ``(dataset, class)`` whose clips are that column.
    """

    names: tuple[str, ...]
    num_ntu: int
    members: tuple[tuple[tuple[str, str], ...], ...]

    @property
    def extra_names(self) -> tuple[str, ...]:
        """Names of the extra head's columns."""
        return self.names[self.num_ntu :]

    def column(self, dataset: str, class_name: str) -> int:
        """The column a dataset class is trained as.

        Raises:
            ConfigError: the class is not in the table.
        """
        lookup = self._lookup()
        if (dataset, class_name) not in lookup:
            raise ConfigError(
                f"{dataset}: class {class_name!r} is not in the default model's class table "
                "(sadvae/train/class_table.py); add it to NTU_MAP or EXTRA_TABLE"
            )
        return lookup[(dataset, class_name)]

    def columns(self, dataset: str, class_names: Iterable[str]) -> list[int]:
        """Columns of a dataset's classes, in its order (see :meth:`column`)."""
        return [self.column(dataset, c) for c in class_names]

    def _lookup(self) -> dict[tuple[str, str], int]:
        return _lookup(self)

    def sources(self, column: int) -> tuple[str, ...]:
        """Where a column's training comes from: ``"ntu120"`` for fc columns, then the datasets mapped onto it."""
        ds = tuple(dict.fromkeys(d for d, _ in self.members[column]))
        return ((NTU_SOURCE,) if column < self.num_ntu else ()) + ds

    def trained_columns(self, without: Iterable[str] = ()) -> tuple[int, ...]:
        """Columns that are trained when the sets in ``without`` are left out (NTU columns always are)."""
        drop = set(without)
        return tuple(
            c for c in range(len(self.names)) if c < self.num_ntu or any(d not in drop for d, _ in self.members[c])
        )

    def trained_names(self, without: Iterable[str] = ()) -> tuple[str, ...]:
        """Names of :meth:`trained_columns` (the vocabulary a model trained without those sets knows)."""
        return tuple(self.names[c] for c in self.trained_columns(without))

    def is_trained_name(self, label: str, without: Iterable[str] = ()) -> bool:
        """True when ``label`` is (after case / punctuation folding) a trained name; paraphrases are the
        head's matcher's business (:mod:`sadvae.head.matching`)."""
        key = _fold(label)
        return any(_fold(n) == key for n in self.trained_names(without))

    def restricted(self, datasets: Iterable[str]) -> ClassTable:
        """The table of a model trained on ``datasets`` only: every NTU column (the NTU fc scores them all), the extra
        columns some of those sets train, and only those sets as members. A bundle's class names are its trained
        vocabulary, so an extra class none of its sets holds is no trained name of it (it goes to the zero-shot
        branch); the five shared sets give the whole table."""
        keep = set(datasets)
        members = [tuple(m for m in ms if m[0] in keep) for ms in self.members]
        cols = [c for c in range(len(self.names)) if c < self.num_ntu or members[c]]
        return ClassTable(tuple(self.names[c] for c in cols), self.num_ntu, tuple(members[c] for c in cols))

    def to_dict(self) -> dict:
        """JSON-able form: columns with name, origin and members; the kept-apart list."""
        return {
            "num_ntu": self.num_ntu,
            "columns": [
                {"name": n, "sources": list(self.sources(c)), "members": [list(m) for m in self.members[c]]}
                for c, n in enumerate(self.names)
            ],
            "kept_apart": [list(k) for k in KEPT_APART],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False)


@cache
def _lookup(table: ClassTable) -> dict[tuple[str, str], int]:
    return {m: c for c, members in enumerate(table.members) for m in members}


def _fold(name: str) -> str:
    s = str(name).casefold().replace("&", " and ")
    for ch in "_-/":
        s = s.replace(ch, " ")
    return " ".join(s.split()).rstrip(". ")


@cache
def class_table(own_sets: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> ClassTable:
    """The default model's :class:`ClassTable` (NTU-120 columns, then :data:`EXTRA_TABLE`), with a user's sets.

    Args:
        own_sets: ``(dataset key, class names)`` tuples of clip folders the recipe also trains on (docs/data_format.md).
            A class whose name is a column's name or a table class's name (ignoring case, punctuation and spacing:
            "hand waving", "Clapping", "high arm wave") joins that column, so it is the same trained action; any
            other class gets a column of its own, after the table's, shared by the sets that name it alike.

    Raises:
        ConfigError: an :data:`NTU_MAP` entry names the wrong NTU action, or a dataset class appears twice.
    """
    members: list[list[tuple[str, str]]] = [[] for _ in NTU120_NAMES]
    for (ds, cls), (a, name) in NTU_MAP.items():
        if not 1 <= a <= len(NTU120_NAMES) or NTU120_NAMES[a - 1] != name:
            raise ConfigError(f"class table: {ds}/{cls} maps to NTU A{a}, which is not {name!r}; fix NTU_MAP")
        members[a - 1].append((ds, cls))
    for _, m in EXTRA_TABLE:
        members.append(list(m))
    names = list(NTU120_NAMES + tuple(n for n, _ in EXTRA_TABLE))
    where = {_fold(n): c for c, n in enumerate(names)}
    for c, ms in enumerate(members):
        for _, cls in ms:
            where.setdefault(_fold(cls), c)
    for key, classes in own_sets:
        mine: dict[int, str] = {}
        for cls in classes:
            c = where.get(_fold(cls))
            if c is None:
                c = where[_fold(cls)] = len(names)
                names.append(str(cls))
                members.append([])
            if c in mine:  # "sit down" and "sitting down" of one folder: one trained class, their confusions unseen
                raise ConfigError(
                    f"{key}: classes {mine[c]!r} and {cls!r} are both the trained class {names[c]!r} (the same name "
                    "once case, punctuation and spacing are ignored, or that class's name in another set); merge "
                    "their clips under one name, or rename one"
                )
            mine[c] = str(cls)
            members[c].append((str(key), str(cls)))
    flat = [m for ms in members for m in ms]
    dup = sorted({m for m in flat if flat.count(m) > 1})
    if dup:
        raise ConfigError(f"class table: dataset classes {dup} are mapped more than once")
    return ClassTable(tuple(names), len(NTU120_NAMES), tuple(tuple(m) for m in members))
