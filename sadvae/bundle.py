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

A bundle may also hold (all optional; a bundle without them loads exactly as before):

- an extra linear head on the backbone's features (``"extra_head"``): the seen classes are then the
  backbone head's columns followed by the extra head's (:class:`sadvae.models.extra_head.ExtraHeadBackbone`,
  which :func:`load_bundle` rebuilds and :func:`save_bundle` takes apart);
- ``"terms"``: the licence and terms the model inherits (e.g. CC BY-NC 4.0 from NTU-pretrained
  weights), plain strings; exports carry them in their metadata;
- ``"live"``: how the live pipeline runs the model by default (:class:`LiveConfig`: the stride between
  windows, the person slots of the live window).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sadvae.data.preprocess import PreprocessConfig
from sadvae.errors import CheckpointError, ConfigError, MissingDependencyError
from sadvae.evaluate import Gate
from sadvae.fileio import atomic_path
from sadvae.text import TextConfig

__all__ = [
    "BUNDLE_FORMAT",
    "Bundle",
    "BundleInfo",
    "LiveConfig",
    "save_bundle",
    "resave_bundle",
    "load_bundle",
    "check_bundle_file",
]

BUNDLE_FORMAT = 1
JOINT_LAYOUT = "ntu25"  # the only joint layout the backbones, preprocessing and live pipeline read

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveConfig:
    """How the live pipeline runs a bundle by default (torch-free; stored as the bundle's ``"live"`` dict).

    Attributes:
        stride: frames at the model's rate (``preprocess.fps``) between two windows of a track; the
            pipeline converts it to source frames. None: the pipeline's default (8 source frames).
        persons: person slots of the live window; None: ``preprocess.persons``. 1 on a two-slot
            Shift-GCN runs its one-person graph (the empty slot's feature is a constant: exact for one
            person in the window, half the cost; a second person is not seen).
    """

    stride: int | None = None
    persons: int | None = None

    def __post_init__(self) -> None:
        for name in ("stride", "persons"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ConfigError(f"LiveConfig.{name} must be an integer >= 1 or None, got {v!r}")

    @classmethod
    def from_dict(cls, d: Mapping[str, object] | None, source: object = "bundle") -> LiveConfig:
        """From a bundle's or an export's ``live`` dict (None or empty: the defaults).

        Raises:
            CheckpointError: not a mapping of the fields above.
        """
        if not d:
            return cls()
        try:
            return cls(**dict(d))
        except (TypeError, ConfigError) as e:
            raise CheckpointError(f"{source}: malformed live config {dict(d)!r} ({e})") from None

    def to_dict(self) -> dict[str, int]:
        """The fields that are set (an empty dict for the defaults)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def apply(self, preprocess: PreprocessConfig) -> PreprocessConfig:
        """The live window's preprocessing: ``preprocess`` with ``persons`` when set."""
        if self.persons is None or self.persons == preprocess.persons:
            return preprocess
        from dataclasses import replace

        return replace(preprocess, persons=self.persons)


@dataclass
class Bundle:
    """A loaded model bundle (models in eval mode on the CPU)."""

    backbone: object  # a sadvae.models.BACKBONES model (STGCN, ShiftGCN)
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
    terms: dict = field(default_factory=dict)  # licence and terms, plain strings ({} when none recorded)
    live: LiveConfig = field(default_factory=LiveConfig)
    # the SA-DVAE latent classifier over ``unseen_classes`` that training chose and measured with
    # (sadvae.models.sadvae.LatentClassifier), so that `sadvae eval` scores with it; None in bundles without one
    latent_classifier: object | None = None

    @property
    def seen_names(self) -> tuple[str, ...]:
        """Names of the backbone head's columns, in order."""
        return tuple(self.class_names[c] for c in self.seen_classes)

    @property
    def live_preprocess(self) -> PreprocessConfig:
        """The live window's preprocessing (``preprocess`` with the live person slots)."""
        return self.live.apply(self.preprocess)

    @property
    def column_aliases(self) -> tuple[tuple[str, ...], ...]:
        """Per trained column, the datasets' own names of the classes merged into it (the recipe's class table,
        ``provenance["class_table"]``: NW-UCLA "donning" in "put on clothes", MSR "jogging" in NTU "running on the
        spot"), so that a label naming one reaches that column. Only the datasets the bundle trained on
        (``provenance["datasets"]``) lend names: a model trained without NW-UCLA must not read "donning" as a column
        it never learnt. () when the bundle records no table or no datasets, or the table's columns are not the
        trained names (another recipe)."""
        prov = self.provenance if isinstance(self.provenance, dict) else {}
        table, trained = prov.get("class_table"), prov.get("datasets")
        columns = table.get("columns") if isinstance(table, dict) else None
        if not isinstance(trained, dict) or not isinstance(columns, list):
            return ()
        if [c.get("name") if isinstance(c, dict) else None for c in columns] != list(self.seen_names):
            return ()
        aliases = tuple(
            tuple(
                dict.fromkeys(
                    str(name) for dataset, name in c.get("members", ()) if dataset in trained and name != c["name"]
                )
            )
            for c in columns
        )
        return aliases if any(aliases) else ()


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
        terms: the licence and terms the model inherits ({} when none are recorded).
        live: the live defaults (:class:`LiveConfig`); ``preprocess`` already has its person slots.
        aliases: per trained column, other names of the same action (:attr:`Bundle.column_aliases`); () when none.
        export_path: the export (or plan) the facts were read from, None when read from the bundle itself.
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
    terms: Mapping[str, str] = field(default_factory=dict)
    live: LiveConfig = field(default_factory=LiveConfig)
    aliases: tuple[tuple[str, ...], ...] = ()
    export_path: Path | None = None
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def seen_names(self) -> tuple[str, ...]:
        """Names of the backbone head's columns, in order."""
        return tuple(self.class_names[c] for c in self.seen_classes)

    @classmethod
    def from_bundle(cls, bundle: Bundle, model_id: str, path: str | Path | None = None) -> BundleInfo:
        """The facts of a loaded bundle (kept, so :meth:`load` returns it without reading again)."""
        info = cls(
            class_names=bundle.class_names,
            seen_classes=tuple(bundle.seen_classes),
            unseen_classes=tuple(bundle.unseen_classes),
            gate=bundle.gate,
            preprocess=bundle.live_preprocess,
            encoder_id=bundle.encoder_id,
            text_cfg=bundle.text_cfg,
            semantic_dim=int(bundle.sadvae.cfg.semantic_dim),
            model_id=model_id,
            path=Path(path) if path is not None else None,
            terms=dict(bundle.terms),
            live=bundle.live,
            aliases=bundle.column_aliases,
        )
        info._loaded["bundle"] = bundle
        return info

    @classmethod
    def from_metadata(cls, meta: Mapping[str, object], source: object, path: str | Path | None = None) -> BundleInfo:
        """The facts an export's metadata carries (``sadvae.export.bundle_metadata`` keys, decoded).

        Args:
            meta: the decoded metadata (``Backend.metadata``, ``sadvae.onnx_metadata.read_onnx_metadata``).
            source: the file the metadata came from, for messages.
            path: the bundle ``.pt`` it was exported from, if at hand.

        Raises:
            CheckpointError: a key is missing or malformed (an export from an older or foreign tool).
        """
        keys = (
            "model_id",
            "seen_classes",
            "unseen_classes",
            "gate",
            "preprocess",
            "encoder_id",
            "text_model",
            "text_template",
            "latent_dim",
        )
        if missing := [k for k in keys if k not in meta]:
            raise CheckpointError(f"{source}: the export's metadata lacks {', '.join(missing)}")
        try:
            seen = [str(n) for n in meta["seen_classes"]]
            unseen = [str(n) for n in meta["unseen_classes"]]
            gate = dict(meta["gate"])
            if gate.get("val_accuracy") is None:  # NaN is written as null
                gate["val_accuracy"] = math.nan
            terms = {str(k): str(v) for k, v in dict(meta.get("terms") or {}).items()}  # absent in older exports
            aliases = tuple(tuple(str(a) for a in col) for col in meta.get("class_aliases") or ())  # ditto
            if aliases and len(aliases) != len(seen):
                raise ValueError(f"class_aliases has {len(aliases)} columns for {len(seen)} trained classes")
            return cls(
                class_names=tuple(seen + unseen),
                seen_classes=tuple(range(len(seen))),
                unseen_classes=tuple(range(len(seen), len(seen) + len(unseen))),
                gate=Gate.from_dict(gate),
                preprocess=PreprocessConfig(**meta["preprocess"]),
                encoder_id=str(meta["encoder_id"]),
                text_cfg=TextConfig(model=str(meta["text_model"]), template=str(meta["text_template"])),
                semantic_dim=int(meta["latent_dim"]),
                model_id=str(meta["model_id"]),
                path=Path(path) if path is not None else None,
                terms=terms,
                live=LiveConfig.from_dict(meta.get("live"), source),
                aliases=aliases,
                export_path=Path(source) if isinstance(source, str | Path) else None,
            )
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
    terms: Mapping[str, str] | None = None,
    live: LiveConfig | None = None,
    latent_classifier=None,
) -> Path:
    """Write a bundle atomically (temporary file, then rename).

    Args:
        backbone: a ``sadvae.models.BACKBONES`` model, or an
            :class:`sadvae.models.extra_head.ExtraHeadBackbone` around one (its seen columns: the
            backbone head's, then the extra head's; stored as the backbone plus ``"extra_head"``).
        seen_classes: indices into ``class_names``, one per seen-logit column, in column order.
        terms: the licence and terms the model inherits, e.g. ``{"license": "CC-BY-NC-4.0", "notice": ...}``
            (string values); exports carry them.
        live: the live pipeline's defaults (:class:`LiveConfig`).
        latent_classifier: the :class:`sadvae.models.sadvae.LatentClassifier` over ``unseen_classes`` (in that
            order) that training measured with; stored so that ``sadvae eval`` scores with it instead of a refit.
        (the other arguments: the fields of :class:`Bundle`.)

    Raises:
        ConfigError: the seen classes do not match the backbone's columns, or ``terms`` is not strings.
    """
    import torch

    from sadvae.models import ONE_PERSON_ARCHS
    from sadvae.models.extra_head import ExtraHeadBackbone

    path = Path(path)
    extra = None
    if isinstance(backbone, ExtraHeadBackbone):
        extra, backbone = backbone.extra, backbone.backbone
    if not hasattr(backbone, "state_dict") or not hasattr(getattr(backbone, "cfg", None), "num_classes"):
        raise ConfigError(
            f"save_bundle: the backbone must be a sadvae.models.BACKBONES model, got {type(backbone).__name__}"
        )
    columns = int(backbone.cfg.num_classes) + (extra.out_features if extra is not None else 0)
    if columns != len(seen_classes):
        raise ConfigError(
            f"save_bundle: the backbone scores {columns} seen classes but {len(seen_classes)} seen "
            "classes are listed; list one class per logit column, in column order"
        )
    if live is not None and live.persons not in (None, preprocess.persons):
        if not (live.persons == 1 and getattr(backbone.cfg, "arch", "stgcn") in ONE_PERSON_ARCHS):
            raise ConfigError(
                f"save_bundle: live persons={live.persons} differs from the model's {preprocess.persons} "
                "person slots; only a Shift-GCN has a one-person graph (live persons=1)"
            )
    terms = dict(terms or {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in terms.items()):
        raise ConfigError("save_bundle: terms must map strings to strings, e.g. {'license': 'CC-BY-NC-4.0'}")
    payload = {
        "format_version": BUNDLE_FORMAT,
        "joint_layout": JOINT_LAYOUT,
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
    if extra is not None:
        payload["extra_head"] = {
            "in_features": extra.in_features,
            "out_features": extra.out_features,
            "state_dict": extra.state_dict(),
        }
    if terms:
        payload["terms"] = terms
    if live is not None and live.to_dict():
        payload["live"] = live.to_dict()
    if latent_classifier is not None:
        fc = latent_classifier.fc
        if fc.out_features != len(unseen_classes):
            raise ConfigError(
                f"save_bundle: the latent classifier scores {fc.out_features} classes but {len(unseen_classes)} "
                "unseen classes are listed; fit it on the unseen classes' texts, in their order"
            )
        payload["latent_classifier"] = {
            "semantic_dim": fc.in_features,
            "num_classes": fc.out_features,
            "relu_logits": bool(latent_classifier.relu_logits),
            "state_dict": latent_classifier.state_dict(),
        }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's archive (since torch 1.6)
_PICKLE_PROTO = 0x80  # the legacy torch.save format: a pickle, protocol 2 or newer


def resave_bundle(path: str | Path, bundle: Bundle, **changes) -> Path:
    """Write a loaded :class:`Bundle` to ``path``, with ``changes`` (keyword arguments of :func:`save_bundle`)
    replacing its fields, e.g. another backbone or provenance."""
    fields = {
        "backbone": bundle.backbone,
        "sadvae": bundle.sadvae,
        "gate": bundle.gate,
        "class_names": bundle.class_names,
        "seen_classes": bundle.seen_classes,
        "unseen_classes": bundle.unseen_classes,
        "encoder_id": bundle.encoder_id,
        "text_cfg": bundle.text_cfg,
        "preprocess": bundle.preprocess,
        "metrics": bundle.metrics,
        "provenance": bundle.provenance,
        "terms": bundle.terms,
        "live": bundle.live,
        "latent_classifier": bundle.latent_classifier,
    }
    unknown = set(changes) - set(fields)
    if unknown:
        raise TypeError(f"resave_bundle: unknown fields {sorted(unknown)}")
    return save_bundle(path, **{**fields, **changes})


def check_bundle_file(path: Path) -> None:
    """Refuse, before ``torch.load``, a file that cannot be a bundle: an ONNX export, a text file, other bytes.

    ``torch.load`` of such a file fails with messages like "KeyError: 101" or "UnpicklingError: Unsupported
    operand 8"; this names what the file is and what to pass instead.
    """
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read the model bundle ({e.strerror or e})") from None
    if not head:
        raise CheckpointError(f"{path}: not a readable model bundle (empty file); re-create or re-download it")
    if head.startswith(_ZIP_MAGIC):
        _check_torch_zip(path)
        return
    if head[0] == _PICKLE_PROTO:
        return
    if path.suffix.lower() == ".onnx" or _looks_like_onnx(path):
        beside = path.with_suffix(".pt")
        hint = f"; {beside} beside it may be that bundle" if beside.is_file() and beside != path else ""
        raise CheckpointError(
            f"{path}: is an ONNX export, not a model bundle; pass the .pt bundle it was exported from "
            f"({path.name} is the export{hint})"
        )
    if _looks_like_text(head):
        first = (head.decode("utf-8", errors="replace").strip().splitlines() or [""])[0][:40]
        raise CheckpointError(
            f"{path}: not a sadvae model bundle: it is a text file"
            + (f" (it starts with {first!r})" if first else "")
            + "; pass the .pt file `sadvae train zsl` writes"
        )
    raise CheckpointError(
        f"{path}: not a readable model bundle (neither the zip archive nor the pickle torch.save writes; it starts "
        f"with {head[:8]!r}); re-create or re-download it"
    )


def _check_torch_zip(path: Path) -> None:
    """A zip archive is a bundle only as torch.save writes it (``<name>/data.pkl`` inside): a numpy ``.npz`` or a
    cut download was read as one until 7 December 2026, and failed deep inside torch after an export was announced."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise CheckpointError(
            f"{path}: not a readable model bundle (the zip archive is truncated or damaged: {e}); re-create or "
            "re-download it"
        ) from None
    if not any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        held = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        kind = (
            " (a numpy .npz: a recording goes to --replay)" if names and all(n.endswith(".npy") for n in names) else ""
        )
        raise CheckpointError(
            f"{path}: a zip archive that holds {held}{kind}, not a model bundle; pass the .pt file `sadvae train "
            "zsl` writes"
        )


def _looks_like_text(head: bytes) -> bool:
    """UTF-8 (or UTF-16 with a BOM) text without control characters other than tab, CR and LF."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    if b"\0" in head:
        return False
    for cut in range(4):  # the 4096-byte head may end inside a character
        try:
            text = head[: len(head) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    else:
        return False
    return all(c.isprintable() or c in "\t\r\n" for c in text)


def _looks_like_onnx(path: Path) -> bool:
    from sadvae.onnx_metadata import onnx_model_problem

    try:
        return onnx_model_problem(path.read_bytes()) is None
    except OSError:
        return False


def _all_tensors(d: dict) -> bool:
    import torch

    return bool(d) and all(isinstance(v, torch.Tensor) for v in d.values())


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
    if "failed finding central directory" in detail or "failed reading zip archive" in detail:
        detail = "the zip archive is truncated or damaged: its central directory is missing"
    return f"not a readable model bundle ({type(e).__name__}: {detail[:200]}); re-create or re-download it"


def load_bundle(path: str | Path, device: str = "cpu") -> Bundle:
    """Read a bundle written by :func:`save_bundle`.

    Raises:
        CheckpointError: missing, corrupt, from another format version, or inconsistent.
    """
    import torch

    from sadvae.models import build_backbone
    from sadvae.models.extra_head import ExtraHeadBackbone
    from sadvae.models.sadvae import SADVAE, LatentClassifier, SADVAEConfig

    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder; pass the model bundle's .pt file")
    if not path.is_file():
        raise CheckpointError(f"{path}: model bundle not found; train one with `sadvae train zsl --out {path}`")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"device {device!r}: CUDA is not available on this machine (torch {torch.__version__}); use --device cpu"
        )
    check_bundle_file(path)
    try:
        d = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a corrupt file fails torch.load in many ways; the file is what is wrong
        raise CheckpointError(f"{path}: {_load_failure(e)}") from None
    if not isinstance(d, dict):
        raise CheckpointError(
            f"{path}: not a sadvae model bundle (a torch file holding a {type(d).__name__}, not a bundle's dict); "
            "pass the .pt file `sadvae train zsl` writes"
        )
    if "model_cfg" in d and "backbone" not in d:  # sadvae.train.backbone.save_backbone's file (format_version 1 too)
        raise CheckpointError(
            f"{path}: is a backbone checkpoint from `sadvae train backbone`, not a model bundle; make a bundle "
            "(backbone, SA-DVAE and class names) with `sadvae train zsl`"
        )
    if "format_version" not in d:
        hint = " (a state dict or a training checkpoint?)" if "state_dict" in d or _all_tensors(d) else ""
        raise CheckpointError(
            f"{path}: not a sadvae model bundle (no format_version){hint}; pass the .pt file `sadvae train zsl` writes"
        )
    if d["format_version"] != BUNDLE_FORMAT:
        raise CheckpointError(
            f"{path}: bundle format {d['format_version']}, this sadvae reads format {BUNDLE_FORMAT}; "
            "re-export it with this version"
        )
    if (layout := d.get("joint_layout")) != JOINT_LAYOUT:  # another layout's joints would be read as NTU-25 ones
        raise CheckpointError(
            f"{path}: joint_layout {layout!r}, this sadvae reads {JOINT_LAYOUT!r} (NTU-25 joints) only; "
            "re-create the bundle with `sadvae train zsl`"
        )
    try:
        backbone = build_backbone(d["backbone"]["cfg"])  # ST-GCN, or the backbone its cfg["arch"] names
        backbone.load_state_dict(d["backbone"]["state_dict"])
        if "extra_head" in d:  # seen columns: the backbone head's, then the extra head's
            e = d["extra_head"]
            extra = torch.nn.Linear(int(e["in_features"]), int(e["out_features"]))
            extra.load_state_dict(e["state_dict"])
            backbone = ExtraHeadBackbone(backbone, extra)
        terms = dict(d.get("terms") or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in terms.items()):
            raise ValueError("terms must map strings to strings")
        sadvae = SADVAE(SADVAEConfig(**d["sadvae"]["cfg"]))
        sadvae.load_state_dict(d["sadvae"]["state_dict"])
        classifier = None
        if "latent_classifier" in d:
            c = d["latent_classifier"]
            classifier = LatentClassifier(int(c["semantic_dim"]), int(c["num_classes"]), bool(c["relu_logits"]))
            classifier.load_state_dict(c["state_dict"])
            if classifier.fc.out_features != len(d["unseen_classes"]):
                n = classifier.fc.out_features
                raise ValueError(f"the latent classifier scores {n} classes, not the {len(d['unseen_classes'])} unseen")
            classifier = classifier.to(device).eval()
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
            terms=terms,
            live=LiveConfig(**dict(d.get("live") or {})),
            latent_classifier=classifier,
        )
    except (KeyError, TypeError, RuntimeError, ValueError, AttributeError, ConfigError) as e:
        detail = f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"  # state-dict errors span several lines
        raise CheckpointError(f"{path}: inconsistent model bundle ({detail}); re-create it") from None
    if backbone.cfg.num_classes != len(bundle.seen_classes):
        raise CheckpointError(
            f"{path}: backbone head has {backbone.cfg.num_classes} classes but the bundle lists "
            f"{len(bundle.seen_classes)} seen classes; re-create it"
        )
    if problem := _class_index_problem(bundle):
        raise CheckpointError(f"{path}: inconsistent model bundle ({problem}); re-create it")
    if problem := _encoder_id_problem(bundle.encoder_id, bundle.text_cfg):
        log.warning("%s: %s", path, problem)
    return bundle


def _encoder_id_problem(encoder_id: str, text_cfg: TextConfig) -> str | None:
    """Why ``encoder_id`` (what the SA-DVAE was trained with) is not the encoder ``text_cfg`` names here, or None.

    Only what is cheap is compared, the encoder is never loaded: the id of a named encoder, and of a local encoder
    folder its name (not the hash of its weights, which reading them would take; a folder not here by its path's
    last part).
    """
    from sadvae.text import _BUNDLED_NAMES, TextEncoder

    enc = TextEncoder(text_cfg)  # resolves the folder only; loads nothing
    local = getattr(enc, "_local_dir", None)
    if local is not None or (encoder_id.startswith("local:") and text_cfg.model not in _BUNDLED_NAMES):
        name = local.name if local is not None else Path(text_cfg.model).expanduser().name
        expected, same = f"local:{name}:...", encoder_id.startswith(f"local:{name}:")
    else:
        expected = enc.encoder_id  # a name: no file is read
        same = encoder_id == expected
    if same:
        return None
    return (
        f"the SA-DVAE was trained with text encoder {encoder_id!r} but the bundle's text config (model "
        f"{text_cfg.model!r}) gives {expected!r}; label embeddings will come from another encoder"
    )


def _class_index_problem(bundle: Bundle) -> str | None:
    """What is wrong with the seen/unseen class indices into ``class_names``, or None when nothing is."""
    n = len(bundle.class_names)
    for name in ("seen_classes", "unseen_classes"):
        indices = getattr(bundle, name)
        if bad := [c for c in indices if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < n]:
            return f"{name} {bad[:5]} are not indices of the {n} class names"
        if dup := sorted({c for c in indices if indices.count(c) > 1}):
            return f"{name} lists {dup[:5]} more than once"
    if both := sorted(set(bundle.seen_classes) & set(bundle.unseen_classes)):
        return f"classes {[bundle.class_names[c] for c in both[:5]]} are both seen and unseen"
    return None
