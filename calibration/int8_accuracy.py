"""What INT8 costs: accuracy, agreement, output drift and latency of candidate backends against a reference.

Runs every backend on the same held-out windows of a model bundle (never the calibration windows) and
reports, for the reference and each candidate:

- seen-class top-1: argmax of the backbone's ``seen_logits`` against the true labels (seen classes);
- ZSL top-1: the SA-DVAE latent classifier over the zero-shot classes (the bundle's unseen classes;
  for a bundle without any, e.g. the default model, its validation run's pseudo-unseen classes), on the
  windows of those classes. The classifier is the live head's (:class:`realtime.head.zero_shot.HeadBuilder`,
  every label new), fitted once and shared by all backends, so only the backend differs;
- agreement with the reference: share of windows with the same seen argmax and the same ZSL argmax;
- max / mean |candidate - reference| of ``latent`` and ``seen_logits``;
- latency per window at batch 1 (p50 and mean over ``--latency-iters`` calls, best of ``--rounds``).

Usage (from the project root)::

    python calibration/int8_accuracy.py --reference onnxruntime:/tmp/int8/default.onnx \\
        --candidate onnxruntime:/tmp/int8/default.int8.entropy.onnx --threads 2 --json /tmp/int8/acc.json
    # on a Jetson / GPU: --candidate tensorrt:engines/default.int8.plan
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

log = logging.getLogger("calibration.int8_accuracy")


def zsl_classes(bundle) -> tuple[tuple[int, ...], str]:
    """(class ids, kind): the bundle's unseen classes, else its validation run's pseudo-unseen ones."""
    if bundle.unseen_classes:
        return tuple(bundle.unseen_classes), "unseen"
    names = (bundle.metrics.get("validation") or {}).get("pseudo_unseen") or []
    ids = tuple(bundle.class_names.index(n) for n in names if n in bundle.class_names)
    return ids, "pseudo-unseen"


def fit_zsl_head(bundle, model_id: str, class_ids: tuple[int, ...], text_encoder=None):
    """The live head over ``class_ids`` as *new* labels (latent classifier only), fitted once."""
    from realtime.head.labels import parse_labels_text
    from realtime.head.zero_shot import HeadBuilder, HeadOptions

    labels = parse_labels_text("\n".join(bundle.class_names[c] for c in class_ids), "<zsl classes>")
    zsl_only = replace(bundle, seen_classes=())  # no label matches a seen class: every label is zero-shot
    builder = HeadBuilder(
        zsl_only, HeadOptions(use_cache=False), model_id=f"{model_id}:zsl-only", text_encoder=text_encoder
    )
    return builder.build(labels)


def score(outputs: dict[str, np.ndarray], labels: np.ndarray, bundle, head, zsl_ids: tuple[int, ...]) -> dict:
    """Seen top-1, ZSL top-1 and the argmaxes (for agreement) of one backend's outputs on labelled windows."""
    from sadvae.evaluate import zsl_accuracy

    seen = np.asarray(bundle.seen_classes)
    col = {int(c): i for i, c in enumerate(seen)}
    seen_arg = outputs["seen_logits"].argmax(1)
    is_seen = np.isin(labels, seen)
    seen_truth = np.array([col.get(int(c), -1) for c in labels])
    out = {
        "seen_top1": zsl_accuracy(seen_arg[is_seen], seen_truth[is_seen]),
        "seen_windows": int(is_seen.sum()),
        "seen_argmax": seen_arg,
    }
    is_zsl = np.isin(labels, zsl_ids)
    if head is not None and is_zsl.any():
        zsl_arg = np.asarray(zsl_ids)[head.zsl_probs(outputs["latent"][is_zsl]).argmax(1)]
        out.update(zsl_top1=zsl_accuracy(zsl_arg, labels[is_zsl]), zsl_windows=int(is_zsl.sum()), zsl_argmax=zsl_arg)
    return out


def compare(ref: dict[str, np.ndarray], cand: dict[str, np.ndarray]) -> dict[str, float]:
    """Max and mean |cand - ref| of every output."""
    out = {}
    for name in ("latent", "seen_logits"):
        d = np.abs(cand[name].astype(np.float64) - ref[name].astype(np.float64))
        out[f"{name}_max_abs"], out[f"{name}_mean_abs"] = float(d.max()), float(d.mean())
    return out


def _agree(s: dict, ref: dict, key: str) -> float | None:
    return float(np.mean(s[key] == ref[key])) if key in s and key in ref else None


def _run_all(backend, windows: np.ndarray, batch: int, desc: str) -> dict[str, np.ndarray]:
    from tqdm import tqdm

    parts = [backend.run(windows[i : i + batch]) for i in tqdm(range(0, len(windows), batch), desc=desc, leave=False)]
    return {k: np.concatenate([p[k] for p in parts]) for k in ("latent", "seen_logits")}


def _parse_spec(spec: str) -> tuple[str, Path]:
    name, sep, path = spec.partition(":")
    if not sep or not path:
        raise argparse.ArgumentTypeError(f"expected BACKEND:PATH (e.g. onnxruntime:model.onnx), got {spec!r}")
    return name, Path(path)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, help="model bundle the backends were built from (default: shipped model)")
    ap.add_argument("--reference", type=_parse_spec, required=True, help="BACKEND:PATH, e.g. onnxruntime:model.onnx")
    ap.add_argument(
        "--candidate",
        type=_parse_spec,
        action="append",
        required=True,
        help="BACKEND:PATH to compare (repeatable), e.g. tensorrt:engines/model.int8.plan",
    )
    ap.add_argument("--windows", type=Path, help="windows .npz (default: every held-out sequence, centre crop)")
    ap.add_argument(
        "--split", default="holdout", choices=("validation", "holdout"), help="side drawn without --windows"
    )
    ap.add_argument("--data-root", type=Path, help="where the bundle's data lies (see calibration/sample.py)")
    ap.add_argument("--threads", type=int, default=2, help="intra-op CPU threads of each backend (default 2)")
    ap.add_argument("--device", default="cpu", help="backend device: cpu or cuda (default cpu)")
    ap.add_argument("--batch", type=int, default=32, help="windows per inference call for the accuracy pass")
    ap.add_argument("--latency-iters", type=int, default=200, help="timed batch-1 calls per round (default 200)")
    ap.add_argument("--rounds", type=int, default=2, help="latency rounds over all backends; best p50 kept")
    ap.add_argument("--no-zsl", action="store_true", help="skip the ZSL metric (no text encoder needed)")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return ap


def _table(rows: list[dict]) -> str:
    cols = [
        ("backend", "{}"),
        ("seen_top1", "{:.4f}"),
        ("zsl_top1", "{:.4f}"),
        ("seen_agree", "{:.4f}"),
        ("zsl_agree", "{:.4f}"),
        ("latent_max_abs", "{:.3g}"),
        ("latent_mean_abs", "{:.3g}"),
        ("seen_logits_max_abs", "{:.3g}"),
        ("seen_logits_mean_abs", "{:.3g}"),
        ("p50_ms", "{:.2f}"),
        ("mean_ms", "{:.2f}"),
    ]
    lines = ["| " + " | ".join(c for c, _ in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(fmt.format(r[c]) if r.get(c) is not None else "-" for c, fmt in cols) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    from realtime.backends import load_backend, time_backend
    from sadvae.assets import default_bundle_path
    from sadvae.bundle import load_bundle
    from sadvae.engine.calibration_data import load_calibration_set, sample_windows
    from sadvae.errors import ConfigError, SadvaeError
    from sadvae.export import file_sha256

    start = time.time()
    bundle_path = args.bundle or default_bundle_path()
    specs = [("reference", *args.reference)] + [(f"candidate{i}", *c) for i, c in enumerate(args.candidate, 1)]
    try:
        bundle, model_id = load_bundle(bundle_path), file_sha256(bundle_path)
        if args.windows:
            cset = load_calibration_set(args.windows)
            if cset.model_id != model_id:
                raise ConfigError(f"{args.windows}: windows of model {cset.model_id[:16]}..., not {bundle_path}")
        else:
            cset = sample_windows(
                bundle, data_root=args.data_root, per_class=None, split=args.split, crop="center", model_id=model_id
            )
        if cset.split == "train":
            log.warning("%s holds training windows: accuracy on them overstates the model", args.windows)
        zsl_ids, zsl_kind = zsl_classes(bundle)
        head = None if args.no_zsl or not zsl_ids else fit_zsl_head(bundle, model_id, zsl_ids)
        backends = [
            (
                role,
                f"{name}:{path}",
                load_backend(name, path, threads=args.threads, device=args.device, max_batch=max(args.batch, 1)),
            )
            for role, name, path in specs
        ]
        results, outputs = [], {}
        for role, label, backend in backends:
            outputs[role] = _run_all(backend, cset.windows, args.batch, label)
        ref = outputs["reference"]
        ref_score = score(ref, cset.labels, bundle, head, zsl_ids)
        latency: dict[str, dict] = {}
        for _ in range(max(1, args.rounds)):
            for role, _label, backend in backends:
                stats = time_backend(backend, batch=1, iters=args.latency_iters, warmup=20).to_dict()
                if role not in latency or stats["p50_ms"] < latency[role]["p50_ms"]:
                    latency[role] = stats
        for role, label, backend in backends:
            s = ref_score if role == "reference" else score(outputs[role], cset.labels, bundle, head, zsl_ids)
            row = {
                "role": role,
                "backend": label,
                "precision": backend.precision,
                "metadata_quantization": backend.metadata.get("quantization"),
                "seen_top1": s["seen_top1"],
                "zsl_top1": s.get("zsl_top1"),
                "seen_agree": _agree(s, ref_score, "seen_argmax"),
                "zsl_agree": _agree(s, ref_score, "zsl_argmax"),
                **compare(ref, outputs[role]),
                "p50_ms": latency[role]["p50_ms"],
                "mean_ms": latency[role]["mean_ms"],
                "latency": latency[role],
            }
            results.append(row)
            backend.close()
    except SadvaeError as e:
        print(f"int8_accuracy: error: {e}", file=sys.stderr)
        return 2
    print(_table(results))
    report = {
        "bundle": str(bundle_path),
        "model_id": model_id,
        "windows": str(args.windows) if args.windows else None,
        "split": cset.split,
        "crop": cset.crop,
        "num_windows": len(cset),
        "seen_windows": ref_score["seen_windows"],
        "zsl_kind": zsl_kind,
        "zsl_classes": [bundle.class_names[c] for c in zsl_ids],
        "zsl_windows": ref_score.get("zsl_windows", 0),
        "threads": args.threads,
        "device": args.device,
        "latency_batch": 1,
        "command": " ".join(["python", "calibration/int8_accuracy.py", *(argv or sys.argv[1:])]),
        "seconds": round(time.time() - start, 1),
        "results": results,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        log.info("wrote %s", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
