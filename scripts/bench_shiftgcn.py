#!/usr/bin/env python
"""Shift-GCN with the released NTU weights: the 6-sample check and CPU cost per window.

Usage:
    python scripts/bench_shiftgcn.py [--out runs/shiftgcn_bench.json] [--repeats 20] [--no-ort]

1. Reads the 6 NTU samples in ../shared/data/ntu with the project's reader, official NTU
   pre-normalisation (``PreprocessConfig(window=T, fps=30, normalization="ntu")``, T from
   ``--sample-windows``, default 300 and 64: centre crop of longer clips, shorter ones loop-filled),
   runs all four checkpoints and prints true action, top-1, its probability and logit.
   ``--official-order`` puts the body with the larger spread (sum of the x, y, z std over its present
   frames) in slot 0, as the official reader does (changes only the two-body sample).
2. CPU milliseconds per window, batch 1, one thread (torch and ONNX Runtime), T = 64 and 300, with
   both person slots computed (M = 2) and with the empty slot's cached feature f0 (one person).
   Median of ``--repeats`` runs after 3 warm-up runs, on a one-person NTU window.

Writes a JSON file (with the machine: CPU model, cores, threads, load average at start and end) and prints
markdown tables (docs/shiftgcn.md holds a run's output).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from realtime.bench.machine import machine_info  # noqa: E402  (after the sys.path line)
from sadvae.paths import SHARED_DATA  # noqa: E402

SAMPLES = (
    "S001C001P001R001A001",
    "S001C001P001R001A011",
    "S001C003P008R002A058",
    "S002C001P003R001A003",
    "S003C001P015R001A034",
    "S004C002P003R001A017",
)
CHECKPOINTS = ("ntu120_xsub", "ntu120_xsetup", "ntu60_xsub", "ntu60_xview")


def official_order(joints: np.ndarray) -> np.ndarray:
    """Person slots [T, M, 25, 3] sorted by decreasing spread (official NTU reader's body choice)."""

    def spread(p: np.ndarray) -> float:
        p = p[np.abs(p).reshape(len(p), -1).max(axis=1) > 0]
        return float(sum(p[..., c].std() for c in range(3))) if len(p) else 0.0

    order = sorted(range(joints.shape[1]), key=lambda m: -spread(joints[:, m]))
    return joints[:, order]


def sample_windows(data: Path, window: int, official: bool) -> np.ndarray:
    from sadvae.data.ntu import read_ntu_skeleton
    from sadvae.data.preprocess import PreprocessConfig, preprocess

    cfg = PreprocessConfig(window=window, fps=30.0, persons=2, normalization="ntu")
    out = []
    for name in SAMPLES:
        joints = read_ntu_skeleton(data / f"{name}.skeleton").joints
        out.append(preprocess(official_order(joints) if official else joints, None, cfg))
    return np.stack(out)


def sample_table(data: Path, official: bool, window: int = 300) -> list[dict]:
    from sadvae.models.pretrained import load_pretrained_shiftgcn, ntu_class_names

    x = torch.from_numpy(sample_windows(data, window, official))
    rows = [{"sample": s, "true": int(s[-3:])} for s in SAMPLES]
    for ckpt in CHECKPOINTS:
        model = load_pretrained_shiftgcn(ckpt)
        names = ntu_class_names(model.cfg.num_classes)
        with torch.inference_mode():
            logits = model(x)
        prob = logits.softmax(dim=1)
        for row, lg, p in zip(rows, logits, prob, strict=True):
            k = int(lg.argmax())
            row[ckpt] = {"top1": k + 1, "name": names[k], "prob": float(p[k]), "logit": float(lg[k])}
    return rows


class _Both(nn.Module):
    """A backbone as a module returning (features, logits), for export."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.backbone.forward_features(x)
        return f, self.backbone.forward_head(f)


def _median_ms(fn, repeats: int) -> tuple[float, float]:
    """(median wall ms, median process-CPU ms) of ``repeats`` calls after 3 warm-up calls.

    With one thread the CPU time is the cost of the call even when other processes share the cores;
    the wall time then also holds the time spent waiting for a core.
    """
    for _ in range(3):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return statistics.median(wall), statistics.median(cpu)


def timing(data: Path, repeats: int, ort: bool) -> list[dict]:
    from sadvae.models.pretrained import load_pretrained_shiftgcn
    from sadvae.models.shiftgcn import OnePersonShiftGCN

    torch.set_num_threads(1)
    model = load_pretrained_shiftgcn("ntu120_xsub")
    rows = []
    for window in (64, 300):
        x_np = sample_windows(data, window, False)[:1]  # A001: one person, slot 1 empty
        x = torch.from_numpy(x_np)
        one = OnePersonShiftGCN(model, window)
        with torch.inference_mode():
            model.cache_empty_slot = False
            ref = model(x)
            full = _median_ms(lambda x=x: model(x), repeats)
            model.cache_empty_slot = True
            assert torch.allclose(model(x), ref, atol=1e-4)
            cached = _median_ms(lambda x=x: model(x), repeats)
            model.cache_empty_slot = False
            assert torch.allclose(one(x), ref, atol=1e-4)
        row = {"T": window, "torch M=2": full, "torch cached f0": cached}
        if ort:
            import onnxruntime as rt

            from sadvae.export import torch_to_onnx
            from sadvae.export_check import check_tensorrt_ops

            opts = rt.SessionOptions()
            opts.intra_op_num_threads = opts.inter_op_num_threads = 1
            example = torch.from_numpy(np.repeat(x_np, 2, axis=0))
            for label, module in (("ORT M=2", model), ("ORT one-person f0", one)):
                proto = torch_to_onnx(_Both(module).eval(), example, output_names=("features", "logits"))
                ops = check_tensorrt_ops(proto)
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / "m.onnx"
                    path.write_bytes(proto.SerializeToString())
                    sess = rt.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
                got = sess.run(["logits"], {"window": x_np})[0]
                row[f"{label} max|d logit|"] = float(np.abs(got - ref.numpy()).max())
                row[label] = _median_ms(lambda s=sess, w=x_np: s.run(["logits"], {"window": w}), repeats)
                row[f"{label} ops"] = ops
        rows.append(row)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "ntu")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "shiftgcn_bench.json")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--no-ort", action="store_true", help="skip the ONNX export and ONNX Runtime timings")
    ap.add_argument("--official-order", action="store_true", help="official body order (larger spread first)")
    ap.add_argument("--skip-samples", action="store_true")
    ap.add_argument(
        "--sample-windows", type=int, nargs="+", default=[300, 64], help="window lengths of the sample table"
    )
    ap.add_argument("--skip-timing", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    result: dict = {
        "machine": machine_info(),  # CPU model, cores, library versions, load average at the start
        "threads": {"torch": torch.get_num_threads(), "onnxruntime": 1},
        "torch": torch.__version__,
        "time_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    for window in [] if args.skip_samples else args.sample_windows:
        rows = sample_table(args.data, args.official_order, window)
        result[f"samples_T{window}"] = rows
        print(f"\nT = {window} (centre crop of longer clips; shorter ones loop-filled)\n")
        print("| sample | true | " + " | ".join(CHECKPOINTS) + " |")
        print("|---|---|" + "---|" * len(CHECKPOINTS))
        for r in rows:
            cells = [f"A{r[c]['top1']:03d} {r[c]['prob']:.3f} ({r[c]['logit']:.2f})" for c in CHECKPOINTS]
            print(f"| {r['sample']} | A{r['true']:03d} | " + " | ".join(cells) + " |")
        right = {c: sum(r[c]["top1"] == r["true"] for r in rows) for c in CHECKPOINTS}
        print("top-1 right: " + ", ".join(f"{c} {n}/{len(rows)}" for c, n in right.items()))
    if not args.skip_timing:
        rows = timing(args.data, args.repeats, not args.no_ort)
        result["timing_ms"] = rows
        keys = [k for k in rows[0] if k != "T" and not k.endswith(("ops", "|"))]
        print("\nms per window, batch 1, one thread: CPU time (wall time)\n")
        print("| T | " + " | ".join(keys) + " |")
        print("|---|" + "---|" * len(keys))
        for r in rows:
            print(f"| {r['T']} | " + " | ".join(f"{r[k][1]:.1f} ({r[k][0]:.1f})" for k in keys) + " |")
        print(f"load average (1, 5, 15 min) after the run: {os.getloadavg()}")
        for r in rows:
            for k in r:
                if k.endswith("|"):
                    print(f"T={r['T']} {k}: {r[k]:.1e}")
    result["machine"]["loadavg_end"] = list(os.getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
