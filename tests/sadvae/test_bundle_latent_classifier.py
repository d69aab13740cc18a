"""The bundle keeps the latent classifier training measured with, so `sadvae eval` scores with it.

Until 6 December 2026 the bundle held no classifier and `sadvae eval` refitted one with seed 0 and the default
settings, while training had fitted the chosen cycle's with seed ``seed + cycle``: eval's ZSL and GZSL were not
training's. The CLI check (train, then eval gives training's numbers) is the slow
tests/sadvae/train/test_training.py::test_cli_train_zsl_then_eval.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from sadvae.bundle import load_bundle, resave_bundle  # noqa: E402
from sadvae.errors import ConfigError  # noqa: E402
from sadvae.models.sadvae import LatentClassifier  # noqa: E402


def _classifier(bundle, classes: int, seed: int = 3) -> LatentClassifier:
    torch.manual_seed(seed)
    return LatentClassifier(bundle.sadvae.cfg.semantic_dim, classes, relu_logits=False).eval()


def test_round_trip_and_resave_keep_the_classifier(bundle_fixtures, tmp_path):
    b = load_bundle(bundle_fixtures.make_tiny_bundle(tmp_path / "plain.pt"))
    assert b.latent_classifier is None  # bundles written without one read as before
    clf = _classifier(b, len(b.unseen_classes))
    path = resave_bundle(tmp_path / "with.pt", b, latent_classifier=clf)
    got = load_bundle(path).latent_classifier
    z = torch.randn(5, b.sadvae.cfg.semantic_dim)
    with torch.no_grad():
        assert torch.equal(got(z), clf(z))
    assert got.relu_logits is False
    again = load_bundle(resave_bundle(tmp_path / "again.pt", load_bundle(path)))
    with torch.no_grad():
        assert torch.equal(again.latent_classifier(z), clf(z))


def test_a_classifier_over_other_classes_is_refused(bundle_fixtures, tmp_path):
    b = load_bundle(bundle_fixtures.make_tiny_bundle(tmp_path / "plain.pt"))
    with pytest.raises(ConfigError, match=f"scores {len(b.unseen_classes) + 1} classes but {len(b.unseen_classes)}"):
        resave_bundle(tmp_path / "bad.pt", b, latent_classifier=_classifier(b, len(b.unseen_classes) + 1))
    assert not (tmp_path / "bad.pt").exists()
