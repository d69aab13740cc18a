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
Fitting needs torch (and, on a text-cache miss, the sentence encoder) only when the labels change.
Fits are cached by a hash of (model id, text encoder, template, labels, fit settings) in memory and
on disk as ``.npz`` (no pickle), so a known label set reloads at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realtime.labels import LabelSet, LabelWatcher
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


@dataclass(frozen=True)
class FittedWeights:
    """A fitted latent classifier in numpy: logits = z @ weight.T + bias (rectified if ``relu_logits``).

    Attributes:
        names: the new labels it scores, in order; weight: float32 [n, d_r]; bias: float32 [n].
        relu_logits: rectify the logits; unreachable: labels that lose even on their own text latent.
    """

    names: tuple[str, ...]
    weight: np.ndarray
    bias: np.ndarray
    relu_logits: bool
    unreachable: tuple[str, ...] = ()


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
    """Builds (and caches) :class:`ZeroShotHead` objects for one model bundle.

    Args:
        bundle: a loaded :class:`sadvae.bundle.Bundle` (``sadvae``, ``gate``, ``class_names``,
            ``seen_classes``, ``encoder_id`` and ``text_cfg`` are used).
        opts: fit and cache settings.
        model_id: the model's id for cache keys; None = :func:`model_fingerprint`.
        text_encoder: anything with ``encode_labels(names, descriptions) -> float32 [n, d_y]``;
            None = ``sadvae.text.TextEncoder(bundle.text_cfg)`` (its model loads on a cache miss only).

    Attributes:
        cache_dir: where fitted heads are stored; fits: classifiers actually fitted (cache misses);
        last_error: why the latest :meth:`poll` could not build a head, or None.
    """

    def __init__(self, bundle: Any, opts: HeadOptions | None = None, *, model_id: str | None = None, text_encoder=None):
        self.bundle, self.opts = bundle, opts or HeadOptions()
        self.model_id = model_id or model_fingerprint(bundle)
        self._text = text_encoder if text_encoder is not None else TextEncoder(bundle.text_cfg)  # loads lazily
        self._memory: OrderedDict[str, FittedWeights] = OrderedDict()
        self._seen_by_name: dict[str, int] = {}
        for col, cls in enumerate(bundle.seen_classes):
            self._seen_by_name.setdefault(normalise_name(bundle.class_names[cls]), col)
        self.cache_dir = Path(self.opts.cache_dir) if self.opts.cache_dir else default_cache_dir().parent / "heads"
        self.fits = 0
        self.last_error: str | None = None

    def key(self, labels: LabelSet) -> str:
        return label_key(self.model_id, self.bundle.encoder_id, self.bundle.text_cfg.template, labels, self.opts)

    def seen_columns(self, labels: LabelSet) -> np.ndarray:
        """[L] backbone column of each label, -1 for labels that are not seen classes."""
        return np.array([self._seen_by_name.get(normalise_name(n), -1) for n in labels.names], dtype=np.intp)

    def build(self, labels: LabelSet) -> ZeroShotHead:
        """The head for ``labels`` (from the memory or disk cache when possible, else fitted now).

        Raises:
            ConfigError: the text encoder cannot embed the labels; MissingDependencyError: a fit is
                needed and torch or the sentence encoder is not installed.
        """
        cols, key = self.seen_columns(labels), self.key(labels)
        new = np.flatnonzero(cols < 0)
        fitted = self._weights(labels, new, key) if len(new) else None
        head = ZeroShotHead(
            labels, cols, len(self.bundle.seen_classes), self.bundle.sadvae.cfg.semantic_dim, fitted,
            gate=self.bundle.gate, key=key,
        )  # fmt: skip
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
            path = self.cache_dir / f"{key}.npz"
            fitted = self._read(path, tuple(labels.names[i] for i in new)) if self.opts.use_cache else None
            if fitted is None:
                fitted = self._fit(labels, new)
                if self.opts.use_cache:
                    self._write(path, fitted)
        self._memory[key] = fitted
        self._memory.move_to_end(key)
        while len(self._memory) > self.opts.memory_entries:
            self._memory.popitem(last=False)
        return fitted

    def _embed(self, labels: LabelSet, new: np.ndarray) -> np.ndarray:
        texts = [labels.texts[i] for i in new]
        if "{description}" in self.bundle.text_cfg.template:
            emb = self._text.encode_labels([labels.names[i] for i in new], texts)
        else:
            emb = self._text.encode_labels(texts, None)  # a description takes the name's place in the prompt
        emb, dim = np.asarray(emb, dtype=np.float32), self.bundle.sadvae.cfg.text_dim
        if emb.shape != (len(new), dim):
            raise ConfigError(
                f"the text encoder gave embeddings of shape {emb.shape}, the model expects [{len(new)}, {dim}]; "
                f"use the encoder the bundle was trained with ({self.bundle.encoder_id})"
            )
        return emb

    def _fit(self, labels: LabelSet, new: np.ndarray) -> FittedWeights:
        emb = self._embed(labels, new)
        try:
            import torch

            from sadvae.models.sadvae import fit_latent_classifier
        except ImportError:
            raise MissingDependencyError("torch", "train") from None
        o, model, y, threads = self.opts, self.bundle.sadvae, torch.as_tensor(emb), torch.get_num_threads()
        torch.set_num_threads(o.fit_threads)
        try:
            clf = fit_latent_classifier(model, y, samples_per_class=o.samples_per_class, steps=o.steps, lr=o.lr,
                                        seed=o.seed, relu_logits=o.relu_logits)  # fmt: skip
        finally:
            torch.set_num_threads(threads)
        self.fits += 1
        with torch.no_grad():
            own = model.encode_text(y)[0].cpu().numpy()  # (n_new, d_r): each label's own text latent mu_y
        w, b = (p.detach().cpu().numpy().astype(np.float32) for p in (clf.fc.weight, clf.fc.bias))
        logits = np.maximum(own @ w.T + b, 0.0) if o.relu_logits else own @ w.T + b
        idx = np.arange(len(new))
        dead = (logits.argmax(axis=1) != idx) | (logits[idx, idx] <= 0)
        names = tuple(labels.names[i] for i in new)
        return FittedWeights(names, w, b, o.relu_logits, tuple(names[i] for i in np.flatnonzero(dead)))

    def _read(self, path: Path, names: tuple[str, ...]) -> FittedWeights | None:
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                names_, unreachable = tuple(map(str, z["names"])), tuple(map(str, z["unreachable"]))
                f = FittedWeights(names_, z["weight"], z["bias"], bool(z["relu_logits"]), unreachable)
        except (OSError, ValueError, KeyError, EOFError) as e:
            log.warning("ignoring unreadable head cache %s (%s); refitting", path, e)
            return None
        n, d = len(names), self.bundle.sadvae.cfg.semantic_dim
        if f.names != names or f.weight.shape != (n, d) or f.bias.shape != (n,) or f.weight.dtype != np.float32:
            log.warning("ignoring head cache %s: it does not match these labels and this model; refitting", path)
            return None
        return f

    def _write(self, path: Path, f: FittedWeights) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
            np.savez(
                tmp, names=np.array(f.names, dtype=str), weight=f.weight, bias=f.bias,
                relu_logits=np.array(f.relu_logits), unreachable=np.array(f.unreachable, dtype=str),
            )  # fmt: skip
            os.replace(tmp, path)
        except OSError as e:  # a read-only cache must not stop the pipeline
            log.warning("cannot write head cache %s (%s); the fit is kept in memory only", path, e)
