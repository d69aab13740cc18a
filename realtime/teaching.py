"""Labels taught by example: each example recording played through the live pipeline (``sadvae-live --examples``).

An example is read exactly as a live person is: its clip is replayed through :class:`realtime.pipeline.Pipeline`
with the run's model and options (windowing, resampling to the model's rate, the still-pose cut, preprocessing),
with its first and last pose held :data:`HOLD_S` (a person who stands still before and after the action), and the
trained-class logits and the latent of each of its windows are kept. Each taught label's prototype is made of them
(:class:`sadvae.head.examples.ExamplePrototypes`); :class:`realtime.head.examples.ExampleHead` scores with it.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from realtime.head.examples import ExampleClips
from sadvae.errors import ConfigError
from sadvae.head.examples import ExamplePrototypes

__all__ = ["HOLD_S", "clip_windows", "embed_examples"]

log = logging.getLogger(__name__)

# each example is played with its first and last pose held this long, as a person who stands still before and after
# the action: a short clip then still fills a window, and the still-pose cut keeps the model on the motion
HOLD_S = 1.0


class _Borrowed:
    """The run's model, lent to the embedding pipeline: closing that pipeline must not close the model."""

    def __init__(self, model: Any):
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def close(self) -> None:
        pass


def clip_windows(model: Any, clips: Sequence[Any], opts: Any = None) -> list[dict[str, np.ndarray]]:
    """The outputs of every window the live pipeline makes of each clip: per clip, in order, ``{"seen_logits": float64
    [n_i, K], "latent": float64 [n_i, D]}`` (n_i may be 0).

    Each clip is played as a person who appears, stands still :data:`HOLD_S`, acts, stands still and leaves, through
    :class:`realtime.pipeline.Pipeline` with the run's model and ``opts`` (:class:`realtime.pipeline.PipelineOptions`,
    None: the defaults).
    """
    from realtime.events.publisher import PublisherOptions
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources.replay import ReplaySource, stream_piece

    if not clips:
        return []
    opts = opts or PipelineOptions()
    opts = replace(
        opts,
        handle_signals=False,
        max_frames=None,
        publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*", sndhwm=100_000),
    )
    chunks, times, spans, t0 = [], [], [], 0.0
    for seq in clips:
        joints, t, _, t_next = stream_piece(seq, t0, hold_s=HOLD_S)
        chunks.append(joints)
        times.append(t)
        spans.append((t0, t_next))
        t0 = t_next
    per_clip: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in clips]
    starts = np.array([a for a, _ in spans])

    def collect(batch: Any) -> None:
        logits = np.asarray(batch.outputs["seen_logits"], np.float64)
        latent = np.asarray(batch.outputs["latent"], np.float64)
        for i in range(len(batch.track_ids)):
            end = float(batch.times[i][-1])
            k = int(np.searchsorted(starts, end, side="right")) - 1
            if 0 <= k < len(clips) and end <= spans[k][1]:
                per_clip[k].append((logits[i], latent[i]))

    seen = model.bundle.seen_names
    with tempfile.TemporaryDirectory(prefix="sadvae-examples-") as tmp:
        labels = Path(tmp) / "labels.txt"  # trained classes: the head needs no fit to run
        labels.write_text(f"{seen[0]}\n{seen[1]}\n", encoding="utf-8")
        source = ReplaySource.from_arrays(np.concatenate(chunks), np.concatenate(times), name="examples")
        Pipeline(source, _Borrowed(model), labels, opts, on_batch=collect).run()
    width, dim = len(seen), int(model.bundle.semantic_dim)
    return [
        {
            "seen_logits": np.stack([a for a, _ in rows]) if rows else np.zeros((0, width)),
            "latent": np.stack([z for _, z in rows]) if rows else np.zeros((0, dim)),
        }
        for rows in per_clip
    ]


def embed_examples(model: Any, examples: ExampleClips, opts: Any = None, skip_empty: bool = False) -> ExamplePrototypes:
    """Each example clip played through the live pipeline (:func:`clip_windows`); each taught label's prototype from
    its windows' logits.

    Args:
        model: the run's :class:`realtime.backends.live_model.LiveModel` (not closed here).
        examples: from :func:`read_examples`.
        opts: the run's :class:`realtime.pipeline.PipelineOptions` (None: the defaults); its windowing, still-pose
            cut and preprocessing are what the examples go through.
        skip_empty: drop a clip that gives no window (logged) instead of refusing it; a label left without any
            is not taught (benchmarks, where the examples are drawn from a dataset).

    Raises:
        ConfigError: a clip gives no window (no person tracked in it), naming the file (unless ``skip_empty``).
    """
    order = [
        (name, seq, f)
        for name in examples.clips
        for seq, f in zip(examples.clips[name], examples.files[name], strict=True)
    ]
    per_clip = clip_windows(model, [seq for _, seq, _ in order], opts)
    windows: dict[str, list[np.ndarray]] = {}
    latents: dict[str, list[np.ndarray]] = {}
    for (name, seq, f), out in zip(order, per_clip, strict=True):
        rows = out["seen_logits"]
        if not len(rows) and skip_empty:
            log.warning("%s: this example of %r gave the model no window; left out", f, name)
            continue
        if not len(rows):
            raise ConfigError(
                f"{f}: this example of {name!r} gave the model no window ({seq.num_frames} frames, "
                f"{float(seq.times()[-1] - seq.times()[0]):.1f} s, no person found in it?); record it again with the "
                "whole body in view"
            )
        windows.setdefault(name, []).append(rows)
        latents.setdefault(name, []).append(out["latent"])
    counts = {n: len(w) for n, w in windows.items()}
    protos = ExamplePrototypes.from_windows(
        {n: np.concatenate(w) for n, w in windows.items()},
        counts,
        {n: np.concatenate(z) for n, z in latents.items()},
    )
    for n, c, w in zip(protos.names, protos.clips, protos.windows, strict=True):
        log.info("example label %r: %d clip(s), %d window(s)", n, c, w)
    return protos
