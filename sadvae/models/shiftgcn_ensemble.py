"""Several Shift-GCNs trained on the same classes as one backbone: features side by side, logits averaged.

The released NTU-120 joint-stream weights come as two networks trained on different subjects (x-sub) and camera
setups (x-setup). Read together they transfer better to other datasets than either alone (docs/cross_dataset.md,
round 9). :class:`ShiftGCNEnsemble` is that pair as one module of the backbone surface, so bundles, the extra head,
export and the live loop treat it like one Shift-GCN:

    features = concat(member_1.forward_features(x), ..., member_k.forward_features(x))   # [N, 256 k]
    logits   = mean_i member_i.fc(features[:, 256 (i-1) : 256 i])                         # [N, num_classes]

which is what :class:`sadvae.features.EnsembleExtractor` computes for cached features (tested to match). Every
member reads the same preprocessed window; the cost is k Shift-GCNs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from sadvae.errors import ConfigError
from sadvae.models.shiftgcn import OnePersonShiftGCN, ShiftGCN, ShiftGCNConfig

__all__ = ["ShiftGCNEnsembleConfig", "ShiftGCNEnsemble", "MemberEnsemble"]


@dataclass(frozen=True)
class ShiftGCNEnsembleConfig:
    """``members`` Shift-GCNs of one architecture (:class:`ShiftGCNConfig`'s fields, shared by every member).

    Attributes:
        members: how many networks (two or more).
        arch: the backbone's name in ``sadvae.models.BACKBONES``.
        (the others: :class:`ShiftGCNConfig`.)
    """

    members: int = 2
    num_classes: int = 120
    in_channels: int = 3
    num_joints: int = 25
    num_persons: int = 2
    shift_init: float = 1.0
    cache_empty_slot: bool = False
    arch: str = "shiftgcn_ensemble"

    def __post_init__(self) -> None:
        if int(self.members) < 2:
            raise ConfigError(f"ShiftGCNEnsembleConfig.members must be >= 2, got {self.members}")
        if self.arch != "shiftgcn_ensemble":
            raise ConfigError(f"ShiftGCNEnsembleConfig.arch must be 'shiftgcn_ensemble', got {self.arch!r}")
        self.member_config()  # validates the shared fields

    def member_config(self) -> ShiftGCNConfig:
        """The configuration of each member."""
        return ShiftGCNConfig(
            num_classes=self.num_classes,
            in_channels=self.in_channels,
            num_joints=self.num_joints,
            num_persons=self.num_persons,
            shift_init=self.shift_init,
            cache_empty_slot=self.cache_empty_slot,
        )

    @property
    def feature_dim(self) -> int:
        return self.members * self.member_config().feature_dim


class MemberEnsemble(nn.Module):
    """Modules of the backbone surface with one feature width and one class list, read as one (module docstring).

    Args:
        members: the modules (``forward_features`` -> [N, d], ``forward_head`` over [N, d]).
        cfg: the configuration readers see as ``cfg`` (``num_classes``, ``in_channels``, ``arch``).
    """

    def __init__(self, members: Sequence[nn.Module], cfg) -> None:
        super().__init__()
        dims = {int(m.feature_dim) for m in members}
        if len(members) < 2 or len(dims) != 1:
            raise ConfigError(
                f"an ensemble needs two or more members of one feature width, got {len(members)} of {sorted(dims)}"
            )
        self.members = nn.ModuleList(members)
        self.cfg = cfg
        self.member_dim = dims.pop()

    @property
    def feature_dim(self) -> int:
        return self.member_dim * len(self.members)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Windows -> [N, k d]: the members' features side by side."""
        return torch.cat([m.forward_features(x) for m in self.members], dim=1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """[N, k d] -> [N, num_classes]: the mean of each member's logits on its own part of the features."""
        d = self.member_dim
        logits = [m.forward_head(features[:, i * d : (i + 1) * d]) for i, m in enumerate(self.members)]
        return torch.stack(logits).mean(dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class ShiftGCNEnsemble(MemberEnsemble):
    """Shift-GCNs as one backbone: windows [N, 3, T, 25, M] -> features [N, 256 k] -> logits [N, num_classes].

    Build it from a config (a bundle does) or from loaded networks (:meth:`from_members`). The state dict holds
    each member's under ``members.<i>.``.

    Args:
        cfg: the architecture.
    """

    def __init__(self, cfg: ShiftGCNEnsembleConfig | None = None, *, members: Sequence[ShiftGCN] | None = None) -> None:
        cfg = cfg or ShiftGCNEnsembleConfig()
        if members is not None and len(members) != cfg.members:
            raise ConfigError(f"ShiftGCNEnsemble: the config lists {cfg.members} members, {len(members)} were given")
        nets = list(members) if members is not None else [ShiftGCN(cfg.member_config()) for _ in range(cfg.members)]
        super().__init__(nets, cfg)

    @classmethod
    def from_members(cls, members: Sequence[ShiftGCN]) -> ShiftGCNEnsemble:
        """The ensemble of loaded networks (their weights are shared, not copied).

        Raises:
            ConfigError: fewer than two, or members of different architectures or classes.
        """
        cfgs = {replace(m.cfg, cache_empty_slot=False) for m in members}
        if len(members) < 2 or len(cfgs) != 1:
            raise ConfigError(
                f"an ensemble needs two or more Shift-GCNs of one architecture and class list, got {len(members)} "
                f"with configs {sorted(map(str, cfgs))}"
            )
        shared = {k: v for k, v in asdict(cfgs.pop()).items() if k != "arch"}
        return cls(ShiftGCNEnsembleConfig(members=len(members), **shared), members=members)

    @property
    def cache_empty_slot(self) -> bool:
        """Whether every member's :attr:`ShiftGCN.cache_empty_slot` is on (settable for all at once)."""
        return all(m.cache_empty_slot for m in self.members)

    @cache_empty_slot.setter
    def cache_empty_slot(self, on: bool) -> None:
        for m in self.members:
            m.cache_empty_slot = bool(on)

    def check_shift_tables(self, source: object = "checkpoint") -> None:
        """Raise :class:`sadvae.errors.CheckpointError` unless every member's spatial shift tables are right."""
        for m in self.members:
            m.check_shift_tables(source)

    def one_person(self, window: int) -> MemberEnsemble:
        """The one-person graph of every member (:class:`OnePersonShiftGCN`, weights shared) as one module.

        The members' modes are left as they were (call ``eval()`` on the module you run).
        """
        return MemberEnsemble([OnePersonShiftGCN(m, window) for m in self.members], self.cfg)
