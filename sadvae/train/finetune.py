"""Fine-tuning the last units of the NTU-pretrained Shift-GCN on cached unit inputs (frozen vs fine-tuned).

The released Shift-GCN has ten units; the frozen recipe trains heads on its pooled 256-d feature. Here the
last ``units`` units are trained too, together with a linear head over the training sets' classes, on the
training sets' windows. Running the whole network per step would cost several times more (the ten units
take about 5x the last unit's multiply-adds), so the input of the first tuned unit is computed once per window
(:class:`UnitInputs`, cached by :func:`sadvae.train.window_features.window_features` like any per-window
feature) and only the tuned units run in training.

One-person windows only (the live loop scores one tracked person; every shared labelled set but NTU holds
one person): the empty second person slot goes through the tuned units as a constant input, exactly as the
full network treats it. BatchNorm statistics stay the pretrained ones (windows of one action set are too
narrow a batch to re-estimate them); its affine parameters train.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sadvae.errors import ConfigError

__all__ = ["FinetuneConfig", "TunedTop", "UnitInputs", "fit_tuned"]

log = logging.getLogger(__name__)


class UnitInputs:
    """A :class:`sadvae.features.ShiftGCNExtractor` whose ``encode`` returns the input of the first tuned unit.

    ``encode(windows)`` gives (flattened unit inputs of person 1, float32 [N, C * T' * V]; the frozen
    network's NTU logits [N, 120]), so the per-window cache stores what :func:`fit_tuned` trains on next to
    the logits the fused scoring needs. Windows with a second person are refused.
    """

    def __init__(self, base, units: int = 1):
        if units < 1:
            raise ConfigError(f"units to tune must be >= 1, got {units}")
        self.base, self.units = base, int(units)
        self.id = base.id
        self.settings = dict(base.settings, output=f"input of the last {self.units} unit(s), person 1")
        self.batch_size = base.batch_size

    @property
    def model(self):
        return self.base.model

    def windows(self, seq) -> list[np.ndarray]:
        return self.base.windows(seq)

    def encode(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        model = self.model.eval()
        if self.units >= len(model.units):
            raise ConfigError(f"units to tune must be fewer than the network's {len(model.units)}, got {self.units}")
        x = torch.as_tensor(np.asarray(windows, np.float32))
        if x.shape[-1] > 1 and bool((x[..., 1:] != 0).any()):
            raise ConfigError(
                "fine-tuning takes one-person windows only; this set has windows with a second person "
                "(drop it from --sources or use the frozen methods)"
            )
        head, tail = model.units[: -self.units], model.units[-self.units :]
        acts, logits = [], []
        with torch.no_grad():
            empty = _empty_slot_input(model, x.shape[2], head)
            f0 = _pooled(tail, empty)
            for a in range(0, len(x), self.batch_size):
                h = model._slot_input(x[a : a + self.batch_size], 0)
                for unit in head:
                    h = unit(h)
                acts.append(h.reshape(len(h), -1).numpy())
                logits.append(model.forward_head((_pooled(tail, h) + f0) / 2).numpy())
        return np.concatenate(acts).astype(np.float32), np.concatenate(logits).astype(np.float32)


def _empty_slot_input(model, t: int, head) -> torch.Tensor:
    """The unit input of an all-zero second person slot at window length ``t``: [1, C, T', V]."""
    cfg = model.cfg
    zeros = torch.zeros(1, cfg.in_channels, t, cfg.num_joints, cfg.num_persons)
    h = model._slot_input(zeros, 1)
    for unit in head:
        h = unit(h)
    return h


def _pooled(units, h: torch.Tensor) -> torch.Tensor:
    for unit in units:
        h = unit(h)
    return h.mean(dim=(2, 3))


@dataclass(frozen=True)
class FinetuneConfig:
    """Training of the tuned units and the head (fixed in advance, not selected on any target).

    Attributes:
        units: how many of the last units train (1: ``l10``); must match the cached :class:`UnitInputs`.
        tune: False trains the head alone on the frozen units (the control: same windows, optimiser, epochs).
        epochs, batch_size: passes over the training windows and windows per step.
        lr_units, lr_head: AdamW learning rates; weight_decay: AdamW's decoupled decay.
        label_smoothing: of the cross-entropy.
        seed: batch order and head initialisation.
        threads: torch threads (0: leave as is).
    """

    units: int = 1
    tune: bool = True
    epochs: int = 6
    batch_size: int = 64
    lr_units: float = 1e-4
    lr_head: float = 1e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    seed: int = 0
    threads: int = 0


class TunedTop(nn.Module):
    """The last units of a Shift-GCN (a copy) and a linear head: unit inputs [N, C, T', V] -> logits [N, K]."""

    def __init__(self, model, units: int, num_classes: int, window: int):
        super().__init__()
        self.units = nn.Sequential(*copy.deepcopy(list(model.units[-units:])))
        with torch.no_grad():
            self.register_buffer("empty", _empty_slot_input(model, window, model.units[:-units]))
        d = model.cfg.feature_dim
        self.register_buffer("mu", torch.zeros(d))  # standardisation of the features for the head (set by fit)
        self.register_buffer("sd", torch.ones(d))
        self.head = nn.Linear(d, num_classes)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.shape = tuple(self.empty.shape[1:])

    def train(self, mode: bool = True) -> TunedTop:
        super().train(mode)
        for m in self.modules():  # the pretrained statistics stay (module docstring)
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
        return self

    def features(self, acts: torch.Tensor) -> torch.Tensor:
        """Pooled 256-d features of flattened or shaped unit inputs (person 1 + the empty slot, averaged)."""
        h = acts.reshape(-1, *self.shape)
        return (_pooled(self.units, h) + _pooled(self.units, self.empty)) / 2

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Head logits of pooled features."""
        return self.head((features - self.mu) / self.sd)

    def forward(self, acts: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(acts))

    @torch.no_grad()
    def predict_features(self, acts: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """Features float32 [N, 256] of cached unit inputs [N, C * T' * V]."""
        self.eval()
        out = [
            self.features(torch.as_tensor(acts[a : a + batch_size])).numpy() for a in range(0, len(acts), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros((0, self.head.in_features), np.float32)


def fit_tuned(
    model, acts: np.ndarray, labels: np.ndarray, num_classes: int, window: int, cfg: FinetuneConfig
) -> TunedTop:
    """Train the last ``cfg.units`` units of ``model`` (a copy) and a head on cached unit inputs.

    Args:
        model: the frozen pretrained :class:`sadvae.models.shiftgcn.ShiftGCN` (left untouched).
        acts: float32 [N, C * T' * V] from :class:`UnitInputs`; labels: int64 [N] in [0, num_classes).
        window: the windows' length T (frames), for the empty slot's input.
        cfg: the training.

    Returns:
        The trained :class:`TunedTop` (eval mode).
    """
    labels = np.asarray(labels, np.int64)
    if len(acts) != len(labels) or not len(acts):
        raise ConfigError(f"fine-tuning needs one label per window, got {len(acts)} windows and {len(labels)} labels")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ConfigError(f"labels must lie in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    old = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        torch.manual_seed(cfg.seed)
        top = TunedTop(model, cfg.units, num_classes, window)
        for p in top.units.parameters():
            p.requires_grad_(cfg.tune)
        groups = [{"params": top.head.parameters(), "lr": cfg.lr_head}]
        if cfg.tune:
            groups.append({"params": top.units.parameters(), "lr": cfg.lr_units})
        opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        rng = np.random.default_rng(cfg.seed)
        frozen = torch.as_tensor(top.predict_features(acts))
        top.mu.copy_(frozen.mean(0))
        top.sd.copy_(frozen.std(0) + 1e-6)
        frozen = None if cfg.tune else frozen  # the control computes the features once
        y_all = torch.as_tensor(labels)
        for epoch in range(cfg.epochs):
            top.train()
            order, total = rng.permutation(len(labels)), 0.0
            for a in range(0, len(order), cfg.batch_size):
                idx = order[a : a + cfg.batch_size]
                if frozen is None:
                    logits = top(torch.as_tensor(acts[idx]))
                else:
                    logits = top.classify(frozen[idx])
                loss = loss_fn(logits, y_all[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            log.info("fine-tune epoch %d/%d: loss %.3f", epoch + 1, cfg.epochs, total / len(order))
    finally:
        torch.set_num_threads(old)
    return top.eval()
