"""`sadvae train` / `sadvae benchmark` flags: checked before any data is read or any epoch runs (fast)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "zsl", "--epochs", "0"], "argument --epochs: expected a whole number >= 1, got 0"),
        (["train", "zsl", "--batch-size", "-1"], "argument --batch-size: expected a whole number >= 1, got -1"),
        (["train", "zsl", "--lr-vae", "nan"], "argument --lr-vae: expected a finite number > 0, got 'nan'"),
        (["benchmark", "zsl", "--splits", "0"], "argument --splits: expected a whole number >= 1, got 0"),
        # refused after both backbones had trained until 7 December 2026 (the training audit)
        (["benchmark", "zsl", "--variants", "foo"], "argument --variants: invalid choice: 'foo'"),
        (["train", "zsl", "--device", "bogus"], "--device must be cpu, cuda, cuda:<index> or mps, got 'bogus'"),
        (["train", "zsl", "--out", "{tmp}/file.txt/a.pt"], "file.txt is a file, not a folder; pass an --out path"),
        (["train", "zsl", "--out", "{tmp}/a.txt"], "a model file is a .pt file; name it e.g."),
        (["train", "backbone", "--out", "{tmp}"], "a model file is a .pt file"),
        (["benchmark", "zsl", "--out", "{tmp}/file.txt/x"], "file.txt is a file, not a folder; pass an --out path"),
        # the default ST-GCN backbone ignored them silently; a frozen one's bad window failed after loading the data
        (["benchmark", "zsl", "--window", "48"], "--window: for a frozen --backbone (shiftgcn-ntu120) only"),
        (["benchmark", "zsl", "--window", "64", "--stride", "32"], "--window and --stride: for a frozen --backbone"),
        (["benchmark", "zsl", "--stride", "16"], "--stride: for a frozen --backbone (shiftgcn-ntu120) only"),
        (
            ["benchmark", "zsl", "--backbone", "shiftgcn-ntu120", "--window", "0"],
            "--window 0: the Shift-GCN window must be a multiple of 4 frames (>= 8, at 30 fps)",
        ),
        (["benchmark", "zsl", "--backbone", "shiftgcn", "--stride", "0"], "--stride 0: the frames between Shift-GCN"),
        # flags only the cross-dataset protocol reads were ignored by the split protocols (review of 7 December 2026)
        (["benchmark", "zsl", "--bundle", "nope.pt"], "--bundle is read by --protocol cross-dataset only, not by"),
        (
            ["benchmark", "zsl", "--weights", "ntu120_xsetup"],
            "--weights: for a frozen --backbone (shiftgcn-ntu120) only",
        ),
        (["benchmark", "zsl", "--feature-dir", "{tmp}/f"], "--feature-dir: for a frozen --backbone (shiftgcn-ntu120)"),
        (
            ["benchmark", "zsl", "--protocol", "paper", "--hubness-k", "3", "--glossary", "g.tsv.gz"],
            "--hubness-k, --glossary are read by --protocol cross-dataset only, not by --protocol paper: drop them",
        ),
    ],
)
def test_training_flags_are_checked_before_any_data_or_epoch(argv, message, tmp_path, capsys, monkeypatch):
    """Review of 6 December 2026: --epochs 0 wrote a bundle with an untrained backbone, --splits 0 a traceback and an
    empty report, and an --out that cannot be written failed only after training (or with a traceback)."""
    from sadvae.cli import main
    from sadvae.cli import train as cli_train

    def no_data(args):
        raise AssertionError("the data were read before the flags were checked")

    monkeypatch.setattr(cli_train, "_load", no_data)
    (tmp_path / "file.txt").write_text("x")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / ("bench" if argv[0] == "benchmark" else "m.pt"))]
    try:
        code = main([*argv, "--dataset", "msr_action3d"])
    except SystemExit as e:  # argparse's own refusal: its usage line, then the error
        code = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[-1] and "Traceback" not in "".join(err), err
    assert not (tmp_path / "bench").exists()


def test_every_cross_dataset_option_is_either_shared_or_refused_by_the_split_protocols():
    """A flag added to the cross-dataset group later must be classified: the split protocols read it, or refuse it
    (until 7 December 2026 they ignored such flags without a word)."""
    import argparse

    from sadvae.train.cross_dataset import CROSS_DATASET_ONLY, SHARED_WITH_SPLIT_PROTOCOLS, add_cli_arguments

    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)
    dests = {a.dest for a in parser._actions if a.dest != "help"}
    assert dests == set(CROSS_DATASET_ONLY) | set(SHARED_WITH_SPLIT_PROTOCOLS)
    assert not set(CROSS_DATASET_ONLY) & set(SHARED_WITH_SPLIT_PROTOCOLS)


def test_printed_metrics_are_strict_json() -> None:
    """Audit of 7 December 2026: `train zsl` printed NaN (an accuracy over no sample), which strict parsers refuse."""
    import json

    import numpy as np

    from sadvae.cli.train import _json_text

    text = _json_text({"acc": float("nan"), "n": np.int64(0), "x": [np.float32(0.5)], "inf": {"v": np.inf}})
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON")) == {
        "acc": None,
        "n": 0,
        "x": [0.5],
        "inf": {"v": None},
    }


def test_a_split_too_small_for_the_gate_is_refused_before_training(tmp_path, capsys, monkeypatch) -> None:
    """Audit of 7 December 2026: with a few clips per class the gate's "at least 5 validation clips" error came after
    both trainings; the counts are known from the split, so it comes first."""
    import numpy as np

    from sadvae.cli import main
    from sadvae.data.record import Dataset, SkeletonSequence
    from sadvae.data.user_format import write_clip_dataset

    rng = np.random.default_rng(0)
    seqs = [
        SkeletonSequence(rng.normal(0, 0.3, (20, 1, 25, 3)).astype(np.float32), 30.0, f"c{c}s{s}.txt", c, None, s)
        for c in range(6)
        for s in range(1, 7)
    ]
    write_clip_dataset(Dataset("tiny", tuple(f"action {c}" for c in range(6)), seqs), tmp_path / "tiny")

    def no_training(*a, **k):
        raise AssertionError("trained before refusing")

    monkeypatch.setattr("sadvae.train.protocol.train_backbone", no_training)
    args = ["train", "zsl", "--dataset", str(tmp_path / "tiny"), "--unseen", "1", "--out", str(tmp_path / "m.pt")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "the seen/unseen gate is fitted on at least 5 validation clips" in err and "this split gives 3 / 4;" in err


@pytest.mark.parametrize(
    ("argv", "func", "hint"),
    [
        (["train", "backbone", "--dataset", "msr_action3d", "--out", "{tmp}/b.pt"], "_train_backbone", "; the same"),
        (["benchmark", "zsl", "--out", "{tmp}/bench"], "_benchmark", "; the same command with the same --out"),
        (["train", "zsl", "--dataset", "msr_action3d", "--out", "{tmp}/m.pt"], "_train_zsl", ""),
    ],
)
def test_an_interrupted_command_says_whether_running_it_again_resumes(argv, func, hint, tmp_path, capsys, monkeypatch):
    """ "sadvae: interrupted" said nothing of the state `train backbone` keeps (the training audit, 7 December 2026)."""
    import sadvae.cli.train as train_cli
    from sadvae.cli import main

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_cli, func, interrupted)
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"sadvae: interrupted{hint}") and (hint or err == "sadvae: interrupted")


def test_the_shared_folders_name_for_a_registered_set_gets_a_suggestion(tmp_path, capsys, monkeypatch):
    """`--dataset utkinect_action3d` (the folder's name in ../shared/data) was refused without the "did you mean"
    `sadvae data import` gives (the training audit, 7 December 2026)."""
    from sadvae.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "zsl", "--dataset", "utkinect_action3d", "--out", str(tmp_path / "m.pt")]) == 2
    assert "unknown dataset 'utkinect_action3d' (did you mean 'utkinect'?): choose one of" in capsys.readouterr().err


def test_the_benchmarks_headline_gzsl_rule_is_the_one_fixed_before_any_look_at_test_rows():
    """`stacking+novelty` was proposed after a look at test rows (docs/results.md) and headed the default list from 4
    to 7 December 2026; calibrated stacking heads it since, the other rules still measured in the same run."""
    from sadvae.cli import build_parser

    args = build_parser().parse_args(["benchmark", "zsl", "--out", "x"])
    assert args.gzsl == ["stacking", "stacking+novelty", "novelty", "gate"]
