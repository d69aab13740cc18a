"""The WordNet glossary (sadvae.glossary) and its builder (scripts/build_glossary.py), on a small database written
here in WordNet's own file format; the real WordNet is read only where it is installed."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sadvae.errors import ConfigError, DataFormatError
from sadvae.glossary import Glossary, described

ROOT = Path(__file__).resolve().parents[2]
WORDNET = Path("/usr/share/wordnet")


def _builder():
    spec = importlib.util.spec_from_file_location("build_glossary", ROOT / "scripts" / "build_glossary.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write_wordnet(folder: Path) -> None:
    """index.<pos> / data.<pos> / verb.exc with byte offsets as WordNet writes them (wndb(5WN))."""
    synsets = {
        "verb": [  # (lemma, lexicographer file, gloss)
            ("jog", 42, 'continue talking or writing in a desultory manner; "he jogged on"'),
            ("jog", 38, "run for exercise"),
            ("jog", 38, "travel along with jerks"),
            ("sit_down", 38, "take a seat"),
            ("don", 29, "put clothing on one's body"),
            ("forward", 32, "send or ship onward"),
            ("run", 38, "move fast by using one's feet"),
        ],
        "noun": [
            ("tai_chi", 4, "a Chinese system of slow meditative physical exercise"),
            ("hammer", 6, "a hand tool"),
            ("hammer", 4, "the act of pounding"),
        ],
    }
    for pos, rows in synsets.items():
        header = "  1 This software and database is being provided to you\n"
        data, offsets = header, {}
        for lemma, lexfile, gloss in rows:
            off = len(data.encode("latin-1"))
            offsets.setdefault(lemma, []).append(off)
            data += f"{off:08d} {lexfile:02d} {pos[0]} 01 {lemma} 0 000 | {gloss}  \n"
        (folder / f"data.{pos}").write_text(data, encoding="latin-1")
        index = header + "".join(
            f"{lemma} {pos[0]} {len(o)} 1 @ {len(o)} 0 {' '.join(f'{x:08d}' for x in o)}  \n"
            for lemma, o in sorted(offsets.items())
        )
        (folder / f"index.{pos}").write_text(index, encoding="latin-1")
    (folder / "verb.exc").write_text("ran run\nsat sit\n", encoding="latin-1")


@pytest.fixture()
def table(tmp_path) -> Path:
    wn = tmp_path / "wn"
    wn.mkdir()
    _write_wordnet(wn)
    out = tmp_path / "glossary.tsv.gz"
    assert _builder().main(["--wordnet", str(wn), "--out", str(out)]) == 0
    return out


def test_builder_keeps_bodily_verb_senses_and_act_nouns_without_examples(table):
    text = gzip.decompress(table.read_bytes()).decode()
    rows = [line.split("\t") for line in text.splitlines()]
    body = [r for r in rows if not r[0].startswith("#")]
    assert ["v", "jog", "run for exercise"] in body
    assert not any(r[1] == "jog" and "desultory" in r[2] for r in body)  # verb.stative, not a bodily sense
    assert not any(r[1] == "forward" for r in body)  # no bodily sense at all
    assert ["n", "tai chi", "a Chinese system of slow meditative physical exercise"] in body
    assert ["n", "hammer", "the act of pounding"] in body and ["n", "hammer", "a hand tool"] not in body
    assert ["x", "ran", "run"] in body
    notice = " ".join(line[2:] for line in text.splitlines() if line.startswith("# "))
    assert "WordNet 3.0 Copyright 2006 by Princeton University" in notice  # the licence travels with the table


def test_builder_names_missing_files_and_a_database_it_cannot_read(tmp_path):
    with pytest.raises(SystemExit, match="lacks"):
        _builder().main(["--wordnet", str(tmp_path), "--out", str(tmp_path / "g.tsv.gz")])
    for name in ("index.verb", "data.verb", "index.noun", "data.noun", "verb.exc"):
        (tmp_path / name).write_text("jog v not-a-number\n", encoding="latin-1")
    with pytest.raises(SystemExit, match="is not a WordNet 3.0 database this script can read"):
        _builder().main(["--wordnet", str(tmp_path), "--out", str(tmp_path / "g.tsv.gz")])


def test_whole_labels_only_and_inflections(table):
    g = Glossary.load(table)
    assert g.define("tai chi") == "a Chinese system of slow meditative physical exercise"
    assert g.define("Sitting down") == "take a seat"  # gerund -> lemma, then the whole phrase
    assert g.define("donning") == "put clothing on one's body"
    assert g.define("ran") == "move fast by using one's feet"  # WordNet's exception list
    assert g.define("running") == "move fast by using one's feet"  # doubled consonant
    assert g.define("forward kick") is None  # a phrase's first word is never defined alone
    assert g.define("") is None
    assert described("donning", g.define("donning")) == "donning: put clothing on one's body"
    assert described("draw x", None) is None


def test_sense_choice_follows_the_encoder_when_given_one(table):
    g = Glossary.load(table)
    assert g.senses("hammer") == ["the act of pounding"]
    assert g.senses("jog") == ["run for exercise", "travel along with jerks"]  # two bodily senses, in order
    # an encoder that reads "a person jog" and the action "jump" as the second sense
    vocab = {"a person jog": [1.0, 0.0], "travel along with jerks": [1.0, 0.0], "jump": [0.8, 0.6]}
    calls: list[list[str]] = []

    def embed(texts):
        calls.append(list(texts))
        return np.array([vocab.get(t, [0.0, 1.0]) for t in texts])

    assert g.define("jog") == "run for exercise"  # without an encoder: the most frequent sense
    assert g.define("jog", embed, ["jump"]) == "travel along with jerks" and calls  # the encoder's choice
    assert g.define("jog", embed, []) == "run for exercise"  # no actions to read the senses against


def test_load_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="build_glossary.py"):
        Glossary.load(tmp_path / "absent.tsv.gz")
    bad = tmp_path / "bad.tsv.gz"
    bad.write_bytes(gzip.compress(b"v\tjog\n"))
    with pytest.raises(DataFormatError, match="line 1"):
        Glossary.load(bad)
    plain = tmp_path / "plain.tsv.gz"
    plain.write_bytes(b"not gzip")
    with pytest.raises(DataFormatError, match="rebuild"):
        Glossary.load(plain)


@pytest.mark.skipif(not (WORDNET / "data.verb").is_file(), reason="WordNet 3.0 not installed (Debian wordnet-base)")
def test_real_wordnet_defines_terms_of_art(tmp_path):
    out = tmp_path / "g.tsv.gz"
    assert _builder().main(["--wordnet", str(WORDNET), "--out", str(out)]) == 0
    g = Glossary.load(out)
    assert "barbell" in g.define("clean and jerk")
    assert g.define("doffing") == "remove"
    assert g.define("draw circle") is None
