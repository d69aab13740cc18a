"""The live head: the user's label set -> scores per window, with caching, label watching and fitting.

The scoring itself is :mod:`sadvae.head` (numpy, shared with the offline benchmarks); this module
decides what to score with and keeps it warm:

- **which labels are trained classes**: every label is matched to the backbone's classes by text
  (:func:`sadvae.head.matching.match_labels`: exact names, paraphrases such as "walking" -> "walk" or
  "stand to sit" -> "sit down", with word order and flipped words taken care of). A matched label is
  scored by the backbone (the sum of its classes' probabilities); the mapping is logged at start-up
  and kept in :attr:`ZeroShotHead.mapping` (``sadvae-live`` prints it);
- **new labels** are scored zero-shot in the semantic space. Default: cosine to each label's text
  latent (prototypes), which cannot leave a label dead; the published ReLU'd linear classifier stays
  available (``HeadOptions.zs_method="linear-relu"``) for the paper protocol;
- **mixed lists** are put on one scale by calibrated stacking (or the bundle's gate, ``combine="gate"``);
- **"no action"**: each window gets ``p_action`` and ``no_action`` (:class:`HeadResult`).

The constants come from the model's head calibration (``<bundle stem>.head.json`` beside the bundle,
:mod:`sadvae.head.calibration`), else built-in defaults. The builder reads only a
:class:`sadvae.bundle.BundleInfo`, which the live model builds from the export's metadata without
torch. Computing prototypes (or fitting a classifier) needs torch, the bundle's weights and, on a
text-cache miss, the sentence encoder, and happens only for new labels whose head is not cached: heads
are cached by a hash of (model id, text encoder, template, labels, head settings) in memory and on
disk as ``.npz`` (:mod:`realtime.head.weights`), with the label mapping they were built with, so a
known label set reloads at once, also where torch is absent.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realtime.head.labels import LabelSet, LabelWatcher
from realtime.head.result import HeadResult
from realtime.head.weights import FittedWeights, fit_weights, read_weights, write_weights
from sadvae.bundle import BundleInfo
from sadvae.errors import ConfigError, MissingDependencyError, SadvaeError
from sadvae.evaluate import Gate
from sadvae.head import (
    COMBINE_METHODS,
    DEFAULT_CALIBRATION,
    DEFAULT_MATCH_THRESHOLD,
    HANDEDNESS,
    ZS_METHODS,
    HeadCalibration,
    HeadCore,
    MatchResult,
    ZeroShotScorer,
    calibration_path,
    match_labels,
    mirror_columns,
    read_calibration,
)
from sadvae.labels import duplicate_key, normalise_name
from sadvae.text import TextEncoder, default_cache_dir

__all__ = [
    "HeadOptions",
    "HeadResult",
    "FittedWeights",
    "ZeroShotHead",
    "HeadBuilder",
    "model_fingerprint",
    "label_key",
    "normalise_name",
]

log = logging.getLogger(__name__)
_WARNED_UNCALIBRATED: set[tuple[str, str]] = set()  # (model id, where it looked): the warning once a process

_CACHE_FORMAT = 6  # 3: a description starting "a person" is no longer prefixed twice (sadvae.text); 4: matching reads
# slash alternatives and compounds (sadvae.head.matching): a cached label mapping may be stale; 5: the cache keeps the
# mapping's start-up lines (scores, nearest class), so a cached run prints what the run that built it printed; 6: heads
# keep the new labels' prototypes (a linear scorer's "no action" reads them) and a list of exact class names is
# matched with the encoder too (6 December 2026)


@dataclass(frozen=True)
class HeadOptions:
    """How the head scores, is fitted and is cached.

    Attributes:
        zs_method: zero-shot scoring of new labels (:data:`sadvae.head.ZS_METHODS`): "cosine" (default,
            no dead labels by construction), "euclidean", "linear" or "linear-relu" (published).
        match: map labels that paraphrase trained classes onto them (False: exact names only, as in round 1).
        match_threshold: the text-match score a label needs to take a trained class (0..1).
        combine: how a list that mixes trained and new labels is put on one scale: "stacking" (calibrated
            on the deployed model) or "gate" (the bundle's seen/unseen gate, round 1).
        reject: compute "no action" (:attr:`HeadResult.no_action`); False gives ``p_action = 1``.
        reject_threshold: overrides the calibration's "no action" threshold on ``p_action``; None keeps it;
            0 turns "no action" off (``p_action = 1``, scores = probabilities, as in round 1).
        handedness: "off" (default): each window is scored alone; "pool": with its left-right mirror image too, so
            left- and right-handed performers score alike (:mod:`sadvae.head.handedness`; twice the recogniser's
            windows; why it is not the default: docs/head.md section 6).
        calibration: a head calibration JSON; None = ``<bundle stem>.head.json`` beside the bundle if any.
        self_taught_no_action: where "no action" of labels self-taught from unlabelled recordings comes from:
            "examples" (their best cosine, as for labels taught by example) or "names" (the head of the labels by
            name: self-teaching changes which label, not whether any; docs/head.md section 9).
        samples_per_class, steps, lr: the linear classifier's fit (linear methods only).
        seed: seeds the latent noise and the classifier's initial weights (fits are reproducible).
        fit_threads: torch threads during a fit (restored after).
        relu_logits: round-1 switch, kept for old callers: True = ``zs_method="linear-relu"``, False =
            ``"linear"``; None (default) leaves ``zs_method`` alone.
        cache_dir: fitted heads; None = ``$SADVAE_CACHE_DIR/heads`` or ``~/.cache/sadvae/heads``.
        use_cache: read and write the on-disk cache.
        memory_entries: fitted heads kept in memory (least recently used dropped first).
    """

    zs_method: str = "cosine"
    match: bool = True
    match_threshold: float = DEFAULT_MATCH_THRESHOLD
    combine: str = "stacking"
    reject: bool = True
    reject_threshold: float | None = None
    handedness: str = "off"
    calibration: str | None = None
    self_taught_no_action: str = "examples"
    samples_per_class: int = 500
    steps: int = 300
    lr: float = 1e-3
    seed: int = 0
    fit_threads: int = 1
    relu_logits: bool | None = None
    cache_dir: str | None = None
    use_cache: bool = True
    memory_entries: int = 8

    def __post_init__(self) -> None:
        if self.self_taught_no_action not in ("examples", "names"):
            raise ConfigError(
                f"HeadOptions.self_taught_no_action must be 'examples' or 'names', got {self.self_taught_no_action!r}"
            )
        for name in ("samples_per_class", "steps", "memory_entries", "lr", "fit_threads"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"HeadOptions.{name} must be > 0, got {getattr(self, name)}")
        if self.relu_logits is not None:
            object.__setattr__(self, "zs_method", "linear-relu" if self.relu_logits else "linear")
        if self.zs_method not in ZS_METHODS:
            raise ConfigError(f"HeadOptions.zs_method must be one of {', '.join(ZS_METHODS)}, got {self.zs_method!r}")
        if self.combine not in COMBINE_METHODS:
            raise ConfigError(f"HeadOptions.combine must be one of {', '.join(COMBINE_METHODS)}, got {self.combine!r}")
        if not 0.0 < self.match_threshold <= 1.0:
            raise ConfigError(f"HeadOptions.match_threshold must be in (0, 1], got {self.match_threshold}")
        if self.reject_threshold is not None and not 0.0 <= self.reject_threshold <= 1.0:
            raise ConfigError(f"HeadOptions.reject_threshold must be in [0, 1], got {self.reject_threshold}")
        if self.handedness not in HANDEDNESS:
            raise ConfigError(f"HeadOptions.handedness must be one of {', '.join(HANDEDNESS)}, got {self.handedness!r}")


class ZeroShotHead:
    """Scores windows over a label set (module docstring); built by :class:`HeadBuilder`.

    Args:
        labels: the label set.
        seen_columns: per label, the backbone column(s) it is scored by: an int [L] array (-1 for new
            labels, as in round 1) or one tuple of columns per label (empty for new labels).
        num_seen: K, the backbone head's width; semantic_dim: d_r, the latent width.
        fitted: the zero-shot weights of the new labels (in label order); None when there are none.
        gate: the bundle's seen/unseen gate (for ``combine="gate"``).
        key: the cache key of the fitted weights.
        calibration: the head's constants; combine, reject: see :class:`HeadOptions`.
        mapping: the text matches the columns came from (for messages), if any.
        mapping_lines: the start-up lines of that mapping when the match itself is not at hand (a head served from
            the cache, which skips the sentence encoder); None: made from ``mapping`` or the columns.
        class_mirror: [K] each trained class's mirror class (handedness pooling); None: each its own.
        handedness: "pool" or "off" (:class:`HeadOptions`): whether the caller should pass mirror images.

    Attributes:
        mode: "new", "seen" or "mixed"; is_new_label: bool [L]; is_taught: bool [L], all False (no label taught by
            example: :class:`realtime.head.examples.ExampleHead` has them);
        unreachable: new labels that lose even on their own text latent (none with prototype scoring).
    """

    def __init__(
        self,
        labels: LabelSet,
        seen_columns,
        num_seen: int,
        semantic_dim: int,
        fitted: FittedWeights | None = None,
        gate: Gate | None = None,
        key: str = "",
        calibration: HeadCalibration = DEFAULT_CALIBRATION,
        combine: str = "stacking",
        reject: bool = True,
        mapping: MatchResult | None = None,
        vocabulary: tuple[str, ...] = (),
        class_mirror=None,
        handedness: str = "off",
        mapping_lines: Sequence[str] | None = None,
    ):
        self.labels, self.num_seen, self.semantic_dim, self.key = labels, int(num_seen), int(semantic_dim), key
        if isinstance(seen_columns, np.ndarray) and seen_columns.dtype.kind in "iu":
            cols = np.asarray(seen_columns, dtype=np.intp)
            if cols.shape != (len(labels),) or cols.max(initial=-1) >= self.num_seen:
                raise ValueError(f"seen_columns must be [{len(labels)}] ints in [-1, {self.num_seen}), got {cols}")
            classes = tuple((int(c),) if c >= 0 else () for c in cols)
        else:
            classes = tuple(tuple(int(c) for c in cs) for cs in seen_columns)
        self.classes = classes
        n_new = sum(1 for cs in classes if not cs)
        if n_new and (
            fitted is None or fitted.weight.shape != (n_new, self.semantic_dim) or fitted.bias.shape != (n_new,)
        ):
            got = "none" if fitted is None else f"{fitted.weight.shape} and {fitted.bias.shape}"
            raise ValueError(f"{n_new} new labels need weight [{n_new}, {self.semantic_dim}] and bias, got {got}")
        self.fitted, self.unreachable = fitted, fitted.unreachable if fitted is not None else ()
        scorer = fitted.scorer(calibration) if n_new else None
        self.calibration, self.mapping, self.vocabulary = calibration, mapping, tuple(vocabulary)
        self._mapping_lines = tuple(mapping_lines) if mapping_lines is not None else None
        self.core = HeadCore(
            labels.names, classes, num_seen, semantic_dim, scorer, calibration, combine, gate, reject, class_mirror
        )
        self.handedness = handedness
        self.mode, self.is_new_label = self.core.mode, self.core.is_new_label
        self.is_taught = np.zeros(len(labels), dtype=bool)
        if self.mode == "mixed" and n_new < 2 and combine == "gate":
            log.warning(
                "only one new label (%r) beside seen ones: its zero-shot probability is always 1, so the gate has "
                "little to go on; add new labels for reliable seen/unseen decisions",
                labels.names[int(np.flatnonzero(self.is_new_label)[0])],
            )

    @property
    def gate(self) -> Gate | None:
        """The bundle's seen/unseen gate (used with ``combine="gate"``)."""
        return self.core.gate

    @gate.setter
    def gate(self, gate: Gate | None) -> None:
        self.core.gate = gate

    @property
    def scorer(self) -> ZeroShotScorer | None:
        return self.core.scorer

    def mapping_lines(self) -> list[str]:
        """``label -> trained class (score)`` / ``label -> new (zero-shot ...)`` per label, for logs and the CLI."""
        if self.mapping is not None:
            return self.mapping.lines(self.vocabulary)
        if self._mapping_lines is not None:
            return list(self._mapping_lines)
        out = []
        for name, cs in zip(self.labels.names, self.classes, strict=True):
            trained = ", ".join(self.vocabulary[c] if c < len(self.vocabulary) else f"column {c}" for c in cs)
            out.append(f"{name} -> {trained}" if cs else f"{name} -> new (zero-shot)")
        return out

    def zsl_probs(self, latent: np.ndarray) -> np.ndarray:
        """Zero-shot probabilities [N, n_new] over the new labels of semantic latents [N, d_r]."""
        return self.core.scorer.probs(latent)

    def __call__(
        self, latent: np.ndarray, seen_logits: np.ndarray, mirror: tuple[np.ndarray, np.ndarray] | None = None
    ) -> HeadResult:
        """Score a batch of windows.

        Args:
            latent: float [N, d_r] semantic latents mu_r from the backend.
            seen_logits: float [N, K] the backbone head's logits from the backend.
            mirror: the backend's (latent, seen_logits) of the windows' mirror images, same order: handedness
                pooling (:meth:`sadvae.head.HeadCore.__call__`); None scores the windows alone.

        Returns:
            :class:`HeadResult` over the label set.

        Raises:
            ValueError: shapes that do not match the model.
        """
        r = self.core(latent, seen_logits, mirror)
        return HeadResult(r.probs, r.top, r.is_new, r.p_unseen, r.off_label, r.p_action, r.no_action, r.scores)


def model_fingerprint(bundle: Any) -> str:
    """The bundle's ``model_id`` if it has one, else a hash of its SA-DVAE weights and class lists."""
    own = getattr(bundle, "model_id", None)
    if own:
        return str(own)
    digest = hashlib.sha256(json.dumps([list(bundle.class_names), list(bundle.seen_classes)]).encode("utf-8"))
    for name, tensor in sorted(bundle.sadvae.state_dict().items()):
        digest.update(name.encode("utf-8"))
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return "sadvae:" + digest.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def _matcher_fingerprint() -> str:
    """A digest of the label matcher's source (``sadvae/head/matching.py``): a cached label mapping is only reused by
    the matcher that made it (a changed rule, phrase or conflict group would otherwise keep serving old mappings)."""
    from sadvae.head import matching

    try:
        return hashlib.sha256(Path(matching.__file__).read_bytes()).hexdigest()[:16]
    except OSError:  # no source file (a frozen install): the cache format alone keys it
        return ""


def label_key(
    model_id: str,
    encoder_id: str,
    template: str,
    labels: LabelSet,
    opts: HeadOptions,
    aliases: tuple[tuple[str, ...], ...] | None = None,
) -> str:
    """The cache key of a head: sha256 hex of everything its mapping and weights depend on (the trained classes'
    aliases too: an export with them maps labels that one without them, of the same model, does not)."""
    fit = {k: getattr(opts, k) for k in ("zs_method", "match", "match_threshold")}
    if opts.zs_method.startswith("linear"):
        fit.update({k: getattr(opts, k) for k in ("samples_per_class", "steps", "lr", "seed")})
    payload = {
        "format": _CACHE_FORMAT,
        "model": model_id,
        "encoder": encoder_id,
        "template": template,
        "labels": labels.sha256,
        "fit": fit,
        "matcher": _matcher_fingerprint(),
        "aliases": [list(a) for a in aliases] if aliases else None,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


class HeadBuilder:
    """Builds (and caches) :class:`ZeroShotHead` objects for one model.

    Args:
        bundle: a :class:`sadvae.bundle.BundleInfo` (what ``realtime.backends.live_model.LiveModel.bundle`` holds; no
            torch until a fit) or a loaded :class:`sadvae.bundle.Bundle`.
        opts: scoring, fit and cache settings.
        model_id: the model's id for cache keys; None = :func:`model_fingerprint`.
        text_encoder: anything with ``encode_labels(names, descriptions) -> float32 [n, d_y]``; None =
            ``sadvae.text.TextEncoder`` of the bundle's text config, made when first needed.
        aliases: optional extra texts per trained class (other names, descriptions) for label matching; None = the
            bundle's own (:attr:`sadvae.bundle.BundleInfo.aliases`: the datasets' names merged into each class); ()
            = none.
        examples: prototypes of labels taught by example recordings (:mod:`realtime.head.examples`); a listed label
            that has them is scored by them (:class:`realtime.head.examples.ExampleHead`), the others as before.

    Attributes:
        info: the bundle's facts; cache_dir: where fitted heads are stored; calibration: the head's constants;
        calibrated: a calibration fitted on this model was found; reject: heads compute "no action" (needs one);
        fits: heads actually fitted (cache misses); last_error: why the latest :meth:`poll` failed, or None.
    """

    def __init__(
        self,
        bundle: Any,
        opts: HeadOptions | None = None,
        *,
        model_id: str | None = None,
        text_encoder=None,
        aliases: tuple[tuple[str, ...], ...] | None = None,
        examples: Any = None,
    ):
        self.opts = opts or HeadOptions()
        self.examples = examples if examples is not None and len(examples) else None
        self.model_id = model_id or model_fingerprint(bundle)
        self.info = bundle if isinstance(bundle, BundleInfo) else BundleInfo.from_bundle(bundle, self.model_id)
        self._text = text_encoder
        if aliases is None:  # the bundle's own; () turns them off
            aliases = tuple(self.info.aliases)
        self._aliases = aliases or None
        self._memory: OrderedDict[str, tuple] = OrderedDict()  # key -> (classes, fitted, mapping lines)
        self.vocabulary = tuple(self.info.seen_names)
        self._seen_by_name: dict[str, int] = {}
        for col, name in enumerate(self.vocabulary):
            self._seen_by_name.setdefault(normalise_name(name), col)
        self.class_mirror = mirror_columns(self.vocabulary)
        self.cache_dir = Path(self.opts.cache_dir) if self.opts.cache_dir else default_cache_dir().parent / "heads"
        self.calibration = self._calibration()
        # "no action" needs a calibration fitted on this model (or an explicit threshold): uncalibrated, it would
        # reject at random
        self.reject = self.opts.reject and self.opts.reject_threshold != 0.0
        self.reject = self.reject and (self.calibrated or self.opts.reject_threshold is not None)
        self.fits = 0
        self.last_error: str | None = None

    def _calibration(self) -> HeadCalibration:
        from dataclasses import replace

        path = self.opts.calibration or (calibration_path(self.info.path) if self.info.path is not None else None)
        beside_export = None
        if self.info.export_path is not None:  # an export deployed alone: X.onnx -> X.head.json; a plan
            export = self.info.export_path  # engines/X.fp16.plan -> X.fp16.head.json, else X.head.json
            names = dict.fromkeys(
                (calibration_path(export), export.with_name(export.name.split(".")[0] + ".head.json"))
            )
            beside_export = next((p for p in names if p.is_file()), next(iter(names)))
        if path is None and beside_export is not None and beside_export.is_file():
            path = beside_export
        cal = read_calibration(path, self.model_id, self.opts.handedness) if path else None
        if cal is None and self.opts.calibration:
            raise ConfigError(f"{self.opts.calibration}: head calibration not found (or fitted on another model)")
        warn_key = (self.model_id, str(path or beside_export))
        if cal is None and warn_key not in _WARNED_UNCALIBRATED:  # once a process: --teach builds several heads
            # a warning: without it every window names a label, and nothing else would say why
            _WARNED_UNCALIBRATED.add(warn_key)
            log.warning(
                "no head calibration for model %s (%s): 'no action' is off (every window names one of the labels) "
                "and mixed lists use default constants; scripts/train_default writes one beside its bundles (<stem>"
                ".head.json; --recalibrate BUNDLE fits it again), for clip folders of your own too "
                "(docs/data_format.md); a `sadvae train zsl` bundle has none (docs/head.md)",
                self.model_id[:12],
                path or beside_export or "no bundle file",
            )
        if cal is not None and cal.centroids:
            shape, want = np.shape(cal.centroids), (len(self.info.seen_classes), self.info.semantic_dim)
            if shape != want:
                raise ConfigError(
                    f"{path}: its class centroids are {list(shape)} but the model has {want[0]} trained classes and a "
                    f"{want[1]}-d latent; re-fit it for this model (scripts/train_default --recalibrate)"
                )
        self.calibrated = cal is not None
        cal = cal or DEFAULT_CALIBRATION
        if self.opts.reject_threshold is not None:
            cal = replace(cal, reject_threshold=float(self.opts.reject_threshold))
        log.info("head calibration: %s", cal.source)
        return cal

    def key(self, labels: LabelSet) -> str:
        return label_key(
            self.model_id, self.info.encoder_id, self.info.text_cfg.template, labels, self.opts, self._aliases
        )

    def seen_columns(self, labels: LabelSet) -> np.ndarray:
        """[L] backbone column of each label whose name is exactly a trained class, -1 for the others."""
        return np.array([self._seen_by_name.get(normalise_name(n), -1) for n in labels.names], dtype=np.intp)

    def match(self, labels: LabelSet) -> MatchResult | None:
        """The text match of ``labels`` against the trained classes (None with ``match=False``).

        Sentence embeddings take part whatever the other labels are: a label covers the same classes in every
        list ("kick" also takes "side kick" whether or not the list holds a new label; until 6 December 2026 a list
        of word-for-word class names skipped the encoder, so its labels covered fewer classes than in a list with
        one new label). Where no encoder can run (no sentence-transformers, nothing cached) the lexical matcher
        decides alone, with a warning, and the mapping is not cached.
        """
        if not self.opts.match:
            return None
        embed = self._embed_texts if self.vocabulary else None
        return match_labels(labels.names, self.vocabulary, embed, self.opts.match_threshold, self._aliases)

    def _embed_texts(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._encoder().encode_labels(texts), dtype=np.float64)

    def _encoder(self):
        if self._text is None:
            self._text = TextEncoder(self.info.text_cfg)  # its model loads on a text-cache miss only
        return self._text

    def build(self, labels: LabelSet) -> Any:
        """The head for ``labels``: a :class:`ZeroShotHead`, or with labels taught by example an
        :class:`realtime.head.examples.ExampleHead` around the head of the others.

        Raises:
            what :meth:`build_plain` raises.
        """
        if self.examples is None:
            return self.build_plain(labels)
        # the folder's class names and the labels file's names meet as both files tell their names apart
        # (duplicate_key: "Tai-Chi" is "tai chi"; until 7 December 2026 punctuation kept them apart here only)
        taught = {duplicate_key(n): n for n in self.examples.names}
        ex_idx = [i for i, n in enumerate(labels.names) if duplicate_key(n) in taught]
        unused = sorted(taught[k] for k in set(taught) - {duplicate_key(n) for n in labels.names})
        if unused:
            log.warning("examples of %s unused: the labels file does not list them", ", ".join(map(repr, unused)))
        if not ex_idx:
            return self.build_plain(labels)
        from realtime.head.examples import ExampleHead

        rest_idx = [i for i in range(len(labels)) if i not in set(ex_idx)]
        rest = self.build_plain(labels.subset(rest_idx)) if rest_idx else None
        protos = self.examples.select([taught[duplicate_key(labels.names[i])] for i in ex_idx])
        names = self.examples.self_taught and self.opts.self_taught_no_action == "names"
        gate = self.build_plain(labels) if names and self.reject else None
        head = ExampleHead(labels, protos, ex_idx, rest, rest_idx, self.calibration, self.reject, no_action_head=gate)
        log.info("head for %d labels (%d taught by example, mode %s)", len(labels), len(ex_idx), head.mode)
        return head

    def build_plain(self, labels: LabelSet) -> ZeroShotHead:
        """The head for ``labels`` without examples (from the memory or disk cache when possible, else built now).

        Raises:
            ConfigError: the text encoder cannot embed the labels, or a fit needs the bundle ``.pt`` and only
                an export is at hand; MissingDependencyError: a fit is needed and torch or the sentence
                encoder is not installed (the message names the labels and the ways around it).
        """
        key = self.key(labels)
        cached = self._cached(labels, key)
        mapping = lines = None
        if cached is not None:
            classes, fitted, lines = cached
        else:
            mapping = self.match(labels)
            if mapping is None:
                classes = tuple((int(c),) if c >= 0 else () for c in self.seen_columns(labels))
            else:
                classes = tuple(m.classes for m in mapping.matches)
            new = [i for i, cs in enumerate(classes) if not cs]
            fitted = self._fit(labels, new, key, classes) if new else None
            lines = tuple(mapping.lines(self.vocabulary)) if mapping is not None else None
            lexical_only = mapping is not None and bool(self.vocabulary) and not mapping.embedded
            if self.opts.use_cache and not lexical_only and (new or mapping is not None):  # never a degraded mapping
                write_weights(self.cache_dir / f"{key}.npz", fitted, classes, labels.names, lines)
            self._remember(key, (classes, fitted, lines))
        head = ZeroShotHead(
            labels,
            classes,
            len(self.vocabulary),
            self.info.semantic_dim,
            fitted,
            gate=self.info.gate,
            key=key,
            calibration=self.calibration,
            combine=self.opts.combine,
            reject=self.reject,
            mapping=mapping,
            vocabulary=self.vocabulary,
            class_mirror=self.class_mirror,
            handedness=self.opts.handedness,
            mapping_lines=lines,
        )
        n_new = int(head.is_new_label.sum())
        log.info(
            "head for %d labels (%d trained, %d new, mode %s):\n  %s",
            len(labels),
            len(labels) - n_new,
            n_new,
            head.mode,
            "\n  ".join(head.mapping_lines()),
        )
        if head.unreachable:
            rivals: dict[str, str] = {}  # the label that wins on each one's own text latent (argmax: ties go first)
            f = head.fitted
            own = None if f is None else f.prototypes
            if own is None and f is not None and f.kind in ("cosine", "euclidean"):
                own = f.weight  # the prototypes are the weight
            if own is not None:
                won = f.scorer(self.calibration).logits(own).argmax(axis=1)
                rivals = {n: f.names[int(w)] for k, (n, w) in enumerate(zip(f.names, won, strict=True)) if w != k}
            log.warning(
                "labels %s never win even on their own text latent (the %s scorer); rephrase them so that their "
                "texts differ from the labels they lose to%s",
                ", ".join(f"{n!r} (loses to {rivals[n]!r})" if n in rivals else repr(n) for n in head.unreachable),
                self.opts.zs_method,
                "" if self.opts.zs_method == "cosine" else ", or use the default zs_method='cosine'",
            )
        return head

    def poll(self, watcher: LabelWatcher, now: float | None = None) -> ZeroShotHead | None:
        """The new head when the watched file changed, else None. Never raises: a failed build is
        logged and kept in :attr:`last_error`, the watcher keeps the labels in use (``watcher.current``
        stays the head's) and the file is not offered again until it changes."""
        if (labels := watcher.poll(now, commit=False)) is None:
            return None
        try:
            head = self.build(labels)
        except SadvaeError as e:
            log.warning("labels from %s not applied, keeping the previous ones: %s", watcher.path, e)
            self.last_error = str(e)
            watcher.reject(labels)
            return None
        watcher.accept(labels)
        self.last_error = None
        return head

    def _remember(self, key: str, entry) -> None:
        self._memory[key] = entry
        self._memory.move_to_end(key)
        while len(self._memory) > self.opts.memory_entries:
            self._memory.popitem(last=False)

    def _cached(self, labels: LabelSet, key: str):
        entry = self._memory.get(key)
        if entry is None and self.opts.use_cache:
            entry = read_weights(
                self.cache_dir / f"{key}.npz", labels.names, self.info.semantic_dim, len(self.vocabulary)
            )
        if entry is not None:
            self._remember(key, entry)
        return entry

    def _fit(self, labels: LabelSet, new: list[int], key: str, classes) -> FittedWeights:
        names = tuple(labels.names[i] for i in new)
        bundle = self._fit_bundle(names, self.cache_dir / f"{key}.npz")
        fitted = fit_weights(bundle.sadvae, self._embed(labels, np.asarray(new), bundle), names, self.opts)
        self.fits += 1
        return fitted

    def _fit_bundle(self, names: tuple[str, ...], path: Path) -> Any:
        """The full bundle a fit needs, or ONE error naming the labels and every way around the fit."""
        try:
            return self.info.load()
        except MissingDependencyError:
            need, fix, err = "torch, which is not installed", "install it: `pip install 'sadvae-live[train]'`", True
        except SadvaeError:
            if self.info.path is not None:
                raise  # an unreadable bundle: its own message says so
            need, fix, err = "the model bundle .pt (only its export is here)", "pass it with --bundle BUNDLE.pt", False
        seen = ", ".join(repr(n) for n in self.info.seen_names[:3])
        msg = (
            f"no head is cached for the new label(s) {', '.join(map(repr, names))} (not classes of model "
            f"{self.model_id[:12]}; {path} is missing) and fitting one needs {need}. Fix: {fix}; or run the same model "
            f"and labels once on a machine that has it and copy its head cache ($SADVAE_CACHE_DIR/heads, default "
            f"~/.cache/sadvae/heads) to {self.cache_dir}; or use only the model's own classes (e.g. {seen})"
        )
        raise (MissingDependencyError("torch", "train", msg) if err else ConfigError(msg)) from None

    def _embed(self, labels: LabelSet, new: np.ndarray, bundle: Any) -> np.ndarray:
        enc = self._encoder()
        texts = [labels.texts[i] for i in new]
        if "{description}" in self.info.text_cfg.template:
            emb = enc.encode_labels([labels.names[i] for i in new], texts)
        else:
            emb = enc.encode_labels(texts, None)  # a description takes the name's place in the prompt
        emb, dim = np.asarray(emb, dtype=np.float32), bundle.sadvae.cfg.text_dim
        if emb.shape != (len(new), dim):
            raise ConfigError(
                f"the text encoder gave embeddings of shape {emb.shape}, the model expects [{len(new)}, {dim}]; "
                f"use the encoder the bundle was trained with ({self.info.encoder_id})"
            )
        return emb
