"""The ``sadvae`` command: one entry point, one subcommand group per stage.

argparse lives only in this package; every subcommand turns its flags into plain values or
dataclasses at once and calls library functions.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from sadvae.errors import SadvaeError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    from sadvae.cli import bench, data, engine, events, export, train

    parser = argparse.ArgumentParser(prog="sadvae", description="SA-DVAE zero-shot skeleton action recognition")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data.register(sub)
    train.register(sub)
    export.register(sub)
    engine.register(sub)
    events.register(sub)
    bench.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except SadvaeError as e:
        print(f"sadvae: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sadvae: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the interpreter from failing on flush at exit
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
