#!/usr/bin/env python
"""The default recogniser on a CUDA GPU: parity with the CPU and batch-1 latency (torch and ONNX Runtime).

Usage:
    python scripts/gpu_check.py [--model sadvae/assets/default_model.pt] [--windows FILE.npz] [--json OUT.json]

The recogniser is the live graph (``sadvae.export.live_recognizer``: backbone, extra head and the SA-DVAE's
semantic mean; outputs ``latent`` and ``seen_logits``) with the bundle's live person slots. Inputs: real
windows when ``--windows`` names a ``scripts/camera_distill.py prepare`` file (A001 through the live mapping),
else seeded random ones. Parity: max |GPU - CPU| per output, torch on the CPU in fp32 as the reference, for
torch CUDA fp32 (TF32 off and on), torch CUDA fp16 autocast, and ONNX Runtime's CUDA provider on the bundle's
``.onnx`` when this onnxruntime has one (it says so when not). Latency: batch 1, median and p90 of ``--repeats``
runs after warm-up, synchronised, for each path that runs, and the CPU paths for reference.

Decisions (``--windows`` only): on the file's held-out windows (the test sides of the default recipe's five sets,
none trained on), whether reduced precision changes what the recogniser says: top-1 agreement of the trained-class
logits with fp32 on the CPU, the largest change of a softmax probability, and the latent's cosine. Paths: every
layer in fp16 (``model.half()``; on the CPU too, so it runs anywhere: a pessimistic stand-in for a TensorRT fp16
plan, which accumulates in fp32) and, on a GPU, TF32 and fp16 autocast.

Prints tables and writes JSON; no timed asserts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _timed(fn, repeats: int, warmup: int = 20) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort()
    return {"median_ms": statistics.median(ts), "p90_ms": ts[int(0.9 * (len(ts) - 1))], "runs": repeats}


def decisions(rec, x: np.ndarray, batch: int = 64) -> dict[str, dict[str, float]]:
    """Reduced-precision paths against fp32 on the CPU, on windows ``x`` [N, 3, T, 25, M] (see the docstring)."""
    import copy

    import torch

    def run(fn, dtype=torch.float32, device="cpu"):
        lat, lg = [], []
        with torch.no_grad():
            for a in range(0, len(x), batch):
                out = fn(torch.from_numpy(x[a : a + batch]).to(device, dtype))
                lat.append(out[0].float().cpu())
                lg.append(out[1].float().cpu())
        return torch.cat(lat), torch.cat(lg)

    ref_lat, ref_lg = run(rec)
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    paths = {"torch cpu fp16 (all layers)": lambda: run(copy.deepcopy(rec).half(), torch.float16)}
    if torch.cuda.is_available():
        g = copy.deepcopy(rec).cuda()

        def autocast(x):
            with torch.autocast("cuda", dtype=torch.float16):
                return g(x)

        def tf32(x):
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
            try:
                return g(x)
            finally:
                torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False

        paths["torch cuda fp32"] = lambda: run(g, device="cuda")
        paths["torch cuda fp32 tf32"] = lambda: run(tf32, device="cuda")
        paths["torch cuda fp16 autocast"] = lambda: run(autocast, device="cuda")
        paths["torch cuda fp16 (all layers)"] = lambda: run(copy.deepcopy(rec).cuda().half(), torch.float16, "cuda")
    p_ref = torch.softmax(ref_lg, -1)
    top5 = ref_lg.topk(min(5, ref_lg.shape[-1]), -1).indices
    out = {}
    for name, make in paths.items():
        try:
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # fp32 means fp32 here
            lat, lg = make()
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
        cos = torch.nn.functional.cosine_similarity(lat, ref_lat, dim=-1)
        out[name] = {
            "windows": len(x),
            "top1_agreement": float((lg.argmax(-1) == ref_lg.argmax(-1)).float().mean()),
            "top1_in_fp32_top5": float((top5 == lg.argmax(-1, keepdim=True)).any(-1).float().mean()),
            "max_prob_change": float((torch.softmax(lg, -1) - p_ref).abs().max()),
            "max_logit_change": float((lg - ref_lg).abs().max()),
            "latent_cos_min": float(cos.min()),
        }
    return out


def check(model: Path, windows: Path | None, repeats: int) -> dict:
    import torch

    from sadvae.bundle import load_bundle
    from sadvae.export import live_recognizer

    bundle = load_bundle(model)
    rec, pre = live_recognizer(bundle)
    rec = rec.eval()
    if windows is not None:
        make = f"make it with `python scripts/camera_distill.py prepare --out {windows}`"
        if not windows.is_file():
            raise SystemExit(f"{windows}: not found; {make}")
        try:
            with np.load(windows, allow_pickle=False) as z:
                if not {"a001_mp", "x", "test"} <= set(z.files):
                    raise SystemExit(f"{windows}: not a camera_distill prepare file; {make}")
                x = z["a001_mp"][..., : pre.persons].astype(np.float32)
                held_out = z["x"][z["test"]].astype(np.float32)[..., None]  # person 1
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise SystemExit(f"{windows}: not a readable .npz file ({type(e).__name__}); {make}") from None
        if pre.persons > 1:
            held_out = np.concatenate([held_out, np.zeros_like(held_out).repeat(pre.persons - 1, -1)], -1)
        source = f"{windows}: A001 through the live mapping"
    else:
        x = np.random.default_rng(0).normal(0, 0.3, (8, 3, pre.window, 25, pre.persons)).astype(np.float32)
        source = "random, seed 0"
    if x.shape[2] != pre.window:
        raise SystemExit(f"{windows}: windows of {x.shape[2]} frames, the model takes {pre.window}")
    res: dict = {
        "model": str(model),
        "inputs": source,
        "window": list(x.shape[1:]),
        "torch": torch.__version__,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
    }
    xb = torch.from_numpy(x)
    with torch.no_grad():
        ref = [t.numpy() for t in rec(xb)]
    names = ("latent", "seen_logits")
    parity: dict[str, dict[str, float]] = {}
    latency: dict[str, dict[str, float]] = {}
    one = xb[:1]
    with torch.no_grad():
        latency["torch cpu fp32"] = _timed(lambda: rec(one), repeats // 4 or 1, warmup=5)

    def diff(outs) -> dict[str, float]:
        return {n: float(np.abs(np.asarray(o, np.float32) - r).max()) for n, o, r in zip(names, outs, ref, strict=True)}

    if torch.cuda.is_available():
        dev = torch.device("cuda")
        res["gpu"] = torch.cuda.get_device_name(dev)
        g = rec.to(dev)
        xg, og = xb.to(dev), one.to(dev)

        def run_sync(inp):
            out = g(inp)
            torch.cuda.synchronize()
            return out

        saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        for tf32 in (False, True):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32
            key = f"torch cuda fp32{' tf32' if tf32 else ''}"
            with torch.no_grad():
                parity[key] = diff([t.cpu().numpy() for t in g(xg)])
                latency[key] = _timed(lambda: run_sync(og), repeats)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16):
            parity["torch cuda fp16 autocast"] = diff([t.float().cpu().numpy() for t in g(xg)])
            latency["torch cuda fp16 autocast"] = _timed(lambda: run_sync(og), repeats)
        # CUDA graph of the batch-1 call: what removes the Python launch overhead
        try:
            static_in = og.clone()
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.no_grad(), torch.cuda.stream(s):
                for _ in range(3):
                    g(static_in)
            torch.cuda.current_stream().wait_stream(s)
            graph = torch.cuda.CUDAGraph()
            with torch.no_grad(), torch.cuda.graph(graph):
                static_out = g(static_in)

            def replay():
                graph.replay()
                torch.cuda.synchronize()

            latency["torch cuda fp32, CUDA graph"] = _timed(replay, repeats)
            parity["torch cuda fp32, CUDA graph (batch 1)"] = {
                n: float(np.abs(o.cpu().numpy() - r[:1]).max()) for n, o, r in zip(names, static_out, ref, strict=True)
            }
        except Exception as e:  # noqa: BLE001 - report, do not fail the other checks
            res["cuda_graph_error"] = f"{type(e).__name__}: {e}"
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    else:
        res["gpu"] = None

    onnx_path = model.with_suffix(".onnx")
    try:
        import onnxruntime as ort

        res["onnxruntime"] = ort.__version__
        res["ort_providers"] = ort.get_available_providers()
        if onnx_path.is_file():
            for prov in ("CPUExecutionProvider", "CUDAExecutionProvider"):
                if prov not in ort.get_available_providers():
                    res[f"ort {prov}"] = "not available in this onnxruntime build"
                    continue
                sess = ort.InferenceSession(str(onnx_path), providers=[prov])
                inp = sess.get_inputs()[0].name
                outs = sess.run(list(names), {inp: x})
                parity[f"onnxruntime {prov}"] = diff(outs)
                n = repeats if prov != "CPUExecutionProvider" else repeats // 4 or 1
                feed = {inp: x[:1]}
                latency[f"onnxruntime {prov}"] = _timed(lambda s=sess, f=feed: s.run(list(names), f), n, warmup=10)
        else:
            res["ort"] = f"{onnx_path} not found"
    except ImportError as e:
        res["onnxruntime"] = f"not installed ({e})"
    res["parity_max_abs"] = parity
    res["latency_batch1"] = latency
    if windows is not None:
        res["decisions"] = decisions(rec.cpu(), held_out)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "sadvae" / "assets" / "default_model.pt")
    ap.add_argument("--windows", type=Path, help="a camera_distill.py prepare .npz (real A001 windows)")
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from sadvae.errors import SadvaeError

    try:
        res = check(args.model, args.windows, args.repeats)
    except SadvaeError as e:  # a missing or damaged bundle: its own one-line message
        raise SystemExit(f"gpu_check: {e}") from None
    print(f"model {res['model']}, inputs {res['inputs']}, GPU {res.get('gpu')}, torch {res['torch']}")
    print("| path | max abs diff latent | max abs diff seen_logits | batch-1 median ms | p90 ms |")
    print("|---|---|---|---|---|")
    for k in sorted(set(res["parity_max_abs"]) | set(res["latency_batch1"])):
        p, t = res["parity_max_abs"].get(k, {}), res["latency_batch1"].get(k, {})
        cells = [f"{p[n]:.2e}" if n in p else "" for n in ("latent", "seen_logits")]
        lat = [f"{t[n]:.3f}" if n in t else "" for n in ("median_ms", "p90_ms")]
        print(f"| {k} | {' | '.join(cells)} | {' | '.join(lat)} |")
    if "decisions" in res:
        print("\nDecisions on held-out windows, against torch fp32 on the CPU:")
        print(
            "| path | windows | top-1 agreement | top-1 in fp32 top-5 | max prob change | max logit change "
            "| min latent cos |"
        )
        print("|---|---|---|---|---|---|---|")
        for k, d in res["decisions"].items():
            print(
                f"| {k} | {d['windows']} | {100 * d['top1_agreement']:.1f} % | {100 * d['top1_in_fp32_top5']:.1f} % | "
                f"{d['max_prob_change']:.3f} | {d['max_logit_change']:.2f} | {d['latent_cos_min']:.4f} |"
            )
    for k in ("ort_providers", "ort CUDAExecutionProvider", "cuda_graph_error"):
        if k in res:
            print(f"{k}: {res[k]}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
