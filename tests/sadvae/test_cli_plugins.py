"""The ``sadvae`` command's plug-ins (the live side's ``events`` and ``bench``) and its old spellings.

``sadvae`` never imports ``realtime``: the live-side commands come from the ``sadvae.commands``
entry-point group (``pyproject.toml``), so these tests check the group is installed and loaded, that a
missing or broken plug-in is one clear line naming the extra, and that ``sadvae bench [flags]`` /
``sadvae benchmark [flags]`` still run ``bench latency`` / ``benchmark zsl`` with a deprecation note.
"""

from __future__ import annotations

import argparse
from importlib.metadata import EntryPoint

import pytest

import sadvae.cli as cli


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = cli.build_parser()
    return parser.parse_args(cli.old_spelling(parser, argv))


def test_live_commands_are_installed_plug_ins():
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group=cli.PLUGIN_GROUP)}
    assert names == {"events": "realtime.commands.events:register", "bench": "realtime.commands.bench:register"}, (
        "the sadvae.commands entry points are not installed: run `pip install -e . --no-deps`"
    )
    assert _parse(["events", "--json"]).func.__module__ == "realtime.commands.events"
    assert _parse(["events", "keygen", "k"]).func.__name__ == "_keygen"
    for sub, func in (("latency", "_bench"), ("accuracy", "_accuracy"), ("compare", "_compare")):
        args = _parse(["bench", sub] + (["a.json"] if sub == "compare" else []))
        assert (args.func.__module__, args.func.__name__) == ("realtime.commands.bench", func)


def test_old_spellings_run_the_new_commands_with_one_note(capsys):
    args = _parse(["bench", "--iters", "3", "--backend", "onnxruntime"])
    assert args.func.__name__ == "_bench" and args.iters == 3 and args.backend == ["onnxruntime"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "deprecated" in err[0] and "`sadvae bench latency`" in err[0]
    assert _parse(["-v", "bench"]).func.__name__ == "_bench"
    assert "sadvae bench latency" in capsys.readouterr().err
    args = _parse(["benchmark", "--dataset", "msr_action3d", "--out", "r"])
    assert args.func.__name__ == "_benchmark" and args.benchmark_command == "zsl"
    assert "`sadvae benchmark zsl`" in capsys.readouterr().err
    for argv in (["bench", "latency"], ["bench", "compare", "a.json"], ["benchmark", "zsl", "--out", "r"]):
        _parse(argv)
        assert capsys.readouterr().err == "", argv  # the new spellings: no note
    parser = cli.build_parser()
    for argv in (["bench", "-h"], ["benchmark", "--help"], ["events"], ["data", "list"]):
        assert cli.old_spelling(parser, argv) == argv


def test_missing_plug_ins_say_what_to_install(monkeypatch, capsys):
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None: [])
    assert cli.main(["events", "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "`sadvae events` is not available" in err[0] and "sadvae-live[live]" in err[0]
    assert cli.main(["bench", "latency", "--iters", "1"]) == 2
    assert "sadvae-live[live]" in capsys.readouterr().err


def test_a_broken_plug_in_is_one_line(monkeypatch, capsys):
    import importlib.metadata

    broken = EntryPoint("events", "realtime.no_such_module:register", cli.PLUGIN_GROUP)
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None: [broken])
    assert cli.main(["events"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "realtime.no_such_module:register cannot be imported" in err[0]
    assert "sadvae-live[live]" in err[0]


def test_sadvae_cli_does_not_import_realtime_to_build_its_own_commands(monkeypatch):
    """With no plug-ins, building the parser and running a model-side command loads no realtime module."""
    import importlib.metadata
    import sys

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None: [])
    for name in [m for m in sys.modules if m == "realtime" or m.startswith("realtime.")]:
        monkeypatch.delitem(sys.modules, name)
    cli.build_parser()
    assert not [m for m in sys.modules if m == "realtime" or m.startswith("realtime.")]


@pytest.mark.parametrize("group", ["bench", "benchmark"])
def test_group_help_lists_the_new_names(group, capsys):
    with pytest.raises(SystemExit):
        cli.main([group, "--help"])
    out = capsys.readouterr().out
    assert ("latency" in out and "accuracy" in out) if group == "bench" else "zsl" in out
