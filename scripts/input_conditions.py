"""Recognition under camera conditions, measured on real held-out skeletons: legs out of the frame, low frame
rates, lost frames.

Each condition changes the test sides of the default recipe's sets (real Kinect and mocap skeletons, never trained
on) the way a camera would, and the packaged model's trained head scores them (each set's own class names, clip =
mean of its windows' logits, windows cut and resampled to 30 fps as everywhere), against the recording as it is:

- ``legs_ancestor``: knees, ankles and feet unseen (the frame cut across the thighs, a webcam at a desk) and placed
  on the hips by the mapping's own rule (:func:`realtime.pose.mapping.place_unseen`);
- ``legs_standing``: a candidate fix, measured: the same joints as the legs of a person standing upright under
  their hips (:func:`standing_legs`; proportions from the training sides, :data:`STANDING_LEG_RATIOS`);
- ``waist_up``: the hips out of the frame too (a person seen from the waist up): spine base, spine mid, hips and
  legs unseen, placed by the mapping's own rule (the spine base below the spine shoulder, since 7 December 2026);
  ``waist_up_origin``: the same under the rule before it (every one of them at exactly (0, 0, 0), MediaPipe's
  mid-hip, which the normalisation reads as absent joints and no spine to turn upright; the skeletons centred on
  their mid-hip in every frame, as MediaPipe's world landmarks are); ``waist_up_hips``: a candidate, the hips
  beside the placed spine base along the shoulder line (:data:`HIP_WIDTH_RATIO` of the shoulders' width), each
  leg on its hip;
- ``fps15`` / ``fps10``: the clip as a camera running at 15 / 10 frames per second sees it (the frames nearest to
  that grid; a recording at or below the rate is unchanged: MSR Action3D and NW-UCLA are 15 fps recordings);
- ``drop30``: 30 % of the frames lost at random (a pose stage that misses a person now and then; first and last
  frame kept, seeded by the clip), the rest keeping their times;
- ``mirror``: the left-right mirror image (sides swapped, x negated): a left-handed performer of a right-handed
  recording, or a camera stream that arrives mirrored without ``--mirror``; a class that names a side is scored
  against its mirror class ("wave the left hand" is right when the mirrored clip is called "wave the right hand").

Usage::

    python scripts/input_conditions.py --json runs/conditions/conditions.json --markdown runs/conditions/conditions.md
    python scripts/input_conditions.py --conditions legs_ancestor legs_standing ...

The window features of each condition are cached like the recipe's (``runs/features/windows``); each condition
extracts the test sides once (about 40 s on 2 cores).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_out import machine_and_time, write_report  # noqa: E402

from sadvae.evaluate import softmax  # noqa: E402
from sadvae.skeleton import NUM_JOINTS  # noqa: E402
from sadvae.skeleton import NTUJoint as J  # noqa: E402

log = logging.getLogger("input_conditions")
CONDITIONS = (
    "legs_ancestor",
    "legs_standing",
    "waist_up",
    "waist_up_hips",
    "waist_up_origin",
    "fps15",
    "fps10",
    "drop30",
    "mirror",
)
HIP_WIDTH_RATIO = 0.43  # Kinect v2 hip joints' distance over the shoulders': median of the six NTU samples 0.39-0.73
# thigh, shin and foot lengths over the torso (spine base to spine shoulder): medians over the training sides of
# the default recipe's five sets (MSR Action3D 1.20 / 0.93 / 0.37, NW-UCLA 1.16 / 0.91 / 0.22, UTKinect
# 1.15 / 0.93 / 0.23, HDM05 1.03 / 1.07 / 0.35, Bandai-Namco 0.95 / 1.00 / 0.29)
STANDING_LEG_RATIOS = (1.15, 0.93, 0.29)
LEG_CHAINS = (  # hip, knee, ankle, foot; left then right
    (J.HIP_LEFT, J.KNEE_LEFT, J.ANKLE_LEFT, J.FOOT_LEFT),
    (J.HIP_RIGHT, J.KNEE_RIGHT, J.ANKLE_RIGHT, J.FOOT_RIGHT),
)


def standing_legs(joints: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unseen knees, ankles and feet ([N, 25, 3] joints, ``seen`` bool [N, 25]) as the legs of a person standing
    upright: each continues its leg from the last seen joint straight down the torso axis (spine shoulder to spine
    base), the foot forward, with :data:`STANDING_LEG_RATIOS` times the torso length. Returns ``(joints, filled)``."""
    joints = np.array(joints, dtype=np.float64, copy=True)
    filled = np.zeros(seen.shape, dtype=bool)
    axis = joints[:, J.SPINE_BASE] - joints[:, J.SPINE_SHOULDER]
    torso = np.linalg.norm(axis, axis=-1, keepdims=True)
    ok = (torso[:, 0] > 1e-6) & seen[:, [J.SPINE_BASE, J.SPINE_SHOULDER, J.HIP_LEFT, J.HIP_RIGHT]].all(axis=1)
    down = axis / np.maximum(torso, 1e-6)
    fwd = np.cross(joints[:, J.HIP_RIGHT] - joints[:, J.HIP_LEFT], down)  # right x down = forward, whichever way
    fwd /= np.maximum(np.linalg.norm(fwd, axis=-1, keepdims=True), 1e-6)
    for chain in LEG_CHAINS:
        for k, step in enumerate((down, down, fwd), start=1):
            todo = ok & ~seen[:, chain[k]]
            joints[todo, chain[k]] = joints[todo, chain[k - 1]] + (step * STANDING_LEG_RATIOS[k - 1] * torso)[todo]
            filled[todo, chain[k]] = True
    return joints.astype(np.float32), filled


def hide_legs(joints: np.ndarray, mode: str) -> np.ndarray:
    """Skeletons [..., 25, 3] as the live mapping gives them when the frame cuts across the thighs: knees, ankles
    and feet unseen, placed by ``mode`` ("ancestor": the mapping's rule; "standing": :func:`standing_legs` first).
    Absent persons (all zeros) stay zeros."""
    from realtime.pose.mapping import place_unseen

    j = np.asarray(joints, dtype=np.float32)
    flat = j.reshape(-1, NUM_JOINTS, 3)
    present = np.abs(flat).sum(axis=(1, 2)) > 0
    seen = np.ones(flat.shape[:2], dtype=bool)
    seen[:, [c for chain in LEG_CHAINS for c in chain[1:]]] = False
    if mode == "standing":
        flat, filled = standing_legs(flat, seen)
        seen |= filled
    out = place_unseen(flat, seen)
    out[~present] = 0.0
    return out.reshape(j.shape)


WAIST_DOWN = (J.SPINE_BASE, J.SPINE_MID, *(c for chain in LEG_CHAINS for c in chain))


def hide_waist_down(joints: np.ndarray, rule: str) -> np.ndarray:
    """Skeletons [..., 25, 3] as the live mapping gives them when the hips are out of the frame: the spine base and
    spine mid (derived from the hips), hips, knees, ankles and feet unseen, placed by ``rule`` ("mapping": the
    mapping's own, :func:`realtime.pose.mapping.place_unseen`; "hips": the mapping's, then the hips beside the
    spine base and the legs on them; "origin": at (0, 0, 0), the rule before 7 December 2026, on skeletons centred
    on their mid-hip in every frame as MediaPipe's world landmarks are). Absent persons (all zeros) stay zeros."""
    from realtime.pose.mapping import place_unseen

    j = np.asarray(joints, dtype=np.float32)
    flat = j.reshape(-1, NUM_JOINTS, 3)
    present = np.abs(flat).sum(axis=(1, 2)) > 0
    seen = np.ones(flat.shape[:2], dtype=bool)
    seen[:, WAIST_DOWN] = False
    if rule == "origin":  # MediaPipe's world origin is the person's mid-hip: centred there, as the mapping saw it
        out = flat - flat[:, J.SPINE_BASE : J.SPINE_BASE + 1]
        out[:, WAIST_DOWN] = 0.0
    else:
        out = place_unseen(flat, seen)
    if rule == "hips":  # a candidate: the hips beside the placed spine base, along the shoulders, the legs on them
        half = 0.5 * HIP_WIDTH_RATIO * (out[:, J.SHOULDER_LEFT] - out[:, J.SHOULDER_RIGHT])
        for chain, sign in zip(LEG_CHAINS, (1.0, -1.0), strict=True):
            out[:, list(chain)] = (out[:, J.SPINE_BASE] + sign * half)[:, None]
    out[~present] = 0.0
    return out.reshape(j.shape)


def at_rate(seq, fps: float):
    """``seq`` as a camera at ``fps`` sees it: the frames nearest to an ``fps`` grid (unchanged at or below it)."""
    t = seq.times()
    if seq.num_frames < 2 or seq.fps <= fps:
        return seq
    grid = np.arange(t[0], t[-1] + 1e-9, 1.0 / fps)
    idx = np.unique(np.abs(t[None, :] - grid[:, None]).argmin(axis=1))
    return replace(seq, joints=seq.joints[idx], timestamps=t[idx] - t[idx[0]])


def drop_frames(seq, share: float):
    """``seq`` with ``share`` of its frames lost at random (first and last kept; seeded by the clip's joints)."""
    if seq.num_frames < 3:
        return seq
    digest = hashlib.sha256(np.ascontiguousarray(seq.joints).tobytes()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    keep = rng.random(seq.num_frames) >= share
    keep[[0, -1]] = True
    t = seq.times()
    return replace(seq, joints=seq.joints[keep], timestamps=t[keep] - t[0])


def transform(seq, condition: str):
    if condition.startswith("waist_up"):
        rule = {"waist_up": "mapping", "waist_up_hips": "hips", "waist_up_origin": "origin"}[condition]
        return replace(seq, joints=hide_waist_down(seq.joints, rule))
    if condition.startswith("legs_"):
        return replace(seq, joints=hide_legs(seq.joints, condition.removeprefix("legs_")))
    if condition.startswith("fps"):
        return at_rate(seq, float(condition.removeprefix("fps")))
    if condition.startswith("drop"):
        return drop_frames(seq, int(condition.removeprefix("drop")) / 100)
    raise ValueError(f"unknown condition {condition!r}; known: {CONDITIONS}")


def under_condition(base, condition: str):
    """``base`` (a :class:`sadvae.features.ShiftGCNExtractor`) seeing each clip under ``condition``; the condition, and
    the transform's own numbers, key the cache (a changed condition is extracted again)."""
    from sadvae.train.window_features import DerivedExtractor, MirroredWindows

    extra = {"standing_leg_ratios": list(STANDING_LEG_RATIOS)} if condition == "legs_standing" else {}
    if condition in ("waist_up", "waist_up_hips"):
        from realtime.pose.mapping import UNSEEN_TORSO_M

        extra["unseen_torso_m"] = UNSEEN_TORSO_M
    if condition == "waist_up_hips":
        extra["hip_width_ratio"] = HIP_WIDTH_RATIO
    if condition == "waist_up_origin":
        extra["centred_on"] = "mid-hip"  # since the review of 7 December: the camera's origin was a harsher rule

    if condition == "mirror":
        return MirroredWindows(base)

    class UnderCondition(DerivedExtractor):
        def windows(self, seq) -> list[np.ndarray]:
            return self.base.windows(transform(seq, condition))

    return UnderCondition(base, condition=condition, condition_code=1, **extra)


def condition_clips(ds, name: str, side: str = "test") -> np.ndarray:
    """Indices of the clips of ``ds`` scored under a condition: its test side less the test clips that repeat a
    training clip (NW-UCLA's 95, :func:`sadvae.data.splits.copies_of_training`; the recipe's own test rows, the
    "full" row, leave them out since 7 December 2026), or with ``side="inner_val"`` the training side's inner
    validation."""
    from sadvae.data.splits import copies_of_training
    from sadvae.train.default_shiftgcn import inner_validation
    from sadvae.train.protocol import dataset_arrays, test_side_mask

    test = test_side_mask(ds, name)
    if side == "test":
        return np.flatnonzero(test & ~copies_of_training(ds, test))
    return np.flatnonzero(inner_validation(*dataset_arrays(ds), test))


def measure(bundle: str, conditions: tuple[str, ...] = CONDITIONS, side: str = "test") -> dict:
    """Clip top-1/top-5 per set and condition on ``side`` ("test": the test sides; "inner_val": the training sides'
    inner validation, for a model trained without it such as ``scripts/train_default --inner-only``), and with
    "mirror" among the conditions the handedness pooling of :func:`pooled`."""
    from sadvae.data.registry import DATASETS
    from sadvae.features import dataset_fingerprint
    from sadvae.head.handedness import mirror_columns
    from sadvae.train.default_shiftgcn import (
        head_logits,
        recipe_bundle,
        recipe_extractor,
        topk_metrics,
    )
    from sadvae.train.window_features import window_features

    _, cfg, table, data, head = recipe_bundle(bundle, None)
    base = recipe_extractor(cfg)
    mirror_of = mirror_columns(table.names)  # "wave the left hand" <-> "wave the right hand", else itself
    out: dict = {"bundle": bundle, "window": cfg.window, "side": side, "conditions": ["full", *conditions]}
    out["sets"], out["pooling"] = {}, {}

    for d, name in enumerate(data.datasets):
        root = Path(data.roots[name])
        own = np.unique(data.column[data.dataset == d])
        row, probs = {}, {}
        for mode in out["conditions"]:
            if mode == "full":
                r = data.rows((data.test if side == "test" else data.inner_val) & (data.dataset == d))
                feats, logits, clip, col = data.feats[r], data.ntu_logits[r], data.clip[r], data.column[r]
            else:
                wf = window_features(
                    under_condition(base, mode),
                    name,
                    lambda r=root, name=name: DATASETS[name].loader(r),
                    dataset_fingerprint(root, name),
                    select=lambda ds, name=name: condition_clips(ds, name, side),
                    cache_dir=cfg.feature_dir,
                )
                cols = np.asarray(table.columns(name, wf.class_names))
                keep = wf.labels[wf.owner] >= 0
                feats, logits, clip = wf.feats[keep], wf.logits[keep], wf.owner[keep]
                col = cols[wf.labels[clip]]
            lg = head_logits(head, feats, logits)
            ids, pos = np.unique(clip, return_inverse=True)  # clips in reader order under every condition
            clip_lg = np.zeros((len(ids), lg.shape[1]))
            np.add.at(clip_lg, pos, lg)
            clip_lg /= np.bincount(pos)[:, None]
            truth = np.zeros(len(ids), np.int64)
            truth[pos] = col
            if mode == "mirror":  # the mirror image of "wave the left hand" is "wave the right hand"
                truth = mirror_of[truth]
            row[mode] = topk_metrics(clip_lg, truth, own)
            probs[mode] = (softmax(clip_lg), truth)
            log.info("%s %s: clip top-1 %.1f %%", name, mode, 100 * row[mode]["top1"])
        out["sets"][name] = row
        if "mirror" in probs:
            out["pooling"][name] = pooled(probs["full"], probs["mirror"], mirror_of, own, topk_metrics)
    return out


def _confident(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per clip, the view (``p`` or ``q``) whose most probable class is the more probable."""
    return np.where((p.max(axis=1) >= q.max(axis=1))[:, None], p, q)


def pooled(full, mirror, mirror_of: np.ndarray, own: np.ndarray, metrics) -> dict:
    """Handedness pooling: a clip's probability of each class averaged with (``mean``) or the larger of (``max``)
    its mirror image's probability of the mirror class, scored on the clips as recorded and on their mirror images
    (a left-handed performer); ``confident`` takes the view whose best class is the more probable. ``none`` is the
    model as it is. ``full`` / ``mirror``: (clip probabilities, truth)."""
    (p0, t0), (p1, t1) = full, mirror
    if len(p0) != len(p1):
        raise ValueError(f"{len(p0)} clips as recorded but {len(p1)} mirrored")
    p0m, p1m = p0[:, mirror_of], p1[:, mirror_of]
    rules = {
        "none": (p0, p1),
        "mean": ((p0 + p1m) / 2, (p1 + p0m) / 2),
        "max": (np.maximum(p0, p1m), np.maximum(p1, p0m)),
        "confident": (_confident(p0, p1m), _confident(p1, p0m)),
    }
    return {k: {"as_recorded": metrics(a, t0, own), "mirrored": metrics(b, t1, own)} for k, (a, b) in rules.items()}


def render(res: dict, command: str, machine: str, when: str) -> str:
    conds = res["conditions"]
    lines = [
        "# Recognition under camera conditions",
        "",
        f"`{command}` on {machine}, {when}. Model: `{res['bundle']}` (window {res['window']}).",
        f"Clips: each set's {'test side' if res['side'] == 'test' else 'inner validation'}; the model's trained head",
        "over the set's own class names, clip = mean of its windows' logits; top-1 / top-5 (%).",
        "",
        "| set | clips | " + " | ".join(conds) + " |",
        "|---|---|" + "---|" * len(conds),
    ]
    for name, row in res["sets"].items():
        cells = " | ".join(f"{100 * row[m]['top1']:.1f} / {100 * row[m]['top5']:.1f}" for m in conds)
        lines.append(f"| {name} | {row['full']['n']} | {cells} |")
    mean = {m: np.mean([row[m]["top1"] for row in res["sets"].values()]) for m in conds}
    lines.append("| mean top-1 | | " + " | ".join(f"{100 * mean[m]:.1f}" for m in conds) + " |")
    if res.get("pooling"):
        rules = ("none", "mean", "max", "confident")
        lines += [
            "",
            "Handedness pooling (a clip's class probabilities with its mirror image's probabilities of the mirror",
            "classes): top-1 on the clips as recorded / mirrored (a left-handed performer).",
            "",
            "| set | " + " | ".join(rules) + " |",
            "|---|" + "---|" * len(rules),
        ]
        for name, pr in res["pooling"].items():
            cells = " | ".join(
                f"{100 * pr[k]['as_recorded']['top1']:.1f} / {100 * pr[k]['mirrored']['top1']:.1f}" for k in rules
            )
            lines.append(f"| {name} | {cells} |")
        avg = {
            k: [np.mean([pr[k][c]["top1"] for pr in res["pooling"].values()]) for c in ("as_recorded", "mirrored")]
            for k in rules
        }
        lines.append("| mean | " + " | ".join(f"{100 * avg[k][0]:.1f} / {100 * avg[k][1]:.1f}" for k in rules) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--model", default="sadvae/assets/default_model.pt", help="a shiftgcn-v2 bundle")
    ap.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    ap.add_argument(
        "--side",
        choices=("test", "inner_val"),
        default="test",
        help="clips scored: the test sides (default) or the training sides' inner validation (for a model trained "
        "without it, scripts/train_default --inner-only: where a rule is chosen)",
    )
    ap.add_argument("--json", type=Path)
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from sadvae.errors import SadvaeError

    try:
        res = measure(args.model, tuple(args.conditions), args.side)
    except SadvaeError as e:  # a bundle of another recipe, missing data or weights: its own one-line message
        print(f"input_conditions: {e}", file=sys.stderr)
        return 2
    machine, when = machine_and_time()
    cmd = "python scripts/input_conditions.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_report(res, render(res, cmd.strip(), machine, when), args.json, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
