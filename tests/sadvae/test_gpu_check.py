"""scripts/gpu_check.py on the CPU: the packaged recogniser's ONNX Runtime parity, and the reduced-precision decision
check (its GPU rows need CUDA and run where there is one)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def load_script():
    if "gpu_check" in sys.modules:
        return sys.modules["gpu_check"]
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module
    spec.loader.exec_module(module)
    return module


def test_cpu_parity_and_latency_of_the_packaged_recogniser() -> None:
    pytest.importorskip("onnxruntime")
    gc = load_script()
    res = gc.check(ROOT / "sadvae" / "assets" / "default_model.pt", None, repeats=4)
    assert res["inputs"] == "random, seed 0"
    ort = res["parity_max_abs"]["onnxruntime CPUExecutionProvider"]
    assert ort["latent"] < 1e-4 and ort["seen_logits"] < 1e-3
    assert res["latency_batch1"]["torch cpu fp32"]["median_ms"] > 0
    assert "decisions" not in res  # only with real held-out windows


class _NearTie(__import__("torch").nn.Module):
    """Two logits 1e-3 apart near 100: fp32 keeps them apart, fp16 (spacing 0.0625 there) makes them equal."""

    def forward(self, x):
        import torch

        s = x.flatten(1).sum(-1, keepdim=True) * 0 + 100
        return x.flatten(1)[:, :4], torch.cat([s, s + 1e-3], dim=1)


def test_decisions_count_what_fp16_flips() -> None:
    gc = load_script()
    x = np.ones((3, 3, 8, 25, 1), np.float32)
    d = gc.decisions(_NearTie(), x, batch=2)["torch cpu fp16 (all layers)"]
    assert d["windows"] == 3 and d["top1_agreement"] == 0.0 and d["top1_in_fp32_top5"] == 1.0
    assert d["max_logit_change"] == pytest.approx(1e-3, abs=1e-4) and d["latent_cos_min"] == pytest.approx(1.0)


def test_decisions_on_the_packaged_recogniser_leave_it_fp32() -> None:
    import torch

    from sadvae.bundle import load_bundle
    from sadvae.export import live_recognizer

    gc = load_script()
    rec, pre = live_recognizer(load_bundle(ROOT / "sadvae" / "assets" / "default_model.pt"))
    x = np.random.default_rng(1).normal(0, 0.3, (6, 3, pre.window, 25, pre.persons)).astype(np.float32)
    d = gc.decisions(rec.eval(), x, batch=4)["torch cpu fp16 (all layers)"]
    assert d["windows"] == 6 and 0.0 < d["max_logit_change"] < 5.0 and d["latent_cos_min"] > 0.99
    assert next(rec.parameters()).dtype == torch.float32  # the check halves a copy
