"""A tiny random-weight model bundle and its ONNX export, for export and backend tests (not a test module).

pytest runs with ``--import-mode=importlib``, so the session fixture ``bundle_fixtures`` in
``tests/conftest.py`` loads this file by path under the fixed name ``MODULE_NAME``: every test
file shares one module and :func:`tiny_model` exports once per session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from sadvae.bundle import save_bundle
from sadvae.data.preprocess import PreprocessConfig
from sadvae.evaluate import Gate
from sadvae.models.sadvae import SADVAE, SADVAEConfig
from sadvae.models.stgcn import STGCN, STGCNConfig
from sadvae.text import TextConfig

MODULE_NAME = "sadvae_tests_fixtures_bundle"
CLASS_NAMES = ("wave", "clap", "jump", "sit down", "stand up", "kick")
SEEN, UNSEEN = (0, 1, 2, 4), (3, 5)


def make_tiny_bundle(path: Path, seed: int = 0, window: int = 32, persons: int = 2) -> Path:
    """Write a bundle of a light-preset ST-GCN (4 seen classes) and a small SA-DVAE with random weights.

    BatchNorm running statistics are randomised too, so the eval-mode graph is not an identity.
    """
    torch.manual_seed(seed)
    backbone = _randomise_batchnorm(STGCN(STGCNConfig.from_preset("light", len(SEEN))))
    return _save_random(
        path,
        backbone,
        backbone.feature_dim,
        seed,
        class_names=CLASS_NAMES,
        seen_classes=SEEN,
        unseen_classes=UNSEEN,
        preprocess=PreprocessConfig(window=window, persons=persons),
    )


def _randomise_batchnorm(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` with random BatchNorm running statistics (so its eval-mode graph is not an identity)."""
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    return module


def _save_random(path: Path, backbone: torch.nn.Module, feature_dim: int, seed: int, **fields: Any) -> Path:
    """Save ``backbone`` with a new small random SA-DVAE and a neutral gate; ``fields`` are the bundle's own."""
    sadvae = SADVAE(SADVAEConfig(feature_dim=feature_dim, text_dim=32, semantic_dim=16, style_dim=4))
    gate = Gate(temperature=1.0, threshold=0.5, k=3, coef=np.zeros(6), intercept=0.0)
    return save_bundle(
        path,
        backbone=backbone.eval(),
        sadvae=sadvae.eval(),
        gate=gate,
        encoder_id="test-encoder",
        text_cfg=TextConfig(),
        metrics={},
        provenance={"dataset": "synthetic", "seed": seed},
        **fields,
    )


_EXPORTS: dict[Path, tuple[Path, Any]] = {}


def tiny_model(base: Path) -> tuple[Path, Any]:
    """(bundle path, ``sadvae.export.ExportReport`` of its dynamo export) under ``base``, made once per base."""
    from sadvae.export import export_onnx

    if base not in _EXPORTS:
        bundle = make_tiny_bundle(base / "tiny_bundle.pt")
        _EXPORTS[base] = (bundle, export_onnx(bundle, base / "tiny.onnx"))
    return _EXPORTS[base]


SHIFT_NAMES = ("wave", "clap", "jump", "stand up", "kick", "sit down", "bow")  # 4 fc + 2 extra seen, 1 unseen
SHIFT_SEEN, SHIFT_UNSEEN = (0, 1, 2, 3, 4, 6), (5,)


def make_tiny_shiftgcn_bundle(
    path: Path, seed: int = 0, window: int = 64, live_persons: int | None = 1, stride: int | None = 16
) -> Path:
    """Write a bundle of a random-weight Shift-GCN (4 fc classes + a 2-class extra head) and a small SA-DVAE.

    The window config is the NTU-pretrained one (30 fps, ``window`` frames, 2 slots, ``normalization="ntu"``);
    the live config asks for ``live_persons`` slots and ``stride`` model frames; terms say CC BY-NC 4.0.
    BatchNorm running statistics and temporal shift offsets are randomised, so the graph is not trivial.
    """
    from sadvae.bundle import LiveConfig
    from sadvae.models.extra_head import ExtraHeadBackbone
    from sadvae.models.shiftgcn import ShiftGCN, ShiftGCNConfig

    torch.manual_seed(seed)
    net = _randomise_batchnorm(ShiftGCN(ShiftGCNConfig(num_classes=4, shift_init=1.5)))
    backbone = ExtraHeadBackbone(net, torch.nn.Linear(net.feature_dim, 2))
    return _save_random(
        path,
        backbone,
        net.feature_dim,
        seed,
        class_names=SHIFT_NAMES,
        seen_classes=SHIFT_SEEN,
        unseen_classes=SHIFT_UNSEEN,
        preprocess=PreprocessConfig(window=window, fps=30.0, persons=2, normalization="ntu"),
        terms={"license": "CC-BY-NC-4.0", "notice": "test bundle: random weights"},
        live=LiveConfig(stride=stride, persons=live_persons),
    )
