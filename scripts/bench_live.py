"""Benchmark the live pipeline end to end on real videos: per-stage latency, fps, the lean-stage budget, memory.

Runs the whole pipeline (video decode -> MediaPipe pose -> NTU-25 mapping -> tracking -> ring
buffer -> preprocess -> backend every ``stride`` frames -> head -> decisions -> ZeroMQ PUB with a
subscriber draining it on a thread) on each video, looped to ``--frames`` frames, and prints per
stage the p50 / p90 / p99 latency per call and the mean cost per frame, the end-to-end frame rate,
the summed per-frame cost of the stages other than pose and inference (mapping, tracking, buffer,
window + preprocess, head, decisions, publish: the < 1 ms budget), and the peak and sampled
resident memory. The numbers go to ``--out`` as JSON too.

Model: ``--model`` (bundle ``.pt``), else the packaged default model, else a stand-in bundle with
random weights and the default model's architecture (light ST-GCN, M = 1, 32 frames at 15 fps,
d_r = 64): weights do not change the cost. Labels: 4 seen classes + 4 new ones (fitted once with
the bundled MiniLM text encoder before the clock starts).

Usage (from the project root)::

    python scripts/bench_live.py --frames 3000 --out runs/bench_live.json
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
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = [ROOT.parent / "shared" / "data" / "videos" / v for v in ("ta_chi.mp4", "clean_and_jerk.mp4")]
SEEN = ("wave", "clap", "jump", "sit down", "stand up", "kick", "bow", "squat")
LABELS = (
    "wave\nclap\njump\nsit down\npunch | throw a punch with one fist\nstretch\nlift a barbell\nbalance on one leg\n"
)
log = logging.getLogger("bench_live")


def stand_in_bundle(path: Path) -> Path:
    """A random-weight bundle with the default model's architecture (speed only; scores are meaningless)."""
    import torch

    from sadvae.bundle import save_bundle
    from sadvae.data.preprocess import PreprocessConfig
    from sadvae.evaluate import Gate
    from sadvae.models.sadvae import SADVAE, SADVAEConfig
    from sadvae.models.stgcn import STGCN, STGCNConfig
    from sadvae.text import TextConfig

    torch.manual_seed(0)
    backbone = STGCN(STGCNConfig.from_preset("light", len(SEEN), persons=1))
    sadvae = SADVAE(SADVAEConfig(feature_dim=backbone.feature_dim, text_dim=384, semantic_dim=64, style_dim=8))
    gate = Gate(temperature=1.0, threshold=0.5, k=3, coef=np.zeros(6), intercept=0.0)
    return save_bundle(path, backbone=backbone.eval(), sadvae=sadvae.eval(), gate=gate, class_names=SEEN,
                       seen_classes=tuple(range(len(SEEN))), unseen_classes=(), encoder_id="all-MiniLM-L6-v2",
                       text_cfg=TextConfig(), preprocess=PreprocessConfig(persons=1), metrics={},
                       provenance={"note": "random weights: benchmark stand-in"})  # fmt: skip


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    import mediapipe
    import onnxruntime

    return {
        "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "mediapipe": mediapipe.__version__,
        "onnxruntime": onnxruntime.__version__, "numpy": np.__version__, "loadavg_start": os.getloadavg(),
    }  # fmt: skip


def drain(endpoint: str, stop: threading.Event, counter: list[int]) -> None:
    from realtime.events import Subscriber

    with Subscriber(endpoint, rcvhwm=100_000) as sub:
        while not stop.is_set():
            if sub.recv(timeout_ms=100) is not None:
                counter[0] += 1


def bench_video(video: Path, model_path: Path, labels: Path, args: argparse.Namespace) -> dict:
    from realtime.backends import BackendOptions
    from realtime.events import PublisherOptions
    from realtime.model import load_live_model
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.pose import PoseOptions
    from realtime.sources import VideoSource
    from realtime.stats import LEAN_STAGES

    opts = PipelineOptions(stride=args.stride, latency_window=None, max_frames=args.frames, handle_signals=False,
                           pose=PoseOptions(variant="full", num_poses=args.num_poses),
                           backend=BackendOptions(threads=args.threads),
                           publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*", sndhwm=10_000))  # fmt: skip
    model = load_live_model(model_path, args.backend, options=opts.backend)
    rss_samples: list[tuple[int, float]] = []
    pipe = Pipeline(VideoSource(video, loop=True), model, labels, opts,
                    on_batch=lambda b: rss_samples.append((pipe.frames, rss_mb())))  # fmt: skip
    pipe.ensure_pose()
    stop, received = threading.Event(), [0]
    t = threading.Thread(target=drain, args=(pipe.publisher.endpoint, stop, received), daemon=True)
    t.start()
    time.sleep(0.3)
    start = time.perf_counter()
    pipe.run()
    wall = time.perf_counter() - start
    time.sleep(0.3)
    stop.set()
    t.join()
    stats = pipe.stats.summary()
    return {
        "video": video.name, "frames": pipe.frames, "windows": pipe.windows, "wall_s": wall, "fps": pipe.frames / wall,
        "stages": {k: vars(v) for k, v in stats.items()},
        "lean_per_frame_ms": pipe.stats.lean_per_frame_ms(), "lean_stages": list(LEAN_STAGES),
        "events_received": received[0], "head_mode": pipe.head.mode,
        "rss_mb_samples": rss_samples[:: max(1, len(rss_samples) // 20)] + rss_samples[-1:],
        "backend": model.backend.name, "model": str(model.bundle_path), "pose_model": str(pipe.pose_model.path),
    }  # fmt: skip


def table(r: dict) -> str:
    rows = [f"{r['video']}: {r['frames']} frames in {r['wall_s']:.1f} s = {r['fps']:.1f} fps end to end, "
            f"{r['windows']} windows, {r['events_received']} events received",
            f"  {'stage':<9} {'calls':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'ms/frame':>9}"]  # fmt: skip
    for name, s in r["stages"].items():
        rows.append(f"  {name:<9} {s['calls']:>6} {s['p50_ms']:>8.3f} {s['p90_ms']:>8.3f} {s['p99_ms']:>8.3f} "
                    f"{s['per_frame_ms']:>9.3f}")  # fmt: skip
    rows.append(f"  lean stages ({' + '.join(r['lean_stages'])}): {r['lean_per_frame_ms']:.3f} ms per frame")
    rss = r["rss_mb_samples"]
    rows.append(
        f"  RSS over the run (MB at frame): {', '.join(f'{m:.0f}@{f}' for f, m in rss[:: max(1, len(rss) // 6)])}"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", nargs="+", type=Path, default=VIDEOS)
    ap.add_argument("--frames", type=int, default=3000, help="frames per video (looped)")
    ap.add_argument("--model", type=Path, help="model bundle (default: packaged, else a random stand-in)")
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--threads", type=int, default=1, help="inference threads")
    ap.add_argument("--stride", type=int, default=8)
    ap.add_argument("--num-poses", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_live.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from realtime.model import default_model_path

    tmp = Path(tempfile.mkdtemp(prefix="bench_live_"))
    model = args.model or (default_model_path() if default_model_path().is_file() else None)
    if model is None:
        model = stand_in_bundle(tmp / "stand_in.pt")
        print(f"no default model installed: using a random-weight stand-in with its architecture ({model})")
    labels = tmp / "labels.txt"
    labels.write_text(LABELS, encoding="utf-8")
    info = {"command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]), "machine": machine(),
            "stride": args.stride, "threads": args.threads, "model": str(model), "runs": []}  # fmt: skip
    for video in args.videos:
        r = bench_video(video, model, labels, args)
        info["runs"].append(r)
        print(table(r), flush=True)
    info["machine"]["loadavg_end"] = os.getloadavg()
    info["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {info['peak_rss_mb']:.0f} MB; load average start {info['machine']['loadavg_start']}, "
          f"end {info['machine']['loadavg_end']}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(info, indent=1, default=float), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
