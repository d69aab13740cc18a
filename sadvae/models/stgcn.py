"""ST-GCN backbone (Yan et al., AAAI 2018), written to export cleanly to ONNX and TensorRT.

Input windows are float32 [N, C=3, T, V=25, M] (ST-GCN order). Persons are folded into the batch,
every block is graph conv -> BN -> ReLU -> temporal conv -> BN -> dropout -> (+ residual) -> ReLU,
and the pooled feature is averaged over the persons that are present in the window.

Export rules kept here: no einsum, no boolean indexing, no data-dependent shapes, no Python branch
on tensor values. The graph convolution is a 1x1 conv followed by one matmul with the stacked
(K*V, V) adjacency.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sadvae.errors import ConfigError
from sadvae.skeleton import NUM_JOINTS, spatial_adjacency

__all__ = ["STGCNConfig", "PRESETS", "STGCN", "GraphConv", "STGCNBlock", "present_persons"]

# Block widths and temporal strides per preset. "standard" is the published ST-GCN; "light" keeps
# the 256-d feature but halves the early widths and strides earlier (T=32 -> 16 -> 8).
PRESETS: dict[str, dict[str, tuple[int, ...]]] = {
    "standard": {
        "channels": (64, 64, 64, 64, 128, 128, 128, 256, 256, 256),
        "strides": (1, 1, 1, 1, 2, 1, 1, 2, 1, 1),
    },
    "light": {
        "channels": (32, 32, 64, 64, 128, 128, 256),
        "strides": (1, 1, 2, 1, 2, 1, 1),
    },
}


@dataclass(frozen=True)
class STGCNConfig:
    """ST-GCN architecture.

    Attributes:
        num_classes: classes of the classification head (the seen classes).
        in_channels: coordinates per joint (3: x, y, z).
        channels: output width of every block; the last one is the feature size.
        strides: temporal stride of every block (same length as ``channels``).
        temporal_kernel: temporal kernel size (odd).
        dropout: dropout after each block's temporal conv (not in the first block, as in ST-GCN).
        edge_importance: learn a multiplicative mask over each block's adjacency.
        persons: persons per window M the model is trained with (documentation only: the data BN is
            shared by all persons, so any M works at inference).
    """

    num_classes: int = 60
    in_channels: int = 3
    channels: tuple[int, ...] = PRESETS["standard"]["channels"]
    strides: tuple[int, ...] = PRESETS["standard"]["strides"]
    temporal_kernel: int = 9
    dropout: float = 0.5
    edge_importance: bool = True
    persons: int = 2

    def __post_init__(self) -> None:
        # tuples survive a round trip through JSON/TOML as lists; store them as tuples again
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "strides", tuple(int(s) for s in self.strides))
        if self.num_classes < 1:
            raise ConfigError(f"STGCNConfig.num_classes must be >= 1, got {self.num_classes}")
        if not self.channels or min(self.channels) < 1:
            raise ConfigError(f"STGCNConfig.channels must be non-empty positive widths, got {self.channels}")
        if len(self.strides) != len(self.channels):
            raise ConfigError(
                f"STGCNConfig.strides needs one stride per block: {len(self.channels)} channels, "
                f"got {len(self.strides)} strides"
            )
        if min(self.strides) < 1:
            raise ConfigError(f"STGCNConfig.strides must be >= 1, got {self.strides}")
        if self.temporal_kernel < 1 or self.temporal_kernel % 2 == 0:
            raise ConfigError(f"STGCNConfig.temporal_kernel must be a positive odd number, got {self.temporal_kernel}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"STGCNConfig.dropout must be in [0, 1), got {self.dropout}")

    @property
    def feature_dim(self) -> int:
        """Size of the pooled feature f_x (the last block's width)."""
        return self.channels[-1]

    @classmethod
    def from_preset(cls, name: str, num_classes: int, **overrides: object) -> STGCNConfig:
        """Config of a named preset (``PRESETS``) with ``num_classes`` and any field overridden.

        Raises:
            ConfigError: ``name`` is not a preset.
        """
        if name not in PRESETS:
            raise ConfigError(f"unknown ST-GCN preset {name!r}; valid presets: {sorted(PRESETS)}")
        kwargs: dict[str, object] = {**PRESETS[name], "num_classes": num_classes, **overrides}
        return cls(**kwargs)  # type: ignore[arg-type]


def present_persons(x: torch.Tensor) -> torch.Tensor:
    """Which persons of a window are present: float32 [N, M], 1 where any coordinate is non-zero.

    Args:
        x: windows [N, C, T, V, M].
    """
    return (x.abs().amax(dim=(1, 2, 3)) > 0).to(x.dtype)


class GraphConv(nn.Module):
    """Spatial graph convolution over K adjacency partitions: sum_k A_k^T-weighted messages of W_k x.

    Args:
        in_channels: input width C_in.
        out_channels: output width C_out.
        adjacency: [K, V, V] partition adjacency; ``A[k, i, j]`` weights the message from i to j.
        edge_importance: learn a [K, V, V] multiplicative mask over the adjacency.
    """

    def __init__(self, in_channels: int, out_channels: int, adjacency: torch.Tensor, edge_importance: bool) -> None:
        super().__init__()
        k, v, _ = adjacency.shape
        self.partitions, self.out_channels, self.joints = k, out_channels, v
        self.conv = nn.Conv2d(in_channels, k * out_channels, kernel_size=1)
        self.register_buffer("adjacency", adjacency.clone(), persistent=True)
        self.importance = nn.Parameter(torch.ones(k, v, v)) if edge_importance else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C_in, T, V] -> [B, C_out, T, V]."""
        adj = self.adjacency if self.importance is None else self.adjacency * self.importance
        y = self.conv(x)  # (B, K*C_out, T, V)
        b, _, t, v = y.shape
        y = y.view(b, self.partitions, self.out_channels, t, v)  # (B, K, C_out, T, V)
        y = y.permute(0, 2, 3, 1, 4).reshape(b, self.out_channels, t, self.partitions * v)  # (B, C_out, T, K*V)
        return torch.matmul(y, adj.reshape(self.partitions * self.joints, self.joints))  # (B, C_out, T, V)


class STGCNBlock(nn.Module):
    """One ST-GCN unit: graph conv, BN, ReLU, temporal conv, BN, dropout, residual, ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        adjacency: torch.Tensor,
        *,
        stride: int = 1,
        temporal_kernel: int = 9,
        dropout: float = 0.0,
        residual: bool = True,
        edge_importance: bool = True,
    ) -> None:
        super().__init__()
        pad = (temporal_kernel - 1) // 2
        self.gcn = GraphConv(in_channels, out_channels, adjacency, edge_importance)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, (temporal_kernel, 1), (stride, 1), (pad, 0)),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout),
        )
        self.residual: nn.Module | None
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1)),
                nn.BatchNorm2d(out_channels),
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C_in, T, V] -> [B, C_out, ceil(T / stride), V]."""
        y = self.tcn(self.gcn(x))
        if self.residual is not None:
            y = y + self.residual(x)
        return self.relu(y)


class STGCN(nn.Module):
    """ST-GCN: windows [N, C, T, V, M] -> non-negative features [N, D] -> seen-class logits.

    Args:
        cfg: the architecture.
    """

    def __init__(self, cfg: STGCNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        adjacency = torch.from_numpy(spatial_adjacency())  # (K=3, V, V)
        self.joints = adjacency.shape[-1]
        assert self.joints == NUM_JOINTS
        # data BN over (V*C), shared by the persons: any M works and persons stay independent in eval
        self.data_bn = nn.BatchNorm1d(cfg.in_channels * self.joints)
        blocks = []
        c_in = cfg.in_channels
        for i, (c_out, stride) in enumerate(zip(cfg.channels, cfg.strides, strict=True)):
            first = i == 0  # ST-GCN's first unit has neither residual nor dropout
            blocks.append(
                STGCNBlock(
                    c_in,
                    c_out,
                    adjacency,
                    stride=stride,
                    temporal_kernel=cfg.temporal_kernel,
                    dropout=0.0 if first else cfg.dropout,
                    residual=not first,
                    edge_importance=cfg.edge_importance,
                )
            )
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(cfg.feature_dim, cfg.num_classes)

    @property
    def feature_dim(self) -> int:
        return self.cfg.feature_dim

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled feature f_x of each window.

        Args:
            x: float32 [N, C, T, V, M]. An absent person is all zeros and is left out of the mean.

        Returns:
            float32 [N, D], D = ``cfg.feature_dim``; non-negative (pooled post-ReLU maps). A window
            with no person at all gives the zero vector.
        """
        n, c, t, v, m = x.shape
        present = present_persons(x)  # (N, M)
        h = x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t)  # (N*M, V*C, T)
        h = self.data_bn(h)
        h = h.view(n * m, v, c, t).permute(0, 2, 3, 1)  # (N*M, C, T, V)
        for block in self.blocks:
            h = block(h)
        h = h.mean(dim=(2, 3)).view(n, m, -1)  # (N, M, D)
        count = present.sum(dim=1, keepdim=True).clamp(min=1.0)  # (N, 1)
        return (h * present.unsqueeze(-1)).sum(dim=1) / count  # (N, D)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """[N, D] features -> [N, num_classes] logits."""
        return self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, T, V, M] windows -> [N, num_classes] logits."""
        return self.forward_head(self.forward_features(x))
