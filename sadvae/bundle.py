"""Model bundles: one self-describing file with everything inference needs.

A bundle holds the backbone (config + weights), the SA-DVAE (config + weights), the seen/unseen gate,
the class names and which of them the backbone was trained on, the text encoder and prompt template,
the preprocessing parameters, the metrics and where it came from. It is a ``torch.save`` of plain
dicts, lists, numbers, strings and tensors, and is read with ``torch.load(weights_only=True)``: no
pickle of arbitrary objects ever runs.

:class:`BundleInfo` is what the live side needs of a bundle without torch (class names, gate,
preprocessing, text encoder, latent width, model id): built from an export's metadata
(:meth:`BundleInfo.from_metadata`, the keys ``sadvae.export.bundle_metadata`` writes) or from a
loaded bundle; :meth:`BundleInfo.load` reads the full bundle (torch) only when something needs its
weights, i.e. a head fit for new labels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sadvae.data.preprocess import PreprocessConfig
from sadvae.errors import CheckpointError, ConfigError, MissingDependencyError
from sadvae.evaluate import Gate
from sadvae.text import TextConfig

__all__ = ["BUNDLE_FORMAT", "Bundle", "BundleInfo", "save_bundle", "load_bundle"]

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


@dataclass(frozen=True, eq=False)
class BundleInfo:
    """A bundle's facts for the live side, without torch (see the module docstring).

    Attributes:
        class_names: every class name; seen_classes / unseen_classes index it (seen in logit order).
        gate: the seen/unseen gate; preprocess: the window's preprocessing.
        encoder_id: the sentence encoder the text VAE was trained with; text_cfg: its model and template.
        semantic_dim: d_r, the latent width the backend outputs.
        model_id: sha256 of the bundle file (events and head caches name the model by it).
        path: the bundle ``.pt``, or None when only an export is at hand (then :meth:`load` refuses).
    """

    class_names: tuple[str, ...]
    seen_classes: tuple[int, ...]
    unseen_classes: tuple[int, ...]
    gate: Gate
    preprocess: PreprocessConfig
    encoder_id: str
    text_cfg: TextConfig
    semantic_dim: int
    model_id: str
    path: Path | None = None
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def seen_names(self) -> tuple[str, ...]:
        """Names of the backbone head's columns, in order."""
        return tuple(self.class_names[c] for c in self.seen_classes)

    @classmethod
    def from_bundle(cls, bundle: Bundle, model_id: str, path: str | Path | None = None) -> BundleInfo:
        """The facts of a loaded bundle (kept, so :meth:`load` returns it without reading again)."""
        info = cls(
            bundle.class_names, tuple(bundle.seen_classes), tuple(bundle.unseen_classes), bundle.gate,
            bundle.preprocess, bundle.encoder_id, bundle.text_cfg, int(bundle.sadvae.cfg.semantic_dim), model_id,
            Path(path) if path is not None else None,
        )  # fmt: skip
        info._loaded["bundle"] = bundle
        return info

    @classmethod
    def from_metadata(cls, meta: Mapping[str, object], source: object, path: str | Path | None = None) -> BundleInfo:
        """The facts an export's metadata carries (``sadvae.export.bundle_metadata`` keys, decoded).

        Args:
            meta: the decoded metadata (``Backend.metadata``, ``sadvae.engine.probe.onnx_metadata``).
            source: the file the metadata came from, for messages.
            path: the bundle ``.pt`` it was exported from, if at hand.

        Raises:
            CheckpointError: a key is missing or malformed (an export from an older or foreign tool).
        """
        keys = ("model_id", "seen_classes", "unseen_classes", "gate", "preprocess", "encoder_id", "text_model",
                "text_template", "latent_dim")  # fmt: skip
        if missing := [k for k in keys if k not in meta]:
            raise CheckpointError(f"{source}: the export's metadata lacks {', '.join(missing)}")
        try:
            seen, unseen = [str(n) for n in meta["seen_classes"]], [str(n) for n in meta["unseen_classes"]]
            gate = dict(meta["gate"])
            if gate.get("val_accuracy") is None:  # NaN is written as null
                gate["val_accuracy"] = math.nan
            return cls(
                tuple(seen + unseen), tuple(range(len(seen))), tuple(range(len(seen), len(seen) + len(unseen))),
                Gate.from_dict(gate), PreprocessConfig(**meta["preprocess"]), str(meta["encoder_id"]),
                TextConfig(model=str(meta["text_model"]), template=str(meta["text_template"])),
                int(meta["latent_dim"]), str(meta["model_id"]), Path(path) if path is not None else None,
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{source}: malformed export metadata ({type(e).__name__}: {e})") from None

    def load(self) -> Bundle:
        """The full bundle (read once, on first use; needs torch).

        Raises:
            CheckpointError: no bundle file (:attr:`path` is None) or an unreadable one.
            MissingDependencyError: torch is not installed.
        """
        if "bundle" not in self._loaded:
            if self.path is None:
                raise CheckpointError(f"model {self.model_id[:12]}...: its bundle .pt is not at hand")
            try:
                import torch  # noqa: F401
            except ImportError:
                raise MissingDependencyError("torch", "train") from None
            self._loaded["bundle"] = load_bundle(self.path)
        return self._loaded["bundle"]


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


def _load_failure(e: Exception) -> str:
    """One line on why ``torch.load(weights_only=True)`` refused a file."""
    import pickle

    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    if isinstance(e, pickle.UnpicklingError) and lines and lines[0].startswith("Weights only load failed"):
        refused = next((ln for ln in lines if "GLOBAL" in ln), None)
        if refused:  # the pickle names a callable: a hostile or foreign file, never run
            return (
                f"refused to load: the file asks to run Python code ({refused[:200]}), which a model bundle never "
                "does; use a bundle written by `sadvae train zsl` (never load this file with weights_only=False)"
            )
        lines = lines[1:]  # torch's advice to retry with weights_only=False is the wrong fix here
    detail = next((ln for ln in lines if "weights_only" not in ln), "") or "empty or truncated file"
    return f"not a readable model bundle ({type(e).__name__}: {detail[:200]}); re-create or re-download it"


def load_bundle(path: str | Path, device: str = "cpu") -> Bundle:
    """Read a bundle written by :func:`save_bundle`.

    Raises:
        CheckpointError: missing, corrupt, from another format version, or inconsistent.
    """
    import torch

    from sadvae.models.sadvae import SADVAE, SADVAEConfig
    from sadvae.models.stgcn import STGCN, STGCNConfig

    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder; pass the model bundle's .pt file")
    if not path.is_file():
        raise CheckpointError(f"{path}: model bundle not found; train one with `sadvae train zsl --out {path}`")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: CUDA is not available on this machine (torch {torch.__version__}); "
                          "use --device cpu")  # fmt: skip
    try:
        d = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a corrupt file fails torch.load in many ways; the file is what is wrong
        raise CheckpointError(f"{path}: {_load_failure(e)}") from None
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
    except (KeyError, TypeError, RuntimeError, ValueError, AttributeError) as e:
        detail = f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"  # state-dict errors span several lines
        raise CheckpointError(f"{path}: inconsistent model bundle ({detail}); re-create it") from None
    if backbone.cfg.num_classes != len(bundle.seen_classes):
        raise CheckpointError(
            f"{path}: backbone head has {backbone.cfg.num_classes} classes but the bundle lists "
            f"{len(bundle.seen_classes)} seen classes; re-create it"
        )
    return bundle
