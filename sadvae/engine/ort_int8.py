"""INT8 on the CPU: ONNX Runtime static quantization of the exported recognizer (QDQ format).

TensorRT INT8 needs an NVIDIA GPU. To measure what 8-bit arithmetic costs this model on any machine,
the same calibration windows feed ONNX Runtime's static quantizer, set up as close to TensorRT's
scheme as ONNX Runtime allows:

- QDQ format (QuantizeLinear/DequantizeLinear pairs around each quantized op, which is also the form
  TensorRT reads for explicit quantization);
- signed INT8 activations and weights, both symmetric (TensorRT's INT8 is symmetric, zero point 0);
- per-channel weight scales (TensorRT quantizes Conv/Gemm weights per output channel);
- activation ranges from ``method="entropy"`` (KL-divergence histogram calibration, what
  ``IInt8EntropyCalibrator2`` does) or ``"minmax"`` (for comparison), ``"percentile"`` also accepted.

Entropy thresholds: ONNX Runtime's own entropy calibrator, called through ``quantize_static``, keeps
its defaults of 128 histogram bins and 128 quantized bins, which leaves one candidate threshold, the
absolute maximum: it then equals min-max (measured: identical scales on the default model). So for
"entropy" the histograms are collected by ONNX Runtime's calibrator (4096 bins over [-t, t]) and the
threshold is chosen here as TensorRT does (:func:`entropy_threshold`: |x| histogram of 2048 bins,
candidate thresholds from 128 to 2048 bins, the one whose 128-level quantized distribution has the
least KL divergence from the clipped one), then handed to ``quantize_static`` as a calibration cache.

The result is an ordinary ONNX file that the ``onnxruntime`` backend runs; it keeps the export's
``metadata_props`` and adds ``sadvae.quantization`` (method, format, number of windows and their sha256).
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path

import numpy as np

from sadvae.engine.calibration_data import load_calibration_set
from sadvae.errors import CheckpointError, ConfigError, ExportError, MissingDependencyError
from sadvae.fileio import atomic_path
from sadvae.onnx_metadata import METADATA_PREFIX, encode_metadata

__all__ = ["METHODS", "entropy_threshold", "quantize_onnx_int8", "windows_reader"]

log = logging.getLogger(__name__)

METHODS = ("entropy", "minmax", "percentile")
INPUT_NAME = "window"


def windows_reader(windows: np.ndarray, batch_size: int = 16, input_name: str = INPUT_NAME):
    """An ``onnxruntime.quantization.CalibrationDataReader`` over windows float32 [N, 3, T, 25, M].

    Batches are those the TensorRT calibrator feeds (:class:`sadvae.engine.calibrator.WindowBatches`):
    all of ``batch_size`` windows, the last one wrapping round to the start. ONNX Runtime's histogram
    collectors need equal batch shapes.
    """
    from onnxruntime.quantization import CalibrationDataReader

    from sadvae.engine.calibrator import WindowBatches

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = list(WindowBatches(windows, min(batch_size, len(windows))))
            self._pos = 0

        def get_next(self):
            if self._pos >= len(self._batches):
                return None
            self._pos += 1
            return {input_name: np.ascontiguousarray(self._batches[self._pos - 1], dtype=np.float32)}

        def rewind(self) -> None:
            self._pos = 0

        def __len__(self) -> int:
            return len(self._batches)

    return _Reader()


def _smooth_rows(d: np.ndarray, valid: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """Move ``eps`` of mass onto every empty valid bin of each row (taken evenly from the non-empty ones)."""
    zero = (d == 0) & valid
    full = (d != 0) & valid
    n_zero = zero.sum(axis=1, keepdims=True)
    n_full = np.maximum(full.sum(axis=1, keepdims=True), 1)
    return d + eps * zero - (eps * n_zero / n_full) * full


def entropy_threshold(
    abs_hist: np.ndarray, bin_width: float, levels: int = 128, chunk: int = 128, flatten_zero_bin: bool = False
) -> float:
    """TensorRT-style entropy calibration of one tensor: the |x| clipping threshold of least KL divergence.

    For every candidate i (``levels`` <= i <= bins), the reference P is the first i bins with the
    outliers beyond added to the last one; Q spreads P's first i bins over ``levels`` merged bins
    (bin j of i falls in merged bin ceil((j + 1) * levels / i) - 1; each merged count is shared by the
    non-empty bins it covers). Both are normalised and smoothed, and KL(P || Q) is computed for
    ``chunk`` candidates at a time with cumulative sums (no Python loop over bins).

    Args:
        abs_hist: [B] counts of |x| over [0, B * bin_width].
        bin_width: width of one bin.
        levels: quantized bins (128: the positive half of INT8).
        chunk: candidates evaluated per vectorised step (memory ~ chunk * B * 8 bytes per array).
        flatten_zero_bin: replace the first bin's count by the second's, so that the spike of exact
            zeros after a ReLU does not dominate the divergence.

    Returns:
        the threshold (upper edge of the best candidate's last bin); the absolute maximum when the
        histogram has no more than ``levels`` bins.
    """
    h = np.array(abs_hist, dtype=np.float64)
    n = h.size
    if flatten_zero_bin and n > 1:
        h[0] = h[1]
    if n <= levels or h.sum() == 0:
        return float(n * bin_width)
    nonzero = (h > 0).astype(np.float64)
    csum = np.concatenate([[0.0], np.cumsum(h)])
    cnz = np.concatenate([[0.0], np.cumsum(nonzero)])
    tail = csum[-1] - csum  # tail[i] = sum(h[i:])
    j = np.arange(n)[None, :]
    k = np.arange(levels)[None, :]
    best_i = n
    best_kl = np.inf
    for first in range(levels, n + 1, chunk):
        i = np.arange(first, min(first + chunk, n + 1))[:, None]  # (m, 1) candidates
        valid = j < i  # (m, n)
        p = h[None, :] * valid
        p[np.arange(len(i)), i[:, 0] - 1] += tail[i[:, 0]]  # outliers into the last kept bin
        starts = (k * i) // levels  # (m, levels)
        ends = np.concatenate([starts[:, 1:], i], axis=1)
        merged = (csum[ends] - csum[starts]) / np.maximum(cnz[ends] - cnz[starts], 1.0)
        group = np.minimum(((j + 1) * levels + i - 1) // i - 1, levels - 1)  # (m, n)
        q = np.take_along_axis(merged, group, axis=1) * nonzero[None, :] * valid
        p /= p.sum(axis=1, keepdims=True)
        q /= np.maximum(q.sum(axis=1, keepdims=True), 1e-300)
        ps = _smooth_rows(p, valid)
        qs = _smooth_rows(q, valid)
        ok = valid & (ps > 0) & (qs > 0)
        terms = np.where(ok, ps * np.log(np.where(ok, ps, 1.0) / np.where(ok, qs, 1.0)), 0.0)
        kl = terms.sum(axis=1)
        kl[q.sum(axis=1) == 0] = np.inf
        row = int(np.argmin(kl))
        if kl[row] < best_kl:
            best_i = int(i[row, 0])
            best_kl = float(kl[row])
    return float(best_i * bin_width)


def _entropy_cache(model_in: Path, reader, cache: Path, work: Path, abs_bins: int, flatten_zero: bool) -> None:
    """Collect histograms with ONNX Runtime's calibrator, choose TensorRT-style thresholds, write its cache."""
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import TensorData, TensorsData, create_calibrator, save_tensors_data
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    ops = sorted(set(QLinearOpsRegistry) | set(QDQRegistry))
    options = {"symmetric": True, "num_bins": 2 * abs_bins, "num_quantized_bins": 128}
    cal = create_calibrator(
        model_in,
        ops,
        augmented_model_path=str(work / "augmented.onnx"),
        calibrate_method=CalibrationMethod.Entropy,
        extra_options=options,
    )
    while True:  # a few batches at a time: the calibrator holds every activation of what it is given, about
        part = _first_batches(reader, 1)  # 140 MB a window for the Shift-GCN default (all of them at once: OOM)
        if part is None:
            break
        cal.collect_data(part)  # the histograms accumulate across calls
    ranges = {}
    for name, (hist, edges, *_rest) in cal.collector.histogram_dict.items():
        zero = hist.size // 2  # the histogram spans [-t, t] with an even number of bins: fold it onto |x|
        abs_hist = hist[zero:] + hist[:zero][::-1]
        width = float(edges[1] - edges[0])
        t = np.array(entropy_threshold(abs_hist, width, flatten_zero_bin=flatten_zero), dtype=np.float32)
        ranges[name] = TensorData(lowest=-t, highest=t, hist=hist, hist_edges=edges.astype(np.float32))
    save_tensors_data(TensorsData(CalibrationMethod.Entropy, ranges), cache)


def _minmax_cache(model_in: Path, reader, cache: Path, work: Path) -> None:
    """Min-max ranges collected a batch at a time (ONNX Runtime's own pass holds every activation of every window
    until the end, and its ``CalibMaxIntermediateOutputs`` drops them uncounted), written as its calibration cache."""
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    ops = sorted(set(QLinearOpsRegistry) | set(QDQRegistry))
    cal = create_calibrator(
        model_in, ops, augmented_model_path=str(work / "augmented.onnx"), calibrate_method=CalibrationMethod.MinMax
    )
    while (part := _first_batches(reader, 1)) is not None:
        cal.collect_data(part)  # each call folds its batch's minima and maxima into the running ranges
    save_tensors_data(cal.compute_data(), cache)


def _first_batches(reader, n: int):
    """A reader of the next ``n`` batches of ``reader`` (None when it has none left)."""
    batches = []
    while len(batches) < n and (batch := reader.get_next()) is not None:
        batches.append(batch)
    if not batches:
        return None
    from onnxruntime.quantization import CalibrationDataReader

    class _Part(CalibrationDataReader):
        def get_next(self):
            return batches.pop(0) if batches else None

    return _Part()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def quantize_onnx_int8(
    onnx_in: str | Path,
    onnx_out: str | Path,
    calibration_npz: str | Path,
    method: str = "entropy",
    *,
    per_channel: bool = True,
    symmetric: bool = True,
    batch_size: int = 16,
    preprocess: bool = True,
    entropy_bins: int = 2048,
    flatten_zero_bin: bool = True,
    op_types: tuple[str, ...] | None = None,
    min_agreement: float = 0.9,
) -> Path:
    """Statically quantize a recognizer ONNX to INT8 (QDQ) with ranges calibrated on a windows ``.npz``.

    Args:
        onnx_in: the FP32 export (``sadvae export``).
        onnx_out: the INT8 ONNX to write (atomically).
        calibration_npz: windows from ``calibration/sample.py`` (drawn for the same bundle).
        method: activation range calibration: "entropy" (as TensorRT), "minmax" or "percentile".
        per_channel: per-output-channel weight scales.
        symmetric: symmetric activations (zero point 0, as TensorRT); False lets ONNX Runtime pick.
        batch_size: windows per calibration batch.
        entropy_bins: |x| histogram bins of the entropy calibration (2048 as TensorRT; fewer is faster).
        flatten_zero_bin: see :func:`entropy_threshold`. On the default model the plain divergence
            (False) clips post-ReLU tensors so hard that seen top-1 falls from 66.3 % (FP32) to 41.1 %; with
            True it is 66.2 % (calibration/README.md).
        preprocess: run ONNX Runtime's ``quant_pre_process`` (shape inference + graph optimisation)
            first; if it fails the graph is quantized as exported (logged).
        op_types: quantize only these operator types (e.g. ``("MatMul", "Gemm")``); None: every type ONNX
            Runtime can quantize.
        min_agreement: the INT8 graph must give the FP32 graph's top trained class on at least this share of the
            calibration windows, else nothing is written (0 disables the check). The Shift-GCN default fails it
            with every operator quantized (33-65 % on its calibration windows, calibration/README.md).

    Returns:
        ``onnx_out``.

    Raises:
        ConfigError: unknown method, or windows drawn for another model than the ONNX's
            ``sadvae.model_id`` or of another shape than its input; CheckpointError: ``onnx_in`` is missing or not
            an ONNX file; DataFormatError: a bad windows file; ExportError: quantization failed, or the INT8 graph
            disagrees with the FP32 one (``min_agreement``); MissingDependencyError: onnx or onnxruntime is missing.
    """
    try:
        import onnx
        import onnxruntime.quantization  # noqa: F401
    except ImportError:
        raise MissingDependencyError("onnxruntime", "train") from None
    if method not in METHODS:
        raise ConfigError(f"unknown calibration method {method!r}; choose one of {list(METHODS)}")
    onnx_in = Path(onnx_in)
    onnx_out = Path(onnx_out)
    calibration_npz = Path(calibration_npz)
    if not 0.0 <= min_agreement <= 1.0:
        raise ConfigError(f"min_agreement must be in [0, 1], got {min_agreement!r}")
    cset = load_calibration_set(calibration_npz)
    try:
        src = onnx.load(str(onnx_in))
    except Exception as e:  # noqa: BLE001 - onnx.load raises OSError, DecodeError and others
        why = "not found" if not onnx_in.is_file() else f"is not an ONNX file ({type(e).__name__})"
        raise CheckpointError(f"{onnx_in} {why}; export one with `sadvae export BUNDLE.pt --out X.onnx`") from None
    _check_window_shape(src, onnx_in, cset.windows.shape, calibration_npz)
    props = _metadata_for_windows(src, onnx_in, cset.model_id, calibration_npz)
    onnx_out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sadvae-int8-") as work:
        work = Path(work)
        model_in = _preprocessed(onnx_in, work) if preprocess else onnx_in
        quantized = _quantize_static(
            model_in,
            work,
            windows_reader(cset.windows, batch_size),
            method=method,
            per_channel=per_channel,
            symmetric=symmetric,
            entropy_bins=entropy_bins,
            flatten_zero_bin=flatten_zero_bin,
            source=onnx_in,
            op_types=op_types,
        )
        agreement = _agreement(onnx_in, quantized, cset.windows)
        if agreement < min_agreement:
            raise ExportError(
                f"INT8 {onnx_in.name} ({method}, {', '.join(op_types) if op_types else 'every operator'} quantized) "
                f"gives the FP32 top class on {100 * agreement:.1f} % of the {len(cset)} calibration windows, under "
                f"the {100 * min_agreement:.0f} % required; nothing written. Quantize fewer operators "
                "(op_types=('MatMul', 'Gemm')), or keep FP32 / FP16"
            )
        out = onnx.load(str(quantized))
    info = {
        "method": method,
        "format": "QDQ",
        "activations": "int8 symmetric" if symmetric else "int8",
        "weights": "int8 symmetric per-channel" if per_channel else "int8 symmetric per-tensor",
        "windows": len(cset),
        "windows_sha256": _sha256(calibration_npz),
        "flatten_zero_bin": bool(flatten_zero_bin) if method == "entropy" else None,
        "op_types": list(op_types) if op_types else None,
        "top1_agreement": round(float(agreement), 4),
    }
    _carry_metadata(out, props, info)
    with atomic_path(onnx_out) as staged:
        onnx.save(out, str(staged))
    counts = sum(n.op_type == "QuantizeLinear" for n in out.graph.node)
    log.info(
        "wrote %s: INT8 QDQ (%s, %d QuantizeLinear nodes) calibrated on %d windows",
        onnx_out,
        method,
        counts,
        len(cset),
    )
    return onnx_out


def _check_window_shape(src, onnx_in: Path, shape: tuple[int, ...], calibration_npz: Path) -> None:
    """ConfigError when the windows [N, 3, T, 25, M] do not fit the graph's input (e.g. a ``--persons 2`` export)."""
    dims = [d.dim_value or None for d in src.graph.input[0].type.tensor_type.shape.dim]
    fixed = [(i, d) for i, d in enumerate(dims) if d is not None and i > 0]
    if len(dims) != len(shape) or any(shape[i] != d for i, d in fixed):
        want = "x".join("N" if d is None else str(d) for d in dims)
        persons = f" --persons {dims[-1]}" if len(dims) == 5 and dims[-1] is not None else ""
        raise ConfigError(
            f"{calibration_npz}: windows of shape {'x'.join(map(str, shape))} do not fit the input of {onnx_in} "
            f"({want}); draw windows for this export with `python calibration/sample.py --bundle BUNDLE.pt{persons}`"
        )


def _agreement(fp32: Path, int8: Path, windows: np.ndarray) -> float:
    """Share of ``windows`` on which the two graphs give the same top trained class (``seen_logits``)."""
    import onnxruntime as ort

    top = []
    for path in (fp32, int8):
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        outs = [o.name for o in sess.get_outputs()]
        key = outs.index("seen_logits") if "seen_logits" in outs else 0
        top.append(np.concatenate([sess.run(None, {name: w[None]})[key].argmax(-1) for w in windows]))
    return float((top[0] == top[1]).mean())


def _metadata_for_windows(src, onnx_in: Path, windows_model_id: str, calibration_npz: Path) -> dict[str, str]:
    """The export's raw ``metadata_props``, after checking the windows were drawn for this model.

    Raises:
        ConfigError: the ONNX's ``sadvae.model_id`` is not the windows' model.
    """
    props = {p.key: p.value for p in src.metadata_props}
    own_id = json.loads(props.get(METADATA_PREFIX + "model_id", "null"))
    if own_id is not None and own_id != windows_model_id:
        raise ConfigError(
            f"{calibration_npz}: windows drawn for model {windows_model_id[:16]}..., {onnx_in} is model "
            f"{own_id[:16]}...; draw windows for this model with calibration/sample.py"
        )
    return props


def _preprocessed(onnx_in: Path, work: Path) -> Path:
    """ONNX Runtime's ``quant_pre_process`` of ``onnx_in`` in ``work``; ``onnx_in`` itself when it fails (logged)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = work / "pre.onnx"
    try:
        quant_pre_process(str(onnx_in), str(pre))
        return pre
    except Exception as e:  # the pre-processor raises whatever its passes raise
        log.warning("quant_pre_process failed on %s (%s); quantizing the graph as exported", onnx_in, e)
        return onnx_in


def _quantize_static(
    model_in: Path,
    work: Path,
    reader,
    *,
    method: str,
    per_channel: bool,
    symmetric: bool,
    entropy_bins: int,
    flatten_zero_bin: bool,
    source: Path,
    op_types: tuple[str, ...] | None = None,
) -> Path:
    """Calibrate activation ranges on ``reader`` and write the QDQ model to ``work / "int8.onnx"``.

    Raises:
        ExportError: ONNX Runtime could not calibrate or quantize the model.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    calibrate_method = {
        "entropy": CalibrationMethod.Entropy,
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
    }[method]
    out = work / "int8.onnx"
    try:
        cache = None
        if method == "entropy":
            cache = work / "ranges.json"
            _entropy_cache(Path(model_in), reader, cache, work, entropy_bins, flatten_zero_bin)
            reader.rewind()
        elif method == "minmax":
            cache = work / "ranges.json"
            _minmax_cache(Path(model_in), reader, cache, work)
            reader.rewind()
        quantize_static(
            str(model_in),
            str(out),
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=calibrate_method,
            extra_options={"ActivationSymmetric": bool(symmetric), "WeightSymmetric": True},
            calibration_cache_path=cache,
            **({"op_types_to_quantize": list(op_types)} if op_types else {}),
        )
    except Exception as e:  # quantize_static raises many types from inside onnxruntime
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ExportError(f"ONNX Runtime could not quantize {source} ({method}): {first}") from e
    return out


def _carry_metadata(out, props: dict[str, str], quantization: dict[str, object]) -> None:
    """Copy the export's ``metadata_props`` the quantizer dropped onto ``out``, then add ``sadvae.quantization``."""
    have = {p.key for p in out.metadata_props}
    for key, value in props.items():
        if key not in have:
            entry = out.metadata_props.add()
            entry.key = key
            entry.value = value
    for key, value in encode_metadata({"quantization": quantization}).items():
        entry = out.metadata_props.add()
        entry.key = key
        entry.value = value
