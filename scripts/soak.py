"""Soak test of the live pipeline: a long skeleton replay, the real backend, real ZeroMQ, memory over time.

A skeleton file is replayed in a loop as fast as the pipeline takes it (no real-time pacing) through
the full live pipeline: tracking -> ring buffers -> preprocessing -> backend (ONNX Runtime on the
packaged default model, exported once into the ONNX cache; or ``--backend torch``) every
``--stride`` frames -> zero-shot head -> decisions -> ZeroMQ PUB on a loopback port. A healthy
subscriber (its own thread, large queue) receives every event and counts ``seq`` gaps. Resident
memory is sampled every ``--sample-every`` frames. Printed and written to ``--out`` (JSON): frames,
wall time, frames/s, peak RSS, the RSS slope (MB per 10,000 frames, least squares over the second
half of the samples: the first half is warm-up), events published / received / lost, the machine.

The replay is a real NTU RGB+D skeleton (``../shared/data/ntu/S001C001P001R001A001.skeleton``) when
present, else synthetic motion made here (``--synthetic`` forces it; the output says which).

Usage (from the project root)::

    python scripts/soak.py --frames 100000 --out runs/soak.json          # full size (minutes)
    python scripts/soak.py --frames 5000                                 # CI size
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sadvae.paths import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
REAL_SKELETON = SHARED_DATA / "ntu" / "S001C001P001R001A001.skeleton"
log = logging.getLogger("soak")


def synthetic_motion(frames: int = 300, persons: int = 1, fps: float = 30.0, seed: int = 0) -> tuple[Any, Any]:
    """Made-up periodic motion of standing persons (not data): joints [T, M, 25, 3] metres, times [T] s.

    Each person is a fixed random body (spine vertical, 1.7 m tall, 2.5-3.5 m from the camera, 1 m
    apart) whose joints swing on sinusoids of their own phase and period (0.6-2 s).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    height = np.linspace(0.0, 1.7, 25)[rng.permutation(25)]  # joint heights; spine base/shoulder fixed below
    height[0], height[1], height[20] = 0.95, 1.2, 1.45  # SPINE_BASE, SPINE_MID, SPINE_SHOULDER
    out = np.empty((frames, persons, 25, 3), np.float32)
    for m in range(persons):
        base = np.stack([rng.uniform(-0.3, 0.3, 25), height, rng.uniform(-0.1, 0.1, 25)], axis=1)
        base[[0, 1, 20], 0] = base[[0, 1, 20], 2] = 0.0
        base += (m * 1.0 - 0.5 * (persons - 1), 0.0, 3.0 + 0.5 * m)
        amp = rng.uniform(0.02, 0.25, (25, 3))
        period, phase = rng.uniform(0.6, 2.0, (25, 1)), rng.uniform(0, 2 * np.pi, (25, 1))
        amp[[0, 1, 20]] = 0.01
        swing = amp[None] * np.sin(2 * np.pi * t[:, None, None] / period[None] + phase[None])
        out[:, m] = base[None] + swing
    return out, t


def rss_mb() -> float:
    """Resident memory now (``/proc/self/statm``; ``ru_maxrss`` where there is no /proc)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (``ru_maxrss``)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 2**20 if sys.platform == "darwin" else kb / 2**10


def slope_mb_per_10k(samples: list[tuple[int, float]]) -> float:
    """Least-squares slope of RSS over frames, second half of the samples, in MB per 10,000 frames."""
    tail = samples[len(samples) // 2 :]
    if len(tail) < 2:
        return float("nan")
    x, y = np.array([s[0] for s in tail], np.float64), np.array([s[1] for s in tail], np.float64)
    return float(np.polyfit(x, y, 1)[0] * 10_000)


class SampledSource:
    """Wraps a replay: stops after ``frames`` frames and samples RSS every ``every`` frames."""

    def __init__(self, inner: Any, frames: int, every: int):
        self.inner, self.frames, self.every = inner, frames, every
        self.name, self.fps = inner.name, inner.fps
        self.samples: list[tuple[int, float]] = []

    def __iter__(self) -> Iterator[Any]:
        for n, frame in enumerate(self.inner, start=1):
            yield frame
            if n % self.every == 0 or n == self.frames:
                self.samples.append((n, rss_mb()))
            if n >= self.frames:
                return

    def close(self) -> None:
        self.inner.close()


class HealthySubscriber(threading.Thread):
    """Receives everything on its own thread, counting messages per topic and ``seq`` gaps."""

    def __init__(self, endpoint: str):
        super().__init__(name="soak-subscriber", daemon=True)
        from realtime.events.publisher import Subscriber

        self.sub = Subscriber(endpoint, rcvhwm=1_000_000)
        self.stop, self.counts, self.last_at = threading.Event(), {"action": 0, "status": 0}, time.monotonic()
        self.final_status: dict | None = None

    def run(self) -> None:
        while not self.stop.is_set():
            got = self.sub.recv(timeout_ms=50)
            if got is None:
                continue
            kind = "status" if got[1].get("type") == "status" else "action"
            self.counts[kind] += 1
            self.last_at = time.monotonic()
            if kind == "status" and str(got[1].get("message") or "").startswith("stopped"):
                self.final_status = got[1]

    def finish(self, idle_s: float = 1.0, timeout_s: float = 30.0) -> None:
        """Wait for the final status and ``idle_s`` of silence, then stop and close."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and (self.final_status is None or time.monotonic() - self.last_at < idle_s):
            time.sleep(0.05)
        self.stop.set()
        self.join()
        self.sub.close()


def _counting_publisher(opts: Any, source_name: str) -> Any:
    from realtime.events.publisher import Publisher

    class CountingPublisher(Publisher):
        """Counts what the pipeline hands to ZeroMQ, by kind."""

        published = {"action": 0, "status": 0}

        def publish(self, event: Any) -> bool:
            self.published["status" if event.get("type") == "status" else "action"] += 1
            return super().publish(event)

    pub = CountingPublisher(opts, source_name)
    pub.published = {"action": 0, "status": 0}
    return pub


def _labels(bundle: Any, path: Path) -> Path:
    names = [bundle.class_names[i] for i in bundle.seen_classes[:4]]  # seen classes: no text encoder needed
    path.write_text("\n".join(names) + "\n", encoding="utf-8")
    return path


def machine() -> dict:
    cpu = "?"
    if Path("/proc/cpuinfo").is_file():
        cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    import onnxruntime
    import zmq

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnxruntime": onnxruntime.__version__,
        "libzmq": zmq.zmq_version(),
        "pyzmq": zmq.__version__,
    }


def run_soak(args: argparse.Namespace) -> dict:
    """Run the soak (see the module docstring); returns the report."""
    from realtime.backends import BackendOptions
    from realtime.backends.live_model import load_live_model
    from realtime.decisions import DecisionOptions
    from realtime.events.publisher import PublisherOptions, make_status_event
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources.replay import ReplaySource, save_recording

    tmp = Path(tempfile.mkdtemp(prefix="sadvae-soak-"))
    if args.source is not None:
        replay, kind = Path(args.source), "file"
    elif REAL_SKELETON.is_file() and not args.synthetic:
        replay, kind = REAL_SKELETON, "real NTU RGB+D skeleton"
    else:
        replay, kind = save_recording(tmp / "synthetic.npz", *synthetic_motion()), "SYNTHETIC motion (made up)"
    eager = DecisionOptions(min_score=0.0, keep_score=0.0, start_score=0.0, start_windows=1)  # every window decides
    opts = PipelineOptions(
        stride=args.stride,
        handle_signals=True,
        status_interval_s=args.status_interval,
        decisions=eager if args.every_window else DecisionOptions(),
        backend=BackendOptions(threads=args.threads),
        publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*", linger_ms=2000),
    )
    model = load_live_model(
        args.model, args.backend, bundle=args.bundle, options=opts.backend, cache_dir=args.cache_dir
    )
    every = args.sample_every or max(args.frames // 100, 100)
    source = SampledSource(ReplaySource(replay, loop=True), args.frames, every)
    labels = Path(args.labels) if args.labels else _labels(model.bundle, tmp / "labels.txt")
    publisher = _counting_publisher(opts.publisher, source.name)
    pipe = Pipeline(source, model, labels, opts, publisher=publisher)
    sub = HealthySubscriber(publisher.endpoint)
    sub.start()
    deadline = time.monotonic() + 10.0
    while sub.counts["status"] == 0 and time.monotonic() < deadline:  # ZeroMQ's slow joiner: probe until heard
        probe = make_status_event(source=publisher.source, fps=0.0, latency_ms={}, dropped={}, message="probe")
        publisher.publish(probe)
        time.sleep(0.05)
    time.sleep(0.2)
    at_sync = dict(publisher.published), dict(sub.counts)
    rss_start, load_start = rss_mb(), os.getloadavg()
    t0 = time.perf_counter()
    reason = pipe.run()
    wall = time.perf_counter() - t0
    sub.finish()
    published = {k: publisher.published[k] - at_sync[0][k] for k in at_sync[0]}
    received = {k: sub.counts[k] - at_sync[1][k] for k in at_sync[1]}
    samples = source.samples or [(pipe.frames, rss_mb())]  # a run stopped before the first sample still reports
    report = {
        "replay": str(replay),
        "replay_kind": kind,
        "model": str(model.bundle_path),
        "model_id": model.model_id[:16],
        "backend": model.backend.name,
        "stride": args.stride,
        "every_window": args.every_window,
        "labels": pipe.labels.names,
        "stop_reason": reason,
        "frames": pipe.frames,
        "windows": pipe.windows,
        "wall_s": round(wall, 2),
        "fps": round(pipe.frames / wall, 1),
        "rss_start_mb": round(rss_start, 1),
        "rss_peak_sampled_mb": round(max(s[1] for s in samples), 1),
        "rss_end_mb": round(samples[-1][1], 1),
        "ru_maxrss_mb": round(peak_rss_mb(), 1),
        "rss_slope_mb_per_10k_frames": round(slope_mb_per_10k(samples), 3),
        "events_published": published,
        "events_received": received,
        "events_lost": sum(published.values()) - sum(received.values()),
        "seq_gaps": sub.sub.missed,
        "publisher_dropped": publisher.dropped,
        "final_status_received": sub.final_status is not None,
        "loadavg_start": [round(v, 2) for v in load_start],
        "loadavg_end": [round(v, 2) for v in os.getloadavg()],
        "machine": machine(),
        "rss_samples": [(n, round(mb, 2)) for n, mb in samples],
    }
    return report


def summary(r: dict) -> str:
    pub, rec = r["events_published"], r["events_received"]
    return "\n".join(
        [
            f"soak: {r['frames']} frames of {r['replay_kind']} ({Path(r['replay']).name}), {r['backend']} on "
            f"{Path(r['model']).name}, stride {r['stride']}; stopped ({r['stop_reason']})",
            f"  wall {r['wall_s']:.1f} s = {r['fps']:.1f} frames/s, {r['windows']} windows",
            f"  RSS start {r['rss_start_mb']:.1f} MB, peak {r['rss_peak_sampled_mb']:.1f} MB (sampled; ru_maxrss "
            f"{r['ru_maxrss_mb']:.1f} MB), end {r['rss_end_mb']:.1f} MB; slope {r['rss_slope_mb_per_10k_frames']:+.3f} "
            "MB per 10k frames (second half)",
            f"  events published {pub['action']} action + {pub['status']} status, received {rec['action']} + "
            f"{rec['status']}; lost {r['events_lost']}, seq gaps {r['seq_gaps']}, "
            f"publisher drops {r['publisher_dropped']}",
            f"  load average {r['loadavg_start']} -> {r['loadavg_end']} on {r['machine']['cores']} cores "
            f"({r['machine']['cpu']})",
        ]
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=100_000, help="frames to process (default 100000)")
    p.add_argument("--source", help="skeleton file or recording to replay (default: real NTU sample, else synthetic)")
    p.add_argument("--synthetic", action="store_true", help="replay synthetic motion even where real data exists")
    p.add_argument("--model", help="bundle .pt or .onnx export (default: the packaged default model)")
    p.add_argument("--bundle", help="the bundle of an .onnx --model")
    p.add_argument("--backend", default="onnxruntime", choices=("onnxruntime", "torch"), help="default onnxruntime")
    p.add_argument("--cache-dir", help="ONNX export cache (default $SADVAE_CACHE_DIR/onnx or ~/.cache/sadvae/onnx)")
    p.add_argument("--labels", help="labels file (default: four seen classes of the model)")
    p.add_argument(
        "--every-window",
        action="store_true",
        help="every window decides (an event per track and window, whatever the scores)",
    )
    p.add_argument("--stride", type=int, default=8, help="frames between inference batches (default 8)")
    p.add_argument("--threads", type=int, default=1, help="inference threads (default 1)")
    p.add_argument("--status-interval", type=float, default=1.0, help="seconds between status events (default 1)")
    p.add_argument("--sample-every", type=int, help="frames between RSS samples (default frames/100, >= 100)")
    p.add_argument("--out", type=Path, help="write the report as JSON here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.frames < 1:
        raise SystemExit("soak: --frames must be >= 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from sadvae.errors import SadvaeError

    try:
        report = run_soak(args)
    except SadvaeError as e:
        print(f"soak: error: {e}", file=sys.stderr)
        return 2
    print(summary(report), flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
