"""Cross-dataset (leave-one-dataset-out) open-vocabulary protocol: ``sadvae benchmark --protocol cross-dataset``.

The question a user asks: "I write my own labels file; how often is the right label first?". Protocol:

1. **Target**: one shared labelled set; its *test side* (the dataset's standard protocol) is scored.
   Nothing is trained, tuned or selected on any part of the target.
2. **Sources**: every other shared labelled set (MSR Action3D, NW-UCLA, UTKinect, HDM05, Bandai-Namco,
   those registered and present). Heads are trained on *all* their clips.
3. **Labels**: a labels file of the target's own class names (default: the dataset's names; any
   ``name`` or ``name | description`` file). Every label is classified as a trained class name
   (``exact``), a near-synonym of one (``near``: the live head's matcher maps it to that class) or ``new``,
   against the training sets' classes and, separately, against the 120 NTU names.
4. **Selection** of every free setting (temperatures, fusion weight) by leave-one-dataset-out *on the
   sources*: each source in turn plays target for heads trained on the other sources; the setting
   with the best mean top-1 over those folds is used on the real target.

Methods (all on cached backbone features, :mod:`sadvae.features`):

- ``round1``: the round-1 packaged model through the round-1 head (exact-name match -> its trained
  column, other labels -> SA-DVAE zero-shot, the bundle's gate for mixed lists). It was trained on
  the training sides of MSR, NW-UCLA and UTKinect, so on those targets it *saw the target's classes
  and subjects' recording set* (not the test clips): an optimistic baseline, labelled as such.
- ``ntu_conse``: no training at all: Shift-GCN's NTU-120 softmax, ConSE (k = 10) over the NTU names.
- ``linear``: a logistic-regression head on the frozen features over the sources' classes; a label
  gets the probability of the trained classes whose names resemble it (:func:`transfer_matrix`).
- ``fused``: the same over NTU-120 names (scored by Shift-GCN's own fc) plus the sources' classes.
- ``sadvae``: SA-DVAE trained on the sources' frozen features; every label zero-shot (latent
  classifier without ReLU'd logits, so no label is dead).
- ``fused_sadvae``: ``fused`` with the SA-DVAE zero-shot probabilities mixed in (weight selected).
- ``joint``: the default recipe's head (:mod:`sadvae.train.default_shiftgcn`, ``shiftgcn-v2``) trained without
  the target: Shift-GCN's NTU fc and an extra linear head in *one* softmax over the class table's columns
  (:mod:`sadvae.train.class_table`) that the sources train (NTU-120 + the sources' extra classes; a source
  class that is an NTU action trains that NTU column), fitted on the sources' windows; labels reach the
  columns through the matcher and the text transfer, as for ``linear``. Weight decay selected with the rest.
- ``synth``: classifiers synthesised from each label's text (:func:`sadvae.evaluate.synthesis_weights`): a ridge
  regression from trained class names to their classifiers, read off the trained classes' logits (the sources'
  head, Shift-GCN's NTU fc, or both side by side); every label, covered or new, scored alike. Ridge strength and
  class pool selected on the sources.
- ``fused_windows``: ``fused`` (same head and setting) scoring each window and averaging a clip's label scores,
  where ``fused`` scores the clip's mean feature.
- ``fused_adapt``: ``fused`` (its own selected setting) refined by self-labelling on the target's *unlabelled
  training side* (:func:`adapt_scores`; its labels are never read, its test side never used): a setting of its
  own, as ``--batchnorm own`` (a few minutes of a user's camera, unlabelled). The refinement's grid, "off"
  included, is selected on the sources like the rest (each held-out source adapts on its own training side).
- ``tuned``: ``fused`` whose sources' head is trained on the sources' windows together with Shift-GCN's last
  unit(s), fine-tuned (:mod:`sadvae.train.finetune`; training fixed in advance, ``fused``'s selected setting);
  ``tuned_frozen`` is its control, the same training with the unit frozen. Frozen vs fine-tuned, one
  difference apart. They read the cache of unit inputs (``<feature_dir>/units``).

Features: per clip, the mean over its windows. With ``joint`` among the methods (or ``features="windows"``)
every Shift-GCN method of the run reads the per-window cache of the default recipe
(:mod:`sadvae.train.window_features`, the same files ``scripts/train_default`` trains on) and takes the clip
rows as window means, so all rows of one run share their features.

Outputs in ``--out``: ``report.md``, ``report.json``, ``confusion_<method>.png``, and ``methods/*.json``
written as each method finishes (a rerun resumes).
"""

from __future__ import annotations

import functools
import json
import logging
import platform
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from sadvae.errors import ConfigError
from sadvae.evaluate import SYNTH_LAMBDAS, synthesized_logits
from sadvae.features import EnsembleExtractor, FeatureSet
from sadvae.glossary import DEFAULT_GLOSSARY, Glossary, described
from sadvae.paths import shared_data_root
from sadvae.text import TextConfig, TextEncoder

__all__ = [
    "SHARED_SETS",
    "ALIASES",
    "METHODS",
    "DEFAULT_METHODS",
    "default_methods",
    "CrossDatasetConfig",
    "LabelEntry",
    "read_labels",
    "normalise_name",
    "label_groups",
    "read_as_live",
    "match_matrix",
    "transfer_matrix",
    "conse_scores",
    "metrics",
    "run_cross_dataset",
    "render_markdown",
    "shared_data_root",
    "add_cli_arguments",
    "feature_extractor",
    "run_cli",
    "summary_markdown",
]

log = logging.getLogger(__name__)

SHARED_SETS = ("msr_action3d", "nw_ucla", "utkinect", "hdm05", "bandai_namco")
ALIASES = {
    "utkinect_action3d": "utkinect",
    "utk": "utkinect",
    "msr": "msr_action3d",
    "ucla": "nw_ucla",
    "nwucla": "nw_ucla",
    "bandai": "bandai_namco",
    "bandai-namco": "bandai_namco",
    "hdm": "hdm05",
}
METHODS = (
    "round1",
    "ntu_conse",
    "linear",
    "fused",
    "fused_windows",
    "sadvae",
    "fused_sadvae",
    "joint",
    "synth",
    "tuned",
    "tuned_frozen",
    "fused_adapt",
)
# What `--methods` runs when not given: the final table's rows. round1 joins them when --bundle names the round-1
# model (the packaged default is another recipe, which round1 refuses); the other methods are measured variants
# (docs/cross_dataset.md), run by name: tuned / tuned_frozen add minutes per target and a multi-GB cache.
DEFAULT_METHODS = ("ntu_conse", "linear", "fused", "joint")
NTU_METHODS = (
    "ntu_conse",
    "fused",
    "fused_windows",
    "fused_sadvae",
    "joint",
    "synth",
    "tuned",
    "tuned_frozen",
    "fused_adapt",
)
SYNTH_POOLS = ("sources", "sources+ntu", "ntu")  # the trained classes whose classifiers synth combines
WINDOW_METHODS = ("joint", "fused_windows")  # methods that train or score single windows (the per-window cache)
# `fused` with the sources' head trained on windows through the last Shift-GCN unit, fine-tuned (`tuned`) or
# frozen (`tuned_frozen`, the control): they read the unit-input cache (sadvae.train.finetune)
TUNED_METHODS = ("tuned", "tuned_frozen")
BATCHNORM_WORDS = {  # --batchnorm: whose BatchNorm statistics each set is read with (reports say it in these words)
    "released": "the checkpoint's (NTU)",
    "own": "each set's own training side",
    "target": "the target's own training side, the sources' the checkpoint's",
}
NTU120_NAMES = "labels/mmaction2/label_map_ntu120.txt"
DEFAULT_WEIGHTS = "../shared/models/shiftgcn/ntu120_ShiftGCN_joint_xsub.pt"


@dataclass(frozen=True)
class LabelEntry:
    """One line of a labels file: the name events report and the text the encoder reads."""

    name: str
    description: str | None = None

    @property
    def text(self) -> str:
        return self.description or self.name


def read_labels(path: str | Path) -> list[LabelEntry]:
    """Read a labels file with the live side's parser (:func:`sadvae.labels.parse_labels`: one ``name`` or
    ``name | description`` per line, ``#`` comments, UTF-8 or UTF-16/32 with a byte order mark, its limits).

    Raises:
        ConfigError: missing, unreadable or malformed file (the message names the file, the line and the fix).
    """
    from sadvae.labels import parse_labels

    ls = parse_labels(path)
    return [LabelEntry(n, d) for n, d in zip(ls.names, ls.descriptions, strict=True)]


def normalise_name(name: str) -> str:
    """Comparable form of a class or label name ("Side-Boxing_" -> "side boxing", "&" -> "and")."""
    s = str(name).casefold().replace("&", " and ")
    s = re.sub(r"[_\-/]+", " ", s)
    return " ".join(s.split()).rstrip(". ")


# the default recipe's grid (sadvae.train.default_shiftgcn.ShiftGCNDefaultConfig.weight_decays; a test holds the two
# equal): a constant here, since reading it there imports torch, and the `sadvae` parser is built where torch is not
# (a Jetson's `sadvae bench latency`; until 7 December 2026, late, that failed with "No module named torch")
RECIPE_WEIGHT_DECAYS: tuple[float, ...] = (1e-5, 1e-4, 1e-3)


@dataclass(frozen=True)
class CrossDatasetConfig:
    """The cross-dataset protocol.

    Attributes:
        target: the held-out dataset (registry name or alias such as ``utkinect_action3d``).
        sources: training sets; empty = every registered shared set present except the target.
        methods: methods to run (keys of :data:`METHODS`; default :data:`DEFAULT_METHODS`).
        labels: labels file for the target; None = the target's own class names.
        backbone: "shiftgcn" (NTU-120 pretrained, frozen) or "stgcn" (the round-1 ST-GCN bundle's backbone).
        weights: Shift-GCN checkpoint; bundle: the round-1 bundle (None: the packaged default model).
        window, stride: Shift-GCN windows (frames at 30 fps).
        mirror: test-time mirroring of every window, sources' and target's alike (``ShiftGCNExtractor(mirror=)``).
        batchnorm: "released" (the checkpoint's BatchNorm statistics, NTU's), "own": each set, sources and target
            alike, is read with statistics re-estimated on its own training side's windows, unlabelled
            (:class:`sadvae.train.window_features.OwnStatistics`; a setting that uses the target's unlabelled
            training side, docs/cross_dataset.md round 23), or "target": the target alone (a model trained as
            ever, calibrated to a new capture system where it is used).
        seed: seeds every head.
        near_threshold: the matcher's threshold for the reported label groups (the live head's default).
        match_thresholds: matcher thresholds tried in selection for the scoring of the transfer methods.
        conse_k: ConSE's top-k.
        taus: transfer temperatures tried in selection; alphas: fusion weights of the sources' head
            against the NTU fc tried in selection; betas: weights of the SA-DVAE branch tried.
        weight_decays: L2 strengths of the ``joint`` head tried in selection (default: the recipe's grid).
        class_texts: the trained classes' text side of ``joint``'s transfer tried in selection: ``name`` (the
            templated name) or a kind of NTU description (:func:`ntu_descriptions`) mixed in.
        glossary: a glossary table (:mod:`sadvae.glossary`): a label without a description is read with its
            WordNet definition, in the selection's folds as on the target; None: names as they are.
        hub_k: the transfer's hubness correction (:func:`transfer_matrix`), in the folds as on the target; 0: off.
        features: "clips" (the per-clip cache of :mod:`sadvae.features`), "windows" (the default recipe's
            per-window cache, clip rows = window means) or "auto" (windows when a window method runs).
        text: sentence encoder and prompt template.
        zsl: SA-DVAE training of the ``sadvae`` methods.
        finetune: training of the ``tuned`` methods (:class:`sadvae.train.finetune.FinetuneConfig`; None: its
            defaults); its ``tune``, ``seed`` and ``threads`` are set per method from this config.
        data_root: the folder holding the datasets (None: ``../shared/data``).
        feature_dir: the feature cache (None: ``runs/features``).
        limit_per_class: keep at most n clips per (dataset, class, side) (tests only).
        threads: torch threads (0: leave as is).
    """

    target: str
    sources: tuple[str, ...] = ()
    methods: tuple[str, ...] = DEFAULT_METHODS
    labels: str | None = None
    backbone: str = "shiftgcn"
    weights: str = DEFAULT_WEIGHTS
    bundle: str | None = None
    window: int = 64
    stride: int = 32
    mirror: bool = False
    batchnorm: str = "released"
    seed: int = 0
    near_threshold: float = 0.8  # sadvae.head.matching.DEFAULT_MATCH_THRESHOLD
    match_thresholds: tuple[float, ...] = (0.7, 0.75, 0.8)
    conse_k: int = 10
    taus: tuple[float, ...] = (0.02, 0.05, 0.1)
    alphas: tuple[float, ...] = (0.25, 0.5, 0.75)
    betas: tuple[float, ...] = (0.25, 0.5)
    weight_decays: tuple[float, ...] = RECIPE_WEIGHT_DECAYS
    class_texts: tuple[str, ...] = ("name", "llm")
    glossary: str | None = None
    hub_k: int = 0
    features: str = "auto"
    text: TextConfig = field(default_factory=TextConfig)
    zsl: object = None
    finetune: object = None
    data_root: str | None = None
    feature_dir: str | None = None
    limit_per_class: int | None = None
    threads: int = 0


# ----------------------------------------------------------------------------------------------- text side


def match_matrix(
    labels: Sequence[LabelEntry],
    vocab: Sequence[str],
    embed,
    threshold: float,
    aliases: Sequence[Sequence[str]] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which trained classes each label covers, through the head's matcher (:mod:`sadvae.head.matching`).

    Args:
        labels: the labels (their names are matched); vocab: trained class names.
        embed: texts -> unit rows (sentence embeddings) or None (lexical matching only).
        threshold: the matcher's threshold.
        aliases: per class, other names of it (the datasets' own names of merged classes), as the live head reads them.

    Returns:
        (covered bool [L, V], scores float [L, V], nearest int [L]).
    """
    from sadvae.head.matching import match_labels

    names = [lab.name for lab in labels]
    if not len(vocab):
        return np.zeros((len(names), 0), bool), np.zeros((len(names), 0)), np.zeros(len(names), np.intp)
    r = match_labels(names, list(vocab), embed, threshold, aliases)
    covered = np.zeros((len(names), len(vocab)), bool)
    for i, m in enumerate(r.matches):
        covered[i, list(m.classes)] = True
    exact = {normalise_name(v): j for j, v in enumerate(vocab)}
    for i, n in enumerate(names):  # an exact name is always its class, whatever else it covers
        j = exact.get(normalise_name(n))
        if j is not None:
            covered[:, j] = False
            covered[i, j] = True
    return covered, r.scores, r.nearest


def label_groups(labels: Sequence[LabelEntry], vocab: Sequence[str], embed, threshold: float) -> list[dict]:
    """Classify each label against a trained vocabulary: ``exact`` name, ``near`` (the head's matcher maps it
    to a trained class) or ``new`` (zero-shot).

    Returns:
        One dict per label: ``group``, ``match`` (covered classes, or the nearest one for new labels), ``score``.
    """
    covered, scores, nearest = match_matrix(labels, vocab, embed, threshold)
    norm = {normalise_name(v) for v in vocab}
    out = []
    for i, lab in enumerate(labels):
        cls = np.flatnonzero(covered[i])
        if normalise_name(lab.name) in norm:
            group = "exact"
        else:
            group = "near" if len(cls) else "new"
        if len(cls):
            out.append({"group": group, "match": [vocab[j] for j in cls], "score": float(scores[i, cls].max())})
        elif len(vocab):
            j = int(nearest[i])
            out.append({"group": group, "match": [], "nearest": vocab[j], "score": float(scores[i, j])})
        else:
            out.append({"group": group, "match": [], "nearest": None, "score": None})
    return out


def transfer_matrix(covered: np.ndarray, sim: np.ndarray, tau: float | None, hub_k: int = 0) -> np.ndarray:
    """P(label | trained class) [V, L]: how each trained class's probability is shared among the labels.

    A trained class that a label covers (:func:`match_matrix`) gives that label all its mass; any other
    class shares its mass by ``softmax(cosine / tau)`` over the labels (``tau=None``: it gives nothing, as
    the live head's off-label mass). Then ``P(label | x) = P(class | x) @ T``: a label that is or
    paraphrases a trained class is scored by what the model learned for that class, and a new label by
    the trained classes whose names resemble it (ConSE-like).

    Args:
        covered: bool [L, V]; sim: float [V, L] text cosine of classes and labels; tau: temperature.
        hub_k: > 0: a hubness correction (CSLS, Conneau et al. 2018): each label's cosines lose half its mean
            cosine to its ``hub_k`` nearest classes, so a label near many classes ("pick up & throw") stops
            drawing every class's mass (measured, not adopted: docs/cross_dataset.md round 21).
    """
    if hub_k:
        sim = sim - 0.5 * np.sort(sim, axis=0)[-hub_k:].mean(axis=0, keepdims=True)
    if tau is None:
        t = np.zeros(sim.shape)
    else:
        t = np.exp((sim - sim.max(1, keepdims=True)) / tau)
        t /= t.sum(1, keepdims=True)
    own = covered.T.any(1)
    t[own] = covered.T[own].astype(float)
    return t


def conse_scores(probs: np.ndarray, vocab_emb: np.ndarray, label_emb: np.ndarray, k: int = 10) -> np.ndarray:
    """ConSE: cosine of each label with the probability-weighted mean of the top-k trained names [N, L]."""
    k = min(k, probs.shape[1])
    top = np.argsort(-probs, axis=1)[:, :k]
    w = np.take_along_axis(probs, top, 1)
    w = w / np.maximum(w.sum(1, keepdims=True), 1e-12)
    e = np.einsum("nk,nkd->nd", w, vocab_emb[top])
    e /= np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    return e @ label_emb.T


def _softmax(x: np.ndarray, t: float = 1.0) -> np.ndarray:
    z = np.asarray(x, np.float64) / t
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


# ----------------------------------------------------------------------------------------------- metrics


def metrics(scores: np.ndarray, truth: np.ndarray, names: Sequence[str]) -> dict:
    """top-1, top-5, per-class and mean-class accuracy and the confusion matrix of label scores [N, L]."""
    order = np.argsort(-scores, axis=1, kind="stable")
    hit1 = order[:, 0] == truth
    hit5 = (order[:, :5] == truth[:, None]).any(1)
    per_class = {names[c]: float(hit1[truth == c].mean()) for c in range(len(names)) if (truth == c).any()}
    cm = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(cm, (truth, order[:, 0]), 1)
    return {
        "samples": int(len(truth)),
        "top1": float(hit1.mean()),
        "top5": float(hit5.mean()),
        "mean_class_top1": float(np.mean(list(per_class.values()))),
        "per_class_top1": per_class,
        "confusion": cm.tolist(),
    }


def _group_accuracy(m: dict, groups: list[dict], names: Sequence[str]) -> dict:
    out = {}
    for g in ("exact", "near", "new"):
        cls = [n for n, gr in zip(names, groups, strict=True) if gr["group"] == g and n in m["per_class_top1"]]
        if cls:
            cm = np.asarray(m["confusion"])
            idx = [names.index(c) for c in cls]
            n = cm[idx].sum()
            out[g] = {
                "classes": len(cls),
                "samples": int(n),
                "top1": float(cm[idx, idx].sum() / max(n, 1)),
                "mean_class_top1": float(np.mean([m["per_class_top1"][c] for c in cls])),
            }
    return out


# ----------------------------------------------------------------------------------------------- data


def resolve_name(name: str) -> str:
    """Registry name of a dataset given by name, alias or folder name."""
    from sadvae.data.registry import DATASETS

    key = ALIASES.get(name.casefold(), name.casefold())
    if key not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; choose one of {sorted(set(DATASETS) - {'ntu'})} (or an alias)")
    return key


def available_sets(root: Path) -> tuple[str, ...]:
    """The shared labelled sets that are registered and present under ``root``."""
    from sadvae.data.registry import DATASETS

    return tuple(n for n in SHARED_SETS if n in DATASETS and (root / DATASETS[n].default_root).exists())


def _limit(ds, n: int | None, dataset: str):
    """The first ``n`` sequences of each (class, side) of a loaded dataset (tests and smoke runs)."""
    if n is None:
        return ds
    from dataclasses import replace as dc_replace

    from sadvae.data.splits import test_side_mask

    side = test_side_mask(ds, dataset)
    keep, count = [], {}
    for seq, t in zip(ds.sequences, side.tolist(), strict=True):
        key = (seq.label, t)
        count[key] = count.get(key, 0) + 1
        if count[key] <= n:
            keep.append(seq)
    return dc_replace(ds, sequences=keep)


def load_features(cfg: CrossDatasetConfig, names: Sequence[str], extractor) -> dict[str, FeatureSet]:
    """Cached features of each dataset (extracted once per backbone, weights and preprocessing)."""
    from sadvae.data.registry import DATASETS
    from sadvae.features import cached_features, dataset_fingerprint

    root = Path(cfg.data_root) if cfg.data_root else shared_data_root()
    out = {}
    for n in names:
        r = root / DATASETS[n].default_root
        fp = dataset_fingerprint(r, n) + ("" if cfg.limit_per_class is None else f"-first{cfg.limit_per_class}")
        load = functools.cache(lambda r=r, n=n: _limit(DATASETS[n].loader(r), cfg.limit_per_class, n))
        out[n] = cached_features(_set_extractor(cfg, extractor, n, load), n, load, fp, cfg.feature_dir)
    return out


def _set_extractor(cfg: CrossDatasetConfig, extractor, dataset: str, load):
    """The extractor that reads ``dataset``: ``extractor`` itself, or (``cfg.batchnorm`` "own", or "target" for the
    target) the same network(s) with BatchNorm statistics of the set's own training side (never its test side)."""
    if cfg.batchnorm == "released" or (cfg.batchnorm == "target" and dataset != resolve_name(cfg.target)):
        return extractor
    from sadvae.data.splits import test_side_mask
    from sadvae.train.window_features import OwnStatistics

    return OwnStatistics(
        extractor, load, lambda ds: np.flatnonzero(~test_side_mask(ds, dataset)), "the set's own training side"
    )


def _first_per_class(ds, dataset: str, n: int | None) -> np.ndarray:
    """Clip rows of a loaded dataset: the first ``n`` of each (class, side) (all when n is None)."""
    from sadvae.data.splits import test_side_mask

    if n is None:
        return np.arange(len(ds.sequences))
    side = test_side_mask(ds, dataset)
    keep, count = [], {}
    for i, (seq, t) in enumerate(zip(ds.sequences, side.tolist(), strict=True)):
        key = (seq.label, t)
        count[key] = count.get(key, 0) + 1
        if count[key] <= n:
            keep.append(i)
    return np.asarray(keep, np.int64)


def load_window_sets(cfg: CrossDatasetConfig, names: Sequence[str], extractor) -> dict:
    """Per-window features of each dataset (:func:`sadvae.train.window_features.window_features`), keyed like the
    default recipe's cache (``dataset_fingerprint`` of the root and the reader code), so ``scripts/train_default``
    and this protocol share one extraction. ``cfg.feature_dir`` / ``windows`` holds them (default
    ``runs/features/windows``)."""
    return _window_caches(cfg, names, extractor, "windows")


def _window_caches(cfg: CrossDatasetConfig, names: Sequence[str], extractor, folder: str) -> dict:
    """:func:`sadvae.train.window_features.window_features` of each dataset in ``<feature_dir>/<folder>``
    (default ``runs/features/<folder>``)."""
    from sadvae.data.registry import DATASETS
    from sadvae.features import dataset_fingerprint
    from sadvae.train.window_features import default_window_dir, window_features

    root = Path(cfg.data_root) if cfg.data_root else shared_data_root()
    cache = (Path(cfg.feature_dir) if cfg.feature_dir else default_window_dir().parent) / folder
    out = {}
    for n in names:
        r = root / DATASETS[n].default_root
        load = functools.cache(lambda r=r, n=n: DATASETS[n].loader(r))
        select = None
        if cfg.limit_per_class is not None:
            select = lambda ds, n=n: _first_per_class(ds, n, cfg.limit_per_class)  # noqa: E731
        ex = _set_extractor(cfg, extractor, n, load)
        out[n] = window_features(ex, n, load, dataset_fingerprint(r, n), select=select, cache_dir=cache)
    return out


@dataclass
class _UnitData:
    """The ``tuned`` methods' inputs: per-window unit inputs of every set and the frozen network."""

    sets: dict
    model: object
    window: int


def load_unit_sets(cfg: CrossDatasetConfig, names: Sequence[str], extractor) -> _UnitData:
    """Per-window inputs of the last ``finetune.units`` Shift-GCN units (:class:`sadvae.train.finetune.UnitInputs`)
    of each dataset, cached like the per-window features (``<feature_dir>/units``, default ``runs/features/units``)."""
    from sadvae.train.finetune import FinetuneConfig, UnitInputs

    ex = UnitInputs(extractor, (cfg.finetune or FinetuneConfig()).units)
    return _UnitData(_window_caches(cfg, names, ex, "units"), extractor.model, cfg.window)


def _pool_windows(sets: Sequence) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Labelled windows of several sets: (rows [n, ...], labels [n] into the merged names, merged names)."""
    names, set_ids = _merged_names(sets)
    rows, labels = [], []
    for wf, ids in zip(sets, set_ids, strict=True):
        y = wf.labels[wf.owner]
        keep = y >= 0
        rows.append(wf.feats[keep])
        labels.append(ids[y[keep]])
    return np.concatenate(rows), np.concatenate(labels), names


def _test_clip_means(wf, values: np.ndarray, target: FeatureSet) -> np.ndarray:
    """Per-window ``values`` [W, ...] of a target's window cache -> the mean over each clip's windows, for the
    rows of ``target`` (its labelled test clips, in order); float32."""
    clips = np.flatnonzero(wf.extracted)
    pos = np.searchsorted(clips, wf.owner)
    out = np.zeros((len(clips), *values.shape[1:]), np.float64)
    np.add.at(out, pos, values)
    out /= np.bincount(pos, minlength=len(clips)).reshape(-1, *([1] * (values.ndim - 1)))
    rows = clips[wf.test_side[clips] & (wf.labels[clips] >= 0)]
    if len(rows) != len(target.labels) or not np.array_equal(wf.labels[rows], target.labels):
        raise ConfigError(f"{target.dataset}: the window cache and the clip features disagree; delete both caches")
    return out[np.searchsorted(clips, rows)].astype(np.float32)


def _tuned_scores(method, cfg, target, sources, labels, text, ntu, units: _UnitData):
    """``tuned`` / ``tuned_frozen``: ``fused`` (with the setting its own source selection picks) whose sources'
    head is :func:`sadvae.train.finetune.fit_tuned` on the sources' windows; clip = mean feature of its windows."""
    from sadvae.train.finetune import FinetuneConfig, fit_tuned

    sel = _select("fused", sources, text, cfg, ntu)
    setting = sel["setting"]
    acts, y, names = _pool_windows([units.sets[n] for n in sources])
    fcfg = replace(cfg.finetune or FinetuneConfig(), tune=method == "tuned", seed=cfg.seed, threads=cfg.threads)
    top = fit_tuned(units.model, acts, y, len(names), units.window, fcfg)
    del acts
    tw = units.sets[target.dataset]
    f = _test_clip_means(tw, top.predict_features(tw.feats), target)
    import torch

    with torch.no_grad():
        p_src = _softmax(top.classify(torch.as_tensor(f)).numpy())
    a = setting["alpha"]
    probs = np.concatenate([a * p_src, (1 - a) * _softmax(target.logits)], 1)
    info = {
        "selection": sel,
        "setting_from": "fused's source-LODO selection",
        "trained_classes": names,
        "train_windows": int(len(y)),
        "finetune": asdict(fcfg),
    }
    return _transfer_scores(probs, names + ntu, text, labels, setting["tau"], setting["match"], hub_k=cfg.hub_k), info


def _ntu_names() -> list[str]:
    path = shared_data_root() / NTU120_NAMES
    return [s.strip().rstrip(".").strip() for s in path.read_text().splitlines() if s.strip()]


# ----------------------------------------------------------------------------------------------- heads


def fit_linear(x: np.ndarray, y: np.ndarray, seed: int, weight_decay: float = 1e-3, steps: int = 200):
    """Multinomial logistic regression (L2) on standardised features, full-batch L-BFGS in torch.

    Returns:
        ``logits(x [n, d]) -> [n, max(y) + 1]``.
    """
    import torch

    torch.manual_seed(seed)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xt = torch.as_tensor((x - mu) / sd, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.long)
    k = int(y.max()) + 1
    lin = torch.nn.Linear(x.shape[1], k)
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    opt = torch.optim.LBFGS(lin.parameters(), lr=1.0, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin(xt), yt) + weight_decay * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w, b = lin.weight.detach().numpy().T.copy(), lin.bias.detach().numpy().copy()
    present = np.zeros(k, bool)
    present[np.unique(y)] = True

    def logits(z: np.ndarray) -> np.ndarray:
        out = ((z - mu) / sd) @ w + b
        out[:, ~present] = -1e9
        return out

    return logits


@dataclass
class _Train:
    """Training side of one fold: pooled features of the sources with their merged class names."""

    feats: np.ndarray
    ntu_logits: np.ndarray
    labels: np.ndarray  # into names
    names: list[str]


def _merged_names(sets: Sequence) -> tuple[list[str], list[np.ndarray]]:
    """The sets' class names merged by :func:`normalise_name` (first spelling kept) and each set's class ids in it."""
    names: list[str] = []
    index: dict[str, int] = {}
    ids = []
    for fs in sets:
        for c in fs.class_names:
            if (key := normalise_name(c)) not in index:
                index[key] = len(names)
                names.append(c)
        ids.append(np.asarray([index[normalise_name(c)] for c in fs.class_names], np.int64))
    return names, ids


def _pool(sets: Sequence[FeatureSet]) -> _Train:
    names, set_ids = _merged_names(sets)
    feats, logits, labels = [], [], []
    for fs, ids in zip(sets, set_ids, strict=True):
        keep = fs.labels >= 0
        feats.append(fs.feats[keep])
        logits.append(fs.logits[keep])
        labels.append(ids[fs.labels[keep]])
    return _Train(np.concatenate(feats), np.concatenate(logits), np.concatenate(labels), names)


class _Text:
    """Memoised unit embeddings of class names / labels under the configured template."""

    def __init__(self, cfg: TextConfig):
        self.enc = TextEncoder(cfg)
        self.memo: dict[str, np.ndarray] = {}
        self.raw_memo: dict[tuple[str, ...], np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        miss = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if miss:
            for t, e in zip(miss, self.enc.encode_labels(miss), strict=True):
                self.memo[t] = e
        return np.stack([self.memo[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def raw(self, texts: Sequence[str]) -> np.ndarray:
        """Sentences as they are (no template): what the head's matcher embeds."""
        key = tuple(texts)
        if key not in self.raw_memo:
            self.raw_memo[key] = self.enc.encode(list(texts))
        return self.raw_memo[key]


def _label_emb(text: _Text, labels: Sequence[LabelEntry]) -> np.ndarray:
    return text([lab.text for lab in labels])


def class_label_similarity(
    vocab: Sequence[str], labels: Sequence[LabelEntry], text, descriptions: dict[str, str] | None = None
) -> np.ndarray:
    """Text cosine of trained classes and labels [V, L] (what the transfer shares a class's mass by).

    A class is its templated name; a class with a description (``descriptions``: name -> sentence) is the mean
    of that cosine and the cosine of its description (as written) with the label.
    """
    lab = _label_emb(text, labels)
    sim = text(list(vocab)) @ lab.T
    rows = [i for i, v in enumerate(vocab) if descriptions and v in descriptions]
    if rows:
        desc = text.raw([descriptions[vocab[i]] for i in rows])
        sim[rows] = 0.5 * (sim[rows] + desc @ lab.T)
    return sim


@functools.cache
def ntu_descriptions(kind: str) -> dict[str, str] | None:
    """NTU-120 name -> description for the transfer's class side (None for ``kind="name"``).

    Kinds: ``llm`` (``labels/smie/ntu120_des.txt``: one LLM sentence per action, SMIE / SA-DVAE),
    ``ad`` (``labels/msf/ad_120.csv``: dictionary-style action definitions, MSF).
    """
    from sadvae.text import load_descriptions

    if kind == "name":
        return None
    files = {"llm": "labels/smie/ntu120_des.txt", "ad": "labels/msf/ad_120.csv"}
    if kind not in files:
        raise ConfigError(f"unknown class text {kind!r}; choose from {['name', *files]}")
    desc = load_descriptions(shared_data_root() / files[kind])
    names = _ntu_names()
    if len(desc) != len(names):
        raise ConfigError(f"{files[kind]}: {len(desc)} descriptions for {len(names)} NTU-120 classes")
    return dict(zip(names, desc, strict=True))


def _transfer_scores(
    probs: np.ndarray,
    vocab: list[str],
    text: _Text,
    labels: Sequence[LabelEntry],
    tau: float | None,
    threshold: float,
    descriptions: dict[str, str] | None = None,
    aliases: Sequence[Sequence[str]] | None = None,
    hub_k: int = 0,
) -> np.ndarray:
    covered, _, _ = match_matrix(labels, vocab, text.raw, threshold, aliases)
    return probs @ transfer_matrix(
        covered, class_label_similarity(vocab, read_as_live(labels, covered), text, descriptions), tau, hub_k
    )


def glossed(labels: Sequence[LabelEntry], text: _Text, actions: Sequence[str], path: str) -> list[LabelEntry]:
    """Each label without a description given its WordNet definition (:meth:`sadvae.glossary.Glossary.define`, the
    sense chosen against ``actions``) as one, ``"<name>: <definition>"``; the others unchanged."""
    g = Glossary.load(path)
    return [
        lab if lab.description else LabelEntry(lab.name, described(lab.name, g.define(lab.name, text.raw, actions)))
        for lab in labels
    ]


def read_as_live(labels: Sequence[LabelEntry], covered: np.ndarray) -> list[LabelEntry]:
    """The labels as the live head reads their text: a label that covers trained classes by its name (the head
    scores it by those classes and never reads its description), a new label by its description when it has one.

    Args:
        labels: the labels; covered: bool [L, V], the trained classes each label covers (:func:`match_matrix`).
    """
    return [LabelEntry(lab.name) if covered[i].any() else lab for i, lab in enumerate(labels)]


def _vocab_probs(train: _Train, lin, x: np.ndarray, ntu_logits: np.ndarray, alpha: float | None, ntu: list[str]):
    """P(trained class | x) over the sources' classes (alpha = None) or the sources' classes + NTU-120."""
    p_src = _softmax(lin(x))
    if alpha is None:
        return p_src, list(train.names)
    return np.concatenate([alpha * p_src, (1 - alpha) * _softmax(ntu_logits)], 1), list(train.names) + ntu


def _synth_scores(
    train: _Train,
    lin,
    x: np.ndarray,
    ntu_logits: np.ndarray,
    text: _Text,
    labels,
    ntu: list[str],
    lam: float,
    pool: str,
) -> np.ndarray:
    """``synth``: P(label | x) [n, L] from classifiers synthesised out of the trained classes of ``pool``
    (:data:`SYNTH_POOLS`): their logits side by side, combined by :func:`sadvae.evaluate.synthesis_weights`."""
    logits, names = [], []
    if pool in ("sources", "sources+ntu"):
        present = np.unique(train.labels)
        logits.append(lin(x)[:, present])
        names += [train.names[i] for i in present]
    if pool in ("ntu", "sources+ntu"):
        logits.append(np.asarray(ntu_logits, np.float64))
        names += list(ntu)
    return _softmax(synthesized_logits(np.concatenate(logits, 1), text(names), _label_emb(text, labels), lam))


@dataclass
class JointHead:
    """The default recipe's head trained on some sets: one softmax over the class-table columns they train.

    Attributes:
        head: the extra linear head (:class:`sadvae.train.default_shiftgcn.ExtraHead`).
        columns: int [V] the head's output columns scored (NTU-120 first, then the trained extra columns).
        names: their names as the trained sets know them (the vocabulary labels are matched against).
        aliases: per column, the trained sets' own names of the classes merged into it (never the held-out set's),
            which the live head's matcher reads beside the name (``sadvae.bundle.Bundle.column_aliases``).
    """

    head: object
    columns: np.ndarray
    names: list[str]
    aliases: tuple[tuple[str, ...], ...] = ()

    def probs(self, feats: np.ndarray, ntu_logits: np.ndarray) -> np.ndarray:
        """P(column | x) [n, V] from clip (or window) features [n, d] and the NTU fc logits [n, 120]."""
        from sadvae.train.default_shiftgcn import head_logits

        return _softmax(head_logits(self.head, feats, ntu_logits)[:, self.columns])


_JOINT_MEMO: dict[tuple, JointHead] = {}  # heads of one process: ``--target all`` trains each source pair's once


def _trained_name(table, column: int, seen: set[str]) -> str:
    """A class-table column's name as the sets in ``seen`` know it: its table name, unless that is only the
    spelling of a set outside ``seen`` (the extra column "walk" is UTKinect's and Bandai-Namco's name; trained by
    NW-UCLA alone it is "walk around"), which must not reach a head that never saw that set."""
    name = table.names[column]
    if column < table.num_ntu:
        return name
    own = [n for d, n in table.members[column] if d in seen]
    theirs = {normalise_name(n) for d, n in table.members[column] if d not in seen}
    if own and normalise_name(name) in theirs and normalise_name(name) not in {normalise_name(n) for n in own}:
        return own[0]
    return name


def fit_joint(sets: Sequence, weight_decay: float, seed: int = 0, table=None, steps: int = 300) -> JointHead:
    """Train the ``joint`` head (recipe ``shiftgcn-v2``) on the windows of ``sets`` only.

    Args:
        sets: :class:`sadvae.train.window_features.WindowFeatures` of the training sets (their classes must be
            in the class table); every other table set counts as never seen: its extra columns are not scored.
        weight_decay: L2 of the extra head; seed: its seed; table: the class table (default: the recipe's).
        steps: L-BFGS iterations (the recipe's 300).

    Returns:
        The :class:`JointHead` over NTU-120 + the extra columns that these sets train.
    """
    from sadvae.train.class_table import class_table
    from sadvae.train.default_shiftgcn import fit_extra_head

    key = None
    if table is None:  # the same sets (same cache files, same windows) train the same head: reuse it
        key = (
            tuple(sorted((wf.dataset, str(wf.path), wf.extractor, len(wf.owner)) for wf in sets)),
            weight_decay,
            seed,
            steps,
        )
        if key in _JOINT_MEMO:
            return _JOINT_MEMO[key]
    table = table or class_table()
    feats, logits, column = [], [], []
    for wf in sets:
        cols = np.asarray(table.columns(wf.dataset, wf.class_names))
        keep = wf.labels[wf.owner] >= 0
        feats.append(wf.feats[keep])
        logits.append(wf.logits[keep])
        column.append(cols[wf.labels[wf.owner[keep]]])
    seen = {wf.dataset for wf in sets}
    without = {d for c in range(table.num_ntu, len(table.names)) for d, _ in table.members[c]} - seen
    trained = np.asarray(table.trained_columns(without))
    # the extra head's softmax holds the columns these sets train and no other (until 6 December 2026 it also held
    # the columns only held-out sets train: no windows, yet in every window's normaliser)
    extra = [int(c) for c in trained if c >= table.num_ntu]
    compact = np.arange(len(table.names))
    compact[extra] = table.num_ntu + np.arange(len(extra))
    head = fit_extra_head(
        np.concatenate(feats),
        np.concatenate(logits),
        compact[np.concatenate(column)],
        table.num_ntu,
        len(extra),
        "joint",
        weight_decay,
        seed,
        steps,
    )
    names = [_trained_name(table, int(c), seen) for c in trained]
    aliases = tuple(
        tuple(dict.fromkeys(n for d, n in table.members[c] if d in seen and n != name))
        for c, name in zip(trained, names, strict=True)
    )
    out = JointHead(head, compact[trained], names, aliases)
    if key is not None and all(wf.path is not None for wf in sets):
        _JOINT_MEMO[key] = out
    return out


def _train_sadvae(train: _Train, text: _Text, cfg: CrossDatasetConfig):
    import torch

    from sadvae.train.zsl import ZSLTrainConfig, train_sadvae

    zcfg = cfg.zsl or ZSLTrainConfig(seed=cfg.seed)
    emb = text(train.names)
    runs = train_sadvae(train.feats, train.labels, emb, tuple(range(min(2, len(train.names)))), zcfg)
    model = runs[-1].model  # the last cycle: a choice fixed in advance
    model.eval()
    torch.manual_seed(cfg.seed)
    return model


def _sadvae_probs(model, x: np.ndarray, text: _Text, labels: Sequence[LabelEntry], seed: int) -> np.ndarray:
    import torch

    from sadvae.models.sadvae import classify, fit_latent_classifier

    clf = fit_latent_classifier(model, torch.as_tensor(_label_emb(text, labels)), seed=seed, relu_logits=False)
    return classify(model, clf, torch.as_tensor(x, dtype=torch.float32)).numpy()


# ----------------------------------------------------------------------------------------------- adaptation

ADAPT_ROUNDS = 5
ADAPT_PROTO_TAU = 0.1
# fused_adapt's grid, selected on the sources: "off" (plain fused) and every classifier kind x weight x kept fraction
ADAPT_GRID = ({"kind": "off"},) + tuple(
    {"kind": k, "weight": w, "keep": f} for k in ("proto", "linear") for w in (0.5, 1.0) for f in (0.5, 1.0)
)


def _pseudo_classifier(z: np.ndarray, y: np.ndarray, num_labels: int, kind: str, seed: int):
    """A classifier of standardised features ``z`` fitted on pseudo-labels ``y``: ``x -> P(label | x) [n, L]``;
    a label no clip was given scores 0."""
    present = np.unique(y)
    if kind == "proto":
        means = np.stack([z[y == c].mean(0) for c in present])
        means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)

        def probs(x: np.ndarray) -> np.ndarray:
            u = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
            out = np.zeros((len(x), num_labels))
            out[:, present] = _softmax(u @ means.T, ADAPT_PROTO_TAU)
            return out

        return probs
    if kind == "linear":
        if len(present) < 2:
            return lambda x: np.eye(num_labels)[np.full(len(x), present[0])]
        lin = fit_linear(z, y, seed)

        def probs(x: np.ndarray) -> np.ndarray:
            out = np.zeros((len(x), num_labels))
            out[:, present] = _softmax(lin(x)[:, present])
            return out

        return probs
    raise ConfigError(f"adaptation kind {kind!r}: choose one of off, proto, linear")


def balanced_shares(scores: np.ndarray, iterations: int = 50) -> np.ndarray:
    """Scores rescaled so that every label holds an equal share of the clips (Sinkhorn-Knopp: columns and rows
    normalised in turn), rows summing to 1: a label the others outscore everywhere still gets its surest clips
    (``balance`` of :func:`adapt_scores`; the docs' round 26)."""
    q = np.asarray(scores, np.float64) + 1e-12
    q = q / q.sum()
    n, k = q.shape
    for _ in range(iterations):
        q /= q.sum(axis=0, keepdims=True) * k
        q /= q.sum(axis=1, keepdims=True) * n
    return q * n


def adapt_scores(
    prior_pool: np.ndarray,
    prior_test: np.ndarray,
    x_pool: np.ndarray,
    x_test: np.ndarray,
    setting: dict,
    seed: int = 0,
    rounds: int = ADAPT_ROUNDS,
) -> np.ndarray:
    """Label scores of test clips refined by self-labelling on unlabelled clips of the same set (``fused_adapt``).

    Each round gives every pool clip its best label, keeps the ``keep`` most confident fraction of each label's
    clips (``balance``: after :func:`balanced_shares`), fits a classifier on them (``kind``: ``proto``, cosine to the
    labels' mean features, or ``linear``, :func:`fit_linear`) and rescores the pool as ``(1 - weight) * prior +
    weight * classifier``; the last round's classifier rescores the test clips the same way. Features are
    standardised on the pool. No label is read.

    Args:
        prior_pool, prior_test: P(label | clip) [n, L] of the unlabelled pool and of the test clips.
        x_pool, x_test: their features [n, d]; setting: one point of :data:`ADAPT_GRID`.

    Returns:
        P(label | clip) [n_test, L] (``prior_test`` itself for ``kind="off"`` or an empty pool).
    """
    if setting["kind"] == "off" or not len(x_pool):
        return prior_test
    mu, sd = x_pool.mean(0), x_pool.std(0) + 1e-6
    zp, zt = (x_pool - mu) / sd, (x_test - mu) / sd
    w, num_labels = setting["weight"], prior_pool.shape[1]
    from sadvae.head.examples import surest_share

    s = prior_pool
    for _ in range(rounds):
        b = balanced_shares(s) if setting.get("balance") else s
        kept = np.concatenate(list(surest_share(b, setting["keep"]).values()))
        clf = _pseudo_classifier(zp[kept], b.argmax(1)[kept], num_labels, setting["kind"], seed)
        s = (1 - w) * prior_pool + w * clf(zp)
    return (1 - w) * prior_test + w * clf(zt)


def _fused_label_scores(train: _Train, lin, fs, text, labels, setting: dict, ntu, hub_k: int):
    """``fused``'s label scores [N, L] of the clips or windows of ``fs`` (anything with ``feats`` and ``logits``)."""
    probs, vocab = _vocab_probs(train, lin, fs.feats, fs.logits, setting["alpha"], ntu)
    return _transfer_scores(probs, vocab, text, labels, setting["tau"], setting["match"], hub_k=hub_k)


def _select_adapt(sources: dict[str, FeatureSet], text: _Text, cfg: CrossDatasetConfig, ntu, fused: dict) -> dict:
    """``fused_adapt``'s point of :data:`ADAPT_GRID` by leave-one-dataset-out on the sources (``fused``'s selected
    setting in every fold; each held-out source adapts on its own training side and is scored on its test side)."""
    if len(sources) < 2:  # no fold to select on: the refinement stays off
        return {"setting": ADAPT_GRID[0], "grid": [], "folds": []}
    setting = fused["setting"]
    folds: dict[str, list[float]] = {}
    for held, fs in sources.items():
        train = _pool([f for n, f in sources.items() if n != held])
        lin = fit_linear(train.feats, train.labels, cfg.seed)
        test = fs.subset(fs.test_side & (fs.labels >= 0))
        pool = fs.subset(~fs.test_side)
        labels = [LabelEntry(c) for c in fs.class_names]
        prior_test = _fused_label_scores(train, lin, test, text, labels, setting, ntu, cfg.hub_k)
        prior_pool = _fused_label_scores(train, lin, pool, text, labels, setting, ntu, cfg.hub_k)
        for g in ADAPT_GRID:
            s = adapt_scores(prior_pool, prior_test, pool.feats, test.feats, g, cfg.seed)
            folds.setdefault(json.dumps(g, sort_keys=True), []).append(float((s.argmax(1) == test.labels).mean()))
    results = [{"setting": json.loads(k), "mean_top1": float(np.mean(v)), "folds": v} for k, v in folds.items()]
    best = max(results, key=lambda r: r["mean_top1"])  # ties: the first, "off" before any refinement
    return {"setting": best["setting"], "grid": results, "folds": list(sources)}


# ----------------------------------------------------------------------------------------------- selection


def _select(
    method: str,
    sources: dict[str, FeatureSet],
    text: _Text,
    cfg: CrossDatasetConfig,
    ntu: list[str],
    windows: dict | None = None,
) -> dict:
    """Leave-one-dataset-out on the sources: the setting with the best mean top-1 (never the target).

    ``windows``: the sources' per-window features (``joint`` trains on windows)."""
    grid: list[dict] = []
    if method == "linear":
        grid = [{"tau": t, "match": h} for t in cfg.taus for h in cfg.match_thresholds]
    elif method in ("fused", "fused_sadvae"):
        grid = [{"tau": t, "alpha": a, "match": h} for t in cfg.taus for a in cfg.alphas for h in cfg.match_thresholds]
    if method == "fused_sadvae":
        grid = [dict(g, beta=b) for g in grid for b in cfg.betas]
    if method == "synth":
        grid = [{"lam": lam, "pool": pool} for lam in SYNTH_LAMBDAS for pool in SYNTH_POOLS]
    if method == "joint":
        grid = [
            {"tau": t, "match": h, "wd": w, "text": c}
            for w in cfg.weight_decays
            for t in cfg.taus
            for h in cfg.match_thresholds
            for c in cfg.class_texts
        ]
    if len(grid) <= 1 or len(sources) < 2:
        return {"setting": grid[0] if grid else {}, "folds": {}, "grid": []}
    folds: dict[str, list[float]] = {}
    results = []
    for held, fs in sources.items():
        rest = [f for n, f in sources.items() if n != held]
        train = _pool(rest)
        lin = None if method == "joint" else fit_linear(train.feats, train.labels, cfg.seed)
        test = fs.subset(fs.test_side & (fs.labels >= 0))
        labels = [LabelEntry(c) for c in fs.class_names]
        if cfg.glossary:
            labels = glossed(labels, text, ntu, cfg.glossary)
        sad = None
        if method == "fused_sadvae":
            model = _train_sadvae(train, text, cfg)
            sad = _sadvae_probs(model, test.feats, text, labels, cfg.seed)
        joint = {}
        if method == "joint":
            rest_w = [windows[n] for n in sources if n != held]
            joint = {w: fit_joint(rest_w, w, cfg.seed) for w in cfg.weight_decays}
        for g in grid:
            if method == "synth":
                s = _synth_scores(train, lin, test.feats, test.logits, text, labels, ntu, g["lam"], g["pool"])
                folds.setdefault(json.dumps(g, sort_keys=True), []).append(float((s.argmax(1) == test.labels).mean()))
                continue
            aliases = None
            if method == "joint":
                h = joint[g["wd"]]
                probs, vocab, aliases = h.probs(test.feats, test.logits), h.names, h.aliases
            else:
                probs, vocab = _vocab_probs(train, lin, test.feats, test.logits, g.get("alpha"), ntu)
            desc = ntu_descriptions(g.get("text", "name"))
            s = _transfer_scores(probs, vocab, text, labels, g["tau"], g["match"], desc, aliases, cfg.hub_k)
            if sad is not None:
                s = (1 - g["beta"]) * s + g["beta"] * sad
            acc = float((s.argmax(1) == test.labels).mean())
            folds.setdefault(json.dumps(g, sort_keys=True), []).append(acc)
    for key, accs in folds.items():
        results.append({"setting": json.loads(key), "mean_top1": float(np.mean(accs)), "folds": accs})
    best = max(results, key=lambda r: r["mean_top1"])
    return {"setting": best["setting"], "grid": results, "folds": list(sources)}


# ----------------------------------------------------------------------------------------------- the run


def _method_scores(
    method: str,
    cfg: CrossDatasetConfig,
    target: FeatureSet,
    sources: dict[str, FeatureSet],
    labels,
    text: _Text,
    ntu: list[str],
    windows: dict | None = None,
    units: _UnitData | None = None,
    pool: FeatureSet | None = None,
) -> tuple[np.ndarray, dict]:
    """Label scores [n, L] of the ``target`` clips (its test side) by ``method``, and what the report records.
    ``pool``: the target's training side, unlabelled (``fused_adapt`` alone reads it)."""
    x, ntu_logits = target.feats, target.logits
    lab_emb = _label_emb(text, labels)
    if method in TUNED_METHODS:
        return _tuned_scores(method, cfg, target, sources, labels, text, ntu, units)
    if method == "ntu_conse":
        return conse_scores(_softmax(ntu_logits), text(ntu), lab_emb, cfg.conse_k), {"k": cfg.conse_k}
    base = "fused" if method in ("fused_windows", "fused_adapt") else method
    sel = _select(base, sources, text, cfg, ntu, windows)
    setting = sel["setting"]
    train = _pool(list(sources.values()))
    info = {"selection": sel, "trained_classes": train.names, "train_samples": int(len(train.labels))}
    if method == "joint":
        head = fit_joint([windows[n] for n in sources], setting["wd"], cfg.seed)
        probs = head.probs(x, ntu_logits)
        info |= {
            "trained_classes": head.names,
            "train_windows": int(sum(len(windows[n].owner) for n in sources)),
            "weight_decay": setting["wd"],
        }
        desc = ntu_descriptions(setting.get("text", "name"))
        s = _transfer_scores(
            probs, head.names, text, labels, setting["tau"], setting["match"], desc, head.aliases, cfg.hub_k
        )
        return s, info
    if method == "sadvae":
        model = _train_sadvae(train, text, cfg)
        return _sadvae_probs(model, x, text, labels, cfg.seed), info
    lin = fit_linear(train.feats, train.labels, cfg.seed)
    if method == "synth":
        return _synth_scores(train, lin, x, ntu_logits, text, labels, ntu, setting["lam"], setting["pool"]), info
    if method == "fused_windows":  # fused's head and setting; each window scored, the clip's scores averaged
        tw = windows[target.dataset]
        s = _fused_label_scores(train, lin, tw, text, labels, setting, ntu, cfg.hub_k)
        return _test_clip_means(tw, s, target), info | {"setting_from": "fused's source-LODO selection"}
    if method == "fused_adapt":
        adapt = _select_adapt(sources, text, cfg, ntu, sel)
        prior = _fused_label_scores(train, lin, target, text, labels, setting, ntu, cfg.hub_k)
        unlabelled = pool if pool is not None else target.subset(np.zeros(len(target.labels), bool))
        prior_pool = _fused_label_scores(train, lin, unlabelled, text, labels, setting, ntu, cfg.hub_k)
        s = adapt_scores(prior_pool, prior, unlabelled.feats, x, adapt["setting"], cfg.seed)
        return s, info | {
            "setting_from": "fused's source-LODO selection",
            "adaptation": adapt,
            "unlabelled_clips": int(len(unlabelled.labels)),
        }
    probs, vocab = _vocab_probs(train, lin, x, ntu_logits, setting.get("alpha"), ntu)
    s = _transfer_scores(probs, vocab, text, labels, setting["tau"], setting["match"], hub_k=cfg.hub_k)
    if method == "fused_sadvae":
        model = _train_sadvae(train, text, cfg)
        s = (1 - setting["beta"]) * s + setting["beta"] * _sadvae_probs(model, x, text, labels, cfg.seed)
    return s, info


def _round1_scores(cfg: CrossDatasetConfig, target_name: str, labels: Sequence[LabelEntry]) -> tuple[np.ndarray, dict]:
    """The round-1 packaged model through the round-1 head logic (see the module docstring)."""
    import torch

    from sadvae.assets import default_bundle_path
    from sadvae.features import BundleExtractor
    from sadvae.models.sadvae import classify, fit_latent_classifier

    ex = BundleExtractor(cfg.bundle or default_bundle_path())
    if ex.bundle.provenance.get("recipe_name", "stgcn-v1") != "stgcn-v1":
        raise ConfigError(
            f"{ex.path}: method round1 needs the round-1 ST-GCN bundle, this one is recipe "
            f"{ex.bundle.provenance['recipe_name']!r}; pass --bundle with the round-1 model "
            "(e.g. `git show 9d78561:sadvae/assets/default_model.pt > runs/round1/default_model.pt`)"
        )
    fs = load_features(cfg, [target_name], ex)[target_name]
    test = fs.subset(fs.test_side & (fs.labels >= 0))
    b = ex.bundle
    seen_by_name = {}
    for col, c in enumerate(b.seen_classes):
        seen_by_name.setdefault(normalise_name(b.class_names[c]), col)
    cols = np.array([seen_by_name.get(normalise_name(lab.name), -1) for lab in labels])
    new = np.flatnonzero(cols < 0)
    seen = np.flatnonzero(cols >= 0)
    scores = np.zeros((len(test.labels), len(labels)))
    p_seen = _softmax(test.logits[:, cols[seen]]) if len(seen) else None
    zsl = None
    if len(new):
        emb = TextEncoder(b.text_cfg).encode_labels([labels[i].text for i in new])
        clf = fit_latent_classifier(b.sadvae, torch.as_tensor(emb), seed=cfg.seed)  # published ReLU'd logits
        zsl = classify(b.sadvae, clf, torch.as_tensor(test.feats)).numpy()
    if zsl is None:
        scores[:, seen] = p_seen
    elif p_seen is None:
        scores[:, new] = zsl
    else:
        unseen = b.gate.is_unseen(zsl, test.logits)
        scores[:, new] = zsl * unseen[:, None]
        scores[:, seen] = p_seen * (~unseen)[:, None]
    info = {
        "bundle": str(ex.path),
        "trained_on": b.provenance.get("datasets") or b.provenance.get("dataset"),
        "seen_labels": [labels[i].name for i in seen],
        "new_labels": [labels[i].name for i in new],
    }
    return scores, info | {"_truth": test.labels}


def label_columns(labels: Sequence[LabelEntry], class_names: Sequence[str], path, target: str) -> np.ndarray:
    """The label of each target class (int [C] into ``labels``): every class must be a label (the scoring needs each
    clip's true label among them); extra labels are distractors.

    Raises:
        ConfigError: a class is not a label (the message lists them, the target's names, and a numbered-list hint).
    """
    index = {normalise_name(lab.name): j for j, lab in enumerate(labels)}
    missing = [c for c in class_names if normalise_name(c) not in index]
    if missing:
        numbered = sum(bool(re.match(r"\d+[\s.:,)-]", lab.name)) for lab in labels) > len(labels) // 2
        hint = " (its lines start with numbers: write the action names only, one per line)" if numbered else ""
        raise ConfigError(
            f"labels file {path}: the target's classes {missing} are not labels{hint}; write every class of "
            f"{target} (its names are {list(class_names)}), optionally with '| description'"
        )
    return np.array([index[normalise_name(c)] for c in class_names])


def default_methods(bundle: str | None = None, backbone: str = "shiftgcn") -> tuple[str, ...]:
    """The methods a run without ``--methods`` runs: :data:`DEFAULT_METHODS` (those that need no NTU fc with
    another backbone), led by ``round1`` given a bundle."""
    methods = DEFAULT_METHODS if backbone == "shiftgcn" else tuple(m for m in DEFAULT_METHODS if m not in NTU_METHODS)
    return (("round1",) if bundle else ()) + methods


def feature_extractor(cfg: CrossDatasetConfig):
    from sadvae.features import BundleExtractor, shiftgcn_extractor
    from sadvae.models.pretrained import resolve_shiftgcn_weights

    if cfg.backbone == "shiftgcn":
        return shiftgcn_extractor(
            cfg.weights, cfg.window, cfg.stride, mirror=cfg.mirror, resolve=resolve_shiftgcn_weights
        )
    if cfg.mirror:
        raise ConfigError("--mirror-tta is measured on the Shift-GCN backbone only; drop it or use --backbone shiftgcn")
    if cfg.backbone == "stgcn":
        from sadvae.assets import default_bundle_path

        return BundleExtractor(cfg.bundle or default_bundle_path())
    raise ConfigError(f"unknown backbone {cfg.backbone!r}; choose shiftgcn or stgcn")


def run_cross_dataset(cfg: CrossDatasetConfig, out: str | Path) -> dict:
    """Run the protocol for one target (module docstring); writes and returns the report."""
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(out)
    (out / "methods").mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    root = Path(cfg.data_root) if cfg.data_root else shared_data_root()
    target = resolve_name(cfg.target)
    present = available_sets(root)
    if target not in present:
        raise ConfigError(f"{target}: not found under {root}; the shared labelled sets present are {list(present)}")
    sources = tuple(resolve_name(s) for s in cfg.sources) or tuple(n for n in present if n != target)
    if target in sources:
        raise ConfigError(f"{target} is the target and cannot be a source too")
    unknown = [m for m in cfg.methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"unknown methods {unknown}; choose from {list(METHODS)}")
    if cfg.backbone != "shiftgcn" and any(m in NTU_METHODS for m in cfg.methods):
        raise ConfigError(f"methods {list(NTU_METHODS)} need the NTU fc: use --backbone shiftgcn or drop them")
    if cfg.glossary:  # checked before minutes of feature extraction, as the labels file below
        Glossary.load(cfg.glossary)
    user_labels = None
    if cfg.labels:  # checked before minutes of feature extraction: the file, and that it names every target class
        from sadvae.data.registry import DATASETS

        user_labels = read_labels(cfg.labels)
        label_columns(
            user_labels, DATASETS[target].loader(root / DATASETS[target].default_root).class_names, cfg.labels, target
        )
    if cfg.batchnorm not in BATCHNORM_WORDS:
        raise ConfigError(f"batchnorm {cfg.batchnorm!r}: choose one of {', '.join(BATCHNORM_WORDS)}")
    if cfg.batchnorm != "released" and (cfg.backbone != "shiftgcn" or any(m in TUNED_METHODS for m in cfg.methods)):
        raise ConfigError(
            f"--batchnorm {cfg.batchnorm} re-estimates the frozen Shift-GCN's statistics: it needs --backbone shiftgcn "
            f"and none of the fine-tuned methods ({', '.join(TUNED_METHODS)})"
        )
    ex = feature_extractor(cfg)
    if cfg.features not in ("auto", "clips", "windows"):
        raise ConfigError(f"features {cfg.features!r}: choose auto, clips or windows")
    use_windows = cfg.features == "windows" or (
        cfg.features == "auto" and any(m in WINDOW_METHODS for m in cfg.methods)
    )
    if use_windows and cfg.backbone != "shiftgcn":
        raise ConfigError("the per-window features (method joint, --features windows) need --backbone shiftgcn")
    if isinstance(ex, EnsembleExtractor) and any(m in TUNED_METHODS for m in cfg.methods):
        tuned = sorted({m for m in cfg.methods if m in TUNED_METHODS})
        raise ConfigError(
            f"--weights {cfg.weights}: the fine-tuned methods ({', '.join(tuned)}) tune one network's units, not an "
            "ensemble of checkpoints; drop them or give one checkpoint"
        )
    windows = load_window_sets(cfg, (target, *sources), ex) if use_windows else None
    units = None
    if any(m in TUNED_METHODS for m in cfg.methods):
        units = load_unit_sets(cfg, (target, *sources), ex)
    feats = {n: w.clip_set() for n, w in windows.items()} if windows else load_features(cfg, (target, *sources), ex)
    tfs = feats[target]
    labels = user_labels or [LabelEntry(c) for c in tfs.class_names]
    truth_names = tfs.class_names
    remap = label_columns(labels, truth_names, cfg.labels, target)
    test = tfs.subset(tfs.test_side & (tfs.labels >= 0))
    pool = tfs.subset(~tfs.test_side)  # the training side, its labels never read (fused_adapt's unlabelled clips)
    truth = remap[test.labels]
    text = _Text(cfg.text)
    ntu = _ntu_names() if cfg.backbone == "shiftgcn" else []
    if cfg.glossary:
        labels = glossed(labels, text, ntu, cfg.glossary)
    src_vocab = _pool([feats[s] for s in sources]).names
    groups = {
        "sources": label_groups(labels, src_vocab, text.raw, cfg.near_threshold),
        "ntu120": label_groups(labels, ntu, text.raw, cfg.near_threshold) if ntu else None,
    }
    names = [lab.name for lab in labels]
    results: dict[str, dict] = {}
    scores_by_method: dict[str, np.ndarray] = {}
    from tqdm import tqdm

    settings = run_settings(cfg)
    for method in tqdm(cfg.methods, desc=f"cross-dataset {target}", unit="method"):
        path = out / "methods" / f"{method}.json"
        if path.is_file():
            results[method] = json.loads(path.read_text())
            _check_reused(path, results[method].get("run_settings"), settings)
            log.info("%s: reusing %s", method, path)
            continue
        t = time.time()
        src = {s: feats[s] for s in sources}
        if method == "round1":
            s, info = _round1_scores(cfg, target, labels)
            mtruth = remap[info.pop("_truth")]
        else:
            s, info = _method_scores(method, cfg, test, src, labels, text, ntu, windows, units, pool)
            mtruth = truth
        m = metrics(s, mtruth, names)
        m["groups"] = {k: _group_accuracy(m, g, names) for k, g in groups.items() if g is not None}
        results[method] = {"method": method, **m, "info": info, "seconds": time.time() - t, "run_settings": settings}
        path.write_text(json.dumps(results[method], indent=1, default=_json_default))
        scores_by_method[method] = s
    report = {
        "protocol": "cross-dataset (leave-one-dataset-out), open vocabulary",
        "target": target,
        "sources": list(sources),
        "labels_file": cfg.labels,
        "labels": [asdict(lab) for lab in labels],
        "label_groups": groups,
        "test_samples": int(len(truth)),
        "backbone": ex.id,
        "feature_settings": ex.settings,
        "batchnorm": BATCHNORM_WORDS[cfg.batchnorm],
        "feature_cache": "windows (the default recipe's per-window cache; clip = window mean)" if windows else "clips",
        "text_encoder": text.enc.encoder_id,
        "template": cfg.text.template,
        "methods": results,
        "machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}".strip(),
        "wall_seconds_this_run": time.time() - t0,
        "config": json.loads(json.dumps(asdict(replace(cfg, zsl=None)), default=_json_default)),
    }
    (out / "report.json").write_text(json.dumps(report, indent=1, default=_json_default))
    (out / "report.md").write_text(render_markdown(report))
    for method, r in results.items():
        _confusion_png(np.asarray(r["confusion"]), names, f"{target}: {method}", out / f"confusion_{method}.png")
    return report


def run_settings(cfg: CrossDatasetConfig) -> dict:
    """Every setting a method's result depends on (the config without ``threads`` and ``methods``), as JSON values:
    a finished method's file is reused only by a run with the same."""
    d = json.loads(json.dumps(asdict(cfg), default=_json_default, sort_keys=True))
    return {k: v for k, v in d.items() if k not in ("threads", "methods")}


def _check_reused(path: Path, stored: dict | None, settings: dict) -> None:
    """Refuse to reuse a finished method's result written with other settings (it would be reported under these)."""
    if stored == settings:
        return
    if stored is None:
        why = "was written before results recorded their settings"
    else:
        keys = sorted(k for k in settings.keys() | stored.keys() if stored.get(k) != settings.get(k))
        why = "was run with other settings (" + ", ".join(f"{k}: {stored.get(k)!r} there" for k in keys) + ")"
    raise ConfigError(f"{path} {why}; pass another --out (or delete the folder) to run with these settings")


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)


METHOD_NOTES = {
    "round1": "round-1 packaged model + round-1 head (SAW the Kinect targets' training sides)",
    "ntu_conse": "NTU-120 Shift-GCN, no training: ConSE over the NTU names",
    "linear": "frozen backbone + linear head on the sources' classes, text transfer",
    "fused": "frozen backbone: NTU fc + linear head on the sources' classes, text transfer",
    "sadvae": "frozen backbone + SA-DVAE (zero-shot for every label)",
    "fused_sadvae": "fused + SA-DVAE zero-shot branch",
    "joint": "default recipe's head trained without the target: NTU fc + extra head in one softmax, text transfer",
    "fused_windows": "fused, each window scored and a clip's label scores averaged (not its features)",
    "tuned": "fused, sources' head trained on windows with Shift-GCN's last unit(s) fine-tuned",
    "tuned_frozen": "fused, sources' head trained on windows, units frozen (the control of tuned)",
    "fused_adapt": "fused, refined by self-labelling on the target's UNLABELLED training side (a setting of its own)",
}


def render_markdown(report: dict) -> str:
    """The report as markdown (table of methods, label groups, per-class accuracy)."""
    p = lambda x: "–" if x is None else f"{100 * x:.1f}"  # noqa: E731
    lines = [
        f"# Cross-dataset open vocabulary: target {report['target']}",
        "",
        f"Trained on {', '.join(report['sources'])} (every clip); scored on the {report['test_samples']} test-side "
        f"clips of {report['target']} against {len(report['labels'])} labels "
        f"({report['labels_file'] or 'the dataset class names'}). Backbone `{report['backbone']}`, text encoder "
        f"`{report['text_encoder']}`, template `{report['template']}`; {report['machine']}.",
        "",
        *(
            [
                f"**BatchNorm statistics: {report['batchnorm']} (`--batchnorm`): the target's unlabelled "
                "training-side windows were read; its test side and its labels were not.**",
                "",
            ]
            if report.get("batchnorm", BATCHNORM_WORDS["released"]) != BATCHNORM_WORDS["released"]
            else []
        ),
        *(
            [
                "**The `stgcn` backbone is the round-1 bundle's ST-GCN, trained on the training sides of MSR, "
                "NW-UCLA and UTKinect: on those targets no row of this table is cross-dataset.**",
                "",
            ]
            if report["backbone"].startswith("bundle:")
            else []
        ),
        "| method | top-1 | top-5 | mean class | exact/near (sources) top-1 | new (sources) top-1 | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in report["methods"].items():
        g = r["groups"].get("sources", {})
        seen_n = sum(g.get(k, {}).get("samples", 0) for k in ("exact", "near"))
        seen_hits = sum(g.get(k, {}).get("top1", 0) * g.get(k, {}).get("samples", 0) for k in ("exact", "near"))
        seen = seen_hits / seen_n if seen_n else None
        new = g.get("new", {}).get("top1")
        lines.append(
            f"| {name} | {p(r['top1'])} | {p(r['top5'])} | {p(r['mean_class_top1'])} | {p(seen)} | "
            f"{p(new)} | {METHOD_NOTES.get(name, '')} |"
        )
    lines += [
        "",
        "## Labels: trained names vs new",
        "",
        "Groups from the live head's label matcher (`sadvae.head.matching`): exact name, near (matched to a "
        "trained class), new (zero-shot).",
        "",
        "| label | vs sources | source classes it covers (score) | vs NTU-120 | NTU classes it covers (score) |",
        "|---|---|---|---|---|",
    ]
    ntu = report["label_groups"].get("ntu120") or [None] * len(report["labels"])
    for lab, gs, gn in zip(report["labels"], report["label_groups"]["sources"], ntu, strict=True):
        lines.append(
            f"| {lab['name']} | {gs['group']} | {_match_cell(gs)} | {gn['group'] if gn else '–'} | {_match_cell(gn)} |"
        )
    names = [lab["name"] for lab in report["labels"]]
    methods = list(report["methods"])
    lines += ["", "## Per-class top-1", "", "| label | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for n in names:
        cells = [p(report["methods"][m]["per_class_top1"].get(n)) for m in methods]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    sel = {m: r["info"].get("selection", {}).get("setting") for m, r in report["methods"].items()}
    sel = {m: s for m, s in sel.items() if s}
    if sel:
        lines += [
            "",
            "Settings chosen by leave-one-dataset-out on the sources (never the target): "
            + "; ".join(f"{m}: {json.dumps(s)}" for m, s in sel.items())
            + ".",
        ]
    return "\n".join(lines) + "\n"


def _match_cell(g: dict | None) -> str:
    if not g or g.get("score") is None:
        return "–"
    if g["match"]:
        return f"{', '.join(g['match'])} ({g['score']:.2f})"
    return f"none; nearest {g['nearest']} ({g['score']:.2f})"


def _confusion_png(cm: np.ndarray, names: Sequence[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(names)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(0.45 * n + 3, 0.45 * n + 2.5))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), names, rotation=90, fontsize=7)
    ax.set_yticks(range(n), names, fontsize=7)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------- CLI

# the options below that the split protocols (honest / paper) read too: a frozen backbone's checkpoints, windows,
# statistics and feature cache; `sadvae benchmark zsl` refuses every other one of them under a split protocol
SHARED_WITH_SPLIT_PROTOCOLS = ("backbone", "weights", "window", "stride", "batchnorm", "feature_dir")
CROSS_DATASET_ONLY = (
    "target",
    "labels",
    "methods",
    "sources",
    "mirror_tta",
    "tune_units",
    "tune_epochs",
    "bundle",
    "joint_weight_decays",
    "xd_seed",
    "hubness_k",
    "glossary",
    "features",
)


def add_cli_arguments(p) -> None:
    """The ``--protocol cross-dataset`` options of ``sadvae benchmark`` (an ``argparse`` parser)."""
    g = p.add_argument_group("cross-dataset protocol (--protocol cross-dataset)")
    g.add_argument(
        "--target",
        help="held-out dataset: msr_action3d, nw_ucla, utkinect (utkinect_action3d), hdm05, "
        "bandai_namco, or 'all' (one report per target plus a summary)",
    )
    g.add_argument(
        "--labels",
        type=Path,
        help="labels file for the target (name or 'name | description' per line; default: the target's class names)",
    )
    g.add_argument(
        "--backbone",
        default="shiftgcn",
        choices=("shiftgcn", "stgcn"),
        help="shiftgcn: NTU-120 Shift-GCN, frozen (default); stgcn: the round-1 ST-GCN (saw MSR/UCLA/UTK)",
    )
    g.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        help=f"methods to run (default: {' '.join(DEFAULT_METHODS)}, and round1 when --bundle is given)",
    )
    g.add_argument("--sources", nargs="+", help="training sets (default: every other shared labelled set)")
    g.add_argument(
        "--weights",
        default=DEFAULT_WEIGHTS,
        help="Shift-GCN checkpoint: a .pt path or a short name (ntu120_xsub, ntu120_xsetup, ntu60_xsub, "
        "ntu60_xview); 'a+b' = an ensemble, features side by side and NTU logits averaged (default: NTU-120 x-sub)",
    )
    g.add_argument("--window", type=int, default=64, help="Shift-GCN window, frames at 30 fps (default 64)")
    g.add_argument("--stride", type=int, default=32, help="frames between windows of a long clip (default 32)")
    g.add_argument(
        "--mirror-tta",
        action="store_true",
        help="test-time mirroring: every window's features are the mean of it and its left-right mirror image",
    )
    g.add_argument(
        "--batchnorm",
        default="released",
        choices=tuple(BATCHNORM_WORDS),
        help="the frozen Shift-GCN's BatchNorm statistics: released (NTU's, default) or own, re-estimated on "
        "unlabelled windows (AdaBN). --protocol cross-dataset: each set, sources and target alike, on its own "
        "training side (the target's unlabelled training side is read: docs/cross_dataset.md round 23), or target: "
        "the target alone (a model trained as ever, calibrated where it is used); split "
        "protocols: on the benchmarked set's seen classes' training side, per split (never an unseen class's "
        "clip), and an --aux-classes set on its own training side",
    )
    g.add_argument(
        "--tune-units",
        type=int,
        default=1,
        help="methods tuned / tuned_frozen: how many of Shift-GCN's last units train (default 1)",
    )
    g.add_argument("--tune-epochs", type=int, default=6, help="methods tuned / tuned_frozen: epochs (default 6)")
    g.add_argument(
        "--bundle",
        type=Path,
        help="the round-1 ST-GCN bundle that method round1 scores (the packaged default is another recipe; "
        "e.g. `git show 9d78561:sadvae/assets/default_model.pt > runs/round1/default_model.pt`); given, round1 "
        "joins the default methods",
    )
    g.add_argument(
        "--joint-weight-decays",
        type=float,
        nargs="+",
        help="L2 strengths of the joint head tried in selection on the sources (default: the recipe's grid, "
        f"{' '.join(map(str, RECIPE_WEIGHT_DECAYS))})",
    )
    g.add_argument("--xd-seed", type=int, default=0, help="seed of every head (default 0)")
    g.add_argument(
        "--hubness-k",
        type=int,
        default=0,
        metavar="K",
        help="a hubness correction of the transfer (CSLS over each label's K nearest trained classes), in the "
        "selection's folds and on the target; 0 (default): off (measured, not adopted: docs/cross_dataset.md round 21)",
    )
    g.add_argument(
        "--glossary",
        nargs="?",
        type=Path,
        const=DEFAULT_GLOSSARY,
        metavar="FILE",
        help="read each label that has no description with its WordNet definition (sadvae/glossary.py; FILE from "
        "scripts/build_glossary.py, default runs/glossary/glossary.tsv.gz), in the selection's folds and on the "
        "target (measured, not adopted: docs/cross_dataset.md round 20)",
    )
    g.add_argument("--feature-dir", type=Path, help="feature cache (default runs/features)")
    g.add_argument(
        "--features",
        default="auto",
        choices=("auto", "clips", "windows"),
        help="clips: per-clip cache; windows: the default recipe's per-window cache (clip = window mean); "
        "auto (default): windows when method joint runs",
    )


def run_cli(args) -> int:
    """``sadvae benchmark --protocol cross-dataset``: one target or ``all``."""
    from sadvae.text import TextConfig
    from sadvae.train.finetune import FinetuneConfig
    from sadvae.train.zsl import zsl_config_from_flags

    if not args.target:
        raise ConfigError("--protocol cross-dataset needs --target (a dataset name or 'all')")
    if args.target == "all" and args.labels:
        raise ConfigError("--labels names one target's classes; use it with one --target, not 'all'")
    zsl = zsl_config_from_flags(args, seed=args.xd_seed)
    base = CrossDatasetConfig(
        target=args.target,
        sources=tuple(args.sources or ()),
        methods=tuple(args.methods or default_methods(args.bundle, args.backbone)),
        labels=str(args.labels) if args.labels else None,
        backbone=args.backbone,
        weights=str(args.weights),
        bundle=str(args.bundle) if args.bundle else None,
        window=args.window,
        stride=args.stride,
        mirror=args.mirror_tta,
        batchnorm=args.batchnorm,
        seed=args.xd_seed,
        text=TextConfig(model=args.text_model, template=args.template, device=args.device),
        zsl=zsl,
        finetune=FinetuneConfig(units=args.tune_units, epochs=args.tune_epochs),
        feature_dir=str(args.feature_dir) if args.feature_dir else None,
        features=args.features,
        glossary=str(args.glossary) if args.glossary else None,
        hub_k=args.hubness_k,
        threads=args.threads,
    )
    if args.hubness_k < 0:
        raise ConfigError(f"--hubness-k must be >= 0, got {args.hubness_k}")
    if args.joint_weight_decays:
        if any(not w > 0 for w in args.joint_weight_decays):
            raise ConfigError(f"--joint-weight-decays must be positive, got {args.joint_weight_decays}")
        base = replace(base, weight_decays=tuple(args.joint_weight_decays))
    targets = available_sets(shared_data_root()) if args.target == "all" else (args.target,)
    reports = []
    for t in targets:
        out = args.out / resolve_name(t) if args.target == "all" else args.out
        reports.append(run_cross_dataset(replace(base, target=t), out))
        print((out / "report.md").read_text())
    if args.target == "all":
        (args.out / "summary.md").write_text(summary_markdown(reports))
        print((args.out / "summary.md").read_text())
    print(f"wrote {args.out}")
    return 0


def summary_markdown(reports: Sequence[dict]) -> str:
    """One table: every target x method, top-1 / top-5 / mean class."""
    methods = list(dict.fromkeys(m for r in reports for m in r["methods"]))
    lines = [
        "# Cross-dataset open vocabulary: summary",
        "",
        "top-1 / top-5 / mean-class accuracy (%) on each target's test side; trained without the target "
        "(except `round1`, which saw the Kinect targets' training sides).",
        "",
        *(
            line
            for words in sorted({r.get("batchnorm", BATCHNORM_WORDS["released"]) for r in reports})
            if words != BATCHNORM_WORDS["released"]
            for line in (
                f"BatchNorm statistics (`--batchnorm`): {words}; the target's unlabelled training side was read.",
                "",
            )
        ),
        "| method | " + " | ".join(f"{r['target']} ({len(r['labels'])}-way)" for r in reports) + " |",
        "|---|" + "---|" * len(reports),
    ]
    for m in methods:
        cells = []
        for r in reports:
            x = r["methods"].get(m)
            cells.append(
                "–"
                if x is None
                else f"{100 * x['top1']:.1f} / {100 * x['top5']:.1f} / {100 * x['mean_class_top1']:.1f}"
            )
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
