"""The ``sadvae`` command: one entry point, one subcommand group per stage.

argparse lives only in this package; every subcommand turns its flags into plain values or
dataclasses at once and calls library functions.

The live-side commands (``sadvae events``, ``sadvae bench``) are not here: they run live-side code, and
``sadvae`` never imports ``realtime``. They are plug-ins, found through the :data:`PLUGIN_GROUP`
entry-point group of the installed packages (``realtime.commands`` registers them in
``pyproject.toml``); each entry point names a ``register(sub)`` function like the modules here have.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from sadvae.errors import ConfigError, SadvaeError

__all__ = ["main", "build_parser", "old_spelling", "PLUGIN_GROUP", "DEFAULT_SUBCOMMAND"]

PLUGIN_GROUP = "sadvae.commands"  # entry points: name = "package.module:register"
# a parser default naming the subcommand its old spelling without one runs (kept for one release)
DEFAULT_SUBCOMMAND = "sadvae_default_subcommand"
# where the plug-in commands come from, for the one line printed when they are not installed
_LIVE_COMMANDS = ("events", "bench")
_LIVE_INSTALL = "pip install 'sadvae-live[live]' (from a checkout: pip install -e '.[live]')"


def build_parser() -> argparse.ArgumentParser:
    from sadvae.cli import data, engine, export, train

    parser = argparse.ArgumentParser(prog="sadvae", description="SA-DVAE zero-shot skeleton action recognition")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data.register(sub)
    train.register(sub)
    export.register(sub)
    engine.register(sub)
    _register_plugins(sub)
    return parser


def _register_plugins(sub: argparse._SubParsersAction) -> None:
    """Add the commands of the :data:`PLUGIN_GROUP` entry points (the live side's ``events`` and ``bench``).

    A plug-in that cannot be imported becomes a command that says so in one line; when none is installed
    (the package's metadata is missing, e.g. a checkout run without ``pip install -e .``), ``events`` and
    ``bench`` say how to install them.
    """
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        if ep.name in sub.choices:  # the same plug-in listed twice (an old install beside an editable one)
            continue
        try:
            register = ep.load()
        except ImportError as e:
            _unavailable(
                sub, ep.name, f"its plug-in {ep.value} cannot be imported ({e}); install it with {_LIVE_INSTALL}"
            )
            continue
        register(sub)
    for name in _LIVE_COMMANDS:
        if name not in sub.choices:
            _unavailable(sub, name, f"it is a live-side command, not installed; install it with {_LIVE_INSTALL}")


def _unavailable(sub: argparse._SubParsersAction, name: str, why: str) -> None:
    # no option prefix: every word after the command (flags included) lands in `rest`, and `func` says why
    p = sub.add_parser(name, help=f"(not available: {why})", add_help=False, prefix_chars="\x00")
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def refuse(args: argparse.Namespace) -> int:
        raise ConfigError(f"`sadvae {name}` is not available: {why}")

    p.set_defaults(func=refuse)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def old_spelling(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``argv`` with the default subcommand of a group whose old spelling had none (one note on stderr).

    ``sadvae bench --iters 5`` becomes ``sadvae bench latency --iters 5`` and ``sadvae benchmark
    --dataset X ...`` becomes ``sadvae benchmark zsl --dataset X ...``: a group parser names its default
    in the :data:`DEFAULT_SUBCOMMAND` parser default. ``-h``/``--help`` right after the group shows the
    group's help.
    """
    at = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if at is None:
        return argv
    group = _subcommands(parser).get(argv[at])
    default = group.get_default(DEFAULT_SUBCOMMAND) if group is not None else None
    if default is None:
        return argv
    following = argv[at + 1] if at + 1 < len(argv) else None
    if following in ("-h", "--help") or following in _subcommands(group):
        return argv
    print(
        f"sadvae: `sadvae {argv[at]}` without a subcommand is deprecated (removed in the next release); "
        f"use `sadvae {argv[at]} {default}`",
        file=sys.stderr,
    )
    return [*argv[: at + 1], default, *argv[at + 1 :]]


def _resume_hint(args: argparse.Namespace) -> str:
    """What an interrupted command keeps: the two that resume say so (docs/training.md, "Stopped runs")."""
    command = (
        getattr(args, "command", None),
        getattr(args, "train_command", None) or getattr(args, "benchmark_command", None),
    )
    if command == ("train", "backbone"):
        return "; the same command resumes from the last finished epoch"
    if command == ("benchmark", "zsl"):
        return (
            "; the same command with the same --out resumes from what it finished (splits, or methods across datasets)"
        )
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(old_spelling(parser, list(sys.argv[1:] if argv is None else argv)))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except SadvaeError as e:
        print(f"sadvae: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sadvae: interrupted{_resume_hint(args)}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the interpreter from failing on flush at exit
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
