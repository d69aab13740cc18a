"""The whole zero-shot protocol for one split: backbones, features, SA-DVAE, gate, ZSL/GZSL numbers.

Honest protocol (default): everything that is chosen — the SA-DVAE cycle, the gate's temperature,
threshold and weights — is chosen on the validation split, which lives entirely on the training side
of the dataset's protocol and treats some seen classes as unseen. Test samples are touched once, to
report. The ``paper`` protocol reproduces the official code's choice (best cycle by unseen *test*
accuracy) and is reported separately, labelled as such.

GZSL combines the backbone's seen-class scores and the zero-shot scores by ``ExperimentConfig.gzsl``:
``"gate"`` (round 1: a logistic gate fitted on the validation run's backbone), ``"stacking"`` (calibrated
stacking fitted on held-out windows of the final model, :class:`sadvae.evaluate.Stacking`), ``"novelty"``
(the distance of a clip's feature from the seen classes' mean features, :class:`sadvae.evaluate.Novelty`)
and ``"stacking+novelty"`` (both statistics, :class:`sadvae.evaluate.StackingNovelty`). The last three are
fitted on held-out windows of the final model with a keep rate chosen on the validation run
(:func:`held_out_rates`); the final backbone and SA-DVAE then train without those windows (the same held-out
groups as the validation run's, or a stratified share when the training side has fewer than three groups),
so every combination in one run is measured on the same final model.

Backbone (``ExperimentConfig.frozen``): ``None`` trains the ST-GCN from scratch twice per split (round 1).
A :class:`FrozenBackbone` instead reads the clip features of a released pretrained backbone (the NTU-120
Shift-GCN, frozen: :class:`sadvae.features.ShiftGCNExtractor` through the per-clip cache
:func:`sadvae.features.cached_features`) and trains only a seen-class head on them: a multinomial logistic
regression on standardised features, its L2 strength chosen on the validation run (trained on
``val_train``, scored on ``val_seen``), then refitted on the main run's training samples. Everything else
(SA-DVAE, cycle selection, gate, stacking) is unchanged. NTU-120's classes overlap some unseen classes of
the Kinect sets, so such runs are not zero-shot in the strict sense: :func:`ntu_counterparts` names the
unseen classes with an NTU counterpart and every run reports ZSL accuracy split by it.

Unseen-class scorers (``ExperimentConfig.unseen_scorers``, :class:`sadvae.evaluate.UnseenScorer`): the
zero-shot probabilities that ZSL and both GZSL rules read come from SA-DVAE (``sadvae``, the published
method and the paper protocol's), or, with a frozen NTU backbone, from ConSE over the backbone's own
NTU-120 classifier and names (``conse``), or a convex mix of the two (``fused``), or the NTU classifier's own
probability for class names that the label matcher maps onto NTU actions and SA-DVAE for the rest
(``matched``, no free number; :func:`sadvae.train.benchmark.ntu_name_matches`), or from classifiers synthesised
out of the seen-class head by a ridge regression from class names (``synth``, any backbone; ``synth-matched``:
``matched`` with it in SA-DVAE's place; :func:`sadvae.evaluate.synthesis_weights`). Their free numbers (ConSE
top-k, the softmax temperature of its cosines, the mix weight) are chosen on the validation run's
pseudo-unseen samples (:func:`sadvae.evaluate.choose_unseen_scorer`, with the validation run's chosen
SA-DVAE cycle), like the cycle and the keep rate; the gate and the stacking keep rate are then fitted on
that scorer's validation probabilities. Every scorer of the list is measured on the same final model; the
first is the headline.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sadvae.data.record import Dataset
from sadvae.data.splits import PROTOCOLS as SPLIT_PROTOCOLS
from sadvae.data.splits import (  # dataset_arrays, dataset_protocol, test_side_mask: re-exported
    Partition,
    ZSLSplit,
    copies_of_training,
    dataset_arrays,
    dataset_protocol,
    load_split_json,
    make_partition,
    named_split,
    random_split,
    test_side_mask,
)
from sadvae.errors import ConfigError
from sadvae.evaluate import (
    GATE_FOLDS,
    NOVELTY_DISTANCES,
    SCORER_SELECTIONS,
    SYNTH_SCORERS,
    UNSEEN_SCORERS,
    Gate,
    UnseenScorer,
    best_keep_rate,
    choose_keep_rate,
    choose_unseen_scorer,
    fit_gate,
    fit_novelty,
    fit_stacking,
    fit_stacking_novelty,
    gzsl_scores,
    zsl_accuracy,
)
from sadvae.text import TextConfig, TextEncoder
from sadvae.train.backbone import BackboneTrainConfig, extract, train_backbone
from sadvae.train.zsl import VARIANTS, CycleResult, ZSLTrainConfig, train_sadvae, zsl_probs

__all__ = [
    "FROZEN_BACKBONES",
    "FrozenBackbone",
    "GZSL_COMBINATIONS",
    "PROTOCOLS",
    "ExperimentConfig",
    "ScorerValidation",
    "SplitFeatures",
    "ValidationRun",
    "choose_head_c",
    "class_text_embeddings",
    "class_descriptions",
    "dataset_arrays",
    "dataset_protocol",
    "final_holdout",
    "fit_seen_head",
    "frozen_clip_features",
    "make_split",
    "ntu_class_names",
    "ntu_counterparts",
    "prepare_features",
    "prepare_frozen_features",
    "run_variant",
    "split_partition",
    "test_side_mask",
    "validate_variant",
    "zsl_by_group",
]

log = logging.getLogger(__name__)

PROTOCOLS = ("honest", "paper")
GZSL_COMBINATIONS = ("stacking+novelty", "stacking", "novelty", "gate")
# the combinations fitted on held-out windows of the final model (which then trains without them)
HELD_OUT_COMBINATIONS = ("stacking+novelty", "stacking", "novelty")
# frozen pretrained backbones for --backbone: name -> Shift-GCN checkpoint short name (sadvae.models.pretrained)
FROZEN_BACKBONES = {"shiftgcn-ntu120": "ntu120_xsub"}
HEAD_CS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass(frozen=True)
class FrozenBackbone:
    """A frozen pretrained backbone: cached clip features plus a seen-class head trained per run.

    Attributes:
        name: a key of :data:`FROZEN_BACKBONES` (reports name it).
        weights: checkpoint path or short name (``sadvae.models.pretrained.SHIFTGCN_CHECKPOINTS``); relative
            paths are tried from the working folder, then from the project root.
        window: frames per Shift-GCN window at 30 fps (multiple of 4); stride: frames between windows.
        data_root: the dataset's folder (identifies the cached features); None: the registry default.
        feature_dir: the feature cache (None: ``runs/features``).
        head_cs: inverse L2 strengths of the seen-class head tried on the validation run.
        batchnorm: "released" (the checkpoint's BatchNorm statistics, NTU's) or "own": statistics re-estimated
            (AdaBN, :class:`sadvae.train.window_features.OwnStatistics`) on the benchmarked set's **seen** classes'
            training side, per split (the unseen classes' clips are never read), and on an ``--aux-classes`` set's
            own training side. The validation run reads the main run's features, so its pseudo-unseen classes
            were among the statistics' clips (unlabelled): validation is a little easier than the test.
    """

    name: str = "shiftgcn-ntu120"
    weights: str = "ntu120_xsub"
    window: int = 64
    stride: int = 32
    data_root: str | None = None
    feature_dir: str | None = None
    head_cs: tuple[float, ...] = HEAD_CS
    batchnorm: str = "released"

    def __post_init__(self) -> None:
        if self.batchnorm not in ("released", "own"):
            raise ConfigError(f"FrozenBackbone.batchnorm {self.batchnorm!r}: choose released or own")
        if self.name not in FROZEN_BACKBONES:
            raise ConfigError(f"unknown frozen backbone {self.name!r}; choose one of {sorted(FROZEN_BACKBONES)}")
        if not self.head_cs or any(c <= 0 for c in self.head_cs):
            raise ConfigError(f"FrozenBackbone.head_cs: expected positive values, got {self.head_cs}")


@dataclass(frozen=True)
class ExperimentConfig:
    """One zero-shot experiment on a dataset.

    Attributes:
        dataset: registry name.
        num_unseen: unseen classes per split (and pseudo-unseen classes of the validation split).
        split_seeds: one seeded random class split per seed.
        variants: ablation variants to run (keys of ``sadvae.train.zsl.VARIANTS``).
        protocols: "honest" (validation selection) and/or "paper" (best cycle on the test set).
        holdout_fraction: share of training-side groups held out as validation-seen samples.
        unseen_classes: an explicit split by class names (overrides the seeded random one and ``num_unseen``).
        split_file: an explicit split file (JSON, see ``sadvae.data.splits.load_split_json``); overrides both.
        backbone: backbone training.
        zsl: SA-DVAE training (its ``variant`` is overridden per variant).
        text: text encoder and prompt template.
        gzsl: GZSL combinations to measure (``GZSL_COMBINATIONS``); the first is the headline S/U/H.
            ``"stacking"`` holds out windows from the final model (module docstring).
        frozen: a frozen pretrained backbone instead of the ST-GCN trained from scratch (``backbone`` is
            then unused).
        unseen_scorers: unseen-class scorers to measure (``sadvae.evaluate.UNSEEN_SCORERS``), all on the same
            final model; the first is the headline. ``conse``, ``fused`` and ``matched`` need a frozen NTU backbone.
        unseen_selection: how their free numbers are chosen on the validation run
            (``sadvae.evaluate.SCORER_SELECTIONS``: ``1se`` or ``accuracy``, see ``choose_unseen_scorer``).
        aux_datasets: other registered sets whose classes may join SA-DVAE's training as auxiliary seen classes
            (:mod:`sadvae.train.aux_classes`; a frozen backbone only; chosen per split on the validation run).
        novelty_distance: the distance from the seen classes that the novelty rules read
            (``sadvae.evaluate.NOVELTY_DISTANCES``; default: cosine to the nearest class mean).
        class_descriptions: a labels file describing every class (``name | description``): the text side of the
            classes is their descriptions instead of their names (the label matcher still reads the names).
    """

    dataset: str
    num_unseen: int
    split_seeds: tuple[int, ...] = (0, 1, 2)
    variants: tuple[str, ...] = tuple(VARIANTS)
    protocols: tuple[str, ...] = ("honest",)
    holdout_fraction: float = 0.2
    unseen_classes: tuple[str, ...] = ()
    split_file: str | None = None
    backbone: BackboneTrainConfig = field(default_factory=BackboneTrainConfig)
    zsl: ZSLTrainConfig = field(default_factory=ZSLTrainConfig)
    text: TextConfig = field(default_factory=TextConfig)
    gzsl: tuple[str, ...] = ("gate",)
    frozen: FrozenBackbone | None = None
    unseen_scorers: tuple[str, ...] = ("sadvae",)
    unseen_selection: str = "1se"
    aux_datasets: tuple[str, ...] = ()
    novelty_distance: str = "centroid"
    class_descriptions: str | None = None

    def __post_init__(self) -> None:
        if self.aux_datasets and self.frozen is None:
            raise ConfigError(
                "--aux-classes adds other sets' clips in a frozen backbone's feature space: use --backbone "
                "shiftgcn-ntu120 (a backbone trained here from scratch never saw those sets)"
            )
        if self.class_descriptions and self.aux_datasets:
            raise ConfigError(
                "--class-descriptions describes the dataset's own classes only, and the auxiliary classes of "
                "--aux-classes would keep their names (two text styles in one SA-DVAE): drop one of the two"
            )
        if self.novelty_distance not in NOVELTY_DISTANCES:
            raise ConfigError(
                f"ExperimentConfig.novelty_distance: expected one of {NOVELTY_DISTANCES}, got {self.novelty_distance!r}"
            )
        bad = [g for g in self.gzsl if g not in GZSL_COMBINATIONS]
        if not self.gzsl or bad:
            raise ConfigError(f"ExperimentConfig.gzsl: expected some of {GZSL_COMBINATIONS}, got {self.gzsl}")
        bad = [u for u in self.unseen_scorers if u not in UNSEEN_SCORERS]
        if not self.unseen_scorers or bad or len(set(self.unseen_scorers)) != len(self.unseen_scorers):
            raise ConfigError(
                "ExperimentConfig.unseen_scorers: expected distinct ones of "
                f"{UNSEEN_SCORERS}, got {self.unseen_scorers}"
            )
        if self.unseen_selection not in SCORER_SELECTIONS:
            raise ConfigError(
                f"ExperimentConfig.unseen_selection: expected one of {SCORER_SELECTIONS}, got {self.unseen_selection!r}"
            )
        if self.frozen is None and any(u not in ("sadvae", "synth") for u in self.unseen_scorers):
            raise ConfigError(
                "the conse, fused, matched and synth-matched unseen scorers read a frozen NTU backbone's own "
                "classifier: use --backbone shiftgcn-ntu120 (or --unseen-scorer sadvae / synth)"
            )


def make_split(class_names: tuple[str, ...], cfg: ExperimentConfig, seed: int) -> ZSLSplit:
    """The class split of one run: the split file, else the named unseen classes, else a seeded random split."""
    if cfg.split_file:
        return load_split_json(cfg.split_file, class_names, seed)
    if cfg.unseen_classes:
        return named_split(class_names, cfg.unseen_classes, seed)
    return random_split(len(class_names), cfg.num_unseen, seed)


def split_partition(ds: Dataset, dataset: str, split: ZSLSplit, holdout_fraction: float, seed: int) -> Partition:
    """Cross a class split with the dataset's protocol (see :func:`sadvae.data.splits.make_partition`)."""
    labels, subj, view = dataset_arrays(ds)
    protocol = dataset_protocol(ds, dataset)
    if protocol in SPLIT_PROTOCOLS:
        groups = subj if SPLIT_PROTOCOLS[protocol][0] == "subject" else view
    else:  # a per-clip split: hold out whole subjects when known, else views
        groups = subj if (subj >= 0).any() else view
    test_side = test_side_mask(ds, dataset)
    return make_partition(
        labels,
        groups,
        ~test_side,
        split,
        holdout_fraction,
        seed=seed,
        class_names=ds.class_names,
        copies=copies_of_training(ds, test_side),
    )


def final_holdout(ds: Dataset, dataset: str, part: Partition, fraction: float, seed: int) -> np.ndarray:
    """Positions in ``part.train`` held out from the final model (for fitting calibrated stacking).

    The groups (subjects or views) of the validation run's held-out samples when the training side has
    at least three groups, else a stratified random ``fraction`` of each class.
    """
    labels, subj, view = dataset_arrays(ds)
    protocol = dataset_protocol(ds, dataset)
    if protocol in SPLIT_PROTOCOLS:
        groups = subj if SPLIT_PROTOCOLS[protocol][0] == "subject" else view
    else:
        groups = subj if (subj >= 0).any() else view
    train = part.train
    if len(np.unique(groups[~test_side_mask(ds, dataset)])) >= 3:
        return np.flatnonzero(np.isin(groups[train], np.unique(groups[part.val_seen])))
    rng = np.random.default_rng(seed + 7919)
    held = []
    for c in np.unique(labels[train]):
        pos = np.flatnonzero(labels[train] == c)
        k = int(round(fraction * len(pos)))
        if 0 < k < len(pos):
            held.extend(rng.choice(pos, size=k, replace=False).tolist())
    return np.sort(np.asarray(held, dtype=np.intp))


@dataclass
class SplitFeatures:
    """Backbone outputs of one split, for the main run and the validation run.

    ``feats[name]`` / ``logits[name]`` / ``labels[name]`` for name in the partition's fields; the
    main-run names use the backbone trained on ``split.seen``, the ``val_*`` names the one trained
    on ``split.val_seen``. Logit columns follow the order of those class tuples. With calibrated
    stacking, ``held`` are the final model's held-out windows (seen classes, training side, not
    trained on) and ``train`` excludes them. ``info`` describes a frozen backbone and its head;
    ``counterparts`` are the unseen classes with an NTU-120 counterpart (:func:`ntu_counterparts`).
    ``ntu_logits[name]`` are a frozen backbone's own classifier logits (NTU-120) of the same samples
    (empty when it has none).
    """

    split: ZSLSplit
    partition: Partition
    feats: dict[str, np.ndarray]
    logits: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    backbone_seen_acc: float
    seconds: float
    backbones: dict[str, object] = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    counterparts: dict[int, str] = field(default_factory=dict)
    ntu_logits: dict[str, np.ndarray] = field(default_factory=dict)


def _split_index(
    ds: Dataset, split: ZSLSplit, cfg: ExperimentConfig, seed: int
) -> tuple[Partition, dict[str, np.ndarray], tuple[str, ...]]:
    """The partition of a split, its sample indices by name, and the main run's names (with "held" for stacking)."""
    part = split_partition(ds, cfg.dataset, split, cfg.holdout_fraction, seed)
    if min(len(part.val_unseen), len(part.val_seen)) < GATE_FOLDS:  # before any training, not after both
        raise ConfigError(
            f"split {split.name}: the seen/unseen gate is fitted on at least {GATE_FOLDS} validation clips of the "
            f"validation-unseen classes and of held-out seen clips, and this split gives {len(part.val_unseen)} / "
            f"{len(part.val_seen)}; give the dataset more clips per class or more subjects"
        )
    main_names: tuple[str, ...] = ("train", "test_seen", "test_unseen")
    index = {name: getattr(part, name) for name in ("val_train", "val_seen", "val_unseen", *main_names)}
    if set(HELD_OUT_COMBINATIONS) & set(cfg.gzsl):
        held = final_holdout(ds, cfg.dataset, part, cfg.holdout_fraction, seed)
        if len(held) == 0 or len(held) == len(part.train):
            raise ConfigError(f"split {split.name}: no held-out windows for {cfg.gzsl[0]}; use --gzsl gate")
        keep = np.ones(len(part.train), dtype=bool)
        keep[held] = False
        index["held"], index["train"] = part.train[held], part.train[keep]
        main_names = (*main_names, "held")
    return part, index, main_names


def prepare_features(ds: Dataset, split: ZSLSplit, cfg: ExperimentConfig, seed: int) -> SplitFeatures:
    """Train the two backbones of a split (main on seen, validation on validation-seen) and extract features.

    With ``cfg.frozen`` the backbone is not trained: the frozen backbone's cached clip features, and two
    seen-class heads (validation run, main run) on them (:func:`prepare_frozen_features`).
    """
    if cfg.frozen is not None:
        return prepare_frozen_features(ds, split, cfg, seed)
    t0 = time.time()
    labels, _, _ = dataset_arrays(ds)
    part, index, main_names = _split_index(ds, split, cfg, seed)
    seqs = ds.sequences
    feats, logits, labs, models = {}, {}, {}, {}
    for run, classes, names in (
        ("val", split.val_seen, ("val_train", "val_seen", "val_unseen")),
        ("main", split.seen, main_names),
    ):
        train_idx = index[names[0]]
        log.info("split %s: training the %s backbone on %d sequences", split.name, run, len(train_idx))
        model = train_backbone([seqs[i] for i in train_idx], labels[train_idx], classes, cfg.backbone)
        models[run] = model
        for name in names:
            idx = index[name]
            f, lg = extract(model, [seqs[i] for i in idx], cfg.backbone.preprocess, cfg.backbone.device)
            feats[name], logits[name], labs[name] = f, lg, labels[idx]
    lookup = {c: k for k, c in enumerate(split.seen)}
    seen_pred = logits["test_seen"].argmax(1)
    acc = float(np.mean(seen_pred == np.array([lookup[c] for c in labs["test_seen"]])))
    cp = {k: v for k, v in ntu_counterparts(cfg.dataset, ds.class_names).items() if k in split.unseen}
    return SplitFeatures(split, part, feats, logits, labs, acc, time.time() - t0, models, counterparts=cp)


# ----------------------------------------------------------------------------- frozen pretrained backbone


def frozen_clip_features(
    ds: Dataset, dataset: str, frozen: FrozenBackbone, extractor=None, statistics: tuple[np.ndarray, str] | None = None
):
    """Clip features of every sequence of ``ds`` from the frozen backbone, through the per-clip feature cache.

    The cache (:func:`sadvae.features.cached_features`, ``runs/features/<dataset>-<key>.npz``) is the one the
    cross-dataset protocol fills: the same weights, windows and dataset copy give the same file.

    Args:
        ds: the dataset (its rows in reader order).
        dataset: its registry name (names the cache, decides the test side).
        frozen: the backbone settings.
        extractor: the extractor to use (tests); default a :class:`sadvae.features.ShiftGCNExtractor`.
        statistics: with ``frozen.batchnorm == "own"``, (clip rows, words) whose windows give the BatchNorm
            statistics; None: the set's training side.

    Returns:
        a :class:`sadvae.features.FeatureSet` whose rows are the rows of ``ds``.

    Raises:
        ConfigError: the cached rows do not match the dataset (another copy or reader version).
    """
    from sadvae.features import cached_features, dataset_fingerprint, shiftgcn_extractor
    from sadvae.models.pretrained import resolve_shiftgcn_weights

    if extractor is None:
        extractor = shiftgcn_extractor(frozen.weights, frozen.window, frozen.stride, resolve=resolve_shiftgcn_weights)
    if frozen.batchnorm == "own":
        from sadvae.train.window_features import OwnStatistics

        rows, words = statistics if statistics is not None else (None, "the set's own training side")
        pick = (lambda d: np.flatnonzero(~test_side_mask(d, dataset))) if rows is None else (lambda d: rows)
        extractor = OwnStatistics(extractor, lambda: ds, pick, words)
    if frozen.data_root:
        root = Path(frozen.data_root)
    else:
        from sadvae.data.registry import DATASETS
        from sadvae.paths import shared_data_root

        if dataset not in DATASETS:
            raise ConfigError(f"{dataset}: a frozen backbone needs FrozenBackbone.data_root for a clip folder")
        root = shared_data_root() / DATASETS[dataset].default_root
    fs = cached_features(extractor, dataset, lambda: ds, dataset_fingerprint(root, dataset), frozen.feature_dir)
    labels, _, _ = dataset_arrays(ds)
    if len(fs.labels) != len(labels) or not np.array_equal(fs.labels, labels):
        raise ConfigError(
            f"{fs.path}: cached features hold {len(fs.labels)} clips that do not match the {len(labels)} clips of "
            f"{dataset} read now; delete the file (it is rebuilt) or pass another --feature-dir"
        )
    return fs


def fit_seen_head(x: np.ndarray, y: np.ndarray, classes: tuple[int, ...], c: float, seed: int = 0):
    """A multinomial logistic regression on standardised features for the seen classes.

    Args:
        x: [n, d] training features; y: [n] their global class ids (each in ``classes``).
        classes: the head's classes, in logit-column order.
        c: inverse L2 strength (scikit-learn's ``C``).

    Returns:
        ``logits(x [m, d]) -> [m, len(classes)]`` (log-probabilities, columns in ``classes`` order).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cols = _columns(y, classes)
    if len(np.unique(cols)) != len(classes):
        raise ConfigError(f"seen-class head: training features cover {len(np.unique(cols))} of {len(classes)} classes")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000, random_state=seed))
    model.fit(np.asarray(x, np.float64), cols)

    def logits(f: np.ndarray) -> np.ndarray:
        if len(f) == 0:
            return np.zeros((0, len(classes)), np.float32)
        return model.predict_log_proba(np.asarray(f, np.float64)).astype(np.float32)

    return logits


def choose_head_c(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    classes: tuple[int, ...],
    cs: tuple[float, ...],
    seed: int = 0,
) -> tuple[float, dict[str, float]]:
    """The head's ``C`` with the best accuracy on validation samples (ties: lower NLL, then stronger L2).

    Returns:
        (chosen C, validation accuracy per C as {str(C): accuracy}).
    """
    truth = _columns(y_val, classes)
    best, scores = None, {}
    for c in sorted(cs):
        lg = fit_seen_head(x_train, y_train, classes, c, seed)(x_val)
        acc = float(np.mean(lg.argmax(1) == truth))
        nll = float(-np.mean(lg[np.arange(len(truth)), truth]))
        scores[f"{c:g}"] = acc
        if best is None or acc > best[0] + 1e-12 or (abs(acc - best[0]) <= 1e-12 and nll < best[1] - 1e-12):
            best = (acc, nll, c)
    assert best is not None
    return float(best[2]), scores


def prepare_frozen_features(ds: Dataset, split: ZSLSplit, cfg: ExperimentConfig, seed: int) -> SplitFeatures:
    """:func:`prepare_features` with a frozen backbone: cached clip features, seen-class heads trained here.

    The head's L2 strength is chosen on the validation run (trained on ``val_train``, scored on ``val_seen``);
    the validation head gives the validation logits, the main head (same strength, trained on ``train``,
    i.e. without the stacking hold-out) every main-run logit. Test samples are only scored.
    """
    assert cfg.frozen is not None
    t0 = time.time()
    part, index, main_names = _split_index(ds, split, cfg, seed)
    statistics = None
    if cfg.frozen.batchnorm == "own":  # the seen classes' training side only: never an unseen class's clip
        rows = np.unique(part.train)
        digest = hashlib.sha256(rows.astype(np.int64).tobytes()).hexdigest()[:12]
        seen = ", ".join(ds.class_names[c] for c in sorted(split.seen))
        statistics = (rows, f"the seen classes' training side ({seen}; {len(rows)} clips, {digest})")
    fs = frozen_clip_features(ds, cfg.dataset, cfg.frozen, statistics=statistics)
    labels = fs.labels
    c, val_scores = choose_head_c(
        fs.feats[index["val_train"]],
        labels[index["val_train"]],
        fs.feats[index["val_seen"]],
        labels[index["val_seen"]],
        split.val_seen,
        cfg.frozen.head_cs,
        seed,
    )
    log.info("split %s: seen-class head C=%g (validation accuracy per C: %s)", split.name, c, val_scores)
    feats, logits, labs, heads, own = {}, {}, {}, {}, {}
    for run, classes, names in (
        ("val", split.val_seen, ("val_train", "val_seen", "val_unseen")),
        ("main", split.seen, main_names),
    ):
        train_idx = index[names[0]]
        head = fit_seen_head(fs.feats[train_idx], labels[train_idx], classes, c, seed)
        heads[run] = head
        for name in names:
            idx = index[name]
            feats[name], logits[name], labs[name] = fs.feats[idx], head(fs.feats[idx]), labels[idx]
            if fs.logits.shape[1]:
                own[name] = fs.logits[idx]
    lookup = {k: j for j, k in enumerate(split.seen)}
    acc = float(np.mean(logits["test_seen"].argmax(1) == np.array([lookup[k] for k in labs["test_seen"]])))
    info = {
        "name": cfg.frozen.name,
        "extractor": fs.extractor,
        "settings": fs.settings,
        "cache": str(fs.path) if fs.path else None,
        "head": "logistic regression on standardised features",
        "head_C": c,
        "head_val_acc_by_C": val_scores,
        "val_seen_acc": val_scores[f"{c:g}"],
    }
    cp = {k: v for k, v in ntu_counterparts(cfg.dataset, ds.class_names).items() if k in split.unseen}
    return SplitFeatures(split, part, feats, logits, labs, acc, time.time() - t0, heads, info, cp, own)


def ntu_class_names() -> list[str]:
    """The NTU-120 action names in the Shift-GCN classifier's column order: mmaction2's label map in
    ``../shared/data/labels`` (the names the cross-dataset protocol's ConSE reads)."""
    from sadvae.models.pretrained import ntu_class_names as read_names
    from sadvae.paths import shared_data_root

    return list(read_names(120, shared_data_root() / "labels" / "mmaction2" / "label_map_ntu120.txt"))


def ntu_counterparts(dataset: str, class_names: tuple[str, ...]) -> dict[int, str]:
    """Classes of a dataset that are an NTU-120 action (``sadvae.train.class_table.NTU_MAP``): id -> NTU name.

    Unknown datasets (clip folders) have none listed.
    """
    from sadvae.train.class_table import NTU_MAP

    return {k: NTU_MAP[(dataset, n)][1] for k, n in enumerate(class_names) if (dataset, n) in NTU_MAP}


def zsl_by_group(pred: np.ndarray, truth: np.ndarray, with_counterpart: set[int] | dict) -> dict[str, dict]:
    """ZSL hits and counts of unseen test samples, split by whether their class has an NTU counterpart.

    Returns:
        ``{"ntu_counterpart": {"correct", "n", "acc"}, "no_counterpart": {...}}`` (acc NaN when n is 0).
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    has = np.isin(truth, np.asarray(sorted(with_counterpart), dtype=np.int64))
    out = {}
    for name, m in (("ntu_counterpart", has), ("no_counterpart", ~has)):
        n, ok = int(m.sum()), int((pred[m] == truth[m]).sum())
        out[name] = {"correct": ok, "n": n, "acc": ok / n if n else float("nan")}
    return out


@dataclass
class ScorerValidation:
    """One unseen-class scorer on the validation run: its chosen numbers, gate and stacking keep rate."""

    scorer: UnseenScorer
    gate: Gate
    keep_rate: float | None = None
    keep_rate_val_h: float | None = None
    grid: list[dict] = field(default_factory=list)
    rates: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass
class ValidationRun:
    """The validation run of one SA-DVAE variant: every cycle, the pseudo-unseen ZSL curve, the pick and the gate.

    ``gate`` / ``keep_rate`` are those of the first unseen scorer; ``scorers`` holds every scorer's.
    """

    runs: list[CycleResult]
    curve: list[float]
    best: int
    gate: Gate
    keep_rate: float | None = None
    keep_rate_val_h: float | None = None
    scorers: dict[str, ScorerValidation] = field(default_factory=dict)


def validate_variant(
    feats: dict[str, np.ndarray],
    logits: dict[str, np.ndarray],
    labels: dict[str, np.ndarray],
    text_emb: np.ndarray,
    val_unseen: tuple[int, ...],
    zcfg: ZSLTrainConfig,
    k: int,
    val_seen_classes: tuple[int, ...] | None = None,
    scorers: tuple[str, ...] = ("sadvae",),
    trained_logits: dict[str, np.ndarray] | None = None,
    trained_emb: np.ndarray | None = None,
    selection: str = "1se",
    trained_match: np.ndarray | None = None,
    head_classes: tuple[int, ...] | None = None,
    novelty_distance: str = "centroid",
) -> ValidationRun:
    """Train SA-DVAE on the validation-seen features, pick the cycle by pseudo-unseen ZSL accuracy, fit the gate.

    Args:
        feats: backbone features [n, d_x] of the validation backbone (trained without ``val_unseen``) under
            "val_train" (its training samples), "val_seen" (held-out samples of its classes) and "val_unseen"
            (samples of the pseudo-unseen classes).
        logits: that backbone's head logits [n, K_val] under "val_seen" and "val_unseen".
        labels: global class ids [n] under "val_train" and "val_unseen".
        text_emb: [N, d_y] class embeddings indexed by global class id.
        val_unseen: the pseudo-unseen classes.
        zcfg: SA-DVAE training (variant included).
        k: top-k the gate reads (the number of unseen classes it will face).
        val_seen_classes: the validation backbone's classes in logit-column order (needs ``labels["val_seen"]``);
            given, the keep rates of calibrated stacking and of the novelty rule are also chosen (best H on this
            validation run).
        scorers: unseen-class scorers (``sadvae.evaluate.UNSEEN_SCORERS``); each one's free numbers are chosen
            here on the pseudo-unseen samples (with the chosen cycle), then its gate and keep rate fitted.
        trained_logits: a frozen backbone's own classifier logits [n, V] under "val_seen" and "val_unseen"
            (needed by ``conse`` / ``fused``); trained_emb: [V, d_y] its class names' embeddings.
        selection: how the scorers' free numbers are chosen (``sadvae.evaluate.choose_unseen_scorer``).
        trained_match: [N, V] bool, the trained classes (NTU-120) that each class name names, by the label
            matcher (``matched`` kinds).
        head_classes: the validation seen-class head's classes in logit-column order (``synth`` kinds, which read
            ``logits``; default ``val_seen_classes``).
        novelty_distance: the novelty rules' distance from the seen classes (``sadvae.evaluate.NOVELTY_DISTANCES``).
    """
    dev = zcfg.device

    def val_metrics(model, clf):
        p = zsl_probs(model, clf, feats["val_unseen"], dev)
        return {"val_zsl": zsl_accuracy(np.asarray(val_unseen)[p.argmax(1)], labels["val_unseen"])}

    runs = train_sadvae(feats["val_train"], labels["val_train"], text_emb, val_unseen, zcfg, evaluate=val_metrics)
    curve = [r.metrics["val_zsl"] for r in runs]
    best = int(np.argmax(curve))
    chosen = runs[best]
    pu_raw = zsl_probs(chosen.model, chosen.classifier, feats["val_unseen"], dev)
    ps_raw = zsl_probs(chosen.model, chosen.classifier, feats["val_seen"], dev)
    unseen_cols = _columns(labels["val_unseen"], val_unseen)
    label_emb = text_emb[list(val_unseen)]
    label_match = None if trained_match is None else np.asarray(trained_match)[list(val_unseen)]
    tl = trained_logits or {}
    head_classes = head_classes if head_classes is not None else val_seen_classes
    seen_emb = None if head_classes is None else text_emb[list(head_classes)]
    per: dict[str, ScorerValidation] = {}
    for name in scorers:
        needs_ntu = name not in ("sadvae", "synth")
        if needs_ntu and ("val_unseen" not in tl or (trained_emb is None and trained_match is None)):
            raise ConfigError(f"the {name} unseen scorer needs a frozen backbone with its own classifier (NTU-120)")
        if name in ("matched", "synth-matched") and trained_match is None:
            raise ConfigError(f"the {name} unseen scorer needs the class names' matches to NTU-120 names")
        if name in SYNTH_SCORERS and seen_emb is None:
            raise ConfigError(f"the {name} unseen scorer needs the validation head's classes (head_classes)")
        scorer, grid = choose_unseen_scorer(
            name,
            pu_raw,
            tl.get("val_unseen", np.zeros((len(pu_raw), 0))),
            unseen_cols,
            trained_emb,
            label_emb,
            selection=selection,
            val_label_match=label_match,
            val_seen_logits=logits["val_unseen"],
            val_seen_emb=seen_emb,
        )
        pu = scorer.probs(
            pu_raw, tl.get("val_unseen"), trained_emb, label_emb, label_match, logits["val_unseen"], seen_emb
        )
        ps = scorer.probs(ps_raw, tl.get("val_seen"), trained_emb, label_emb, label_match, logits["val_seen"], seen_emb)
        gate = fit_gate(pu, logits["val_unseen"], ps, logits["val_seen"], k=k, seed=zcfg.seed)
        sv = ScorerValidation(scorer, gate, grid=grid)
        if val_seen_classes is not None:
            sv.keep_rate, sv.keep_rate_val_h = choose_keep_rate(
                ps,
                logits["val_seen"],
                _columns(labels["val_seen"], val_seen_classes),
                pu,
                unseen_cols,
                logits["val_unseen"],
            )
            sv.rates = held_out_rates(ps, pu, logits, labels, feats, val_seen_classes, unseen_cols, novelty_distance)
            sv.rates["stacking"] = (sv.keep_rate, sv.keep_rate_val_h)
        per[name] = sv
    head = per[scorers[0]]
    return ValidationRun(runs, curve, best, head.gate, head.keep_rate, head.keep_rate_val_h, per)


def held_out_rates(
    ps: np.ndarray,
    pu: np.ndarray,
    logits: dict[str, np.ndarray],
    labels: dict[str, np.ndarray],
    feats: dict[str, np.ndarray],
    val_seen_classes: tuple[int, ...],
    unseen_cols: np.ndarray,
    novelty_distance: str = "centroid",
) -> dict[str, tuple[float, float]]:
    """Keep rate and validation H of the novelty rules (``"novelty"``, ``"stacking+novelty"``) on a validation run:
    its held-out seen windows (``ps``: their zero-shot probabilities) against its pseudo-unseen ones (``pu``); the
    seen classes' centroids from its own training features of those classes (auxiliary classes left out)."""
    seen_cols = _columns(labels["val_seen"], val_seen_classes)
    seen_ok, unseen_ok = logits["val_seen"].argmax(1) == seen_cols, pu.argmax(1) == unseen_cols
    own = np.isin(labels["val_train"], val_seen_classes)
    train_x, train_y = feats["val_train"][own], labels["val_train"][own]
    nov = fit_novelty(train_x, train_y, feats["val_seen"], 1.0, novelty_distance)
    both = fit_stacking_novelty(
        ps, logits["val_seen"], seen_cols, feats["val_seen"], train_x, train_y, 1.0, novelty_distance
    )
    return {
        "novelty": best_keep_rate(
            nov.statistic(feats["val_seen"]), seen_ok, nov.statistic(feats["val_unseen"]), unseen_ok
        ),
        "stacking+novelty": best_keep_rate(
            both.statistic(ps, logits["val_seen"], feats["val_seen"]),
            seen_ok,
            both.statistic(pu, logits["val_unseen"], feats["val_unseen"]),
            unseen_ok,
        ),
    }


def _columns(global_ids: np.ndarray, classes: tuple[int, ...]) -> np.ndarray:
    lookup = {c: k for k, c in enumerate(classes)}
    return np.array([lookup[int(c)] for c in global_ids], dtype=np.intp)


def run_variant(
    sf: SplitFeatures,
    text_emb: np.ndarray,
    variant: str,
    cfg: ExperimentConfig,
    trained_emb: np.ndarray | None = None,
    trained_match: np.ndarray | None = None,
    aux=None,
) -> dict:
    """Train one SA-DVAE variant on a split's features; ZSL and GZSL numbers under each protocol.

    Args:
        trained_emb: [V, d_y] text embeddings of a frozen backbone's own classes (NTU-120 names, template as
            ``text_emb``), for the ``conse`` / ``fused`` unseen scorers (``sf.ntu_logits`` gives their logits).
        trained_match: [N, V] bool, the frozen backbone's classes that each class name names (label matcher),
            for the ``matched`` unseen scorer.
        aux: the auxiliary seen classes this split may use (:class:`sadvae.train.aux_classes.AuxSplit`): the
            validation run is trained with and without them and its better pseudo-unseen ZSL decides whether the
            main run's SA-DVAE trains on them too.
    """
    split, zcfg = sf.split, _with_variant(cfg.zsl, variant)
    dev = zcfg.device
    held_out = bool(set(HELD_OUT_COMBINATIONS) & set(cfg.gzsl))  # a rule fitted on the final model's held-out windows
    scorers = tuple(cfg.unseen_scorers)

    def validate(feats: dict, labels: dict, emb: np.ndarray) -> ValidationRun:
        return validate_variant(
            feats,
            sf.logits,
            labels,
            emb,
            split.val_unseen,
            zcfg,
            k=len(split.unseen),
            val_seen_classes=split.val_seen if held_out else None,
            scorers=scorers,
            trained_logits=sf.ntu_logits,
            trained_emb=trained_emb,
            selection=cfg.unseen_selection,
            trained_match=trained_match,
            head_classes=split.val_seen,
            novelty_distance=cfg.novelty_distance,
        )

    val = validate(sf.feats, sf.labels, text_emb)
    train_x, train_y, emb, aux_report = sf.feats["train"], sf.labels["train"], text_emb, None
    if aux is not None:
        plus = {"val_train": np.concatenate([sf.feats["val_train"], aux.feats])}
        plus_y = {"val_train": np.concatenate([sf.labels["val_train"], aux.labels])}
        val_aux = validate({**sf.feats, **plus}, {**sf.labels, **plus_y}, aux.text_emb)
        # the project's one-standard-error rule (as --scorer-selection 1se): the auxiliary classes must beat the
        # split's own by more than the binomial standard error of its pseudo-unseen accuracy, or stay out
        best, n_val = max(val.curve), max(len(sf.labels["val_unseen"]), 1)
        margin = float(np.sqrt(best * (1 - best) / n_val))
        used = max(val_aux.curve) - best > margin
        aux_report = {
            "used": bool(used),
            "val_zsl_best_without": float(best),
            "val_zsl_best_with": float(max(val_aux.curve)),
            "margin": margin,
            "classes": list(aux.used),
            "left_out": list(aux.left_out),
            "samples": int(len(aux.labels)),
        }
        if used:
            val, emb = val_aux, aux.text_emb
            train_x = np.concatenate([train_x, aux.feats])
            train_y = np.concatenate([train_y, aux.labels])
    val_curve, best_val, gate = val.curve, val.best, val.gate
    main_runs = train_sadvae(train_x, train_y, emb, split.unseen, zcfg)
    out: dict = {
        "variant": variant,
        "aux_classes": aux_report,
        "val_zsl_curve": val_curve,
        "gate": gate.to_dict(),
        "gzsl": list(cfg.gzsl),
        "unseen_scorer": scorers[0],
        "unseen_scorers": {
            n: {
                "scorer": v.scorer.to_dict(),
                "gate": v.gate.to_dict(),
                "stacking_keep_rate": v.keep_rate,
                "keep_rates": {k: {"rate": r, "val_H": h} for k, (r, h) in v.rates.items()},
                "val_grid": v.grid,
            }
            for n, v in val.scorers.items()
        },
        "loss_curve": [r.losses for r in main_runs],
    }
    if held_out:
        out["stacking_keep_rate"], out["stacking_val_H"] = val.keep_rate, val.keep_rate_val_h
        out["keep_rates"] = {k: {"rate": r, "val_H": h} for k, (r, h) in val.scorers[scorers[0]].rates.items()}
        held_cols = _columns(sf.labels["held"], split.seen)
    test_truth = np.concatenate([sf.labels["test_seen"], sf.labels["test_unseen"]])
    test_feats = np.concatenate([sf.feats["test_seen"], sf.feats["test_unseen"]])
    test_logits = np.concatenate([sf.logits["test_seen"], sf.logits["test_unseen"]])
    own = sf.ntu_logits
    test_own = np.concatenate([own["test_seen"], own["test_unseen"]]) if "test_seen" in own else None
    label_emb = text_emb[list(split.unseen)]
    label_match = None if trained_match is None else np.asarray(trained_match)[list(split.unseen)]
    seen_emb = text_emb[list(split.seen)]  # the main head's classes (synth kinds)

    def score_with(r: CycleResult, name: str) -> dict:
        sv = val.scorers[name]
        sc = sv.scorer

        def probs(x: np.ndarray, own_logits: np.ndarray | None, head_logits: np.ndarray) -> np.ndarray:
            z = zsl_probs(r.model, r.classifier, x, dev)
            return sc.probs(z, own_logits, trained_emb, label_emb, label_match, head_logits, seen_emb)

        pu = probs(sf.feats["test_unseen"], own.get("test_unseen"), sf.logits["test_unseen"])
        zsl_pred = np.asarray(split.unseen)[pu.argmax(1)]
        zsl = zsl_accuracy(zsl_pred, sf.labels["test_unseen"])
        pall = probs(test_feats, test_own, test_logits)
        rules: dict = {"gate": sv.gate}
        if held_out:
            held_zsl = probs(sf.feats["held"], own.get("held"), sf.logits["held"])
            held = (sf.feats["held"], sf.feats["train"], sf.labels["train"])
            rate = {k: r for k, (r, _) in sv.rates.items()}
        if "stacking" in cfg.gzsl:
            rules["stacking"] = fit_stacking(held_zsl, sf.logits["held"], held_cols, rate["stacking"])
        if "novelty" in cfg.gzsl:
            rules["novelty"] = fit_novelty(*held[1:], held[0], rate["novelty"], cfg.novelty_distance)
        if "stacking+novelty" in cfg.gzsl:
            rules["stacking+novelty"] = fit_stacking_novelty(
                held_zsl, sf.logits["held"], held_cols, *held, rate["stacking+novelty"], cfg.novelty_distance
            )
        by = {
            n: gzsl_scores(rules[n], pall, test_logits, test_truth, split.seen, split.unseen, test_feats)
            for n in cfg.gzsl
        }
        for n in cfg.gzsl:
            by[n]["rule"] = rules[n].to_dict()
        head = cfg.gzsl[0]
        return {
            "ZSL": zsl,
            "ZSL_by_ntu_counterpart": zsl_by_group(zsl_pred, sf.labels["test_unseen"], set(sf.counterparts)),
            **{k: v for k, v in by[head].items() if k != "rule"},
            "combination": head,
            "by_combination": by,
            "scorer": sc.to_dict(),
            "_pred_inputs": (pall, test_logits, test_truth, test_feats),
            "_rule": rules[head],
        }

    def score(cycle: int) -> dict:
        r = main_runs[cycle]
        each = {name: score_with(r, name) for name in scorers}
        out_c = {"cycle": cycle, "unseen_scorer": scorers[0], **each[scorers[0]]}
        if len(scorers) > 1:
            out_c["by_scorer"] = {
                name: {k: v for k, v in e.items() if not k.startswith("_")} for name, e in each.items()
            }
        return out_c

    if "honest" in cfg.protocols:
        out["honest"] = score(best_val)
    if "paper" in cfg.protocols:
        # the official code: the cycle with the best unseen accuracy on the TEST set (selection bias)
        test_curve = [score(c)["ZSL"] for c in range(len(main_runs))]
        out["paper"] = score(int(np.argmax(test_curve)))
        out["paper"]["test_zsl_curve"] = test_curve
    out["models"] = {"sadvae": main_runs[best_val].model, "classifier": main_runs[best_val].classifier, "gate": gate}
    if "honest" in out:
        out["models"]["rule"] = out["honest"]["_rule"]
    return out


def _with_variant(z: ZSLTrainConfig, variant: str) -> ZSLTrainConfig:
    from dataclasses import replace

    return replace(z, variant=variant)


def class_text_embeddings(
    class_names: tuple[str, ...], text: TextConfig, descriptions: tuple[str, ...] | None = None
) -> tuple[np.ndarray, str]:
    """L2-normalised embeddings of every class name (rows = global class ids) and the encoder id; with
    ``descriptions`` (one per class, in class order) the text encoded is each class's description, in the template's
    place of the name (as a labels file's ``name | description`` line is read)."""
    enc = TextEncoder(text)
    return enc.encode_labels(list(descriptions) if descriptions else list(class_names)), enc.encoder_id


def class_descriptions(path: str | Path, class_names: tuple[str, ...]) -> tuple[str, ...]:
    """One description per class, in class order, from a labels file (``name | description`` per line, the
    names as the dataset spells them, in any order; :func:`sadvae.labels.parse_labels`).

    Raises:
        ConfigError: a class the file does not describe, a name that is no class, or a line without a description.
    """
    from sadvae.labels import parse_labels

    def key(name: str) -> str:
        return " ".join(name.casefold().split())

    ls = parse_labels(path)
    norm = {key(n): d for n, d in zip(ls.names, ls.descriptions, strict=True)}
    own = {key(c) for c in class_names}
    extra = sorted(n for n in norm if n not in own)
    missing = [c for c in class_names if key(c) not in norm]
    bare = [n for n, d in norm.items() if n in own and not d]
    if extra or missing or bare:
        problems = []
        if missing:
            problems.append(f"no line for {missing}")
        if extra:
            problems.append(f"names that are no class of the dataset: {extra}")
        if bare:
            problems.append(f"no description after '|' for {bare}")
        raise ConfigError(
            f"{path}: --class-descriptions needs one `name | description` line per class ({'; '.join(problems)})"
        )
    return tuple(norm[key(c)] for c in class_names)
