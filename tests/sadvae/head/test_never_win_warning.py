"""The live head's warning on labels that never win (realtime/head/zero_shot.py): it names the label each one loses
to, and suggests zs_method='cosine' only where another scorer is in use (review of 6 December 2026)."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("torch")

from sadvae_tests_helpers import FakeText  # noqa: E402

from realtime.head.zero_shot import HeadBuilder, HeadOptions  # noqa: E402
from sadvae.bundle import load_bundle  # noqa: E402
from sadvae.labels import LabelSet  # noqa: E402


def test_a_label_tied_with_another_is_named_with_it_and_cosine_is_not_suggested_again(
    bundle_fixtures, tmp_path, caplog
) -> None:
    bundle = load_bundle(bundle_fixtures.make_tiny_bundle(tmp_path / "b.pt"))
    # two labels with one text (the parser refuses them since 6 December 2026; a LabelSet built in code can hold them)
    labels = LabelSet(("juggle", "toss balls", "somersault"), ("throws balls", "throws balls", None), "x", "t")
    opts = HeadOptions(cache_dir=str(tmp_path / "heads"), match=False)
    with caplog.at_level(logging.WARNING):
        head = HeadBuilder(bundle, opts, text_encoder=FakeText()).build(labels)
    assert head.unreachable == ("toss balls",)
    assert "'toss balls' (loses to 'juggle')" in caplog.text
    assert "zs_method='cosine'" not in caplog.text  # already the scorer in use
