"""Measure the gap between MediaPipe skeletons and the Kinect skeletons the models learned from.

On the paired NTU A001 clip (``S001C001P001R001A001_rgb.avi``, 103 frames, and its own Kinect v2
``.skeleton``; the frame-by-frame pairing and the mirror flip are those of ``scripts/check_mapping.py``):

1. **Geometry**, per joint and per axis of the body frame: where the MediaPipe-built NTU-25 joint lies
   relative to Kinect's joint centre, bone-length ratios, and frame-to-frame jitter (see
   :func:`body_offsets`, :func:`bone_ratios`, :func:`jitter`).
2. **Recognition**: the top-5 of the NTU-pretrained Shift-GCN (NTU-120 x-sub, official normalisation)
   and of the packaged default model for the Kinect skeleton, the MediaPipe skeleton through the live
   mapping (with and without the mapping corrections), and joint-group swaps (Kinect body with
   MediaPipe's arms, hands, ...).
3. **Held-out check of the corrections**: :data:`realtime.pose.mapping.CAMERA_CORRECTION` was fitted on
   this clip (all frames); here it is refitted on each half of the frames and scored on the other.

Usage (from the project root; landmarks are cached under runs/landmarks)::

    python scripts/camera_gap.py --markdown docs/camera_gap.md --json runs/camera_gap.json
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_mapping import DEFAULT_SKELETON, DEFAULT_VIDEO, kinect_tracking_state, umeyama  # noqa: E402
from pose_cache import video_landmarks  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("camera_gap")

# joints the per-frame alignment is fitted on: the trunk, head and legs (never the arms, whose gap we measure)
ANCHORS = (0, 1, 2, 3, 12, 13, 16, 17, 20)
GROUPS: dict[str, tuple[int, ...]] = {
    "head_spine": (0, 1, 2, 3, 20),
    "shoulders": (4, 8),
    "elbows_wrists": (5, 6, 9, 10),
    "arms": (4, 5, 6, 8, 9, 10),
    "hands": (7, 11, 21, 22, 23, 24),
    "arms_hands": (4, 5, 6, 7, 8, 9, 10, 11, 21, 22, 23, 24),
    "legs": (12, 13, 14, 15, 16, 17, 18, 19),
}
BONES = tuple(
    (j, p)
    for j, p in enumerate((1, 20, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, -1, 7, 6, 11, 10))
    if p >= 0
)
AXES = ("right", "up", "forward")


def mapped_joints(lm: dict[str, np.ndarray], correction: Any = None, min_score: float = 0.5) -> np.ndarray:
    """The live mapping of cached landmarks: float32 [T, 25, 3] (NTU axes, hip-centred; NaN where no pose)."""
    from realtime.pose.mapping import mediapipe_to_ntu25

    world, pres = lm["world"], lm["presence"]
    out = np.full(world.shape[:1] + (25, 3), np.nan, np.float32)
    ok = lm["found"]
    if ok.any():
        out[ok] = mediapipe_to_ntu25(world[ok], pres[ok], min_score, correction=correction)[0]
    return out


def body_frame(joints: np.ndarray) -> np.ndarray:
    """[..., 3, 3] rows = right, up, forward unit vectors (:func:`realtime.pose.mapping.body_frame`, the frame the
    mapping corrections use)."""
    from realtime.pose.mapping import body_frame as frame

    return frame(joints)[0]


def align_to(src: np.ndarray, dst: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, float]:
    """``src`` [25, 3] moved onto ``dst`` by the similarity fitted on the anchors; returns (moved, scale)."""
    w = np.zeros(25)
    w[list(ANCHORS)] = 1.0
    w = w * weights
    if (w > 0).sum() < 4:
        w = np.zeros(25)
        w[list(ANCHORS)] = 1.0
    s, r, t = umeyama(src.astype(np.float64), dst.astype(np.float64), w)
    return (s * src @ r.T + t).astype(np.float32), s


def body_offsets(mp: np.ndarray, kin: np.ndarray, tracked: np.ndarray) -> dict[str, np.ndarray]:
    """Where Kinect's joint centre lies relative to the MediaPipe joint, in MediaPipe's body frame and scale.

    Per frame, Kinect is aligned onto MediaPipe by a similarity fitted on :data:`ANCHORS` (tracked ones),
    then ``kinect - mediapipe`` is expressed in MediaPipe's body frame (:func:`body_frame`). This is the
    correction the mapping would have to add.

    Returns:
        ``offset`` [T, 25, 3] metres (right, up, forward; NaN for frames without a pose), ``valid`` [T, 25]
        (Kinect tracked the joint), ``scale`` [T] (Kinect -> MediaPipe size factor).
    """
    t_all = len(mp)
    off = np.full((t_all, 25, 3), np.nan, np.float32)
    scale = np.full(t_all, np.nan)
    for t in range(t_all):
        if not np.isfinite(mp[t]).all():
            continue
        k, scale[t] = align_to(kin[t], mp[t], tracked[t].astype(np.float64))
        off[t] = (k - mp[t]) @ body_frame(mp[t]).T
    return {"offset": off, "valid": tracked & np.isfinite(off).all(-1), "scale": scale}


def offset_table(off: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Per joint: median and p90 of |offset| and the median per axis, cm, over Kinect-tracked frames."""
    from sadvae.skeleton import JOINT_NAMES

    rows = []
    for j, name in enumerate(JOINT_NAMES):
        v = off["offset"][off["valid"][:, j], j] * 100.0
        row: dict[str, Any] = {"joint": j + 1, "name": name, "n": int(len(v))}
        if len(v):
            n = np.linalg.norm(v, axis=-1)
            row.update(norm_median=float(np.median(n)), norm_p90=float(np.percentile(n, 90)))
            for a, ax in enumerate(AXES):
                q25, q50, q75 = np.percentile(v[:, a], [25, 50, 75])
                row[ax] = {"median": float(q50), "iqr": float(q75 - q25)}
        rows.append(row)
    return rows


def bone_ratios(mp: np.ndarray, kin: np.ndarray, tracked: np.ndarray) -> list[dict[str, Any]]:
    """Per bone: median length MediaPipe / Kinect (both tracked ends), raw and relative to the torso ratio."""
    from sadvae.skeleton import JOINT_NAMES

    ok = np.isfinite(mp).all((-1, -2))
    torso = np.linalg.norm(mp[ok, 20] - mp[ok, 0], axis=-1) / np.linalg.norm(kin[ok, 20] - kin[ok, 0], axis=-1)
    rows = []
    for j, p in BONES:
        m = ok & tracked[:, j] & tracked[:, p]
        if m.sum() < 3:
            continue
        lm_ = np.linalg.norm(mp[m, j] - mp[m, p], axis=-1)
        lk = np.linalg.norm(kin[m, j] - kin[m, p], axis=-1)
        ratio = lm_ / np.maximum(lk, 1e-6)
        r = float(np.median(ratio))
        rows.append(
            {
                "bone": f"{JOINT_NAMES[p]}-{JOINT_NAMES[j]}",
                "n": int(m.sum()),
                "kinect_cm": float(100 * np.median(lk)),
                "mediapipe_cm": float(100 * np.median(lm_)),
                "ratio": r,
                "ratio_over_torso": r / float(np.median(torso)),
            }
        )
    return rows


def jitter(joints: np.ndarray) -> np.ndarray:
    """[25] median frame-to-frame acceleration |x[t+1] - 2 x[t] + x[t-1]| in cm, in the body frame, torso-normalised
    to 0.5 m so that both skeletons are on one scale (NaN frames skipped)."""
    ok = np.isfinite(joints).all((-1, -2))
    x = joints - joints[:, :1]
    x = np.einsum("tjc,tkc->tjk", x, np.nan_to_num(body_frame(joints)))
    torso = np.linalg.norm(joints[:, 20] - joints[:, 0], axis=-1)
    x = x / torso[:, None, None] * 0.5
    acc = x[2:] - 2 * x[1:-1] + x[:-2]
    good = ok[2:] & ok[1:-1] & ok[:-2]
    return 100.0 * np.median(np.linalg.norm(acc[good], axis=-1), axis=0)


# ----------------------------------------------------------------------------------------------- recognition
TARGET_NTU = "drink water"


class ShiftGCNRecogniser:
    """The released NTU-120 x-sub Shift-GCN with the official NTU normalisation (H1's ``sadvae.models.pretrained``).

    Two protocols: ``clip`` = the whole clip in one 300-frame window (the official test protocol), ``live`` =
    2.1 s windows (T = 64 at 30 fps) every 8 frames, the softmax averaged over the windows.
    """

    name = "Shift-GCN NTU-120 x-sub"

    def __init__(self, checkpoint: str = "ntu120_xsub") -> None:
        import torch

        from sadvae.models.pretrained import load_pretrained_shiftgcn, ntu_class_names

        torch.set_num_threads(1)
        self.model = load_pretrained_shiftgcn(checkpoint, cache_empty_slot=True)
        self.names = tuple(n.rstrip(".") for n in ntu_class_names(120))

    def probs(self, joints: np.ndarray, fps: float, protocol: str) -> np.ndarray:
        """Softmax [120] of the clip (mean over live windows); the mean pooled feature goes to ``self.feature``."""
        import torch

        from sadvae.data.preprocess import PreprocessConfig, preprocess

        seq = joints[:, None]  # (T, 1, 25, 3)
        times = np.arange(len(seq)) / fps
        if protocol == "clip":
            wins = [preprocess(seq, times, PreprocessConfig(window=300, fps=30.0, persons=2, normalization="ntu"))]
        else:
            cfg = PreprocessConfig(window=64, fps=30.0, persons=2, normalization="ntu")
            n = len(seq)
            starts = range(0, max(1, n - 64 + 1), 8)
            wins = [preprocess(seq[s : s + 64], times[s : s + 64], cfg) for s in starts]
        with torch.no_grad():
            feats = self.model.forward_features(torch.from_numpy(np.stack(wins)))
            p = torch.softmax(self.model.fc(feats), -1).numpy()
        self.feature = feats.numpy().mean(0)
        return p.mean(0)


class DefaultModelRecogniser:
    """The packaged default model (ONNX Runtime, its own preprocessing and 2.1 s windows every 8 frames at 15 fps).

    Scores: its 33 trained classes (``seen``; "drink water" is not among them), and the live head with the
    NTU-60 class names as the label file (``ntu60``: zero-shot over 60 labels, what a user who types the NTU
    names gets), the probabilities averaged over the windows.
    """

    name = "default model (packaged)"

    def __init__(self) -> None:
        from realtime.backends import BackendOptions
        from realtime.backends.live_model import load_live_model

        self.model = load_live_model(None, "onnxruntime", options=BackendOptions(threads=1))
        info = self.model.bundle
        self.seen_names = tuple(info.class_names[c] for c in info.seen_classes)
        self.head = None
        self.head_error = ""
        self.ntu_names: tuple[str, ...] = ()
        try:
            from realtime.head.labels import parse_labels_text
            from realtime.head.zero_shot import HeadBuilder
            from sadvae.models.pretrained import ntu_class_names

            self.ntu_names = tuple(n.rstrip(".") for n in ntu_class_names(60))
            self.head = HeadBuilder(info).build(parse_labels_text("\n".join(self.ntu_names)))
        except Exception as e:  # noqa: BLE001 - the head is optional for this report; say why it is missing
            self.head_error = f"{type(e).__name__}: {e}"
            log.warning("default model: no zero-shot head over the NTU-60 names (%s)", self.head_error)

    def outputs(self, joints: np.ndarray, fps: float) -> dict[str, np.ndarray]:
        from sadvae.data.preprocess import preprocess

        pre = self.model.preprocess
        seq = joints[:, None]
        times = np.arange(len(seq)) / fps
        span = int(round(pre.duration_s * fps))
        starts = range(0, max(1, len(seq) - span + 1), 8)
        wins = np.stack([preprocess(seq[s : s + span], times[s : s + span], pre, crop="end") for s in starts])
        out = self.model.backend.run(np.ascontiguousarray(wins, dtype=np.float32))
        z = out["seen_logits"] - out["seen_logits"].max(-1, keepdims=True)
        seen = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
        res = {"seen": seen.mean(0), "latent": out["latent"].mean(0)}
        if self.head is not None:
            res["ntu60"] = np.asarray(self.head(out["latent"], out["seen_logits"]).probs).mean(0)
        return res


def agreement(p: np.ndarray, f: np.ndarray, p_ref: np.ndarray, f_ref: np.ndarray) -> dict[str, float]:
    """How close a recogniser's view of an input is to its view of the Kinect skeleton: total variation distance
    of the class probabilities (0 same, 1 disjoint) and cosine similarity of the pooled features / latents."""
    cos = float(f @ f_ref / max(1e-12, float(np.linalg.norm(f) * np.linalg.norm(f_ref))))
    return {"tv": float(0.5 * np.abs(p - p_ref).sum()), "cos": cos}


def top_k(p: np.ndarray, names: tuple[str, ...], target: str | None = None, k: int = 5) -> dict[str, Any]:
    """Top-k (name, probability) and the target's probability and rank (1 = best)."""
    order = np.argsort(-p)
    out: dict[str, Any] = {"top": [(names[i], round(float(p[i]), 3)) for i in order[:k]]}
    if target is not None and target in names:
        i = names.index(target)
        out.update(target_p=float(p[i]), target_rank=int((p > p[i]).sum()) + 1)
    return out


def aligned_to_kinect(mp: np.ndarray, kin: np.ndarray, tracked: np.ndarray) -> np.ndarray:
    """MediaPipe joints moved onto Kinect's per frame (similarity on :data:`ANCHORS`), for joint-group swaps."""
    return np.stack([align_to(mp[t], kin[t], tracked[t].astype(np.float64))[0] for t in range(len(mp))])


def fill_missing(j: np.ndarray) -> np.ndarray:
    """Frames without a pose take the previous pose (the first found one at the start), as a live buffer holds."""
    j = j.copy()
    ok = np.isfinite(j).all((-1, -2))
    if not ok.any():
        raise SystemExit("no pose in any frame")
    last = j[int(np.argmax(ok))]
    for t in range(len(j)):
        if ok[t]:
            last = j[t]
        else:
            j[t] = last
    return j


# ----------------------------------------------------------------------------------------------- the report
ARMS = (4, 5, 6, 8, 9, 10)


def error_3d(joints: np.ndarray, kin: np.ndarray, tracked: np.ndarray) -> dict[str, float]:
    """Median 3D error (cm) after a per-frame similarity fitted on Kinect's tracked joints (as check_mapping)."""
    from check_mapping import BODY

    e = np.full(tracked.shape, np.nan)
    for t in range(len(joints)):
        if not np.isfinite(joints[t]).all():
            continue
        w = tracked[t].astype(np.float64)
        s, r, tr = umeyama(joints[t].astype(np.float64), kin[t].astype(np.float64), w if w.sum() >= 4 else np.ones(25))
        e[t] = 100 * np.linalg.norm(s * joints[t] @ r.T + tr - kin[t], axis=-1)
    body, arms = np.zeros(25, bool), np.zeros(25, bool)
    body[list(BODY)], arms[list(ARMS)] = True, True
    ok = tracked & np.isfinite(e)
    return {k: float(np.median(e[ok & m])) for k, m in (("all", ok), ("body", body[None]), ("arms", arms[None]))}


def fit_symmetric(off: dict[str, np.ndarray], left: int, right: int, frames: np.ndarray) -> tuple[float, float, float]:
    """One (medial, up, forward) offset for a left/right joint pair: median over both sides' tracked frames, the
    right side's "right" axis negated so that + is towards the body's midline on both sides. Returned as the
    left joint's (right, up, forward) offset; the right joint's is the same with the first component negated."""
    a = off["offset"][off["valid"][:, left] & frames, left]
    b = off["offset"][off["valid"][:, right] & frames, right] * np.array([-1.0, 1.0, 1.0])
    med = np.median(np.concatenate([a, b]), axis=0)
    return tuple(round(float(v), 3) for v in med)  # type: ignore[return-value]


def symmetric_correction(name: str, pairs: dict[tuple[int, int], tuple[float, float, float]]) -> Any:
    from realtime.pose.mapping import MappingCorrection

    entries = []
    for (lj, rj), (m, u, f) in pairs.items():
        entries += [(lj, (m, u, f)), (rj, (-m, u, f))]
    return MappingCorrection(name, tuple(entries), "fitted by scripts/camera_gap.py")


def run_gap(
    video: Path = DEFAULT_VIDEO, skeleton: Path = DEFAULT_SKELETON, default_model: bool = True
) -> dict[str, Any]:
    """Every number of ``docs/camera_gap.md`` as a JSON-ready dict."""
    from realtime.pose.mapping import CORRECTIONS, image_xy_world, mediapipe_to_ntu25
    from sadvae.data.ntu import read_ntu_skeleton
    from sadvae.skeleton import JOINT_NAMES

    lm = video_landmarks(video, mirror=True)
    kin = read_ntu_skeleton(skeleton, max_persons=1).joints[:, 0]
    tracked = kinect_tracking_state(skeleton) == 2
    if len(kin) != len(lm["found"]):
        raise SystemExit(f"{video} has {len(lm['found'])} frames but {skeleton} has {len(kin)}")
    fps = 30.0  # NTU: 30 fps, colour and skeleton frames paired one to one
    w, h = (int(v) for v in lm["frame_size"])
    img = lm["image"].copy()
    img[..., 0] = 1.0 - img[..., 0]  # the frame was flipped before estimation (mirror=True)
    world_img = image_xy_world(lm["world"], img * np.array([w, h], np.float32))

    def mapped(world: np.ndarray, corr: Any = None) -> np.ndarray:
        out = np.full((len(world), 25, 3), np.nan, np.float32)
        ok = lm["found"]
        out[ok] = mediapipe_to_ntu25(world[ok], lm["presence"][ok], 0.5, correction=corr)[0]
        return out

    mp_world, mp_image = mapped(lm["world"]), mapped(world_img)
    off_world = body_offsets(mp_world, kin, tracked)
    off_image = body_offsets(mp_image, kin, tracked)
    first = np.arange(len(kin)) < len(kin) // 2

    # corrections: the shipped symmetric shoulder offsets, and how a fit on one half does on the other half
    fits: dict[str, Any] = {}
    for split, frames in (("all", np.ones(len(kin), bool)), ("first_half", first), ("second_half", ~first)):
        fits[split] = {
            "shoulders": fit_symmetric(off_image, 4, 8, frames),
            "hips": fit_symmetric(off_image, 12, 16, frames),
        }
    held_out = {}
    for fit_on, test in (("first_half", ~first), ("second_half", first)):
        corr = symmetric_correction(f"shoulders-{fit_on}", {(4, 8): fits[fit_on]["shoulders"]})
        after = body_offsets(mapped(world_img, corr), kin, tracked)
        row = {}
        for j in (4, 8):
            m = test & off_image["valid"][:, j]
            row[JOINT_NAMES[j]] = {
                "before_cm": float(100 * np.median(np.linalg.norm(off_image["offset"][m, j], axis=-1))),
                "after_cm": float(100 * np.median(np.linalg.norm(after["offset"][m, j], axis=-1))),
            }
        held_out[f"fit {fit_on}, test {'second' if fit_on == 'first_half' else 'first'} half"] = row

    inputs: dict[str, np.ndarray] = {
        "Kinect v2 skeleton": kin,
        "MediaPipe, world x/y (mapping before issue 13)": fill_missing(mp_world),
        "MediaPipe, image x/y (live default now)": fill_missing(mp_image),
    }
    for name, corr in CORRECTIONS.items():
        if corr is not None:
            inputs[f"MediaPipe, image x/y + correction `{name}`"] = fill_missing(mapped(world_img, corr))
    for zs in (0.75, 1.25):  # sensitivity only: never used to choose a setting
        wz = world_img.copy()
        wz[..., 2] *= zs
        inputs[f"sensitivity: image x/y, depth x{zs}"] = fill_missing(mapped(wz))
    al = fill_missing(aligned_to_kinect(mp_image, kin, tracked))
    for g, idx in GROUPS.items():
        x = kin.copy()
        x[:, list(idx)] = al[:, list(idx)]
        inputs[f"swap: Kinect with MediaPipe {g}"] = x
    for g, idx in GROUPS.items():
        x = al.copy()
        x[:, list(idx)] = kin[:, list(idx)]
        inputs[f"swap: MediaPipe with Kinect {g}"] = x

    sgcn = ShiftGCNRecogniser()
    dm = DefaultModelRecogniser() if default_model else None
    recog = []
    ref: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, joints in inputs.items():
        row: dict[str, Any] = {"input": name}
        for proto in ("clip", "live"):
            p = sgcn.probs(joints, fps, proto)
            ref.setdefault(proto, (p, sgcn.feature))
            row[f"shiftgcn_{proto}"] = top_k(p, sgcn.names, TARGET_NTU)
            row[f"shiftgcn_{proto}"]["vs_kinect"] = agreement(p, sgcn.feature, *ref[proto])
        if dm is not None:
            out = dm.outputs(joints, fps)
            ref.setdefault("default", (out["seen"], out["latent"]))
            row["default_seen"] = top_k(out["seen"], dm.seen_names)
            row["default_seen"]["vs_kinect"] = agreement(out["seen"], out["latent"], *ref["default"])
            if "ntu60" in out:
                row["default_ntu60"] = top_k(out["ntu60"], dm.ntu_names, TARGET_NTU)
        recog.append(row)
        log.info("%s: Shift-GCN %s", name, row["shiftgcn_clip"]["top"][:2])

    return {
        "video": video.name,
        "skeleton": skeleton.name,
        "frames": len(kin),
        "frames_with_pose": int(lm["found"].sum()),
        "offsets_world": offset_table(off_world),
        "offsets_image": offset_table(off_image),
        "alignment_scale_median": float(np.nanmedian(off_image["scale"])),
        "bones_world": bone_ratios(mp_world, kin, tracked),
        "bones_image": bone_ratios(mp_image, kin, tracked),
        "jitter_cm": {
            "kinect": jitter(kin).tolist(),
            "mediapipe_world": jitter(mp_world).tolist(),
            "mediapipe_image": jitter(mp_image).tolist(),
        },
        "error_3d_cm": {"world": error_3d(mp_world, kin, tracked), "image": error_3d(mp_image, kin, tracked)},
        "correction_fits": fits,
        "correction_held_out": held_out,
        "corrections_shipped": {
            k: (v.table()[[4, 8, 12, 16]].round(3).tolist() if v else None) for k, v in CORRECTIONS.items()
        },
        "recognition": recog,
        "default_model_head_error": dm.head_error if dm else "not run",
    }


def _cell(r: dict[str, Any] | None, with_target: bool = True) -> str:
    if not r:
        return "-"
    top = f"{r['top'][0][0]} {r['top'][0][1]:.2f}"
    if with_target and "target_rank" in r:
        top = f"{r['target_p']:.2f} (#{r['target_rank']}); top: {top}"
    if "vs_kinect" in r:
        top += f"; TV {r['vs_kinect']['tv']:.2f}, cos {r['vs_kinect']['cos']:.2f}"
    return top


def render_markdown(res: dict[str, Any], command: str, machine: str, when: str) -> str:
    """``docs/camera_gap.md``."""
    from sadvae.skeleton import JOINT_NAMES

    lines = [
        "# The camera gap: MediaPipe skeletons against the Kinect skeletons models learn from",
        "",
        "Generated by",
        "",
        f"```\n{command}\n```",
        "",
        f"on {machine}, {when}. Pose landmarks are cached under `runs/landmarks/` (delete to recompute).",
        "",
        f"**Data.** `{res['video']}` and its own Kinect v2 `{res['skeleton']}` ({res['frames']} frames paired one to "
        f"one, NTU A001 *drink water*; MediaPipe found a pose in {res['frames_with_pose']}), the pairing and mirror "
        "flip of `scripts/check_mapping.py` (docs/mapping_check.md). This is the only clip with both a video and "
        "a Kinect skeleton in `../shared/data` (the other NTU samples have no RGB), so every fitted number below "
        "comes from this one person and clip: the held-out checks are the other half of the same clip, not "
        "another person.",
        "",
        "## 1. Recognition of each input",
        "",
        "Shift-GCN: released NTU-120 x-sub joint weights, official NTU normalisation; *clip* = the whole clip as "
        "one 300-frame window (the official test protocol), *live* = 2.1 s windows (T = 64 at 30 fps) every 8 frames, "
        "softmax averaged. Cells: P(drink water) (its rank among 120), the top-1, and how close the recogniser's "
        "view of the input is to its view of the Kinect skeleton (first row): *TV* = total variation distance of "
        "the class probabilities (0 = same, 1 = disjoint), *cos* = cosine similarity of the pooled 256-d features "
        "(default model: of its semantic latents). Default model: the packaged "
        "`sadvae/assets/default_model.pt` (ONNX Runtime), its 2.1 s windows every 8 frames; *NTU-60 labels* = the "
        "live head with the 60 NTU-60 class names as the label file (zero-shot: drink water is not one of its 33 "
        "trained classes), *trained classes* = the top-1 of its own 33 classes. Swaps: MediaPipe (image x/y) moved "
        "onto Kinect per frame by a similarity fitted on the trunk, head and legs, then one joint group exchanged.",
        "",
        "| input | Shift-GCN, clip | Shift-GCN, live windows | default model, NTU-60 labels "
        "| default model, trained classes |",
        "|---|---|---|---|---|",
    ]
    for r in res["recognition"]:
        lines.append(
            f"| {r['input']} | {_cell(r['shiftgcn_clip'])} | {_cell(r['shiftgcn_live'])} | "
            f"{_cell(r.get('default_ntu60'))} | {_cell(r.get('default_seen'), False)} |"
        )
    if res.get("default_model_head_error"):
        lines += ["", f"(default model head: {res['default_model_head_error']})"]
    rec = {r["input"]: r for r in res["recognition"]}
    w_, i_ = rec["MediaPipe, world x/y (mapping before issue 13)"], rec["MediaPipe, image x/y (live default now)"]

    def rk(r: dict[str, Any], k: str) -> str:
        return f"#{r[k]['target_rank']} ({r[k]['target_p']:.2f})"

    e = res["error_3d_cm"]
    lines += [
        "",
        "### What this shows",
        "",
        f"- **Before / after (the live mapping).** Shift-GCN, whole clip: drink water {rk(w_, 'shiftgcn_clip')} with "
        f"the world x/y, {rk(i_, 'shiftgcn_clip')} with the image x/y (acceptance, top 2: "
        f"{'met' if i_['shiftgcn_clip']['target_rank'] <= 2 else 'not met'}). Live 2.1 s windows: "
        f"{rk(w_, 'shiftgcn_live')} -> {rk(i_, 'shiftgcn_live')} (top 2 "
        f"{'met' if i_['shiftgcn_live']['target_rank'] <= 2 else 'not met'}). The default model cannot name "
        "this action (not among its 33 classes, and its zero-shot NTU-60 scores are flat even for the Kinect "
        "skeleton), so its measure is how close its view of the MediaPipe skeleton is to its view of the "
        "Kinect one: latent cosine "
        f"{w_['default_seen']['vs_kinect']['cos']:.2f} -> {i_['default_seen']['vs_kinect']['cos']:.2f}, class "
        f"distribution TV {w_['default_seen']['vs_kinect']['tv']:.2f} -> {i_['default_seen']['vs_kinect']['tv']:.2f}."
        if "default_seen" in w_
        else "",
        "- **Where the gap is made.** Kinect with MediaPipe's head and spine, shoulders, legs, or arms alone keeps "
        "drink water near 1.0; with MediaPipe's arms *and* hands it collapses. MediaPipe with Kinect's arms and "
        "hands recovers it. So the arm chain as a whole (elbow, wrist, hand, hand tip), not one joint, carries it.",
        '- **Image x/y** (`PoseOptions.xy_source="image"`, now the default; `--xy-source world` restores the old '
        "mapping) takes the joints' x and y from MediaPipe's image landmarks, scaled into the world frame on the "
        "shoulders and hips, and keeps the world depth. It has no fitted parameter. It was chosen on geometry "
        f"(3D error {e['world']['all']:.1f} -> {e['image']['all']:.1f} cm, arms {e['world']['arms']:.1f} -> "
        f"{e['image']['arms']:.1f} cm), and then measured on recognition.",
        "- **Shoulder and hip offsets** (`CORRECTIONS`, opt-in): the fitted offsets are stable across halves of the "
        "clip (section 3) and explainable (surface landmarks vs joint centres), and they shrink the shoulder "
        "offsets on the held-out half, but they do not improve recognition here; the default stays `none`.",
        "- **Fragility.** The sensitivity rows (depth scaled by 0.75 / 1.25, not used to choose anything) move "
        "the rank by several places: with one clip, a rank is a weak measure; the TV / cosine columns and the "
        'geometry are the steadier ones. Training with `AUGMENTS["camera"]` (sadvae/train/augment.py: '
        "shoulder/hip landmark offsets, arm depth error, thumb position, all from the tables below) is the "
        "remedy on the model side; no model has been retrained with it yet.",
        "",
        "## 2. Geometry",
        "",
        f"Median 3D error after a per-frame similarity alignment on Kinect's tracked joints (docs/mapping_check.md): "
        f"world x/y {e['world']['all']:.1f} cm (body {e['world']['body']:.1f}, arms {e['world']['arms']:.1f}); "
        f"image x/y {e['image']['all']:.1f} cm (body {e['image']['body']:.1f}, arms {e['image']['arms']:.1f}).",
        "",
        "**Offsets** of Kinect's joint centre from the mapped MediaPipe joint (image x/y), in MediaPipe's body frame "
        "(right = left hip -> right hip, up = along the spine, forward = towards the camera for a person facing it) "
        "and scale (Kinect aligned onto MediaPipe per frame by a similarity fitted on the trunk, head and legs), "
        f"over the frames where Kinect tracked the joint; cm, median (IQR). Kinect -> MediaPipe scale: "
        f"{res['alignment_scale_median']:.2f}.",
        "",
        "| # | joint | frames | |offset| median / p90 | right | up | forward | world x/y: |offset| median |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r, rw in zip(res["offsets_image"], res["offsets_world"], strict=True):
        if not r["n"]:
            continue
        ax = " | ".join(f"{r[a]['median']:+.1f} ({r[a]['iqr']:.1f})" for a in AXES)
        lines.append(
            f"| {r['joint']} | {r['name']} | {r['n']} | {r['norm_median']:.1f} / {r['norm_p90']:.1f} | {ax} | "
            f"{rw['norm_median']:.1f} |"
        )
    lines += [
        "",
        "**Bone lengths** (median over frames with both ends tracked; ratio = MediaPipe / Kinect, and divided by "
        "the spine's ratio):",
        "",
        "| bone | Kinect cm | MediaPipe cm (image x/y) | ratio | ratio / torso ratio | world x/y ratio |",
        "|---|---|---|---|---|---|",
    ]
    world_b = {b["bone"]: b for b in res["bones_world"]}
    for b in res["bones_image"]:
        bw = world_b.get(b["bone"], {})
        lines.append(
            f"| {b['bone']} | {b['kinect_cm']:.1f} | {b['mediapipe_cm']:.1f} | {b['ratio']:.2f} | "
            f"{b['ratio_over_torso']:.2f} | {bw.get('ratio', float('nan')):.2f} |"
        )
    jit = res["jitter_cm"]
    lines += [
        "",
        "**Jitter**: median frame-to-frame acceleration |x[t+1] - 2x[t] + x[t-1]| in the body frame, both skeletons "
        "scaled to a 0.5 m torso, cm:",
        "",
        "| joint | Kinect | MediaPipe world x/y | MediaPipe image x/y |",
        "|---|---|---|---|",
    ]
    for j in (3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 18, 21, 23):
        lines.append(
            f"| {JOINT_NAMES[j]} | {jit['kinect'][j]:.2f} | {jit['mediapipe_world'][j]:.2f} | "
            f"{jit['mediapipe_image'][j]:.2f} |"
        )
    f = res["correction_fits"]
    lines += [
        "",
        "## 3. Corrections and their held-out check",
        "",
        "Symmetric offsets (medial, up, forward; m) fitted per left/right pair over both sides' tracked frames:",
        "",
        "| fitted on | shoulders | hips |",
        "|---|---|---|",
    ]
    for k, v in f.items():
        lines.append(f"| {k.replace('_', ' ')} frames | {v['shoulders']} | {v['hips']} |")
    lines += [
        "",
        "Shoulder offset left after the correction fitted on one half, measured on the other half (cm):",
        "",
        "| check | joint | before | after |",
        "|---|---|---|---|",
    ]
    for k, row in res["correction_held_out"].items():
        for j, v in row.items():
            lines.append(f"| {k} | {j} | {v['before_cm']:.1f} | {v['after_cm']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import argparse
    import datetime
    import json
    import os
    import platform

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--skeleton", type=Path, default=DEFAULT_SKELETON)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--markdown", type=Path, default=None)
    ap.add_argument("--no-default-model", action="store_true", help="skip the packaged model's columns")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    res = run_gap(args.video, args.skeleton, default_model=not args.no_default_model)
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "python scripts/camera_gap.py " + " ".join(argv if argv is not None else sys.argv[1:])
    md = render_markdown(res, cmd.strip(), machine, when)
    print(md)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1))
    if args.markdown:
        args.markdown.write_text(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
