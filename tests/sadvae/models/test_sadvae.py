from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from sadvae.errors import ConfigError  # noqa: E402
from sadvae.models.sadvae import (  # noqa: E402
    SADVAE,
    SADVAEConfig,
    classify,
    fit_latent_classifier,
    kl_divergence,
    reparameterize,
)
from sadvae.models.schedule import ScheduleConfig, schedule_weights  # noqa: E402

SMALL = {"feature_dim": 32, "text_dim": 24, "semantic_dim": 12}
CONFIGS = {
    "naive": SADVAEConfig(**SMALL, style_dim=0, disentangle=False, total_correlation=False),
    "disentangled": SADVAEConfig(**SMALL, style_dim=4, total_correlation=False),
    "tc": SADVAEConfig(**SMALL, style_dim=4),
    "tc_independent_noise": SADVAEConfig(**SMALL, style_dim=4, shared_noise=False),
}
WEIGHTS = {"beta_x": 0.01, "beta_y": 0.01, "lambda_cross": 1.0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def _batch(cfg: SADVAEConfig, b: int = 16, classes: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-negative skeleton features with a class signal, and the unit text embedding of each class."""
    g = torch.Generator().manual_seed(seed)
    text = torch.nn.functional.normalize(torch.randn(classes, cfg.text_dim, generator=g), dim=1)
    centers = torch.rand(classes, cfg.feature_dim, generator=g) * 2
    labels = torch.arange(b) % classes
    x = (centers[labels] + 0.1 * torch.rand(b, cfg.feature_dim, generator=g)).clamp(min=0)
    return x, text[labels]


def test_module_shapes_and_init() -> None:
    cfg = CONFIGS["tc"]
    model = SADVAE(cfg)
    x, y = _batch(cfg)
    mu_r, lv_r, mu_v, lv_v = model.encode_skeleton(x)
    assert mu_r.shape == lv_r.shape == (16, 12) and mu_v.shape == lv_v.shape == (16, 4)
    assert model.encode_text(y)[0].shape == (16, 12)
    torch.testing.assert_close(model.semantic(x), mu_r)
    assert model.discriminator.net[0].out_features == (12 + 4) // 4
    assert model.skeleton_decoder.fc.in_features == 16
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            assert torch.count_nonzero(m.bias) == 0
            bound = 0.5 * math.sqrt(6.0 / (m.in_features + m.out_features))
            assert m.weight.abs().max() <= bound + 1e-6
    naive = SADVAE(CONFIGS["naive"])
    assert naive.discriminator is None and naive.encode_skeleton(x)[2].shape == (16, 0)
    assert naive.skeleton_decoder.fc.in_features == 12


def test_reparameterize_shares_one_scalar_per_sample() -> None:
    mu, logvar = torch.randn(5, 7), torch.randn(5, 7)
    torch.manual_seed(0)
    z = reparameterize(mu, logvar, shared_noise=True)
    eps = (z - mu) / torch.exp(0.5 * logvar)  # (5, 7): constant along each row
    torch.testing.assert_close(eps, eps[:, :1].expand(-1, 7))
    eps_ind = (reparameterize(mu, logvar, shared_noise=False) - mu) / torch.exp(0.5 * logvar)
    assert (eps_ind.std(dim=1) > 1e-3).all()


def test_kl_is_summed_over_dims_and_averaged_over_batch() -> None:
    assert kl_divergence(torch.zeros(3, 4), torch.zeros(3, 4)).item() == 0.0
    mu = torch.ones(2, 5)  # KL per dim = mu^2 / 2 = 0.5 -> 2.5 per sample
    assert kl_divergence(mu, torch.zeros(2, 5)).item() == pytest.approx(2.5)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_configuration_trains_and_loss_decreases(name: str) -> None:
    cfg = CONFIGS[name]
    torch.manual_seed(0)
    model = SADVAE(cfg)
    x, y = _batch(cfg, b=32)
    opt = torch.optim.Adam(model.vae_parameters(), lr=5e-3)
    history = []
    for _ in range(60):
        out = model.loss(x, y, WEIGHTS)
        assert set(out) == {"loss", "recon_x", "recon_y", "kl_x", "kl_y", "cross_x", "cross_y", "tc"}
        assert all(torch.isfinite(v) and v.ndim == 0 for v in out.values())
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        history.append(out["loss"].item())
    assert sum(history[-5:]) / 5 < 0.5 * sum(history[:5]) / 5
    if cfg.total_correlation:
        assert 0.0 < out["tc"].item() < 1.0
        assert all(p.grad is not None for p in model.discriminator_parameters())
    else:
        assert out["tc"].item() == 0.0 and model.discriminator_parameters() == []
        with pytest.raises(ConfigError, match="total_correlation"):
            model.discriminator_loss(x, y)


def test_loss_weights_enter_the_total() -> None:
    cfg = CONFIGS["tc"]
    model = SADVAE(cfg)
    x, y = _batch(cfg)
    w = {"beta_x": 0.3, "beta_y": 0.2, "lambda_cross": 0.5, "tc": 0.7}
    torch.manual_seed(1)
    out = model.loss(x, y, w)
    expected = (
        out["recon_x"]
        + out["recon_y"]
        + 0.3 * out["kl_x"]
        + 0.2 * out["kl_y"]
        + 0.5 * (out["cross_x"] + out["cross_y"])
        + 0.7 * out["tc"]
    )
    torch.testing.assert_close(out["loss"], expected)
    torch.manual_seed(1)
    zero = model.loss(x, y, {"beta_x": 0.0, "beta_y": 0.0, "lambda_cross": 0.0})
    torch.testing.assert_close(zero["loss"], zero["recon_x"] + zero["recon_y"])


def test_discriminator_loss_changes_with_training() -> None:
    cfg = CONFIGS["tc"]
    torch.manual_seed(0)
    model = SADVAE(cfg)
    x, y = _batch(cfg, b=32)

    def fixed_eval() -> float:
        torch.manual_seed(123)  # same noise and permutations each time
        with torch.no_grad():
            return model.discriminator_loss(x, y).item()

    before = fixed_eval()
    assert math.isfinite(before) and before > 0
    opt = torch.optim.Adam(model.discriminator_parameters(), lr=1e-2)
    for _ in range(30):
        opt.zero_grad()
        loss = model.discriminator_loss(x, y)
        loss.backward()
        opt.step()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.vae_parameters())
    after = fixed_eval()
    assert after != before


def test_latent_classifier_recovers_well_separated_classes() -> None:
    cfg = SADVAEConfig(feature_dim=32, text_dim=48, semantic_dim=16, style_dim=4)
    torch.manual_seed(0)
    model = SADVAE(cfg)
    n = 6
    text = torch.nn.functional.normalize(torch.eye(n, cfg.text_dim) + 0.05 * torch.rand(n, cfg.text_dim), dim=1)
    clf = fit_latent_classifier(model, text, samples_per_class=200, steps=300, lr=1e-2, seed=0)
    assert not clf.training and clf.relu_logits
    with torch.no_grad():
        mu_y, _ = model.encode_text(text)
        pred = clf(mu_y).argmax(dim=1)
    assert pred.tolist() == list(range(n))
    # classify() maps skeleton features through mu_r and returns probabilities
    probs = classify(model, clf, torch.rand(5, cfg.feature_dim))
    assert probs.shape == (5, n)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(5))
    # same seed, same classifier
    again = fit_latent_classifier(model, text, samples_per_class=200, steps=300, lr=1e-2, seed=0)
    torch.testing.assert_close(again.fc.weight, clf.fc.weight)
    with pytest.raises(ConfigError, match="text_emb"):
        fit_latent_classifier(model, torch.rand(3, 5))


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="style_dim=0"):
        SADVAEConfig(disentangle=False, total_correlation=False)
    with pytest.raises(ConfigError, match="needs disentangle"):
        SADVAEConfig(style_dim=0, disentangle=False)
    with pytest.raises(ConfigError, match="style_dim must be >= 1"):
        SADVAEConfig(style_dim=0)


@pytest.mark.parametrize(
    ("p", "epoch", "expected"),
    [
        (0.5, 5, {"beta_x": 0.0, "beta_y": 0.0, "lambda_cross": 0.0}),
        (0.7, 5, {"beta_x": 0.00633, "beta_y": 0.0, "lambda_cross": 0.0}),
        (0.8, 5, {"beta_x": 0.0120, "beta_y": 0.0, "lambda_cross": 0.0}),
        (0.9, 5, {"beta_x": 0.0177, "beta_y": 0.0057, "lambda_cross": 1.0}),
        (0.999, 5, {"beta_x": 0.0233, "beta_y": 0.0113, "lambda_cross": 1.0}),
        (0.999, 1, {"beta_x": 0.0233, "beta_y": 0.0, "lambda_cross": 1.0}),  # no text KL before epoch 2
        (0.9, 0, {"beta_x": 0.0177, "beta_y": 0.0, "lambda_cross": 1.0}),  # cross switch also in epoch 0
    ],
)
def test_official_schedule_matches_reference_samples(p: float, epoch: int, expected: dict[str, float]) -> None:
    num_iters = 17000
    got = schedule_weights(round(p * num_iters), num_iters, epoch)
    assert got == pytest.approx(expected, abs=6e-5)


def test_paper_schedule_and_errors() -> None:
    assert schedule_weights(10, 100, 0, kind="paper", beta_x=0.1, beta_y=0.2) == {
        "beta_x": 0.0,
        "beta_y": 0.0,
        "lambda_cross": 0.0,
    }
    got = schedule_weights(100, 100, 0, kind="paper", beta_x=0.1, beta_y=0.2)
    assert got == pytest.approx({"beta_x": 0.1, "beta_y": 0.2, "lambda_cross": 1.0})
    half = schedule_weights(2, 3, 0, kind="paper", cfg=ScheduleConfig(beta_x=0.3, beta_y=0.6))
    assert half == pytest.approx({"beta_x": 0.15, "beta_y": 0.3, "lambda_cross": 0.0})
    assert schedule_weights(81, 100, 0)["lambda_cross"] == 1.0 and schedule_weights(80, 100, 0)["lambda_cross"] == 0
    with pytest.raises(ConfigError, match="needs beta_x and beta_y"):
        schedule_weights(50, 100, 0, kind="paper")
    with pytest.raises(ConfigError, match="valid schedules"):
        schedule_weights(50, 100, 0, kind="cosine")
