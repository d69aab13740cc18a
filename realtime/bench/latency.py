"""``sadvae bench latency``: latency of the recognizer backends and of the whole live pipeline, as one JSON document.

Two parts, both optional:

- **recognizer**: each backend (onnxruntime from the bundle's cached ONNX export, torch from the
  bundle, tensorrt from ``engine``) times ``run`` on windows float32 [N, 3, T, 25, M] for every batch
  size N and person count P (P of the model's M slots filled, the rest zeros, as the live pipeline
  pads them): warm-up, then ``iters`` timed calls; p50 / p90 / p99 / mean ms per call and windows/s.
  Each backend after the first also runs the same 64 seeded one-person windows as the first one did, and
  ``agreement`` says how far its outputs are from the first's and how often its top-1 trained class differs
  (an fp16 or int8 TensorRT plan against ONNX Runtime, on the machine that built it).
- **pipeline**: the live loop (:class:`realtime.pipeline.Pipeline`) over a video (decode + MediaPipe
  pose) or a skeleton replay file (no capture or pose cost), publishing on a real ZeroMQ PUB socket
  bound to a free loopback port and drained by a subscriber thread; per stage p50 / p90 / p99 per
  call and mean cost per frame, end-to-end frames per second. The first frame (:data:`WARMUP_FRAMES`,
  ``warmup_frames`` in each run) is processed untimed: MediaPipe's first inference takes far longer than
  the others; ``frames``, the clocks and the stage statistics count the frames after it.

Whatever cannot run here (TensorRT without the library or a plan, a person count above the model's
M) is listed under ``skipped`` with the reason instead of failing the run. The document carries a
``machine`` block (:func:`realtime.bench.machine.machine_info`) so results from a Jetson and a desktop can
be put side by side (:func:`realtime.bench.report.compare`). Stage names follow :data:`STAGE_NAMES`
(the pipeline's ``read`` is ``capture`` here and ``model`` is ``inference``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import os
import resource
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realtime.backends import BACKEND_NAMES, BackendOptions, backend_name
from realtime.backends.base import time_windows
from realtime.bench.machine import machine_info
from realtime.bench.report import FORMAT, FORMAT_VERSION, load_result, write_json
from sadvae.errors import ConfigError, SadvaeError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "STAGE_NAMES",
    "BenchOptions",
    "machine_info",
    "bench_windows",
    "time_windows",
    "bench_recognizer",
    "bench_pipeline",
    "run_bench",
    "write_json",
    "load_result",
]

log = logging.getLogger(__name__)

# the pipeline's stage keys (realtime.stats.STAGES) -> the names in bench results, in pipeline order
STAGE_NAMES = {
    "read": "capture",
    "pose": "pose",
    "mapping": "mapping",
    "tracking": "tracking",
    "buffer": "buffer",
    "window": "window",
    "model": "inference",
    "head": "head",
    "decide": "decide",
    "publish": "publish",
    "overlay": "overlay",
    "total": "total",
}
# labels added to a few of the bundle's own classes, so the pipeline's head runs in its mixed (gated) mode
NEW_LABELS = ("punch | throw a punch with one fist", "stretch", "lift a barbell", "balance on one leg")


@dataclass(frozen=True)
class BenchOptions:
    """What ``sadvae bench latency`` measures.

    Attributes:
        backends: backends to try (unavailable ones are reported as skipped).
        batches: recognizer batch sizes N.
        persons: persons present per window P (1..M; the model's other slots stay zero).
        iters, warmup: timed and untimed recognizer calls per (backend, N, P).
        threads: intra-op CPU threads of every backend (0 = library default).
        optimization: ONNX Runtime graph optimisation level (disable, basic, extended, all).
        spin: ONNX Runtime worker threads busy-wait between runs.
        engine: a TensorRT plan for the tensorrt backend (None: tensorrt is skipped).
        onnx: an ONNX export of the bundle for the onnxruntime backend, e.g. an INT8 one made by calibration/
            (None: the bundle's own export, shipped beside it or cached).
        recognizer: run the recognizer micro-benchmark.
        source: a video or skeleton replay file for the pipeline benchmark (None: no pipeline part).
        frames: frames through the pipeline per backend (the source loops).
        stride: frames between inference batches (as ``sadvae-live --stride``; None: the model's live stride).
        pose_variant, num_poses: MediaPipe model variant and most persons per frame (videos).
        pose_model: an explicit ``.task`` file (``--pose-model``); None resolves ``pose_variant``.
        roi: region-of-interest crops in the pose stage (realtime.pose.roi; any num_poses).
        labels: labels file for the pipeline's head (None: a few of the bundle's classes + :data:`NEW_LABELS`).
        seed: seed of the recognizer windows.
    """

    backends: tuple[str, ...] = BACKEND_NAMES
    batches: tuple[int, ...] = (1, 4, 8)
    persons: tuple[int, ...] = (1, 2)
    iters: int = 100
    warmup: int = 10
    threads: int = 0
    optimization: str = "all"
    spin: bool = False
    engine: str | None = None
    onnx: str | None = None
    recognizer: bool = True
    source: str | None = None
    frames: int = 300
    stride: int | None = None
    pose_variant: str = "full"
    pose_model: str | None = None
    num_poses: int = 1
    labels: str | None = None
    seed: int = 0
    roi: bool = True

    def __post_init__(self) -> None:
        names = tuple(backend_name(b) for b in self.backends)
        unknown = sorted(set(names) - set(BACKEND_NAMES))
        if unknown or not names:
            raise ConfigError(f"unknown or no backend(s) {unknown}; valid backends: {list(BACKEND_NAMES)}")
        object.__setattr__(self, "backends", tuple(dict.fromkeys(names)))
        if self.onnx is not None and "onnxruntime" not in names:
            raise ConfigError(f"--onnx {self.onnx} is timed by the onnxruntime backend; add it to --backend")
        for name in ("batches", "persons"):
            values = tuple(getattr(self, name))
            if not values or not all(isinstance(v, int) and v >= 1 for v in values):
                raise ConfigError(f"bench {name} must be integers >= 1, got {list(values)}")
            object.__setattr__(self, name, values)
        lowest = {"iters": 1, "warmup": 0, "frames": 1, "stride": 1, "num_poses": 1}  # field = flag --name
        bad = [
            f"--{k.replace('_', '-')} must be >= {low} (got {v})"
            for k, low in lowest.items()
            if (v := getattr(self, k)) is not None and v < low
        ]
        if bad:
            raise ConfigError("bench: " + "; ".join(bad))
        BackendOptions(threads=self.threads, optimization=self.optimization)  # validates both

    def backend_options(self) -> BackendOptions:
        """The :class:`BackendOptions` every backend is loaded with (``max_batch`` covers the largest batch)."""
        return BackendOptions(
            threads=self.threads, optimization=self.optimization, spin=self.spin, max_batch=max(16, *self.batches)
        )


# ---------------------------------------------------------------------------------------------- recognizer


def bench_windows(batch: int, persons: int, shape: tuple[int, int, int, int], seed: int = 0) -> np.ndarray:
    """Windows float32 [batch, 3, T, 25, M] with the first ``persons`` slots filled (N(0, 0.5)), the rest zeros.

    Raises:
        ConfigError: ``persons`` exceeds the model's M.
    """
    m = shape[3]
    if not 1 <= persons <= m:
        raise ConfigError(f"persons must be 1..{m} (the model's windows hold M={m}), got {persons}")
    x = np.zeros((batch, *shape), dtype=np.float32)
    x[..., :persons] = np.random.default_rng(seed).normal(scale=0.5, size=(batch, *shape[:3], persons))
    return x


AGREEMENT_WINDOWS = 64  # one-person windows every backend runs once, to compare its outputs with the first's


def agreement(name: str, got: dict[str, np.ndarray], ref_name: str, ref: dict[str, np.ndarray]) -> dict[str, Any]:
    """How far one backend's outputs are from another's on the same windows: max |difference| per output,
    top-1 agreement of the trained-class logits, and the windows whose top-1 differs. What matters for an fp16
    or int8 TensorRT plan is whether decisions change, not only how far the numbers move."""
    top = got["seen_logits"].argmax(-1) == ref["seen_logits"].argmax(-1)
    return {
        "backend": name,
        "reference": ref_name,
        "windows": int(len(top)),
        "max_abs": {k: float(np.abs(got[k] - ref[k]).max()) for k in ref},
        "top1_agreement": float(top.mean()),
    }


def _load(bundle: Path, name: str, opts: BenchOptions, cache_dir: Path | None) -> tuple[Any, str | None]:
    """(LiveModel, None) or (None, why it cannot run here)."""
    from realtime.backends.live_model import load_live_model

    if name == "tensorrt" and opts.engine is None:
        return None, "no TensorRT plan given (--engine PLAN)"
    path, extra = bundle, {}
    if name == "tensorrt":
        path, extra = Path(opts.engine), {"bundle": bundle}
    elif name == "onnxruntime" and opts.onnx is not None:
        path, extra = Path(opts.onnx), {"bundle": bundle}
    try:
        return load_live_model(path, name, options=opts.backend_options(), cache_dir=cache_dir, **extra), None
    except (SadvaeError, ImportError) as e:
        log.warning("%s backend skipped: %s", name, e)
        return None, f"{type(e).__name__}: {e}"


def bench_recognizer(bundle: str | Path, opts: BenchOptions, cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Time every (backend, batch, persons) of ``opts`` (see the module docstring).

    Args:
        bundle: the model bundle ``.pt``.
        opts: the options.
        cache_dir: where the bundle's ONNX export is cached (None: :func:`realtime.backends.live_model.onnx_cache_dir`).

    Returns:
        ``{"iters", "warmup", "threads", "optimization", "spin", "backends": {name: {"file", "device",
        "precision"}}, "results": [row], "skipped": [{"backend", "batch", "persons", "reason"}],
        "agreement": [:func:`agreement` of each backend after the first]}``; a row
        is :class:`LatencyStats` plus ``persons`` and ``window`` [3, T, 25, M].
    """
    out: dict[str, Any] = {
        "iters": opts.iters,
        "warmup": opts.warmup,
        "threads": opts.threads,
        "optimization": opts.optimization,
        "spin": opts.spin,
        "backends": {},
        "results": [],
        "skipped": [],
        "agreement": [],
    }
    reference: tuple[str, dict[str, np.ndarray]] | None = None
    for name in opts.backends:
        model, why = _load(Path(bundle), name, opts, Path(cache_dir) if cache_dir else None)
        if model is None:
            out["skipped"].append({"backend": name, "batch": None, "persons": None, "reason": why})
            continue
        try:
            be = model.backend
            out["backends"][name] = {"file": str(model.backend_path), "device": be.device, "precision": be.precision}
            x = bench_windows(AGREEMENT_WINDOWS, 1, be.window_shape, opts.seed + 1)
            got = be.run(x)
            if reference is None:
                reference = (name, got)
            else:
                out["agreement"].append(agreement(name, got, *reference))
            m = be.window_shape[3]
            for persons in opts.persons:
                if persons > m:
                    reason = (
                        f"the model's windows hold M={m} person(s); in the live pipeline each further person "
                        "in view is its own track, i.e. one more batch row"
                    )
                    out["skipped"].append({"backend": name, "batch": None, "persons": persons, "reason": reason})
                    continue
                for batch in opts.batches:
                    x = bench_windows(batch, persons, be.window_shape, opts.seed)
                    stats = time_windows(be, x, opts.iters, opts.warmup)
                    out["results"].append({**stats.to_dict(), "persons": persons, "window": list(be.window_shape)})
                    log.info("%s batch %d persons %d: p50 %.2f ms", name, batch, persons, stats.p50_ms)
        finally:
            model.close()
    return out


# ---------------------------------------------------------------------------------------------- pipeline


def default_labels(bundle: Any) -> str:
    """Labels text: up to 4 of the bundle's seen classes and :data:`NEW_LABELS` (a mixed, gated head)."""
    seen = [bundle.class_names[i] for i in bundle.seen_classes[:4]]
    return "\n".join([*seen, *NEW_LABELS]) + "\n"


def _drain(endpoint: str, stop: threading.Event, counter: list[int]) -> None:
    from realtime.events.publisher import Subscriber

    with Subscriber(endpoint, rcvhwm=100_000) as sub:
        while not stop.is_set():
            if sub.recv(timeout_ms=50) is not None:
                counter[0] += 1


def _rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _current_rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


WARMUP_FRAMES = 1  # untimed frames first: MediaPipe's (and the first frame's) one-off costs stay off the clock


class _Warmed:
    """A source whose first :data:`WARMUP_FRAMES` frames run untimed: ``on_warm`` is called when the pipeline asks for
    the next frame, i.e. once they have been processed (all else passes through to the source)."""

    def __init__(self, source: Any, on_warm: Any):
        self.source, self.on_warm = source, on_warm

    def __iter__(self) -> Any:
        it = iter(self.source)
        for _ in range(WARMUP_FRAMES):
            frame = next(it, None)
            if frame is None:
                return
            yield frame
        self.on_warm()
        yield from it

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)


def thin(rows: list, most: int = 20) -> list:
    """About ``most`` evenly spaced rows of ``rows``, always ending with the last one (once)."""
    kept = rows[:: max(1, len(rows) // most)]
    return kept + rows[-1:] if rows and kept[-1] is not rows[-1] else kept


def _pipeline_run(
    model: Any, source_path: Path, labels: Path, opts: BenchOptions, text_encoder: Any, head: Any
) -> dict[str, Any]:
    from realtime.events.publisher import PublisherOptions
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.pose.roi import RoiOptions
    from realtime.pose.stage import PoseOptions
    from realtime.sources.replay import ReplaySource
    from realtime.sources.video import REPLAY_SUFFIXES, VideoSource
    from realtime.stats import LEAN_STAGES, StageStats

    replay = source_path.suffix.lower() in REPLAY_SUFFIXES or source_path.is_dir()
    source = ReplaySource(source_path, loop=True) if replay else VideoSource(source_path, loop=True)
    extra = {"head": head} if head is not None else {}
    popts = PipelineOptions(
        stride=opts.stride,
        latency_window=None,
        max_frames=opts.frames + WARMUP_FRAMES,
        handle_signals=False,
        pose=PoseOptions(
            model_path=opts.pose_model,
            variant=opts.pose_variant,
            num_poses=opts.num_poses,
            roi=RoiOptions(enabled=opts.roi),
        ),
        publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*", sndhwm=10_000),
        **extra,
    )
    try:
        rss: list[list[float | None]] = []  # [frame, MB] at every batch: memory drift over a long run
        warm: dict[str, Any] = {"frames": 0, "windows": 0}

        def on_warm() -> None:  # the clocks and stage statistics start after the warm-up frames
            warm.update(frames=pipe.frames, windows=pipe.windows)
            pipe.stats = StageStats(None)
            warm.update(start=time.perf_counter(), cpu0=time.process_time())

        pipe = Pipeline(
            _Warmed(source, on_warm),
            model,
            labels,
            popts,
            text_encoder=text_encoder,
            on_batch=lambda _: rss.append([pipe.frames, _current_rss_mb()]),
        )
    except BaseException:
        source.close()
        model.close()
        raise
    stop, received = threading.Event(), [0]
    drain = threading.Thread(target=_drain, args=(pipe.publisher.endpoint, stop, received), daemon=True)
    try:
        if not replay:
            pipe.ensure_pose()  # load MediaPipe before the clock starts
        drain.start()
        time.sleep(0.3)  # ZeroMQ's slow joiner: let the subscription arrive before the first event
        warm.update(start=time.perf_counter(), cpu0=time.process_time())
        reason = pipe.run()
        wall, cpu = time.perf_counter() - warm["start"], time.process_time() - warm["cpu0"]
    finally:
        pipe.close()
        time.sleep(0.2)
        stop.set()
        if drain.is_alive():
            drain.join(timeout=5)
    frames, windows = pipe.frames - warm["frames"], pipe.windows - warm["windows"]
    pipe.stats.frames = frames  # per-frame costs over the timed frames only
    summary = pipe.stats.summary()
    stages = {STAGE_NAMES.get(k, k): dataclasses.asdict(v) for k, v in summary.items()}
    calls = summary["model"].calls if "model" in summary else 0
    return {
        "source": str(source_path),
        "kind": "replay" if replay else "video",
        "backend": model.backend.name,
        "device": model.backend.device,
        "precision": model.backend.precision,
        "stop_reason": reason,
        "frames": frames,
        "warmup_frames": warm["frames"],
        "stride": pipe.stride,
        "windows": windows,
        "batches": calls,
        "mean_batch": windows / calls if calls else 0.0,
        "wall_s": wall,
        "fps": frames / wall,
        # the process's CPU time (every thread) per frame: the cost, which other jobs on a shared machine inflate
        # far less than the wall clock; 1000 / it is the rate one core doing all the work would reach
        "cpu_ms_per_frame": 1e3 * cpu / max(1, frames),
        "events_received": received[0],
        "head_mode": pipe.head.mode,
        "stages": stages,
        "rss_mb": thin(rss),
        "lean_per_frame_ms": pipe.stats.lean_per_frame_ms(),
        "lean_stages": [STAGE_NAMES[s] for s in LEAN_STAGES],
        "pose_model": str(pipe.pose_model.path) if getattr(pipe.pose_model, "path", None) else None,
    }


def bench_pipeline(
    bundle: str | Path,
    opts: BenchOptions,
    *,
    cache_dir: str | Path | None = None,
    text_encoder: Any = None,
    head: Any = None,
) -> dict[str, Any]:
    """Run the live pipeline over ``opts.source`` for ``opts.frames`` frames with each backend of ``opts``.

    Args:
        bundle: the model bundle ``.pt``.
        opts: the options (``source`` must be set).
        cache_dir: where the bundle's ONNX export is cached.
        text_encoder: the head's sentence encoder (None: the bundle's; tests pass a stand-in).
        head: :class:`realtime.head.zero_shot.HeadOptions` (None: defaults).

    Returns:
        ``{"source", "frames", "stride", "runs": [run], "skipped": [{"backend", "reason"}]}``; a run has
        ``fps``, ``wall_s``, ``windows``, ``mean_batch``, ``events_received`` and ``stages``
        (:data:`STAGE_NAMES` -> calls, p50/p90/p99/mean ms per call, per_frame_ms).

    Raises:
        ConfigError: no source. SourceError / DataFormatError: an unreadable source.
    """
    if opts.source is None:
        raise ConfigError("the pipeline benchmark needs a source: pass --video PATH or --replay PATH")
    source = Path(opts.source)
    out: dict[str, Any] = {
        "source": str(source),
        "frames": opts.frames,
        "stride": opts.stride,
        "runs": [],
        "skipped": [],
    }
    with tempfile.TemporaryDirectory(prefix="sadvae_bench_") as tmp:
        labels = Path(opts.labels) if opts.labels else None
        for name in opts.backends:
            model, why = _load(Path(bundle), name, opts, Path(cache_dir) if cache_dir else None)
            if model is None:
                out["skipped"].append({"backend": name, "reason": why})
                continue
            if labels is None:
                labels = Path(tmp) / "labels.txt"
                labels.write_text(default_labels(model.bundle), encoding="utf-8")
            run = _pipeline_run(model, source, labels, opts, text_encoder, head)  # closes the model
            log.info("pipeline %s: %d frames, %.1f fps", name, run["frames"], run["fps"])
            out["runs"].append(run)
    return out


# ---------------------------------------------------------------------------------------------- document


def _model_block(bundle: Path) -> dict[str, Any]:
    """The model's facts: from the export beside the bundle when there is one (no torch: loading it would
    add ~350 MB to the RSS the benchmark reports), else from the bundle (with its layer ``channels``)."""
    from sadvae.bundle import BundleInfo, load_bundle
    from sadvae.hashing import file_sha256
    from sadvae.onnx_metadata import read_onnx_metadata

    model_id, beside = file_sha256(bundle), bundle.with_suffix(".onnx")
    meta = read_onnx_metadata(beside) if beside.is_file() else {}
    if meta.get("model_id") == model_id:
        info, channels = BundleInfo.from_metadata(meta, bundle), None
    else:
        info, channels = BundleInfo.from_bundle(b := load_bundle(bundle), "", bundle), list(b.backbone.cfg.channels)
    return {
        "path": str(bundle),
        "model_id": model_id,
        "window": info.preprocess.window,
        "persons": info.preprocess.persons,
        "fps": info.preprocess.fps,
        "channels": channels,
        "normalization": info.preprocess.normalization,
        "stride": info.live.stride,
        "seen_classes": len(info.seen_classes),
        "latent_dim": info.semantic_dim,
    }


def run_bench(bundle: str | Path | None, opts: BenchOptions, *, command: str = "", **pipeline_kw: Any) -> dict:
    """The whole benchmark as one JSON-ready document (``format`` :data:`FORMAT`).

    Args:
        bundle: model bundle ``.pt`` (None: the packaged default model).
        opts: the options; the pipeline part runs when ``opts.source`` is set.
        command: the command line, recorded as given.
        **pipeline_kw: ``cache_dir``, ``text_encoder``, ``head`` (see :func:`bench_pipeline`).

    Raises:
        CheckpointError: no bundle. ConfigError: bad options.
    """
    from realtime.backends.live_model import default_model_path
    from realtime.head.zero_shot import HeadOptions
    from sadvae.errors import CheckpointError

    path = Path(bundle) if bundle is not None else default_model_path()
    if not path.is_file():
        raise CheckpointError(f"{path}: model bundle not found; pass --model BUNDLE.pt")
    if path.suffix.lower() == ".onnx":
        raise ConfigError(
            f"--model {path}: is an ONNX export; pass the bundle it was exported from with --model and time the "
            f"export with --onnx {path}"
        )
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine_info(),
        "model": _model_block(path),
        "options": {**dataclasses.asdict(opts), "handedness": (pipeline_kw.get("head") or HeadOptions()).handedness},
        "recognizer": None,
        "pipeline": None,
    }
    if opts.recognizer:
        doc["recognizer"] = bench_recognizer(path, opts, pipeline_kw.get("cache_dir"))
    if opts.source is not None:
        doc["pipeline"] = bench_pipeline(path, opts, **pipeline_kw)
        doc["pipeline"]["handedness"] = doc["options"]["handedness"]
    doc["machine"]["loadavg_end"] = list(os.getloadavg())
    doc["machine"]["peak_rss_mb"] = round(_rss_mb(), 1)
    return doc
