"""The default model's class table (sadvae.train.class_table): every dataset class once, NTU names unique."""

from __future__ import annotations

import json

import pytest

from sadvae.errors import ConfigError
from sadvae.train.class_table import (
    EXTRA_TABLE,
    NTU120_NAMES,
    NTU_MAP,
    TABLE_DATASETS,
    class_table,
)

KINECT_FOLDERS = {"msr_action3d": "msr_action3d", "nw_ucla": "nw_ucla", "utkinect": "utkinect_action3d"}


def _fold(s: str) -> str:
    from sadvae.train.class_table import _fold

    return _fold(s)


def _dataset_classes(shared_data) -> dict[str, list[str]]:
    """Each set's class names as its reader gives them (Kinect sets: classes.txt; mocap: the reader's constants)."""
    from sadvae.data.mocap import BANDAI_CLASSES, HDM05_CLASSES

    out = {}
    for ds, folder in KINECT_FOLDERS.items():
        text = (shared_data / "skeleton_sets" / folder / "classes.txt").read_text()
        out[ds] = [line.split("\t")[1].strip() for line in text.splitlines() if line.strip()]
    out["hdm05"], out["bandai_namco"] = list(HDM05_CLASSES), list(BANDAI_CLASSES)
    return out


def test_every_dataset_class_is_mapped_exactly_once(shared_data):
    t = class_table()
    classes = _dataset_classes(shared_data)
    assert set(classes) == set(TABLE_DATASETS)
    members = [m for ms in t.members for m in ms]
    assert len(members) == len(set(members)), "a dataset class sits in two columns"
    expected = {(ds, c) for ds, names in classes.items() for c in names}
    assert set(members) == expected  # nothing missing, nothing invented
    for ds, names in classes.items():
        cols = t.columns(ds, names)
        assert len(set(cols)) == len(cols), f"{ds}: two of its classes share a column"


def test_names_are_unique_and_ntu_columns_come_first():
    t = class_table()
    assert t.num_ntu == 120 and t.names[:120] == NTU120_NAMES
    assert len({_fold(n) for n in t.names}) == len(t.names)
    assert t.extra_names == tuple(n for n, _ in EXTRA_TABLE)
    assert all(t.members[c] for c in range(120, len(t.names))), "an extra class without data"


def test_ntu_names_are_the_official_list(shared_data):
    from sadvae.models.pretrained import ntu_class_names

    assert NTU120_NAMES == ntu_class_names(120)


def test_ntu_map_names_the_right_actions_and_examples():
    t = class_table()
    for (ds, cls), (a, name) in NTU_MAP.items():
        assert t.column(ds, cls) == a - 1 and t.names[a - 1] == name
    assert t.names[t.column("nw_ucla", "sit down")] == "sitting down"
    assert t.column("utkinect", "walk") == t.column("nw_ucla", "walk around") == t.column("bandai_namco", "walk")
    assert t.column("msr_action3d", "hand clap") == t.column("utkinect", "clap hands") == 9
    with pytest.raises(ConfigError, match="not in the default model's class table"):
        t.column("utkinect", "juggle")


def test_trained_names_without_a_set():
    t = class_table()
    assert len(t.trained_names()) == len(t.names)
    without = set(t.trained_names(["utkinect"]))
    assert "push" not in without and "pull" not in without  # UTKinect only
    assert "walk" in without and "sitting down" in without  # also from other sets / NTU
    assert t.is_trained_name("Sitting Down.") and not t.is_trained_name("push", without=["utkinect"])
    assert t.sources(t.column("utkinect", "sit down")) == ("ntu120", "nw_ucla", "utkinect")


def test_json_form_round_trips():
    d = json.loads(class_table().to_json())
    assert d["num_ntu"] == 120 and len(d["columns"]) == len(class_table().names)
    assert d["columns"][7] == {
        "name": "sitting down",
        "sources": ["ntu120", "nw_ucla", "utkinect"],
        "members": [["nw_ucla", "sit down"], ["utkinect", "sit down"]],
    }
    assert d["kept_apart"]


def test_a_user_s_classes_join_columns_by_name_and_new_ones_get_their_own():
    """7 December 2026: the recipe trains on clip folders of the user's; their classes need columns."""
    mine = ("/data/mine", ("Hand-Waving", "cross crunch", "high arm wave", "walk", "bunny hop"))
    other = ("/data/other", ("bunny hop",))
    base, t = class_table(), class_table((mine, other))
    assert t.names[: len(base.names)] == base.names and t.num_ntu == base.num_ntu
    assert t.names[len(base.names) :] == ("cross crunch", "bunny hop")  # new columns, in the user's order
    assert t.column("/data/mine", "Hand-Waving") == base.names.index("hand waving")  # an NTU name, folded
    assert t.column("/data/mine", "high arm wave") == base.column("msr_action3d", "high arm wave")  # a set's class
    assert t.column("/data/mine", "walk") == base.column("utkinect", "walk")
    assert t.column("/data/other", "bunny hop") == t.column("/data/mine", "bunny hop") == len(base.names) + 1
    assert t.sources(len(base.names)) == ("/data/mine",)


def test_a_model_s_table_holds_the_columns_its_sets_train():
    """Review of 7 December 2026: a model trained on one set claimed every extra class as trained (a label "hammer"
    landed on a column no window trained); its table keeps the NTU columns and the extra ones its sets train."""
    t = class_table()
    assert t.restricted(TABLE_DATASETS) == t
    utk = t.restricted(["utkinect"])
    assert utk.names[:120] == t.names[:120] and "hammer" not in utk.names
    assert utk.extra_names == ("wave both hands", "walk", "carry", "push", "pull")
    assert utk.column("utkinect", "walk") == 121 and all(d == "utkinect" for ms in utk.members for d, _ in ms)


def test_two_classes_of_one_folder_on_one_column_are_refused():
    """Review of 7 December 2026: "sit down" and "sitting down" of one folder (distinct to classes.txt) trained as one
    class, so confusing them scored as correct."""
    with pytest.raises(ConfigError, match=r"/x: classes 'sit down' and 'sitting down' are both the trained class"):
        class_table((("/x", ("sit down", "sitting down")),))
    with pytest.raises(ConfigError, match="'clap hands' and 'clapping'"):
        class_table((("/x", ("clap hands", "clapping")),))
