"""Probe: does a time-reversed view of a clip tell an action from its reverse better (put on / take off clothes)?

docs/live.md, "The mocap sets as selection ground too": half of NW-UCLA's near-miss starts name "put on clothes"
"take off clothes". Over the inner-validation replays of ``scripts/tune_decisions.py`` (held 1 s, recordings cached
under ``runs/head/``, made on a miss), each clip is also replayed reversed in time through the same live pipeline
(cached under ``runs/head/reversed/``). Per pair of classes (A, C) with C the reverse of A, on the clips of either,
the pairwise accuracy of the clip's window vote: forward (P(A) vs P(C)), the reversed view alone (a clip of A
reversed should read as C) and both (P_fwd(A) * P_rev(C) vs P_fwd(C) * P_rev(A)). Sit down / stand up (NW-UCLA,
UTKinect) is the other reverse pair the Kinect sets hold.

    python scripts/probe_time_reversal.py --model runs/ship_inner/default_model.pt    # ~2 min, 2-core CPU
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import tune_decisions as td  # noqa: E402

from sadvae.paths import SHARED_DATA  # noqa: E402

PAIRS = {
    "nw_ucla": [("put on clothes", "take off clothes"), ("sit down", "stand up")],
    "utkinect": [("sit down", "stand up")],
}


def reversed_clips(replay):
    """``tune_decisions.replay_clips`` with every clip played backwards (irregular timestamps mirrored too)."""

    def clips(dataset: str, data_root: Path, side: str):
        seqs, names, truth = replay(dataset, data_root, side)
        out = []
        for s in seqs:
            ts = None if s.timestamps is None else (s.timestamps[-1] - s.timestamps[::-1]).copy()
            out.append(dataclasses.replace(s, joints=s.joints[::-1].copy(), timestamps=ts))
        return out, names, truth

    return clips


def clip_votes(rec: dict, head, n_labels: int, min_window: int = 64) -> np.ndarray:
    """[clips, labels] mean label probabilities over each clip's windows of >= ``min_window`` frames (NaN if none)."""
    probs = np.asarray(head(rec["latent"], rec["seen_logits"]).probs)
    seq_of = np.searchsorted(rec["seq_start_s"], rec["end_ms"] / 1000.0, side="right") - 1
    out = np.full((len(rec["truth"]), n_labels), np.nan)
    for k in range(len(rec["truth"])):
        w = np.flatnonzero((seq_of == k) & (rec["frames"] >= min_window))
        if len(w):
            out[k] = probs[w].mean(0)
    return out


def main(argv: list[str] | None = None) -> int:
    from realtime.backends.live_model import load_live_model
    from realtime.head.labels import parse_labels_text
    from realtime.head.zero_shot import HeadBuilder, HeadOptions

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="the inner model (scripts/train_default --inner-only)")
    args = ap.parse_args(argv)
    rec_args = argparse.Namespace(
        handedness="off", every=None, mirror=False, trim_still=0.05, trim_tail=None, trim_min=None,
        side="inner-val", data_root=SHARED_DATA,
    )  # fmt: skip
    model = load_live_model(args.model, "onnxruntime")
    builder = HeadBuilder(model.bundle, HeadOptions(), model_id=model.model_id)
    forward_clips = td.replay_clips
    print("| set | pair | clips | forward | reversed view | both |\n|---|---|---|---|---|---|")
    try:
        for ds, pairs in PAIRS.items():
            fwd = td.record(ds, 1.0, args.model, rec_args, ROOT / "runs" / "head")
            td.replay_clips = reversed_clips(forward_clips)
            try:
                rev = td.record(ds, 1.0, args.model, rec_args, ROOT / "runs" / "head" / "reversed")
            finally:
                td.replay_clips = forward_clips
            names = [str(n) for n in fwd["names"]]
            head = builder.build(parse_labels_text("\n".join(names) + "\n"))
            f, r = clip_votes(fwd, head, len(names)), clip_votes(rev, head, len(names))
            for a, c in pairs:
                ia, ic = names.index(a), names.index(c)
                m = np.isin(fwd["truth"], [ia, ic]) & ~np.isnan(f[:, 0]) & ~np.isnan(r[:, 0])
                t = fwd["truth"][m]
                forward = np.where(f[m, ia] >= f[m, ic], ia, ic)
                backward = np.where(r[m, ic] >= r[m, ia], ia, ic)
                both = np.where(f[m, ia] * r[m, ic] >= f[m, ic] * r[m, ia], ia, ic)
                print(
                    f"| {ds} | {a} / {c} | {int(m.sum())} | {100 * np.mean(forward == t):.1f} % "
                    f"| {100 * np.mean(backward == t):.1f} % | {100 * np.mean(both == t):.1f} % |"
                )
    finally:
        model.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
