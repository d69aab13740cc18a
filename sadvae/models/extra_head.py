"""A backbone whose seen-class logits are its own head's followed by an extra linear head's (same features).

A large trained vocabulary is scored in two parts: the classes the backbone's own classifier knows
(e.g. the 120 NTU actions of the released Shift-GCN fc) and classes trained later on the frozen
features (a linear head on the 256-d pooled feature). :class:`ExtraHeadBackbone` puts the two side
by side so that everything downstream (bundles, :class:`sadvae.export.Recognizer`, feature
extraction) sees one backbone with ``K = K_own + K_extra`` seen classes::

    seen_logits = concat(backbone.forward_head(f), extra(f))   # f = backbone.forward_features(x)

A model bundle stores the inner backbone (config + weights, as for any backbone) and the extra head
(its weights) separately; :func:`sadvae.bundle.load_bundle` rebuilds this wrapper.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from sadvae.errors import ConfigError

__all__ = ["ExtraHeadBackbone"]


class ExtraHeadBackbone(nn.Module):
    """``backbone`` with an extra linear head: the same surface as the backbone, logits [N, K_own + K_extra].

    Attributes:
        backbone: the wrapped backbone (an ``sadvae.models.BACKBONES`` model, or any module of the same
            surface, e.g. :class:`sadvae.models.shiftgcn.OnePersonShiftGCN`).
        extra: ``nn.Linear(feature_dim, K_extra)``.
        cfg: the backbone's config with ``num_classes`` = every seen column (K_own + K_extra); a
            description for readers of ``cfg.num_classes`` / ``cfg.in_channels``, never used to rebuild
            the inner model (``backbone.cfg`` is).

    Args:
        backbone: the backbone.
        extra: the extra head; its ``in_features`` must be the backbone's ``feature_dim``.

    Raises:
        ConfigError: the extra head does not take the backbone's features.
    """

    def __init__(self, backbone: nn.Module, extra: nn.Linear) -> None:
        super().__init__()
        if not isinstance(extra, nn.Linear):
            raise ConfigError(f"the extra head must be an nn.Linear, got {type(extra).__name__}")
        if extra.in_features != backbone.feature_dim:
            raise ConfigError(
                f"the extra head takes {extra.in_features}-d features but the backbone gives "
                f"{backbone.feature_dim}-d; they do not belong together"
            )
        self.backbone, self.extra = backbone, extra

    @property
    def cfg(self):
        inner = self.backbone.cfg
        return dataclasses.replace(inner, num_classes=int(inner.num_classes) + self.extra.out_features)

    @property
    def feature_dim(self) -> int:
        return self.backbone.feature_dim

    @property
    def own_classes(self) -> int:
        """K_own: columns scored by the backbone's own head (they come first)."""
        return int(self.backbone.cfg.num_classes)

    @property
    def extra_classes(self) -> int:
        """K_extra: columns scored by the extra head (after the backbone's)."""
        return int(self.extra.out_features)

    def with_backbone(self, backbone: nn.Module) -> ExtraHeadBackbone:
        """The same extra head (shared, not copied) on another module of the backbone's surface."""
        return ExtraHeadBackbone(backbone, self.extra)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Windows -> [N, feature_dim] (the backbone's)."""
        return self.backbone.forward_features(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """[N, feature_dim] -> [N, K_own + K_extra]: the backbone's logits, then the extra head's."""
        return torch.cat([self.backbone.forward_head(features), self.extra(features)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
