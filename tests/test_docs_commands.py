"""Every `sadvae` / `sadvae-live` command in a code block of the README and docs/ parses with the current command
line, and so does every `python scripts/NAME.py ...` / `scripts/train_default ...` command (since 7 December 2026:
the numbers of the docs come from these scripts, and a review found one of their quoted commands no longer parsed).

A reader copies these; a command that fails on a renamed or missing flag, or that leans on a spelling about to be
removed, is a broken promise (review of 6 December 2026: nine such in README and docs). Inline mentions are mostly
fragments (one flag named in a sentence) and are not checked. Only parsing is checked (argparse's own rules:
unknown flags, choices, types, required flags, exclusive groups): nothing runs. Quoted lines with placeholders
(``<...>``, ``$var``, ``...``, ``A|B``, ``[--opt]``, upper-case names such as ``PATH``) and lines marked as an
earlier version's (``(script at <commit>)``) are skipped; so are the script commands of a block that first checks
out an earlier commit (``git worktree add``). A script runs as ``__main__`` until its parser has parsed the command
line, and is stopped there; shell scripts (``scripts/build_engines``, ``scripts/jetson_setup``) are not parsed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import runpy
import shlex
import sys
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


SCRIPT = re.compile(r"(?:python3? )?(scripts/[a-z_0-9]+(?:\.py)?)(?:\s|$)")


def _commands(scripts: bool = False) -> list[tuple[str, str]]:
    """(doc, command) of the `sadvae` / `sadvae-live` commands, or with ``scripts`` of the scripts' commands."""
    found: list[tuple[str, str]] = []
    for path in DOCS:
        for block in _shell_blocks(path.read_text(encoding="utf-8")):
            if scripts and "git worktree add" in block:  # an earlier version's scripts
                continue
            for line in re.sub(r"\\\n\s*", " ", block).splitlines():
                if "(script at" in line:
                    continue
                line = re.split(r"\s#", line)[0].strip()
                for part in re.split(r"\s(?:&&|;|\|\|)\s", line):  # a command after others on its line counts too
                    part = re.sub(r"^nice -n \d+ ", "", part.strip())
                    if scripts:
                        hit = SCRIPT.match(part)
                        if hit and _python_script(hit.group(1)) is not None:
                            found.append((path.relative_to(ROOT).as_posix(), part))
                    elif re.match(r"(sadvae|sadvae-live) -", part) or re.match(r"sadvae [a-z]", part):
                        found.append((path.relative_to(ROOT).as_posix(), part))
    return sorted(set(found))


def _python_script(name: str) -> Path | None:
    """The Python file a quoted script name runs (``scripts/train_default`` is a shell wrapper of its .py), or None
    for a shell script (or a name that is no file: then the test of the command says so)."""
    path = ROOT / name
    if path.suffix == ".py" or not path.exists():
        return path
    wrapped = path.with_suffix(".py")
    return wrapped if wrapped.is_file() and wrapped.stem in path.read_text(encoding="utf-8", errors="replace") else None


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
SCRIPT_COMMANDS = [(doc, cmd) for doc, cmd in _commands(scripts=True) if not PLACEHOLDER.search(cmd)]


class _Parsed(Exception):
    """Raised once a script's parser has parsed its command line: the script's work is not run."""


def _parse_script(argv: list[str]) -> str | None:
    """None when the script ``argv[0]`` parses ``argv[1:]``, else the parser's message (or the error it raised).

    Runs in the process that calls it and leaves it changed (a script may patch a class before it parses, as
    scripts/probe_prompt_ensemble.py patches the text encoder): :func:`_parse_scripts` calls it in a child process."""
    depth = [0]
    real = argparse.ArgumentParser.parse_args, argparse.ArgumentParser.parse_known_args

    def stop_after(method):
        def parse(self, args=None, namespace=None):
            depth[0] += 1
            try:
                result = method(self, args, namespace)
            finally:
                depth[0] -= 1
            if depth[0] == 0:  # the outermost parse of the command line, sub-commands included, is done
                raise _Parsed
            return result

        return parse

    script = _python_script(argv[0])
    assert script is not None
    if not script.is_file():
        return f"{argv[0]}: no such script"
    argparse.ArgumentParser.parse_args, argparse.ArgumentParser.parse_known_args = map(stop_after, real)
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [str(script), *argv[1:]]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            runpy.run_path(str(script), run_name="__main__")
    except _Parsed:
        return None
    except SystemExit as e:
        return None if not e.code else (err.getvalue().strip().splitlines() or [f"exit {e.code}"])[-1]
    finally:
        argparse.ArgumentParser.parse_args, argparse.ArgumentParser.parse_known_args = real
        sys.argv, sys.path[:] = saved_argv, saved_path
    return "the script ended without parsing its command line"


def _parse_scripts(commands: list[str]) -> dict[str, str | None]:
    """:func:`_parse_script` of each command line, in one child process (this one stays as it was)."""
    import json
    import subprocess

    out = subprocess.run(
        [sys.executable, __file__],
        input=json.dumps(commands),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the script-parsing process failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


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


def test_the_docs_quote_script_commands() -> None:
    assert len(SCRIPT_COMMANDS) > 80, "the extraction found too few script commands: has the docs' layout changed?"


@pytest.fixture(scope="module")
def script_results() -> dict[str, str | None]:
    return _parse_scripts(sorted({command for _, command in SCRIPT_COMMANDS}))


@pytest.mark.parametrize("doc, command", SCRIPT_COMMANDS, ids=[f"{d}:{c[:60]}" for d, c in SCRIPT_COMMANDS])
def test_a_quoted_script_command_parses(doc: str, command: str, script_results: dict[str, str | None]) -> None:
    error = script_results[command]
    assert error is None, f"{doc}: `{command}` -> {error}"


if __name__ == "__main__":  # the child process of _parse_scripts: command lines (JSON) in, their results (JSON) out
    import json

    sys.path.insert(0, str(ROOT))
    results = {}
    for command in json.loads(sys.stdin.read()):
        argv = shlex.split(command)
        results[command] = _parse_script(argv[1:] if argv[0].startswith("python") else argv)
    print(json.dumps(results))
