"""Auxiliary seen classes (sadvae.train.aux_classes): what a split may train on, and the config's refusals."""

from __future__ import annotations

import numpy as np
import pytest

from sadvae.errors import ConfigError
from sadvae.text import TextConfig, TextEncoder
from sadvae.train.aux_classes import AuxClasses, aux_for_split

pytest.importorskip("sentence_transformers", reason="the label matcher and the cosine rule read the real encoder")


def test_a_split_never_trains_on_a_class_near_its_unseen_or_pseudo_unseen_ones():
    names = ("sitting down", "throw a basketball", "hop on both legs", "wave both hands", "Sit Down")
    enc = TextEncoder(TextConfig())
    aux = AuxClasses(
        feats=np.arange(10 * 4, dtype=np.float32).reshape(10, 4),
        labels=np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]),
        names=names,
        datasets=("bandai_namco", "hdm05", "hdm05", "bandai_namco", "utkinect"),
        encoder=enc,
        prompt_emb=enc.encode_labels(list(names)),
    )
    target = ("sit down", "throw", "walk", "clap hands")
    target_emb = enc.encode_labels(list(target))
    got = aux_for_split(aux, target, avoid=(0, 1), text_emb=target_emb)  # sit down unseen, throw pseudo-unseen
    assert set(got.left_out) == {"sitting down", "throw a basketball", "Sit Down"}
    assert set(got.used) == {"hop on both legs", "wave both hands"}
    # their clips only, labelled after the target's classes; the text rows follow the same ids
    assert got.labels.tolist() == [2 + 4, 2 + 4, 3 + 4, 3 + 4]
    np.testing.assert_array_equal(got.feats, aux.feats[4:8])
    assert got.text_emb.shape == (len(target) + len(names), 384)
    np.testing.assert_array_equal(got.text_emb[: len(target)], target_emb)  # the target's rows are its own
    # "walk" is neither unseen nor pseudo-unseen here: a class near it may be used
    assert "walk" not in got.left_out


def test_aux_classes_need_a_frozen_backbone():
    from sadvae.train.protocol import ExperimentConfig

    with pytest.raises(ConfigError, match="--aux-classes adds other sets' clips in a frozen backbone"):
        ExperimentConfig(dataset="nw_ucla", num_unseen=3, aux_datasets=("utkinect",))


def test_cli_aux_classes_default_to_every_other_present_set(shared_data):
    from sadvae.cli.train import _aux_datasets
    from sadvae.train.cross_dataset import available_sets, shared_data_root

    present = available_sets(shared_data_root())
    assert _aux_datasets([], "nw_ucla") == tuple(n for n in present if n != "nw_ucla")
    assert _aux_datasets(["utk", "msr", "utkinect"], "nw_ucla") == ("utkinect", "msr_action3d")
    with pytest.raises(ConfigError, match=r"--aux-classes: unknown dataset 'nosuch'"):
        _aux_datasets(["nosuch"], "nw_ucla")
    with pytest.raises(ConfigError, match=r"--aux-classes 'nw_ucla' is the dataset benchmarked"):
        _aux_datasets(["ucla"], "nw_ucla")
