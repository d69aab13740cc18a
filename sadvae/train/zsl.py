"""Train SA-DVAE on backbone features of the seen classes (reference sections 4.1-4.4).

One training run is ``cycles`` cycles of ``iters_per_cycle`` mini-batch iterations. The published code
makes a cycle one pass over NTU's ~31k training features (~1000 iterations); small datasets hold a few
hundred samples, so a cycle here is a fixed iteration count (SynSE's original cycle was 1700
iterations) and the cyclical loss weights run over it exactly as the reference describes.

After every cycle a fresh latent classifier is fitted on latents sampled from the text VAE for the
target classes, and the caller's ``evaluate`` callback scores it; the caller decides which cycle to
keep (on validation data only, outside ``--protocol paper``).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from sadvae.models.sadvae import SADVAE, LatentClassifier, SADVAEConfig, classify, fit_latent_classifier
from sadvae.models.schedule import ScheduleConfig, schedule_weights

__all__ = ["VARIANTS", "ZSLTrainConfig", "zsl_config_from_flags", "CycleResult", "train_sadvae", "zsl_probs"]

log = logging.getLogger(__name__)

# ablation: naive alignment (CADA-VAE-like) -> disentangled -> disentangled + total correlation
VARIANTS = {
    "naive": {"disentangle": False, "total_correlation": False},
    "disentangled": {"disentangle": True, "total_correlation": False},
    "tc": {"disentangle": True, "total_correlation": True},
}


@dataclass(frozen=True)
class ZSLTrainConfig:
    """SA-DVAE training.

    Attributes:
        variant: "naive", "disentangled" or "tc" (full SA-DVAE).
        semantic_dim: d_r.
        style_dim: d_v (ignored by "naive").
        cycles: number of cycles (the published code's 10 "epochs").
        iters_per_cycle: mini-batch iterations per cycle.
        batch_size: features per mini-batch.
        lr: Adam learning rate of the VAEs and of the critic.
        dis_step: the critic is updated every ``dis_step`` iterations.
        schedule: "official" or "paper" loss-weight schedule.
        schedule_cfg: the schedule's constants.
        samples_per_class: text-VAE latents per class for the latent classifier.
        classifier_steps: full-batch Adam steps of the latent classifier.
        classifier_lr: its learning rate.
        relu_logits: the latent classifier rectifies its logits (published; a class whose logits start
            negative on its own text latents then gets no gradient and never wins). False: plain logits.
        shared_noise: one noise scalar per sample (published) or per dimension.
        seed: seeds everything.
        device: torch device.
    """

    variant: str = "tc"
    semantic_dim: int = 64
    style_dim: int = 8
    cycles: int = 10
    iters_per_cycle: int = 400
    batch_size: int = 32
    lr: float = 1e-4
    dis_step: int = 5
    schedule: str = "official"
    schedule_cfg: ScheduleConfig = field(default_factory=ScheduleConfig)
    samples_per_class: int = 500
    classifier_steps: int = 300
    classifier_lr: float = 1e-3
    relu_logits: bool = True
    shared_noise: bool = True
    seed: int = 0
    device: str = "cpu"

    def model_config(self, feature_dim: int, text_dim: int) -> SADVAEConfig:
        if self.variant not in VARIANTS:
            from sadvae.errors import ConfigError

            raise ConfigError(f"unknown SA-DVAE variant {self.variant!r}; choose one of {sorted(VARIANTS)}")
        switches = VARIANTS[self.variant]
        return SADVAEConfig(
            feature_dim=feature_dim,
            text_dim=text_dim,
            semantic_dim=self.semantic_dim,
            style_dim=self.style_dim if switches["disentangle"] else 0,
            shared_noise=self.shared_noise,
            **switches,
        )


def zsl_config_from_flags(args, **settings) -> ZSLTrainConfig:
    """The :class:`ZSLTrainConfig` of the command line's SA-DVAE flags (``--semantic-dim``, ``--style-dim``,
    ``--cycles``, ``--iters-per-cycle``, ``--lr-vae``, ``--device``: ``sadvae train`` and ``sadvae benchmark``),
    with ``settings`` for its other fields."""
    return ZSLTrainConfig(
        semantic_dim=args.semantic_dim,
        style_dim=args.style_dim,
        cycles=args.cycles,
        iters_per_cycle=args.iters_per_cycle,
        lr=args.lr_vae,
        device=args.device,
        **settings,
    )


@dataclass
class CycleResult:
    """What one cycle produced: the model snapshot, its latent classifier and the caller's metrics."""

    cycle: int
    model: SADVAE
    classifier: LatentClassifier
    metrics: dict[str, float]
    losses: dict[str, float]


def zsl_probs(model: SADVAE, clf: LatentClassifier, features: np.ndarray, device: str = "cpu") -> np.ndarray:
    """softmax(C(mu_r(x))) [n, classes] for skeleton features [n, d_x]."""
    if len(features) == 0:
        return np.zeros((0, clf.fc.out_features), np.float32)
    return classify(model, clf, torch.as_tensor(features, dtype=torch.float32, device=device)).cpu().numpy()


def train_sadvae(
    features: np.ndarray,
    labels: np.ndarray,
    text_emb: np.ndarray,
    target_classes: tuple[int, ...],
    cfg: ZSLTrainConfig,
    evaluate: Callable[[SADVAE, LatentClassifier], dict[str, float]] | None = None,
) -> list[CycleResult]:
    """Train SA-DVAE and fit a latent classifier for ``target_classes`` after every cycle.

    Args:
        features: [n, d_x] backbone features of the seen-class training samples.
        labels: [n] their global class ids (rows of ``text_emb``).
        text_emb: [N, d_y] L2-normalised embeddings of every class, indexed by global class id.
        target_classes: the classes the latent classifier chooses between (unseen or pseudo-unseen).
        cfg: training configuration.
        evaluate: called after each cycle with (model, classifier); returns metrics to record.

    Returns:
        one :class:`CycleResult` per cycle (models are independent snapshots).
    """
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = torch.device(cfg.device)
    x_all = torch.as_tensor(features, dtype=torch.float32, device=device)
    text = torch.as_tensor(text_emb, dtype=torch.float32, device=device)
    y_all = text[torch.as_tensor(labels, dtype=torch.long, device=device)]
    model = SADVAE(cfg.model_config(x_all.shape[1], text.shape[1])).to(device)
    opt = torch.optim.Adam(model.vae_parameters(), lr=cfg.lr)
    opt_d = torch.optim.Adam(model.discriminator_parameters(), lr=cfg.lr) if cfg.variant == "tc" else None
    target_emb = text[torch.as_tensor(target_classes, dtype=torch.long, device=device)]
    n = len(x_all)
    batch = min(cfg.batch_size, n)
    results: list[CycleResult] = []
    bar = tqdm(range(cfg.cycles), desc=f"sa-dvae[{cfg.variant}]", unit="cycle", leave=False)
    for cycle in bar:
        model.train()
        order = rng.permutation(n)
        pos = 0
        sums: dict[str, float] = {}
        countdown = cfg.dis_step
        for i in range(cfg.iters_per_cycle):
            if pos + batch > n:
                order, pos = rng.permutation(n), 0
            idx = torch.as_tensor(order[pos : pos + batch], device=device)
            pos += batch
            x, y = x_all[idx], y_all[idx]
            w = schedule_weights(i, cfg.iters_per_cycle, cycle, cfg.schedule, cfg=cfg.schedule_cfg)
            countdown -= 1
            if opt_d is not None and countdown == 0:
                countdown = cfg.dis_step
                critic = model.discriminator_loss(x, y)
                opt_d.zero_grad(set_to_none=True)
                (w["beta_y"] * critic).backward()  # published: the critic's loss is scaled by beta_y
                opt_d.step()
                sums["critic"] = sums.get("critic", 0.0) + float(critic.detach()) * cfg.dis_step
            out = model.loss(x, y, w)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            opt.step()
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
        losses = {k: v / cfg.iters_per_cycle for k, v in sums.items()}
        clf = fit_latent_classifier(
            model,
            target_emb,
            cfg.samples_per_class,
            cfg.classifier_steps,
            cfg.classifier_lr,
            seed=cfg.seed + cycle,
            relu_logits=cfg.relu_logits,
        )
        metrics = evaluate(model, clf) if evaluate is not None else {}
        bar.set_postfix(loss=f"{losses['loss']:.3f}", **{k: f"{v:.3f}" for k, v in metrics.items()})
        results.append(CycleResult(cycle, copy.deepcopy(model).eval(), clf, metrics, losses))
    return results
