#!/usr/bin/env python
"""Fine-tune the NTU-pretrained Shift-GCN to see camera-like skeletons as it sees Kinect ones (issue 13).

The frozen Shift-GCN reads MediaPipe's arms differently from Kinect's (docs/camera_gap.md, section 1), and no
head trained on its features can undo that (section 5). Here the whole backbone is fine-tuned by
self-distillation: a student copy sees camera-like windows (``AUGMENTS["camera"]``'s landmark offsets, arm depth
error, thumb pull and extremity noise, without its rotation, mirror or scale) and learns to give the features
and NTU class probabilities the frozen teacher gives the clean window. No labels are used, so the NTU-120
knowledge is the teacher's, and every head trained on the teacher's features (the default model's extra head
and SA-DVAE) can read the student's features unchanged. The student is a drop-in backbone for the interface;
whether its features serve those heads as well is what the checks below measure.

Steps:
    prepare   (CPU, here)  the default recipe's five sets as T-frame windows (training and test sides, person 1,
                           float16), the 6 NTU samples, and the paired A001 clip through the live mapping and
                           through its Kinect skeleton -> one .npz small enough to travel to a GPU machine
    train     (GPU)        distillation, fixed settings (no selection), then the held-out checks below -> the
                           student's state dict and a JSON report
    bundle    (CPU)        a model bundle with the student in place of the backbone (heads unchanged)

Held-out checks (the training sides of the five sets are the only training data; the checks read the test
sides, the NTU samples and the A001 clip, none trained on): on clean test windows, the student's feature cosine
with the teacher and its NTU top-1 agreement (it must not lose what it knew); on camera-like test windows
(another seed), the same against the teacher's clean view, for the teacher and the student; the default model's
trained-class top-1 on test windows with each backbone; the NTU samples' top-1; A001: P(drink water) and its rank
from MediaPipe and from Kinect, and the cosine of the MediaPipe features with the teacher's Kinect features.
The camera augmentation's sizes were measured on A001 itself (docs/camera_gap.md), so A001 is not an independent
check of the augmentation; the real-video benchmark (``sadvae bench accuracy --model``) is.

Usage:
    python scripts/camera_distill.py prepare --out .devdata/camdistill.npz
    python scripts/camera_distill.py train --data .devdata/camdistill.npz --weights .devdata/ntu120_xsub.pt \\
        --device cuda --out runs/camdistill
    python scripts/camera_distill.py bundle --student runs/camdistill/student.pt --out runs/camdistill/default_model.pt
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

log = logging.getLogger("camera_distill")

DRINK = 0  # NTU A001 "drink water" is logit 0


# ---------------------------------------------------------------------------------------------------- prepare


def prepare(out: Path, window: int, stride: int, max_train: int, max_test: int, datasets: tuple[str, ...]) -> None:
    """Write the windows every later step reads (see the module docstring)."""
    from sadvae.data.ntu import read_ntu_skeleton
    from sadvae.data.preprocess import PreprocessConfig, preprocess
    from sadvae.data.registry import DATASETS
    from sadvae.features import ShiftGCNExtractor
    from sadvae.models.pretrained import shiftgcn_weights_path
    from sadvae.paths import SHARED_DATA
    from sadvae.train.class_table import class_table
    from sadvae.train.protocol import dataset_arrays, test_side_mask

    table = class_table()
    ex = ShiftGCNExtractor(shiftgcn_weights_path("ntu120_xsub"), window, stride)
    xs, clip, dset, test, column = [], [], [], [], []
    counts = {}
    offset = 0
    for d, name in enumerate(datasets):
        t0 = time.perf_counter()
        ds = DATASETS[name].loader(SHARED_DATA / DATASETS[name].default_root)
        labels, _, _ = dataset_arrays(ds)
        side = test_side_mask(ds, name)
        cols = np.asarray(table.columns(name, ds.class_names))
        n_win = [0, 0]
        for i, seq in enumerate(ds.sequences):
            if labels[i] < 0:
                continue
            wins = np.stack(ex.windows(seq))
            if np.abs(wins[..., 1:]).max() > 0:
                raise SystemExit(f"{name} clip {i} has a second person; the distillation takes one-person windows")
            cap = max_test if side[i] else max_train
            if len(wins) > cap:
                wins = wins[np.unique(np.linspace(0, len(wins) - 1, cap).round().astype(int))]
            xs.append(wins[..., 0].astype(np.float16))
            clip += [offset + i] * len(wins)
            dset += [d] * len(wins)
            test += [bool(side[i])] * len(wins)
            column += [int(cols[labels[i]])] * len(wins)
            n_win[int(side[i])] += len(wins)
        offset += len(ds.sequences)
        counts[name] = {"train_windows": n_win[0], "test_windows": n_win[1]}
        log.info("%s: %d train / %d test windows (%.0f s)", name, n_win[0], n_win[1], time.perf_counter() - t0)

    # the 6 NTU samples: their own two slots, the whole clip in one window (official protocol) and a centre window
    from bench_shiftgcn import SAMPLES  # file stems; the A-number is the 1-based NTU label

    ntu = {}
    for t in (300, window):
        cfg = PreprocessConfig(window=t, fps=30.0, persons=2, normalization="ntu")
        wins = []
        for stem in SAMPLES:
            seq = read_ntu_skeleton(SHARED_DATA / "ntu" / f"{stem}.skeleton", max_persons=2)
            wins.append(preprocess(seq.joints, seq.times(), cfg, crop="center"))
        ntu[f"ntu_x{t}"] = np.stack(wins).astype(np.float32)
    ntu["ntu_label"] = np.array([int(stem[-3:]) - 1 for stem in SAMPLES], np.int64)

    # A001 through the live mapping (image x/y, the live default) and its own Kinect skeleton, live windows
    import camera_gap as cg

    lm = cg.video_landmarks(cg.DEFAULT_VIDEO, mirror=True)
    live_cfg = PreprocessConfig(window=window, fps=30.0, persons=2, normalization="ntu")
    a001_mp = cg.live_windows(cg.skeleton_joints(lm, "image"), 30.0, live_cfg)
    kin = read_ntu_skeleton(cg.DEFAULT_SKELETON, max_persons=1).joints[:, 0]
    a001_kinect = cg.live_windows(kin, 30.0, live_cfg)

    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"window": window, "stride": stride, "datasets": list(datasets), "counts": counts, "table": table.names}
    np.savez_compressed(
        out,
        x=np.concatenate(xs),
        clip=np.asarray(clip, np.int64),
        dataset=np.asarray(dset, np.int64),
        test=np.asarray(test, bool),
        column=np.asarray(column, np.int64),
        a001_mp=a001_mp.astype(np.float32),
        a001_kinect=a001_kinect.astype(np.float32),
        meta=np.array(json.dumps(meta)),
        **ntu,
    )
    log.info("wrote %s (%.1f MB): %s", out, out.stat().st_size / 1e6, counts)


PREPARED_KEYS = ("x", "clip", "dataset", "test", "column", "a001_mp", "a001_kinect", "ntu_label", "meta")


def load_prepared(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a ``prepare`` file, or one message naming the file and how to make it."""
    import zipfile

    make = f"make it with `python scripts/camera_distill.py prepare --out {path}`"
    if not Path(path).is_file():
        raise SystemExit(f"{path}: not found; {make}")
    try:
        with np.load(path, allow_pickle=False) as f:
            z = {k: f[k] for k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise SystemExit(f"{path}: not a readable .npz file ({type(e).__name__}); {make}") from None
    missing = [k for k in PREPARED_KEYS if k not in z]
    if missing:
        raise SystemExit(f"{path}: not a camera_distill prepare file (no {', '.join(missing)}); {make}")
    return z


# ---------------------------------------------------------------------------------------------------- train


@dataclass(frozen=True)
class DistillConfig:
    """Fixed in advance; nothing here is chosen on a held-out number.

    epochs: passes over the training windows; copies: camera-like copies made per window (epoch e uses copy
    e % copies); batch: windows per step (each as its camera-like copy and clean, so 2x through the student);
    lr: AdamW, cosine decay to 0 after a 5 % warm-up; weight_decay: 0 (decay would pull the student away from the
    teacher it copies); tau: temperature of the class-probability term; clean_weight: weight of the clean copy's
    terms (keeps what the teacher knew on Kinect input); val_fraction: training-side clips held out as inner
    validation (the objective's held-out value per epoch; the only number that may compare settings).
    """

    epochs: int = 20
    copies: int = 5
    batch: int = 128
    lr: float = 1e-4
    weight_decay: float = 0.0
    tau: float = 2.0
    clean_weight: float = 1.0
    val_fraction: float = 0.15
    seed: int = 0
    augment: str = "camera"


def camera_only(name: str = "camera"):
    """``AUGMENTS[name]`` without the geometric augmentations (rotation, mirror, scale, speed, person drop),
    which the teacher's target would have to follow: only what a camera changes about a skeleton."""
    from sadvae.train.augment import AUGMENTS

    if name not in AUGMENTS:
        raise SystemExit(f"unknown augmentation {name!r}; known: {sorted(AUGMENTS)}")
    return replace(AUGMENTS[name], yaw_deg=0.0, pitch_deg=0.0, scale=0.0, speed=0.0, drop_person=0.0, mirror=0.0)


def _augment_chunk(args) -> np.ndarray:
    from sadvae.train.augment import augment_window

    x, seed, name = args
    rng = np.random.default_rng(seed)
    aug = camera_only(name)
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = augment_window(x[i][..., None].astype(np.float32), aug, rng)[..., 0]
    return out


def camera_copies(x: np.ndarray, seed: int, workers: int, augment: str = "camera") -> np.ndarray:
    """One camera-like copy of every window [N, 3, T, 25] (float16), reproducible for a seed whatever ``workers``."""
    from concurrent.futures import ProcessPoolExecutor

    chunks = [(x[a : a + 256], seed * 1_000_003 + a, augment) for a in range(0, len(x), 256)]
    if workers <= 1:
        parts = [_augment_chunk(c) for c in chunks]
    else:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_augment_chunk, chunks))
    return np.concatenate(parts).astype(np.float16)


def _two_slots(x):
    import torch

    return torch.stack([x, torch.zeros_like(x)], dim=-1)  # person 1 + the empty slot, as the live graph sees it


def _run(model, x, dev, batch=512):
    """Features [N, 256] and logits of windows (numpy [N, 3, T, 25] one person, or [N, 3, T, 25, 2])."""
    import torch

    feats = []
    with torch.no_grad():
        for a in range(0, len(x), batch):
            xb = torch.as_tensor(np.asarray(x[a : a + batch], np.float32), device=dev)
            feats.append(model.forward_features(xb if xb.dim() == 5 else _two_slots(xb)).float())
        f = torch.cat(feats)
        return f, model.forward_head(f)


def _freeze_bn_stats(model) -> None:
    from torch import nn

    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def _copies_key(data: Path, cfg: DistillConfig) -> str:
    st = data.stat()
    return json.dumps(
        [
            str(data),
            st.st_size,
            st.st_mtime_ns,
            cfg.seed,
            cfg.copies,
            cfg.val_fraction,
            asdict(camera_only(cfg.augment)),
        ]
    )


def _copies_cache(path: Path | None, data: Path, cfg: DistillConfig, n_train: int):
    """The camera-like copies of an earlier run with the same data, seed, copies and split (several settings in
    one GPU session share them), or None."""
    if path is None or not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as c:
        if str(c["key"]) != _copies_key(data, cfg) or len(c["arr_0"]) != n_train:
            return None
        return [c[f"arr_{k}"] for k in range(cfg.copies)], c["xval_cam"], c["xte_cam"]


def train(
    data: Path,
    weights: str,
    device: str,
    out: Path,
    cfg: DistillConfig,
    workers: int,
    bundle: Path,
    copies_cache: Path | None = None,
) -> dict:
    import torch
    import torch.nn.functional as F

    from sadvae.models.pretrained import load_pretrained_shiftgcn

    t_start = time.perf_counter()
    log.info("settings: %s, teacher %s, device %s", asdict(cfg), weights, device)
    dev = torch.device(device)
    torch.manual_seed(cfg.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    z = load_prepared(data)
    meta = json.loads(str(z["meta"]))
    x, is_test = z["x"], z["test"]
    # inner validation: whole clips of the training sides (never the test sides) for the objective's held-out value
    clips = np.unique(z["clip"][~is_test])
    val_clips = np.random.default_rng(cfg.seed).choice(clips, int(round(cfg.val_fraction * len(clips))), replace=False)
    is_val = ~is_test & np.isin(z["clip"], val_clips)
    xtr, xval, xte = x[~is_test & ~is_val], x[is_val], x[is_test]
    log.info("windows: %d train, %d inner validation, %d test (T=%d)", len(xtr), len(xval), len(xte), x.shape[2])

    t0 = time.perf_counter()  # the copies first: worker processes fork before CUDA starts
    cached = _copies_cache(copies_cache, data, cfg, len(xtr))
    if cached is not None:
        copies, xval_cam, xte_cam = cached
    else:
        copies = [camera_copies(xtr, cfg.seed * 100 + k, workers, cfg.augment) for k in range(cfg.copies)]
        xval_cam = camera_copies(xval, 99_989, workers, cfg.augment)  # held-out camera-like copies (other seeds)
        xte_cam = camera_copies(xte, 99_991, workers, cfg.augment)
        if copies_cache is not None:
            np.savez(copies_cache, *copies, xval_cam=xval_cam, xte_cam=xte_cam, key=np.array(_copies_key(data, cfg)))
    log.info("%d camera-like copies: %.1f s", cfg.copies, time.perf_counter() - t0)

    teacher = load_pretrained_shiftgcn(weights, verify=False).to(dev).eval()
    student = copy.deepcopy(teacher)
    for p in teacher.parameters():
        p.requires_grad_(False)
    for p in student.fc.parameters():  # the NTU classifier stays the teacher's: matching features matches logits
        p.requires_grad_(False)

    ft_tr, lt_tr = _run(teacher, xtr, dev)
    sd = ft_tr.std(0).clamp_min(1e-3)
    params = [p for p in student.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = (len(xtr) + cfg.batch - 1) // cfg.batch
    total = cfg.epochs * steps_per_epoch
    warm = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + np.cos(np.pi * (s - warm) / max(1, total - warm)))
    )
    gen = torch.Generator().manual_seed(cfg.seed)
    xtr_t = torch.as_tensor(xtr)  # float16, CPU
    copies_t = [torch.as_tensor(c) for c in copies]

    def loss_of(f, target_f, target_l):
        lf = (((f - target_f) / sd) ** 2).mean()
        ls = F.log_softmax(student.forward_head(f) / cfg.tau, -1)
        lk = F.kl_div(ls, F.log_softmax(target_l / cfg.tau, -1), log_target=True, reduction="batchmean") * cfg.tau**2
        return lf, lk

    ft_val, lt_val = _run(teacher, xval, dev)
    with torch.no_grad():  # epoch 0: the teacher itself (the student before any step)
        held0 = loss_of(_run(student.eval(), xval_cam, dev)[0], ft_val, lt_val)
    history = [
        {
            "epoch": 0,
            "val_feature_cam": float(held0[0]),
            "val_kl_cam": float(held0[1]),
            "val_objective": float(sum(held0)),  # + 0: clean terms vanish for the teacher
        }
    ]
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        student.train()
        _freeze_bn_stats(student)  # the pretrained statistics stay: the student must read inputs as the teacher does
        order = torch.randperm(len(xtr), generator=gen)
        src = copies_t[epoch % cfg.copies]
        sums = np.zeros(4)
        for a in range(0, len(order), cfg.batch):
            idx = order[a : a + cfg.batch]
            xa = src[idx].to(dev, non_blocking=True).float()
            xc = xtr_t[idx].to(dev, non_blocking=True).float()
            f = student.forward_features(_two_slots(torch.cat([xa, xc])))
            fa, fc = f[: len(idx)], f[len(idx) :]
            tf, tl = ft_tr[idx.to(dev)], lt_tr[idx.to(dev)]
            lfa, lka = loss_of(fa, tf, tl)
            lfc, lkc = loss_of(fc, tf, tl)
            loss = lfa + lka + cfg.clean_weight * (lfc + lkc)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            sums += np.array([lfa.item(), lka.item(), lfc.item(), lkc.item()]) * len(idx)
        student.eval()
        with torch.no_grad():
            held = loss_of(_run(student, xval_cam, dev)[0], ft_val, lt_val)
            held_clean = loss_of(_run(student, xval, dev)[0], ft_val, lt_val)
        row = {
            "epoch": epoch + 1,
            "train_feature_cam": sums[0] / len(xtr),
            "train_kl_cam": sums[1] / len(xtr),
            "train_feature_clean": sums[2] / len(xtr),
            "train_kl_clean": sums[3] / len(xtr),
            "val_feature_cam": float(held[0]),
            "val_kl_cam": float(held[1]),
            "val_feature_clean": float(held_clean[0]),
            "val_kl_clean": float(held_clean[1]),
            "val_objective": float(sum(held) + sum(held_clean)),  # unweighted: comparable across settings
            "seconds": time.perf_counter() - t0,
        }
        history.append(row)
        log.info("epoch %d: %s", epoch + 1, {k: round(v, 4) for k, v in row.items()})
    train_s = time.perf_counter() - t0

    report = {
        "config": asdict(cfg),
        "augmentation": asdict(camera_only(cfg.augment)),
        "data": {
            "file": str(data),
            **meta["counts"],
            "window": meta["window"],
            "fit_windows": len(xtr),
            "val_windows": len(xval),
        },
        "history": history,
        "train_seconds": train_s,
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "torch": torch.__version__,
    }
    torch.backends.cuda.matmul.allow_tf32 = False  # the checks compare in fp32 (TF32 moves logits by ~0.1)
    torch.backends.cudnn.allow_tf32 = False
    report["checks"] = evaluate(teacher, student, z, xte, xte_cam, dev, bundle)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in student.state_dict().items()}
    torch.save(state, out / "student.pt")
    report["seconds"] = time.perf_counter() - t_start
    (out / "camdistill.json").write_text(json.dumps(report, indent=2, default=float))
    log.info("wrote %s/student.pt and camdistill.json (%.0f s)", out, report["seconds"])
    return report


def _cos(a, b) -> float:
    import torch.nn.functional as F

    return float(F.cosine_similarity(a, b, dim=-1).mean())


def _agree(la, lb) -> float:
    return float((la.argmax(-1) == lb.argmax(-1)).float().mean())


def evaluate(teacher, student, z, xte, xte_cam, dev, bundle: Path | None) -> dict:
    """The held-out checks of the module docstring, for the teacher and the student."""
    import torch

    res: dict = {}
    ft, lt = _run(teacher, xte, dev)
    fs, ls = _run(student, xte, dev)
    ftc, ltc = _run(teacher, xte_cam, dev)
    fsc, lsc = _run(student, xte_cam, dev)
    res["test_clean"] = {"student_feature_cos": _cos(fs, ft), "student_ntu_top1_agreement": _agree(ls, lt)}
    res["test_camera_like"] = {
        "teacher_feature_cos": _cos(ftc, ft),
        "student_feature_cos": _cos(fsc, ft),
        "teacher_ntu_top1_agreement": _agree(ltc, lt),
        "student_ntu_top1_agreement": _agree(lsc, lt),
    }
    # NTU samples: their own two slots
    lab = torch.as_tensor(z["ntu_label"], device=dev)
    for key in ("ntu_x300", f"ntu_x{xte.shape[2]}"):
        if key in z:
            res[key] = {
                who: int((_run(m, z[key], dev)[1].argmax(-1) == lab).sum())
                for who, m in (("teacher", teacher), ("student", student))
            }
    # A001: MediaPipe (live mapping) and Kinect, live windows, softmax averaged
    fk_t, _ = _run(teacher, z["a001_kinect"], dev)
    a001 = {}
    for who, m in (("teacher", teacher), ("student", student)):
        row = {}
        for src in ("mp", "kinect"):
            f, lg = _run(m, z[f"a001_{src}"], dev)
            p = torch.softmax(lg, -1).mean(0)
            row[f"{src}_p_drink"] = float(p[DRINK])
            row[f"{src}_rank_drink"] = int((p > p[DRINK]).sum()) + 1
            row[f"{src}_top1"] = int(p.argmax())
            row[f"{src}_feature_cos_teacher_kinect"] = _cos(f, fk_t.mean(0, keepdim=True).expand_as(f))
        a001[who] = row
    res["a001"] = a001
    if bundle is not None and bundle.is_file():
        res["default_model"] = default_model_check(bundle, student, z, xte, xte_cam, dev)
    return res


def default_model_check(bundle_path: Path, student, z, xte, xte_cam, dev) -> dict:
    """The default model's trained-class top-1 on the test windows (clean and camera-like), its own backbone
    (the teacher) against the student swapped in, heads unchanged."""
    import torch

    from sadvae.bundle import load_bundle
    from sadvae.models.extra_head import ExtraHeadBackbone

    b = load_bundle(bundle_path)
    head = b.backbone
    if not isinstance(head, ExtraHeadBackbone):
        return {"skipped": "the bundle's backbone has no extra head"}
    head = head.to(dev).eval()
    if not torch.equal(head.backbone.fc.weight, student.fc.weight):  # fc is frozen: it names the teacher
        return {"skipped": f"{bundle_path}'s backbone is not the teacher the student was distilled from"}
    col = torch.as_tensor(z["column"][z["test"]], device=dev)
    dset = z["dataset"][z["test"]]
    names = json.loads(str(z["meta"]))["datasets"]
    out = {}
    for who, net in (("teacher", head.backbone), ("student", student)):
        for which, x in (("clean", xte), ("camera_like", xte_cam)):
            f, _ = _run(net, x, dev)
            with torch.no_grad():
                logits = head.forward_head(f)
            right = (logits.argmax(-1) == col).cpu().numpy()
            out[f"{who}_{which}"] = {
                n: float(right[dset == d].mean()) for d, n in enumerate(names) if (dset == d).any()
            }
    return out


# ---------------------------------------------------------------------------------------------------- probe


def probe(data: Path, weights: str, augments: tuple[str, ...], seeds: int, out: Path | None) -> dict:
    """Does an augmentation reproduce the real gap? The frozen teacher's view of camera-like copies of Kinect
    windows against its view of real MediaPipe skeletons (no training; CPU).

    A001: the Kinect skeleton's live windows, ``seeds`` camera-like copies each, against the same clip through the
    live mapping (P(drink water), its rank, and the feature cosine with the clean Kinect view). Test sides: one
    copy of each held-out window (feature cosine with the clean view, NTU top-1 agreement).
    """
    import torch

    from sadvae.models.pretrained import load_pretrained_shiftgcn

    for name in augments:
        camera_only(name)  # an unknown name fails now, not after minutes of work
    torch.manual_seed(0)
    z = load_prepared(data)
    teacher = load_pretrained_shiftgcn(weights, verify=False).eval()
    dev = torch.device("cpu")
    kin = z["a001_kinect"][..., 0]
    f_kin, _ = _run(teacher, kin, dev)
    ref = f_kin.mean(0, keepdim=True)

    def a001(x: np.ndarray) -> dict[str, float]:
        f, lg = _run(teacher, x, dev)
        p = torch.softmax(lg, -1).mean(0)
        return {
            "p_drink": float(p[DRINK]),
            "rank_drink": int((p > p[DRINK]).sum()) + 1,
            "feature_cos_kinect": _cos(f, ref.expand_as(f)),
        }

    res: dict = {"a001": {"kinect": a001(kin), "mediapipe (live mapping)": a001(z["a001_mp"][..., 0])}}
    xte = z["x"][z["test"]]
    ft, lt = _run(teacher, xte, dev)
    res["test"] = {}
    for name in augments:
        rows = [a001(camera_copies(kin, 1000 + s, 1, name).astype(np.float32)) for s in range(seeds)]
        res["a001"][name] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        fa, la = _run(teacher, camera_copies(xte, 99_991, 1, name), dev)
        res["test"][name] = {"feature_cos_clean": _cos(fa, ft), "ntu_top1_agreement": _agree(la, lt)}
    print("| input (A001, live windows) | P(drink water) | rank | feature cosine with Kinect |")
    print("|---|---|---|---|")
    for k, r in res["a001"].items():
        print(f"| {k} | {r['p_drink']:.3f} | {r['rank_drink']:.1f} | {r['feature_cos_kinect']:.3f} |")
    print("\n| augmentation (test sides, one copy per window) | feature cosine with clean | NTU top-1 agreement |")
    print("|---|---|---|")
    for k, r in res["test"].items():
        print(f"| {k} | {r['feature_cos_clean']:.3f} | {100 * r['ntu_top1_agreement']:.1f} % |")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=2))
    return res


# ---------------------------------------------------------------------------------------------------- bundle


def make_bundle(student: Path, base: Path, out: Path, export: bool) -> None:
    """``base`` with the student's weights in its Shift-GCN (every head unchanged), saved as ``out``.

    The base's metrics describe the base's backbone, so they move to ``provenance["camera_distill"]["base_metrics"]``
    (the new bundle's own metrics are empty until it is measured); the recipe name stays, so the recipe's tools
    (INT8 calibration windows, rescoring) still treat it as that recipe's model. The base's head calibration
    (``<stem>.head.json``, fitted on the base's inner validation) is copied beside ``out``, keyed to the new file
    and marked as reused: without one the live head runs with "no action" off.
    """
    import torch

    from sadvae.bundle import load_bundle, resave_bundle
    from sadvae.hashing import file_sha256
    from sadvae.models.extra_head import ExtraHeadBackbone

    b = load_bundle(base)
    net = b.backbone.backbone if isinstance(b.backbone, ExtraHeadBackbone) else b.backbone
    if not Path(student).is_file():
        raise SystemExit(f"{student}: student weights not found; `camera_distill.py train` writes <out>/student.pt")
    try:
        state = torch.load(student, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a damaged file fails torch.load in many ways; the file is what is wrong
        raise SystemExit(f"{student}: not a readable state dict ({type(e).__name__}); train it again") from None
    if not isinstance(state, dict) or "fc.weight" not in state:
        raise SystemExit(f"{student}: not a Shift-GCN state dict (no fc.weight)")
    if not torch.equal(state["fc.weight"], net.fc.weight):  # the student's fc is frozen: it names its teacher
        raise SystemExit(f"{student} was not distilled from {base}'s backbone (their NTU classifiers differ)")
    net.load_state_dict(state, strict=True)
    provenance = dict(b.provenance)
    report = student.with_name("camdistill.json")  # what `train` wrote beside the student: its settings
    trained = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {}
    provenance["camera_distill"] = {
        "training": {k: trained[k] for k in ("config", "augmentation", "device", "torch") if k in trained},
        "student": str(student),
        "student_sha256": file_sha256(student),
        "base": str(base),
        "base_sha256": file_sha256(base),
        "base_metrics": b.metrics,
        "note": "backbone replaced by a camera-distilled student (scripts/camera_distill.py); heads are the base's",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    resave_bundle(out, b, metrics={}, provenance=provenance)
    head = base.with_name(base.stem + ".head.json")
    if head.is_file():
        cal = json.loads(head.read_text(encoding="utf-8"))
        cal["model_id"] = file_sha256(out)
        cal["source"] = f"{cal.get('source', '')}; reused unchanged from {base.name} for the camera-distilled backbone"
        out.with_name(out.stem + ".head.json").write_text(json.dumps(cal, indent=1), encoding="utf-8")
    log.info("wrote %s", out)
    if export:
        from sadvae.export import export_onnx

        rep = export_onnx(out, out.with_suffix(".onnx"))
        log.info("exported %s (parity %s)", rep.path, rep.parity)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="windows of the five sets, the NTU samples and A001 -> one .npz")
    p.add_argument("--out", type=Path, default=ROOT / ".devdata" / "camdistill.npz")
    p.add_argument("--window", type=int, default=96)
    p.add_argument("--stride", type=int, default=48)
    p.add_argument(
        "--max-train", type=int, default=5, help="most windows per training clip (evenly spread; 1: the first)"
    )
    p.add_argument("--max-test", type=int, default=1, help="most windows per test clip (1: the clip's first window)")
    p.add_argument("--datasets", nargs="+", default=None, help="default: the default recipe's five sets")
    t = sub.add_parser("train", help="distil the teacher into a camera-robust student (a GPU job)")
    t.add_argument("--data", type=Path, required=True)
    t.add_argument("--weights", default="ntu120_xsub", help="teacher checkpoint (short name or path)")
    t.add_argument("--device", default="cuda")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--workers", type=int, default=8, help="processes making the camera-like copies")
    t.add_argument("--bundle", type=Path, default=ROOT / "sadvae" / "assets" / "default_model.pt")
    t.add_argument("--copies-cache", type=Path, help="keep the camera-like copies here for the next setting")
    d = DistillConfig()
    from sadvae.train.augment import AUGMENTS

    for k, v in asdict(d).items():
        choices = sorted(a for a in AUGMENTS if a != "default") if k == "augment" else None
        t.add_argument(f"--{k.replace('_', '-')}", type=type(v), default=v, choices=choices)
    q = sub.add_parser("probe", help="does an augmentation reproduce the real gap? (the teacher only, CPU)")
    q.add_argument("--data", type=Path, default=ROOT / ".devdata" / "camdistill.npz")
    q.add_argument("--weights", default="ntu120_xsub")
    q.add_argument("--augments", nargs="+", default=["camera", "camera_wander"])
    q.add_argument("--seeds", type=int, default=20, help="camera-like copies of the A001 windows (averaged)")
    q.add_argument("--json", type=Path)
    b = sub.add_parser("bundle", help="a model bundle with the student as its backbone")
    b.add_argument("--student", type=Path, required=True)
    b.add_argument("--base", type=Path, default=ROOT / "sadvae" / "assets" / "default_model.pt")
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--export", action="store_true", help="also write <out>.onnx")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.cmd == "prepare":
        from sadvae.train.class_table import TABLE_DATASETS

        ds = tuple(args.datasets or TABLE_DATASETS)
        prepare(args.out, args.window, args.stride, args.max_train, args.max_test, ds)
    elif args.cmd == "train":
        cfg = DistillConfig(**{k: getattr(args, k) for k in asdict(d)})
        train(args.data, args.weights, args.device, args.out, cfg, args.workers, args.bundle, args.copies_cache)
    elif args.cmd == "probe":
        probe(args.data, args.weights, tuple(args.augments), args.seeds, args.json)
    else:
        make_bundle(args.student, args.base, args.out, args.export)
    return 0


if __name__ == "__main__":
    sys.exit(main())
