"""Shift-GCN state handling: modes of a shared model, BatchNorm statistics, the empty-slot cache, reload dtype.

Random-weight models only (no released weights needed).
"""

from __future__ import annotations

from functools import partial

import pytest

torch = pytest.importorskip("torch")

from sadvae_tests_helpers import random_shiftgcn  # noqa: E402

from sadvae.models.extra_head import ExtraHeadBackbone  # noqa: E402
from sadvae.models.live import live_backbone  # noqa: E402
from sadvae.models.shiftgcn import OnePersonShiftGCN  # noqa: E402
from sadvae.models.shiftgcn_ensemble import ShiftGCNEnsemble, ShiftGCNEnsembleConfig  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

T = 16


# random weights with non-trivial BN statistics and biases (so two seeds give different empty-slot features)
_model = partial(random_shiftgcn, bn_bias=True)


def _one_person_windows(n: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, T, 25, 2, generator=g) * 0.5
    x[..., 1] = 0  # the second slot is empty: the cached path reads f0 for it
    return x


def _modes(module: torch.nn.Module) -> list[bool]:
    return [m.training for m in module.modules()]


# --------------------------------------------------------------------------- finding 1: the caller's mode


def test_one_person_graph_leaves_the_shared_models_mode_alone() -> None:
    m = _model().train()
    m.l3.tcn1.bn.eval()  # a mixed-mode network keeps every submodule's mode
    before = _modes(m)
    one = OnePersonShiftGCN(m, T)
    assert m.training and _modes(m) == before
    assert not one.training  # the wrapper itself starts in eval mode
    m.train()
    live_backbone(m, persons=1, slots=2, window=T)
    assert m.training and all(_modes(m))


def test_ensemble_one_person_graph_leaves_the_members_modes_alone() -> None:
    ens = ShiftGCNEnsemble(ShiftGCNEnsembleConfig(num_classes=5)).train()
    ens.one_person(T)
    assert ens.training and all(m.training for m in ens.members)
    live_backbone(ens, persons=1, slots=2, window=T)
    assert all(_modes(ens))


def test_one_person_graph_run_in_eval_matches_the_full_model() -> None:
    """Built from a training model; eval() on the module run (as Recognizer does) gives the exact one-person
    feature."""
    m = _model().train()
    one = OnePersonShiftGCN(m, T).eval()
    x = _one_person_windows()
    with torch.no_grad():
        torch.testing.assert_close(one.forward_features(x), m.forward_features(x), rtol=0, atol=1e-5)


# --------------------------------------------------------------------------- finding 2: statistics untouched


def test_empty_slot_feature_in_training_mode_keeps_the_state_and_gives_the_eval_feature() -> None:
    m = _model()
    want = m.empty_slot_feature(T).clone()
    m.train()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    got = m.empty_slot_feature(T)
    for k, v in m.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert m.training and all(_modes(m))  # the mode is restored
    assert not got.requires_grad
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)  # running statistics, not the batch's
    assert not m._f0  # not cached while training: the weights change under it


# --------------------------------------------------------------------------- finding 3: load through a parent


def test_empty_slot_cache_is_cleared_when_a_parent_loads_the_state_dict() -> None:
    a, b = _model(seed=0), _model(seed=1)
    a.cache_empty_slot = True
    wrap = ExtraHeadBackbone(a, torch.nn.Linear(a.feature_dim, 3))
    x = _one_person_windows()
    with torch.no_grad():
        wrap.forward_features(x)  # fills a's cache with the old weights
        assert a._f0
        state = {"backbone." + k: v for k, v in b.state_dict().items()}
        state.update({"extra." + k: v for k, v in wrap.extra.state_dict().items()})
        wrap.load_state_dict(state)
        cached = wrap.forward_features(x)
        a.cache_empty_slot = False
        plain = wrap.forward_features(x)
        want = b.forward_features(x)
    torch.testing.assert_close(plain, want, rtol=0, atol=1e-5)
    torch.testing.assert_close(cached, plain, rtol=0, atol=1e-5)


def test_ensemble_load_clears_every_members_cache() -> None:
    ens = ShiftGCNEnsemble.from_members([_model(seed=0), _model(seed=1)]).eval()
    other = ShiftGCNEnsemble.from_members([_model(seed=2), _model(seed=3)]).eval()
    x = _one_person_windows()
    with torch.no_grad():
        ens.cache_empty_slot = True
        ens.forward_features(x)
        assert all(m._f0 for m in ens.members)
        ens.load_state_dict(other.state_dict())
        assert not any(m._f0 for m in ens.members)
        torch.testing.assert_close(ens.forward_features(x), other.forward_features(x), rtol=0, atol=1e-5)


# --------------------------------------------------------------------------- finding 4: reload keeps the dtype


def test_a_double_model_reloads_its_own_state_dict() -> None:
    m = _model().double()
    x = _one_person_windows().double()
    with torch.no_grad():
        want = m(x)
        m.load_state_dict(m.state_dict())
        assert m.l3.tcn1.shift_in.kernel.dtype == torch.float64
        got = m(x)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


def test_a_double_model_loaded_with_float32_tensors_by_assign_runs_in_float32() -> None:
    m = _model().double()
    state = _model().state_dict()  # float32
    m.load_state_dict(state, assign=True)
    assert m.l3.tcn1.shift_in.kernel.dtype == torch.float32
    with torch.no_grad():
        torch.testing.assert_close(m(_one_person_windows()), _model()(_one_person_windows()), rtol=0, atol=1e-5)
