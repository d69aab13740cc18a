"""Re-estimating a frozen network's BatchNorm statistics on another system's windows (AdaBN)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sadvae.errors import ConfigError  # noqa: E402
from sadvae.models.batchnorm_stats import batchnorm_layers, reestimate_batchnorm  # noqa: E402
from sadvae.models.shiftgcn import ShiftGCN, ShiftGCNConfig  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = ShiftGCN(ShiftGCNConfig(num_classes=5, shift_init=2.5))
    m.cache_empty_slot = True
    return m.eval()


def _windows(n, seed=0, scale=1.0, shift=0.0):
    x = np.random.default_rng(seed).normal(shift, scale, size=(n, 3, 16, 25, 2)).astype(np.float32)
    x[..., 1] = 0.0  # one person: the empty slot goes through the network as in training
    return x


def _batches(x, size=8):
    return [x[a : a + size] for a in range(0, len(x), size)]


def test_first_layer_statistics_are_the_windows_statistics(model):
    x = _windows(64, shift=0.7, scale=2.0)
    adapted = reestimate_batchnorm(model, _batches(x))
    # data_bn normalises each (person, joint, coordinate) channel over batch and time: its running mean is the
    # mean of the batches' means, here the mean over all windows (equal batches)
    channels = x.transpose(0, 4, 3, 1, 2).reshape(64, -1, 16)  # (N, M*V*C, T), the network's channel order
    present = slice(0, 75)  # the empty slot's channels keep the released statistics (test below)
    np.testing.assert_allclose(adapted.data_bn.running_mean[present].numpy(), channels.mean((0, 2))[present], atol=1e-4)
    per_batch_var = np.mean([channels[a : a + 8].var((0, 2), ddof=1) for a in range(0, 64, 8)], axis=0)
    np.testing.assert_allclose(adapted.data_bn.running_var[present].numpy(), per_batch_var[present], rtol=1e-3)


def test_the_original_is_untouched_and_only_statistics_change(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adapted = reestimate_batchnorm(model, _batches(_windows(32, shift=0.5)))
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    stats = ("running_mean", "running_var", "num_batches_tracked")
    changed = {k for k, v in adapted.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.endswith(stats) for k in changed)
    assert not adapted.training and not any(p.requires_grad for p in adapted.parameters())
    assert all(m.momentum is None for m in batchnorm_layers(adapted))


def test_the_adapted_network_reads_its_own_windows_normalised(model):
    """After adaptation the windows it was adapted on come out of data_bn near zero mean and unit variance."""
    x = _windows(64, shift=3.0, scale=0.2)
    adapted = reestimate_batchnorm(model, _batches(x))

    def normalised(m):
        h = torch.as_tensor(x).permute(0, 4, 3, 1, 2).reshape(64, -1, 16)
        with torch.no_grad():
            return m.data_bn(h)[:, :75].numpy()  # the person present

    assert abs(normalised(adapted).mean()) < 0.05 and abs(normalised(adapted).std() - 1) < 0.1
    assert abs(normalised(model).mean()) > 1  # the untouched statistics leave the shift in


def test_empty_slot_feature_is_recomputed_with_the_new_statistics(model):
    x = _windows(16)
    model.forward_features(torch.as_tensor(x[:2]))  # fills the empty-slot cache with the old statistics
    adapted = reestimate_batchnorm(model, _batches(x, 8))
    with torch.no_grad():
        cached = adapted.forward_features(torch.as_tensor(x[:4]))
        adapted.cache_empty_slot = False
        plain = adapted.forward_features(torch.as_tensor(x[:4]))
    np.testing.assert_allclose(cached.numpy(), plain.numpy(), atol=1e-5)


def test_batches_of_one_are_skipped_and_nothing_usable_is_refused(model):
    x = _windows(9)
    a = reestimate_batchnorm(model, [x[:8], x[8:]])  # the single last window is skipped
    b = reestimate_batchnorm(model, [x[:8]])
    assert torch.equal(a.data_bn.running_mean, b.data_bn.running_mean)
    with pytest.raises(ConfigError, match="two windows"):
        reestimate_batchnorm(model, [x[:1], x[1:2]])


def test_models_without_batchnorm_or_with_dropout_are_refused():
    with pytest.raises(ConfigError, match="no BatchNorm"):
        reestimate_batchnorm(torch.nn.Linear(3, 2), [np.zeros((2, 3), np.float32)])
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3), torch.nn.Dropout(0.5))
    with pytest.raises(ConfigError, match="dropout"):
        reestimate_batchnorm(net, [np.zeros((2, 3), np.float32)])


def test_a_channel_the_windows_never_moved_keeps_its_constant_and_the_released_variance(model):
    """Windows of one person leave the second slot's data_bn channels at variance 0: they keep the constant they
    held (0) as their mean, so an empty slot still comes out as the layer's bias, and take the released variance,
    so a second person appearing later is not multiplied by 1 / sqrt(eps)."""
    with torch.no_grad():
        model.data_bn.running_mean.uniform_(-0.2, 0.2)
        model.data_bn.running_var.uniform_(0.5, 1.5)
    adapted = reestimate_batchnorm(model, _batches(_windows(32, shift=0.5)))
    slot2 = slice(75, 150)  # channel order m*75 + v*3 + c
    assert torch.equal(adapted.data_bn.running_var[slot2], model.data_bn.running_var[slot2])
    assert torch.equal(adapted.data_bn.running_mean[slot2], torch.zeros(75))
    empty = torch.zeros(1, 150, 16)
    with torch.no_grad():
        out = adapted.data_bn(empty)[0, 75:, 0]
    torch.testing.assert_close(out, adapted.data_bn.bias[75:])  # as with the variance 0 of the windows
    assert (adapted.data_bn.running_var[:75] != model.data_bn.running_var[:75]).all()  # the person present: adapted
    two = _windows(4, seed=3)
    two[..., 1] = two[..., 0]
    h = torch.as_tensor(two).permute(0, 4, 3, 1, 2).reshape(4, -1, 16)
    with torch.no_grad():
        assert float(adapted.data_bn(h)[:, 75:].abs().max()) < 20
