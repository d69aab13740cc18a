"""Labels taught by example: a few recordings of an action, and windows scored by how close they come (numpy).

A label's name (or description) is all the zero-shot branch can read, and on skeletons it has never seen that is
often not enough (docs/cross_dataset.md: 20-55 % top-1 across datasets). A few recordings of the action say more:
on the cross-dataset sets one recording per label doubles top-1 on MSR Action3D (20 -> 48 %), three reach 60 %
(``scripts/probe_few_shot.py``, docs/head.md section 8). And when the examples come from the user's own camera,
they are camera skeletons of the user's own body: the gap between the skeletons a model learned from and the live
ones (docs/camera_gap.md) is not crossed at all.

What a window is compared by is what every export outputs, in two spaces: the deployed model's trained-class logits
(``seen_logits``) and its semantic latent (``latent``, what the zero-shot branch reads). In each space an example
window's vector is scaled to unit length and a label's **prototype** is the unit mean of its examples' windows; a
window's similarity to a label is the mean of its two cosines to the label's two prototypes. (The latent was added on
5 December 2026: on the training sides of sets the models never saw it raised window top-1 on 11 of 12 cells and
separated windows of taught from untaught actions better on all 12, ``scripts/probe_example_similarity.py``,
docs/head.md section 8; prototypes made without it compare logits alone.)
Among the taught labels, ``P(label) = softmax(cos / example_temperature)``; "no action" for them reads the best
cosine through a calibrated curve (``HeadCalibration.p_action_examples``, fitted on windows of the deployed model
with ``scripts/fit_example_curve.py``). A list that also has labels without examples puts both on one scale by their
calibrated P(one of my labels) and their best label's probability: ``w = q_examples / (q_examples + q_rest)``, ``q =
a * best``, is the taught labels' share (:func:`mix_with_examples`), ``max(a_examples, a_rest)`` the list's P(one of
my labels) (until 5 December 2026, late: ``w = a_examples / (a_examples + a_rest)`` and the weighted mean of the
two); the new labels' weight ``p_unseen`` of the other head is scaled by ``1 - w``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from sadvae.head.calibration import HeadCalibration
from sadvae.head.core import HeadScores
from sadvae.head.zeroshot import softmax

__all__ = [
    "ExamplePrototypes",
    "unit_rows",
    "mix_with_examples",
    "self_taught_prototypes",
    "surest_share",
    "SELF_TEACH_KEEP",
    "SELF_TEACH_ROUNDS",
]

# self-teaching (:func:`self_taught_prototypes`): the share of each label's windows kept as its examples, and the rounds
# of relabelling; fixed in advance (an analogue of the cross-dataset protocol's prototype kind with weight 1,
# docs/cross_dataset.md round 25), not tuned on the replays that measure it
SELF_TEACH_KEEP = 0.5
SELF_TEACH_ROUNDS = 5


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float64; an all-zero row stays zero)."""
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class ExamplePrototypes:
    """Prototypes of the taught labels.

    Attributes:
        names: the labels, as written in the examples.
        prototypes: float64 [E, K] one unit row per label: the unit mean of its example windows' unit logit vectors.
        windows: example windows behind each prototype; clips: example recordings behind each.
        latent_prototypes: float64 [E, D], the same of the windows' latents; None: logits alone are compared.
        self_taught: the windows are unlabelled ones the head itself gave these labels (:func:`self_taught_prototypes`),
            not examples a person labelled.
    """

    names: tuple[str, ...]
    prototypes: np.ndarray
    windows: tuple[int, ...]
    clips: tuple[int, ...]
    latent_prototypes: np.ndarray | None = None
    self_taught: bool = False

    @classmethod
    def from_windows(
        cls,
        windows: Mapping[str, np.ndarray],
        clips: Mapping[str, int] | None = None,
        latents: Mapping[str, np.ndarray] | None = None,
    ) -> ExamplePrototypes:
        """Prototypes from each label's example windows' logits ``{label: float [n, K]}`` (n >= 1) and, when given,
        their latents ``{label: float [n, D]}`` (the same windows, in the same order)."""
        names = [str(n) for n in windows]
        protos = _unit_means("logits", windows)
        counts = tuple(len(np.asarray(w)) for w in windows.values())
        clip_counts = tuple(int((clips or {}).get(n, 0)) for n in names)
        latent = None
        if latents is not None:
            if [str(n) for n in latents] != names:
                raise ValueError(f"latents of {list(latents)} for the windows of {names}: give both for every label")
            if tuple(len(np.asarray(z)) for z in latents.values()) != counts:
                raise ValueError("latents and logits of different numbers of windows: they must be the same windows")
            latent = _unit_means("latents", latents)
        return cls(tuple(names), protos, counts, clip_counts, latent)

    def __len__(self) -> int:
        return len(self.names)

    def select(self, names: Sequence[str]) -> ExamplePrototypes:
        """The prototypes of ``names`` (each one of :attr:`names`), in that order."""
        idx = [self.names.index(n) for n in names]
        return ExamplePrototypes(
            tuple(names),
            self.prototypes[idx],
            tuple(self.windows[i] for i in idx),
            tuple(self.clips[i] for i in idx),
            None if self.latent_prototypes is None else self.latent_prototypes[idx],
            self.self_taught,
        )

    def similarity(self, seen_logits: np.ndarray, latent: np.ndarray | None = None) -> np.ndarray:
        """[N, E] similarity of each window to each taught label: the mean of the cosines of its logit vector
        [N, K] and its latent [N, D] to the label's prototypes (the logits' cosine alone for prototypes made
        without latents)."""
        sim = _cosines("seen_logits", seen_logits, self.prototypes)
        if self.latent_prototypes is None:
            return sim
        if latent is None:
            raise ValueError("these prototypes compare latents too: give the windows' latent")
        return 0.5 * (sim + _cosines("latent", latent, self.latent_prototypes))


def surest_share(scores: np.ndarray, keep: float) -> dict[int, np.ndarray]:
    """Each label's surest windows: of the windows whose best label it is, the ``keep`` share (at least one) with the
    highest score, ``{label: window indices}`` for every label that is some window's best (ties: the earlier window)."""
    best, sure = scores.argmax(axis=1), scores.max(axis=1)
    kept: dict[int, np.ndarray] = {}
    for c in np.unique(best):
        idx = np.flatnonzero(best == c)
        kept[int(c)] = idx[np.argsort(-sure[idx], kind="stable")[: max(1, round(keep * len(idx)))]]
    return kept


def self_taught_prototypes(
    scores: np.ndarray,
    seen_logits: np.ndarray,
    latent: np.ndarray,
    clip: np.ndarray,
    names: Sequence[str],
    temperature: float,
    keep: float = SELF_TEACH_KEEP,
    rounds: int = SELF_TEACH_ROUNDS,
) -> ExamplePrototypes:
    """Prototypes of labels taught by unlabelled windows: the head's own best guesses, made consistent.

    Each window is given its best label (``scores`` first, then the prototypes'); the ``keep`` share of each label's
    windows that are surest of it become that label's examples; the prototypes made of them rescore every window
    (softmax of the similarity at ``temperature``, as :func:`mix_with_examples` scores taught labels); ``rounds``
    times. A label no window goes to is not taught (it keeps its head). No label of any window is read.

    Args:
        scores: float [N, L] the head's scores of the windows over the labels (``probs * p_action``);
        seen_logits, latent: the windows' trained-class logits [N, K] and latents [N, D]; clip: int [N] the
            recording each window comes from (counted per label); names: the L labels; temperature: the
            calibration's ``example_temperature``.

    Returns:
        :class:`ExamplePrototypes` with ``self_taught`` set, in label order, of the labels that kept windows.
    """
    s = np.asarray(scores, np.float64)
    logits, lat, clip = np.asarray(seen_logits, np.float64), np.asarray(latent, np.float64), np.asarray(clip)
    if s.ndim != 2 or s.shape[1] != len(names) or not len(s) or len(logits) != len(s) or len(lat) != len(s):
        raise ValueError(f"self-teaching needs scores [N >= 1, {len(names)}] and logits / latents of the same windows")
    if not 0.0 < keep <= 1.0 or rounds < 1:
        raise ValueError(f"keep must be in (0, 1] and rounds >= 1, got {keep}, {rounds}")
    protos = None
    for _ in range(rounds):
        kept = surest_share(s, keep)
        order = sorted(kept)
        protos = ExamplePrototypes.from_windows(
            {names[c]: logits[kept[c]] for c in order},
            {names[c]: len(np.unique(clip[kept[c]])) for c in order},
            {names[c]: lat[kept[c]] for c in order},
        )
        s = np.zeros_like(s)
        s[:, order] = softmax(protos.similarity(logits, lat) / temperature)
    assert protos is not None
    return replace(protos, self_taught=True)


def _unit_means(what: str, windows: Mapping[str, np.ndarray]) -> np.ndarray:
    """[E, width] the unit mean of each label's unit rows."""
    widths = {np.shape(v)[-1] for v in windows.values()}
    if len(widths) > 1:
        raise ValueError(
            f"example windows' {what} of different widths {sorted(widths)}: they come from different models"
        )
    rows = []
    for name, w in windows.items():
        w = np.asarray(w, np.float64)
        if w.ndim != 2 or not len(w) or not np.isfinite(w).all():
            raise ValueError(f"example windows of {name!r}: expected finite [n >= 1, width] {what}, got {w.shape}")
        rows.append(unit_rows(unit_rows(w).mean(axis=0)))
    return np.asarray(rows, np.float64).reshape(len(rows), widths.pop() if widths else 0)


def _cosines(what: str, x: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    z = np.asarray(x)
    if z.ndim != 2 or z.shape[1] != prototypes.shape[1]:
        raise ValueError(f"expected {what} [N, {prototypes.shape[1]}], got {z.shape}")
    return unit_rows(z) @ prototypes.T


def mix_with_examples(
    sim: np.ndarray,
    example_idx: Sequence[int],
    rest: HeadScores | None,
    rest_idx: Sequence[int],
    calibration: HeadCalibration,
    reject: bool,
) -> HeadScores:
    """Scores over every label from the taught labels' similarities [N, E] and the other labels' scores.

    Args:
        sim: cosines of the windows to the taught labels' prototypes (:meth:`ExamplePrototypes.similarity`).
        example_idx: the taught labels' positions in the list (E of them, in ``sim``'s column order).
        rest: the other labels' scores (in ``rest_idx`` order), or None when every label is taught.
        rest_idx: their positions in the list.
        calibration: the temperature and the "no action" curve of the taught labels.
        reject: compute "no action" (False: P(one of my labels) is reported as 1; the calibrated curve still sets the
            taught labels' share of a mixed list).
    """
    sim = np.asarray(sim, np.float64)
    n, ex, other = sim.shape[0], np.asarray(example_idx, np.intp), np.asarray(rest_idx, np.intp)
    size = len(ex) + len(other)
    if sim.shape[1] != len(ex) or (rest is None) != (len(other) == 0):
        raise ValueError(f"{sim.shape[1]} similarity columns for {len(ex)} taught labels, rest {len(other)}")
    if sorted(np.concatenate([ex, other]).tolist()) != list(range(size)):
        raise ValueError("example_idx and rest_idx must split the label positions")
    p_ex = softmax(sim / calibration.example_temperature)
    # the curve always sets the taught labels' share, so a window far from every example never goes to them; with
    # "no action" off only the reported P(action) is 1 (the other labels then count as sure: a taught label takes at
    # most half of a window)
    a_ex = calibration.p_action_examples(sim.max(axis=1))
    probs = np.zeros((n, size))
    if rest is None:
        probs[:, ex] = p_ex
        p_action, p_unseen, off = a_ex, None, None
    else:
        a_rest = np.asarray(rest.p_action, np.float64)
        # each kind's claim: how likely one of its labels is happening, times how clearly its best label leads (a
        # window whose named label is clear keeps its probability where the taught labels' curve is merely unsure)
        q_ex, q_rest = a_ex * p_ex.max(axis=1), a_rest * np.asarray(rest.probs, np.float64).max(axis=1)
        total = q_ex + q_rest
        w = np.where(total > 0, q_ex / np.maximum(total, 1e-300), 0.5)
        probs[:, ex] = p_ex * w[:, None]
        probs[:, other] = rest.probs * (1.0 - w)[:, None]
        # one of my labels: at least the likelier kind's (the union's lower bound; the sum, its upper bound for two
        # disjoint kinds, fired more on near misses than the decisions allow, and the mean of the two under-counted)
        # (both chosen on training sides: scripts/probe_mixed_lists.py, docs/head.md section 8)
        p_action = np.maximum(a_ex, a_rest)
        p_unseen = None if rest.p_unseen is None else np.asarray(rest.p_unseen) * (1.0 - w)
        off = rest.off_label
    if not reject:
        p_action = np.ones(n)
    top = probs.argmax(axis=1)
    no_action = p_action < calibration.reject_threshold if reject else np.zeros(n, dtype=bool)
    new_top = np.zeros(n, dtype=bool)
    if rest is not None:  # a window whose best label is one of the others has the others' best label
        in_rest = np.isin(top, other)
        new_top[in_rest] = np.asarray(rest.is_new)[in_rest]
    return HeadScores(probs, top, new_top, p_unseen, off, p_action, no_action, probs * p_action[:, None])
