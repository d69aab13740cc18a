"""The user's action vocabulary: the ``labels.txt`` format and its one parser (live side, benchmarks and
evaluation read labels files through it; the live side's hot reload is :mod:`realtime.head.labels`).

Format: one action per line, optionally ``name | description`` (the description, when given, is
what the text encoder reads; the name is what events report). A line whose first non-blank
character is ``#`` is a comment; blank lines are ignored; a ``#`` anywhere else is ordinary text.
Whitespace inside names and descriptions is collapsed to single spaces. Encoding: UTF-8 (a byte
order mark is tolerated) or UTF-16/UTF-32 with a byte order mark.

Limits (a labels file is a short hand-written list; anything else is a mistake): at most 256 KiB,
1000 labels, 100 characters per name and 1000 per description. Names must be unique ignoring case,
spacing, punctuation and Unicode forms (see :func:`duplicate_key`), and there must be at least two of
them: zero-shot recognition picks one label among several, and with a single label every window would
score 100 %. Nor may two labels give the encoder the same text (their descriptions, else names, equal in
that sense once a leading "a person", the default prompt's words, is dropped): one of them could never win.
A line has at most one ``|``, and no line break character other than a newline (form feed, vertical tab,
U+0085, U+2028, U+2029), which would otherwise read as a space and join two labels into one.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sadvae.errors import ConfigError

__all__ = [
    "LabelSet",
    "duplicate_key",
    "normalise_name",
    "parse_labels",
    "parse_labels_text",
    "MAX_FILE_BYTES",
    "MAX_LABELS",
    "MAX_NAME_CHARS",
    "MAX_DESCRIPTION_CHARS",
]

MAX_FILE_BYTES = 256 * 1024
MAX_LABELS = 1000
MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 1000

# longest BOMs first: the UTF-32-LE BOM starts with the UTF-16-LE one
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True)
class LabelSet:
    """A parsed labels file.

    Attributes:
        names: the action names, in file order.
        descriptions: one per name: the text after ``|``, or None.
        sha256: hex digest of the normalised content (names and descriptions in order), so that
            re-saving, re-encoding or re-commenting the file does not change it.
        path: where it came from.
    """

    names: tuple[str, ...]
    descriptions: tuple[str | None, ...]
    sha256: str
    path: str

    def __len__(self) -> int:
        return len(self.names)

    @property
    def texts(self) -> tuple[str, ...]:
        """What to embed for each label: its description when it has one, else its name."""
        return tuple(d or n for n, d in zip(self.names, self.descriptions, strict=True))

    def subset(self, indices: Sequence[int]) -> LabelSet:
        """The labels at ``indices``, in that order, as a set of their own (same path, its own digest)."""
        names = [self.names[i] for i in indices]
        descriptions = [self.descriptions[i] for i in indices]
        return LabelSet(tuple(names), tuple(descriptions), _digest(names, descriptions), self.path)


def _decode(data: bytes, path: str) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            body, what = data[len(bom) :], f"{encoding.upper()} (with a byte order mark)"
            break
    else:
        body, encoding, what = data, "utf-8", "UTF-8"
    if encoding == "utf-8" and b"\x00" in body:  # before decoding: a binary file is no "invalid UTF-8" text
        _refuse_nul(path, data)
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as e:
        line = body[: e.start].count(b"\n") + 1 if encoding == "utf-8" else None
        where = f"{path}:line {line}" if line else path
        raise ConfigError(
            f"{where}: not valid {what} text (byte {e.start + len(data) - len(body)}: {e.reason}); "
            "save the labels file as UTF-8"
        ) from None
    if "\x00" in text:
        _refuse_nul(path, data)
    return text


def _refuse_nul(path, data: bytes) -> None:
    nul_even, nul_odd = data[0::2].count(0), data[1::2].count(0)
    if max(nul_even, nul_odd) > 0.8 * (len(data) // 2) and min(nul_even, nul_odd) == 0:
        raise ConfigError(f"{path}: looks like UTF-16 without a byte order mark; save the labels file as UTF-8")
    raise ConfigError(f"{path}: contains NUL bytes, so it is binary, not a text file; save it as UTF-8 text")


def _clean(text: str) -> str:
    return " ".join(text.split())


def _control_char(text: str) -> str | None:
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cs"):
            return f"U+{ord(ch):04X}"
    return None


def normalise_name(name: str) -> str:
    """The form in which label names and class names are compared exactly ("Drink_Water." -> "drink water")."""
    return " ".join(str(name).replace("_", " ").casefold().split()).rstrip(". ")


def duplicate_key(name: str) -> str:
    """The form in which two names of one labels file count as the same action ("Café-Dance!" -> "café dance").

    Stricter than :func:`normalise_name` (which matches labels to trained classes and is left as is): Unicode
    compatibility forms are folded (NFKC) and punctuation counts as a space, so "wave" and "wave!", or "sit-down"
    and "sit down", are one action. It is a function of :func:`normalise_name`'s result, so names that one reads
    as equal are always refused as duplicates too.
    """
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", normalise_name(name)).casefold())
    # letters, digits and combining marks (a vowel sign is part of the word, not punctuation) are kept
    kept = "".join(ch if unicodedata.category(ch)[0] in "LNM" else " " for ch in text)
    return " ".join(kept.split())


# characters that str.split() reads as whitespace but a text editor may show as a line break (or not at all)
_LINE_BREAKS = frozenset("\v\f\x1c\x1d\x1e\x85\u2028\u2029")
# the words that the default prompt template ("a person {label}") puts before a label: a text that starts with them
# is encoded without them (sadvae.text.format_prompts), so "somersault" and "a person somersault" are one prompt
_PROMPT_PREFIX = "a person "


def _text_key(text: str) -> str:
    """The form in which two labels' texts (description, else name) are one prompt for the text encoder."""
    key = duplicate_key(text)
    return key[len(_PROMPT_PREFIX) :] if key.startswith(_PROMPT_PREFIX) else key


def _digest(names: list[str], descriptions: list[str | None]) -> str:
    canonical = json.dumps([[n, d] for n, d in zip(names, descriptions, strict=True)], ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_labels_text(text: str, path: str = "<labels>") -> LabelSet:
    """Parse the content of a labels file (see the module docstring for the format).

    Args:
        text: the decoded file content.
        path: the name used in error messages and stored in the result.

    Raises:
        ConfigError: "path:line N: problem; fix" for the first problem found.
    """
    names: list[str] = []
    descriptions: list[str | None] = []
    seen: dict[str, int] = {}  # normalised name -> line
    texts: dict[str, tuple[str, int]] = {}  # the text the encoder reads (:func:`_text_key`) -> name, line
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = f"{path}:line {number}"
        brk = next((ch for ch in stripped if ch in _LINE_BREAKS), None)
        if brk:  # read as a space, it would join two labels into one ("walk\fsit down" -> "walk sit down")
            raise ConfigError(
                f"{where}: line break character U+{ord(brk):04X} inside the line; put each action on a line of its "
                "own, ended by a plain newline"
            )
        name_part, bar, desc_part = stripped.partition("|")
        if "|" in desc_part:
            raise ConfigError(
                f"{where}: more than one '|' ({stripped!r}); a line is `name | description` with one '|': write "
                "one name, and put other names of the action in the description or on lines of their own"
            )
        if "\t" in name_part.strip():  # read as a space, "wave<TAB>clapping" (a spreadsheet row) is one label
            raise ConfigError(
                f"{where}: tab inside the action name ({name_part.strip()!r}); put each action on a line of its own "
                "(a row copied from a spreadsheet?), or write spaces where one name was meant"
            )
        # NFC: a precomposed and a decomposed "é" are one name in events and in the digest
        name_part, desc_part = unicodedata.normalize("NFC", name_part), unicodedata.normalize("NFC", desc_part)
        name, description = _clean(name_part), (_clean(desc_part) or None) if bar else None
        if not name:
            raise ConfigError(f"{where}: empty action name before '|'; write `name | description`")
        bad = _control_char(name + (description or ""))
        if bad:
            raise ConfigError(f"{where}: control character {bad}; remove it (labels are plain text)")
        hidden = next((ch for ch in name if unicodedata.category(ch) == "Cf"), None)
        if hidden:  # a zero-width space or a direction mark: a name that looks like another but is not equal to it
            raise ConfigError(
                f"{where}: invisible character U+{ord(hidden):04X} in the action name; remove it (events report "
                "the name, and subscribers compare it as written)"
            )
        if len(name) > MAX_NAME_CHARS:
            raise ConfigError(
                f"{where}: action name is {len(name)} characters, more than {MAX_NAME_CHARS}; "
                "shorten it and put longer text after '|' as a description"
            )
        if description is not None and not duplicate_key(description):
            raise ConfigError(
                f"{where}: description {description!r} has no letters or digits; describe the motion in words "
                "after '|', or drop the '|'"
            )
        if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
            raise ConfigError(
                f"{where}: description is {len(description)} characters, more than {MAX_DESCRIPTION_CHARS}; shorten it"
            )
        key = duplicate_key(name)
        if not key and not (description and duplicate_key(description)):  # "!!!", "-": nothing to read
            raise ConfigError(
                f"{where}: action name {name!r} has no letters or digits; name the action in words (e.g. `wave`), "
                "or describe it after '|'"
            )
        if key in seen:
            raise ConfigError(
                f"{where}: duplicate action {name!r} (line {seen[key]} has the same name, ignoring case, spaces, "
                "punctuation and Unicode forms); remove or rename one of them"
            )
        if len(names) == MAX_LABELS:
            raise ConfigError(f"{where}: more than {MAX_LABELS} labels; keep at most {MAX_LABELS} actions in one file")
        text_key = _text_key(description or name)
        if text_key in texts:
            other, line = texts[text_key]
            raise ConfigError(
                f"{where}: {name!r} is encoded as the same text as {other!r} (line {line}): "
                f"{description or name!r}, ignoring case, punctuation and a leading 'a person'; the zero-shot "
                "scorer cannot tell them apart and one of them would never win; remove one of them or describe "
                "them differently (`name | description`)"
            )
        texts[text_key] = (name, number)
        seen[key] = number
        names.append(name)
        descriptions.append(description)
    if not names:
        raise ConfigError(f"{path}: no action names (only blank lines and comments); write one action per line")
    if len(names) == 1:
        raise ConfigError(
            f"{path}: only one action ({names[0]!r}); zero-shot recognition chooses between labels, "
            "so add at least one more action"
        )
    return LabelSet(tuple(names), tuple(descriptions), _digest(names, descriptions), path)


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise ConfigError(f"{path}: is a directory, not a labels file; pass the path of a text file")
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                f"{path}: file is {size} bytes, more than the {MAX_FILE_BYTES // 1024} KiB limit for a labels file "
                f"(at most {MAX_LABELS} short lines); check that this is the right file"
            )
        with path.open("rb") as f:  # bounded: a device or pipe (/dev/zero) reports size 0 and never ends
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: labels file not found; create it or pass the right path") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the labels file ({e.strerror or e}); check its permissions") from None
    if len(data) > MAX_FILE_BYTES:  # grew between stat and read, or not a regular file
        raise ConfigError(f"{path}: file is more than the {MAX_FILE_BYTES // 1024} KiB limit for a labels file")
    return data


def parse_labels(path: str | os.PathLike[str]) -> LabelSet:
    """Read and parse a labels file.

    Args:
        path: the labels file (UTF-8, or UTF-16/32 with a byte order mark).

    Returns:
        The parsed :class:`LabelSet`.

    Raises:
        ConfigError: missing, unreadable, oversized, binary or undecodable file, or a bad line
            ("path:line N: problem; fix").
    """
    p = Path(path)
    return parse_labels_text(_decode(_read(p), str(p)), str(p))
