"""SA-DVAE: skeleton and text VAEs with a disentangled skeleton latent and a total-correlation critic.

Follows the authors' published code (see ``reference/``, sections 3, 4 and 9): every encoder is one
Linear for the mean and one for the log-variance, every decoder is Linear + ReLU, the critic is
Linear(d, d//4) -> ReLU -> Linear -> Sigmoid, all Linear layers start xavier-uniform (gain 0.5)
with zero bias, and by default one scalar noise per sample is shared by all latent dimensions.

The skeleton latent [d_r + d_v] splits into the semantic part z_r (first d_r dims, aligned with the
text latent) and the style part z_v (last d_v dims). Zero-shot inference classifies mu_r.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sadvae.errors import ConfigError
from sadvae.models.schedule import SCHEDULES, ScheduleConfig, schedule_weights

__all__ = [
    "SADVAEConfig",
    "SADVAE",
    "GaussianEncoder",
    "ReluDecoder",
    "Discriminator",
    "reparameterize",
    "kl_divergence",
    "ScheduleConfig",
    "schedule_weights",
    "SCHEDULES",
    "LatentClassifier",
    "fit_latent_classifier",
    "classify",
]


@dataclass(frozen=True)
class SADVAEConfig:
    """SA-DVAE sizes and ablation switches.

    Attributes:
        feature_dim: skeleton feature size d_x (the backbone's pooled feature).
        text_dim: text embedding size d_y.
        semantic_dim: semantic latent size d_r (shared with the text latent).
        style_dim: style latent size d_v; must be 0 when ``disentangle`` is False, >= 1 otherwise.
        disentangle: split the skeleton latent into z_r and z_v. False gives the naive CADA-VAE-like
            alignment: the skeleton latent is z_r alone and the cross term rebuilds x from z_y.
        total_correlation: train a critic on [z_r, z_v] and penalise its output (needs ``disentangle``).
        shared_noise: one N(0, 1) scalar per sample shared by every latent dim (the published code);
            False draws independent noise per dim (the textbook VAE).
        init_gain: xavier-uniform gain of every Linear layer.
    """

    feature_dim: int = 256
    text_dim: int = 384
    semantic_dim: int = 160
    style_dim: int = 8
    disentangle: bool = True
    total_correlation: bool = True
    shared_noise: bool = True
    init_gain: float = 0.5

    def __post_init__(self) -> None:
        for name in ("feature_dim", "text_dim", "semantic_dim"):
            if getattr(self, name) < 1:
                raise ConfigError(f"SADVAEConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.disentangle and self.style_dim < 1:
            raise ConfigError(f"SADVAEConfig.style_dim must be >= 1 with disentangle=True, got {self.style_dim}")
        if not self.disentangle and self.style_dim != 0:
            raise ConfigError(
                f"SADVAEConfig.disentangle=False has no style latent: set style_dim=0 (got {self.style_dim})"
            )
        if self.total_correlation and not self.disentangle:
            raise ConfigError("SADVAEConfig.total_correlation=True needs disentangle=True (set it False)")
        if self.total_correlation and (self.semantic_dim + self.style_dim) < 4:
            raise ConfigError("SADVAEConfig: the critic needs semantic_dim + style_dim >= 4")

    @property
    def latent_dim(self) -> int:
        """Size of the full skeleton latent [z_r, z_v]."""
        return self.semantic_dim + self.style_dim


def _init_linear(module: nn.Module, gain: float) -> None:
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight, gain=gain)
        nn.init.zeros_(module.bias)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, shared_noise: bool = True, generator=None) -> torch.Tensor:
    """z = mu + eps * exp(logvar / 2).

    Args:
        mu, logvar: [B, d].
        shared_noise: eps has shape [B, 1] (one scalar per sample, as published) instead of [B, d].
        generator: optional ``torch.Generator`` for the noise.

    Returns:
        [B, d] samples.
    """
    shape = (mu.shape[0], 1) if shared_noise else tuple(mu.shape)
    eps = torch.randn(shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + eps * torch.exp(0.5 * logvar)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) summed over dims, averaged over the batch (a scalar, >= 0).

    The published code returns the negative of this and subtracts it; the loss is the same.
    """
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / mu.shape[0]


class GaussianEncoder(nn.Module):
    """x [B, d_in] -> (mu, logvar) [B, d_out], each one Linear layer on the raw input."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.mu = nn.Linear(in_dim, out_dim)
        self.logvar = nn.Linear(in_dim, out_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mu(x), self.logvar(x)


class ReluDecoder(nn.Module):
    """z [B, d_in] -> ReLU(Linear(z)) [B, d_out] (the published decoders rectify their output)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc(z))


class Discriminator(nn.Module):
    """Total-correlation critic: [B, d] -> probability [B, 1] that the pair (z_r, z_v) is joint."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim // 4), nn.ReLU(), nn.Linear(dim // 4, 1), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class SADVAE(nn.Module):
    """Skeleton VAE (z_r, z_v), text VAE (z_y in the z_r space), cross decoders and the TC critic.

    Args:
        cfg: sizes and switches.
    """

    def __init__(self, cfg: SADVAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.skeleton_encoder = GaussianEncoder(cfg.feature_dim, cfg.latent_dim)
        self.text_encoder = GaussianEncoder(cfg.text_dim, cfg.semantic_dim)
        self.skeleton_decoder = ReluDecoder(cfg.latent_dim, cfg.feature_dim)  # input [semantic, style]
        self.text_decoder = ReluDecoder(cfg.semantic_dim, cfg.text_dim)
        self.discriminator = Discriminator(cfg.latent_dim) if cfg.total_correlation else None
        self.apply(lambda m: _init_linear(m, cfg.init_gain))

    def vae_parameters(self) -> list[nn.Parameter]:
        """Parameters of the encoders and decoders (the generator optimiser's)."""
        mods = (self.skeleton_encoder, self.text_encoder, self.skeleton_decoder, self.text_decoder)
        return [p for m in mods for p in m.parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        """Parameters of the TC critic (empty without ``total_correlation``)."""
        return [] if self.discriminator is None else list(self.discriminator.parameters())

    def encode_skeleton(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Skeleton features [B, d_x] -> (mu_r, logvar_r) [B, d_r] and (mu_v, logvar_v) [B, d_v].

        Without ``disentangle`` the style tensors are [B, 0].
        """
        mu, logvar = self.skeleton_encoder(x)  # (B, d_r + d_v)
        r = self.cfg.semantic_dim
        return mu[:, :r], logvar[:, :r], mu[:, r:], logvar[:, r:]

    def encode_text(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Text embeddings [B, d_y] -> (mu_y, logvar_y) [B, d_r]."""
        return self.text_encoder(y)

    def semantic(self, x: torch.Tensor) -> torch.Tensor:
        """The semantic mean mu_r [B, d_r] of skeleton features [B, d_x] (what inference classifies)."""
        return self.skeleton_encoder.mu(x)[:, : self.cfg.semantic_dim]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`semantic`: [B, d_x] -> [B, d_r]."""
        return self.semantic(x)

    def _sample(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return reparameterize(mu, logvar, self.cfg.shared_noise)

    def loss(self, x: torch.Tensor, y: torch.Tensor, weights: Mapping[str, float]) -> dict[str, torch.Tensor]:
        """The generator (VAE) objective of one mini-batch.

        L = MSE(x, x^) + MSE(y, y^) + beta_x [KL_r + KL_v] + beta_y KL_y
            + lambda_cross [MSE(x, D_x([z_y, z_v])) + MSE(y, D_y(z_r))] + w_tc mean D_T([z_r, z_v])

        Gradients also reach the critic's parameters: step only :meth:`vae_parameters` with it.

        Args:
            x: skeleton features [B, d_x].
            y: the text embedding of each sample's class [B, d_y].
            weights: ``beta_x``, ``beta_y``, ``lambda_cross`` (see :func:`schedule_weights`) and
                optionally ``tc`` (the critic penalty weight; defaults to ``beta_y`` as published).

        Returns:
            ``loss`` (the weighted total) and the unweighted terms ``recon_x``, ``recon_y``, ``kl_x``,
            ``kl_y``, ``cross_x``, ``cross_y`` and ``tc`` (0 without the critic); all scalars.
        """
        mu_r, lv_r, mu_v, lv_v = self.encode_skeleton(x)
        z_r = self._sample(mu_r, lv_r)
        z_v = self._sample(mu_v, lv_v)  # (B, 0) without disentangling
        mu_y, lv_y = self.encode_text(y)
        z_y = self._sample(mu_y, lv_y)

        terms = {
            "recon_x": F.mse_loss(self.skeleton_decoder(torch.cat([z_r, z_v], dim=1)), x),
            "recon_y": F.mse_loss(self.text_decoder(z_y), y),
            "kl_x": kl_divergence(mu_r, lv_r) + (kl_divergence(mu_v, lv_v) if self.cfg.disentangle else 0.0),
            "kl_y": kl_divergence(mu_y, lv_y),
            "cross_x": F.mse_loss(self.skeleton_decoder(torch.cat([z_y, z_v], dim=1)), x),
            "cross_y": F.mse_loss(self.text_decoder(z_r), y),
        }
        if self.discriminator is not None:
            terms["tc"] = self.discriminator(torch.cat([z_r, z_v], dim=1)).mean()
        else:
            terms["tc"] = x.new_zeros(())
        beta_x, beta_y = float(weights["beta_x"]), float(weights["beta_y"])
        lam, w_tc = float(weights["lambda_cross"]), float(weights.get("tc", beta_y))
        total = (
            terms["recon_x"]
            + terms["recon_y"]
            + beta_x * terms["kl_x"]
            + beta_y * terms["kl_y"]
            + lam * (terms["cross_x"] + terms["cross_y"])
            + w_tc * terms["tc"]
        )
        return {"loss": total, **terms}

    def discriminator_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The critic's BCE on joint vs. shuffled latents, skeleton and text branches averaged.

        Fresh samples; each "shuffled" batch permutes both halves with independent permutations.
        The published code scales this by beta_y before stepping the critic; do that in the loop.
        The encoders run without gradient: the published code clears the gradients this step
        leaves on them before the VAE step, so the critic's update is the same.

        Args:
            x: skeleton features [B, d_x] (B >= 2).
            y: class text embeddings [B, d_y].

        Returns:
            scalar (L_s + L_t) / 2 with L = (BCE(D(joint), 1) + BCE(D(shuffled), 0)) / 2.

        Raises:
            ConfigError: the model has no critic (``total_correlation=False``).
        """
        if self.discriminator is None:
            raise ConfigError("discriminator_loss needs SADVAEConfig.total_correlation=True")
        with torch.no_grad():
            mu_r, lv_r, mu_v, lv_v = self.encode_skeleton(x)
            mu_y, lv_y = self.encode_text(y)
            z_r, z_v = self._sample(mu_r, lv_r), self._sample(mu_v, lv_v)
            z_y, z_v2 = self._sample(mu_y, lv_y), self._sample(mu_v, lv_v)
        b = x.shape[0]

        def branch(sem: torch.Tensor, sty: torch.Tensor) -> torch.Tensor:
            shuffled = torch.cat(
                [sem[torch.randperm(b, device=sem.device)], sty[torch.randperm(b, device=sty.device)]], 1
            )
            p_joint = self.discriminator(torch.cat([sem, sty], dim=1))
            p_shuf = self.discriminator(shuffled)
            return 0.5 * (
                F.binary_cross_entropy(p_joint, torch.ones_like(p_joint))
                + F.binary_cross_entropy(p_shuf, torch.zeros_like(p_shuf))
            )

        return 0.5 * (branch(z_r, z_v) + branch(z_y, z_v2))


class LatentClassifier(nn.Module):
    """Zero-shot head on the semantic latent: Linear(d_r, n) (+ ReLU on the logits, as published).

    Args:
        semantic_dim: d_r.
        num_classes: n, the classes of the label set.
        relu_logits: rectify the logits (the published quirk, kept for fidelity).
        init_gain: xavier-uniform gain.
    """

    def __init__(self, semantic_dim: int, num_classes: int, relu_logits: bool = True, init_gain: float = 0.5) -> None:
        super().__init__()
        if num_classes < 1:
            raise ConfigError(f"a latent classifier needs at least one class, got {num_classes}")
        self.fc = nn.Linear(semantic_dim, num_classes)
        self.relu_logits = relu_logits
        _init_linear(self.fc, init_gain)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """[B, d_r] -> logits [B, n]."""
        logits = self.fc(z)
        return F.relu(logits) if self.relu_logits else logits


def fit_latent_classifier(
    model: SADVAE,
    text_emb: torch.Tensor,
    samples_per_class: int = 500,
    steps: int = 300,
    lr: float = 1e-3,
    seed: int = 0,
    relu_logits: bool = True,
) -> LatentClassifier:
    """Train a fresh :class:`LatentClassifier` on latents sampled once from the text VAE (section 4.4).

    Args:
        model: a trained SA-DVAE (its training mode is restored afterwards).
        text_emb: one L2-normalised embedding per class [n, d_y], in label order.
        samples_per_class: latents drawn per class.
        steps: full-batch Adam steps.
        lr: Adam learning rate.
        seed: seeds the latent noise and the classifier's initial weights.
        relu_logits: see :class:`LatentClassifier`.

    Returns:
        the classifier in eval mode, on ``text_emb``'s device; class c is row c of ``text_emb``.
    """
    if text_emb.ndim != 2 or text_emb.shape[1] != model.cfg.text_dim:
        raise ConfigError(f"text_emb must be [n, {model.cfg.text_dim}], got {tuple(text_emb.shape)}")
    device = text_emb.device
    gen = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()
    n = text_emb.shape[0]
    with torch.no_grad():
        mu, logvar = model.encode_text(text_emb.float().repeat_interleave(samples_per_class, dim=0))
        z = reparameterize(mu, logvar, model.cfg.shared_noise, generator=gen)  # (n*S, d_r)
    model.train(was_training)
    labels = torch.arange(n, device=device).repeat_interleave(samples_per_class)

    clf = LatentClassifier(model.cfg.semantic_dim, n, relu_logits=relu_logits, init_gain=model.cfg.init_gain)
    nn.init.xavier_uniform_(clf.fc.weight, gain=model.cfg.init_gain, generator=torch.Generator().manual_seed(seed))
    clf.to(device)
    opt = torch.optim.Adam(clf.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(clf(z), labels).backward()
        opt.step()
    return clf.eval()


@torch.no_grad()
def classify(model: SADVAE, clf: LatentClassifier, features: torch.Tensor) -> torch.Tensor:
    """Class probabilities softmax(C(mu_r(x))) [N, n] of skeleton features [N, d_x]."""
    was_model, was_clf = model.training, clf.training
    model.eval()
    clf.eval()
    probs = torch.softmax(clf(model.semantic(features)), dim=1)
    model.train(was_model)
    clf.train(was_clf)
    return probs
