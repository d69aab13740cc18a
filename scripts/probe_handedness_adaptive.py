"""Per-track handedness on the decision-tuning replays: a measurement for docs/head.md section 6.

``--handedness pool`` scores every window with its mirror image (averaged). The rule measured here instead keeps one
view per track: after each window, the view (as recorded, or mirrored and read through the mirror labels) whose
evidence summed over the track's windows so far is larger (sum of log p_action: how sure the head is that a listed
action is happening) scores that window; ties and the first windows go to the recording. A right-handed performer
should keep the recording and a left-handed one switch to the mirror image, without pooling's smoothing.

Reads the recordings of ``scripts/tune_decisions.py --handedness pool [--mirror]`` (the inner model's windows and
their mirror images, cached under runs/head) and scores them with tune_decisions's own evaluation, at the current
decision defaults and over its grid::

    python scripts/probe_handedness_adaptive.py --model runs/margin/inner/default_model.pt \
        --json runs/margin/adaptive.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _tune():
    spec = importlib.util.spec_from_file_location("tune_decisions", ROOT / "scripts" / "tune_decisions.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def adaptive(core, rec: dict) -> tuple[np.ndarray, np.ndarray]:
    """(probs, scores) [N, L] of each window from the view its track's evidence so far prefers."""
    r_o = core(rec["latent"], rec["seen_logits"])
    r_m = core(rec["mirror_latent"], rec["mirror_seen_logits"], mirrored=True)
    lo = np.log(np.maximum(r_o.p_action, 1e-9)) - np.log(np.maximum(r_m.p_action, 1e-9))
    use_m = np.zeros(len(lo), dtype=bool)
    for tid in np.unique(rec["track"]):
        idx = np.flatnonzero(rec["track"] == tid)
        idx = idx[np.argsort(rec["end_ms"][idx], kind="stable")]
        use_m[idx] = np.cumsum(lo[idx]) < 0
    probs = np.where(use_m[:, None], r_m.probs, r_o.probs)
    scores = np.where(use_m[:, None], r_m.scores, r_o.scores)
    return probs, scores


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--halves", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    td = _tune()
    from realtime.backends.live_model import load_live_model
    from realtime.decisions import DecisionOptions
    from realtime.head.labels import parse_labels_text
    from realtime.head.zero_shot import HeadBuilder, HeadOptions
    from realtime.pipeline import MIN_WINDOW_FRAMES

    model = load_live_model(args.model, "onnxruntime")
    builder = HeadBuilder(model.bundle, HeadOptions(handedness="off"), model_id=model.model_id)
    window = int(model.preprocess.window)
    model.close()
    report = {}
    for mirror in (False, True):
        rargs = argparse.Namespace(
            handedness="pool", every=None, mirror=mirror, side="inner-val", data_root=td.SHARED_DATA
        )
        recs = {
            (d, h): td.record(d, h, args.model, rargs, ROOT / "runs" / "head") for d in td.DATASETS for h in (0.0, 1.0)
        }
        for rule in ("off", "pool", "adaptive"):
            scored = {}
            for key, rec in recs.items():
                names = [str(n) for n in rec["names"]]
                rng = np.random.default_rng(0)
                lists = [names] + [
                    sorted(rng.choice(names, size=max(2, len(names) // 2), replace=False).tolist())
                    for _ in range(args.halves)
                ]
                out = []
                for listed in lists:
                    opts = HeadOptions(handedness="pool" if rule == "pool" else "off")
                    head = HeadBuilder(model.bundle, opts, model_id=model.model_id).build(
                        parse_labels_text("\n".join(listed) + "\n")
                    )
                    if rule == "adaptive":
                        p, s = adaptive(head.core, rec)
                    else:
                        r = head(rec["latent"], rec["seen_logits"], td._mirror(rec) if rule == "pool" else None)
                        p, s = np.asarray(r.probs), np.asarray(r.scores)
                    out.append({"names": listed, "probs": p, "scores": s})
                scored[key] = out
            res = td.evaluate(recs, scored, DecisionOptions(), min(MIN_WINDOW_FRAMES, window))
            live, false, _ = td.summary(res)
            vote = float(np.mean([v["vote"] for v in res.values()]))
            name = f"{'left' if mirror else 'right'}-handed, {rule}"
            report[name] = {"live": live, "vote": vote, "false": false, "rows": res}
            print(f"{name:28s} live {100 * live:.1f}  vote {100 * vote:.1f}  false starts / min {false:.2f}")
    del builder
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
