"""Recipe ``shiftgcn-v2`` of the default model: the frozen NTU-120 Shift-GCN + heads over many classes.

``scripts/train_default`` runs it (``--recipe stgcn-v1`` runs the round-1 ST-GCN recipe of
:mod:`sadvae.train.default_model`). Everything trains on cached features, so it runs on a CPU in minutes
once the features are extracted (:mod:`sadvae.train.window_features`, ``runs/features/windows``).

Data and sides:

- Sets: MSR Action3D, NW-UCLA, UTKinect, HDM05, Bandai-Namco (:data:`sadvae.train.class_table.TABLE_DATASETS`);
  their classes are columns of :func:`sadvae.train.class_table.class_table` (NTU-120 names first, scored by
  the frozen fc; then the extra classes, scored by the extra linear head).
- Each set's standard test side (registry protocol) is never trained on, tuned on or calibrated on; the
  bundle's metrics come from it.
- The training side is split once more by whole groups (:func:`inner_validation`): *inner validation*
  (subjects, or styles where subjects are unknown; every third group from the second, never a group
  that holds all of a class's training clips). Every choice (head variant, weight decay, window
  length) is made on it, and the calibration is fitted on it, with models trained without it.

Steps: per-window features of the frozen Shift-GCN (``window`` frames at 30 fps, every ``window / 2``
frames, official NTU normalisation); the extra linear head on the windows of the training side, trained
with the NTU fc logits in the same softmax (``joint``) or alone (``independent``), chosen on inner
validation; SA-DVAE on the same features over every trained column, with the class names as text (the
zero-shot branch); the head calibration (:func:`sadvae.head.fit.fit_head_calibration`) on inner-validation
windows scored by a head and an SA-DVAE trained without them; the bundle (Shift-GCN + extra head,
:class:`sadvae.models.extra_head.ExtraHeadBackbone`), its ``.head.json`` calibration and its provenance
(seed, git state, data and weight checksums, the class table).

The *inner model* (``inner_only=True``, ``scripts/train_default --inner-only``): the same recipe with the final
extra head and SA-DVAE trained on the inner-train windows only (training side minus inner validation) instead
of the whole training side. Selection, calibration (already cross-fitted on inner validation) and export are
unchanged. Its scores on inner-validation clips are those of a model that never saw them, which is what
``scripts/tune_decisions.py`` needs to choose the live decision thresholds; its metrics and provenance say
``"model": "inner"``. It is not the packaged model.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path

import numpy as np

from sadvae.errors import ConfigError
from sadvae.text import TextConfig
from sadvae.train.class_table import TABLE_DATASETS, ClassTable, class_table
from sadvae.train.zsl import ZSLTrainConfig

__all__ = [
    "RECIPE",
    "RUN_SETTINGS",
    "ShiftGCNDefaultConfig",
    "model_settings",
    "differing_settings",
    "recorded_config",
    "WindowData",
    "inner_validation",
    "load_window_data",
    "fit_extra_head",
    "head_logits",
    "topk_metrics",
    "compare_heads",
    "window_sweep",
    "train_default_shiftgcn",
    "final_training_rows",
    "rescore_bundle",
    "recalibrate_bundle",
    "recipe_bundle",
    "recipe_extractor",
    "load_mirror_data",
    "holdout_markdown",
    "metrics_markdown",
    "sweep_markdown",
]

log = logging.getLogger(__name__)

RECIPE = "shiftgcn-v2"
HEAD_VARIANTS = ("joint", "independent")
SHIFTGCN_TERMS = (
    "The backbone is the released Shift-GCN NTU RGB+D 120 cross-subject joint-stream model (kchengiva/Shift-GCN), "
    "licensed CC BY-NC 4.0: this model is derived from it and is for non-commercial use only. NTU RGB+D is "
    "released for academic research only. The training sets' own terms apply too (see provenance.datasets)."
)
DATASET_TERMS = {
    "msr_action3d": "research use; cite Li, Zhang, Liu, CVPR Workshops 2010",
    "nw_ucla": "research use; cite Wang et al., CVPR 2014; the all_sqe copy is CC BY-NC 4.0",
    "utkinect": "research use; cite Xia, Chen, Aggarwal, CVPR Workshops 2012",
    "hdm05": "CC BY-SA 3.0; cite Mueller et al., HDM05 tech. report CG-2007-2",
    "bandai_namco": "CC BY-NC 4.0 (Bandai Namco Research Motion Dataset)",
}


# Live stride (frames at 30 fps between two windows of a track), chosen by measurement: the one-person
# T=96 graph costs 57 CPU ms per window in ONNX Runtime on the 2-core x86_64 CPU (`sadvae bench latency`,
# docs/default_model_v2.md), so a window every 24 frames (T/4, 0.8 s) costs 2.4 ms per frame amortised,
# under the 3 ms budget of issue 12 with room for load; 20 would give 2.85 ms, 16 3.6 ms.
LIVE_STRIDE = 24


def _default_out() -> str:
    from sadvae.assets import default_bundle_path

    return str(default_bundle_path())


@dataclass(frozen=True)
class ShiftGCNDefaultConfig:
    """The ``shiftgcn-v2`` recipe.

    Attributes:
        out: bundle to write (default: the packaged ``sadvae/assets/default_model.pt``).
        data_root: folder holding the sets (None: ``../shared/data``).
        weights: Shift-GCN checkpoint (short name or path), or several joined by ``+``: one backbone of them
            (:class:`sadvae.models.shiftgcn_ensemble.ShiftGCNEnsemble`, features side by side, logits averaged).
        window: frames per window at 30 fps (a multiple of 4). 96 (3.2 s) was chosen on inner validation
            (training sides only): 55.0 % window top-1 against 49.9 % at 64 (docs/default_model_v2.md).
        stride: frames between training windows of a clip (None: window/2; else an integer >= 1).
        live_stride: the bundle's live stride (:class:`sadvae.bundle.LiveConfig`), frames at 30 fps between
            two live windows of a track; :data:`LIVE_STRIDE` was chosen by measurement (recogniser cost
            amortised per frame at most 3 ms on the 2-core CPU).
        datasets: the sets trained on.
        seed: seeds every head and SA-DVAE.
        head: "joint", "independent" or "auto" (the better on inner validation).
        weight_decays: L2 strengths of the extra head tried on inner validation (the best is used; the round
            before chose 1e-4 at the edge of 1e-4..1e-2, so the grid is centred on it).
        zsl: SA-DVAE training; text: sentence encoder and template.
        calibrate: fit the head calibration (needs a second SA-DVAE trained without inner validation).
        limit_per_class: at most n clips per (set, class, side) (tests and smoke runs only).
        feature_dir: window-feature cache (None: runs/features/windows).
        threads: torch CPU threads (0: torch's default; the provenance's ``threads`` records the count used).
        augment: None, or an augmentation of :data:`sadvae.train.augment.AUGMENTS` ("camera": the measured
            MediaPipe-vs-Kinect differences): ``augment_copies`` augmented copies of every inner-train window
            go through the frozen backbone once (cached) and join the training rows of every head and SA-DVAE;
            inner validation and the test sides stay unaugmented, so selection and metrics are comparable.
    """

    out: str = field(default_factory=_default_out)
    data_root: str | None = None
    weights: str = "ntu120_xsub"
    window: int = 96
    stride: int | None = None
    live_stride: int = LIVE_STRIDE
    datasets: tuple[str, ...] = TABLE_DATASETS
    seed: int = 0
    head: str = "auto"
    weight_decays: tuple[float, ...] = (1e-5, 1e-4, 1e-3)
    zsl: ZSLTrainConfig = field(default_factory=ZSLTrainConfig)
    text: TextConfig = field(default_factory=TextConfig)
    calibrate: bool = True
    limit_per_class: int | None = None
    feature_dir: str | None = None
    threads: int = 0
    augment: str | None = None
    augment_copies: int = 1


# Settings that say where and how the recipe runs, not what it trains (dotted: fields of the nested configs). The
# packaged model may be rebuilt with any of them; --rescore and --recalibrate take them from the command line and
# every other setting from the bundle's recorded config (tests/sadvae/train/test_default_model.py drops the same
# ones when it checks the packaged bundle against the defaults).
RUN_SETTINGS = ("out", "data_root", "feature_dir", "threads", "zsl.device", "text.device", "text.cache_dir")


def _flat(cfg) -> dict[str, object]:
    """``cfg``'s settings by dotted name (nested configs flattened), as JSON values (tuples become lists)."""
    out: dict[str, object] = {}

    def walk(prefix: str, d: dict) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(f"{prefix}{k}.", v)
            else:
                out[prefix + k] = v

    walk("", json.loads(json.dumps(asdict(cfg))))
    return out


def model_settings(cfg: ShiftGCNDefaultConfig) -> dict[str, object]:
    """The settings of ``cfg`` that change what the recipe trains (all but :data:`RUN_SETTINGS`), by dotted name
    (``"zsl.cycles"``), as JSON values."""
    return {k: v for k, v in _flat(cfg).items() if k not in RUN_SETTINGS}


def differing_settings(cfg: ShiftGCNDefaultConfig, other: ShiftGCNDefaultConfig | None = None) -> list[str]:
    """Dotted names of the model settings (:func:`model_settings`) in which ``cfg`` differs from ``other``
    (default: the recipe's defaults, ``ShiftGCNDefaultConfig()``)."""
    mine, theirs = model_settings(cfg), model_settings(other or ShiftGCNDefaultConfig())
    return [k for k, v in mine.items() if v != theirs.get(k)]


def recorded_config(recorded: Mapping) -> ShiftGCNDefaultConfig:
    """The recipe config a bundle's ``provenance["config"]`` records, nested configs (``zsl``, ``text``) rebuilt.

    Settings the record lacks (added to the recipe after the bundle was built, with defaults that keep the old
    behaviour) keep their defaults; settings the current recipe does not know are logged and ignored.

    Raises:
        ConfigError: a record that is not a mapping, or a value the config does not accept.
    """
    return _rebuild(ShiftGCNDefaultConfig(), recorded, "config")


def _rebuild(default, recorded, where: str):
    if not isinstance(recorded, Mapping):
        raise ConfigError(f"provenance {where}: expected a mapping of settings, got {type(recorded).__name__}")
    names = [f.name for f in fields(default)]
    unknown = sorted(set(recorded) - set(names))
    if unknown:
        log.warning("provenance %s: settings the current recipe does not know, ignored: %s", where, unknown)
    values = {}
    for name in names:
        if name not in recorded:
            continue
        now, value = getattr(default, name), recorded[name]
        if is_dataclass(now):
            value = _rebuild(now, value, f"{where}.{name}")
        elif isinstance(now, tuple) and isinstance(value, list):
            value = tuple(value)
        values[name] = value
    try:
        return replace(default, **values)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"provenance {where}: not a valid {type(default).__name__}: {e}") from None


def _with_run_settings(cfg: ShiftGCNDefaultConfig, run: ShiftGCNDefaultConfig) -> ShiftGCNDefaultConfig:
    """``cfg`` with the :data:`RUN_SETTINGS` of ``run`` (paths, threads, devices, the text cache)."""
    return replace(
        cfg,
        out=run.out,
        data_root=run.data_root,
        feature_dir=run.feature_dir,
        threads=run.threads,
        zsl=replace(cfg.zsl, device=run.zsl.device),
        text=replace(cfg.text, device=run.text.device, cache_dir=run.text.cache_dir),
    )


# ----------------------------------------------------------------------------------------------- data


@dataclass
class WindowData:
    """Every window of every set as one table (rows = windows).

    Attributes:
        feats: float32 [W, 256]; ntu_logits: float32 [W, 120] (the frozen fc).
        column: int [W] class-table column; dataset: int [W] index into ``datasets``.
        clip: int [W] global clip id (windows of one clip share it).
        test: bool [W] on the set's standard test side; inner_val: bool [W] inner validation (training side).
        datasets: the set names; roots: their folders; fingerprints: their data fingerprints.
        clips_per_set: clips used per set.
    """

    feats: np.ndarray
    ntu_logits: np.ndarray
    column: np.ndarray
    dataset: np.ndarray
    clip: np.ndarray
    test: np.ndarray
    inner_val: np.ndarray
    datasets: tuple[str, ...]
    roots: dict[str, str]
    fingerprints: dict[str, str]
    clips_per_set: dict[str, int]

    def rows(self, mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask)


def inner_validation(labels: np.ndarray, subjects: np.ndarray, views: np.ndarray, test: np.ndarray) -> np.ndarray:
    """bool [n]: the training-side clips of inner validation (module docstring).

    Groups are subjects when the training side has at least three known ones, else views (styles for
    Bandai-Namco). Sorted groups with index % 3 == 1 are validation, except a group holding every
    training clip of some class (it stays in training, so every class keeps training data).
    """
    train = ~test
    groups = subjects if len(np.unique(subjects[train & (subjects >= 0)])) >= 3 else views
    uniq = sorted(int(g) for g in np.unique(groups[train]) if g >= 0)
    sole = set()
    for c in np.unique(labels[train]):
        gs = np.unique(groups[train & (labels == c)])
        if len(gs) == 1:
            sole.add(int(gs[0]))
    val_groups = [g for i, g in enumerate(uniq) if i % 3 == 1 and g not in sole]
    return train & np.isin(groups, val_groups)


def recipe_extractor(cfg: ShiftGCNDefaultConfig, window: int | None = None):
    """The frozen backbone's window extractor: one Shift-GCN, or for ``weights="a+b"`` an ensemble of them."""
    from sadvae.features import shiftgcn_extractor
    from sadvae.models.pretrained import resolve_shiftgcn_weights

    w = window or cfg.window
    stride = cfg.stride if (cfg.stride and window is None) else w // 2
    return shiftgcn_extractor(cfg.weights, w, stride, resolve=resolve_shiftgcn_weights)


def _data_root(cfg: ShiftGCNDefaultConfig) -> Path:
    from sadvae.paths import shared_data_root

    root = Path(cfg.data_root) if cfg.data_root else shared_data_root()
    if not root.is_dir():
        raise ConfigError(
            f"{root}: data root not found; pass --data-root, the folder holding skeleton_sets/ and mocap/"
        )
    return root


def recipe_sources(cfg: ShiftGCNDefaultConfig) -> list:
    """The :class:`sadvae.data.registry.DatasetSource` of every entry of ``cfg.datasets``: a registered set under the
    data root, or a user's clip folder (docs/data_format.md, "A model for the live system")."""
    from sadvae.data.registry import DATASETS, dataset_source

    root = _data_root(cfg) if any(n in DATASETS for n in cfg.datasets) else None
    sources = [dataset_source(n, root or ".") for n in cfg.datasets]
    keys = [src.key for src in sources]
    if len(set(keys)) < len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise ConfigError(f"datasets: {twice} listed twice; list each set once")
    return sources


def recipe_table(cfg: ShiftGCNDefaultConfig, restrict: bool = True) -> ClassTable:
    """The class table of ``cfg``'s sets: :func:`sadvae.train.class_table.class_table` with the clip folders'
    classes (``classes.txt``), restricted to the columns those sets train (:meth:`ClassTable.restricted`; the five
    shared sets give the whole table). ``restrict=False``: every column, as bundles trained on some of the shared sets
    held until 7 December 2026 (the others' classes were columns no window trained)."""
    from sadvae.data.registry import DATASETS, dataset_key, dataset_source
    from sadvae.data.user_format import CLASSES_FILE, read_classes

    own = [dataset_source(n, ".") for n in cfg.datasets if n not in DATASETS]  # the registered sets are not read
    table = class_table(tuple((src.key, tuple(read_classes(src.root / CLASSES_FILE).names)) for src in own))
    return table.restricted(map(dataset_key, cfg.datasets)) if restrict else table


def _check_sides(name: str, labels: np.ndarray, test: np.ndarray) -> None:
    """A clip folder needs clips on both sides and two classes on its test side (the calibration's lists of siblings).

    Raises:
        ConfigError: naming the folder, the side and the fix.
    """
    train_classes = np.unique(labels[~test & (labels >= 0)])
    test_classes = np.unique(labels[test & (labels >= 0)])
    if not len(train_classes) or len(test_classes) < 2:
        side = "training" if not len(train_classes) else "test"
        raise ConfigError(
            f"{name}: its {side} side holds {len(train_classes) if side == 'training' else len(test_classes)} "
            "classes; the recipe trains on the training side and measures and calibrates on the test side (two "
            "classes or more): give clips on both sides (their `split` fields, or subjects: docs/data_format.md)"
        )


def _require_inner_validation(data: WindowData, va: np.ndarray) -> None:
    if not len(va):
        raise ConfigError(
            f"inner validation is empty: it holds out whole subjects of the training sides (views where a set has "
            f"fewer than three subjects there), and {', '.join(data.datasets)} give none to hold out; give the clips "
            "subjects, three or more on the training side (docs/data_format.md), or more clips per class"
        )


def _limited(ds, test: np.ndarray, n: int | None) -> np.ndarray:
    """Clip rows: the first n of each (class, side) (all when n is None)."""
    if n is None:
        return np.arange(len(ds.sequences))
    count: dict[tuple[int, bool], int] = {}
    keep = []
    for i, s in enumerate(ds.sequences):
        key = (-1 if s.label is None else int(s.label), bool(test[i]))
        count[key] = count.get(key, 0) + 1
        if count[key] <= n:
            keep.append(i)
    return np.asarray(keep, np.int64)


def load_window_data(
    cfg: ShiftGCNDefaultConfig, table: ClassTable, window: int | None = None, clip_filter=None, mirror: bool = False
) -> WindowData:
    """Per-window features of every set in ``cfg.datasets`` (cached), with columns and sides.

    Args:
        cfg: the recipe; table: the class table.
        window: override of ``cfg.window`` (window sweep).
        clip_filter: ``(dataset name, Dataset, test [n], inner_val [n]) -> clip rows`` to extract only some clips
            (None: all clips, or the first ``cfg.limit_per_class`` per class and side).
        mirror: the clips' left-right mirror images (:class:`sadvae.train.window_features.MirroredWindows`; no
            augmented copies); their windows line up with the same clips' windows without it.
    """
    from sadvae.features import dataset_fingerprint
    from sadvae.train.protocol import dataset_arrays, test_side_mask
    from sadvae.train.window_features import AugmentedWindows, MirroredWindows, window_features

    ex = recipe_extractor(cfg, window)
    ex = MirroredWindows(ex) if mirror else ex
    parts: dict[str, list] = {k: [] for k in ("feats", "logits", "column", "dataset", "clip", "test", "val")}
    roots, prints, used = {}, {}, {}
    offset = 0
    sources = recipe_sources(cfg)
    keys = [src.key for src in sources]
    for d, src in enumerate(sources):
        name, r = src.key, src.root
        fp = dataset_fingerprint(r, name)  # with the reader code: a changed reader extracts again
        roots[name], prints[name] = str(r), fp

        def select(ds, name=name):
            test = test_side_mask(ds, name)
            lab, subj, view = dataset_arrays(ds)
            if clip_filter is not None:
                return clip_filter(name, ds, test, inner_validation(lab, subj, view, test))
            return _limited(ds, test, cfg.limit_per_class)

        needs_select = clip_filter is not None or cfg.limit_per_class is not None
        wf = window_features(
            ex,
            name,
            src.load,
            fp,
            select=select if needs_select else None,
            cache_dir=cfg.feature_dir,
        )
        # a test clip that repeats a training clip (NW-UCLA's release: 95) was trained on: neither trained again nor
        # scored (until 7 December 2026 the held-out metrics counted them)
        twins = _copies(src, wf)
        if not src.registered:  # a user's folder: the recipe trains on one side and scores on the other
            _check_sides(name, wf.labels, wf.test_side & ~twins)
        cols = np.asarray(table.columns(name, wf.class_names))
        val = inner_validation(wf.labels, wf.subjects, wf.views, wf.test_side)
        keep = (wf.labels[wf.owner] >= 0) & ~twins[wf.owner]
        own = wf.owner[keep]
        parts["feats"].append(wf.feats[keep])
        parts["logits"].append(wf.logits[keep])
        parts["column"].append(cols[wf.labels[own]])
        parts["dataset"].append(np.full(len(own), d))
        parts["clip"].append(own + offset)
        parts["test"].append(wf.test_side[own])
        parts["val"].append(val[own])
        used[name] = int(len(np.unique(own)))
        offset += len(wf.labels)
        if mirror and cfg.augment:  # no copies of mirror images, but the same clip ids as without mirror
            offset += cfg.augment_copies * len(wf.labels)
        for k in range(cfg.augment_copies if cfg.augment and not mirror else 0):
            # camera-like copies of the inner-train clips only: never of inner validation or the test side
            inner_train = np.flatnonzero(wf.extracted & ~wf.test_side & ~val & (wf.labels >= 0))
            aw = window_features(
                AugmentedWindows(ex, cfg.augment, cfg.seed, k),
                name,
                src.load,
                fp,
                clips=inner_train,
                cache_dir=cfg.feature_dir,
            )
            parts["feats"].append(aw.feats)
            parts["logits"].append(aw.logits)
            parts["column"].append(cols[aw.labels[aw.owner]])
            parts["dataset"].append(np.full(len(aw.owner), d))
            parts["clip"].append(aw.owner + offset)  # ids of their own: a copy is never scored as its clip
            parts["test"].append(np.zeros(len(aw.owner), bool))
            parts["val"].append(np.zeros(len(aw.owner), bool))
            offset += len(wf.labels)
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    return WindowData(
        cat["feats"],
        cat["logits"],
        cat["column"],
        cat["dataset"],
        cat["clip"],
        cat["test"],
        cat["val"],
        tuple(keys),
        roots,
        prints,
        used,
    )


def _copies(src, wf) -> np.ndarray:
    """Boolean [clips]: the test-side clips of ``src`` that repeat a training-side clip (:func:`copies_of_training`)."""
    from sadvae.data.splits import copies_of_training

    ds = src.load()
    if len(ds.sequences) != len(wf.test_side):
        raise ConfigError(
            f"{src.key}: {len(ds.sequences)} clips read now, its cached window features hold {len(wf.test_side)}: "
            f"the cache is stale; delete {wf.path or 'it (--feature-dir)'} and run again"
        )
    return copies_of_training(ds, wf.test_side)


# ----------------------------------------------------------------------------------------------- heads


@dataclass
class ExtraHead:
    """A linear head on raw features: logits = feats @ weight.T + bias (standardisation folded in).

    Attributes:
        weight: float32 [K_extra, d]; bias: float32 [K_extra]; variant: "joint" or "independent";
        weight_decay: its L2 strength; trained: bool [K_extra] columns that had training windows.
    """

    weight: np.ndarray
    bias: np.ndarray
    variant: str
    weight_decay: float
    trained: np.ndarray

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        return feats @ self.weight.T + self.bias


def fit_extra_head(
    feats: np.ndarray,
    ntu_logits: np.ndarray,
    column: np.ndarray,
    num_ntu: int,
    num_extra: int,
    variant: str = "joint",
    weight_decay: float = 1e-3,
    seed: int = 0,
    steps: int = 300,
) -> ExtraHead:
    """Train the extra linear head on windows (full-batch L-BFGS, L2 on the weights, classes balanced).

    ``joint``: softmax over [fc logits (frozen) ++ extra logits] against the window's column, so the extra
    logits learn the fc's scale and windows of NTU-mapped classes push the extra columns down.
    ``independent``: softmax over the extra columns only, on the windows of extra classes.

    Args:
        feats: float [W, d]; ntu_logits: float [W, num_ntu]; column: int [W] class-table columns.
        num_ntu, num_extra: column counts; variant, weight_decay, seed, steps: see above.
    """
    import torch

    if variant not in HEAD_VARIANTS:
        raise ConfigError(f"unknown extra-head variant {variant!r}; choose one of {list(HEAD_VARIANTS)}")
    torch.manual_seed(seed)
    x, col = np.asarray(feats, np.float32), np.asarray(column)
    if variant == "independent":
        keep = col >= num_ntu
        x, col, lg = x[keep], col[keep] - num_ntu, None
        k_total = num_extra
    else:
        lg = torch.as_tensor(np.asarray(ntu_logits, np.float32))
        k_total = num_ntu + num_extra
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xt = torch.as_tensor((x - mu) / sd)
    yt = torch.as_tensor(col, dtype=torch.long)
    counts = np.bincount(col, minlength=k_total).astype(np.float64)
    w_cls = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max((counts > 0).sum(), 1), 0.0)
    wt = torch.as_tensor(w_cls, dtype=torch.float32)
    lin = torch.nn.Linear(x.shape[1], num_extra)
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    opt = torch.optim.LBFGS(lin.parameters(), lr=1.0, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        z = lin(xt) if lg is None else torch.cat([lg, lin(xt)], 1)
        loss = torch.nn.functional.cross_entropy(z, yt, weight=wt) + weight_decay * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w = lin.weight.detach().numpy() / sd[None, :]
    b = lin.bias.detach().numpy() - w @ mu
    trained = np.zeros(num_extra, bool)
    trained[np.unique(col[col >= (0 if lg is None else num_ntu)]) - (0 if lg is None else num_ntu)] = True
    return ExtraHead(w.astype(np.float32), b.astype(np.float32), variant, float(weight_decay), trained)


def head_logits(head: ExtraHead, feats: np.ndarray, ntu_logits: np.ndarray) -> np.ndarray:
    """[W, num_ntu + K_extra]: the fc's logits then the extra head's (what the bundle's backbone outputs)."""
    return np.concatenate([np.asarray(ntu_logits, np.float32), head(np.asarray(feats, np.float32))], 1)


def _clip_mean(values: np.ndarray, clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(clip ids, mean of ``values`` per clip)."""
    ids, pos = np.unique(clip, return_inverse=True)
    out = np.zeros((len(ids), values.shape[1]))
    np.add.at(out, pos, values)
    return ids, out / np.bincount(pos)[:, None]


def topk_metrics(scores: np.ndarray, truth: np.ndarray, allowed: np.ndarray | None = None) -> dict:
    """top-1 / top-5 / mean-class top-1 of ``scores`` [n, K] (restricted to ``allowed`` columns when given)."""
    s = np.asarray(scores, np.float64)
    if allowed is not None:
        s = np.where(np.isin(np.arange(s.shape[1]), allowed)[None, :], s, -np.inf)
    order = np.argsort(-s, axis=1, kind="stable")[:, :5]
    hit1 = order[:, 0] == truth
    per = [hit1[truth == c].mean() for c in np.unique(truth)]
    return {
        "n": int(len(truth)),
        "top1": float(hit1.mean()),
        "top5": float((order == truth[:, None]).any(1).mean()),
        "mean_class_top1": float(np.mean(per)) if per else float("nan"),
    }


ROUND1_SETS = ("msr_action3d", "nw_ucla", "utkinect")


def _round1_columns(table: ClassTable) -> np.ndarray:
    """Columns holding a class of MSR Action3D, NW-UCLA or UTKinect (what the round-1 model was trained on)."""
    return np.array([c for c, ms in enumerate(table.members) if any(d in ROUND1_SETS for d, _ in ms)])


def _evaluate(logits: np.ndarray, data: WindowData, rows: np.ndarray, table: ClassTable) -> dict:
    """Per set: window and clip (mean logits) top-1/top-5 over every column and over the set's own columns."""
    out = {}
    for d, name in enumerate(data.datasets):
        r = rows[data.dataset[rows] == d]
        if not len(r):
            continue
        own = np.unique(data.column[data.dataset == d])
        ids, clip_lg = _clip_mean(logits[r], data.clip[r])
        truth_of = dict(zip(data.clip[r].tolist(), data.column[r].tolist(), strict=True))
        clip_truth = np.array([truth_of[int(c)] for c in ids])
        out[name] = {
            "windows_all": topk_metrics(logits[r], data.column[r]),
            "clips_all": topk_metrics(clip_lg, clip_truth),
            "clips_own": topk_metrics(clip_lg, clip_truth, own),
            "classes_own": int(len(own)),
        }
        if name in ROUND1_SETS:  # the round-1 model's vocabulary: the three Kinect sets' classes
            r1 = _round1_columns(table)
            out[name]["clips_round1_vocab"] = {"classes": int(len(r1)), **topk_metrics(clip_lg, clip_truth, r1)}
    if out:
        w = [v["windows_all"] for v in out.values()]
        c = [v["clips_all"] for v in out.values()]
        out["mean_over_sets"] = {
            "windows_top1": float(np.mean([m["top1"] for m in w])),
            "clips_top1": float(np.mean([m["top1"] for m in c])),
            "clips_top5": float(np.mean([m["top5"] for m in c])),
        }
    return out


def compare_heads(data: WindowData, table: ClassTable, cfg: ShiftGCNDefaultConfig) -> dict:
    """Head variants x weight decays trained on inner-train windows, scored on inner-validation windows.

    Returns:
        ``{"grid": [{variant, weight_decay, mean window top-1, mean clip top-1, per set}], "best": {...}}``.
    """
    tr = data.rows(~data.test & ~data.inner_val)
    va = data.rows(data.inner_val)
    _require_inner_validation(data, va)
    variants = HEAD_VARIANTS if cfg.head == "auto" else (cfg.head,)
    grid = []
    for v in variants:
        for wd in cfg.weight_decays:
            head = fit_extra_head(
                data.feats[tr],
                data.ntu_logits[tr],
                data.column[tr],
                table.num_ntu,
                len(table.extra_names),
                v,
                wd,
                cfg.seed,
            )
            ev = _evaluate(head_logits(head, data.feats, data.ntu_logits), data, va, table)
            grid.append(
                {
                    "variant": v,
                    "weight_decay": wd,
                    "windows_top1": ev["mean_over_sets"]["windows_top1"],
                    "clips_top1": ev["mean_over_sets"]["clips_top1"],
                    "per_set_windows_top1": {
                        k: x["windows_all"]["top1"] for k, x in ev.items() if k != "mean_over_sets"
                    },
                }
            )
            log.info(
                "inner validation: %s wd=%g -> window top-1 %.3f, clip top-1 %.3f",
                v,
                wd,
                grid[-1]["windows_top1"],
                grid[-1]["clips_top1"],
            )
    best = max(grid, key=lambda g: (g["windows_top1"], g["clips_top1"]))
    return {
        "grid": grid,
        "best": {"variant": best["variant"], "weight_decay": best["weight_decay"]},
        "windows": {"inner_train": int(len(tr)), "inner_val": int(len(va))},
    }


# ----------------------------------------------------------------------------------------------- window sweep


def window_sweep(cfg: ShiftGCNDefaultConfig, windows: Sequence[int] = (48, 64, 96), per_class: int = 8) -> dict:
    """Window length by measurement on the training sides only (inner split), never the test sides.

    For each T (frames at 30 fps, windows every T/2): per-window features of up to ``per_class`` clips per
    (set, class) of the inner-train and of the inner-validation side (seeded choice), the joint head
    (weight decay 1e-3) trained on inner-train windows, scored on inner-validation windows and clips.

    Returns:
        ``{"rows": [{window, seconds, frames, windows_top1, clips_top1, per_set}], "best": T}``.
    """
    table = recipe_table(cfg)
    rng_seed = cfg.seed

    def pick(name, ds, test, val):
        rng = np.random.default_rng([rng_seed, sum(map(ord, Path(name).name))])  # a folder: not where it lies
        labels = np.array([-1 if s.label is None else s.label for s in ds.sequences])
        rows = []
        for side in (~test & ~val, val):
            for c in np.unique(labels[side & (labels >= 0)]):
                idx = np.flatnonzero(side & (labels == c))
                rows += rng.choice(idx, min(per_class, len(idx)), replace=False).tolist()
        return np.asarray(sorted(rows), np.int64)

    rows = []
    for t in windows:
        t0 = time.time()
        data = load_window_data(replace(cfg, limit_per_class=None), table, window=int(t), clip_filter=pick)
        tr, va = data.rows(~data.test & ~data.inner_val), data.rows(data.inner_val)
        _require_inner_validation(data, va)
        head = fit_extra_head(
            data.feats[tr],
            data.ntu_logits[tr],
            data.column[tr],
            table.num_ntu,
            len(table.extra_names),
            "joint",
            1e-3,
            cfg.seed,
        )
        ev = _evaluate(head_logits(head, data.feats, data.ntu_logits), data, va, table)
        rows.append(
            {
                "window": int(t),
                "seconds": round(t / 30.0, 2),
                "windows_train": int(len(tr)),
                "windows_val": int(len(va)),
                "clips_val": int(len(np.unique(data.clip[va]))),
                "windows_top1": ev["mean_over_sets"]["windows_top1"],
                "clips_top1": ev["mean_over_sets"]["clips_top1"],
                "per_set": {
                    k: {"windows_top1": v["windows_all"]["top1"], "clips_top1": v["clips_all"]["top1"]}
                    for k, v in ev.items()
                    if k != "mean_over_sets"
                },
                "wall_s": round(time.time() - t0, 1),
            }
        )
        log.info(
            "window %d: inner-validation window top-1 %.3f, clip top-1 %.3f",
            t,
            rows[-1]["windows_top1"],
            rows[-1]["clips_top1"],
        )
    best = max(rows, key=lambda r: (r["windows_top1"], r["clips_top1"]))["window"]
    return {
        "rows": rows,
        "best": best,
        "per_class": per_class,
        "seed": cfg.seed,
        "protocol": "training sides only; inner split by whole subjects (styles for Bandai-Namco); "
        "joint head, weight decay 1e-3",
    }


def sweep_markdown(sweep: dict) -> str:
    """The window-sweep table as markdown."""
    sets = list(sweep["rows"][0]["per_set"]) if sweep["rows"] else []
    lines = [
        "| T (frames at 30 fps) | seconds | inner-val windows | mean window top-1 | mean clip top-1 | "
        + " | ".join(f"{s} window / clip" for s in sets)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(sets),
    ]
    for r in sweep["rows"]:
        cells = [
            f"{100 * r['per_set'][s]['windows_top1']:.1f} / {100 * r['per_set'][s]['clips_top1']:.1f}" for s in sets
        ]
        lines.append(
            f"| {r['window']} | {r['seconds']} | {r['windows_val']} | {100 * r['windows_top1']:.1f} % | "
            f"{100 * r['clips_top1']:.1f} % | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- the recipe


def _neutral_gate():
    """A gate that never calls a window unseen: this recipe's head mixes branches by calibrated stacking."""
    from sadvae.evaluate import Gate

    return Gate(1.0, 0.5, 5, np.zeros(10), -30.0, float("nan"))


def _sadvae(feats, column, text_emb, classes, zcfg: ZSLTrainConfig):
    from sadvae.train.zsl import train_sadvae

    runs = train_sadvae(feats, column, text_emb, tuple(int(c) for c in classes), zcfg)
    return runs[-1]


def _latents(model, feats: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model.semantic(torch.as_tensor(np.asarray(feats, np.float32))).numpy()


def _prototypes(model, text_emb: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model.encode_text(torch.as_tensor(np.asarray(text_emb, np.float32)))[0].numpy()


def _check_config(cfg: ShiftGCNDefaultConfig) -> None:
    """Reject an unknown head variant, a window the backbone cannot take or a stride below 1, before any work is
    done.

    Raises:
        ConfigError: naming the field and the accepted values.
    """
    if cfg.head not in (*HEAD_VARIANTS, "auto"):
        raise ConfigError(f"unknown head {cfg.head!r}; choose joint, independent or auto")
    if cfg.window % 4 or cfg.window < 8:
        raise ConfigError(f"window must be a multiple of 4 (>= 8), got {cfg.window}")
    if cfg.stride is not None and (isinstance(cfg.stride, bool) or not isinstance(cfg.stride, int) or cfg.stride < 1):
        raise ConfigError(
            f"stride must be an integer >= 1 (frames at 30 fps between training windows) or None (window/2), "
            f"got {cfg.stride!r}"
        )
    if isinstance(cfg.live_stride, bool) or not isinstance(cfg.live_stride, int) or cfg.live_stride < 1:
        raise ConfigError(f"live_stride must be an integer >= 1 (frames at 30 fps), got {cfg.live_stride!r}")
    if cfg.augment is not None:
        from sadvae.train.augment import AUGMENTS

        if cfg.augment not in AUGMENTS:
            raise ConfigError(f"unknown augment {cfg.augment!r}; choose one of {sorted(AUGMENTS)} or none")
        if cfg.augment_copies < 1:
            raise ConfigError(f"augment_copies must be >= 1 with augment {cfg.augment!r}, got {cfg.augment_copies}")


def _fit_heads(data: WindowData, table: ClassTable, cfg: ShiftGCNDefaultConfig, train_rows, test_rows) -> dict:
    """Phase 1: choose the head variant and weight decay on inner validation, refit on ``train_rows``.

    ``train_rows`` is the whole training side (the inner-train windows for the inner model,
    :func:`final_training_rows`). The other variant is refitted with the same weight decay so the metrics can
    show both on the test side.

    Returns:
        ``selection`` (the :func:`compare_heads` report), ``head`` (the chosen :class:`ExtraHead`), ``logits``
        (its ``(N, classes)`` logits on every window), ``holdout`` (its test-side metrics), ``other`` (the other
        variant's name) and ``holdout_other`` (that variant's test-side metrics).
    """
    k_ntu, k_extra = table.num_ntu, len(table.extra_names)
    cmp = compare_heads(data, table, cfg)
    best = cmp["best"]
    head = fit_extra_head(
        data.feats[train_rows],
        data.ntu_logits[train_rows],
        data.column[train_rows],
        k_ntu,
        k_extra,
        best["variant"],
        best["weight_decay"],
        cfg.seed,
    )
    logits = head_logits(head, data.feats, data.ntu_logits)
    holdout = _evaluate(logits, data, test_rows, table)
    other = "independent" if best["variant"] == "joint" else "joint"
    alt = fit_extra_head(
        data.feats[train_rows],
        data.ntu_logits[train_rows],
        data.column[train_rows],
        k_ntu,
        k_extra,
        other,
        best["weight_decay"],
        cfg.seed,
    )
    holdout_alt = _evaluate(head_logits(alt, data.feats, data.ntu_logits), data, test_rows, table)
    return {
        "selection": cmp,
        "head": head,
        "logits": logits,
        "holdout": holdout,
        "other": other,
        "holdout_other": holdout_alt,
    }


def _fit_zero_shot(data: WindowData, table: ClassTable, cfg: ShiftGCNDefaultConfig, train_rows, test_rows) -> dict:
    """Phase 2: train SA-DVAE over every trained column (text = the class names) and score its branch alone.

    Each set's held-out windows are ranked against that set's own class names only.

    Returns:
        ``text_emb`` ``(classes, D)``, ``encoder_id``, ``zcfg`` (the config used), ``run`` (the final training run),
        ``model`` (in eval mode), ``protos`` ``(classes, latent)``, ``lat_test`` ``(test windows, latent)``,
        ``trained_cols`` and ``zero_shot`` (per-set top-k metrics).
    """
    from sadvae.train.protocol import class_text_embeddings

    trained_cols = np.unique(data.column[train_rows])
    text_emb, encoder_id = class_text_embeddings(table.names, cfg.text)
    zcfg = replace(cfg.zsl, seed=cfg.seed)
    final = _sadvae(data.feats[train_rows], data.column[train_rows], text_emb, trained_cols, zcfg)
    model = final.model.eval()
    protos = _prototypes(model, text_emb)
    lat_test = _latents(model, data.feats[test_rows])
    zs = {}
    for d, name in enumerate(data.datasets):  # zero-shot branch alone, the set's own names, held-out windows
        r = np.flatnonzero(data.dataset[test_rows] == d)
        own = np.unique(data.column[data.dataset == d])
        cos = (
            lat_test[r]
            @ protos[own].T
            / (np.linalg.norm(lat_test[r], axis=1, keepdims=True) * np.linalg.norm(protos[own], axis=1)[None] + 1e-12)
        )
        truth = np.searchsorted(own, data.column[test_rows][r])
        zs[name] = topk_metrics(cos, truth)
    return {
        "text_emb": text_emb,
        "encoder_id": encoder_id,
        "zcfg": zcfg,
        "run": final,
        "model": model,
        "protos": protos,
        "lat_test": lat_test,
        "trained_cols": trained_cols,
        "zero_shot": zs,
    }


def _calibrate(
    data: WindowData,
    table: ClassTable,
    cfg: ShiftGCNDefaultConfig,
    heads: dict,
    zsl: dict,
    test_rows: np.ndarray,
    train_rows: np.ndarray,
    reuse_final: bool = False,
    mirror_data: WindowData | None = None,
):
    """Phase 3: fit the branch-mixing calibration on inner-validation windows, cross-fitted.

    The inner-validation windows are scored by a head and an SA-DVAE trained without them; the fitted
    calibration is then evaluated on the test side with the final head and SA-DVAE. ``reuse_final``: the
    final head and SA-DVAE were trained on the inner-train windows already (the inner model), with the same
    variant, weight decay, seed and SA-DVAE config; they are used instead of training the same two again.
    The mixed lists' distance term is fitted with the inner SA-DVAE's class centroids (its own latent space) and
    deployed with the final SA-DVAE's, from its training windows ``train_rows``.

    ``mirror_data``: the inner-validation and test clips' mirror images (``load_window_data(..., mirror=True)``):
    a second calibration is fitted on the windows pooled with their mirror images, for handedness pooling
    (``sadvae-live --handedness pool``), and its report is ``report["handedness_pool"]``.

    Returns:
        ``(calibration, report, pooled calibration or None)``, all ``None`` when ``cfg.calibrate`` is off.
    """
    from sadvae.head.fit import class_centroids, evaluate_calibration, fit_head_calibration
    from sadvae.head.handedness import mirror_columns

    if not cfg.calibrate:
        return None, None, None
    best = heads["selection"]["best"]
    itr, iva = data.rows(~data.test & ~data.inner_val), data.rows(data.inner_val)
    text_emb = zsl["text_emb"]
    if reuse_final:
        h_in, s_in = heads["head"], zsl["model"]
    else:
        h_in = fit_extra_head(
            data.feats[itr],
            data.ntu_logits[itr],
            data.column[itr],
            table.num_ntu,
            len(table.extra_names),
            best["variant"],
            best["weight_decay"],
            cfg.seed,
        )
        s_in = _sadvae(
            data.feats[itr], data.column[itr], text_emb, np.unique(data.column[itr]), zsl["zcfg"]
        ).model.eval()
    lg_va = head_logits(h_in, data.feats[iva], data.ntu_logits[iva])
    lat_va, protos_in = _latents(s_in, data.feats[iva]), _prototypes(s_in, text_emb)
    lat_tr = _latents(s_in, data.feats[itr])
    groups = [np.unique(data.column[iva][data.dataset[iva] == d]) for d in range(len(data.datasets))]
    fit = dict(seed=cfg.seed, train_latent=lat_tr, train_truth=data.column[itr], class_groups=groups)
    source = f"{RECIPE}: inner-validation windows, cross-fitted"
    cal, cal_report = fit_head_calibration(lat_va, lg_va, data.column[iva], protos_in, source=source, **fit)
    pooled, class_mirror = None, mirror_columns(table.names)
    if mirror_data is not None:
        m_va = _aligned_rows(mirror_data, data, iva)
        mirror_va = (
            _latents(s_in, mirror_data.feats[m_va]),
            head_logits(h_in, mirror_data.feats[m_va], mirror_data.ntu_logits[m_va]),
            class_mirror,
        )
        pooled, cal_report["handedness_pool"] = fit_head_calibration(
            lat_va,
            lg_va,
            data.column[iva],
            protos_in,
            source=source + ", pooled with their mirror images",
            mirror=mirror_va,
            **fit,
        )
    final = None
    if cal.uses_distance or (pooled is not None and pooled.uses_distance):  # the deployed model's own latent space
        final = class_centroids(
            _latents(zsl["model"], data.feats[train_rows]), data.column[train_rows], len(table.names)
        )
        final = tuple(tuple(float(x) for x in row) for row in final)
    # both get them when either reads them (a zero weight leaves them unread): the file stores them once
    cal = replace(cal, centroids=final) if final is not None else cal
    lg_te = heads["logits"][test_rows]
    te_groups = [np.unique(data.column[test_rows][data.dataset[test_rows] == d]) for d in range(len(data.datasets))]
    cal_report["held_out"] = evaluate_calibration(
        cal, zsl["lat_test"], lg_te, data.column[test_rows], zsl["protos"], class_groups=te_groups
    )
    if pooled is not None:
        pooled = replace(pooled, centroids=final) if final is not None else pooled
        m_te = _aligned_rows(mirror_data, data, test_rows)
        f_te = mirror_data.feats[m_te]
        lg_te_m = head_logits(heads["head"], f_te, mirror_data.ntu_logits[m_te])
        mirror_te = (_latents(zsl["model"], f_te), lg_te_m, class_mirror)
        cal_report["handedness_pool"]["held_out"] = evaluate_calibration(
            pooled,
            zsl["lat_test"],
            lg_te,
            data.column[test_rows],
            zsl["protos"],
            mirror=mirror_te,
            class_groups=te_groups,
        )
    return cal, cal_report, pooled


def load_mirror_data(cfg: ShiftGCNDefaultConfig, table: ClassTable) -> WindowData:
    """The mirror images' windows of the inner-validation and test clips (the calibration of handedness pooling);
    with ``cfg.limit_per_class``, of those among the clips the recipe uses."""

    def clips(name, ds, test, inner_val):
        rows = np.flatnonzero(test | inner_val)
        return rows if cfg.limit_per_class is None else np.intersect1d(rows, _limited(ds, test, cfg.limit_per_class))

    return load_window_data(cfg, table, clip_filter=clips, mirror=True)


def _write_calibrations(bundle: Path, cal, pooled) -> Path:
    """``<stem>.head.json`` beside ``bundle``: the calibration and the handedness-pooling one (or None), both naming
    the bundle's model id. The constants of labels taught by example (``example_*``), which
    ``scripts/fit_example_curve.py`` fits through the live pipeline, are kept from the file being replaced when it
    was fitted on the same model; a new model gets the built-in values until that script runs (``scripts/train_default``
    runs it as its last step)."""
    import json

    from sadvae.hashing import file_sha256
    from sadvae.head.calibration import calibration_path, write_calibration

    model_id = file_sha256(bundle)
    path = calibration_path(bundle)
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        if isinstance(old, dict) and old.get("model_id") == model_id:
            known = ("example_a", "example_b", "example_temperature")
            keep = {k: float(old[k]) for k in known if isinstance(old.get(k), int | float)}
            cal = replace(cal, **keep)
    pooled = None if pooled is None else replace(pooled, model_id=model_id)
    return write_calibration(path, replace(cal, model_id=model_id), pooled)


def _aligned_rows(mirror_data: WindowData, data: WindowData, rows: np.ndarray) -> np.ndarray:
    """The rows of ``mirror_data`` holding the mirror images of ``data``'s windows ``rows`` (same clips, same
    windows in the same order; ConfigError when the two tables do not line up)."""
    want = data.clip[rows]
    m = np.flatnonzero(np.isin(mirror_data.clip, np.unique(want)))
    if not np.array_equal(mirror_data.clip[m], want):
        raise ConfigError(
            "the mirror images' window features do not line up with the windows' (other clips or window counts); "
            "delete their cache and extract them again"
        )
    return m


def recalibrate_bundle(
    path: str | Path,
    cfg: ShiftGCNDefaultConfig | None = None,
    handedness: bool = True,
    asked: Collection[str] | None = None,
) -> tuple[Path, dict]:
    """Re-fit a ``shiftgcn-v2`` bundle's head calibration with the current code and write its ``.head.json``.

    ``handedness``: also fit the calibration of handedness pooling on the held-out windows pooled with their mirror
    images (their window features are extracted once and cached), stored in the same file.

    Phase 3 of the recipe alone, from the cached window features: the inner head and SA-DVAE are retrained (same
    seed and settings as the recipe), the final ones are the bundle's. The weights are not touched, so the model id
    stays. The bundle's stored metrics keep the calibration report of its training; the new one is returned.

    The settings are the bundle's recorded ones; ``cfg`` gives paths, threads and devices, and ``asked`` the
    settings asked for, refused when not the bundle's (:func:`recipe_bundle`).

    Returns:
        ``(the .head.json path, the calibration report)``.
    """
    from sadvae.train.protocol import class_text_embeddings

    path = Path(path)
    b, cfg, table, data, head = recipe_bundle(path, cfg, asked)
    best = b.metrics.get("head_selection", {}).get("best")
    if not best:
        raise ConfigError(f"{path}: its metrics do not name the chosen head (head_selection.best); retrain it")
    inner = b.metrics.get("model") == INNER_SCOPE["model"]
    train_rows, test_rows = final_training_rows(data, inner), data.rows(data.test)
    model = b.sadvae.eval()
    text_emb, _ = class_text_embeddings(table.names, cfg.text)
    zsl = {
        "text_emb": text_emb,
        "zcfg": replace(cfg.zsl, seed=cfg.seed),
        "model": model,
        "lat_test": _latents(model, data.feats[test_rows]),
        "protos": _prototypes(model, text_emb),
    }
    heads = {"selection": {"best": best}, "head": head, "logits": head_logits(head, data.feats, data.ntu_logits)}
    mirror_data = load_mirror_data(cfg, table) if handedness else None
    cal, report, pooled = _calibrate(data, table, cfg, heads, zsl, test_rows, train_rows, mirror_data=mirror_data)
    out = _write_calibrations(path, cal, pooled)
    return out, report


def _live_backbone(cfg: ShiftGCNDefaultConfig, head: ExtraHead, k_extra: int):
    """Phase 4a: the pretrained Shift-GCN (or ensemble of them) with the trained extra head attached as a
    ``Linear`` layer.

    Returns:
        ``(checkpoint paths, ExtraHeadBackbone)``.
    """
    import torch

    from sadvae.models.extra_head import ExtraHeadBackbone
    from sadvae.models.pretrained import checkpoint_parts, load_pretrained_backbone

    weights = checkpoint_parts(cfg.weights)
    backbone = load_pretrained_backbone(cfg.weights)
    for p in backbone.parameters():
        p.requires_grad_(False)
    backbone.cache_empty_slot = False
    extra = torch.nn.Linear(backbone.feature_dim, k_extra)
    with torch.no_grad():
        extra.weight.copy_(torch.as_tensor(head.weight))
        extra.bias.copy_(torch.as_tensor(head.bias))
    return weights, ExtraHeadBackbone(backbone, extra)


def _metrics(
    cfg, data: WindowData, table: ClassTable, heads: dict, zsl: dict, cal_report, train_rows, test_rows, seconds
) -> dict:
    """Phase 4b: the bundle's metrics block (test-side scores, head selection, calibration, timings)."""
    head, zcfg, stride = heads["head"], zsl["zcfg"], cfg.stride or cfg.window // 2
    return {
        "recipe": RECIPE,
        "protocol": "each set's standard test side (never trained, tuned or calibrated on); windows of "
        f"{cfg.window} frames at 30 fps every {stride}; clip = mean of its windows' logits",
        "holdout": heads["holdout"],
        "holdout_other_head": {"variant": heads["other"], **heads["holdout_other"]},
        "holdout_zero_shot_own_names": zsl["zero_shot"],
        "head_selection": heads["selection"],
        "head": {
            "variant": head.variant,
            "weight_decay": head.weight_decay,
            "extra_classes": len(table.extra_names),
            "extra_trained": int(head.trained.sum()),
        },
        "calibration": cal_report,
        "windows": {"train": int(len(train_rows)), "test": int(len(test_rows)), "inner_val": int(data.inner_val.sum())},
        "clips": data.clips_per_set,
        "sadvae": {
            "cycles": zcfg.cycles,
            "iters_per_cycle": zcfg.iters_per_cycle,
            "losses": zsl["run"].losses,
            "trained_columns": int(len(zsl["trained_cols"])),
        },
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }


def _provenance(
    cfg: ShiftGCNDefaultConfig, data: WindowData, table: ClassTable, weights: Sequence[Path], command
) -> dict:
    """Phase 4c: the bundle's provenance block (command, code state, weights, datasets, class table, versions)."""
    import torch

    from sadvae.features import dataset_fingerprint, file_digest
    from sadvae.train.default_model import git_state

    return {
        # not "scripts/train_default" alone: sadvae.engine.calibration_data reads that as the round-1 33-class recipe
        "recipe": f"scripts/train_default --recipe {RECIPE}",
        "recipe_name": RECIPE,
        "dataset": "+".join(data.datasets),
        "command": command,
        **git_state(),
        # one checkpoint: {path, sha256, license}; an ensemble: {members: [those], combine}
        "weights": _weights_provenance(weights),
        "datasets": {
            n: {
                "root": data.roots[n],
                "fingerprint": data.fingerprints[n],
                "clips": data.clips_per_set[n],
                "terms": DATASET_TERMS.get(n, "a clip folder of your own: its terms are yours"),
                # a clip folder's files alone (the fingerprint holds the code too): --rescore refuses a changed folder
                **({} if n in DATASET_TERMS else {"content": dataset_fingerprint(data.roots[n])}),
            }
            for n in data.datasets
        },
        "class_table": table.to_dict(),
        "feature_extractor": {
            "window": cfg.window,
            "stride": cfg.stride or cfg.window // 2,
            "fps": 30.0,
            "normalisation": "ntu",
            "weights_digest": "+".join(file_digest(w) for w in weights),
        },
        "seed": cfg.seed,
        # the torch CPU threads the run used (config.threads is the request; 0 there means torch's default): the float
        # reduction order, hence the bits of the weights, depends on it
        "threads": int(torch.get_num_threads()),
        "config": json.loads(json.dumps(asdict(cfg))),
        "versions": {
            "python": platform.python_version(),
            "torch": str(torch.__version__),
            "numpy": str(np.__version__),
        },
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _weights_provenance(weights: Sequence[Path]) -> dict:
    from sadvae.hashing import file_sha256

    rows = [{"path": str(w), "sha256": file_sha256(w), "license": "CC BY-NC 4.0"} for w in weights]
    if len(rows) == 1:
        return rows[0]
    return {"members": rows, "combine": "features side by side, mean logits", "license": "CC BY-NC 4.0"}


def _save_outputs(
    cfg, table: ClassTable, backbone, zsl: dict, cal, metrics: dict, provenance: dict, pooled=None
) -> Path:
    """Phase 5: write the bundle, its calibration file (when fitted; with the handedness-pooling one ``pooled``) and
    ``<stem>.metrics.json``.

    Returns:
        The bundle path.
    """
    from sadvae.bundle import LiveConfig, save_bundle
    from sadvae.data.preprocess import PreprocessConfig

    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_bundle(
        out,
        backbone=backbone,
        sadvae=zsl["model"],
        gate=_neutral_gate(),
        class_names=table.names,
        seen_classes=tuple(range(len(table.names))),
        unseen_classes=(),
        encoder_id=zsl["encoder_id"],
        text_cfg=cfg.text,
        preprocess=PreprocessConfig(window=cfg.window, fps=30.0, persons=2, normalization="ntu"),
        metrics=metrics,
        provenance=provenance,
        terms={"license": "CC-BY-NC-4.0", "notice": SHIFTGCN_TERMS},
        live=LiveConfig(stride=cfg.live_stride, persons=1),
    )
    if cal is not None:
        _write_calibrations(out, cal, pooled)
    out.with_name(out.stem + ".metrics.json").write_text(
        json.dumps({"metrics": metrics, "provenance": provenance}, indent=1, default=_json_default)
    )
    return out


INNER_SCOPE = {
    "model": "inner",
    "trained_on": "inner-train windows only (training side minus inner validation): the final extra head and "
    "SA-DVAE never saw the inner-validation clips; for tuning live decisions on their replays, not the packaged model",
}


def final_training_rows(data: WindowData, inner_only: bool = False) -> np.ndarray:
    """Window rows the final extra head and SA-DVAE train on: the whole training side, or inner-train only.

    ``inner_only``: the training side minus inner validation (the inner model, module docstring).
    """
    return data.rows(~data.test & ~data.inner_val) if inner_only else data.rows(~data.test)


def train_default_shiftgcn(cfg: ShiftGCNDefaultConfig, command: str | None = None, inner_only: bool = False) -> Path:
    """Run the recipe (module docstring) and write the bundle, its ``.head.json`` and ``<stem>.metrics.json``.

    Args:
        cfg: the recipe; command: the command line stored in the provenance.
        inner_only: train the final head and SA-DVAE on inner-train windows only (the inner model; not part of
            ``cfg`` so the packaged model's stored config keeps its fields); metrics and provenance then carry
            :data:`INNER_SCOPE`.

    Returns:
        The bundle path.

    Raises:
        ConfigError: data or weights missing, an unknown head variant, a dataset class not in the class table.
    """
    import torch

    _check_config(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    t_start = time.time()
    seconds: dict[str, float] = {}
    table = recipe_table(cfg)
    data = load_window_data(cfg, table)
    seconds["features"] = time.time() - t_start
    train_rows, test_rows = final_training_rows(data, inner_only), data.rows(data.test)
    log.info(
        "windows: %d training side (%d inner validation), %d test side; final head and SA-DVAE on %d (%s)",
        int((~data.test).sum()),
        int(data.inner_val.sum()),
        len(test_rows),
        len(train_rows),
        "inner-train only: the inner model" if inner_only else "the whole training side",
    )

    t0 = time.time()
    heads = _fit_heads(data, table, cfg, train_rows, test_rows)
    seconds["heads"] = time.time() - t0

    t0 = time.time()
    zsl = _fit_zero_shot(data, table, cfg, train_rows, test_rows)
    seconds["sadvae"] = time.time() - t0

    t0 = time.time()
    mirror_data = load_mirror_data(cfg, table) if cfg.calibrate else None
    cal, cal_report, pooled = _calibrate(
        data, table, cfg, heads, zsl, test_rows, train_rows, reuse_final=inner_only, mirror_data=mirror_data
    )
    seconds["calibration"] = time.time() - t0

    weights, backbone = _live_backbone(cfg, heads["head"], len(table.extra_names))
    seconds["total"] = time.time() - t_start
    metrics = _metrics(cfg, data, table, heads, zsl, cal_report, train_rows, test_rows, seconds)
    provenance = _provenance(cfg, data, table, weights, command)
    if inner_only:
        metrics.update(INNER_SCOPE)
        provenance.update(INNER_SCOPE)
    out = _save_outputs(cfg, table, backbone, zsl, cal, metrics, provenance, pooled)
    log.info("wrote %s (%.1f MB) in %.1f min", out, out.stat().st_size / 1e6, seconds["total"] / 60)
    return out


def recipe_bundle(path: str | Path, cfg: ShiftGCNDefaultConfig | None, asked: Collection[str] | None = None):
    """A ``shiftgcn-v2`` bundle with what re-measuring it needs: ``(bundle, the config it was trained with, class
    table, window data, its extra head as an ExtraHead)``.

    The config is the bundle's recorded one (``provenance["config"]``, :func:`recorded_config`: seed, window, stride,
    datasets, weights, augmentation, SA-DVAE and text settings) with the :data:`RUN_SETTINGS` (paths, threads,
    devices) of ``cfg``. A model setting ``cfg`` asks for that differs from the recorded one is refused: ``asked``
    names the settings asked for (dotted, ``"zsl.cycles"``; None: those in which ``cfg`` differs from the defaults).
    A bundle without a recorded config (older than the record) is read with ``cfg`` as given, at its own window.

    Raises:
        ConfigError: not a recipe bundle, class names that are not the current class table's, or settings asked for
            that are not the bundle's.
    """
    from sadvae.bundle import load_bundle

    b = load_bundle(path)
    extra = getattr(b.backbone, "extra", None)
    if extra is None or b.preprocess.normalization != "ntu":
        raise ConfigError(f"{path}: not a {RECIPE} bundle (no extra head on an NTU-normalised Shift-GCN)")
    cfg = _bundle_config(path, b, cfg, asked)
    table = recipe_table(cfg)
    if tuple(b.class_names) != table.names and tuple(b.class_names) == recipe_table(cfg, restrict=False).names:
        table = recipe_table(cfg, restrict=False)  # a bundle of some of the shared sets from before 7 December 2026
    if tuple(b.class_names) != table.names:
        raise ConfigError(f"{path}: its class names are not the current class table's; retrain it")
    _check_folders_unchanged(path, (b.provenance or {}).get("datasets") or {})
    weight, bias = extra.weight.detach().numpy(), extra.bias.detach().numpy()
    head = ExtraHead(weight, bias, "bundle", float("nan"), np.ones(extra.out_features, bool))
    data = load_window_data(cfg, table)
    if data.feats.shape[1] != extra.in_features:
        raise ConfigError(
            f"{path}: its extra head reads {extra.in_features}-d features but the checkpoints {cfg.weights!r} give "
            f"{data.feats.shape[1]}-d; pass the --weights the bundle was trained with"
        )
    return b, cfg, table, data, head


def _check_folders_unchanged(path, recorded: Mapping) -> None:
    """Refuse to re-measure a bundle whose clip folders changed since it was trained: their split fields or clips may
    have moved training clips to the test side (the recorded ``content`` digest; the shared sets are read-only)."""
    from sadvae.features import dataset_fingerprint

    for key, info in recorded.items():
        if not isinstance(info, Mapping) or "content" not in info:
            continue
        if not Path(key).is_dir():
            raise ConfigError(f"{path}: its clip folder {key} is not found (moved or removed?); restore it there")
        if dataset_fingerprint(key) != info["content"]:
            raise ConfigError(
                f"{path}: its clip folder {key} changed since it was trained (clips added, removed or edited, or "
                "their split fields): its test side may now hold training clips; restore the folder, or train again"
            )


def _bundle_config(path, b, cfg: ShiftGCNDefaultConfig | None, asked: Collection[str] | None):
    """The config :func:`recipe_bundle` re-measures bundle ``b`` with (its docstring)."""
    window = int(b.preprocess.window)
    recorded = (b.provenance or {}).get("config")
    if not recorded:
        log.warning("%s: no recorded recipe config in its provenance; using the given settings at its window", path)
        built = replace(cfg or ShiftGCNDefaultConfig(), window=window)
        _check_config(built)
        return built
    built = recorded_config(recorded)
    if built.window != window:
        raise ConfigError(f"{path}: its recorded config says window {built.window} but it preprocesses {window}")
    if cfg is not None:
        mine, theirs = model_settings(cfg), model_settings(built)
        names = differing_settings(cfg) if asked is None else [n for n in asked if n in mine]
        clash = [n for n in names if mine[n] != theirs.get(n)]
        if clash:
            got = ", ".join(f"{n} {mine[n]!r} (recorded {theirs.get(n)!r})" for n in clash)
            raise ConfigError(
                f"{path}: asked for {got}; re-measuring and re-calibrating use the bundle's recorded settings: drop "
                "those options or pass the recorded values"
            )
    built = _with_run_settings(built, cfg or ShiftGCNDefaultConfig())
    _check_config(built)
    return built


def rescore_bundle(
    path: str | Path, cfg: ShiftGCNDefaultConfig | None = None, asked: Collection[str] | None = None
) -> dict:
    """Re-measure a ``shiftgcn-v2`` bundle's trained head on every set's test side from the cached window features.

    The settings (window, stride, datasets, weights, ...) are the bundle's recorded ones; ``cfg`` gives paths,
    threads and devices, and ``asked`` the settings asked for, refused when not the bundle's (:func:`recipe_bundle`).
    Nothing is trained. Returns the same structure as the bundle's ``metrics["holdout"]``.
    """
    _, _, table, data, head = recipe_bundle(path, cfg, asked)
    return _evaluate(head_logits(head, data.feats, data.ntu_logits), data, data.rows(data.test), table)


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def holdout_markdown(holdout: dict, names: int | None = None) -> str:
    """Test-side clip top-1 / top-5 per set: all ``names`` trained names, own names, and the round-1 model's 33."""
    lines = [
        f"| set (test side) | clips | all {names or 'trained'} names | own names | round-1 vocabulary (33 names) |",
        "|---|---|---|---|---|",
    ]
    for n, m in holdout.items():
        if n == "mean_over_sets":
            continue
        r1 = m.get("clips_round1_vocab")
        cells = [f"{_pct(x['top1'])} / {_pct(x['top5'])}" if x else "–" for x in (m["clips_all"], m["clips_own"], r1)]
        lines.append(f"| {n} | {m['clips_all']['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def metrics_markdown(metrics: dict, provenance: dict) -> str:
    """The model card's metrics section for a ``shiftgcn-v2`` bundle."""
    h = metrics["holdout"]
    alt = metrics["holdout_other_head"]
    zs = metrics["holdout_zero_shot_own_names"]
    sets = [n for n in h if n != "mean_over_sets"]
    lines = [
        *([f"**Inner model** ({metrics['trained_on']}).", ""] if metrics.get("model") == "inner" else []),
        f"Run: commit `{provenance.get('git_commit')}`{' (dirty tree)' if provenance.get('git_dirty') else ''}, "
        f"seed {provenance.get('seed')}, {metrics['seconds']['total'] / 60:.1f} min, `{provenance.get('command')}`.",
        "",
        f"Protocol: {metrics['protocol']}. Trained head: `{metrics['head']['variant']}` (weight decay "
        f"{metrics['head']['weight_decay']:g}), chosen on inner validation (training sides only).",
        "",
        "| set (test side) | clips | own classes | top-1 / top-5, all "
        f"{len(provenance['class_table']['columns'])} names (clip) | top-1 / top-5, own names (clip) "
        f"| top-1, all names (window) | other head (`{alt['variant']}`) top-1 all names (clip) "
        "| zero-shot branch alone, own names (window top-1 / top-5) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in sets:
        m = h[n]
        lines.append(
            f"| {n} | {m['clips_all']['n']} | {m['classes_own']} | {_pct(m['clips_all']['top1'])} / "
            f"{_pct(m['clips_all']['top5'])} | {_pct(m['clips_own']['top1'])} / {_pct(m['clips_own']['top5'])} | "
            f"{_pct(m['windows_all']['top1'])} | {_pct(alt.get(n, {}).get('clips_all', {}).get('top1'))} | "
            f"{_pct(zs[n]['top1'])} / {_pct(zs[n]['top5'])} |"
        )
    g = metrics["head_selection"]["grid"]
    lines += [
        "",
        "Head selection on inner validation (training sides only; mean over sets):",
        "",
        "| head | weight decay | window top-1 | clip top-1 |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['variant']} | {r['weight_decay']:g} | {_pct(r['windows_top1'])} | {_pct(r['clips_top1'])} |" for r in g
    ]
    cal = metrics.get("calibration")
    if cal:
        ho = cal["held_out"]
        lines += [
            "",
            f"Calibration (fitted on {cal['windows']} inner-validation windows, cross-fitted), on the "
            f"test side: trained labels kept {_pct(ho['trained']['kept'])} %, false accept "
            f"{_pct(ho['trained']['false_accept'])} %; mixed lists trained/new top-1 "
            f"{_pct(ho['mixed']['trained_acc'])} / {_pct(ho['mixed']['new_acc'])} % (new = class names the "
            "SA-DVAE saw in training: optimistic).",
        ]
    return "\n".join(lines)
