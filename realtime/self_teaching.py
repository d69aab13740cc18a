"""Labels self-taught from unlabelled recordings of the place where the model runs (``sadvae-live --self-teach``).

A model that never saw a capture system names its actions worse than a model that did (issue 12,
docs/cross_dataset.md: a linear probe on the frozen network's features, trained on a set, reads its actions at 75-96 %
top-1; the same features named through the labels, the set never trained on, at 22-55 %). Recordings of the place,
with nobody labelling them, close part of that gap: the head gives every window of them its best label, the
windows surest of each label become that label's examples, and the examples' prototypes relabel the windows, a few
rounds (:func:`sadvae.head.examples.self_taught_prototypes`). A window the head calls "no action" for the list
teaches nothing: a place shows actions the list leaves out, and their windows would otherwise teach the label they
come closest to (docs/head.md section 9). The
labels are then scored as labels taught by example are (:class:`realtime.head.examples.ExampleHead`), so a label is
read the way this place's people and this camera show it, not only the way the training sets did. Measured on
the cross-dataset protocol (round 25) and on held-out replays with models that never saw the set
(docs/head.md section 9).

The recordings are what ``sadvae-live --record-skeleton`` writes (one ``.npz`` with ``joints`` and ``times``, every
tracked person a clip), clips of the clip-folder format (their labels are not read), or folders of either. They
should show the listed actions among others, as the place sees them: a label that no window of them goes to is
not taught and keeps its head.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sadvae.errors import ConfigError

__all__ = ["read_unlabelled", "self_teach"]

log = logging.getLogger(__name__)

_FIX = (
    "record the place with `sadvae-live --camera 0 --labels L --record-skeleton place.npz` (people doing what they "
    "do there, for a few minutes) and give that file or its folder"
)


def read_unlabelled(paths: Sequence[str | Path], flag: str = "--self-teach") -> list[Any]:
    """The clips of unlabelled recordings: ``.npz`` recordings, clips, or folders holding them (``flag``: the option
    that named them, for the errors).

    Returns:
        The clips (each ``source`` names its file, and its track for a recording).

    Raises:
        ConfigError: a path that is missing, or no clip at all; DataFormatError: a malformed file (naming it).
    """
    from sadvae.data.user_format import (
        is_clip_dataset,
        is_recording,
        read_clip_dataset,
        read_recording,
        read_single_clip,
    )

    clips: list[Any] = []
    for p in map(Path, paths):
        if not p.exists():
            raise ConfigError(f"{flag} {p}: no such file or folder; {_FIX}")
        if p.is_dir() and is_clip_dataset(p):
            ds = read_clip_dataset(p)
            clips += list(ds.sequences)
            continue
        if p.is_file() and p.suffix.lower() in (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"):
            raise ConfigError(
                f"{flag} {p}: is a video; it reads skeleton recordings: make one of it with `sadvae-live --video {p} "
                f"--labels L --record-skeleton {p.with_suffix('.npz').name}` and give that file"
            )
        files = sorted(f for f in p.rglob("*.npz") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            ds = read_recording(f) if is_recording(f) else read_single_clip(f)
            clips += list(ds.sequences)
    if not clips:
        raise ConfigError(f"{flag} {', '.join(map(str, paths))}: no recording (.npz) found; {_FIX}")
    return clips


def self_teach(
    model: Any,
    clips: Sequence[Any],
    labels: str | Path,
    opts: Any = None,
    refuse_empty: bool = True,
    every_window: bool = False,
) -> Any:
    """Prototypes of ``labels`` self-taught from unlabelled ``clips`` (module docstring).

    Every clip is played through the live pipeline (:func:`realtime.teaching.clip_windows`, with the run's model and
    ``opts``) with the labels as they are now (a copy of the file: an edit while it runs changes nothing); its
    windows' scores, logits and latents make the prototypes. A window the head calls "no action" teaches nothing
    (module docstring).

    Args:
        refuse_empty: no clip giving the model a window the head calls an action is a :class:`ConfigError` (False: a
            warning, None returned).
        every_window: every window teaches, "no action" or not (self-teaching as first built, 7 December 2026).

    Returns:
        :class:`sadvae.head.examples.ExamplePrototypes` (``self_taught``) of the labels some window went to.
    """
    import shutil
    import tempfile

    from realtime.pipeline import PipelineOptions
    from realtime.teaching import clip_windows
    from sadvae.head.examples import self_taught_prototypes
    from sadvae.labels import parse_labels

    with tempfile.TemporaryDirectory(prefix="sadvae-self-teach-") as tmp:
        frozen = Path(tmp) / Path(labels).name  # the list every window is scored against, and named by
        shutil.copyfile(labels, frozen)
        names = parse_labels(frozen).names
        per_clip = clip_windows(model, clips, opts, labels=frozen)
    windows = sum(len(c["seen_logits"]) for c in per_clip)
    if not every_window:  # what the head calls "no action" is, for this list, none of its labels: not an example
        per_clip = [{k: v[~c["no_action"]] for k, v in c.items()} for c in per_clip]
    rows = [(k, c) for k, c in enumerate(per_clip) if len(c["seen_logits"])]
    if not rows:
        longest = max(float(c.times()[-1] - c.times()[0]) for c in clips) if clips else 0.0
        why = (
            f"none of the {len(clips)} recording(s) gave the model a window (the longest lasts {longest:.1f} s, or "
            "no person was tracked in them)"
            if not windows
            else f'the head calls every one of the {windows} window(s) of the {len(clips)} recording(s) "no action" '
            "for these labels (do the recordings show the listed actions?)"
        )
        if refuse_empty:
            raise ConfigError(f"--self-teach: {why}; {_FIX}")
        log.warning("self-teaching: %s; nothing taught", why)
        return None
    clip = np.concatenate([np.full(len(c["seen_logits"]), k) for k, c in rows])
    temperature = _calibration(model, opts or PipelineOptions()).example_temperature
    protos = self_taught_prototypes(
        np.concatenate([c["scores"] for _, c in rows]),
        np.concatenate([c["seen_logits"] for _, c in rows]),
        np.concatenate([c["latent"] for _, c in rows]),
        clip,
        names,
        temperature,
    )
    kept = sum(len(c["seen_logits"]) for _, c in rows)
    if kept < windows:
        log.info(
            'self-teaching: %d of %d window(s) called "no action" for these labels teach nothing',
            windows - kept,
            windows,
        )
    for n, c, w in zip(protos.names, protos.clips, protos.windows, strict=True):
        log.info("self-taught label %r: %d window(s) of %d clip(s)", n, w, c)
    untaught = [n for n in names if n not in protos.names]
    if untaught:
        log.info("not self-taught (no window went to them): %s", ", ".join(map(repr, untaught)))
    return protos


def _calibration(model: Any, opts: Any) -> Any:
    from realtime.head.zero_shot import HeadBuilder

    return HeadBuilder(model.bundle, opts.head, model_id=model.model_id).calibration
