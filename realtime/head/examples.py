"""Labels taught by example recordings, on the live side (``sadvae-live --examples FOLDER``).

The scoring is :mod:`sadvae.head.examples` (numpy); this module reads the examples and scores taught labels beside
the others; :mod:`realtime.teaching` turns each example into the windows the model sees (it runs the pipeline, a
layer above the head):

- **the examples folder** is a clip folder (``classes.txt`` and one ``.npz`` per clip, docs/data_format.md):
  record yourself with ``sadvae-live --camera 0 --labels L --record-skeleton me.npz`` and turn the recording
  into a clip with
  ``sadvae data import me.npz --label "drink water" --subject 1 --out examples/``. A class of ``classes.txt``
  teaches the label of the same name (compared as :func:`sadvae.labels.duplicate_key` compares names: case,
  spacing and punctuation aside, "Tai-Chi" teaches "tai chi");
  examples of a label that the labels file does not list are kept and used once it does;
- **embedding** (:func:`realtime.teaching.embed_examples`): every example clip is played through
  :class:`realtime.pipeline.Pipeline` itself, with the model and pipeline options of the run, and the trained-class
  logits of each of its windows are kept: an example is read as a live person is;
- **scoring**: :class:`ExampleHead`, the head of a label list with taught labels. The other labels keep the head
  they would have without examples (:class:`realtime.head.zero_shot.ZeroShotHead`); both are put on one scale by
  :func:`sadvae.head.examples.mix_with_examples`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realtime.head.result import HeadResult
from sadvae.errors import ConfigError, DataFormatError
from sadvae.head.examples import ExamplePrototypes, mix_with_examples

__all__ = ["ExampleClips", "ExampleHead", "read_examples"]

log = logging.getLogger(__name__)

_FIX = (
    "record the action with `sadvae-live ... --record-skeleton me.npz` and add it with "
    '`sadvae data import me.npz --label "NAME" --subject 1 --out FOLDER` (docs/head.md section 8)'
)


@dataclass(frozen=True)
class ExampleClips:
    """The example recordings of a folder: per taught label, its clips and their files (in path order)."""

    folder: Path
    clips: dict[str, list[Any]]
    files: dict[str, list[Path]]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.clips)


def read_examples(folder: str | Path) -> ExampleClips:
    """Read an examples folder (module docstring).

    Raises:
        ConfigError: ``folder`` is not a folder; DataFormatError: a malformed ``classes.txt`` or clip (naming the file
            and field), or no clip at all.
    """
    from sadvae.data.user_format import CLASSES_FILE, read_classes, read_clip

    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"--examples {folder}: not a folder; {_FIX}")
    if not (folder / CLASSES_FILE).is_file() and (folder.parent / CLASSES_FILE).is_file():
        raise ConfigError(
            f"--examples {folder}: a folder inside the examples folder; pass the folder that holds {CLASSES_FILE}: "
            f"--examples {folder.parent}"
        )
    classes = read_classes(folder / CLASSES_FILE)
    files = sorted(p for p in folder.rglob("*.npz") if p.is_file())
    if not files:
        raise DataFormatError(folder, None, f"no example clip (.npz) here; {_FIX}")
    # two classes that name one label ("my clap", "My_Clap") are refused by read_classes: the labels file's rule
    clips: dict[str, list[Any]] = {}
    paths: dict[str, list[Path]] = {}
    for f in files:
        seq, _ = read_clip(f, classes.names)
        name = classes.names[seq.label]
        clips.setdefault(name, []).append(seq)
        paths.setdefault(name, []).append(f)
    empty = [n for n in classes.names if n not in clips]
    if empty:
        log.warning("%s: no example clip for %s (listed in %s)", folder, ", ".join(map(repr, empty)), CLASSES_FILE)
    return ExampleClips(folder, clips, paths)


class ExampleHead:
    """The head of a label list with taught labels (module docstring); same surface as ``ZeroShotHead``.

    Args:
        labels: the whole label set.
        examples: the taught labels' prototypes, in the order of ``example_idx``.
        example_idx: the taught labels' positions; rest: the head of the other labels (in ``rest_idx`` order) or
            None; calibration, reject: the temperature and "no action" of the taught labels.
        no_action_head: a head of the whole list by name whose P(one of my labels) and "no action" replace the
            mixed ones (labels self-taught with ``HeadOptions.self_taught_no_action="names"``); None: the mix's.

    Attributes:
        mode: "examples" when every label is taught, else the other labels' mode with "+examples";
        is_new_label: bool [L] (zero-shot labels, never a taught one); is_taught: bool [L] (the taught labels: their
            decisions start at ``DecisionOptions.taught_start_score``); unreachable: the other head's.
    """

    def __init__(
        self,
        labels: Any,
        examples: ExamplePrototypes,
        example_idx: Sequence[int],
        rest: Any,
        rest_idx: Sequence[int],
        calibration: Any,
        reject: bool,
        no_action_head: Any = None,
    ):
        self.labels, self.examples, self.rest = labels, examples, rest
        self.no_action_head = no_action_head
        self.example_idx, self.rest_idx = tuple(int(i) for i in example_idx), tuple(int(i) for i in rest_idx)
        if len(self.examples) != len(self.example_idx):
            raise ValueError(f"{len(self.examples)} prototypes for {len(self.example_idx)} taught labels")
        self.calibration, self.reject = calibration, reject
        self.mode = "examples" if rest is None else f"{rest.mode}+examples"
        # taught labels read the window as it is: with every label taught, no mirror image is worth computing
        self.handedness = rest.handedness if rest is not None else "off"
        self.is_new_label = np.zeros(len(labels), dtype=bool)
        if rest is not None:
            self.is_new_label[list(self.rest_idx)] = rest.is_new_label
        self.is_taught = np.zeros(len(labels), dtype=bool)
        self.is_taught[list(self.example_idx)] = True
        self.unreachable = rest.unreachable if rest is not None else ()
        digest = hashlib.sha256(np.ascontiguousarray(examples.prototypes).tobytes())
        if examples.latent_prototypes is not None:
            digest.update(np.ascontiguousarray(examples.latent_prototypes).tobytes())
        digest.update(((rest.key if rest is not None else "") + "|" + "|".join(examples.names)).encode("utf-8"))
        # where the taught labels sit in the list, and the curve that weighs them: the same examples in another order
        # or under another calibration are another head (a review of 6 December 2026; the key had neither)
        digest.update(json.dumps([list(map(int, self.example_idx)), repr(calibration)]).encode("utf-8"))
        if no_action_head is not None:
            digest.update(("no action: " + no_action_head.key).encode("utf-8"))
        self.key = digest.hexdigest()

    def mapping_lines(self) -> list[str]:
        """One line per label, in label order: the taught ones with their examples, the others as their head says."""
        rest_lines = self.rest.mapping_lines() if self.rest is not None else []
        lines: list[str] = [""] * len(self.labels)
        for j, i in enumerate(self.example_idx):
            c, w = self.examples.clips[j], self.examples.windows[j]
            if self.examples.self_taught:
                lines[i] = f"{self.labels.names[i]} -> self-taught from {w} window(s) of {c} clip(s)"
            else:
                lines[i] = f"{self.labels.names[i]} -> taught by {c} example(s) ({w} window(s))"
        for j, i in enumerate(self.rest_idx):
            lines[i] = rest_lines[j] if j < len(rest_lines) else self.labels.names[i]
        return lines

    def __call__(self, latent: np.ndarray, seen_logits: np.ndarray, mirror: Any = None):
        """Score a batch of windows (``ZeroShotHead.__call__``); taught labels read the windows as they are, the
        others pool the mirror images when given."""
        rest = self.rest(latent, seen_logits, mirror) if self.rest is not None else None
        sim = self.examples.similarity(seen_logits, latent)
        r = mix_with_examples(sim, self.example_idx, rest, self.rest_idx, self.calibration, self.reject)
        if self.no_action_head is not None:  # which label from the mix, whether any from the labels by name
            g = self.no_action_head(latent, seen_logits, mirror)
            p_action, no_action = np.asarray(g.p_action, np.float64), np.asarray(g.no_action, bool)
            return HeadResult(
                r.probs, r.top, r.is_new, r.p_unseen, r.off_label, p_action, no_action, r.probs * p_action[:, None]
            )
        return HeadResult(r.probs, r.top, r.is_new, r.p_unseen, r.off_label, r.p_action, r.no_action, r.scores)
