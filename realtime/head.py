"""The zero-shot head: the user's label set -> one probability vector per window.

A label whose name is a seen class of the backbone (ignoring case, spacing, ``_`` and a final
``.``; a ``| description`` does not take part) is *seen*: that column of the backbone head scores
it. Every other label is *new*: its text (description, else name) is embedded with the bundle's
text encoder and the SA-DVAE latent classifier is fitted on latents drawn from the text VAE.
Scoring is numpy only (``logits = relu(z @ W.T + b)``), no torch on the hot path:

- only new labels: softmax of the latent classifier (zero-shot);
- only seen labels: softmax of the backbone logits restricted to the labels' columns;
- a mix: the bundle's gate decides seen vs new per window. It was fitted on the top-k of the
  *full* K-column seen softmax, so it gets all K columns here too (a softmax restricted to the
  label set is peakier than anything it saw, which biases it towards "seen"); it answers "is this
  one of the backbone's classes at all?". As the GZSL metrics do, the window's whole probability
  then goes to the new labels (zero-shot softmax) or to the seen ones (restricted softmax).

Probabilities sum to 1 over the label set: a window of a seen class that is not a label still goes
to some label, and :attr:`HeadResult.off_label` (the backbone's mass on such classes) flags it.
The builder reads only a :class:`sadvae.bundle.BundleInfo` (class names, gate, latent width, text
encoder), which the live model builds from the export's metadata without torch. Fitting needs torch,
the bundle's weights (:meth:`BundleInfo.load`) and, on a text-cache miss, the sentence encoder, and
happens only for new labels whose head is not cached: fits are cached by a hash of (model id, text
encoder, template, labels, fit settings) in memory and on disk as ``.npz``
(:mod:`realtime.head_weights`), so a known label set reloads at once, also where torch is absent.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realtime.head_weights import FittedWeights, fit_weights, read_weights, write_weights
from realtime.labels import LabelSet, LabelWatcher
from sadvae.bundle import BundleInfo
from sadvae.errors import ConfigError, MissingDependencyError, SadvaeError
from sadvae.evaluate import Gate
from sadvae.text import TextEncoder, default_cache_dir

__all__ = [
    "HeadOptions", "HeadResult", "FittedWeights", "ZeroShotHead", "HeadBuilder", "model_fingerprint",
    "label_key", "normalise_name",
]  # fmt: skip

log = logging.getLogger(__name__)

_CACHE_FORMAT = 1


@dataclass(frozen=True)
class HeadOptions:
    """How the head is fitted and cached (fitting: :func:`sadvae.models.sadvae.fit_latent_classifier`).

    Attributes:
        samples_per_class: text-VAE latents drawn per new label to fit the classifier.
        steps: full-batch Adam steps of the fit.
        lr: Adam learning rate.
        seed: seeds the latent noise and the classifier's initial weights (fits are reproducible).
        fit_threads: torch threads during a fit (restored after): its steps are tiny, and more threads
            only contend with the live pipeline (measured: 1.2 s with 1 thread, 9.8 s with 2 on a busy 2-core CPU).
        relu_logits: rectify the logits (as published, and as the offline evaluation does). A label
            whose logit starts below zero on its own latents gets no gradient and never wins; such
            labels are logged and named in :attr:`ZeroShotHead.unreachable`. False avoids them.
        cache_dir: fitted heads; None = ``$SADVAE_CACHE_DIR/heads`` or ``~/.cache/sadvae/heads``.
        use_cache: read and write the on-disk cache.
        memory_entries: fitted heads kept in memory (least recently used dropped first).
    """

    samples_per_class: int = 500
    steps: int = 300
    lr: float = 1e-3
    seed: int = 0
    fit_threads: int = 1
    relu_logits: bool = True
    cache_dir: str | None = None
    use_cache: bool = True
    memory_entries: int = 8

    def __post_init__(self) -> None:
        for name in ("samples_per_class", "steps", "memory_entries", "lr", "fit_threads"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"HeadOptions.{name} must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class HeadResult:
    """Scores of a batch of windows over the label set.

    Attributes:
        probs: float64 [N, L] probabilities in label order; rows sum to 1.
        top: intp [N] index of the best label.
        is_new: bool [N] whether the best label is a new (zero-shot) one.
        p_unseen: float64 [N] the gate's P(unseen) for mixed label sets, else None.
        off_label: float64 [N] backbone softmax mass on seen classes that are not labels, or None.
    """

    probs: np.ndarray
    top: np.ndarray
    is_new: np.ndarray
    p_unseen: np.ndarray | None
    off_label: np.ndarray | None


def _softmax(x: np.ndarray) -> np.ndarray:
    """Row softmax in float64 (a new array; ``x`` is not modified)."""
    e = np.asarray(x, dtype=np.float64) - x.max(axis=1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=1, keepdims=True)
    return e


def normalise_name(name: str) -> str:
    """The form in which label names and class names are compared ("Drink_Water." -> "drink water")."""
    return " ".join(str(name).replace("_", " ").casefold().split()).rstrip(". ")


class ZeroShotHead:
    """Scores windows over a label set (module docstring); built by :class:`HeadBuilder`.

    Args:
        labels: the label set.
        seen_columns: [L] backbone column of each label, -1 for new labels.
        num_seen: K, the backbone head's width; semantic_dim: d_r, the latent width.
        fitted: the latent classifier of the new labels (in label order); None when there are none.
        gate: the bundle's seen/unseen gate (needed when labels mix seen and new).
        key: the cache key of the fitted weights.

    Attributes:
        mode: "new", "seen" or "mixed".
        is_new_label: bool [L].
        unreachable: new labels that lose even on their own text latent (see :class:`HeadOptions`).
    """

    def __init__(
        self, labels: LabelSet, seen_columns: np.ndarray, num_seen: int, semantic_dim: int,
        fitted: FittedWeights | None = None, gate: Gate | None = None, key: str = "",
    ):  # fmt: skip
        self.labels, self.num_seen, self.semantic_dim, self.key = labels, int(num_seen), int(semantic_dim), key
        cols = np.asarray(seen_columns, dtype=np.intp)
        if cols.shape != (len(labels),) or cols.max(initial=-1) >= self.num_seen:
            raise ValueError(f"seen_columns must be [{len(labels)}] ints in [-1, {self.num_seen}), got {cols}")
        self.is_new_label = cols < 0
        self._new_idx, self._seen_idx = np.flatnonzero(self.is_new_label), np.flatnonzero(~self.is_new_label)
        self._seen_cols = cols[self._seen_idx]
        n_new = len(self._new_idx)
        self.mode = "new" if not len(self._seen_idx) else "seen" if not n_new else "mixed"
        self.fitted, self.unreachable = fitted, fitted.unreachable if fitted is not None else ()
        if n_new:
            if fitted is None or fitted.weight.shape != (n_new, self.semantic_dim) or fitted.bias.shape != (n_new,):
                got = "none" if fitted is None else f"{fitted.weight.shape} and {fitted.bias.shape}"
                raise ValueError(f"{n_new} new labels need weight [{n_new}, {self.semantic_dim}] and bias, got {got}")
            self._wt = np.ascontiguousarray(fitted.weight.T, dtype=np.float32)  # (d_r, n_new): one GEMV per window
            self._b, self._relu = np.asarray(fitted.bias, dtype=np.float32), fitted.relu_logits
        if self.mode == "mixed" and gate is None:
            raise ValueError("a label set mixing seen and new labels needs the bundle's gate")
        self.gate = gate
        self._outside_cols = np.setdiff1d(np.arange(self.num_seen), self._seen_cols)  # seen classes not labelled
        if self.mode == "mixed" and n_new < 2:
            log.warning(
                "only one new label (%r) beside seen ones: its zero-shot probability is always 1, so the gate has "
                "little to go on; add new labels for reliable seen/unseen decisions", labels.names[self._new_idx[0]]
            )  # fmt: skip

    def zsl_probs(self, latent: np.ndarray) -> np.ndarray:
        """Zero-shot probabilities [N, n_new] over the new labels of semantic latents [N, d_r]."""
        logits = np.asarray(latent, dtype=np.float32) @ self._wt  # (N, n_new)
        logits += self._b
        if self._relu:
            np.maximum(logits, 0.0, out=logits)
        return _softmax(logits)

    def __call__(self, latent: np.ndarray, seen_logits: np.ndarray) -> HeadResult:
        """Score a batch of windows.

        Args:
            latent: float [N, d_r] semantic latents mu_r from the backend.
            seen_logits: float [N, K] the backbone head's logits from the backend.

        Returns:
            :class:`HeadResult` over the label set.

        Raises:
            ValueError: shapes that do not match the model.
        """
        latent, seen_logits = np.asarray(latent), np.asarray(seen_logits)
        if latent.ndim != 2 or latent.shape[1] != self.semantic_dim:
            raise ValueError(f"expected latent [N, {self.semantic_dim}], got {latent.shape}")
        if seen_logits.shape != (latent.shape[0], self.num_seen):
            raise ValueError(f"expected seen_logits [{latent.shape[0]}, {self.num_seen}], got {seen_logits.shape}")
        n = latent.shape[0]
        p_unseen = off = None
        if self.mode == "new":
            probs = self.zsl_probs(latent)  # new labels are 0..L-1 in order
        else:
            off = _softmax(seen_logits)[:, self._outside_cols].sum(axis=1)  # (N,) at T = 1; 0 when none outside
            seen = _softmax(seen_logits[:, self._seen_cols])  # (N, n_seen)
            if self.mode == "seen":
                probs = seen
            else:
                zsl = self.zsl_probs(latent)
                p_unseen = self.gate.prob_unseen(zsl, seen_logits)  # all K columns: see the module docstring
                w = (p_unseen > self.gate.threshold).astype(np.float64)  # 1: new labels, 0: seen labels
                probs = np.empty((n, len(self.labels)))
                probs[:, self._new_idx] = zsl * w[:, None]
                probs[:, self._seen_idx] = seen * (1.0 - w)[:, None]
        top = probs.argmax(axis=1)
        return HeadResult(probs, top, self.is_new_label[top], p_unseen, off)


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


def label_key(model_id: str, encoder_id: str, template: str, labels: LabelSet, opts: HeadOptions) -> str:
    """The cache key of a fitted head: sha256 hex of everything the weights depend on."""
    fit = {k: getattr(opts, k) for k in ("samples_per_class", "steps", "lr", "seed", "relu_logits")}
    payload = {"format": _CACHE_FORMAT, "model": model_id, "encoder": encoder_id, "template": template,
               "labels": labels.sha256, "fit": fit}  # fmt: skip
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


class HeadBuilder:
    """Builds (and caches) :class:`ZeroShotHead` objects for one model.

    Args:
        bundle: a :class:`sadvae.bundle.BundleInfo` (what ``realtime.model.LiveModel.bundle`` holds; no
            torch until a fit) or a loaded :class:`sadvae.bundle.Bundle`.
        opts: fit and cache settings.
        model_id: the model's id for cache keys; None = :func:`model_fingerprint`.
        text_encoder: anything with ``encode_labels(names, descriptions) -> float32 [n, d_y]``; None =
            ``sadvae.text.TextEncoder`` of the bundle's text config, made on the first fit.

    Attributes:
        info: the bundle's facts; cache_dir: where fitted heads are stored;
        fits: classifiers actually fitted (cache misses); last_error: why the latest :meth:`poll` failed, or None.
    """

    def __init__(self, bundle: Any, opts: HeadOptions | None = None, *, model_id: str | None = None, text_encoder=None):
        self.opts = opts or HeadOptions()
        self.model_id = model_id or model_fingerprint(bundle)
        self.info = bundle if isinstance(bundle, BundleInfo) else BundleInfo.from_bundle(bundle, self.model_id)
        self._text = text_encoder
        self._memory: OrderedDict[str, FittedWeights] = OrderedDict()
        self._seen_by_name: dict[str, int] = {}
        for col, cls in enumerate(self.info.seen_classes):
            self._seen_by_name.setdefault(normalise_name(self.info.class_names[cls]), col)
        self.cache_dir = Path(self.opts.cache_dir) if self.opts.cache_dir else default_cache_dir().parent / "heads"
        self.fits = 0
        self.last_error: str | None = None

    def key(self, labels: LabelSet) -> str:
        return label_key(self.model_id, self.info.encoder_id, self.info.text_cfg.template, labels, self.opts)

    def seen_columns(self, labels: LabelSet) -> np.ndarray:
        """[L] backbone column of each label, -1 for labels that are not seen classes."""
        return np.array([self._seen_by_name.get(normalise_name(n), -1) for n in labels.names], dtype=np.intp)

    def build(self, labels: LabelSet) -> ZeroShotHead:
        """The head for ``labels`` (from the memory or disk cache when possible, else fitted now).

        Raises:
            ConfigError: the text encoder cannot embed the labels, or a fit needs the bundle ``.pt`` and only
                an export is at hand; MissingDependencyError: a fit is needed and torch or the sentence
                encoder is not installed (the message names the labels and the ways around it).
        """
        cols, key = self.seen_columns(labels), self.key(labels)
        new = np.flatnonzero(cols < 0)
        fitted = self._weights(labels, new, key) if len(new) else None
        head = ZeroShotHead(
            labels, cols, len(self.info.seen_classes), self.info.semantic_dim, fitted, gate=self.info.gate, key=key
        )
        log.info("head for %d labels (%d new, mode %s)", len(labels), len(new), head.mode)
        if head.unreachable:
            log.warning(
                "labels %s never win even on their own text latent (dead ReLU logits in the fitted classifier); "
                "rephrase them or set relu_logits=False in the head options", ", ".join(map(repr, head.unreachable)),
            )  # fmt: skip
        return head

    def poll(self, watcher: LabelWatcher, now: float | None = None) -> ZeroShotHead | None:
        """The new head when the watched file changed, else None. Never raises: a failed build is
        logged and kept in :attr:`last_error`, and the caller keeps its head (whose ``labels`` then
        differ from ``watcher.current`` until the file changes again)."""
        if (labels := watcher.poll(now)) is None:
            return None
        try:
            head = self.build(labels)
        except SadvaeError as e:
            log.warning("labels from %s not applied, keeping the previous ones: %s", watcher.path, e)
            self.last_error = str(e)
            return None
        self.last_error = None
        return head

    def _weights(self, labels: LabelSet, new: np.ndarray, key: str) -> FittedWeights:
        fitted = self._memory.get(key)
        if fitted is None:
            path, names = self.cache_dir / f"{key}.npz", tuple(labels.names[i] for i in new)
            fitted = read_weights(path, names, self.info.semantic_dim) if self.opts.use_cache else None
            if fitted is None:
                bundle = self._fit_bundle(names, path)
                fitted = fit_weights(bundle.sadvae, self._embed(labels, new, bundle), names, self.opts)
                self.fits += 1
                if self.opts.use_cache:
                    write_weights(path, fitted)
        self._memory[key] = fitted
        self._memory.move_to_end(key)
        while len(self._memory) > self.opts.memory_entries:
            self._memory.popitem(last=False)
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
        if self._text is None:
            self._text = TextEncoder(bundle.text_cfg)  # its model loads on a text-cache miss only
        texts = [labels.texts[i] for i in new]
        if "{description}" in self.info.text_cfg.template:
            emb = self._text.encode_labels([labels.names[i] for i in new], texts)
        else:
            emb = self._text.encode_labels(texts, None)  # a description takes the name's place in the prompt
        emb, dim = np.asarray(emb, dtype=np.float32), bundle.sadvae.cfg.text_dim
        if emb.shape != (len(new), dim):
            raise ConfigError(
                f"the text encoder gave embeddings of shape {emb.shape}, the model expects [{len(new)}, {dim}]; "
                f"use the encoder the bundle was trained with ({self.info.encoder_id})"
            )
        return emb
