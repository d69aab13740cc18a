"""Models: the ST-GCN backbone, SA-DVAE and its latent classifier (needs torch: the ``train`` extra)."""

from __future__ import annotations

from sadvae.models.sadvae import (
    SADVAE,
    LatentClassifier,
    SADVAEConfig,
    ScheduleConfig,
    classify,
    fit_latent_classifier,
    schedule_weights,
)
from sadvae.models.stgcn import PRESETS, STGCN, STGCNConfig

__all__ = [
    "BACKBONES",
    "PRESETS",
    "STGCN",
    "STGCNConfig",
    "SADVAE",
    "SADVAEConfig",
    "ScheduleConfig",
    "schedule_weights",
    "LatentClassifier",
    "fit_latent_classifier",
    "classify",
]

BACKBONES = {"stgcn": STGCN}
