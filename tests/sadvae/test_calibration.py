"""INT8 calibration: window sampling, the calibration .npz, the TensorRT calibrator's Python side, ORT INT8."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import types

import numpy as np
import pytest

from sadvae.data.preprocess import preprocess
from sadvae.data.record import Dataset, SkeletonSequence
from sadvae.data.registry import save_prepared
from sadvae.engine.calibration_data import (
    KEYS,
    load_calibration_set,
    sample_windows,
    save_calibration_set,
)
from sadvae.engine.calibrator import CalibrationCache, DeviceMemory, WindowBatches, make_calibrator
from sadvae.errors import ConfigError, DataFormatError

SUBJECTS = (1, 2, 3, 4)  # msr_action3d protocol: odd subjects train, even subjects test


def _sequence(rng: np.random.Generator, label: int, subject: int, k: int) -> SkeletonSequence:
    t = int(rng.integers(20, 60))
    base = rng.normal(0.0, 0.3, size=(1, 1, 25, 3)).astype(np.float32)
    walk = np.cumsum(rng.normal(0.0, 0.01, size=(t, 1, 25, 3)), axis=0).astype(np.float32)
    joints = base + walk + np.float32(label) * 0.05
    return SkeletonSequence(
        joints=joints, fps=30.0, source=f"synthetic/c{label}_s{subject}_{k}", label=label, subject=subject, view=1
    )


@pytest.fixture(scope="module")
def tiny(bundle_fixtures, tmp_path_factory):
    """(bundle path, ONNX path, bundle with provenance pointing at a synthetic prepared dataset)."""
    from sadvae.bundle import load_bundle

    base = tmp_path_factory.mktemp("calib")
    bundle_path, report = bundle_fixtures.tiny_model(base)
    rng = np.random.default_rng(0)
    names = bundle_fixtures.CLASS_NAMES
    seqs = [_sequence(rng, c, s, k) for c in range(len(names)) for s in SUBJECTS for k in range(2)]
    data = save_prepared(Dataset("msr_action3d", tuple(names), seqs), base / "synthetic.npz")
    bundle = load_bundle(bundle_path)
    bundle = dataclasses.replace(bundle, provenance={"dataset": "msr_action3d", "root": str(data), "split_seed": 0})
    return bundle_path, report.path, bundle


def _draw(tiny, **kw):
    from sadvae.export import file_sha256

    return sample_windows(tiny[2], model_id=file_sha256(tiny[0]), **kw)


def test_sampling_is_stratified_over_the_seen_training_side(tiny, bundle_fixtures):
    cset = _draw(tiny, per_class=3, split="train")
    assert cset.class_counts() == {bundle_fixtures.CLASS_NAMES[c]: 3 for c in bundle_fixtures.SEEN}
    assert all("_s1_" in s or "_s3_" in s for s in cset.sources)  # training side only
    assert cset.windows.shape == (12, 3, 32, 25, 2) and cset.windows.dtype == np.float32
    held = _draw(tiny, per_class=None, split="holdout", crop="center")
    assert len(held) == 6 * 2 * 2 and set(held.labels) == set(range(6))  # every test-side sequence, unseen too
    assert all("_s2_" in s or "_s4_" in s for s in held.sources)
    total = _draw(tiny, total=10, split="train")
    assert sorted(total.class_counts().values()) == [2, 2, 3, 3]


def test_holdout_leaves_out_test_clips_that_repeat_a_trained_clip(tiny, bundle_fixtures, tmp_path):
    """A seen class's test clip equal to a training clip (NW-UCLA's release has 95) was trained on: no held-out window.
    An unseen class's copy stays, as in the protocol's partition. Until 7 December 2026 the holdout counted both."""
    from sadvae.data.registry import load_prepared

    ds = load_prepared(tiny[2].provenance["root"])
    seen, unseen = bundle_fixtures.SEEN[0], bundle_fixtures.UNSEEN[0]
    trained = {c: next(s for s in ds.sequences if s.label == c and s.subject == 1) for c in (seen, unseen)}
    copies = [dataclasses.replace(s, subject=2, source=f"copy/c{c}") for c, s in trained.items()]
    data = save_prepared(Dataset("msr_action3d", ds.class_names, [*ds.sequences, *copies]), tmp_path / "copies.npz")
    bundle = dataclasses.replace(tiny[2], provenance={**tiny[2].provenance, "root": str(data)})
    held = sample_windows(bundle, model_id="x", per_class=None, split="holdout", crop="center")
    assert f"copy/c{unseen}" in held.sources and f"copy/c{seen}" not in held.sources
    assert len(held) == len(_draw(tiny, per_class=None, split="holdout", crop="center")) + 1


def test_sampling_is_seeded(tiny):
    a, b, c = (_draw(tiny, per_class=5, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.windows, b.windows)
    assert a.sources == b.sources
    assert not np.array_equal(a.windows, c.windows)


def test_sampling_uses_the_bundles_preprocessing(tiny, bundle_fixtures, tmp_path):
    from sadvae.bundle import load_bundle
    from sadvae.data.registry import load_prepared

    held = _draw(tiny, per_class=None, split="holdout", crop="center")
    ds = load_prepared(tiny[2].provenance["root"])
    by_source = {s.source: s for s in ds.sequences}
    for window, source in zip(held.windows[:5], held.sources[:5], strict=True):
        s = by_source[source]
        np.testing.assert_array_equal(window, preprocess(s.joints, s.times(), tiny[2].preprocess, crop="center"))
    other = load_bundle(bundle_fixtures.make_tiny_bundle(tmp_path / "short.pt", window=16, persons=1))
    other = dataclasses.replace(other, provenance=tiny[2].provenance)
    assert sample_windows(other, model_id="x", per_class=2).windows.shape[1:] == (3, 16, 25, 1)


def test_sampling_for_a_persons_export(bundle_fixtures, tmp_path):
    """`sadvae export --persons 2` of a Shift-GCN whose live window has one person: its windows are [3, T, 25, 2].
    Before, sample_windows always drew the live window, so such an export could not be calibrated."""
    from sadvae.bundle import load_bundle

    bundle = load_bundle(bundle_fixtures.make_tiny_shiftgcn_bundle(tmp_path / "shift.pt", window=32))
    rng = np.random.default_rng(1)
    names = bundle_fixtures.SHIFT_NAMES
    seqs = [_sequence(rng, c, s, 0) for c in range(len(names)) for s in SUBJECTS]
    data = save_prepared(Dataset("msr_action3d", tuple(names), seqs), tmp_path / "shift.npz")
    bundle = dataclasses.replace(bundle, provenance={"dataset": "msr_action3d", "root": str(data), "split_seed": 0})
    live = sample_windows(bundle, model_id="x", per_class=1)
    assert live.windows.shape[1:] == (3, 32, 25, 1) and live.preprocess.persons == 1  # the default export's
    two = sample_windows(bundle, model_id="x", per_class=1, persons=2)
    assert two.windows.shape[1:] == (3, 32, 25, 2) and two.preprocess == bundle.preprocess
    np.testing.assert_array_equal(two.windows[..., 0], live.windows[..., 0])  # same draw, one more (empty) slot
    with pytest.raises(ConfigError, match=r"--persons 3: this Shift-GCN takes windows of 2 person slots .* or 1"):
        sample_windows(bundle, model_id="x", per_class=1, persons=3)
    with pytest.raises(ConfigError, match="--persons must be a whole number >= 1, got 0"):
        sample_windows(bundle, model_id="x", per_class=1, persons=0)


def test_sample_script_has_persons():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "calibration" / "sample.py"
    out = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, check=True).stdout
    assert "--persons PERSONS" in out and "the --persons the ONNX was exported with" in " ".join(out.split())


def test_sampling_rejects_bad_requests(tiny):
    with pytest.raises(ConfigError, match="unknown split"):
        _draw(tiny, split="test")
    with pytest.raises(ConfigError, match="per_class must be >= 1"):
        _draw(tiny, per_class=0)
    with pytest.raises(ConfigError, match="model_id"):
        sample_windows(tiny[2])


def test_npz_round_trip(tiny, tmp_path):
    cset = _draw(tiny, per_class=2, seed=3)
    path = save_calibration_set(cset, tmp_path / "w.npz")
    back = load_calibration_set(path)
    np.testing.assert_array_equal(back.windows, cset.windows)
    np.testing.assert_array_equal(back.labels, cset.labels)
    assert (back.class_names, back.sources, back.seed, back.model_id, back.preprocess, back.split, back.crop) == (
        cset.class_names,
        cset.sources,
        3,
        cset.model_id,
        cset.preprocess,
        "train",
        "random",
    )
    assert not list(tmp_path.glob("*.tmp*"))


def _arrays(tiny) -> dict:
    cset = _draw(tiny, per_class=1)
    path = save_calibration_set(cset, tiny[0].parent / "good.npz")
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize(
    ("change", "key", "text"),
    [
        (lambda a: a.pop("labels"), "labels", "key missing"),
        (lambda a: a.update(windows=a["windows"][:, :, :10]), "windows", "expected float32 [N>=1, 3, 32, 25, 2]"),
        (lambda a: a.update(windows=a["windows"].astype(np.float64)), "windows", "expected dtype float32, got float64"),
        (lambda a: a.update(windows=a["windows"][:0]), "windows", "empty array"),
        (lambda a: a.update(labels=a["labels"][:-1]), "labels", "expected int"),
        (lambda a: a.update(preprocess=np.array("{not json")), "preprocess", "PreprocessConfig as JSON"),
        (lambda a: a.update(sources=np.array(list(a["sources"]), dtype=object)), "sources", "unreadable"),
    ],
)
def test_bad_npz_gives_one_data_format_error(tiny, tmp_path, change, key, text):
    arrays = _arrays(tiny)
    change(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataFormatError) as info:
        load_calibration_set(path)
    assert info.value.where == key and str(path) in str(info.value) and text in str(info.value)


def test_missing_and_non_npz_files(tmp_path):
    with pytest.raises(DataFormatError, match="not found"):
        load_calibration_set(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match="not a readable .npz"):
        load_calibration_set(tmp_path / "junk.npz")
    assert set(KEYS) >= {"windows", "labels", "model_id", "preprocess"}


def test_window_batches_wrap_the_last_batch():
    w = np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1, 1) * np.ones((1, 3, 4, 25, 1), np.float32)
    batches = list(WindowBatches(w, 2))
    assert len(batches) == len(WindowBatches(w, 2)) == 3
    assert [b[:, 0, 0, 0, 0].tolist() for b in batches] == [[0, 1], [2, 3], [4, 0]]
    with pytest.raises(ConfigError):
        WindowBatches(w, 0)


class _FakeMemory(DeviceMemory):
    """Host arrays standing in for device buffers (pointers are ids)."""

    def __init__(self) -> None:
        self.buffers: dict[int, np.ndarray] = {}
        self.freed: list[int] = []

    def alloc(self, nbytes):
        key = len(self.buffers) + 1000
        self.buffers[key] = np.zeros(nbytes, np.uint8)
        return key

    def upload(self, buffer, array):
        self.buffers[buffer][:] = array.view(np.uint8).ravel()

    def pointer(self, buffer):
        return buffer

    def free(self, buffer):
        self.freed.append(buffer)


# NOT a mock of TensorRT's behaviour: a stand-in base class so that the Python side of our calibrator
# (batching, device copies, the cache and its sidecar) can be tested where TensorRT is not installed.
class _Base:
    def __init__(self) -> None:
        self.base_initialised = True


class _MinMaxBase(_Base):
    pass


FAKE_TRT = types.SimpleNamespace(
    IInt8EntropyCalibrator2=_Base, IInt8MinMaxCalibrator=_MinMaxBase, __version__="0.0-test"
)


def test_calibrator_feeds_batches_and_caches(tiny, tmp_path, caplog):
    cset = _draw(tiny, per_class=3)  # 12 windows
    npz = save_calibration_set(cset, tmp_path / "w.npz")
    mem, cache = _FakeMemory(), tmp_path / "cache" / "model.int8.calib"
    cal = make_calibrator(FAKE_TRT, npz, cache, 5, expected_model_id=cset.model_id, memory=mem)
    assert isinstance(cal, _Base) and cal.base_initialised and cal.get_batch_size() == 5
    assert cal.read_calibration_cache() is None  # nothing yet
    seen = []
    while (ptrs := cal.get_batch(["window"])) is not None:
        (ptr,) = ptrs
        seen.append(mem.buffers[ptr].view(np.float32).reshape(5, *cset.windows.shape[1:]).copy())
    assert len(seen) == 3 and len(mem.buffers) == 1  # one reused device buffer
    np.testing.assert_array_equal(np.concatenate(seen)[:12], cset.windows)
    np.testing.assert_array_equal(seen[-1][2:], cset.windows[:3])  # wrapped
    cal.write_calibration_cache(memoryview(b"TRT-test-EntropyCalibration2\nwindow: 3c010a14\n"))
    side = json.loads((cache.parent / "model.int8.calib.json").read_text())
    assert side["model_id"] == cset.model_id and side["batch_size"] == 5 and side["tensorrt"] == "0.0-test"
    cal.close()
    assert mem.freed == [1000]

    again = make_calibrator(FAKE_TRT, npz, cache, 5, memory=_FakeMemory())
    assert again.read_calibration_cache().startswith(b"TRT-test")

    other = save_calibration_set(dataclasses.replace(cset, model_id="another-model"), tmp_path / "other.npz")
    with caplog.at_level(logging.WARNING, logger="sadvae.engine.calibrator"):
        refused = make_calibrator(FAKE_TRT, other, cache, 5, memory=_FakeMemory())
        assert refused.read_calibration_cache() is None
    assert "refusing calibration cache" in caplog.text and "another-model" in caplog.text
    with pytest.raises(ConfigError, match="windows drawn for model"):
        make_calibrator(FAKE_TRT, npz, cache, 5, expected_model_id="not-this-one", memory=_FakeMemory())
    minmax = make_calibrator(FAKE_TRT, npz, cache, 5, memory=_FakeMemory(), algorithm="minmax")
    assert isinstance(minmax, _MinMaxBase) and minmax.read_calibration_cache() is None  # other algorithm


def test_cache_without_sidecar_is_refused(tmp_path):
    same = {"model_id": "m", "windows_sha256": "w", "algorithm": "a", "tensorrt": "10.3.0"}
    cache = CalibrationCache(tmp_path / "c.calib", same)
    (tmp_path / "c.calib").write_bytes(b"orphan")
    assert cache.read() is None and "no sidecar" in cache.refused
    cache.write(b"fresh")
    assert cache.read() == b"fresh" and cache.refused is None
    changed = CalibrationCache(tmp_path / "c.calib", {**same, "windows_sha256": "other"})
    assert changed.read() is None and "windows_sha256" in changed.refused
    # TensorRT cannot read another version's cache (it would skip it): refused by name instead
    upgraded = CalibrationCache(tmp_path / "c.calib", {**same, "tensorrt": "10.7.0"})
    assert upgraded.read() is None and "tensorrt '10.3.0', this build has '10.7.0'" in upgraded.refused


def _entropy_threshold_loop(h: np.ndarray, width: float, levels: int) -> float:
    """The entropy calibration as its docstring states it, one candidate at a time (an independent reference)."""
    h = np.asarray(h, np.float64)
    n = len(h)
    if n <= levels or h.sum() == 0:
        return n * width

    def smooth(d: np.ndarray, eps: float = 1e-4) -> np.ndarray:
        zero = d == 0
        return d + eps * zero - (eps * zero.sum() / max((~zero).sum(), 1)) * ~zero

    best_kl, best_i = np.inf, n
    for i in range(levels, n + 1):
        p = h[:i].copy()
        p[i - 1] += h[i:].sum()  # outliers into the last kept bin
        group = np.array([math.ceil((j + 1) * levels / i) - 1 for j in range(i)])
        q = np.zeros(i)
        for k in range(levels):  # each merged count shared by the non-empty bins it covers
            members = h[:i][group == k]
            if (members > 0).any():
                q[group == k] = np.where(members > 0, members.sum() / (members > 0).sum(), 0.0)
        if q.sum() == 0:
            continue
        ps, qs = smooth(p / p.sum()), smooth(q / q.sum())
        ok = (ps > 0) & (qs > 0)
        kl = float((ps[ok] * np.log(ps[ok] / qs[ok])).sum())
        if kl < best_kl:
            best_kl, best_i = kl, i
    return best_i * width


def test_entropy_threshold_equals_its_algorithm_one_candidate_at_a_time():
    """The vectorised, chunked search (cumulative sums) picks the threshold a plain loop over the candidates does,
    on heavy and light tails, histograms with empty bins, and any chunk size."""
    from sadvae.engine.ort_int8 import entropy_threshold

    rng = np.random.default_rng(1)
    for trial in range(12):
        bins, levels = int(rng.integers(20, 120)), int(rng.integers(4, 16))
        x = np.abs(rng.standard_t(rng.uniform(1.5, 6.0), 3000))
        h, _ = np.histogram(x, bins, range=(0, x.max()))
        if trial % 3 == 0:
            h[rng.random(bins) < 0.3] = 0
        chunk = int(rng.integers(1, 50))
        got = entropy_threshold(h, 0.5, levels=levels, chunk=chunk)
        assert got == _entropy_threshold_loop(h, 0.5, levels), (trial, bins, levels, chunk)


def test_entropy_threshold_keeps_a_uniform_range_and_clips_a_long_tail():
    from sadvae.engine.ort_int8 import entropy_threshold

    rng = np.random.default_rng(0)
    flat = np.abs(rng.uniform(-1, 1, 50_000))
    h, _ = np.histogram(flat, 512, range=(0, flat.max()))
    assert entropy_threshold(h, flat.max() / 512) == pytest.approx(flat.max())  # nothing worth clipping
    heavy = np.abs(rng.standard_t(2, 50_000))
    h, _ = np.histogram(heavy, 512, range=(0, heavy.max()))
    assert entropy_threshold(h, heavy.max() / 512) < 0.5 * heavy.max()  # clips the long tail


def test_ort_int8_stays_close_to_fp32(tiny, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from sadvae.engine.ort_int8 import quantize_onnx_int8

    cset = _draw(tiny, per_class=4)
    npz = save_calibration_set(cset, tmp_path / "w.npz")
    fp32 = ort.InferenceSession(str(tiny[1]), providers=["CPUExecutionProvider"])
    ref = fp32.run(None, {"window": cset.windows})
    for method in ("entropy", "minmax"):
        out = quantize_onnx_int8(tiny[1], tmp_path / f"int8.{method}.onnx", npz, method, entropy_bins=256)
        sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        got = sess.run(None, {"window": cset.windows})
        meta = sess.get_modelmeta().custom_metadata_map
        assert json.loads(meta["sadvae.quantization"])["method"] == method and "sadvae.model_id" in meta
        agree = np.mean(got[1].argmax(1) == ref[1].argmax(1))
        rel = np.abs(got[0] - ref[0]).mean() / np.abs(ref[0]).mean()
        assert agree >= 0.9, (method, agree)  # measured 1.0 (16 windows)
        assert rel < 0.05, (method, rel)  # measured 0.013 entropy, 0.009 minmax


def test_ort_int8_refuses_a_graph_that_disagrees_with_fp32(tiny, tmp_path, monkeypatch):
    """The review of 6 December 2026 found the packaged Shift-GCN's INT8 graph agreeing with FP32 on 22 % of
    windows, written without a word; now such a graph is refused and nothing is written."""
    pytest.importorskip("onnxruntime")
    from sadvae.engine import ort_int8
    from sadvae.errors import CheckpointError, ConfigError, ExportError

    npz = save_calibration_set(_draw(tiny, per_class=2), tmp_path / "w.npz")
    monkeypatch.setattr(ort_int8, "_agreement", lambda a, b, w: 0.25)
    out = tmp_path / "int8.onnx"
    with pytest.raises(ExportError, match=r"FP32 top class on 25\.0 % .* under the 90 % required; nothing written"):
        ort_int8.quantize_onnx_int8(tiny[1], out, npz, "minmax")
    assert not out.exists()
    ort_int8.quantize_onnx_int8(tiny[1], out, npz, "minmax", min_agreement=0.0, op_types=("MatMul", "Gemm", "Conv"))
    from realtime.backends import load_backend

    assert load_backend("onnxruntime", out).precision == "int8"  # events and benchmarks said "fp32"
    assert load_backend("onnxruntime", tiny[1]).precision == "fp32"
    with pytest.raises(CheckpointError, match=r"missing\.onnx not found; export one"):
        ort_int8.quantize_onnx_int8(tmp_path / "missing.onnx", out, npz, "minmax")
    import onnx

    other = onnx.load(str(tiny[1]))  # an export for more people than the windows hold (`sadvae export --persons`)
    other.graph.input[0].type.tensor_type.shape.dim[-1].dim_value = 3
    onnx.save(other, str(tmp_path / "persons3.onnx"))
    with pytest.raises(ConfigError, match=r"windows of shape \d+x3x32x25x2 do not fit the input of .*Nx3x32x25x3"):
        ort_int8.quantize_onnx_int8(tmp_path / "persons3.onnx", out, npz, "minmax")
