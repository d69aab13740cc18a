"""Fitted latent-classifier weights of the zero-shot head: the fit (torch) and the ``.npz`` disk cache (numpy).

:func:`fit_weights` is the only code of the live head that needs torch: it imports it when called,
i.e. when new labels have no cached head. :func:`read_weights` / :func:`write_weights` keep fits on
disk as ``.npz`` (no pickle), so a known label set reloads at once, also on a machine without torch.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sadvae.data.registry import NUMPY_READ_ERRORS
from sadvae.errors import MissingDependencyError

__all__ = ["FittedWeights", "fit_weights", "read_weights", "write_weights"]

log = logging.getLogger(__name__)


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


def fit_weights(model: Any, emb: np.ndarray, names: tuple[str, ...], opts: Any) -> FittedWeights:
    """Fit the latent classifier of new labels on latents drawn from the SA-DVAE's text VAE.

    Args:
        model: the bundle's ``sadvae.models.sadvae.SADVAE``.
        emb: float32 [n, d_y] text embeddings of the labels ``names``.
        names: the new labels, in order.
        opts: :class:`realtime.head.HeadOptions` (samples, steps, lr, seed, threads, relu_logits).

    Raises:
        MissingDependencyError: torch is not installed.
    """
    try:
        import torch

        from sadvae.models.sadvae import fit_latent_classifier
    except ImportError:
        raise MissingDependencyError("torch", "train") from None
    o, y, threads = opts, torch.as_tensor(emb), torch.get_num_threads()
    torch.set_num_threads(o.fit_threads)
    try:
        clf = fit_latent_classifier(model, y, samples_per_class=o.samples_per_class, steps=o.steps, lr=o.lr,
                                    seed=o.seed, relu_logits=o.relu_logits)  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        own = model.encode_text(y)[0].cpu().numpy()  # (n_new, d_r): each label's own text latent mu_y
    w, b = (p.detach().cpu().numpy().astype(np.float32) for p in (clf.fc.weight, clf.fc.bias))
    logits = np.maximum(own @ w.T + b, 0.0) if o.relu_logits else own @ w.T + b
    idx = np.arange(len(names))
    dead = (logits.argmax(axis=1) != idx) | (logits[idx, idx] <= 0)
    return FittedWeights(names, w, b, o.relu_logits, tuple(names[i] for i in np.flatnonzero(dead)))


def read_weights(path: Path, names: tuple[str, ...], semantic_dim: int) -> FittedWeights | None:
    """The cached fit at ``path`` when it exists and matches ``names`` and [len(names), d_r], else None."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            names_, unreachable = tuple(map(str, z["names"])), tuple(map(str, z["unreachable"]))
            f = FittedWeights(names_, z["weight"], z["bias"], bool(z["relu_logits"]), unreachable)
    except (*NUMPY_READ_ERRORS, KeyError) as e:  # half-copied or foreign files: refit, never stop
        log.warning("ignoring unreadable head cache %s (%s); refitting", path, e)
        return None
    n, d = len(names), semantic_dim
    if f.names != names or f.weight.shape != (n, d) or f.bias.shape != (n,) or f.weight.dtype != np.float32:
        log.warning("ignoring head cache %s: it does not match these labels and this model; refitting", path)
        return None
    return f


def write_weights(path: Path, f: FittedWeights) -> None:
    """Write a fit atomically; a failure is logged (a read-only cache must not stop the pipeline)."""
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            tmp, names=np.array(f.names, dtype=str), weight=f.weight, bias=f.bias,
            relu_logits=np.array(f.relu_logits), unreachable=np.array(f.unreachable, dtype=str),
        )  # fmt: skip
        os.replace(tmp, path)
    except OSError as e:
        log.warning("cannot write head cache %s (%s); the fit is kept in memory only", path, e)
    finally:
        tmp.unlink(missing_ok=True)
