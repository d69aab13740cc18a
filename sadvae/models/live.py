"""The live form of a bundle's backbone: the module the recognizer runs for the live window's person slots.

A two-slot Shift-GCN run on one-person live windows ([N, 3, T, 25, 1]) is
:class:`sadvae.models.shiftgcn.OnePersonShiftGCN` (the empty slot's pooled feature f0 is a constant
of the graph: exact for one person, half the cost) behind :class:`SlotAdapter`, which feeds it the
one slot it reads; a Shift-GCN ensemble is that of each member
(:meth:`sadvae.models.shiftgcn_ensemble.ShiftGCNEnsemble.one_person`).
Any extra head (:class:`sadvae.models.extra_head.ExtraHeadBackbone`) is kept.
"""

from __future__ import annotations

import torch
from torch import nn

from sadvae.errors import ConfigError

__all__ = ["SlotAdapter", "live_backbone"]


class SlotAdapter(nn.Module):
    """Takes windows [N, C, T, V, 1] and hands ``inner`` [N, C, T, V, M] with the one slot repeated.

    ``inner`` must read only slot 0 (as :class:`~sadvae.models.shiftgcn.OnePersonShiftGCN` does); the
    repeat is an Expand in the exported graph, no copy at run time in ONNX Runtime's optimised graph.

    Args:
        inner: the backbone-surface module reading slot 0 of M slots.
        slots: M, the slots ``inner`` expects.
    """

    def __init__(self, inner: nn.Module, slots: int) -> None:
        super().__init__()
        self.inner, self.slots, self.cfg = inner, int(slots), inner.cfg

    @property
    def feature_dim(self) -> int:
        return self.inner.feature_dim

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, T, V, 1] -> [N, feature_dim]."""
        if x.dim() != 5 or x.shape[4] != 1:
            raise ConfigError(f"this one-person backbone takes windows [N, C, T, V, 1], got {list(x.shape)}")
        return self.inner.forward_features(x.expand(-1, -1, -1, -1, self.slots))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.inner.forward_head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def live_backbone(backbone: nn.Module, persons: int, slots: int, window: int) -> nn.Module:
    """The module a recognizer runs for live windows of ``persons`` slots.

    Args:
        backbone: the bundle's backbone (an ``sadvae.models.BACKBONES`` model, or an
            :class:`~sadvae.models.extra_head.ExtraHeadBackbone` around one).
        persons: person slots of the live window.
        slots: person slots the model was trained with (``preprocess.persons``).
        window: the window length T (the one-person graph's constant f0 depends on it).

    Returns:
        ``backbone`` itself when ``persons == slots``; for ``persons == 1`` on a Shift-GCN of more
        slots, the one-person graph (weights shared, not copied) with the same extra head.

    Raises:
        ConfigError: any other combination (only a Shift-GCN has a one-person graph).
    """
    from sadvae.models.extra_head import ExtraHeadBackbone
    from sadvae.models.shiftgcn import OnePersonShiftGCN, ShiftGCN
    from sadvae.models.shiftgcn_ensemble import ShiftGCNEnsemble

    if persons == slots:
        return backbone
    inner = backbone.backbone if isinstance(backbone, ExtraHeadBackbone) else backbone
    if persons != 1 or not isinstance(inner, ShiftGCN | ShiftGCNEnsemble) or inner.cfg.num_persons != slots:
        raise ConfigError(
            f"live windows of {persons} person(s) for a {type(inner).__name__} of {slots} slot(s): "
            "only a Shift-GCN has a one-person graph (persons=1); use the model's own slots"
        )
    one_person = inner.one_person(window) if isinstance(inner, ShiftGCNEnsemble) else OnePersonShiftGCN(inner, window)
    one = SlotAdapter(one_person, slots)
    return backbone.with_backbone(one) if isinstance(backbone, ExtraHeadBackbone) else one
