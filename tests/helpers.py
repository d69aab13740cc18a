"""Small stand-ins shared by test files (not a test module); it imports neither torch nor onnx at import time.

pytest runs with ``--import-mode=importlib``, so test modules cannot import each other: ``tests/conftest.py``
loads this file by path once, at its own import (before any test module), under the fixed name ``MODULE_NAME``.
A test file reads it with ``from sadvae_tests_helpers import FakeText`` (module level is fine: a class to
subclass or a helper used by other module-level helpers works the same way).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import socket
import sys
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np

MODULE_NAME = "sadvae_tests_helpers"


def exec_by_path(name: str, path: Path) -> ModuleType:
    """A fresh module run from ``path`` (a script), registered as ``sys.modules[name]`` (dataclasses look it up)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_by_path(name: str, path: Path) -> ModuleType:
    """The module at ``path`` (a test support file, a script) under ``name`` in ``sys.modules``, loaded once."""
    if name not in sys.modules:
        exec_by_path(name, path)
    return sys.modules[name]


class FakeText:
    """Deterministic stand-in for the sentence encoder: one random unit vector per prompt text.

    ``dim`` wide (default: the class attribute, 32 as the tiny bundle's text VAE takes; a subclass may set another);
    each call sleeps ``delay_s`` first and is recorded in ``calls`` as (labels, descriptions or None)."""

    dim: int = 32

    def __init__(self, dim: int | None = None, delay_s: float = 0.0):
        if dim is not None:
            self.dim = dim
        self.delay_s, self.calls = delay_s, []

    def encode_labels(self, labels, descriptions=None) -> np.ndarray:
        self.calls.append((list(labels), None if descriptions is None else list(descriptions)))
        time.sleep(self.delay_s)
        rows = []
        for text in labels:
            seed = int.from_bytes(hashlib.sha256(str(text).encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).normal(size=self.dim)
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32)


# the opening of a child script that runs as on a machine without torch, the sentence encoder or the export tools
# (a Jetson): each of those imports fails there
NO_TORCH_PRELUDE = """
import sys

class Block:
    BLOCKED = ("torch", "sentence_transformers", "transformers", "onnx", "onnxscript")
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BLOCKED:
            raise ImportError(f"blocked {name}")
        return None

sys.meta_path.insert(0, Block())
"""


def free_endpoint() -> str:
    """A ``tcp://127.0.0.1:PORT`` endpoint on a port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


class PoseSkeleton:
    """The pose stage's duck type (``realtime.tracking.Detection.from_skeleton`` reads these) around NTU joints.

    The joints in ``unseen`` get confidence 0 (the rest 1); ``timestamp_ms``, when given, is the frame the result
    was estimated on (a skeleton without one belongs to the frame just read)."""

    def __init__(self, joints: np.ndarray, timestamp_ms: int | None = None, unseen=()):
        self.joints, self.unseen = joints, list(unseen)
        if timestamp_ms is not None:
            self.timestamp_ms = timestamp_ms
        self.image = np.column_stack([np.linspace(0.4, 0.6, 33), np.linspace(0.2, 0.9, 33)]).astype(np.float32)

    def ntu25(self):
        conf = np.ones(25, np.float32)
        conf[self.unseen] = 0.0
        return self.joints, conf

    def scores(self):
        return np.full(33, 0.9, np.float32)


class FakeCamera:
    """Camera-like frames (an 8x8 black image, no skeletons) at 30 fps carrying each replay frame's first person's
    joints as ``joints``, for a fake pose stage to read."""

    fps = 30.0

    def __init__(self, frames):
        self.frames = frames

    def __iter__(self):
        for f in self.frames:
            yield SimpleNamespace(
                image=np.zeros((8, 8, 3), np.uint8),
                timestamp_ms=f.timestamp_ms,
                skeletons=None,
                joints=f.skeletons[0],
                index=f.index,
            )

    def close(self) -> None:
        pass


def standing_figure(cx: float, scale: float = 0.35) -> np.ndarray:
    """33 normalised image landmarks of a standing figure centred at x = cx (head near the top)."""
    rng = np.random.default_rng(0)
    ys = np.linspace(0.5 - scale, 0.5 + scale, 33)
    xs = cx + rng.uniform(-scale / 4, scale / 4, 33)
    return np.stack([xs, ys], axis=1)


def relu_onnx(path: Path, model_id: str = "m" * 64, meta: dict[str, str] | None = None) -> Path:
    """Write a tiny valid ONNX file (one Relu, x [N, 4] -> y [N, 4]) at ``path``; skips the test where the ``onnx``
    package is missing. Its metadata is ``meta`` as given, or else only ``sadvae.model_id`` = ``model_id`` (JSON)."""
    import pytest

    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    for key, value in ({"sadvae.model_id": json.dumps(model_id)} if meta is None else meta).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, path)
    return path


def random_shiftgcn(
    seed: int = 0,
    num_classes: int = 5,
    *,
    bn_weight: bool = False,
    bn_bias: bool = False,
    feature_masks: bool = False,
):
    """A random-weight ``ShiftGCN`` (shift_init 2.5) in eval mode, with non-trivial BatchNorm running statistics.

    ``bn_weight`` / ``bn_bias`` randomise the BatchNorm affine weights / biases too, ``feature_masks`` the
    ``Feature_Mask`` parameters (all drawn from torch's global generator, seeded with ``seed``, in that order)."""
    import torch

    from sadvae.models.shiftgcn import ShiftGCN, ShiftGCNConfig

    torch.manual_seed(seed)
    model = ShiftGCN(ShiftGCNConfig(num_classes=num_classes, shift_init=2.5))
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.running_mean.normal_(0, 0.3)
                mod.running_var.uniform_(0.5, 2.0)
                if bn_weight:
                    mod.weight.uniform_(0.5, 1.5)
                if bn_bias:
                    mod.bias.normal_(0, 0.2)
        if feature_masks:
            for name, p in model.named_parameters():
                if name.endswith("Feature_Mask"):
                    p.normal_(0, 0.5)
    return model.eval()
