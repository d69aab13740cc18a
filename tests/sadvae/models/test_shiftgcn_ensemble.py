"""Shift-GCNs as one backbone (features side by side, logits averaged): the module, its one-person graph, bundles,
ONNX, and agreement with the cached-feature ensemble the benchmarks read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sadvae_tests_helpers import random_shiftgcn  # noqa: E402

from sadvae.data.preprocess import PreprocessConfig  # noqa: E402
from sadvae.errors import ConfigError  # noqa: E402
from sadvae.models import build_backbone  # noqa: E402
from sadvae.models.live import live_backbone  # noqa: E402
from sadvae.models.pretrained import SHIFTGCN_CHECKPOINTS, load_pretrained_backbone, shiftgcn_weights_path  # noqa: E402
from sadvae.models.shiftgcn_ensemble import ShiftGCNEnsemble, ShiftGCNEnsembleConfig  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

T = 16


def _windows(n: int = 3, persons: int = 2, seed: int = 0) -> torch.Tensor:
    x = torch.zeros(n, 3, T, 25, 2)
    x[..., :persons] = torch.randn(n, 3, T, 25, persons, generator=torch.Generator().manual_seed(seed)) * 0.5
    return x


def test_features_side_by_side_and_logits_averaged() -> None:
    a, b = random_shiftgcn(0), random_shiftgcn(1)
    ens = ShiftGCNEnsemble.from_members([a, b]).eval()
    x = _windows()
    with torch.no_grad():
        f = ens.forward_features(x)
        assert f.shape == (3, 512) and ens.feature_dim == 512
        torch.testing.assert_close(f, torch.cat([a.forward_features(x), b.forward_features(x)], 1))
        torch.testing.assert_close(ens(x), (a(x) + b(x)) / 2)
    assert ens.cfg == ShiftGCNEnsembleConfig(members=2, num_classes=5, shift_init=2.5)


def test_config_rebuilds_the_model_and_its_state_dict_loads() -> None:
    ens = ShiftGCNEnsemble.from_members([random_shiftgcn(0), random_shiftgcn(1)]).eval()
    from dataclasses import asdict

    again = build_backbone(asdict(ens.cfg)).eval()
    assert isinstance(again, ShiftGCNEnsemble)
    again.load_state_dict(ens.state_dict())
    x = _windows()
    with torch.no_grad():
        torch.testing.assert_close(again(x), ens(x), rtol=0, atol=1e-6)


def test_bad_ensembles_are_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match="members must be >= 2"):
        ShiftGCNEnsembleConfig(members=1)
    with pytest.raises(ConfigError, match="one architecture and class list"):
        ShiftGCNEnsemble.from_members([random_shiftgcn(0, num_classes=5), random_shiftgcn(1, num_classes=6)])
    with pytest.raises(ConfigError, match="an empty name between"):
        load_pretrained_backbone("ntu120_xsub+")


def test_one_person_graph_equals_the_two_slot_ensemble_on_one_person_windows() -> None:
    ens = ShiftGCNEnsemble.from_members([random_shiftgcn(0), random_shiftgcn(1)]).eval()
    live = live_backbone(ens, persons=1, slots=2, window=T).eval()
    x = _windows(persons=1)
    with torch.no_grad():
        torch.testing.assert_close(live(x[..., :1]), ens(x), rtol=0, atol=1e-4)
        ens.cache_empty_slot = True  # the eager empty-slot cache is exact too, for every member
        torch.testing.assert_close(ens(x), live(x[..., :1]), rtol=0, atol=1e-4)


def test_bundle_round_trip_and_one_person_recognizer(tmp_path: Path) -> None:
    from sadvae.bundle import LiveConfig, load_bundle, save_bundle
    from sadvae.evaluate import Gate
    from sadvae.export import live_recognizer
    from sadvae.models.extra_head import ExtraHeadBackbone
    from sadvae.models.sadvae import SADVAE, SADVAEConfig
    from sadvae.text import TextConfig

    ens = ShiftGCNEnsemble.from_members([random_shiftgcn(0, 2), random_shiftgcn(1, 2)]).eval()
    backbone = ExtraHeadBackbone(ens, torch.nn.Linear(512, 1))
    sadvae = SADVAE(SADVAEConfig(feature_dim=512, text_dim=8, semantic_dim=4, style_dim=2)).eval()
    path = save_bundle(
        tmp_path / "ens.pt",
        backbone=backbone,
        sadvae=sadvae,
        gate=Gate(temperature=1.0, threshold=0.5, k=1, coef=np.zeros(2), intercept=0.0),
        class_names=("a", "b", "c", "d"),
        seen_classes=(0, 1, 2),
        unseen_classes=(3,),
        encoder_id="test",
        text_cfg=TextConfig(),
        preprocess=PreprocessConfig(window=T, fps=30.0, normalization="ntu"),
        metrics={},
        provenance={},
        live=LiveConfig(stride=8, persons=1),
    )
    b = load_bundle(path)
    assert isinstance(b.backbone.backbone, ShiftGCNEnsemble) and b.backbone.cfg.num_classes == 3
    x = _windows(n=2, persons=1)
    with torch.no_grad():
        torch.testing.assert_close(b.backbone(x), backbone(x), rtol=0, atol=1e-6)
        rec, pre = live_recognizer(b)
        assert pre.persons == 1
        latent, logits = rec(x[..., :1])
        torch.testing.assert_close(logits, backbone(x), rtol=0, atol=1e-4)


@pytest.mark.slow
def test_onnx_export_and_parity_of_the_one_person_ensemble() -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    import onnxruntime as ort

    from sadvae.export import Recognizer, check_tensorrt_ops, torch_to_onnx
    from sadvae.models.sadvae import SADVAE, SADVAEConfig

    ens = ShiftGCNEnsemble.from_members([random_shiftgcn(0), random_shiftgcn(1)]).eval()
    live = live_backbone(ens, persons=1, slots=2, window=T).eval()
    rec = Recognizer(live, SADVAE(SADVAEConfig(feature_dim=512, semantic_dim=8, style_dim=4)).eval())
    model = torch_to_onnx(rec, torch.zeros(2, 3, T, 25, 1))
    ops = check_tensorrt_ops(model)
    assert "Einsum" not in ops and ops["Conv"] == 70  # 35 a network
    x = _windows(n=3, persons=1)[..., :1].numpy()
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(["seen_logits"], {"window": x})[0]
    with torch.no_grad():
        want = rec(torch.from_numpy(x))[1].numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.fixture(scope="module")
def released_pair():
    d = shiftgcn_weights_path("ntu120_xsub").parent
    for name in ("ntu120_xsub", "ntu120_xsetup"):
        if not (d / SHIFTGCN_CHECKPOINTS[name][0]).is_file():
            pytest.skip(f"Shift-GCN weights {name} not found in {d} (clone the project beside ../shared)")
    return load_pretrained_backbone("ntu120_xsub+ntu120_xsetup")


def test_the_released_pair_matches_the_cached_feature_ensemble(released_pair, shared_data) -> None:
    """The module the live model runs and the extractor the recipe's cached features come from agree."""
    from sadvae.data.ntu import read_ntu_skeleton
    from sadvae.features import shiftgcn_extractor
    from sadvae.models.pretrained import resolve_shiftgcn_weights

    seq = read_ntu_skeleton(shared_data / "ntu" / "S001C001P001R001A001.skeleton")
    ex = shiftgcn_extractor("ntu120_xsub+ntu120_xsetup", 64, 32, resolve=resolve_shiftgcn_weights)
    wins = np.stack(ex.windows(seq))
    f, lg = ex.encode(wins)
    with torch.no_grad():
        x = torch.from_numpy(wins)
        torch.testing.assert_close(released_pair.forward_features(x).numpy(), f, rtol=0, atol=1e-4)
        logits = released_pair(x).numpy()
    np.testing.assert_allclose(logits, lg, atol=1e-3)
    assert int(logits.mean(0).argmax()) == 0  # A001 drink water, by both networks together
