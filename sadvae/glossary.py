"""What an action label means, for labels given without a description: a WordNet definition of the whole label.

A term of art ("tai chi", "clean and jerk", "donning") tells a sentence encoder little about the motion; its
definition does ("a weightlift in which the barbell is lifted to shoulder height and then jerked overhead"). The
table (built from WordNet 3.0 by ``scripts/build_glossary.py``, default ``runs/glossary/glossary.tsv.gz``; WordNet's
licence is in its header) holds every sense of a verb that a body does (motion, contact, body, competition,
consumption) and every act sense of a noun, in WordNet's order.

Only a **whole** label is defined, never one word of a longer phrase: "clean and jerk", "sitting down" (-> "sit
down"), "donning" (-> "don") are; "draw circle" or "forward kick" are not, because a phrase's first word alone
("forward": to send mail on) is usually the wrong sense. A word has several senses ("jog": to even up a stack of
paper, to run for exercise); :meth:`Glossary.define` takes the one that best fits the label and reads most as an
action when given a sentence encoder and the trained class names, else the most frequent.

Measured as the cross-dataset protocol's ``--glossary`` (docs/cross_dataset.md round 20) and not adopted: the
sources' selection criterion fell on four of five targets, so neither the live head nor the package uses it.
"""

from __future__ import annotations

import functools
import gzip
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sadvae.errors import ConfigError, DataFormatError

__all__ = ["Glossary", "DEFAULT_GLOSSARY", "described"]

DEFAULT_GLOSSARY = Path("runs/glossary/glossary.tsv.gz")


def _words(label: str) -> list[str]:
    s = label.casefold().replace("&", " and ")
    return re.sub(r"[^a-z' ]+", " ", s.replace("-", " ").replace("_", " ")).split()


def _verb_lemmas(word: str, inflections: dict[str, str]) -> list[str]:
    """Candidate lemmas of a verb form, most likely first ("running" -> run, ...; "ran" -> run)."""
    out = [inflections[word]] if word in inflections else []
    for suffix, ends in (("ing", ("", "e")), ("ies", ("y",)), ("es", ("",)), ("s", ("",)), ("ed", ("", "e"))):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            stem = word[: -len(suffix)]
            if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "aeiouls":  # running -> run
                out.append(stem[:-1])
            out += [stem + e for e in ends]
    return [*out, word]


@dataclass(frozen=True)
class Glossary:
    """verbs, act nouns: word -> definitions (most frequent first); inflections: inflected verb form -> lemma."""

    verbs: dict[str, list[str]] = field(default_factory=dict)
    nouns: dict[str, list[str]] = field(default_factory=dict)
    inflections: dict[str, str] = field(default_factory=dict)

    @staticmethod
    @functools.cache
    def load(path: str | Path = DEFAULT_GLOSSARY) -> Glossary:
        """Read a table written by ``scripts/build_glossary.py`` (gzip'd TSV: kind, word, text)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(
                f"{path}: no glossary there; build it with `python scripts/build_glossary.py --out {path}` "
                "(needs a WordNet 3.0 database, e.g. Debian's wordnet-base)"
            )
        try:
            text = gzip.decompress(path.read_bytes()).decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise DataFormatError(path, None, f"not a gzip'd UTF-8 glossary ({e}); rebuild it") from None
        g = Glossary()
        for n, line in enumerate(text.splitlines(), 1):
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 3 or parts[0] not in ("v", "n", "x"):
                raise DataFormatError(path, f"line {n}", "expected kind (v, n or x), word and text separated by tabs")
            kind, word, definition = parts
            if kind == "x":
                g.inflections[word] = definition
            else:
                (g.verbs if kind == "v" else g.nouns).setdefault(word, []).append(definition)
        return g

    def senses(self, label: str) -> list[str]:
        """Every definition of the whole label: its act senses as a noun as written ("tai chi", "jogging"), then the
        bodily senses of the verb its first word makes with the rest ("sitting down" -> "sit down"); [] if none."""
        words = _words(label)
        if not words:
            return []
        out = list(self.nouns.get(" ".join(words), []))
        for lemma in _verb_lemmas(words[0], self.inflections):
            key = " ".join([lemma, *words[1:]])
            if key in self.verbs:
                return out + self.verbs[key]
        return out

    def define(
        self, label: str, embed: Callable[[Sequence[str]], np.ndarray] | None = None, actions: Sequence[str] = ()
    ) -> str | None:
        """The sense of the whole label that fits it best, or None when WordNet has none.

        Args:
            label: a label name.
            embed: texts -> unit rows (a sentence encoder); without it (or without ``actions``) the most frequent
                sense.
            actions: names of actions (the trained classes). A sense scores its cosine to the label read as "a
                person <label>" (which sense the words mean) plus its mean cosine to the actions (how much it reads
                as something a person does): "bowing" is bending from the waist, not managing a violin bow;
                "clapping" is clapping one's hands, not putting something forcibly.
        """
        found = self.senses(label)
        if len(found) <= 1 or embed is None or not len(actions):
            return found[0] if found else None
        rows = np.asarray(embed([*found, f"a person {label}"]))
        score = rows[:-1] @ rows[-1] + (rows[:-1] @ np.asarray(embed(list(actions))).T).mean(axis=1)
        return found[int(score.argmax())]


def described(name: str, definition: str | None) -> str | None:
    """The text a label with no description of its own is read as: ``"<name>: <definition>"`` (None without one)."""
    return None if definition is None else f"{name}: {definition}"
