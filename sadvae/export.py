"""Export the recognizer graph (ST-GCN -> SA-DVAE semantic mean + seen-class logits) to ONNX.

The graph the live pipeline runs is :class:`Recognizer`: a preprocessed window float32
[N, 3, T, 25, M] -> ``latent`` mu_r [N, d_r] and ``seen_logits`` [N, K]. :func:`export_onnx` writes it
with input ``window``, a dynamic batch axis and the bundle facts the runtime needs in
``metadata_props``, checks every node against the operators TensorRT's ONNX parser supports, and
checks numerical parity with torch through ONNX Runtime on the CPU.

Exporter choice: the dynamo exporter (``torch.export`` + onnxscript, ``dynamo=True``). With a
dynamic batch it gives a clean graph: every Reshape gets a constant shape with -1 for the batch and
there is no shape arithmetic, so the light model is 91 nodes (118 TensorRT layers). The legacy
TorchScript exporter turns every ``x.shape`` read into ``Shape -> Gather -> Unsqueeze -> Concat``
chains: 342 nodes and 565 TensorRT layers for the same model (measured with torch 2.13 and the
TensorRT-RTX 1.7 parser; both parse and build, with equal parity). The dynamo exporter translates at
opset 18 and its own down-conversion fails on our graph, so we convert the optimised graph with
``onnx.version_converter`` and drop the ``noop_with_empty_axes`` attribute it leaves on the opset-13
Reduce ops (the attribute exists from opset 18; 0 is its default). Opset 17 is the default because
TensorRT 8.5/8.6 (JetPack 5) parse up to opset 17. ``exporter="torchscript"`` stays for comparison.

Metadata: every key is ``sadvae.<name>`` and every value is JSON: ``format_version``, ``model_id``
(sha256 of the bundle file), ``window`` (T), ``persons`` (M), ``fps``, ``joint_layout``,
``joints``, ``channels``, ``latent_dim``, ``seen_classes`` (names, in logit order),
``unseen_classes``, ``encoder_id``, ``text_model``, ``text_template``, ``preprocess`` and ``gate``;
``normalization`` (the window's, as in ``preprocess``), ``backbone`` (``arch``, the person ``slots`` it
was trained with, ``own_classes`` / ``extra_classes``: the seen columns its own head and an extra
head score), ``live`` (the bundle's :class:`sadvae.bundle.LiveConfig`: ``stride``, ``persons``) and
``terms`` (the licence and terms the model inherits, e.g. CC BY-NC 4.0 from NTU-pretrained weights);
``class_aliases`` where the bundle records a class table (per trained class, the datasets' own names of the classes
merged into it, which the live label matcher reads as other names of that class).
``window``, ``persons`` and ``preprocess`` describe the graph's input: a two-slot Shift-GCN exported
for one-person windows (``export_onnx(persons=1)``, the default when the bundle's live config says so)
has ``persons`` 1.

The TensorRT operator check and the test windows live in the torch-free :mod:`sadvae.export_check`,
:func:`file_sha256` in :mod:`sadvae.hashing`; both are re-exported here.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sadvae.data.preprocess import PreprocessConfig
from sadvae.errors import CheckpointError, ConfigError
from sadvae.export_check import REDUCE_OPS, TENSORRT_OPS, ExportError, check_tensorrt_ops, example_windows
from sadvae.fileio import atomic_path, output_problem
from sadvae.hashing import file_sha256
from sadvae.onnx_metadata import EXPORT_FORMAT, METADATA_PREFIX, encode_metadata
from sadvae.skeleton import NUM_JOINTS

__all__ = [
    "EXPORT_FORMAT",
    "INPUT_NAME",
    "OUTPUT_NAMES",
    "METADATA_PREFIX",
    "TENSORRT_OPS",
    "ExportError",
    "Recognizer",
    "ExportReport",
    "file_sha256",
    "bundle_metadata",
    "live_recognizer",
    "supported_persons",
    "check_persons",
    "check_export_request",
    "encode_metadata",
    "torch_to_onnx",
    "check_tensorrt_ops",
    "example_windows",
    "check_parity",
    "export_onnx",
]

log = logging.getLogger(__name__)

INPUT_NAME = "window"
OUTPUT_NAMES = ("latent", "seen_logits")
_EXPORTERS = ("dynamo", "torchscript")
_DYNAMO_OPSET = 18  # the opset the dynamo exporter's translation table targets


class Recognizer(nn.Module):
    """The live graph: windows [N, 3, T, 25, M] -> (latent mu_r [N, d_r], seen_logits [N, K]).

    The semantic mean is a Linear holding the first d_r rows of the skeleton encoder's mean layer, so
    the graph computes only what inference reads (no slice of a [d_r + d_v] output).

    Args:
        backbone: a trained ``sadvae.models.stgcn.STGCN``.
        sadvae: a trained ``sadvae.models.sadvae.SADVAE`` whose ``feature_dim`` is the backbone's.
    """

    def __init__(self, backbone: nn.Module, sadvae: nn.Module) -> None:
        super().__init__()
        if backbone.feature_dim != sadvae.cfg.feature_dim:
            raise ConfigError(
                f"backbone features are {backbone.feature_dim}-d but the SA-DVAE expects "
                f"{sadvae.cfg.feature_dim}-d; the two models do not belong together"
            )
        self.backbone = backbone
        mu, d_r = sadvae.skeleton_encoder.mu, sadvae.cfg.semantic_dim
        self.semantic = nn.Linear(mu.in_features, d_r).to(mu.weight.device)
        with torch.no_grad():
            self.semantic.weight.copy_(mu.weight[:d_r])
            self.semantic.bias.copy_(mu.bias[:d_r])
        self.eval()

    @classmethod
    def from_bundle(cls, bundle) -> Recognizer:
        """Recognizer of a loaded ``sadvae.bundle.Bundle`` (its windows: ``bundle.preprocess``)."""
        return cls(bundle.backbone, bundle.sadvae)

    @property
    def latent_dim(self) -> int:
        return self.semantic.out_features

    @property
    def num_seen(self) -> int:
        return self.backbone.cfg.num_classes

    def forward(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[N, 3, T, 25, M] -> (latent [N, d_r], seen_logits [N, K])."""
        features = self.backbone.forward_features(windows)  # (N, D)
        return self.semantic(features), self.backbone.forward_head(features)


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_onnx` wrote and measured.

    Attributes:
        path: the ONNX file.
        opset: its default-domain opset.
        exporter: "dynamo" or "torchscript".
        model_id: sha256 of the bundle file.
        op_histogram: node count per operator, most common first.
        parity: per batch size, max |onnxruntime - torch| per output (empty without the check).
        seconds: wall time of the export and checks.
    """

    path: Path
    opset: int
    exporter: str
    model_id: str
    op_histogram: dict[str, int]
    parity: dict[int, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0


def live_recognizer(bundle, persons: int | None = None) -> tuple[Recognizer, PreprocessConfig]:
    """The recognizer the live side runs for a loaded bundle, and the preprocessing of its windows.

    Args:
        bundle: a loaded ``sadvae.bundle.Bundle``.
        persons: person slots of the live window; None = the bundle's live config (``bundle.live.persons``),
            else its ``preprocess.persons``. 1 on a two-slot Shift-GCN: the one-person graph.

    Raises:
        ConfigError: a person count the backbone has no graph for.
    """
    from dataclasses import replace

    from sadvae.models.live import live_backbone

    if persons is not None:
        check_persons(bundle, persons)
    pre = bundle.live_preprocess if persons is None else replace(bundle.preprocess, persons=int(persons))
    backbone = live_backbone(bundle.backbone, pre.persons, bundle.preprocess.persons, pre.window)
    return Recognizer(backbone, bundle.sadvae), pre


def supported_persons(bundle) -> tuple[int, ...]:
    """The person slots a loaded bundle's recognizer can take: its own slots, and 1 on a Shift-GCN of more
    (its one-person graph; see :func:`sadvae.models.live.live_backbone`)."""
    from sadvae.models.shiftgcn import ShiftGCN
    from sadvae.models.shiftgcn_ensemble import ShiftGCNEnsemble

    slots = int(bundle.preprocess.persons)
    inner = _inner_backbone(bundle)
    one_person = slots > 1 and isinstance(inner, ShiftGCN | ShiftGCNEnsemble) and inner.cfg.num_persons == slots
    return (1, slots) if one_person else (slots,)


def _inner_backbone(bundle):
    """The bundle's backbone model, without an extra head around it."""
    from sadvae.models.extra_head import ExtraHeadBackbone

    return bundle.backbone.backbone if isinstance(bundle.backbone, ExtraHeadBackbone) else bundle.backbone


def _check_person_count(persons: object) -> None:
    if isinstance(persons, bool) or not isinstance(persons, int | np.integer) or persons < 1:
        raise ConfigError(f"--persons must be a whole number >= 1, got {persons!r}")


def check_persons(bundle, persons: object) -> None:
    """Refuse a person count the bundle's recognizer has no graph for; the message names the counts it has.

    Raises:
        ConfigError: ``persons`` is not a whole number >= 1, or not one of :func:`supported_persons`.
    """
    from sadvae.models.shiftgcn import ShiftGCN
    from sadvae.models.shiftgcn_ensemble import ShiftGCNEnsemble

    _check_person_count(persons)
    valid = supported_persons(bundle)
    if persons in valid:
        return
    slots = int(bundle.preprocess.persons)
    inner = _inner_backbone(bundle)
    shift = isinstance(inner, ShiftGCN | ShiftGCNEnsemble)
    name = "Shift-GCN" if shift else type(inner).__name__.replace("STGCN", "ST-GCN")
    if len(valid) == 2:
        has = f"{slots} person slots (the ones it was trained with) or 1 (its one-person graph)"
    else:
        why = "; only a Shift-GCN has a one-person graph" if persons == 1 else ""
        has = f"{slots} person slot(s) only (the ones it was trained with{why})"
    raise ConfigError(
        f"--persons {persons}: this {name} takes windows of {has}; "
        f"pass --persons {' or '.join(map(str, valid))}, or leave it out for the bundle's live default"
    )


def bundle_metadata(bundle, model_id: str, preprocess: PreprocessConfig | None = None) -> dict[str, object]:
    """The runtime facts of a loaded bundle (plain JSON-able values; see the module docstring).

    Args:
        bundle: a loaded ``sadvae.bundle.Bundle``.
        model_id: sha256 of the bundle file.
        preprocess: the graph's window preprocessing (:func:`live_recognizer`'s); None = the bundle's live one.
    """
    pre = preprocess or bundle.live_preprocess
    gate = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in bundle.gate.to_dict().items()}
    backbone = bundle.backbone
    own = getattr(backbone, "own_classes", backbone.cfg.num_classes)
    return {
        "format_version": EXPORT_FORMAT,
        "model_id": model_id,
        "window": pre.window,
        "persons": pre.persons,
        "fps": pre.fps,
        "joint_layout": "ntu25",
        "joints": NUM_JOINTS,
        "channels": bundle.backbone.cfg.in_channels,
        "latent_dim": bundle.sadvae.cfg.semantic_dim,
        "seen_classes": list(bundle.seen_names),
        "unseen_classes": [bundle.class_names[c] for c in bundle.unseen_classes],
        "encoder_id": bundle.encoder_id,
        "text_model": bundle.text_cfg.model,
        "text_template": bundle.text_cfg.template,
        "preprocess": asdict(pre),
        "gate": gate,
        "normalization": pre.normalization,
        "backbone": {
            "arch": getattr(backbone.cfg, "arch", "stgcn"),
            "slots": bundle.preprocess.persons,
            "own_classes": int(own),
            "extra_classes": int(backbone.cfg.num_classes) - int(own),
        },
        "live": bundle.live.to_dict(),
        "terms": dict(bundle.terms),
        **({"class_aliases": [list(a) for a in aliases]} if (aliases := bundle.column_aliases) else {}),
    }


def torch_to_onnx(
    module: nn.Module,
    example: torch.Tensor,
    *,
    opset: int = 17,
    exporter: str = "dynamo",
    input_name: str = INPUT_NAME,
    output_names: tuple[str, ...] = OUTPUT_NAMES,
):
    """Export ``module(example)`` with a dynamic batch axis (axis 0 of the input and every output).

    Args:
        module: a module taking one tensor; exported in eval mode.
        example: an example input [N, ...] (N >= 2: torch.export specialises a batch of 1).
        opset: default-domain opset of the result, >= 17.
        exporter: "dynamo" (default; see the module docstring) or "torchscript".
        input_name: name of the graph input.
        output_names: names of the graph outputs, in the module's return order.

    Returns:
        a checked ``onnx.ModelProto``.

    Raises:
        ConfigError: unknown exporter, or opset outside [17, the installed onnx's latest].
        ExportError: torch cannot export the module, or the result fails the ONNX checker.
    """
    import onnx

    _check_exporter_and_opset(exporter, opset)
    module = module.eval()
    outputs = list(output_names)
    try:
        with _quiet_exporter(), torch.no_grad():
            if exporter == "dynamo":
                model = _export_dynamo(module, example, input_name, outputs)
            else:
                model = _export_torchscript(module, example, opset, input_name, outputs)
    except Exception as e:  # export fails with many exception types from deep inside torch
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ExportError(f"torch could not export {type(module).__name__} to ONNX ({exporter}): {first}") from e
    if model.functions:
        model = onnx.inliner.inline_local_functions(model)
    model = _convert_opset(model, opset)
    _drop_unused_initializers(model)
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise ExportError(f"the exported graph fails the ONNX checker: {str(e).strip().splitlines()[0]}") from e
    return model


def _check_exporter_and_opset(exporter: str, opset: int) -> None:
    import onnx

    if exporter not in _EXPORTERS:
        raise ConfigError(f"unknown ONNX exporter {exporter!r}; valid exporters: {list(_EXPORTERS)}")
    latest = onnx.defs.onnx_opset_version()
    if not 17 <= opset <= latest:
        raise ConfigError(f"opset must be in [17, {latest}] (TensorRT 8.5/8.6 parse up to 17), got {opset}")


def check_export_request(bundle_path: Path, out_path: Path, *, atol: float = 1e-4, persons: int | None = None) -> None:
    """The cheap checks of :func:`export_onnx`, before the bundle is read and the graph exported (~20 s).

    Raises:
        ConfigError: ``out_path`` is a folder, not a ``.onnx`` name, the bundle itself or a path that cannot be
            written; ``atol`` is not a positive number; ``persons`` is not a whole number >= 1.
    """
    if isinstance(atol, bool) or not isinstance(atol, int | float) or not math.isfinite(atol) or atol <= 0:
        raise ConfigError(
            f"--atol must be a positive number (the largest accepted |onnxruntime - torch|, default 1e-4), "
            f"got {atol!r}; use --no-check to skip the parity check"
        )
    if persons is not None:
        _check_person_count(persons)
    stem = bundle_path.with_suffix(".onnx").name if bundle_path.suffix == ".pt" else "model.onnx"
    if out_path.is_dir():
        raise ConfigError(f"--out {out_path}: is a folder; pass the .onnx file to write, e.g. {out_path / stem}")
    if out_path.suffix.lower() != ".onnx":
        raise ConfigError(
            f"--out {out_path}: expected a .onnx file name (the export is an ONNX model), e.g. "
            f"{out_path.with_suffix('.onnx')}"
        )
    for parent in out_path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"--out {out_path}: {parent} is a file, not a folder; choose another --out")
            break
    if bundle_path.exists() and out_path.exists() and out_path.resolve() == bundle_path.resolve():
        raise ConfigError(f"--out {out_path}: is the bundle itself; write the export to another file")
    if problem := output_problem(out_path):  # a folder that cannot be written in failed only after the export
        raise ConfigError(f"--out {out_path}: {problem}; pass an --out path that can be written")


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporters while they run: a warning per absent torchvision op, an INFO line per optimiser pass,
    and their Future/Deprecation warnings."""
    noisy = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    old_levels = [lg.level for lg in noisy]
    for lg in noisy:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        for lg, level in zip(noisy, old_levels, strict=True):
            lg.setLevel(level)


def _export_dynamo(module: nn.Module, example: torch.Tensor, input_name: str, outputs: list[str]):
    """torch.export + onnxscript at :data:`_DYNAMO_OPSET`, batch axis dynamic; the ``onnx.ModelProto``."""
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.onnx.export(
        module,
        (example,),
        None,
        dynamo=True,
        opset_version=_DYNAMO_OPSET,
        input_names=[input_name],
        output_names=outputs,
        dynamic_shapes=({0: batch},),
        optimize=True,
        verbose=False,
    )
    return program.model_proto


def _export_torchscript(module: nn.Module, example: torch.Tensor, opset: int, input_name: str, outputs: list[str]):
    """The TorchScript exporter at ``opset``, batch axis dynamic; the ``onnx.ModelProto``."""
    import io

    import onnx

    buf = io.BytesIO()
    axes = {name: {0: "batch"} for name in [input_name, *outputs]}
    torch.onnx.export(
        module,
        (example,),
        buf,
        dynamo=False,
        opset_version=opset,
        input_names=[input_name],
        output_names=outputs,
        dynamic_axes=axes,
    )
    return onnx.load_from_string(buf.getvalue())


def _default_opset(model) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def _convert_opset(model, opset: int):
    """Convert to ``opset`` and repair what ``onnx.version_converter`` leaves invalid below 18."""
    import onnx

    if _default_opset(model) == opset:
        return model
    try:
        model = onnx.version_converter.convert_version(model, opset)
    except RuntimeError as e:
        raise ExportError(
            f"cannot convert the graph to opset {opset}: {str(e).strip().splitlines()[0]}; try --opset {_DYNAMO_OPSET}"
        ) from None
    if opset < 18:  # Reduce* ops gained noop_with_empty_axes in 18; the converter keeps it
        for node in model.graph.node:
            if node.op_type not in REDUCE_OPS:
                continue
            for i, attr in reversed(list(enumerate(node.attribute))):
                if attr.name == "noop_with_empty_axes":
                    if attr.i != 0:
                        raise ExportError(
                            f"node {node.name!r} ({node.op_type}) uses noop_with_empty_axes=1, "
                            f"which opset {opset} cannot express"
                        )
                    del node.attribute[i]
    return model


def _drop_unused_initializers(model) -> None:
    graph = model.graph
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    keep = [init for init in graph.initializer if init.name in used]
    if len(keep) != len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(keep)


def check_parity(
    recognizer: Recognizer,
    model,
    cfg: PreprocessConfig,
    batches: tuple[int, ...] = (1, 4),
    atol: float = 1e-4,
    seed: int = 0,
) -> dict[int, dict[str, float]]:
    """Compare ONNX Runtime (CPU) with torch on :func:`example_windows` and N(0, 1) windows.

    Args:
        recognizer: the torch graph.
        model: the exported ``onnx.ModelProto`` or a path to it.
        cfg: window shape of the inputs.
        batches: batch sizes to run.
        atol: largest accepted max |onnxruntime - torch| of an output whose values stay within [-1, 1];
            an output reaching larger magnitudes is held to ``atol`` times its largest magnitude (fp32
            rounding grows with the values: logits of several hundred differ by ~1e-4 for that alone).
        seed: seed of the windows.

    Returns:
        per batch size, the max abs difference of each output.

    Raises:
        MissingDependencyError: onnxruntime is not installed.
        ExportError: a difference exceeds ``atol``.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        from sadvae.errors import MissingDependencyError

        raise MissingDependencyError("onnxruntime", "train") from None
    source = str(model) if isinstance(model, (str, Path)) else model.SerializeToString()
    sess = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    device = next(recognizer.parameters()).device
    rng = np.random.default_rng(seed + 1)
    result: dict[int, dict[str, float]] = {}
    for b in batches:
        noise = rng.normal(size=(b, 3, cfg.window, NUM_JOINTS, cfg.persons)).astype(np.float32)
        errs = dict.fromkeys(OUTPUT_NAMES, 0.0)
        scale = dict.fromkeys(OUTPUT_NAMES, 1.0)
        for x in (example_windows(b, cfg, seed), noise):
            got = sess.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
            with torch.inference_mode():
                want = [t.cpu().numpy() for t in recognizer(torch.from_numpy(x).to(device))]
            for name, g, w in zip(OUTPUT_NAMES, got, want, strict=True):
                errs[name] = max(errs[name], float(np.abs(g - w).max()))
                scale[name] = max(scale[name], float(np.abs(w).max()))
        result[b] = errs
        worst = max(errs, key=lambda k: errs[k] / scale[k])
        if not errs[worst] <= atol * scale[worst]:
            raise ExportError(
                f"ONNX Runtime differs from torch by {errs[worst]:.2e} > {atol * scale[worst]:g} on {worst!r} at "
                f"batch {b}; the export is not faithful"
            )
    return result


def export_onnx(
    bundle_path: str | Path,
    out_path: str | Path,
    *,
    opset: int = 17,
    check: bool = True,
    exporter: str = "dynamo",
    atol: float = 1e-4,
    persons: int | None = None,
) -> ExportReport:
    """Export a model bundle's recognizer to ONNX (see the module docstring).

    Args:
        bundle_path: a bundle written by ``sadvae.bundle.save_bundle``.
        out_path: the ``.onnx`` file to write (atomically; nothing is written when a check fails).
        opset: default-domain opset, >= 17 (17 for TensorRT 8.5/8.6).
        check: run :func:`check_tensorrt_ops` and :func:`check_parity` (batch 1 and 4, ``atol``).
        exporter: "dynamo" or "torchscript".
        atol: parity tolerance (fp32).
        persons: person slots of the exported window (see :func:`live_recognizer`; None = the bundle's live config).

    Returns:
        an :class:`ExportReport`.

    Raises:
        CheckpointError: the bundle is missing or unreadable (an ``.onnx`` passed as the bundle is named as such).
        ConfigError: bad opset, exporter, ``atol``, ``persons`` or ``out_path`` (all checked before the bundle is
            read, except the person counts the model supports).
        ExportError: the export, the TensorRT operator check or the parity check fails.
    """
    import onnx

    from sadvae.bundle import load_bundle

    start = time.perf_counter()
    bundle_path, out_path = Path(bundle_path), Path(out_path)
    check_export_request(bundle_path, out_path, atol=atol, persons=persons)  # cheap checks first
    _check_exporter_and_opset(exporter, opset)
    bundle = load_bundle(bundle_path)
    recognizer, pre = live_recognizer(bundle, persons)
    example = torch.from_numpy(example_windows(2, pre))
    model = torch_to_onnx(recognizer, example, opset=opset, exporter=exporter)
    model.producer_name, model.model_version = "sadvae", EXPORT_FORMAT
    model.doc_string = "sadvae recognizer: window [N,3,T,25,M] -> latent [N,d_r], seen_logits [N,K]"
    model_id = file_sha256(bundle_path)
    del model.metadata_props[:]
    for key, value in encode_metadata(bundle_metadata(bundle, model_id, pre)).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    if check:
        histogram = check_tensorrt_ops(model)
        parity = check_parity(recognizer, model, pre, atol=atol)
    else:
        histogram, parity = dict(Counter(n.op_type for n in model.graph.node).most_common()), {}
    try:
        with atomic_path(out_path) as tmp:  # a unique temporary name: concurrent exports do not collide
            onnx.save(model, tmp)
    except OSError as e:
        raise CheckpointError(f"{out_path}: cannot write the ONNX model ({e.strerror or e})") from None
    seconds = time.perf_counter() - start
    log.info(
        "exported %s -> %s (opset %d, %d nodes) in %.1f s", bundle_path, out_path, opset, len(model.graph.node), seconds
    )
    return ExportReport(out_path, opset, exporter, model_id, histogram, parity, seconds)
