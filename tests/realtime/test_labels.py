from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path

import pytest

from realtime.head.labels import MAX_LABELS, SETTLE_S, LabelSet, LabelWatcher, parse_labels, parse_labels_text
from sadvae.errors import ConfigError

GOOD = """# my actions
wave hand | a person waves one hand above the head

  drink   water
sit down|
# the end
"""


def write(tmp_path: Path, content: str | bytes, name: str = "labels.txt") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def test_parse_names_descriptions_comments_and_blank_lines(tmp_path) -> None:
    labels = parse_labels(write(tmp_path, GOOD))
    assert isinstance(labels, LabelSet)
    assert labels.names == ("wave hand", "drink water", "sit down")
    assert labels.descriptions == ("a person waves one hand above the head", None, None)
    assert labels.texts == ("a person waves one hand above the head", "drink water", "sit down")
    assert len(labels) == 3 and labels.path == str(tmp_path / "labels.txt")
    assert len(labels.sha256) == 64 and int(labels.sha256, 16) >= 0
    with pytest.raises(AttributeError):
        labels.names = ()  # frozen


def test_hash_depends_on_content_not_on_formatting(tmp_path) -> None:
    a = parse_labels(write(tmp_path, GOOD, "a.txt"))
    b = parse_labels(
        write(tmp_path, "wave   hand|a person waves one hand above the head\r\ndrink water\r\nsit down", "b")
    )
    assert a.sha256 == b.sha256
    c = parse_labels(write(tmp_path, "wave hand\ndrink water\nsit down\n", "c.txt"))  # description dropped
    d = parse_labels(write(tmp_path, "drink water\nwave hand | a person waves one hand above the head\nsit down", "d"))
    assert len({a.sha256, c.sha256, d.sha256}) == 3  # descriptions and order matter


@pytest.mark.parametrize(
    ("encoded", "kind"),
    [
        ("\ufeffjump\nrun\n".encode(), "utf-8 BOM"),
        ("\ufeffjump\nrun\n".encode("utf-16-le"), "utf-16-le BOM"),
        ("\ufeffjump\nrun\n".encode("utf-16-be"), "utf-16-be BOM"),
        ("\ufeffjump\nrun\n".encode("utf-32-le"), "utf-32-le BOM"),
    ],
)
def test_encodings_with_bom(tmp_path, encoded, kind) -> None:
    assert parse_labels(write(tmp_path, encoded)).names == ("jump", "run"), kind


def test_non_ascii_names(tmp_path) -> None:
    labels = parse_labels(write(tmp_path, "saluer de la main | faire coucou\n手を振る\nC# coding\n"))
    assert labels.names == ("saluer de la main", "手を振る", "C# coding")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"jump\nru\xffn\n", r"labels.txt:line 2: not valid UTF-8 text \(byte 7: invalid start byte\); save"),
        (
            "jump\nrun\n".encode("utf-16-le"),
            "looks like UTF-16 without a byte order mark; save the labels file as UTF-8",
        ),
        # an image is binary, not a text in another encoding (labels-file audit, 7 December 2026, late: it said
        # "not valid UTF-8 text")
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "labels.txt: contains NUL bytes, so it is binary"),
        (b"jump\x00\x00\x00\x00\x01\x02run\x00", "contains NUL bytes, so it is binary"),
        ("", "labels.txt: no action names"),
        ("# nothing\n\n   \n", "no action names"),
        ("jump\n", r"only one action \('jump'\); zero-shot recognition chooses between labels"),
        ("jump\n | leaping\n", r"labels.txt:line 2: empty action name before '\|'"),
        ("jump\nrun\n" + "x" * 101 + "\n", "labels.txt:line 3: action name is 101 characters, more than 100"),
        ("jump\nrun | " + "y" * 1001, "labels.txt:line 2: description is 1001 characters"),
        ("jump\nru\x07n\n", r"labels.txt:line 2: control character U\+0007"),
        ("jump\nwa\u200blk\n", r"labels.txt:line 2: invisible character U\+200B in the action name"),
        # review of 6 December 2026: a name without words crashed the class matcher with a traceback
        ("!!!\nwave\n", r"labels.txt:line 1: action name '!!!' has no letters or digits; name the action in words"),
        ("!!! | ...\nwave\n", r"labels.txt:line 1: description '...' has no letters or digits"),
        ("wave\n¿¡\n", r"labels.txt:line 2: action name '¿¡' has no letters or digits"),
        ("wave\nclap | ...\n", r"labels.txt:line 2: description '...' has no letters or digits"),
    ],
)
def test_rejected_files(tmp_path, content, message) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_labels(write(tmp_path, content))


def test_duplicates_name_both_lines(tmp_path) -> None:
    path = write(tmp_path, "Wave Hand\njump\n# comment\n  wave   hand | again\n")
    with pytest.raises(ConfigError) as info:
        parse_labels(path)
    assert str(info.value) == (
        f"{path}:line 4: duplicate action 'wave hand' (line 1 has the same name, ignoring case, spaces, punctuation "
        "and Unicode forms); remove or rename one of them"
    )


@pytest.mark.parametrize("pair", [("drink water", "drink_water"), ("walk", "walk.")])
def test_names_the_matcher_reads_as_one_are_duplicates(tmp_path, pair) -> None:
    """Review of 6 December 2026: both lines were kept, and --teach, the taught examples and the class matcher,
    which compare names as normalise_name writes them, took one for the other."""
    with pytest.raises(ConfigError, match=rf"line 2: duplicate action '{re.escape(pair[1])}' \(line 1"):
        parse_labels(write(tmp_path, "\n".join(pair) + "\n"))


@pytest.mark.parametrize(
    "pair",
    [
        ("caf\u00e9 dance", "cafe\u0301 dance"),  # precomposed and decomposed: both were kept, neither reachable
        ("wave", "wave!"),
        ("sit-down", "sit down"),
        ("\uff57\uff41\uff56\uff45", "wave"),  # fullwidth letters (NFKC)
        ("Stra\u00dfe", "STRASSE"),  # case folding, not lower()
    ],
)
def test_names_differing_only_in_unicode_form_or_punctuation_are_duplicates(tmp_path, pair) -> None:
    with pytest.raises(ConfigError, match=r"line 2: duplicate action .* \(line 1 has the same name"):
        parse_labels(write(tmp_path, "\n".join(pair) + "\n"))


def test_names_are_nfc_normalised_and_marks_are_not_punctuation(tmp_path) -> None:
    labels = parse_labels(write(tmp_path, "cafe\u0301 dance | danse\u0301\nsit\n"))
    assert labels.names == ("caf\u00e9 dance", "sit") and labels.descriptions[0] == "dans\u00e9"
    # Devanagari vowel signs are combining marks: two different words, not one word with punctuation stripped
    assert len(parse_labels(write(tmp_path, "\u0915\u093f\n\u0915\u093e\n", "hi.txt"))) == 2


def test_limits(tmp_path) -> None:
    ok = "\n".join(f"action {i}" for i in range(MAX_LABELS))
    assert len(parse_labels(write(tmp_path, ok, "ok.txt"))) == MAX_LABELS
    with pytest.raises(ConfigError, match=r"line 1001: more than 1000 labels"):
        parse_labels(write(tmp_path, ok + "\none more", "many.txt"))
    with pytest.raises(ConfigError, match=r"file is 262145 bytes, more than the 256 KiB limit"):
        parse_labels(write(tmp_path, "a\n" * 131072 + "b", "big.txt"))


def test_missing_and_directory(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"nope.txt: labels file not found; create it or pass the right path"):
        parse_labels(tmp_path / "nope.txt")
    with pytest.raises(ConfigError, match="is a directory, not a labels file"):
        parse_labels(tmp_path)


def test_parse_text_directly() -> None:
    labels = parse_labels_text("a\nb", path="<cli>")
    assert labels.names == ("a", "b") and labels.path == "<cli>"
    with pytest.raises(ConfigError, match="<cli>:line 2: duplicate"):
        parse_labels_text("a\nA", path="<cli>")


def _touch_later(path: Path, content: str) -> None:
    """Rewrite ``path`` as a finished save: a new mtime (whatever the clock granularity) already SETTLE_S old."""
    st = path.stat()
    path.write_text(content, encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, min(st.st_mtime_ns, time.time_ns()) - 5_000_000_000))


def test_watcher_reloads_changes_and_keeps_the_old_set_on_bad_edits(tmp_path, caplog) -> None:
    path = write(tmp_path, "")
    _touch_later(path, "jump\nrun\n")  # an old file: a just written one is still settling (see the debounce test)
    watcher = LabelWatcher(path, poll_s=10.0)
    assert watcher.current.names == ("jump", "run")
    t = 1e9  # a fake monotonic clock, far past the constructor's first deadline
    assert watcher.poll(now=t) is None  # unchanged

    _touch_later(path, "jump\nrun\nsit down\n")
    assert watcher.poll(now=t + 1) is None  # not due yet: at most one look per poll_s
    new = watcher.poll(now=t + 10)
    assert new is not None and new.names == ("jump", "run", "sit down") and watcher.current is new
    assert watcher.reloads == 1 and watcher.last_error is None

    with caplog.at_level(logging.WARNING, logger="realtime.head.labels"):
        _touch_later(path, "jump\njump\n")
        assert watcher.poll(now=t + 20) is None
        assert watcher.poll(now=t + 30) is None
    assert watcher.current is new  # the last good set stays
    assert "line 2: duplicate action 'jump'" in watcher.last_error
    assert len([r for r in caplog.records if "duplicate" in r.getMessage()]) == 1  # logged once
    assert "still using the 3 labels" in caplog.records[0].getMessage()

    path.unlink()
    assert watcher.poll(now=t + 40) is None
    assert "labels file is missing" in watcher.last_error

    write(tmp_path, "jump\nrun\nsit down\n")  # same content as the set in use, just written
    assert watcher.poll(now=t + 50) is None and watcher.last_error is not None  # settling: not read yet
    with caplog.at_level(logging.WARNING, logger="realtime.head.labels"):
        assert watcher.poll(now=t + 50 + SETTLE_S) is None and watcher.last_error is None  # still for SETTLE_S: read
    # the warnings above are answered: the file is good again (a labels-file audit of 7 December 2026 saw nothing)
    assert "labels.txt is usable again and holds the 3 labels in use" in caplog.records[-1].getMessage()

    _touch_later(path, "jump | leap into the air\nrun\nsit down\n")  # a description change is a change
    changed = watcher.poll(now=t + 70)
    assert changed is not None and changed.descriptions[0] == "leap into the air" and watcher.reloads == 2


def test_watcher_same_size_same_mtime_rewrite_is_seen(tmp_path) -> None:
    path = write(tmp_path, "jump\nrun\n")
    watcher = LabelWatcher(path, poll_s=0.0)
    st = path.stat()
    path.write_text("hops\nrun\n", encoding="utf-8")  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same mtime: only the content differs
    assert watcher.poll(now=1e9) is None  # just written: settling
    new = watcher.poll(now=1e9 + SETTLE_S)
    assert new is not None and new.names == ("hops", "run")


def test_watcher_sees_a_replacement_that_keeps_an_old_mtime(tmp_path) -> None:
    """Review: ``cp -p`` of a same-size file kept (mtime, size, inode), so the change was never seen."""
    path = write(tmp_path, "jump\nrun\n")
    old_ns = time.time_ns() - 60_000_000_000
    os.utime(path, ns=(old_ns, old_ns))
    watcher = LabelWatcher(path, poll_s=0.0)
    assert watcher.poll(now=1e9) is None
    path.write_text("hops\nrun\n", encoding="utf-8")  # same size, same inode
    os.utime(path, ns=(old_ns, old_ns))  # the old mtime restored, as cp -p does: only the ctime changed
    new = watcher.poll(now=1e9 + 1)
    assert new is not None and new.names == ("hops", "run")


def test_watcher_does_not_parse_a_half_written_file(tmp_path) -> None:
    """Review: a save in progress was parsed at once (a truncated list applied, or an error logged)."""
    path = write(tmp_path, "")
    _touch_later(path, "jump\nrun\n")
    watcher = LabelWatcher(path, poll_s=0.0)
    path.write_text("jump\nrun\nsi", encoding="utf-8")  # the editor is still writing
    assert watcher.poll(now=1e9) is None and watcher.current.names == ("jump", "run")
    path.write_text("jump\nrun\nsit down\n", encoding="utf-8")  # done: the stamp changed again, so it restarts
    assert watcher.poll(now=1e9 + SETTLE_S) is None
    new = watcher.poll(now=1e9 + 2 * SETTLE_S)  # unchanged for SETTLE_S: applied
    assert new is not None and new.names == ("jump", "run", "sit down")


def test_watcher_applies_a_normal_save_within_about_a_second(tmp_path) -> None:
    path = write(tmp_path, "")
    _touch_later(path, "jump\nrun\n")
    watcher = LabelWatcher(path, poll_s=1.0)
    t = 1e9
    assert watcher.poll(now=t) is None
    path.write_text("jump\nrun\nsit down\n", encoding="utf-8")
    assert watcher.poll(now=t + 1.0) is None  # seen at once, still settling: the next look is SETTLE_S later
    assert watcher.poll(now=t + 1.0 + SETTLE_S - 0.01) is None
    time.sleep(SETTLE_S)
    new = watcher.poll(now=t + 1.0 + SETTLE_S)
    assert new is not None and new.names == ("jump", "run", "sit down")


def test_watcher_offers_without_committing_until_accepted(tmp_path, caplog) -> None:
    """Review: the reloader's watcher made a set current before its head was built, so after a failed build
    later messages named labels that were not in use."""
    path = write(tmp_path, "")
    _touch_later(path, "jump\nrun\n")
    watcher = LabelWatcher(path, poll_s=0.0)
    _touch_later(path, "jump\nrun\nsit\n")
    offered = watcher.poll(now=1e9, commit=False)
    assert offered is not None and watcher.current.names == ("jump", "run") and watcher.reloads == 0
    watcher.reject(offered)
    assert watcher.poll(now=1e9 + 1, commit=False) is None  # not offered again until the file changes
    with caplog.at_level(logging.WARNING, logger="realtime.head.labels"):
        _touch_later(path, "jump\n")
        assert watcher.poll(now=1e9 + 2, commit=False) is None
    assert "still using the 2 labels" in caplog.text
    _touch_later(path, "jump\nrun\nsit\nwave\n")
    offered = watcher.poll(now=1e9 + 3, commit=False)
    watcher.accept(offered)
    assert watcher.current is offered and watcher.reloads == 1


def test_watcher_start_on_a_bad_file_raises(tmp_path) -> None:
    with pytest.raises(ConfigError, match="only one action"):
        LabelWatcher(write(tmp_path, "jump\n"))


def test_a_device_that_never_ends_is_refused_not_read_forever() -> None:
    import os

    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero on this system")
    with pytest.raises(ConfigError, match="more than the 256 KiB limit"):
        parse_labels("/dev/zero")


# ---------------------------------------------------------------- review of 6 December 2026: lines that join labels


@pytest.mark.parametrize("brk", ["\f", "\v", "\x85", "\u2028", "\u2029", "\x1c"])
def test_a_line_break_character_inside_a_line_is_refused(brk: str) -> None:
    # read as a space, it joined two labels into one ("walk\fsit down" -> "walk sit down")
    with pytest.raises(ConfigError, match=rf"labels.txt:line 2: line break character U\+{ord(brk):04X} inside"):
        parse_labels_text(f"jump\nwalk{brk}sit down\n", "labels.txt")


def test_a_second_bar_is_refused_with_the_line_and_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"labels.txt:line 1: more than one '\|' .*`name \| description` with one"):
        parse_labels_text("walk | moves | on foot\nsit down\n", "labels.txt")


@pytest.mark.parametrize(
    ("text", "line", "other"),
    [
        ("somersault\na person somersault\nwalk\n", 2, "somersault"),  # the prompt's "a person" is dropped
        ("juggle | a person throws balls\ntoss balls | a person throws balls\nwalk\n", 2, "juggle"),
        ("walk\nstroll | Walk.\n", 2, "walk"),  # a description equal to another label's name
    ],
)
def test_two_labels_with_one_text_are_refused_naming_both_lines(text: str, line: int, other: str) -> None:
    with pytest.raises(ConfigError, match=rf"labels.txt:line {line}: .* same text as '{other}' \(line 1\)"):
        parse_labels_text(text, "labels.txt")


def test_labels_with_different_texts_still_parse() -> None:
    ls = parse_labels_text("juggle | throw balls in the air\ntoss balls\nperson walking\na person jumping\n")
    assert ls.names == ("juggle", "toss balls", "person walking", "a person jumping")


def test_a_name_without_words_is_kept_when_its_description_has_some() -> None:
    """An emoji or a symbol as the name, with words after '|', is read by its description (only a name with nothing
    to read at all is refused)."""
    assert parse_labels_text("👋 | wave a hand\nclapping\n", "L").names == ("👋", "clapping")
