"""Probe: why does the live decision leave undecided a clip whose window vote is right?

``scripts/tune_decisions.py`` counts such clips (its ``why_missed``); this lists them for one set and hold, with
what holds each back, window by window at the decision defaults' minimum window: the truth's probability among the
listed labels, the head's P(one of the listed actions) ("no action" below its threshold), their product (the score
a start needs 0.6 of, twice) and the trained columns the backbone's softmax puts most mass on. Same
inner-validation recordings as the tuning (cached under ``runs/head/``, made on a miss), full label list.

    python scripts/probe_undecided.py --model runs/ship_inner/default_model.pt --dataset hdm05 --hold 1   # ~20 s
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import tune_decisions as td  # noqa: E402

from sadvae.paths import SHARED_DATA  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, required=True, help="the inner model the tuning reads")
    ap.add_argument("--dataset", choices=(*td.DATASETS, *td.MOCAP), required=True)
    ap.add_argument("--hold", type=float, default=1.0, help="seconds of still pose around each clip (0 or 1)")
    ap.add_argument("--min-window", type=int, default=64, help="the defaults' minimum window (frames)")
    ap.add_argument("--columns", type=int, default=3, help="trained columns listed per window")
    args = ap.parse_args(argv)

    from realtime.backends.live_model import load_live_model
    from realtime.decisions import DecisionOptions
    from realtime.head.labels import parse_labels_text
    from realtime.head.zero_shot import HeadBuilder, HeadOptions
    from sadvae.data.motion import StillTrim

    rec_args = argparse.Namespace(
        handedness="off", every=None, mirror=False, trim_still=StillTrim().threshold_m, trim_tail=None,
        trim_min=None, side="inner-val", data_root=SHARED_DATA,
    )  # fmt: skip
    model = load_live_model(args.model, "onnxruntime")
    try:
        builder = HeadBuilder(model.bundle, HeadOptions(handedness="off"), model_id=model.model_id)
        rec = td.record(args.dataset, args.hold, args.model, rec_args, ROOT / "runs" / "head")
        names = [str(n) for n in rec["names"]]
        r = builder.build(parse_labels_text("\n".join(names) + "\n"))(rec["latent"], rec["seen_logits"])
        columns = model.bundle.seen_names
        temperature = builder.calibration.seen_temperature
    finally:
        model.close()
    probs, scores, p_action = np.asarray(r.probs), np.asarray(r.scores), np.asarray(r.p_action)
    sim = td.simulate(rec, names, probs, scores, DecisionOptions(), args.min_window)
    truth = np.array([names[t] for t in rec["truth"]], dtype=object)
    undecided = np.flatnonzero((sim["vote"] == truth) & (sim["live"] == ""))
    keep = np.flatnonzero(rec["frames"] >= args.min_window)
    seq_of = np.searchsorted(rec["seq_start_s"], rec["end_ms"] / 1000.0, side="right") - 1
    print(f"{args.dataset}, {args.hold:g} s held: {len(undecided)} clips the vote gets right and live leaves undecided")
    for k in undecided:
        t = int(rec["truth"][k])
        print(f"\nclip {k}: {names[t]}")
        for w in keep[seq_of[keep] == k]:
            z = rec["seen_logits"][w] / temperature
            p = np.exp(z - z.max())
            p /= p.sum()
            top = ", ".join(f"{columns[c]} {p[c]:.2f}" for c in np.argsort(-p)[: args.columns])
            print(
                f"  window to {rec['end_ms'][w] / 1000:6.1f} s: P(truth | listed) {probs[w, t]:.2f}, "
                f"P(action) {p_action[w]:.2f}, score {scores[w, t]:.2f}; trained columns: {top}"
            )
    return 0


if __name__ == "__main__":
    from sadvae.errors import SadvaeError

    try:
        raise SystemExit(main())
    except SadvaeError as e:  # a missing model or data: one line, not a traceback
        raise SystemExit(f"probe_undecided: error: {e}") from None
