"""Shift-GCN joint stream (Cheng et al., CVPR 2020), rebuilt to load the released NTU weights and export cleanly.

Input windows are float32 [N, C=3, T, V=25, M=2] (ST-GCN order), preprocessed with the official NTU
pre-normalisation (``PreprocessConfig(normalization="ntu")``, 30 fps, metres). The architecture,
the checkpoint layout and the checks follow ``../shared/reference/shiftgcn_pretrained.md``:

- ``data_bn`` is one BatchNorm1d over M*V*C channels (index m*75 + v*3 + c), so M is fixed (2) and an
  absent person (all zeros) is *not* neutral: its slot maps to a constant whose pooled feature f0
  (a function of T only) is averaged in with weight 1/2, as the weights were trained.
- Ten units ``l1..l10``, each ``ReLU(tcn1(gcn1(x)) + residual(x))``; no adjacency matrix, no dropout.
- ``gcn1`` (spatial shift): shift-in gather, mask ``tanh(Feature_Mask) + 1``, a pointwise linear
  shared over joints (as a MatMul, never einsum), shift-out gather, BatchNorm1d over V*C_out, plus
  ``down(x)`` or ``x``, ReLU. The two shifts are constant-index gathers whose int64 tables are
  registered under the checkpoint's names (``shift_in``, ``shift_out``) and checked against the
  formulas when loaded.
- ``tcn1`` (temporal shift): BN, shift (stride 1), 1x1 conv, ReLU, shift (stride s), BN. The released
  shift is a learned per-channel sub-frame offset (CUDA kernel). Its offsets (``ypos``; ``xpos`` is
  the identity and ignored) are constants at inference, so each shift here is a fixed depthwise
  Conv2d (kernel (2P+1, 1), stride (s, 1), padding (P, 0)) holding the two linear-interpolation
  weights, rebuilt whenever ``ypos`` is loaded. The offsets are not learned (buffers): a Shift-GCN
  trained here keeps its initial offsets.

Export rules: no einsum, no boolean indexing, no data-dependent shapes, no Python branch on tensor
values in the exported path. The optional empty-slot cache (:attr:`ShiftGCN.cache_empty_slot`) is an
eager-mode speed-up and is bypassed while tracing or exporting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sadvae.errors import CheckpointError, ConfigError

__all__ = [
    "ShiftGCNConfig",
    "ShiftGCN",
    "SpatialShift",
    "TemporalShift",
    "shift_tables",
    "OnePersonShiftGCN",
    "shiftgcn_features",
]

_CHANNELS = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
_STRIDES = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)
_TEMPORAL_DOWNSAMPLE = 4  # product of the strides: T must be a multiple of it


@dataclass(frozen=True)
class ShiftGCNConfig:
    """Shift-GCN architecture (the released joint-stream layout; only the head and the input vary).

    Attributes:
        num_classes: classes of the fc head (60 or 120 for the released NTU weights).
        in_channels: coordinates per joint (3: x, y, z).
        num_joints: joints per person V (25: NTU / Kinect v2).
        num_persons: person slots M (2 for the released weights: ``data_bn`` spans M*V*C channels).
        shift_init: initial temporal offsets of a randomly initialised model are uniform in
            [-shift_init, shift_init] frames (a loaded checkpoint replaces them).
        cache_empty_slot: in eager inference, compute the pooled feature of an all-zero person slot
            once per T and reuse it (exact; halves the cost of one-person windows). See
            :attr:`ShiftGCN.cache_empty_slot`.
        arch: the backbone's name in ``sadvae.models.BACKBONES`` (lets a saved config rebuild its model).
    """

    num_classes: int = 120
    in_channels: int = 3
    num_joints: int = 25
    num_persons: int = 2
    shift_init: float = 1.0
    cache_empty_slot: bool = False
    arch: str = "shiftgcn"

    def __post_init__(self) -> None:
        for name in ("num_classes", "in_channels", "num_joints", "num_persons"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"ShiftGCNConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.shift_init >= 0:
            raise ConfigError(f"ShiftGCNConfig.shift_init must be >= 0, got {self.shift_init}")
        if self.arch != "shiftgcn":
            raise ConfigError(f"ShiftGCNConfig.arch must be 'shiftgcn', got {self.arch!r}")

    @property
    def channels(self) -> tuple[int, ...]:
        return _CHANNELS

    @property
    def strides(self) -> tuple[int, ...]:
        return _STRIDES

    @property
    def feature_dim(self) -> int:
        """Size of the pooled feature (256)."""
        return _CHANNELS[-1]

    @classmethod
    def from_preset(cls, name: str, num_classes: int, **overrides: object) -> ShiftGCNConfig:
        """Config with ``num_classes`` and any field overridden; the only preset is "joint" (the released one).

        Raises:
            ConfigError: ``name`` is not "joint".
        """
        if name != "joint":
            raise ConfigError(f"unknown Shift-GCN preset {name!r}; valid presets: ['joint']")
        return cls(num_classes=num_classes, **overrides)  # type: ignore[arg-type]


def shift_tables(joints: int, in_channels: int, out_channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The spatial shift gather tables (int64) of the reference, section 4.

    Per (n, t) the features are a vector indexed v*C + c. Shift-in: out[v, c] = in[(v + c) mod V, c];
    shift-out: out[v, d] = in[(v - d) mod V, d].

    Returns:
        (shift_in [V*C_in], shift_out [V*C_out]).
    """
    v = torch.arange(joints).unsqueeze(1)
    c = torch.arange(in_channels).unsqueeze(0)
    d = torch.arange(out_channels).unsqueeze(0)
    shift_in = ((v + c) % joints) * in_channels + c
    shift_out = ((v - d) % joints) * out_channels + d
    return shift_in.reshape(-1).to(torch.int64), shift_out.reshape(-1).to(torch.int64)


class SpatialShift(nn.Module):
    """``gcn1``: [B, C_in, T, V] -> [B, C_out, T, V] (shift-in, mask, pointwise linear, shift-out, BN, + down, ReLU)."""

    def __init__(self, in_channels: int, out_channels: int, joints: int) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.joints = in_channels, out_channels, joints
        self.Linear_weight = nn.Parameter(torch.empty(in_channels, out_channels))  # (in, out): x @ W
        nn.init.normal_(self.Linear_weight, 0.0, math.sqrt(1.0 / out_channels))
        self.Linear_bias = nn.Parameter(torch.zeros(1, 1, out_channels))
        self.Feature_Mask = nn.Parameter(torch.zeros(1, joints, in_channels))
        shift_in, shift_out = shift_tables(joints, in_channels, out_channels)
        self.register_buffer("shift_in", shift_in)
        self.register_buffer("shift_out", shift_out)
        self.bn = nn.BatchNorm1d(joints * out_channels)
        self.down: nn.Module
        if in_channels != out_channels:
            self.down = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
        else:
            self.down = nn.Identity()
        self.relu = nn.ReLU()

    def check_tables(self, source: object = "checkpoint") -> None:
        """Raise :class:`CheckpointError` unless ``shift_in`` / ``shift_out`` equal the formulas."""
        want_in, want_out = shift_tables(self.joints, self.in_channels, self.out_channels)
        for name, want in (("shift_in", want_in), ("shift_out", want_out)):
            got = getattr(self, name)
            if got.shape != want.shape or not torch.equal(got.cpu(), want):
                raise CheckpointError(
                    f"{source}: the spatial shift table {name} is not the Shift-GCN formula; "
                    "not a Shift-GCN joint-stream checkpoint"
                )

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        b, c, t, v = x0.shape
        x = x0.permute(0, 2, 3, 1).reshape(b * t, v * c)  # (B*T, V*C_in), index v*C_in + c
        x = torch.index_select(x, 1, self.shift_in).view(b * t, v, c)
        x = x * (torch.tanh(self.Feature_Mask) + 1.0)
        x = torch.matmul(x, self.Linear_weight) + self.Linear_bias  # (B*T, V, C_out)
        x = torch.index_select(x.reshape(b * t, v * self.out_channels), 1, self.shift_out)
        x = self.bn(x)  # (B*T, V*C_out), joint-major channels
        x = x.view(b, t, v, self.out_channels).permute(0, 3, 1, 2)  # (B, C_out, T, V)
        return self.relu(x + self.down(x0))


class TemporalShift(nn.Module):
    """A fixed per-channel temporal shift by ``ypos`` frames (linear interpolation, zeros outside), stride s.

    Output frame t of channel c reads the input at s*t + y_c (y_c = ypos[c], + 0.5 when s = 2), as the
    released CUDA kernel does; computed by a depthwise Conv2d whose kernel is rebuilt from ``ypos``
    (in ``ypos``'s dtype and device, so a ``.double()`` or moved module reloads) when a state dict is
    loaded, directly or through a parent module (or by :meth:`rebuild`). Output length ceil(T / s)
    (the kernel's floor(T / s) when s divides T). ``xpos`` (the joint-axis offset, the identity in the released
    weights) is kept for strict loading and ignored.
    """

    def __init__(self, channels: int, stride: int, init: float = 1.0) -> None:
        super().__init__()
        self.channels, self.stride = channels, stride
        self.register_buffer("xpos", torch.zeros(channels))
        self.register_buffer("ypos", torch.empty(channels).uniform_(-init, init))
        self.padding = 0
        self.register_buffer("kernel", torch.zeros(channels, 1, 1, 1), persistent=False)
        self.rebuild()
        self.register_load_state_dict_post_hook(lambda module, _keys: module.rebuild())

    @torch.no_grad()
    def rebuild(self) -> None:
        """Recompute the depthwise kernel [C, 1, 2P+1, 1] from ``ypos``, in ``ypos``'s dtype and device."""
        y = self.ypos.detach().to(torch.float32).cpu()
        if self.stride == 2:
            y = y + 0.5
        elif self.stride != 1:
            raise ConfigError(f"TemporalShift supports strides 1 and 2, got {self.stride}")
        f = torch.floor(y)
        a = (y - f).numpy().astype(np.float64)
        f_int = f.to(torch.int64).numpy()
        pad = int(np.abs(f_int).max()) + 1 if len(f_int) else 1
        kernel = np.zeros((self.channels, 1, 2 * pad + 1, 1), np.float32)
        rows = np.arange(self.channels)
        kernel[rows, 0, pad + f_int, 0] = 1.0 - a
        kernel[rows, 0, pad + f_int + 1, 0] += a
        self.padding = pad
        self.kernel = torch.from_numpy(kernel).to(device=self.ypos.device, dtype=self.ypos.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T, V] -> [B, C, ceil(T / s), V]."""
        return F.conv2d(x, self.kernel, stride=(self.stride, 1), padding=(self.padding, 0), groups=self.channels)


class _TemporalUnit(nn.Module):
    """``tcn1``: BN, shift (stride 1), 1x1 conv, ReLU, shift (stride s), BN."""

    def __init__(self, channels: int, stride: int, shift_init: float) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.shift_in = TemporalShift(channels, 1, shift_init)
        self.temporal_linear = nn.Conv2d(channels, channels, 1)
        nn.init.kaiming_normal_(self.temporal_linear.weight, mode="fan_out")
        nn.init.zeros_(self.temporal_linear.bias)
        self.relu = nn.ReLU()
        self.shift_out = TemporalShift(channels, stride, shift_init)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.shift_in(self.bn(x))
        x = self.relu(self.temporal_linear(x))
        return self.bn2(self.shift_out(x))


class _StridedResidual(nn.Module):
    """Unit residual of the widening units: 1x1 conv with stride (s, 1), BN."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1))
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class _Unit(nn.Module):
    """``ReLU(tcn1(gcn1(x)) + residual(x))``; the first unit has no residual."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, joints: int, first: bool, shift_init: float
    ) -> None:
        super().__init__()
        self.gcn1 = SpatialShift(in_channels, out_channels, joints)
        self.tcn1 = _TemporalUnit(out_channels, stride, shift_init)
        self.residual: nn.Module | None
        if first:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = _StridedResidual(in_channels, out_channels, stride)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn1(self.gcn1(x))
        if self.residual is not None:
            y = y + self.residual(x)
        return self.relu(y)


def _clear_empty_slot_cache(module: ShiftGCN, _incompatible_keys) -> None:
    """Load-state-dict post hook: the cached empty-slot features belong to the old weights."""
    module._f0.clear()


def _exporting() -> bool:
    return bool(
        torch.jit.is_tracing()
        or torch.jit.is_scripting()
        or torch.onnx.is_in_onnx_export()
        or torch.compiler.is_compiling()
        or torch.compiler.is_exporting()
    )


class ShiftGCN(nn.Module):
    """Shift-GCN: windows [N, 3, T, 25, 2] -> features [N, 256] -> logits [N, num_classes].

    The same surface as :class:`sadvae.models.stgcn.STGCN` (``forward_features``, ``forward_head``,
    ``forward``, ``feature_dim``, ``cfg``). Module and parameter names are the released checkpoint's,
    so ``load_state_dict(torch.load(path, weights_only=True))`` loads it strictly (use
    :func:`sadvae.models.pretrained.load_pretrained_shiftgcn`, which also checks the file).

    Attributes:
        cache_empty_slot: (settable, starts as ``cfg.cache_empty_slot``) in eager eval mode, an all-zero
            person slot takes its cached pooled feature f0 (computed once per T, slot, device and
            dtype; cleared by ``train()``, ``eval()``, ``to()`` and ``load_state_dict``, also when the
            state dict is loaded through a parent module) instead of
            running the ten units: the same numbers (to float32 rounding) for half the
            cost of a one-person window. Ignored while tracing, compiling or exporting.

    Args:
        cfg: the architecture.
    """

    def __init__(self, cfg: ShiftGCNConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or ShiftGCNConfig()
        self.cfg = cfg
        self.data_bn = nn.BatchNorm1d(cfg.num_persons * cfg.num_joints * cfg.in_channels)
        c_in = cfg.in_channels
        for i, (c_out, stride) in enumerate(zip(_CHANNELS, _STRIDES, strict=True)):
            self.add_module(f"l{i + 1}", _Unit(c_in, c_out, stride, cfg.num_joints, i == 0, cfg.shift_init))
            c_in = c_out
        self.fc = nn.Linear(self.feature_dim, cfg.num_classes)
        nn.init.normal_(self.fc.weight, 0.0, math.sqrt(2.0 / cfg.num_classes))
        nn.init.zeros_(self.fc.bias)
        self.cache_empty_slot = cfg.cache_empty_slot
        self._f0: dict[tuple[int, int, str, torch.dtype], torch.Tensor] = {}
        # a hook, not a load_state_dict override: it also fires when a parent module loads the state dict
        self.register_load_state_dict_post_hook(_clear_empty_slot_cache)

    @property
    def feature_dim(self) -> int:
        return self.cfg.feature_dim

    @property
    def units(self) -> list[_Unit]:
        return [getattr(self, f"l{i + 1}") for i in range(len(_CHANNELS))]

    # ---------------------------------------------------------------- cache bookkeeping

    def train(self, mode: bool = True) -> ShiftGCN:
        self._f0.clear()
        return super().train(mode)

    def _apply(self, fn, recurse: bool = True):  # .to(), .cuda(), .half(): the cached f0 is stale
        self._f0 = {}
        return super()._apply(fn, recurse)

    def check_shift_tables(self, source: object = "checkpoint") -> None:
        """Raise :class:`CheckpointError` unless every spatial shift table equals its formula."""
        for unit in self.units:
            unit.gcn1.check_tables(source)

    # ---------------------------------------------------------------- forward

    def _check_input(self, x: torch.Tensor) -> None:
        cfg = self.cfg
        if (
            x.dim() != 5
            or x.shape[1] != cfg.in_channels
            or x.shape[3] != cfg.num_joints
            or x.shape[4] != cfg.num_persons
        ):
            raise ConfigError(
                f"Shift-GCN expects windows [N, {cfg.in_channels}, T, {cfg.num_joints}, "
                f"{cfg.num_persons}], got {list(x.shape)}"
            )
        if x.shape[2] % _TEMPORAL_DOWNSAMPLE:
            raise ConfigError(
                f"Shift-GCN needs a window length T that is a multiple of {_TEMPORAL_DOWNSAMPLE}, got T={x.shape[2]}"
            )

    def _trunk(self, h: torch.Tensor) -> torch.Tensor:
        """[B, C, T, V] -> pooled [B, 256]."""
        for unit in self.units:
            h = unit(h)
        return h.mean(dim=(2, 3))

    def _slot_input(self, x: torch.Tensor, m: int) -> torch.Tensor:
        """Person slot ``m`` of windows [N, C, T, V, M] through its share of ``data_bn`` (eval): [N, C, T, V]."""
        n, c, t, v, _ = x.shape
        bn = self.data_bn
        span = slice(m * v * c, (m + 1) * v * c)
        h = x[..., m].permute(0, 3, 1, 2).reshape(n, v * c, t)  # (N, V*C, T), index v*C + c
        h = F.batch_norm(
            h, bn.running_mean[span], bn.running_var[span], bn.weight[span], bn.bias[span], False, 0.0, bn.eps
        )
        return h.view(n, v, c, t).permute(0, 2, 3, 1)

    def empty_slot_feature(self, t: int, m: int = 1) -> torch.Tensor:
        """Pooled feature f0 [256] of an all-zero person slot ``m`` at window length ``t``.

        Always the eval-mode feature (running BatchNorm statistics), without gradient: in training mode
        the network is switched to eval for the computation and every submodule's mode restored after,
        so the running statistics are not updated. Cached in eval mode only (the weights of a training
        network change under the cache).
        """
        p = self.data_bn.weight
        key = (t, m, str(p.device), p.dtype)
        if key in self._f0:
            return self._f0[key]
        zeros = torch.zeros(
            1, self.cfg.in_channels, t, self.cfg.num_joints, self.cfg.num_persons, device=p.device, dtype=p.dtype
        )
        modes = [(mod, mod.training) for mod in self.modules()]
        for mod, _ in modes:  # not self.eval(): that clears the cache
            mod.training = False
        try:
            with torch.no_grad():
                f0 = self._trunk(self._slot_input(zeros, m))[0]
        finally:
            for mod, training in modes:
                mod.training = training
        if not self.training:
            self._f0[key] = f0
        return f0

    def _forward_features_cached(self, x: torch.Tensor) -> torch.Tensor:
        """Eager-only: slots that are all zeros take the cached f0 instead of running the trunk."""
        n, m_slots = x.shape[0], x.shape[4]
        present = x.abs().amax(dim=(1, 2, 3)) > 0  # (N, M)
        total = torch.zeros(n, self.feature_dim, device=x.device, dtype=x.dtype)
        for m in range(m_slots):
            rows = torch.nonzero(present[:, m]).flatten()
            f0 = self.empty_slot_feature(x.shape[2], m)
            feat = f0.expand(n, -1).clone()
            if len(rows):
                feat[rows] = self._trunk(self._slot_input(x[rows], m))
            total = total + feat
        return total / m_slots

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled feature of each window.

        Args:
            x: float32 [N, 3, T, 25, 2], T a multiple of 4. An absent person is all zeros and, as in
                training, its slot's feature is averaged in.

        Returns:
            float32 [N, 256], non-negative.
        """
        self._check_input(x)
        if self.cache_empty_slot and not self.training and not _exporting():
            return self._forward_features_cached(x)
        n, c, t, v, m = x.shape
        h = x.permute(0, 4, 3, 1, 2).reshape(n, m * v * c, t)  # (N, M*V*C, T), index m*75 + v*3 + c
        h = self.data_bn(h)
        h = h.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)  # (N*M, C, T, V)
        for unit in self.units:
            h = unit(h)
        return h.mean(dim=(2, 3)).view(n, m, -1).mean(dim=1)  # (N, 256)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """[N, 256] features -> [N, num_classes] logits."""
        return self.fc(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 3, T, 25, 2] windows -> [N, num_classes] logits."""
        return self.forward_head(self.forward_features(x))


class OnePersonShiftGCN(nn.Module):
    """A :class:`ShiftGCN` for windows whose second person slot is empty, exported as a fixed graph.

    The pooled feature is (f(person 0) + f0) / 2 with f0, the empty slot's feature at this window
    length, stored as a constant: exact for one-person windows (the live camera pipeline's case) and
    half the cost; a second person in the input is ignored. Same surface as the backbone
    (``forward_features``, ``forward_head``, ``forward``, ``feature_dim``, ``cfg``), so it fits
    :class:`sadvae.export.Recognizer`.

    The wrapper starts in eval mode; the shared model's mode is left as it was (call ``eval()`` on
    the module you run: :class:`sadvae.export.Recognizer` and :func:`sadvae.export.torch_to_onnx` do).

    Args:
        model: a trained :class:`ShiftGCN` (its weights are shared, not copied).
        window: the window length T (a multiple of 4) the constant f0 is computed for.
    """

    def __init__(self, model: ShiftGCN, window: int) -> None:
        super().__init__()
        if window % _TEMPORAL_DOWNSAMPLE or window < _TEMPORAL_DOWNSAMPLE:
            raise ConfigError(
                f"Shift-GCN needs a window length T that is a multiple of {_TEMPORAL_DOWNSAMPLE}, got T={window}"
            )
        self.model, self.window, self.cfg = model, int(window), model.cfg
        empty = [model.empty_slot_feature(self.window, m) for m in range(1, model.cfg.num_persons)]  # eval mode
        f0 = torch.stack(empty).sum(0) if empty else torch.zeros(model.feature_dim)
        self.register_buffer("f0_sum", f0.detach().clone())
        self.training = False  # not self.eval(): that would recurse into the caller's shared model

    @property
    def feature_dim(self) -> int:
        return self.model.feature_dim

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 3, T, 25, M] (only person 0 is read) -> [N, 256]."""
        self.model._check_input(x)
        if x.shape[2] != self.window:
            raise ConfigError(f"this one-person Shift-GCN was built for T={self.window}, got T={x.shape[2]}")
        f = self.model._trunk(self.model._slot_input(x, 0))
        return (f + self.f0_sum) / self.cfg.num_persons

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def shiftgcn_features(
    model: nn.Module, windows: np.ndarray | torch.Tensor, batch_size: int = 32, threads: int | None = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Features and logits of preprocessed windows, in batches, with torch's CPU threads limited.

    Works with any backbone of the same surface (``forward_features`` / ``forward_head``).

    Args:
        model: a :class:`ShiftGCN` (put in eval mode here).
        windows: float32 [N, 3, T, 25, M] (e.g. ``preprocess(..., PreprocessConfig(normalization="ntu"))``).
        batch_size: windows per forward pass.
        threads: torch intra-op threads while this runs (restored afterwards); None leaves it alone.

    Returns:
        (features float32 [N, feature_dim], logits float32 [N, num_classes]).
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    model.eval()
    param = next(model.parameters())
    x_all = torch.as_tensor(np.asarray(windows, dtype=np.float32) if isinstance(windows, np.ndarray) else windows)
    old = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    feats, logits = [], []
    try:
        with torch.inference_mode():
            for a in range(0, len(x_all), batch_size):
                x = x_all[a : a + batch_size].to(device=param.device, dtype=param.dtype)
                f = model.forward_features(x)
                feats.append(f.float().cpu().numpy())
                logits.append(model.forward_head(f).float().cpu().numpy())
    finally:
        torch.set_num_threads(old)
    if not feats:
        k = model.cfg.num_classes
        return np.zeros((0, model.feature_dim), np.float32), np.zeros((0, k), np.float32)
    return np.concatenate(feats), np.concatenate(logits)
