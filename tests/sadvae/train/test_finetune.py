"""Fine-tuning the last Shift-GCN units on cached unit inputs: parity with the full network, training, refusals."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sadvae.errors import ConfigError  # noqa: E402
from sadvae.features import ShiftGCNExtractor  # noqa: E402
from sadvae.models.shiftgcn import ShiftGCN, ShiftGCNConfig  # noqa: E402
from sadvae.train.finetune import FinetuneConfig, TunedTop, UnitInputs, fit_tuned  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = ShiftGCN(ShiftGCNConfig(num_classes=7, shift_init=2.5))
    with torch.no_grad():  # non-trivial BatchNorm statistics, as a trained network has
        for bn in m.modules():
            if isinstance(bn, torch.nn.modules.batchnorm._BatchNorm):
                bn.running_mean.uniform_(-0.2, 0.2)
                bn.running_var.uniform_(0.5, 1.5)
    return m.eval()


def _inputs(model, tmp_path, units=1):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"stand-in: the model is set directly")
    base = ShiftGCNExtractor(weights, window=16, stride=8, batch_size=4)
    base._model = model
    return UnitInputs(base, units)


def _windows(n, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, 3, 16, 25, 2)).astype(np.float32)
    x[..., 1] = 0.0  # one person
    return x


@pytest.mark.parametrize("units", [1, 2])
def test_unit_inputs_and_untrained_top_reproduce_the_full_network(model, tmp_path, units):
    ex = _inputs(model, tmp_path, units)
    x = _windows(6)
    acts, logits = ex.encode(x)
    with torch.no_grad():
        full_f = model.forward_features(torch.as_tensor(x)).numpy()
        full_lg = model(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(logits, full_lg, atol=1e-4)
    top = TunedTop(model, units, num_classes=3, window=16)
    np.testing.assert_allclose(top.predict_features(acts), full_f, atol=1e-4)


def test_second_person_windows_are_refused(model, tmp_path):
    x = _windows(2)
    x[0, :, :, :, 1] = 0.3
    with pytest.raises(ConfigError, match="one-person"):
        _inputs(model, tmp_path).encode(x)


def test_fit_tuned_learns_and_leaves_the_pretrained_model_alone(model, tmp_path):
    ex = _inputs(model, tmp_path)
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1, 2], 12)
    x = _windows(len(y), seed=4)
    poses = rng.normal(size=(3, 3, 1, 25)).astype(np.float32) * 2.0  # a class = a pose under per-window noise
    x[..., 0] += poses[y]
    acts, _ = ex.encode(x)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = FinetuneConfig(epochs=25, batch_size=12, lr_units=1e-3, lr_head=1e-2)
    tuned = fit_tuned(model, acts, y, 3, 16, cfg)
    control = fit_tuned(model, acts, y, 3, 16, FinetuneConfig(epochs=25, batch_size=12, lr_head=1e-2, tune=False))
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    with torch.no_grad():
        acc = (tuned(torch.as_tensor(acts)).argmax(1).numpy() == y).mean()
        moved = max(
            float((a - b).abs().max()) for a, b in zip(tuned.units.parameters(), model.l10.parameters(), strict=True)
        )
        still = max(
            float((a - b).abs().max()) for a, b in zip(control.units.parameters(), model.l10.parameters(), strict=True)
        )
    assert acc >= 0.9 and moved > 1e-3 and still == 0.0
    with pytest.raises(ConfigError, match="labels"):
        fit_tuned(model, acts, y + 5, 3, 16, cfg)
