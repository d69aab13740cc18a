"""Recipe ``stgcn-v1``, the round-1 default model: ST-GCN + SA-DVAE on three real Kinect-v1 datasets merged.

It was the packaged model of round 1; the packaged default is now recipe ``shiftgcn-v2``
(:mod:`sadvae.train.default_shiftgcn`). This recipe stays available (``scripts/train_default --recipe
stgcn-v1``, writing ``runs/default_v1/default_model.pt`` by default) as the baseline and as the
ST-GCN default.

MSR Action3D, NW-UCLA and UTKinect-Action3D (all single-person, converted to NTU-25) are merged into
one class list (:data:`MERGE_TABLE`: a class of several datasets only where it is the same action).
The standard test side of each dataset (MSR and UTKinect even subjects, NW-UCLA view 3) is held out:
nothing trains on it; it gives the reported seen-class accuracy and the seen half of the gate's data.

1. Validation run: ``num_pseudo_unseen`` seeded classes play "unseen". A backbone trained without
   them, SA-DVAE on its features, the cycle with the best pseudo-unseen ZSL accuracy, and the
   seen/unseen gate (pseudo-unseen samples vs held-out seen samples), all through
   :func:`sadvae.train.protocol.validate_variant` exactly as the benchmark protocol does.
2. Main run: a backbone on every class, SA-DVAE on its features for the chosen number of cycles,
   and a bundle whose seen classes are all merged classes (nothing is held out as unseen: every
   label a user writes that is not a class name goes through zero-shot).
"""

from __future__ import annotations

import json
import logging
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from sadvae.data.preprocess import PreprocessConfig
from sadvae.data.record import Dataset, SkeletonSequence
from sadvae.data.registry import DATASETS, load_dataset
from sadvae.errors import ConfigError
from sadvae.paths import PROJECT_ROOT, SHARED_DATA
from sadvae.text import TextConfig
from sadvae.train.augment import AugmentConfig
from sadvae.train.backbone import BackboneTrainConfig, extract, train_backbone
from sadvae.train.protocol import class_text_embeddings, test_side_mask, validate_variant
from sadvae.train.zsl import ZSLTrainConfig, train_sadvae, zsl_probs

__all__ = [
    "DATASET_NAMES",
    "DATASET_TERMS",
    "MERGE_TABLE",
    "CLASS_NAMES",
    "DefaultModelConfig",
    "MergedData",
    "accuracies",
    "merge_datasets",
    "balance_repeats",
    "train_default",
    "metrics_markdown",
]

log = logging.getLogger(__name__)

DATASET_NAMES = ("msr_action3d", "nw_ucla", "utkinect")

# merged class -> the official classes (dataset, name in its classes.txt) it holds. Order = class ids.
MERGE_TABLE: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("high arm wave", (("msr_action3d", "high arm wave"),)),
    ("horizontal arm wave", (("msr_action3d", "horizontal arm wave"),)),
    ("hammer", (("msr_action3d", "hammer"),)),
    ("hand catch", (("msr_action3d", "hand catch"),)),
    ("forward punch", (("msr_action3d", "forward punch"),)),
    ("high throw", (("msr_action3d", "high throw"),)),
    ("draw x", (("msr_action3d", "draw x"),)),
    ("draw tick", (("msr_action3d", "draw tick"),)),
    ("draw circle", (("msr_action3d", "draw circle"),)),
    ("clap hands", (("msr_action3d", "hand clap"), ("utkinect", "clap hands"))),
    ("wave hands", (("msr_action3d", "two hand wave"), ("utkinect", "wave hands"))),
    ("side boxing", (("msr_action3d", "side-boxing"),)),
    ("bend", (("msr_action3d", "bend"),)),
    ("forward kick", (("msr_action3d", "forward kick"),)),
    ("side kick", (("msr_action3d", "side kick"),)),
    ("jogging", (("msr_action3d", "jogging"),)),
    ("tennis swing", (("msr_action3d", "tennis swing"),)),
    ("tennis serve", (("msr_action3d", "tennis serve"),)),
    ("golf swing", (("msr_action3d", "golf swing"),)),
    ("pick up and throw", (("msr_action3d", "pick up & throw"),)),
    ("pick up with one hand", (("nw_ucla", "pick up with one hand"),)),
    ("pick up with two hands", (("nw_ucla", "pick up with two hands"),)),
    ("drop trash", (("nw_ucla", "drop trash"),)),
    ("walk", (("nw_ucla", "walk around"), ("utkinect", "walk"))),
    ("sit down", (("nw_ucla", "sit down"), ("utkinect", "sit down"))),
    ("stand up", (("nw_ucla", "stand up"), ("utkinect", "stand up"))),
    ("put on clothes", (("nw_ucla", "donning"),)),
    ("take off clothes", (("nw_ucla", "doffing"),)),
    ("throw", (("nw_ucla", "throw"), ("utkinect", "throw"))),
    ("carry", (("nw_ucla", "carry"), ("utkinect", "carry"))),
    ("pick up", (("utkinect", "pick up"),)),
    ("push", (("utkinect", "push"),)),
    ("pull", (("utkinect", "pull"),)),
)
CLASS_NAMES: tuple[str, ...] = tuple(name for name, _ in MERGE_TABLE)

DATASET_TERMS: dict[str, dict[str, str]] = {
    "msr_action3d": {
        "citation": 'W. Li, Z. Zhang, Z. Liu, "Action Recognition Based on A Bag of 3D Points", CVPR Workshops 2010',
        "terms": "research use; cite the paper (the copy's repository has no licence)",
        "holdout": "even subjects (2,4,6,8,10)",
    },
    "nw_ucla": {
        "citation": 'J. Wang, X. Nie, Y. Xia, Y. Wu, S.-C. Zhu, "Cross-view Action Modeling, Learning and '
        'Recognition", CVPR 2014',
        "terms": "research use; cite the paper; the all_sqe copy (CTR-GCN) is CC BY-NC 4.0",
        "holdout": "view 3",
    },
    "utkinect": {
        "citation": 'L. Xia, C.-C. Chen, J. K. Aggarwal, "View Invariant Human Action Recognition Using Histograms '
        'of 3D Joints", CVPR Workshops 2012',
        "terms": "research use; cite the paper (the copy's repository has no licence for the data)",
        "holdout": "even subjects (2,4,6,8,10)",
    },
}

_REPO = PROJECT_ROOT


def _default_backbone() -> BackboneTrainConfig:
    augment = AugmentConfig(
        yaw_deg=20.0,
        pitch_deg=15.0,
        roll_deg=10.0,
        scale=0.15,
        speed=0.25,
        jitter=0.02,
        offset=0.05,
        extremity_factor=2.5,
        drop_person=0.0,
        mirror=0.5,
    )
    return BackboneTrainConfig(
        preset="light", epochs=6, repeats=1, preprocess=PreprocessConfig(persons=1), augment=augment
    )


@dataclass(frozen=True)
class DefaultModelConfig:
    """The default-model recipe.

    Attributes:
        out: bundle path to write (default ``runs/default_v1/default_model.pt``: the packaged default is
            now recipe ``shiftgcn-v2``).
        data_root: folder holding ``skeleton_sets/`` (None: ``../shared/data`` beside the project).
        seed: seeds the pseudo-unseen choice, the backbones and SA-DVAE.
        num_pseudo_unseen: classes that play "unseen" in the validation run.
        balance_power: a sequence of a class with n training sequences is repeated
            ``round((n_max / n) ** balance_power)`` times an epoch (0: no balancing).
        max_repeat: cap of that repeat count.
        limit_per_class: keep at most this many sequences per (dataset, class, side); None keeps all
            (small values are for tests and smoke runs only).
        threads: torch CPU threads (0: torch's default).
        backbone: ST-GCN training (its seed is replaced by ``seed``).
        zsl: SA-DVAE training (variant "tc"; ``cycles`` is the most the validation run tries).
        text: sentence encoder and prompt template.
    """

    out: str = str(PROJECT_ROOT / "runs" / "default_v1" / "default_model.pt")
    data_root: str | None = None
    seed: int = 0
    num_pseudo_unseen: int = 5
    balance_power: float = 0.5
    max_repeat: int = 2
    limit_per_class: int | None = None
    threads: int = 0
    backbone: BackboneTrainConfig = field(default_factory=_default_backbone)
    zsl: ZSLTrainConfig = field(default_factory=ZSLTrainConfig)
    text: TextConfig = field(default_factory=TextConfig)


@dataclass
class MergedData:
    """The three datasets as one: sequences with merged class ids, their dataset and side."""

    sequences: list[SkeletonSequence]
    labels: np.ndarray  # [n] merged class ids (rows of CLASS_NAMES)
    dataset: np.ndarray  # [n] index into DATASET_NAMES
    holdout: np.ndarray  # [n] bool: on the dataset's standard test side


def _class_lookup() -> dict[tuple[str, str], int]:
    return {member: k for k, (_, members) in enumerate(MERGE_TABLE) for member in members}


def merge_datasets(datasets: dict[str, Dataset], limit_per_class: int | None = None) -> MergedData:
    """Remap every sequence to its merged class and mark the held-out side.

    Args:
        datasets: loaded datasets keyed by the names in :data:`DATASET_NAMES`.
        limit_per_class: keep the first n sequences of each (dataset, class, side); None keeps all.

    Raises:
        ConfigError: a dataset class is missing from :data:`MERGE_TABLE` (its classes.txt changed).
    """
    lookup = _class_lookup()
    seqs, labels, dsets, hold, kept = [], [], [], [], {}
    for d, name in enumerate(DATASET_NAMES):
        ds = datasets[name]
        missing = [c for c in ds.class_names if (name, c) not in lookup]
        if missing:
            raise ConfigError(f"{name}: classes {missing} are not in the default model's merge table; update it")
        test = test_side_mask(ds, name)
        for seq, side in zip(ds.sequences, test, strict=True):
            key = (name, seq.label, bool(side))
            kept[key] = kept.get(key, 0) + 1
            if limit_per_class is not None and kept[key] > limit_per_class:
                continue
            seqs.append(seq)
            labels.append(lookup[(name, ds.class_names[seq.label])])
            dsets.append(d)
            hold.append(bool(side))
    return MergedData(seqs, np.array(labels), np.array(dsets), np.array(hold))


def balance_repeats(labels: np.ndarray, power: float, max_repeat: int) -> np.ndarray:
    """[n] repeats per sequence so that rare classes are drawn more often: round((n_max / n_c) ** power), capped."""
    counts = np.bincount(labels)
    rep = np.round((counts.max() / np.maximum(counts, 1)) ** power).clip(1, max(1, max_repeat)).astype(int)
    return rep[labels]


def _train(data: MergedData, idx: np.ndarray, classes: tuple[int, ...], cfg: DefaultModelConfig):
    rep = balance_repeats(data.labels[idx], cfg.balance_power, cfg.max_repeat)
    order = np.repeat(idx, rep)
    log.info("backbone on %d classes: %d sequences, %d windows an epoch", len(classes), len(idx), len(order))
    bcfg = replace(cfg.backbone, seed=cfg.seed)
    model = train_backbone([data.sequences[i] for i in order], data.labels[order], classes, bcfg)
    return model, int(len(order))


def _features(model, data: MergedData, idx: np.ndarray, cfg: DefaultModelConfig) -> tuple[np.ndarray, np.ndarray]:
    return extract(model, [data.sequences[i] for i in idx], cfg.backbone.preprocess, cfg.backbone.device)


def git_state() -> dict:
    """The checkout's commit and whether its tree is dirty, for a bundle's provenance."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(_REPO), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": git("rev-parse", "HEAD"), "git_dirty": None if status is None else bool(status)}


def accuracies(logits: np.ndarray, truth: np.ndarray, dset: np.ndarray) -> dict:
    top = np.argsort(-logits, axis=1)
    hit1 = top[:, 0] == truth
    per_class = {CLASS_NAMES[c]: float(hit1[truth == c].mean()) for c in np.unique(truth)}
    return {
        "samples": int(len(truth)),
        "top1": float(hit1.mean()),
        "top5": float((top[:, :5] == truth[:, None]).any(1).mean()),
        "mean_class_top1": float(np.mean(list(per_class.values()))),
        "per_dataset_top1": {DATASET_NAMES[d]: float(hit1[dset == d].mean()) for d in np.unique(dset)},
        "per_class_top1": per_class,
    }


def _load_inputs(cfg: DefaultModelConfig) -> dict:
    """Phase 0: read and merge every dataset, embed the class names, fix the SA-DVAE config's seed.

    Returns:
        ``roots`` and ``loaded`` (per dataset), ``data`` (the merged set), ``text_emb`` ``(classes, D)``,
        ``encoder_id`` and ``zcfg``.

    Raises:
        ConfigError: no ``skeleton_sets/`` under the data root.
    """
    data_root = Path(cfg.data_root) if cfg.data_root else SHARED_DATA
    if not (data_root / "skeleton_sets").is_dir():
        raise ConfigError(f"{data_root}: no skeleton_sets/ folder here; pass --data-root, the folder that holds it")
    roots = {n: data_root / DATASETS[n].default_root for n in DATASET_NAMES}
    loaded = {n: load_dataset(n, roots[n]) for n in DATASET_NAMES}
    data = merge_datasets(loaded, cfg.limit_per_class)
    text_emb, encoder_id = class_text_embeddings(CLASS_NAMES, cfg.text)
    zcfg = replace(cfg.zsl, seed=cfg.seed)
    return {
        "roots": roots,
        "loaded": loaded,
        "data": data,
        "text_emb": text_emb,
        "encoder_id": encoder_id,
        "zcfg": zcfg,
    }


def _validation_run(data, cfg: DefaultModelConfig, text_emb: np.ndarray, zcfg) -> dict:
    """Phase 1: hold out pseudo-unseen classes, train a backbone that never sees them, choose cycles and gate.

    Returns:
        ``pseudo`` (the pseudo-unseen class ids), ``labels`` (per validation split) and ``val`` (the
        :func:`validate_variant` result: ZSL curve, best cycle, gate).
    """
    n_cls = len(CLASS_NAMES)
    rng = np.random.default_rng(cfg.seed)
    pseudo = tuple(sorted(int(c) for c in rng.choice(n_cls, cfg.num_pseudo_unseen, replace=False)))
    val_seen = tuple(c for c in range(n_cls) if c not in pseudo)
    is_pseudo = np.isin(data.labels, pseudo)
    val_train = np.flatnonzero(~data.holdout & ~is_pseudo)
    val_held = np.flatnonzero(data.holdout & ~is_pseudo)
    val_unseen = np.flatnonzero(is_pseudo)  # both sides: the validation backbone saw none of them
    log.info("validation run: pseudo-unseen %s", ", ".join(CLASS_NAMES[c] for c in pseudo))
    vmodel, _ = _train(data, val_train, val_seen, cfg)
    feats, logits, labels = {}, {}, {}
    for name, idx in (("val_train", val_train), ("val_seen", val_held), ("val_unseen", val_unseen)):
        feats[name], logits[name] = _features(vmodel, data, idx, cfg)
        labels[name] = data.labels[idx]
    val = validate_variant(feats, logits, labels, text_emb, pseudo, zcfg, k=len(pseudo))
    return {"pseudo": pseudo, "labels": labels, "val": val}


def _main_run(data, cfg: DefaultModelConfig, text_emb: np.ndarray, zcfg, val) -> dict:
    """Phase 2: train the backbone on every class, then SA-DVAE for the chosen number of cycles.

    Returns:
        ``model`` (the backbone), ``windows`` (per epoch), ``final`` (the last SA-DVAE run), ``train_idx``,
        ``held_idx``, ``lg_held`` ``(held, classes)`` and ``latent`` (the SA-DVAE branch's held-out predictions).
    """
    train_idx, held_idx = np.flatnonzero(~data.holdout), np.flatnonzero(data.holdout)
    all_classes = tuple(range(len(CLASS_NAMES)))
    model, windows = _train(data, train_idx, all_classes, cfg)
    f_train, _ = _features(model, data, train_idx, cfg)
    f_held, lg_held = _features(model, data, held_idx, cfg)
    runs = train_sadvae(f_train, data.labels[train_idx], text_emb, all_classes, replace(zcfg, cycles=val.best + 1))
    final = runs[-1]
    latent = zsl_probs(final.model, final.classifier, f_held, zcfg.device).argmax(1)
    return {
        "model": model,
        "windows": windows,
        "final": final,
        "train_idx": train_idx,
        "held_idx": held_idx,
        "lg_held": lg_held,
        "latent": latent,
    }


def _metrics(data, validation: dict, main: dict, seconds: dict[str, float]) -> dict:
    """Phase 3a: the bundle's metrics block (held-out accuracies, validation choices, training facts, timings)."""
    val, pseudo, held_idx = validation["val"], validation["pseudo"], main["held_idx"]
    holdout = accuracies(main["lg_held"], data.labels[held_idx], data.dataset[held_idx])
    holdout["latent_top1"] = float(np.mean(main["latent"] == data.labels[held_idx]))
    return {
        "holdout": holdout,
        "validation": {
            "pseudo_unseen": [CLASS_NAMES[c] for c in pseudo],
            "zsl_curve": [float(v) for v in val.curve],
            "chosen_cycles": val.best + 1,
            "zsl_top1": float(val.curve[val.best]),
            "gate_balanced_accuracy": float(val.gate.val_accuracy),
            "samples": {k: int(len(v)) for k, v in validation["labels"].items()},
        },
        "train": {
            "sequences": int(len(main["train_idx"])),
            "windows_per_epoch": main["windows"],
            "loss": main["final"].losses,
        },
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }


def _provenance(cfg: DefaultModelConfig, inputs: dict, command: str | None) -> dict:
    """Phase 3b: the bundle's provenance block (command, code state, datasets used, merge table, versions)."""
    import torch

    data, roots, loaded = inputs["data"], inputs["roots"], inputs["loaded"]
    used = {
        n: dict(
            root=str(roots[n]),
            sequences_used=int((data.dataset == d).sum()),
            rejected_by_reader=len(loaded[n].rejected),
            **DATASET_TERMS[n],
        )
        for d, n in enumerate(DATASET_NAMES)
    }
    versions = {"python": platform.python_version(), "torch": str(torch.__version__), "numpy": str(np.__version__)}
    return {
        "recipe": "scripts/train_default",
        "dataset": "+".join(DATASET_NAMES),
        "command": command,
        **git_state(),
        "datasets": used,
        "merge_table": {name: [list(m) for m in members] for name, members in MERGE_TABLE},
        "seed": cfg.seed,
        "config": json.loads(json.dumps(asdict(cfg))),
        "versions": versions,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def train_default(cfg: DefaultModelConfig, command: str | None = None) -> Path:
    """Train the default model and write its bundle.

    Args:
        cfg: the recipe.
        command: the command line that ran it (recorded in the provenance).

    Returns:
        The bundle path (``cfg.out``); its ``metrics`` hold the validation numbers.

    Raises:
        ConfigError: no ``skeleton_sets/`` under the data root, a dataset class missing from
            :data:`MERGE_TABLE`, or a variant other than "tc"; DataFormatError: a malformed data file.
    """
    import torch

    from sadvae.bundle import save_bundle

    t_start = time.time()
    seconds: dict[str, float] = {}
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.zsl.variant != "tc":
        raise ConfigError(f"the default model uses SA-DVAE variant 'tc', got {cfg.zsl.variant!r}")
    inputs = _load_inputs(cfg)
    data, text_emb, zcfg = inputs["data"], inputs["text_emb"], inputs["zcfg"]
    seconds["load"] = time.time() - t_start

    t0 = time.time()
    validation = _validation_run(data, cfg, text_emb, zcfg)
    val = validation["val"]
    seconds["validation"] = time.time() - t0
    log.info(
        "validation: pseudo-unseen ZSL per cycle %s -> cycle %d; gate balanced accuracy %.3f",
        [round(v, 3) for v in val.curve],
        val.best + 1,
        val.gate.val_accuracy,
    )

    t0 = time.time()
    main = _main_run(data, cfg, text_emb, zcfg, val)
    seconds["main"] = time.time() - t0
    seconds["total"] = time.time() - t_start

    path = save_bundle(
        cfg.out,
        backbone=main["model"],
        sadvae=main["final"].model,
        gate=val.gate,
        class_names=CLASS_NAMES,
        seen_classes=tuple(range(len(CLASS_NAMES))),
        unseen_classes=(),
        encoder_id=inputs["encoder_id"],
        text_cfg=cfg.text,
        preprocess=cfg.backbone.preprocess,
        metrics=_metrics(data, validation, main, seconds),
        provenance=_provenance(cfg, inputs, command),
    )
    log.info("wrote %s (%.1f MB) in %.1f min", path, path.stat().st_size / 1e6, seconds["total"] / 60)
    return path


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def metrics_markdown(metrics: dict, provenance: dict) -> str:
    """The model card's "Validation metrics" section body, filled from a bundle's metrics and provenance."""
    h, v = metrics["holdout"], metrics["validation"]
    per_ds = h["per_dataset_top1"]
    lines = [
        f"Run: commit `{provenance.get('git_commit')}`{' (dirty tree)' if provenance.get('git_dirty') else ''}, "
        f"seed {provenance.get('seed')}, {metrics['seconds']['total'] / 60:.1f} min, `{provenance.get('command')}`.",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| held-out samples (MSR/UTKinect even subjects, NW-UCLA view 3) | {h['samples']} |",
        f"| seen-class top-1, {len(CLASS_NAMES)} classes (backbone head) | {_pct(h['top1'])} |",
        f"| seen-class top-5 | {_pct(h['top5'])} |",
        f"| seen-class mean per-class top-1 | {_pct(h['mean_class_top1'])} |",
    ]
    lines += [f"| top-1 on {n} | {_pct(per_ds[n])} |" for n in DATASET_NAMES if n in per_ds]
    lines += [
        f"| SA-DVAE latent top-1 over all {len(CLASS_NAMES)} class names (text side) | {_pct(h['latent_top1'])} |",
        f"| pseudo-unseen ZSL top-1, {len(v['pseudo_unseen'])} classes ({', '.join(v['pseudo_unseen'])}) "
        f"| {_pct(v['zsl_top1'])} |",
        f"| SA-DVAE cycles chosen on the validation run | {v['chosen_cycles']} of {len(v['zsl_curve'])} |",
        f"| seen/unseen gate balanced accuracy (5-fold cross-validated) | {_pct(v['gate_balanced_accuracy'])} |",
        "",
        "Held-out top-1 per class:",
        "",
        "| class | top-1 |",
        "|---|---|",
    ]
    lines += [f"| {name} | {_pct(acc)} |" for name, acc in h["per_class_top1"].items()]
    return "\n".join(lines)
