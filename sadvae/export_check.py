"""Torch-free checks for an exported recognizer: the TensorRT operator check and deterministic test windows.

Only numpy at import (``onnx`` is imported inside :func:`check_tensorrt_ops`), so the engine builder
on a device without torch can refuse a bad graph, and benchmarks can draw realistic windows.

The operator allowlist is the onnx-tensorrt support matrix (``docs/operators.md``) of the TensorRT
8.5/8.6 parser, opset <= 17, as JetPack 5 ships it; TensorRT 10.x parses a superset. On top of it
the check refuses, on purpose, what makes a poor or unbuildable engine: Einsum, control flow,
random ops and data-dependent shapes (see :func:`check_tensorrt_ops`).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from sadvae.data.preprocess import PreprocessConfig, preprocess
from sadvae.errors import ExportError
from sadvae.skeleton import NUM_JOINTS

__all__ = ["TENSORRT_OPS", "REDUCE_OPS", "ExportError", "check_tensorrt_ops", "example_windows"]

# Operators marked supported in onnx-tensorrt docs/operators.md for the TensorRT 8.5/8.6 parser
# (opset <= 17, JetPack 5). TensorRT 10.x parses a superset, so a graph that passes runs on both.
TENSORRT_OPS = frozenset(
    """Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast Ceil
    Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace DequantizeLinear
    Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather GatherElements GatherND Gemm
    GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual GridSample GRU HardSigmoid HardSwish
    Identity If ImageScaler InstanceNormalization IsNaN LeakyRelu Less LessOrEqual Log LogSoftmax Loop LRN LSTM
    LpNormalization LpPool MatMul Max MaxPool Mean MeanVarianceNormalization Min Mod Mul Neg NonMaxSuppression
    NonZero Not OneHot Or Pad ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal RandomNormalLike
    RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax
    ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence RNN RoiAlign
    Round ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape Shrink Sigmoid Sign Sin Sinh Size Slice
    Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile TopK
    Transpose Trilu Unsqueeze Upsample Where Xor""".split()
)
_DATA_DEPENDENT = "its output shape depends on the input values (data-dependent shape)"
_CONTROL_FLOW = "control flow: the executed graph depends on tensor values"
_RANDOM = "random sampling: not an inference op, and TensorRT ignores the seed"
# Parsed by TensorRT (most of them), refused here on purpose.
_REFUSED = {
    "Einsum": "TensorRT's Einsum has no ellipsis, diagonal or broadcasting and runs as a slow generic layer; "
    "write the contraction as MatMul/Conv",
    **dict.fromkeys(("NonZero", "Unique", "Compress", "NonMaxSuppression"), _DATA_DEPENDENT),
    **dict.fromkeys(("If", "Loop", "Scan"), _CONTROL_FLOW),
    **dict.fromkeys(
        ("RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli"), _RANDOM
    ),
}
# Inputs that set an output's shape. Fed from the window's values, the shape is data-dependent.
_SHAPE_INPUTS = {
    **dict.fromkeys(("Reshape", "Expand", "Tile", "Upsample", "TopK", "OneHot", "Squeeze", "Unsqueeze", "Split"), (1,)),
    "ConstantOfShape": (0,),
    "Slice": (1, 2, 3, 4),
    "Range": (0, 1, 2),
    "Pad": (1, 3),
    "Resize": (2, 3),
}
# Reduce ops whose axes moved from an attribute to input 1 in opset 18 (ReduceSum moved in 13).
REDUCE_OPS = (
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSumSquare",
)
_SHAPE_ONLY_OPS = ("Shape", "Size")  # outputs depend on the input's shape, never its values


def check_tensorrt_ops(model) -> dict[str, int]:
    """Refuse a graph TensorRT cannot build as a static-shape engine with a dynamic batch.

    Checks, for every node: a standard-domain operator on :data:`TENSORRT_OPS` (the onnx-tensorrt
    support list for TensorRT 8.5/8.6, opset 17); not Einsum, control flow (If/Loop/Scan), random
    sampling or an op whose output shape depends on tensor values (NonZero, Unique, Compress,
    NonMaxSuppression; ``torch.where(cond)`` and boolean-mask indexing export as NonZero, while the
    three-input Where is elementwise and fine); no shape-setting input (Reshape's shape, Expand,
    Tile, Slice bounds, Pad, Resize, TopK's k, ...) computed from the input's values rather than its
    shape; every tensor of known rank after strict shape inference; graph inputs and outputs static
    except axis 0 (the batch, the only axis the engine profile spans).

    Args:
        model: an ``onnx.ModelProto``.

    Returns:
        node count per operator, most common first.

    Raises:
        ExportError: naming every offending node, its operator and the reason.
    """
    graph = model.graph
    problems: list[str] = []
    for node in graph.node:
        where = f"node {node.name or '(unnamed)'!r} ({node.op_type})"
        if node.domain not in ("", "ai.onnx"):
            problems.append(
                f"{where}: operator of domain {node.domain!r} is not standard ONNX (TensorRT needs a plugin)"
            )
        elif node.op_type in _REFUSED:
            problems.append(f"{where}: {_REFUSED[node.op_type]}")
        elif node.op_type not in TENSORRT_OPS:
            problems.append(f"{where}: not supported by TensorRT's ONNX parser (onnx-tensorrt list for 8.5/8.6)")
    problems += _value_dependent_shapes(graph)
    problems += _shape_problems(model)
    if problems:
        raise ExportError(f"the graph is not TensorRT-ready ({len(problems)} problem(s)): " + "; ".join(problems))
    return dict(Counter(node.op_type for node in graph.node).most_common())


def _value_dependent_shapes(graph) -> list[str]:
    """Shape-setting inputs computed from the graph inputs' values (Shape/Size read only the shape)."""
    shape_inputs = {**_SHAPE_INPUTS, **{op: (1,) for op in (*REDUCE_OPS, "ReduceSum")}}
    initializers = {init.name for init in graph.initializer}
    tainted = {i.name for i in graph.input if i.name not in initializers}
    problems = []
    for node in graph.node:
        for slot in shape_inputs.get(node.op_type, ()):
            if slot < len(node.input) and node.input[slot] in tainted:
                problems.append(
                    f"node {node.name or '(unnamed)'!r} ({node.op_type}): input {slot} "
                    f"({node.input[slot]!r}) sets the output shape and is computed from the input "
                    "values (data-dependent shape)"
                )
        if node.op_type not in _SHAPE_ONLY_OPS and any(name in tainted for name in node.input if name):
            tainted.update(name for name in node.output if name)
    return problems


def _shape_problems(model) -> list[str]:
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except onnx.shape_inference.InferenceError as e:
        return [f"shape inference fails: {str(e).strip().splitlines()[0]}"]
    graph = inferred.graph
    known = {vi.name: vi for vi in (*graph.value_info, *graph.output, *graph.input)}
    known.update({init.name: None for init in graph.initializer})
    problems = []
    for node in graph.node:
        for name in node.output:
            if not name or name in known and known[name] is None:
                continue
            vi = known.get(name)
            if vi is None or not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
                problems.append(f"node {node.name or '(unnamed)'!r} ({node.op_type}): output {name!r} has unknown rank")
    for kind, values in (("input", model.graph.input), ("output", model.graph.output)):  # as declared
        for vi in values:
            dims = vi.type.tensor_type.shape.dim
            dynamic = [i for i, d in enumerate(dims) if i > 0 and not d.HasField("dim_value")]
            if dynamic:
                problems.append(f"graph {kind} {vi.name!r}: axes {dynamic} are dynamic; only the batch axis 0 may be")
    return problems


# Rest pose (x, y) in metres for the 25 NTU joints, +x = the person's right, +y up.
_REST_POSE = np.array(
    [
        (0, 0),
        (0, 0.25),
        (0, 0.52),
        (0, 0.66),
        (-0.18, 0.45),
        (-0.22, 0.2),
        (-0.24, -0.02),
        (-0.25, -0.08),
        (0.18, 0.45),
        (0.22, 0.2),
        (0.24, -0.02),
        (0.25, -0.08),
        (-0.09, -0.02),
        (-0.1, -0.45),
        (-0.1, -0.85),
        (-0.1, -0.9),
        (0.09, -0.02),
        (0.1, -0.45),
        (0.1, -0.85),
        (0.1, -0.9),
        (0, 0.45),
        (-0.26, -0.15),
        (-0.22, -0.1),
        (0.26, -0.15),
        (0.22, -0.1),
    ],
    dtype=np.float32,
)
_ARM_JOINTS = (5, 6, 7, 9, 10, 11, 21, 22, 23, 24)  # elbows, wrists, hands, hand tips, thumbs


def _moving_person(rng: np.random.Generator, frames: int, fps: float) -> np.ndarray:
    """A plausible NTU-25 sequence [frames, 25, 3] in metres: swaying body, waving arms, sensor noise."""
    t = np.arange(frames, dtype=np.float32)[:, None] / fps  # (T, 1)
    pose = np.zeros((frames, NUM_JOINTS, 3), dtype=np.float32)
    pose[:, :, :2] = _REST_POSE
    pose[:, :, 0] += rng.uniform(-1, 1) + 0.05 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t)
    pose[:, :, 2] = rng.uniform(2.0, 4.0)
    freq = rng.uniform(0.3, 1.5)
    phase = rng.uniform(0, 2 * np.pi)
    amp = rng.uniform(0.05, 0.3)
    arms = list(_ARM_JOINTS)
    pose[:, arms, 1] += amp * np.sin(2 * np.pi * freq * t + phase) * (pose[:1, arms, 1] < 0.3)
    pose[:, arms, 2] -= 0.5 * amp * np.abs(np.sin(2 * np.pi * freq * t))
    return pose + rng.normal(0, 0.005, size=pose.shape).astype(np.float32)


def example_windows(n: int, cfg: PreprocessConfig | None = None, seed: int = 0) -> np.ndarray:
    """Deterministic test windows float32 [n, 3, T, 25, M] through the shared preprocessing.

    Window i is, cycling on i % 4: one moving person (the others absent), raw N(0, 1) noise in every
    slot, every person moving, nobody (all zeros). Use it for parity checks and benchmarks.

    Args:
        n: number of windows.
        cfg: window length, frame rate and persons (default ``PreprocessConfig()``).
        seed: random seed.
    """
    cfg = cfg or PreprocessConfig()
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 3, cfg.window, NUM_JOINTS, cfg.persons), dtype=np.float32)
    for i in range(n):
        kind = i % 4
        if kind == 1:
            out[i] = rng.normal(size=out.shape[1:])
        elif kind in (0, 2):
            people = 1 if kind == 0 else cfg.persons
            joints = np.zeros((cfg.window, cfg.persons, NUM_JOINTS, 3), dtype=np.float32)
            for m in range(people):
                joints[:, m] = _moving_person(rng, cfg.window, cfg.fps)
            out[i] = preprocess(joints, None, cfg)
    return out
