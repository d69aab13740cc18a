"""Zero-shot weights of the live head: making them (torch) and the ``.npz`` disk cache (numpy).

:func:`fit_weights` is the only code of the live head that needs torch: it imports it when called,
i.e. when new labels have no cached head. For the default cosine / euclidean scorers it only runs the
text VAE's encoder on the labels' embeddings (their prototypes mu_y, instant); for the linear scorers
it fits the latent classifier. :func:`read_weights` / :func:`write_weights` keep heads on disk as
``.npz`` (no pickle) together with the label -> trained-class mapping they were built with, so a
known label set reloads at once, also on a machine without torch or a sentence encoder.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sadvae.data.numpy_files import NUMPY_READ_ERRORS
from sadvae.errors import MissingDependencyError
from sadvae.fileio import atomic_path
from sadvae.head import ZeroShotScorer, dead_labels

__all__ = ["FittedWeights", "fit_weights", "read_weights", "write_weights"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FittedWeights:
    """The zero-shot weights of the new labels (see :class:`sadvae.head.ZeroShotScorer`).

    Attributes:
        names: the new labels, in order; weight: float32 [n, d_r] prototypes or classifier rows; bias: float32 [n].
        relu_logits: the published ReLU on linear logits (round-1 field; ``method`` says it too).
        unreachable: labels that lose even on their own text latent.
        method: one of :data:`sadvae.head.ZS_METHODS`; "" = "linear-relu" / "linear" from ``relu_logits``.
        prototypes: float32 [n, d_r] the labels' text latents mu_y (the weight itself for prototype methods; for the
            linear ones what their "no action" reads); None in heads fitted before they were kept.
    """

    names: tuple[str, ...]
    weight: np.ndarray
    bias: np.ndarray
    relu_logits: bool
    unreachable: tuple[str, ...] = ()
    method: str = ""
    prototypes: np.ndarray | None = None

    @property
    def kind(self) -> str:
        return self.method or ("linear-relu" if self.relu_logits else "linear")

    def scorer(self, calibration: Any) -> ZeroShotScorer:
        """The numpy scorer, with the calibration's scale for prototype methods."""
        scale = {"cosine": calibration.zs_scale, "euclidean": calibration.euclid_scale}.get(self.kind, 1.0)
        return ZeroShotScorer(self.kind, self.weight, self.bias, float(scale), self.prototypes)


def fit_weights(model: Any, emb: np.ndarray, names: tuple[str, ...], opts: Any) -> FittedWeights:
    """The zero-shot weights of new labels: text-latent prototypes, or a latent classifier (linear methods).

    Args:
        model: the bundle's ``sadvae.models.sadvae.SADVAE``.
        emb: float32 [n, d_y] text embeddings of the labels ``names``.
        names: the new labels, in order.
        opts: :class:`realtime.head.HeadOptions` (zs_method; samples, steps, lr, seed, threads for linear fits).

    Raises:
        MissingDependencyError: torch is not installed.
    """
    try:
        import torch

        from sadvae.models.sadvae import fit_latent_classifier
    except ImportError:
        raise MissingDependencyError("torch", "train") from None
    o, y, threads = opts, torch.as_tensor(emb), torch.get_num_threads()
    method = o.zs_method
    torch.set_num_threads(o.fit_threads)
    try:
        was = model.training
        model.eval()
        with torch.no_grad():
            own = model.encode_text(y)[0].cpu().numpy().astype(np.float32)  # (n_new, d_r): each label's mu_y
        model.train(was)
        if method in ("cosine", "euclidean"):
            w, b = own, np.zeros(len(names), np.float32)
        else:
            relu = method == "linear-relu"
            clf = fit_latent_classifier(
                model, y, samples_per_class=o.samples_per_class, steps=o.steps, lr=o.lr, seed=o.seed, relu_logits=relu
            )
            w, b = (p.detach().cpu().numpy().astype(np.float32) for p in (clf.fc.weight, clf.fc.bias))
    finally:
        torch.set_num_threads(threads)
    scorer = ZeroShotScorer(method, w, b, 1.0)
    dead = dead_labels(scorer, own)
    return FittedWeights(names, w, b, method == "linear-relu", tuple(names[i] for i in dead), method, own)


def read_weights(
    path: Path, names: tuple[str, ...], semantic_dim: int, num_seen: int | None = None
) -> tuple[tuple[tuple[int, ...], ...], FittedWeights | None, tuple[str, ...] | None] | None:
    """The cached head at ``path`` for the labels ``names``: (trained classes per label, weights of the new ones, the
    start-up lines of the label mapping it was built with, or None in a cache written before they were kept).

    None when the file is absent, unreadable, or does not match these labels and this model (logged).
    """
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            stored = tuple(map(str, z["labels"]))
            classes = tuple(tuple(int(c) for c in cs) for cs in json.loads(str(z["classes"])))
            lines = tuple(map(str, json.loads(str(z["mapping_lines"])))) if "mapping_lines" in z.files else None
            f = None
            if "weight" in z.files:
                new = tuple(map(str, z["names"]))
                unreachable = tuple(map(str, z["unreachable"]))
                protos = z["prototypes"] if "prototypes" in z.files else None
                f = FittedWeights(
                    new, z["weight"], z["bias"], bool(z["relu_logits"]), unreachable, str(z["method"]), protos
                )
    except (*NUMPY_READ_ERRORS, TypeError) as e:  # half-copied or foreign files: refit, never stop
        log.warning("ignoring unreadable head cache %s (%s); refitting", path, e)
        return None
    new_names = tuple(n for n, cs in zip(names, classes, strict=False) if not cs)
    ok = stored == tuple(names) and len(classes) == len(names)
    ok = ok and (num_seen is None or all(0 <= c < num_seen for cs in classes for c in cs))
    if f is None:
        ok = ok and not new_names
    else:
        n, d = len(new_names), semantic_dim
        ok = ok and f.names == new_names and f.weight.shape == (n, d) and f.bias.shape == (n,)
        ok = ok and f.weight.dtype == np.float32
        ok = ok and (f.prototypes is None or f.prototypes.shape == f.weight.shape)
    if lines is not None and len(lines) != len(names):
        lines = None
    if not ok:
        log.warning("ignoring head cache %s: it does not match these labels and this model; refitting", path)
        return None
    return classes, f, lines


def write_weights(
    path: Path, f: FittedWeights | None, classes, labels: tuple[str, ...], mapping_lines: Sequence[str] | None = None
) -> None:
    """Write a head atomically; a failure is logged (a read-only cache must not stop the pipeline).

    ``mapping_lines``: the label mapping's start-up lines (match scores, nearest class), kept so that a run served from
    the cache, which does not load the sentence encoder, prints the same mapping as the run that built it.
    """
    arrays = {"labels": np.array(labels, dtype=str), "classes": np.array(json.dumps([list(c) for c in classes]))}
    if mapping_lines is not None:
        arrays["mapping_lines"] = np.array(json.dumps(list(mapping_lines)))
    if f is not None:
        arrays.update(
            names=np.array(f.names, dtype=str),
            weight=f.weight,
            bias=f.bias,
            relu_logits=np.array(f.relu_logits),
            unreachable=np.array(f.unreachable, dtype=str),
            method=np.array(f.kind),
        )
        if f.prototypes is not None:
            arrays["prototypes"] = np.asarray(f.prototypes, np.float32)
    try:
        with atomic_path(path, suffix=".npz") as tmp:  # np.savez appends .npz to a path without it
            np.savez(tmp, **arrays)
    except OSError as e:
        log.warning("cannot write head cache %s (%s); the head is kept in memory only", path, e)
