from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from sadvae.errors import ConfigError  # noqa: E402
from sadvae.models.stgcn import PRESETS, STGCN, STGCNConfig, present_persons  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def _windows(n: int = 2, t: int = 32, m: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, t, 25, m, generator=g)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_forward_backward_every_preset(preset: str) -> None:
    torch.manual_seed(0)
    model = STGCN(STGCNConfig.from_preset(preset, num_classes=7))
    x = _windows(n=3)
    feats = model.forward_features(x)
    assert feats.shape == (3, 256) and model.feature_dim == 256
    assert (feats >= 0).all()
    logits = model.forward_head(feats)
    assert logits.shape == (3, 7)
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 3, 6]))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.blocks[1].gcn.importance.grad.abs().sum() > 0


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_absent_person_does_not_dilute_the_mean(preset: str) -> None:
    torch.manual_seed(1)
    model = STGCN(STGCNConfig.from_preset(preset, num_classes=4)).eval()
    one = _windows(n=2, m=1, seed=3)
    two = torch.cat([one, torch.zeros_like(one)], dim=4)  # person 2 absent
    with torch.no_grad():
        f_one, f_two = model.forward_features(one), model.forward_features(two)
    torch.testing.assert_close(f_two, f_one, rtol=1e-5, atol=1e-6)


def test_two_present_persons_are_averaged_and_empty_window_is_zero() -> None:
    torch.manual_seed(2)
    model = STGCN(STGCNConfig.from_preset("light", num_classes=4)).eval()
    x = _windows(n=1, m=2, seed=4)
    with torch.no_grad():
        f = model.forward_features(x)
        f0, f1 = model.forward_features(x[..., :1]), model.forward_features(x[..., 1:])
        empty = model.forward_features(torch.zeros(2, 3, 32, 25, 2))
    torch.testing.assert_close(f, (f0 + f1) / 2, rtol=1e-5, atol=1e-6)
    assert torch.equal(empty, torch.zeros(2, 256))
    assert present_persons(torch.cat([x, torch.zeros_like(x)], dim=4)).tolist() == [[1.0, 1.0, 0.0, 0.0]]


def test_config_validation_and_presets() -> None:
    with pytest.raises(ConfigError, match="valid presets"):
        STGCNConfig.from_preset("huge", num_classes=3)
    with pytest.raises(ConfigError, match="one stride per block"):
        STGCNConfig(channels=(8, 16), strides=(1,))
    with pytest.raises(ConfigError, match="odd"):
        STGCNConfig(temporal_kernel=4)
    cfg = STGCNConfig.from_preset("standard", num_classes=55)
    assert cfg.channels == (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
    assert cfg.strides == (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)
    # lists (from JSON) come back as tuples, so configs stay hashable and comparable
    assert STGCNConfig(channels=[8, 16], strides=[1, 2]).channels == (8, 16)


def test_onnx_export_has_no_einsum_and_matches_torch(tmp_path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    torch.manual_seed(5)
    model = STGCN(STGCNConfig.from_preset("light", num_classes=6)).eval()
    x = _windows(n=2, seed=6)
    x[1, ..., 1] = 0.0  # one window with an absent person
    path = tmp_path / "stgcn.onnx"
    torch.onnx.export(model, (x,), str(path), input_names=["windows"], output_names=["logits"], dynamo=True)
    graph = onnx.load(str(path)).graph
    ops = {node.op_type for node in graph.node}
    assert "Einsum" not in ops
    assert {"Conv", "MatMul"} <= ops
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        ref = model(x).numpy()
    assert abs(out - ref).max() < 1e-4
