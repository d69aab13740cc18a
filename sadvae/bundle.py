"""Model bundles: one self-describing file with everything inference needs.

A bundle holds the backbone (config + weights), the SA-DVAE (config + weights), the seen/unseen gate,
the class names and which of them the backbone was trained on, the text encoder and prompt template,
the preprocessing parameters, the metrics and where it came from. It is a ``torch.save`` of plain
dicts, lists, numbers, strings and tensors, and is read with ``torch.load(weights_only=True)``: no
pickle of arbitrary objects ever runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from sadvae.data.preprocess import PreprocessConfig
from sadvae.errors import CheckpointError
from sadvae.evaluate import Gate
from sadvae.text import TextConfig

__all__ = ["BUNDLE_FORMAT", "Bundle", "save_bundle", "load_bundle"]

BUNDLE_FORMAT = 1


@dataclass
class Bundle:
    """A loaded model bundle (models in eval mode on the CPU)."""

    backbone: object  # sadvae.models.stgcn.STGCN
    sadvae: object  # sadvae.models.sadvae.SADVAE
    gate: Gate
    class_names: tuple[str, ...]
    seen_classes: tuple[int, ...]
    unseen_classes: tuple[int, ...]
    encoder_id: str
    text_cfg: TextConfig
    preprocess: PreprocessConfig
    metrics: dict
    provenance: dict

    @property
    def seen_names(self) -> tuple[str, ...]:
        """Names of the backbone head's columns, in order."""
        return tuple(self.class_names[c] for c in self.seen_classes)


def save_bundle(
    path: str | Path,
    *,
    backbone,
    sadvae,
    gate: Gate,
    class_names: tuple[str, ...],
    seen_classes: tuple[int, ...],
    unseen_classes: tuple[int, ...],
    encoder_id: str,
    text_cfg: TextConfig,
    preprocess: PreprocessConfig,
    metrics: dict,
    provenance: dict,
) -> Path:
    """Write a bundle atomically (temporary file, then rename)."""
    import torch

    path = Path(path)
    payload = {
        "format_version": BUNDLE_FORMAT,
        "joint_layout": "ntu25",
        "backbone": {"cfg": asdict(backbone.cfg), "state_dict": backbone.state_dict()},
        "sadvae": {"cfg": asdict(sadvae.cfg), "state_dict": sadvae.state_dict()},
        "gate": gate.to_dict(),
        "class_names": list(class_names),
        "seen_classes": [int(c) for c in seen_classes],
        "unseen_classes": [int(c) for c in unseen_classes],
        "encoder_id": encoder_id,
        "text": asdict(text_cfg),
        "preprocess": asdict(preprocess),
        "metrics": metrics,
        "provenance": provenance,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(payload, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_bundle(path: str | Path, device: str = "cpu") -> Bundle:
    """Read a bundle written by :func:`save_bundle`.

    Raises:
        CheckpointError: missing, corrupt, from another format version, or inconsistent.
    """
    import pickle

    import torch

    from sadvae.models.sadvae import SADVAE, SADVAEConfig
    from sadvae.models.stgcn import STGCN, STGCNConfig

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: model bundle not found; train one with `sadvae train zsl --out {path}`")
    try:
        d = torch.load(path, map_location=device, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a readable model bundle ({first}); re-create or re-download it") from None
    if not isinstance(d, dict) or "format_version" not in d:
        raise CheckpointError(f"{path}: not a sadvae model bundle (no format_version)")
    if d["format_version"] != BUNDLE_FORMAT:
        raise CheckpointError(
            f"{path}: bundle format {d['format_version']}, this sadvae reads format {BUNDLE_FORMAT}; "
            "re-export it with this version"
        )
    try:
        backbone = STGCN(STGCNConfig(**d["backbone"]["cfg"]))
        backbone.load_state_dict(d["backbone"]["state_dict"])
        sadvae = SADVAE(SADVAEConfig(**d["sadvae"]["cfg"]))
        sadvae.load_state_dict(d["sadvae"]["state_dict"])
        bundle = Bundle(
            backbone=backbone.to(device).eval(),
            sadvae=sadvae.to(device).eval(),
            gate=Gate.from_dict(d["gate"]),
            class_names=tuple(d["class_names"]),
            seen_classes=tuple(d["seen_classes"]),
            unseen_classes=tuple(d["unseen_classes"]),
            encoder_id=str(d["encoder_id"]),
            text_cfg=TextConfig(**d["text"]),
            preprocess=PreprocessConfig(**d["preprocess"]),
            metrics=dict(d["metrics"]),
            provenance=dict(d["provenance"]),
        )
    except (KeyError, TypeError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"{path}: inconsistent model bundle ({type(e).__name__}: {e}); re-create it") from None
    if backbone.cfg.num_classes != len(bundle.seen_classes):
        raise CheckpointError(
            f"{path}: backbone head has {backbone.cfg.num_classes} classes but the bundle lists "
            f"{len(bundle.seen_classes)} seen classes; re-create it"
        )
    return bundle
