"""The zero-shot head of the live side: the label set, its fitted weights, scoring, and hot reload.

:mod:`.labels` parses and watches the labels file; :mod:`.weights` fits, reads and writes the per-label
weights; :mod:`.zero_shot` builds and runs the head; :mod:`.examples` scores labels taught by example recordings
beside the others; :mod:`.result` is what every head returns; :mod:`.reload` rebuilds it when the labels change.
"""

from __future__ import annotations

from realtime.head.examples import ExampleClips, ExampleHead, read_examples
from realtime.head.labels import (
    LabelSet,
    LabelWatcher,
    parse_labels,
    parse_labels_text,
)
from realtime.head.reload import HeadReloader
from realtime.head.weights import (
    FittedWeights,
    fit_weights,
    read_weights,
    write_weights,
)
from realtime.head.zero_shot import (
    HeadBuilder,
    HeadOptions,
    HeadResult,
    ZeroShotHead,
    normalise_name,
)

__all__ = [
    "ExampleClips",
    "ExampleHead",
    "read_examples",
    "LabelSet",
    "LabelWatcher",
    "parse_labels",
    "parse_labels_text",
    "HeadReloader",
    "FittedWeights",
    "fit_weights",
    "read_weights",
    "write_weights",
    "HeadBuilder",
    "HeadOptions",
    "HeadResult",
    "ZeroShotHead",
    "normalise_name",
]
