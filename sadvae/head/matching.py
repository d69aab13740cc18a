"""Which trained class does a user's label mean? Label -> trained-class matching by text (numpy).

A label that names or paraphrases a class the model was trained on ("walking", "stand to sit", "two
hand front clap") must be scored by what the model learned for that class, not by the zero-shot
branch. Exact names are not enough, and plain sentence-embedding similarity is not either: it is
nearly blind to word order and to the one word that flips an action ("stand to sit" embeds close to
"stand up", "put on clothes" close to "take off clothes"). So a match is decided in three steps:

1. **Canonical form** (:func:`canonical`): lower case, punctuation out, ``&`` -> ``and``, a small
   synonym table (``both`` -> ``two``, ``front`` -> ``forward``, ...), and posture *transitions*
   rewritten to the action they name: "stand to sit", "from standing to sitting", "sit-to-stand"
   become "sit down" / "stand up" (the action is reaching the *second* posture). Words are then
   stemmed (``walking`` -> ``walk``, ``hands`` -> ``hand``) and stop words dropped (:func:`stems`).
2. **Conflicts** (:data:`CONFLICTS`): groups of words that exclude each other (up/down, on/off,
   sit/stand/lie, forward/side/backward, one/two, ...). A label and a class conflict when each has a
   word of the same group that the other lacks: their score is 0, whatever the embedding says. Likewise
   when a particle belongs to a verb in one text and the other uses the particle without that verb
   (:func:`particle_clash`: "pick up with two hands" / "hands up (both hands)", "jump up" / "stand up"): a
   particle after a verb is part of the verb's action, a particle without a verb is the action itself. And
   when the label says more than the class in a way that excludes it (:func:`meaning_clash`): a negation
   ("don't sit down"), no second person where the class has one ("push" / "pushing other person"), or the
   class plus a side or path ("walk backwards" / "walk").
3. **Score**: 1 when the stem sets are equal; otherwise the cosine similarity of sentence embeddings
   of the canonical forms when an encoder is at hand, else (a live install without sentence-transformers)
   the token F1 of the stem sets if every word of the label occurs in the class and the class joins no
   second action to them with "and". Word overlap alone is too loose beside embeddings ("pick up and
   throw" shares 2 of 3 words with "pick up" but is another action).

A class goes to the label that matches it best, if that score reaches the threshold; a label may
cover several classes ("kick" -> "forward kick" and "side kick" when no other label claims them),
and its trained score is then the sum of theirs. A label that covers no class then takes, at
:data:`HYPONYM_SCORE` (its score in :attr:`MatchResult.scores` too), the unclaimed classes that name
its action with what is acted on or how: the label has a verb, and the class adds no other verb, no
"and", no second person, no path or side (:func:`hyponym`: "drinking" / "drink water", "nodding" /
"nod head", "wave" / "hand waving"; embeddings put such pairs at 0.69-0.77), and the classes that name its
action on a generic "something" (:func:`instance`: "kicking a ball" / "kicking something", "putting a phone into
a bag" / "put something into a bag"; not "carrying a box" / "carry": docs/head.md section 2). Only such a label: a
label that covers a class of its own keeps to it ("walk" does not take "walk slowly"; letting every
label take such classes cost live top-1 on the inner-validation replays, docs/head.md section 2). A
label that still covers no class is new (zero-shot).
Vocabularies of thousands of classes cost one [labels x classes] similarity matrix.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CONFLICTS",
    "DEFAULT_MATCH_THRESHOLD",
    "LabelMatch",
    "MatchResult",
    "canonical",
    "stems",
    "conflict",
    "lexical_score",
    "PARTICLES",
    "PHRASAL_VERBS",
    "VERBS",
    "particle_clash",
    "meaning_clash",
    "phrasal",
    "alternatives",
    "HYPONYM_SCORE",
    "hyponym",
    "instance",
    "match_labels",
]

log = logging.getLogger(__name__)

# chosen on the paraphrase pairs of tests/sadvae/head_paraphrases.tsv (scripts/check_head.py --matching)
DEFAULT_MATCH_THRESHOLD = 0.8
# the score of a class for a label that covers no other and names the class's action more generally (:func:`hyponym`):
# the default threshold, so a stricter --match-threshold turns these matches off
HYPONYM_SCORE = DEFAULT_MATCH_THRESHOLD

_SYNONYMS = {
    "both": "two",
    "front": "forward",
    "ahead": "forward",
    "sideways": "side",
    "sideway": "side",
    "&": "and",
    "arms": "arm",
    "clothing": "clothes",
    "jacket": "clothes",
    "coat": "clothes",
    "sweater": "clothes",
    "hoodie": "clothes",
    "jumper": "clothes",
    "cardigan": "clothes",
    "towards": "toward",
    "backwards": "backward",
    "onto": "on",
    "downward": "down",
    "upward": "up",
    "fall": "fall",
    "falling": "fall",
    "fell": "fall",
    "ran": "run",
    "threw": "throw",
    "thrown": "throw",
    "sat": "sit",
    "stood": "stand",
    "lay": "lie",
    "lying": "lie",
    "sitting": "sit",
    "standing": "stand",
    "running": "run",
    "hopping": "hop",
}
_STOP = frozenset(
    "a an the person someone somebody one's his her their its of and to from with in at into by is are".split()
) - {"with"}
# postures and the action that reaches each: "X to Y" (and variants) names the action that ends in Y
_POSTURE = {
    "stand": "stand up",
    "standing": "stand up",
    "sit": "sit down",
    "sitting": "sit down",
    "seated": "sit down",
    "lie": "lie down",
    "lying": "lie down",
    "laying": "lie down",
    "kneel": "kneel down",
    "kneeling": "kneel down",
    "squat": "squat down",
    "squatting": "squat down",
    "crouch": "crouch down",
    "crouching": "crouch down",
}
_POSTURES = "|".join(sorted(_POSTURE, key=len, reverse=True))
_TRANSITION = re.compile(
    rf"\b(?:from\s+(?:a\s+)?)?(?:{_POSTURES})(?:\s+position)?\s*(?:-|\s)\s*(?:to|into|(?:and\s+)?then)\s*(?:-|\s)\s*"
    rf"(?:a\s+)?({_POSTURES})(?:\s+position)?\b"
)
# dashes of every width read as a hyphen ("stand–to–sit"), arrows as "to" ("sit->stand", "sit → stand"), so that the
# transition rule reads them; a possessive 's goes (one's, his, someone's: "rubbing one's hands" names no "one")
_DASHES = re.compile("[\u2010-\u2015\u2212]")
_ARROWS = re.compile("-+>|=+>|[\u2192\u21d2\u27f6\u2794\u279c>]")
_POSSESSIVE = re.compile(r"\bone's\b|(?<=\w)'s\b")


def canonical(text: str) -> str:
    """The canonical form of a label or class name (module docstring, step 1), before stemming.

    >>> canonical("Stand-to-Sit")
    'sit down'
    >>> canonical("pick up & throw")
    'pick up and throw'
    """
    t = unicodedata.normalize("NFKC", str(text)).casefold().replace("_", " ").replace("&", " and ")
    t = t.replace("\u2019", "'").replace("\u02bc", "'")
    t = re.sub(r"\(.*?\)", lambda m: " " + m.group(0)[1:-1] + " ", t)  # keep bracketed words, drop brackets
    for pattern, phrase in _PHRASES:
        t = pattern.sub(phrase, t)
    t = _POSSESSIVE.sub(" ", t)
    t = re.sub(r"(?<=\w)n't\b", " not", t)  # don't -> do not (a negation: :func:`negated`)
    t = _ARROWS.sub(" to ", _DASHES.sub("-", t))
    t = _TRANSITION.sub(lambda m: " " + _POSTURE[m.group(1)] + " ", t)
    t = re.sub(r"[^\w\s]", " ", t)
    return " ".join(_SYNONYMS.get(w, w) for w in t.split())


def _stem(word: str) -> str:
    w = _SYNONYMS.get(word, word)
    for suffix in ("ing", "ed", "es", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not w.endswith("ss"):
            w = w[: -len(suffix)]
            break
    if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]  # clapp -> clap, sitt -> sit
    if len(w) >= 4 and w.endswith("e"):
        w = w[:-1]  # wave/waving -> wav
    if w.endswith("al") and len(w) >= 8:
        w = w[:-2]  # horizontal -> horizont
    return w


# everyday phrasings of the posture and dressing actions (whole words only)
_PHRASES = tuple(
    (re.compile(rf"\b{p}\b"), f" {r} ")
    for p, r in (
        ("pickup", "pick up"),
        ("hand ?shak(?:e|es|ing)", "shake hands"),
        ("get(?:ting)? up", "stand up"),
        ("rise", "stand up"),
        ("take a seat", "sit down"),
        ("be seated", "sit down"),
        ("get(?:ting)? dressed", "put on clothes"),
        ("undress(?:ing)?", "take off clothes"),
        ("dress(?:ing)? up", "put on clothes"),
        ("applaud(?:s|ed|ing)?", "clap hands"),
        ("look(?:s|ed|ing)? at (?:a |the |my |one's |his |her |their )?(?:wrist)?watch", "check time from watch"),
        ("check(?:s|ed|ing)? (?:a |the |my |one's |his |her |their )?(?:wrist)?watch", "check time from watch"),
        ("catch(?:es|ing)? (?:a |an |the )?ball", "hand catch"),
        (
            "drink(?:s|ing)? (?:water |tea |coffee )?(?:from|out of) (?:a |an |the |my )?(?:cup|glass|mug|bottle|can)",
            "drink water",
        ),
        ("texting|sending (?:a )?text(?: message)?s?", "play with phone"),
    )
)
# mutually exclusive words (stemmed forms): a pair of texts that each use a different one are different actions
CONFLICTS: tuple[frozenset[str], ...] = tuple(
    frozenset(_stem(w) for w in g)
    for g in (
        ("up", "down"),
        ("on", "off"),
        ("sit", "stand", "lie", "squat", "kneel"),
        ("put", "take"),
        ("wear", "take"),
        ("toward", "away", "apart"),
        ("forward", "backward", "side"),
        ("left", "right", "two"),  # one side is not both: "raise right hand" / "hands up (both hands)"
        ("high", "horizontal", "low"),
        ("one", "two"),
        ("push", "pull"),
        ("open", "close"),
        ("throw", "catch"),
        ("walk", "run", "jog"),
        ("pick", "drop"),
        ("in", "out"),
        ("start", "stop"),
        ("fast", "slow"),
        ("kick", "punch"),
        ("hand", "fist"),  # shake hands / shake fist, raise a hand / raise a fist
    )
)


# verbs that take a particle (stemmed forms): in "pick up", "cheer up", "take clothes off" the particle is part of
# the verb's meaning, not an action of its own ("hands up", "thumb up" have no verb: their particle is the action)
PHRASAL_VERBS: frozenset[str] = frozenset(
    _stem(w)
    for w in (
        "pick stand sit lie squat kneel crouch get jump hop cheer tear throw toss put take wear reach look turn bend"
        " fall climb lift raise pull push hold give set lay wake roll fold ball curl step walk run jog move come go"
        " shut open close pour wipe clean dress break knock bring carry show call sign stretch warm cool hang"
        " fill zip button brush try switch plug blow check kick punch swing spin rotate touch drop wash write draw"
        " type point clap wave shake nod bow eat drink cut play use make lean sneak crawl dance"
    ).split()
)
PARTICLES: frozenset[str] = frozenset({"up", "down", "on", "off", "out", "over", "away"})
# verbs that name the same action before the same particle ("wear on glasses" / "put on glasses")
_VERB_SYNONYMS = {_stem("wear"): _stem("put")}
# verbs of one action for :func:`verb_clash` (each read as the group's first): a shot or a toss of a ball is a throw
_SAME_ACTION_VERBS = {
    _stem(w): _stem(group.split()[0])
    for group in ("throw shoot toss hurl lob pitch fling", "put wear", "take remove snap", "hit strike", "grab seize")
    for w in group.split()
}


def phrasal(text: str) -> frozenset[tuple[str, str]]:
    """The (verb, particle) pairs of :func:`canonical` ``(text)``: a :data:`PARTICLES` word that follows a
    :data:`PHRASAL_VERBS` verb, directly or after one object word ("pick up", "pick something up"), belongs to it.

    >>> sorted(phrasal("pick up with two hands")), sorted(phrasal("hands up (both hands)"))
    ([('pick', 'up')], [])
    """
    words = [_stem(w) for w in canonical(text).split()]
    out = set()
    for k, w in enumerate(words):
        if w in PARTICLES:
            for v in reversed(words[max(0, k - 2) : k]):
                if v in PHRASAL_VERBS:
                    out.add((_VERB_SYNONYMS.get(v, v), w))
                    break
                if v in PARTICLES:
                    break
    return frozenset(out)


def _verb_words(text: str) -> frozenset[str]:
    return frozenset(_VERB_SYNONYMS.get(w, w) for w in (_stem(x) for x in canonical(text).split()))


def _particle_clash(pa: frozenset, wa: frozenset, pb: frozenset, wb: frozenset) -> bool:
    return any(p in wb and v not in wb for v, p in pa) or any(p in wa and v not in wa for v, p in pb)


def particle_clash(a: str, b: str) -> bool:
    """True when one text's particle belongs to a verb that the other text, which uses the same particle, lacks.

    A shared particle is then no shared action: "pick up with two hands" and "hands up (both hands)" share
    *up* (and *two*, *hand*), but there *up* is part of "pick up" (taking something from below) and here it is
    the action itself (raising the hands); "jump up" and "stand up", "cheer up" and "hands up" likewise.
    A text whose verb has no particle ("raise both hands" / "hands up") and a text without the particle
    ("bend down" / "bend") are left to the score.
    """
    return _particle_clash(phrasal(a), _verb_words(a), phrasal(b), _verb_words(b))


def stems(text: str) -> frozenset[str]:
    """The stemmed content words of :func:`canonical` ``(text)``."""
    return frozenset(_stem(w) for w in canonical(text).split() if w not in _STOP)


def conflict(a: frozenset[str], b: frozenset[str]) -> bool:
    """True when ``a`` and ``b`` (stem sets) each use a different word of one :data:`CONFLICTS` group."""
    for g in CONFLICTS:
        ga, gb = (a & g) - b, (b & g) - a
        if ga and gb:
            return True
    return False


# words that join two actions into one class ("pick up and throw", "cheers and drink", "walk while texting")
_CONJUNCTIONS = frozenset({"and", "then", "while", "or"})
# words that bring in a second person (NTU's "pushing other person", "walking towards each other", "support somebody
# with hand"): an action between two people is another kind of action than the one a label without them names, and a
# one-person window shows half of it. Read from the canonical words, as "someone" is a stop word.
_PARTNER = frozenset({"other", "each", "another", "partner", "partners", "together", "someone", "somebody"})
# words that fix a path or side ("jog in a circle to the left", "wave the left hand"): a label without them would take
# one variant of its action alone (on the inner-validation replays "jogging" -> "jog in a circle to the left" cost MSR's
# window vote 46.1 -> 42.6 %), so such a class is no kind of the label's action for this rule
_PATH = frozenset(
    _stem(w)
    for w in ("left", "right", "forward", "backward", "side", "circle", "around", "toward", "away", "clockwise", "back")
)
# the _PATH words that turn an action into another movement when a label adds them to a class ("walk backwards" /
# "walk", "side kick" / "kick": :func:`meaning_clash`); forward, toward, around, away and back are left out, as
# "walking forward" is walking ("back" is also a body part, "away" a particle)
_OFF_PATH = frozenset(_stem(w) for w in ("left", "right", "backward", "side", "circle", "clockwise"))
# a side before a limb is the limb's, not a path ("kick forward with the left leg" is a forward kick; one side against
# both is the CONFLICTS group's business)
_LIMBS = frozenset(_stem(w) for w in ("hand", "arm", "leg", "foot", "feet", "knee", "elbow", "shoulder", "fist"))
# verbs of trained class names that take no particle (NTU-120, the Kinect sets): with PHRASAL_VERBS, the words that
# make a text an action ("touching" is no more general name of "cross toe touch": crossing is another action)
_MORE_VERBS = frozenset(
    _stem(w)
    for w in (
        "read rub salute cross say sneeze cough stagger vomit pat hug shoot hush flick staple count snap sniff smell"
        " apply yawn hit wield grab follow whisper exchange support hammer catch box serve sprint bounce juggle type"
        " text tap hop skip march squat jump sit stand lie kneel bow greet cheer toast sign"
    ).split()
)
VERBS: frozenset[str] = PHRASAL_VERBS | _MORE_VERBS
# the words of a second person in a class (:func:`meaning_clash`); not "together", which also joins one's own hands
# ("rub two hands together")
_SECOND_PERSON = _PARTNER - {"together"}
# more ways a label names its partner: "pushing a friend", "push him", "slap a person" ("person" / "people" after the
# label's first word: "person walking" names one person); "her" is left out, as it is also one's own ("brush her hair")
_PARTNER_WORDS = frozenset({"friend", "friends", "him", "them"})
_PERSON_WORDS = frozenset({"person", "people"})
# actions that take two people whatever the label says ("hug" / "hugging other person", "whisper" / "whisper in other
# person's ear", "walk apart" / "walking apart from each other"): stem sets of the label
_PAIR_ACTIONS = tuple(
    frozenset(_stem(w) for w in a.split())
    for a in ("hug", "embrace", "cuddle", "kiss", "shake hands", "high five", "whisper", "slap", "pat", "apart", "give")
)
# the side words, CONFLICTS' group of them: one side is not both, and a class's name says so for its aliases too
_LEFT_RIGHT_BOTH = next(g for g in CONFLICTS if _stem("left") in g)
# the _OFF_PATH words that say which way the body goes, sideways or backwards (a label that goes one of these ways
# takes no class that goes the other: "walk left and right" / "walk backwards"; sideways is to the left or right)
_WAYS = (frozenset(_stem(w) for w in ("left", "right", "side")), frozenset({_stem("backward")}))
# a circle's way round is no other movement than the circle ("draw circle clockwise" / "draw circle")
_SHAPES, _CLOCKWISE = frozenset(_stem(w) for w in ("circle", "rotate")), _stem("clockwise")
# words that negate the action they go with ("not sitting down", "don't sit down", "stop walking"; canonical reads
# "don't" as "do not"); "no" only before another word ("no jumping", not "shake head no")
_NEGATIONS = frozenset({"not", "never", "dont", "without", "stop"})
# the words read as one (by word, not by stem: "note", "notes", "noted" stem to "not" and negate nothing; until
# 7 December 2026, late, "writing notes" matched no class)
_NEGATION_WORDS = _NEGATIONS | frozenset({"stops", "stopped", "stopping"})
# words that hold an object's place in a class name ("kicking something", "put something into a bag")
_GENERIC_OBJECTS = frozenset(
    {"something", "anything", "object", "objects", "thing", "things", "stuff", "item", "items"}
)
_DETERMINERS = frozenset({"a", "an", "the", "some", "my", "your", "his", "her", "their", "one's", "this", "that"})
# words that make an object phrase a side ("the left hand", "the other hand"): kept, as _PATH keeps sides
_SIDES = frozenset({"one", "two", "both", "other"})
# words that end an object phrase: what follows is the verb's path, place or manner ("into a bag", "with one hand")
_PHRASE_ENDS = PARTICLES | frozenset({"with", "into", "in", "to", "from", "at", "for", "toward", "by", "and", "then"})


def _drop_object(words: list[str]) -> tuple[list[str], bool]:
    """``words`` without the direct object that a determiner opens right after a verb or its particle ("carrying
    *a box*", "picking up *the red box*", "drinking *a glass of water*"), and whether there was one."""
    for k in range(1, len(words) - 1):
        before = _stem(words[k - 1])
        after_verb = before in VERBS or (before in PARTICLES and k >= 2 and _stem(words[k - 2]) in PHRASAL_VERBS)
        if words[k] in _DETERMINERS and after_verb:
            end = k + 1
            while end < len(words) and words[end] not in _PHRASE_ENDS and end - k <= 3:
                end += 1
            if {_stem(w) for w in words[k + 1 : end]} & (_PATH | _SIDES):  # "wave the left hand": a side, kept
                return words, False
            return words[:k] + words[end:], True
    return words, False


@dataclass(frozen=True)
class _Text:
    """What :func:`hyponym` and :func:`instance` read of a label or class text beside its stems."""

    stems: frozenset[str]
    joined: bool  # two actions joined ("and", "then", ...)
    partners: frozenset[str]  # the words that bring in a second person
    core: frozenset[str]  # the stems without a direct object (label) or a generic object word (class)
    has_object: bool  # a determiner opened a direct object ("carrying a box")
    generic: bool  # a generic object word holds the object's place ("kicking something")
    negated: frozenset[str] = frozenset()  # the negation words ("not", "stop", ...: :data:`_NEGATIONS`)
    off_path: tuple[tuple[str, str], ...] = ()  # (:data:`_OFF_PATH` word, the word after it) but a limb's side
    second_person: bool = False  # the text names a partner (:data:`_SECOND_PERSON`, :data:`_PARTNER_WORDS`, ...)
    verb: str | None = None  # the first :data:`VERBS` word's stem (:data:`_SAME_ACTION_VERBS` read as one)
    things: frozenset[str] = frozenset()  # the other content words' stems: what the verb acts on, where, ...

    @classmethod
    def of(cls, text: str) -> _Text:
        seq = canonical(text).split()
        words = set(seq)
        rest, has_object = _drop_object([w for w in seq if w not in _GENERIC_OBJECTS])
        negated = {_stem(w) for w in seq if w in _NEGATION_WORDS} | {"no" for w in seq[:-1] if w == "no"}
        at = next((k for k, w in enumerate(seq) if _stem(w) in VERBS), None)
        verb = None if at is None else _SAME_ACTION_VERBS.get(_stem(seq[at]), _stem(seq[at]))
        things = frozenset(
            _stem(w)
            for k, w in enumerate(seq)
            if k != at
            and w not in _STOP
            and w not in _GENERIC_OBJECTS
            and w not in _DETERMINERS
            and _stem(w) not in PARTICLES
        )
        return cls(
            stems(text),
            bool(_CONJUNCTIONS & words),
            frozenset(_PARTNER & words),
            frozenset(_stem(w) for w in rest if w not in _STOP),
            has_object,
            bool(_GENERIC_OBJECTS & words),
            frozenset(negated),
            tuple(
                (_stem(w), _stem(nxt))
                for w, nxt in zip(seq, [*seq[1:], ""][: len(seq)], strict=True)
                if _stem(w) in _OFF_PATH and not (w in ("left", "right") and _stem(nxt) in _LIMBS)
            ),
            bool(
                _SECOND_PERSON & words
                or _PARTNER_WORDS & words
                or _PERSON_WORDS & set(seq[1:])
                or ("together" in words and not {_stem(w) for w in seq} & _LIMBS)
            ),
            verb,
            things,
        )


def hyponym(label: str, cls: str) -> bool:
    """True when ``cls`` is a kind of the action that ``label`` names: the label has a verb, every content word of it
    occurs in the class, and what the class adds is what is acted on or how (no other verb of :data:`VERBS`, no
    joining "and"; no second person: "push" is no more general name of "pushing other person"; no path or side:
    "jogging" takes not "jog in a circle to the left").

    >>> hyponym("drinking", "drink water"), hyponym("nodding", "nod head"), hyponym("wave", "hand waving")
    (True, True, True)
    >>> hyponym("pick up", "pick up and throw"), hyponym("drinking", "cheers and drink"), hyponym("walk", "walk")
    (False, False, False)
    >>> hyponym("push", "pushing other person"), hyponym("hand", "support somebody with hand")
    (False, False)
    >>> hyponym("jogging", "jog in a circle to the left"), hyponym("touching", "cross toe touch")
    (False, False)
    >>> hyponym("ball", "bounce ball")  # no verb: "ball" names no action
    False
    """
    return _kind_of(_Text.of(label), _Text.of(cls))


def _kind_of(a: _Text, b: _Text) -> bool:
    extra = b.stems - a.stems
    return (
        bool(a.stems & VERBS)
        and a.stems < b.stems
        and not b.joined
        and not (b.partners - a.partners)
        and not extra & (VERBS | _PATH)
    )


def instance(label: str, cls: str) -> bool:
    """True when ``label`` names the action of ``cls`` done to a particular thing where the class says "something":
    without its direct object the label is the class without its generic object word ("kicking a ball" / "kicking
    something", "putting a phone into a bag" / "put something into a bag"). A class with an object of its own names
    another action ("putting on a scarf" is not "put on a hat": other limbs move). Nor does a class named by its verb
    alone count: HDM05's "throw a basketball" read as "throw" cost the cross-dataset source criterion (docs/head.md
    section 2), so "carrying a box" does not take "carry".

    >>> instance("kicking a ball", "kicking something"), instance("put a phone into a bag", "put something into a bag")
    (True, True)
    >>> instance("carrying a box", "carry"), instance("throw a basketball", "throw"), instance("kick", "kick something")
    (False, False, False)
    >>> instance("put on a scarf", "put on a hat"), instance("drink a tea", "drink water")
    (False, False)
    >>> instance("grabbing a cup", "grab other person's stuff")  # a second person: another action
    False
    """
    return _instance_of(_Text.of(label), _Text.of(cls))


def _instance_of(a: _Text, b: _Text) -> bool:
    return (
        a.has_object
        and b.generic
        and not b.has_object
        and a.core == b.core
        and bool(a.core & VERBS)
        and not a.joined
        and not b.joined
        and a.partners == b.partners
    )


def meaning_clash(label: str, cls: str) -> bool:
    """True when ``label`` says something that excludes ``cls`` beyond the :data:`CONFLICTS` words (6 December 2026):

    - a **negation** the class lacks: "not standing up", "don't sit down", "stop walking" name no "standing up",
      "sitting down", "walk" (the label stays new);
    - a **second person** in the class only: "push" / "pushing other person", "carry" / "carry something with other
      person" (a one-person window shows half of a pair action); a label that names a partner ("pushing someone",
      "push him", "slap a person", "carrying something together") or an action of two ("hug", "shake hands", "high
      five", "whisper", "walk apart") keeps it;
    - a label that is the class **plus a side or a path off straight ahead** (:data:`_OFF_PATH`): "walk backwards" /
      "walk", "walk to the left" / "walk", "side kick" / "kick" (a more specific label is another movement than the
      general class). A side before a limb or before the class's own action word is the limb's ("kick forward with
      the left leg" / "forward kick", "right punch" / "punch"), and clockwise is how a circle goes ("draw circle
      clockwise" / "draw circle"). Forward, around and toward are how the action goes anyway ("walking forward" /
      "walk", "two hand front clap" / "clap hands" are paraphrase pairs); a class with words of its own is left to
      the score ("waving an arm sideways" / "horizontal arm wave"), and more ways of a class's own kind widen it
      ("walk left and right" / "walk to the left");
    - a label that goes one way and a class that goes **another way** the label does not name ("walk left and
      right" / "walk backwards").

    >>> meaning_clash("not standing up", "standing up"), meaning_clash("push", "pushing other person")
    (True, True)
    >>> meaning_clash("pushing someone", "pushing other person"), meaning_clash("hugging", "hugging other person")
    (False, False)
    >>> meaning_clash("walk backwards", "walk"), meaning_clash("walk", "walk backwards")
    (True, False)
    >>> meaning_clash("right punch", "punch"), meaning_clash("walk left and right", "walk backwards")
    (False, True)
    """
    return _meaning_clash(_Text.of(label), _Text.of(cls))


def _meaning_clash(a: _Text, b: _Text) -> bool:
    if a.negated - b.negated:
        return True
    if b.partners & _SECOND_PERSON and not a.second_person and not any(p <= a.stems for p in _PAIR_ACTIONS):
        return True
    paths = {w for w, nxt in a.off_path if not (w in _LEFT_RIGHT_BOTH and nxt in b.stems)}
    if b.stems & _SHAPES:
        paths.discard(_CLOCKWISE)
    class_paths = {w for w, _ in b.off_path}
    extra = paths - b.stems
    # more ways of the class's own kind widen it ("walk left and right" / "walk to the left"), another kind does not
    if b.stems < a.stems and extra and not any(class_paths & way and extra <= way for way in _WAYS):
        return True
    return any(paths & one and class_paths & other for one, other in (_WAYS, _WAYS[::-1]))


# verbs that say little of the motion ("use a phone" / "playing with phone/tablet")
_LIGHT_VERBS = frozenset(_stem(w) for w in ("use", "do", "make", "have", "get"))
# one's own body: many verbs touch it ("hold / rub / touch the back")
_BODY = _LIMBS | frozenset(
    _stem(w)
    for w in ("head", "neck", "back", "chest", "stomach", "belly", "face", "teeth", "tooth", "hair", "eye", "ear")
)


def _verb_root(word: str) -> str:
    """A verb without its inflection, more bluntly than :func:`_stem` ("use" / "using" / "used" -> "us")."""
    for suffix in ("ing", "ed", "es", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) >= 4 and word[-1] == word[-2] else word


def verb_clash(label: str, cls: str) -> bool:
    """True when ``label`` does another thing than ``cls`` to an object they share (7 December 2026, late): the
    sentence encoder scores "hold a box" / "open a box" 0.86 and "carry a bag" / "put on bag" over the threshold on
    the object, though the verbs name other actions. Only a label with an object a determiner opens ("a box", "my
    bag"); not where the shared word is one's body ("hold my head" / "touch head"), either verb is a light one (use,
    do, make, have, get) or a word of the other text in any form ("use scissors" / "cutting paper (using
    scissors)"), or the two are verbs of one action (:data:`_SAME_ACTION_VERBS`: "shoot a basketball" / "throw a
    basketball"). Per text: another alias of the class with the label's verb keeps the class.

    >>> verb_clash("hold a box", "open a box"), verb_clash("carry a bag", "put something into a bag")
    (True, True)
    >>> verb_clash("shoot a basketball", "throw a basketball"), verb_clash("carrying a box", "carry")
    (False, False)
    >>> verb_clash("use a phone", "playing with phone"), verb_clash("hold my back", "touch back (backache)")
    (False, False)
    """
    return _verb_clash(_Text.of(label), _Text.of(cls))


def _verb_clash(a: _Text, b: _Text) -> bool:
    if not (a.verb and b.verb and a.has_object) or a.verb == b.verb or {a.verb, b.verb} & _LIGHT_VERBS:
        return False
    # a verb the other text has as another word, in any form, is no other action ("phone call" / "make a phone
    # call", "use scissors" / "cutting paper (using scissors)")
    roots_a, roots_b = {_verb_root(w) for w in a.things}, {_verb_root(w) for w in b.things}
    if _verb_root(a.verb) in roots_b or _verb_root(b.verb) in roots_a:
        return False
    # a body part is no object another verb makes another action of ("hold my head" / "touch head (headache)")
    return bool((a.things & b.things) - _BODY)


def _name_clash(a: _Text, name: _Text) -> bool:
    """A clash of ``a`` with a class's own name that holds for every alias of the class too: one side against both
    ("wave right hand" takes no "wave both hands" through its alias "wave hands") and :func:`meaning_clash`."""
    sa, sb = a.stems & _LEFT_RIGHT_BOTH, name.stems & _LEFT_RIGHT_BOTH
    return bool(sa - sb and sb - sa) or _meaning_clash(a, name)


def lexical_score(a: frozenset[str], b: frozenset[str]) -> float:
    """Token F1 of two stem sets (1 for equal sets, 0 without overlap)."""
    if not a or not b:
        return 0.0
    common = len(a & b)
    return 2.0 * common / (len(a) + len(b))


@dataclass(frozen=True)
class LabelMatch:
    """One label's match: the trained classes it covers (indices into the vocabulary) and the best score."""

    label: str
    classes: tuple[int, ...]
    class_names: tuple[str, ...]
    score: float

    @property
    def is_trained(self) -> bool:
        return bool(self.classes)

    def describe(self) -> str:
        """ "walking -> walk (0.93)" or "juggle -> new (zero-shot; nearest: throw 0.41)" style text."""
        if self.classes:
            return f"{self.label} -> {', '.join(self.class_names)} ({self.score:.2f})"
        return f"{self.label} -> new (zero-shot)"


@dataclass(frozen=True)
class MatchResult:
    """Matches of a label list against a trained vocabulary.

    Attributes:
        matches: one :class:`LabelMatch` per label, in label order.
        scores: float [L, V] the match score of every label and class (0 where they conflict).
        nearest: [L] the best-scoring class of each label (even below the threshold), for messages.
        threshold: the score a class needed; embedded: whether sentence embeddings took part.
    """

    matches: tuple[LabelMatch, ...]
    scores: np.ndarray
    nearest: np.ndarray
    threshold: float
    embedded: bool

    def lines(self, vocabulary: Sequence[str]) -> list[str]:
        """One line per label for logs and the CLI: ``label -> class (score)`` or ``-> new`` with the nearest."""
        owner = {j: m.label for m in self.matches for j in m.classes}
        out = []
        for i, m in enumerate(self.matches):
            if m.is_trained:
                out.append(m.describe())
            else:
                j = int(self.nearest[i])
                score = float(self.scores[i, j]) if len(vocabulary) else 0.0
                taken = j in owner and score >= self.threshold  # close enough, but another label took it
                # a score under the threshold is shown rounded down: "0.80" beside "new" read as a refused match
                shown = score if taken else math.floor(score * 100) / 100
                if not len(vocabulary):
                    near = ""
                elif score <= 0.0:  # every class excluded (a negation, another posture...): no class is nearest
                    near = "; no trained class comes near"
                else:
                    near = f"; nearest trained class {vocabulary[j]!r} {shown:.2f}"
                if taken:
                    near += f", taken by {owner[j]!r}"
                out.append(f"{m.label} -> new (zero-shot{near})")
        return out


def alternatives(name: str) -> tuple[str, ...]:
    """The readings of a class name that offers alternatives with a slash outside brackets (NTU's "eat meal/snack",
    "make a phone call/answer phone"): with words on both sides of the slash, the two phrases it separates ("make a
    phone call", "answer phone"); else each word in the other's place ("eat meal", "eat snack"; "punching other
    person", "slapping other person"). A user's label matches the class through its best reading.

    >>> alternatives("eat meal/snack")
    ('eat meal', 'eat snack')
    >>> alternatives("walk")
    ()
    """
    words = str(name).split()
    out: list[str] = []
    depth = 0
    for k, w in enumerate(words):
        left, _, right = w.partition("/")
        at_slash = depth + left.count("(") - left.count(")")  # brackets still open where the slash stands
        if w.count("/") == 1 and left and right and at_slash == 0 and "(" not in right and ")" not in right:
            before, after = " ".join(words[:k]), " ".join(words[k + 1 :])
            if before and after:  # words on both sides: two phrases ("make a phone call/answer phone")
                readings: tuple[str, ...] = (f"{before} {left}", f"{right} {after}")
            else:  # at an edge: two words in one place ("eat meal/snack", "punching/slapping other person"; a
                # last word alone would be a noun as often as an action: "snack", "hat", but "bow")
                readings = (f"{before} {left} {after}".strip(), f"{before} {right} {after}".strip())
            for t in readings:
                if t not in out and t != name:
                    out.append(t)
        depth += w.count("(") - w.count(")")
    return tuple(out)


def _best_alias(s: np.ndarray, owner: np.ndarray, n_v: int) -> np.ndarray:
    """[L, texts] scores -> [L, V]: each class's best text (its name, readings, aliases)."""
    per_class = np.zeros((s.shape[0], n_v))
    if s.shape[1]:
        np.maximum.at(per_class.T, owner, s.T)
    return per_class


def _assign(per_class: np.ndarray, threshold: float) -> list[list[int]]:
    """The classes each row's label covers: each class goes to its best row, if that reaches ``threshold``."""
    covered: list[list[int]] = [[] for _ in range(per_class.shape[0])]
    if per_class.shape[0] and per_class.shape[1]:
        best = per_class.argmax(axis=0)
        for j in range(per_class.shape[1]):
            if per_class[best[j], j] >= threshold:
                covered[int(best[j])].append(j)
    return covered


def match_labels(
    labels: Sequence[str],
    vocabulary: Sequence[str],
    embed: Callable[[list[str]], np.ndarray] | None = None,
    threshold: float = DEFAULT_MATCH_THRESHOLD,
    aliases: Sequence[Sequence[str]] | None = None,
) -> MatchResult:
    """Match user labels to a trained vocabulary (module docstring).

    Args:
        labels: the user's label names (L).
        vocabulary: the trained class names (V), in backbone column order.
        embed: texts -> float [n, d] unit-norm sentence embeddings, or None for lexical matching only.
            Called once with the canonical forms of the labels and the classes (and aliases).
        threshold: the score a class needs to be covered by a label.
        aliases: optional extra texts per class (other names, descriptions); a class scores its best alias. A
            class name with slash alternatives has its :func:`alternatives` as aliases too.

    Returns:
        a :class:`MatchResult`.
    """
    names = [str(n) for n in labels]
    vocab_texts = [
        [str(v), *alternatives(str(v)), *([] if aliases is None else map(str, aliases[j]))]
        for j, v in enumerate(vocabulary)
    ]
    owner = np.array([j for j, texts in enumerate(vocab_texts) for _ in texts], dtype=np.intp)
    flat = [t for texts in vocab_texts for t in texts]
    n_l, n_v = len(names), len(vocabulary)
    lab_texts, voc_texts = [_Text.of(t) for t in names], [_Text.of(t) for t in flat]
    lab_stems = [t.stems for t in lab_texts]
    lab_ph, voc_ph = [(phrasal(t), _verb_words(t)) for t in names], [(phrasal(t), _verb_words(t)) for t in flat]
    clash = np.array(
        [
            [
                conflict(a.stems, b.stems) or _particle_clash(*x, *y) or _meaning_clash(a, b) or _verb_clash(a, b)
                for b, y in zip(voc_texts, voc_ph, strict=True)
            ]
            for a, x in zip(lab_texts, lab_ph, strict=True)
        ],
        dtype=bool,
    ).reshape(n_l, len(flat))
    first = np.searchsorted(owner, np.arange(n_v))  # each class's own name, the first of its texts
    name_clash = np.array([[_name_clash(a, voc_texts[k]) for k in first] for a in lab_texts], dtype=bool).reshape(
        n_l, n_v
    )
    clash |= name_clash[:, owner]
    kind_of = np.array(
        [[_kind_of(a, b) or _instance_of(a, b) for b in voc_texts] for a in lab_texts], dtype=bool
    ).reshape(n_l, len(flat))
    # words alone: only a label whose words all occur in the class ("walking" / "walk", "kick" / "side kick") and not
    # in a class that joins another action to them ("pick up" / "pick up and throw"); a label with words the class
    # lacks may be another action ("pick up and throw" / "pick up")
    s = np.array(
        [
            [lexical_score(a, b.stems) if a <= b.stems and not (a < b.stems and b.joined) else 0.0 for b in voc_texts]
            for a in lab_stems
        ]
    ).reshape(n_l, len(flat))
    embedded = False
    if embed is not None and n_l and flat:
        try:
            e = np.asarray(embed([canonical(t) or t for t in names + flat]), dtype=np.float64)
        except Exception as exc:  # noqa: BLE001 - no encoder here: lexical matching still works
            log.warning("label matching without sentence embeddings (%s): only names that share words match", exc)
        else:
            s = np.maximum(np.where(s >= 1.0, 1.0, 0.0), e[:n_l] @ e[n_l:].T)  # word overlap alone is too loose
            embedded = True
    s[clash] = 0.0
    per_class = _best_alias(s, owner, n_v)
    covered = _assign(per_class, threshold)
    # a label that covers no class by its words and meaning takes the classes that name its action with an object;
    # a label that covers some keeps to them ("walk" does not take "walking towards each other")
    lonely = np.array([i for i, c in enumerate(covered) if not c], dtype=np.intp)
    if len(lonely) and kind_of[lonely].any():
        floor = np.zeros_like(s)
        floor[lonely] = np.where(kind_of[lonely] & ~clash[lonely], HYPONYM_SCORE, 0.0)
        per_class = np.maximum(per_class, _best_alias(floor, owner, n_v))
        taken = np.zeros(n_v, dtype=bool)
        taken[[j for c in covered for j in c]] = True
        for i, c in zip(lonely, _assign(np.where(taken, 0.0, per_class[lonely]), threshold), strict=True):
            covered[i] = c
    nearest = per_class.argmax(axis=1) if n_v else np.zeros(n_l, dtype=np.intp)
    matches = tuple(
        LabelMatch(
            names[i],
            tuple(c),
            tuple(str(vocabulary[j]) for j in c),
            float(max((per_class[i, j] for j in c), default=0.0)),
        )
        for i, c in enumerate(covered)
    )
    return MatchResult(matches, per_class, nearest, float(threshold), embedded)
