"""Models: the ST-GCN and Shift-GCN backbones, SA-DVAE and its latent classifier (needs torch: the ``train`` extra)."""

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
from sadvae.models.shiftgcn import ShiftGCN, ShiftGCNConfig
from sadvae.models.shiftgcn_ensemble import ShiftGCNEnsemble, ShiftGCNEnsembleConfig
from sadvae.models.stgcn import PRESETS, STGCN, STGCNConfig

__all__ = [
    "BACKBONES",
    "BACKBONE_CONFIGS",
    "build_backbone",
    "ShiftGCN",
    "ShiftGCNConfig",
    "ShiftGCNEnsemble",
    "ShiftGCNEnsembleConfig",
    "ONE_PERSON_ARCHS",
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

BACKBONES = {"stgcn": STGCN, "shiftgcn": ShiftGCN, "shiftgcn_ensemble": ShiftGCNEnsemble}
BACKBONE_CONFIGS = {"stgcn": STGCNConfig, "shiftgcn": ShiftGCNConfig, "shiftgcn_ensemble": ShiftGCNEnsembleConfig}
# backbones with a one-person graph for live windows (sadvae.models.live.live_backbone)
ONE_PERSON_ARCHS = ("shiftgcn", "shiftgcn_ensemble")


def build_backbone(cfg: dict):
    """A backbone rebuilt from its saved config (``dataclasses.asdict(model.cfg)``, as bundles store it).

    The config's ``arch`` field names the backbone (``BACKBONES``); a config without one is an ST-GCN's.

    Raises:
        ConfigError: an unknown ``arch``.
    """
    from collections.abc import Mapping

    from sadvae.errors import ConfigError

    if not isinstance(cfg, Mapping):
        raise ConfigError(f"a backbone config must be a mapping of its fields, got {type(cfg).__name__}")
    arch = cfg.get("arch", "stgcn")
    if arch not in BACKBONES:
        raise ConfigError(f"unknown backbone {arch!r}; valid backbones: {sorted(BACKBONES)}")
    kwargs = dict(cfg) if arch != "stgcn" else {k: v for k, v in cfg.items() if k != "arch"}
    return BACKBONES[arch](BACKBONE_CONFIGS[arch](**kwargs))
