"""A frozen backbone's BatchNorm statistics re-estimated on another capture system's windows (AdaBN).

A network trained on one capture system (the released Shift-GCN: NTU's Kinect v2) normalises every layer with that
system's running means and variances. Another system (Kinect v1, mocap, MediaPipe on a webcam) moves those
statistics; re-estimating them on the new system's own windows, with no label and no weight changed, lines its
features up with what the layers were trained to read (Li et al., "Revisiting Batch Normalization For Practical
Domain Adaptation", 2016). Measured in docs/cross_dataset.md rounds 22-23.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import numpy as np

from sadvae.errors import ConfigError

__all__ = ["batchnorm_layers", "reestimate_batchnorm"]


def batchnorm_layers(model) -> list:
    """The model's BatchNorm modules (any dimension), in module order."""
    import torch

    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def reestimate_batchnorm(model, batches: Iterable[np.ndarray]):
    """A copy of ``model`` whose BatchNorm running statistics are re-estimated on ``batches``; the original is
    untouched and nothing but the running means and variances changes.

    Each batch's mean and variance enter a plain average over batches (momentum None, every batch weighs the same),
    so the batches should be of one size and drawn at random: the average of the batches' variances misses the spread
    between batches, which batches of one clip's windows would make large. Batches of one window are skipped: a
    variance needs two.

    Args:
        model: a network in any mode (e.g. :class:`sadvae.models.shiftgcn.ShiftGCN`); it must have BatchNorm layers
            and no dropout (its forward in training mode must be its eval forward with batch statistics).
        batches: float32 model inputs, e.g. windows [n, 3, T, 25, 2] in groups of 16-64.

    Returns:
        The adapted copy, in eval mode, gradients off. A channel whose re-estimated variance is 0 (the windows never
        moved it, e.g. a person slot that is always empty) keeps the re-estimated mean and the original variance.

    Raises:
        ConfigError: the model has no BatchNorm layer, or no batch of two windows or more was given.
    """
    import torch

    adapted = copy.deepcopy(model)
    layers = batchnorm_layers(adapted)
    if not layers:
        raise ConfigError(f"{type(model).__name__} has no BatchNorm layer whose statistics could be re-estimated")
    if any(isinstance(m, torch.nn.modules.dropout._DropoutNd) for m in adapted.modules()):
        raise ConfigError(f"{type(model).__name__} has dropout: its training-mode forward is not its eval forward")
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
    adapted.train()
    param = next(adapted.parameters())
    seen = 0
    with torch.no_grad():
        for batch in batches:
            if len(batch) < 2:
                continue
            adapted(torch.as_tensor(np.asarray(batch, np.float32)).to(device=param.device, dtype=param.dtype))
            seen += len(batch)
    if not seen:
        raise ConfigError("no batch of two windows or more to re-estimate the BatchNorm statistics on")
    adapted.eval()  # (ShiftGCN.train / eval drop its cached empty-slot feature, made with the old statistics)
    for new, old in zip(layers, batchnorm_layers(model), strict=True):
        # a channel the windows never moved (a person slot always empty) keeps the constant they held as its mean,
        # so that constant still comes out as the layer's bias, and takes the released variance: a variance of 0
        # would multiply whatever appears there later (a second person) by 1 / sqrt(eps)
        still = new.running_var <= 0
        new.running_var[still] = old.running_var[still].to(new.running_var)
    for p in adapted.parameters():
        p.requires_grad_(False)
    return adapted
