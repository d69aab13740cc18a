"""The live head's warning on labels that never win (realtime/head/zero_shot.py): it names the label each one loses
to, and suggests zs_method='cosine' only where another scorer is in use (review of 6 December 2026)."""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pytest

pytest.importorskip("torch")

from realtime.head.zero_shot import HeadBuilder, HeadOptions  # noqa: E402
from sadvae.bundle import load_bundle  # noqa: E402
from sadvae.labels import LabelSet  # noqa: E402


class FakeText:
    """One random unit vector per prompt text (the tiny bundle's 32-d text space)."""

    def encode_labels(self, labels, descriptions=None) -> np.ndarray:
        rows = []
        for text in labels:
            seed = int.from_bytes(hashlib.sha256(str(text).encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).normal(size=32)
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32)


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
