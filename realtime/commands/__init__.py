"""The live-side subcommands of ``sadvae``: ``sadvae events ...`` and ``sadvae bench ...``.

They live here, on the live side, because they run live-side code (the ZeroMQ subscriber and proxy,
CURVE keys, the latency and accuracy benchmarks). ``sadvae`` never imports ``realtime``: it finds these
commands as plug-ins, through the ``sadvae.commands`` entry-point group of the installed package
(``pyproject.toml``)::

    [project.entry-points."sadvae.commands"]
    events = "realtime.commands.events:register"
    bench = "realtime.commands.bench:register"

A plug-in is a function ``register(sub: argparse._SubParsersAction) -> None`` that adds one top-level
command with ``sub.add_parser`` and sets ``func`` (called with the parsed namespace, returns the exit
code). A command group that kept an old spelling without a subcommand sets the parser default
``sadvae_default_subcommand`` (``sadvae bench [flags]`` runs ``sadvae bench latency [flags]`` with a
deprecation note, for one release). Modules here import only argparse and the standard library at
module level, so ``sadvae --help`` stays fast; the work is imported when a command runs.
"""

from __future__ import annotations

__all__: list[str] = []
