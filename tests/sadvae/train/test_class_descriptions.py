"""`sadvae benchmark zsl --class-descriptions FILE`: every class's text from a labels file of descriptions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sadvae.errors import ConfigError
from sadvae.text import TextConfig
from sadvae.train.protocol import class_descriptions, class_text_embeddings

ROOT = Path(__file__).resolve().parents[3]
NAMES = ("sit down", "stand up", "donning")


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "described.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_descriptions_come_back_in_class_order_whatever_the_file_order(tmp_path):
    path = _write(tmp_path, "# comment\nDonning | a person puts on a jacket\nsit down | sits\nstand  up | stands\n")
    assert class_descriptions(path, NAMES) == ("sits", "stands", "a person puts on a jacket")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("sit down | sits\nstand up | stands\n", "no line for \\['donning'\\]"),
        ("sit down | sits\nstand up | stands\ndonning | on\ndoffing | off\n", "no class of the dataset"),
        ("sit down | sits\nstand up\ndonning | on\n", "no description"),
    ],
)
def test_a_file_that_does_not_describe_exactly_the_classes_is_refused(tmp_path, text, says):
    with pytest.raises(ConfigError, match=says):
        class_descriptions(_write(tmp_path, text), NAMES)


def test_the_description_is_the_text_encoded(tmp_path):
    cfg = TextConfig(cache_dir=str(tmp_path / "text"))
    described = ("a person sits down on a chair", "a person stands up from a chair", "a person puts on a jacket")
    names, _ = class_text_embeddings(NAMES, cfg)
    with_desc, _ = class_text_embeddings(NAMES, cfg, described)
    alone, _ = class_text_embeddings(described, TextConfig(cache_dir=str(tmp_path / "text"), template="{label}"))
    assert not np.allclose(names, with_desc)
    np.testing.assert_allclose(with_desc, alone, atol=1e-5)  # "a person ..." is not prefixed twice


def test_the_shipped_files_describe_their_datasets(shared_data):
    from sadvae.data.registry import load_dataset

    ds = load_dataset("utkinect", shared_data / "skeleton_sets" / "utkinect_action3d")
    got = class_descriptions(ROOT / "benchmarks" / "labels" / "described" / "utkinect.txt", ds.class_names)
    assert len(got) == len(ds.class_names) and all(d.startswith("a person") for d in got)
