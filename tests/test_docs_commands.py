"""Every `sadvae` / `sadvae-live` command in a code block of the README and docs/ parses with the current command
line.

A reader copies these; a command that fails on a renamed or missing flag, or that leans on a spelling about to be
removed, is a broken promise (review of 6 December 2026: nine such in README and docs). Inline mentions are mostly
fragments (one flag named in a sentence) and are not checked. Only parsing is checked (argparse's own rules:
unknown flags, choices, types, required flags, exclusive groups): nothing runs. Quoted lines with placeholders
(``<...>``, ``$var``, ``...``, ``A|B``, ``[--opt]``, upper-case names such as ``PATH``) and lines marked as an
earlier version's (``(script at <commit>)``) are skipped.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PLACEHOLDER = re.compile(r"[<>$|\[\]…]|\.\.\.|\b[A-Z][A-Z0-9_]{1,}\b(?!\.)")


def _shell_blocks(text: str) -> list[str]:
    """The shell code blocks (no language tag, bash, sh, console) of a markdown text. Fences are paired line by
    line whatever their tag: until 7 December 2026 a regex took a ```python block's closing fence for an opening one,
    and every block after it in the file went unchecked."""
    blocks, current, shell = [], None, False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            if current is None:
                current, shell = [], line.strip()[3:].strip() in ("", "bash", "sh", "console")
            else:
                if shell:
                    blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def _commands() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in DOCS:
        lines = []
        for block in _shell_blocks(path.read_text(encoding="utf-8")):
            lines += re.sub(r"\\\n\s*", " ", block).splitlines()
        for line in lines:
            if "(script at" in line:
                continue
            line = re.split(r"\s#", line)[0].strip()
            for part in re.split(r"\s(?:&&|;|\|\|)\s", line):  # a command after others on its line counts too
                part = re.sub(r"^nice -n \d+ ", "", part.strip())
                if re.match(r"(sadvae|sadvae-live) -", part) or re.match(r"sadvae [a-z]", part):
                    found.append((path.relative_to(ROOT).as_posix(), part))
    return sorted(set(found))


def _parse(argv: list[str]) -> str | None:
    """None when ``argv`` parses, else the parser's message."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            if argv[0] == "sadvae-live":
                from realtime.cli import build_parser

                build_parser().parse_args(argv[1:])
            else:
                from sadvae.cli import build_parser, old_spelling

                parser = build_parser()
                rest = old_spelling(parser, argv[1:])
                if "deprecated" in err.getvalue():
                    return err.getvalue().strip()
                parser.parse_args(rest)
    except SystemExit as e:
        if e.code:
            return (err.getvalue().strip().splitlines() or ["exit " + str(e.code)])[-1]
    return None


COMMANDS = [(doc, cmd) for doc, cmd in _commands() if not PLACEHOLDER.search(cmd)]


def test_the_docs_quote_commands() -> None:
    assert len(COMMANDS) > 100, "the extraction found too few commands: has the docs' layout changed?"


@pytest.mark.parametrize("doc, command", COMMANDS, ids=[f"{d}:{c[:60]}" for d, c in COMMANDS])
def test_a_quoted_command_parses(doc: str, command: str) -> None:
    try:
        argv = shlex.split(command)
    except ValueError as e:
        pytest.fail(f"{doc}: `{command}` is not a shell command ({e})")
    error = _parse(argv)
    assert error is None, f"{doc}: `{command}` -> {error}"
