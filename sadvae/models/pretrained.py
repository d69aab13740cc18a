"""Released pretrained backbones: the Shift-GCN NTU RGB+D checkpoints and the NTU class names.

The four Shift-GCN joint-stream checkpoints (kchengiva/Shift-GCN, ``save_models/``) lie in
``../shared/models/shiftgcn/`` beside the project with a ``SHA256SUMS``; they are CC BY-NC 4.0
(non-commercial; anything derived from them inherits it) and are never copied into this project.
Logit k of a checkpoint is NTU action A(k+1); :func:`ntu_class_names` gives the names.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

from sadvae.errors import CheckpointError, ConfigError, DataFormatError
from sadvae.paths import SHARED_MODELS, shared_data_root

__all__ = [
    "SHIFTGCN_CHECKPOINTS",
    "SHIFTGCN_SOURCE",
    "shared_models_dir",
    "shiftgcn_weights_path",
    "load_pretrained_shiftgcn",
    "split_checkpoints",
    "checkpoint_parts",
    "load_pretrained_backbone",
    "ntu_class_names",
]

log = logging.getLogger(__name__)

# short name -> (file, classes)
SHIFTGCN_CHECKPOINTS: dict[str, tuple[str, int]] = {
    "ntu120_xsub": ("ntu120_ShiftGCN_joint_xsub.pt", 120),
    "ntu120_xsetup": ("ntu120_ShiftGCN_joint_xsetup.pt", 120),
    "ntu60_xsub": ("ntu_ShiftGCN_joint_xsub.pt", 60),
    "ntu60_xview": ("ntu_ShiftGCN_joint_xview.pt", 60),
}
SHIFTGCN_SOURCE = (
    "the released Shift-GCN joint-stream weights (GitHub kchengiva/Shift-GCN, commit 20276b64, folder save_models/; "
    "CC BY-NC 4.0), expected in ../shared/models/shiftgcn/ beside the project (see its MANIFEST.md)"
)
_MAX_NAMES_BYTES = 1 << 20


def shared_models_dir() -> Path:
    """``../shared/models`` beside the project (:data:`sadvae.paths.SHARED_MODELS`)."""
    return SHARED_MODELS


def _shared_labels_dir() -> Path:
    return shared_data_root() / "labels"


def shiftgcn_weights_path(path_or_name: str | Path) -> Path:
    """A checkpoint path: a short name (``SHIFTGCN_CHECKPOINTS``: "ntu120_xsub", ...) or a file path.

    Raises:
        ConfigError: neither an existing path nor a known short name.
    """
    key = str(path_or_name)
    if key in SHIFTGCN_CHECKPOINTS:
        return shared_models_dir() / "shiftgcn" / SHIFTGCN_CHECKPOINTS[key][0]
    p = Path(path_or_name)
    if p.suffix == "" and not p.exists() and "/" not in key and "\\" not in key:
        raise ConfigError(
            f"unknown Shift-GCN checkpoint {key!r}; give a .pt path or one of {sorted(SHIFTGCN_CHECKPOINTS)}"
        )
    return p


def resolve_shiftgcn_weights(path_or_name: str | Path) -> Path:
    """:func:`shiftgcn_weights_path`, a relative path tried from the working folder, then from the project root."""
    from sadvae.paths import PROJECT_ROOT

    p = shiftgcn_weights_path(path_or_name)
    if not p.is_absolute() and not p.exists() and (PROJECT_ROOT / p).exists():
        p = PROJECT_ROOT / p
    return p.resolve()


def _expected_sha256(path: Path) -> str | None:
    sums = path.parent / "SHA256SUMS"
    if not sums.is_file():
        return None
    try:
        text = sums.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataFormatError(sums, None, f"cannot read the checksum list ({e})") from None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == path.name:
            return parts[0].lower()
    return None


def _load_failure(path: Path, e: Exception) -> str:
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    if isinstance(e, pickle.UnpicklingError) and any("GLOBAL" in ln for ln in lines):
        refused = next(ln for ln in lines if "GLOBAL" in ln)
        return (
            f"{path}: refused to load: the file asks to run Python code ({refused[:160]}); a Shift-GCN checkpoint "
            "is a plain state dict (never load it with weights_only=False)"
        )
    detail = next((ln for ln in lines if "weights_only" not in ln), "") or "empty or truncated file"
    return f"{path}: not a readable Shift-GCN checkpoint ({type(e).__name__}: {detail[:200]})"


def load_pretrained_shiftgcn(
    path_or_name: str | Path = "ntu120_xsub",
    device: str = "cpu",
    *,
    verify: bool = True,
    cache_empty_slot: bool = False,
):
    """Build a :class:`~sadvae.models.shiftgcn.ShiftGCN` and load a released checkpoint strictly.

    ``torch.load(weights_only=True)`` (no pickled code ever runs), a ``module.`` prefix is stripped, the
    number of classes comes from ``fc.weight``, the spatial shift tables are checked against their
    formulas, and the file's sha256 is checked against ``SHA256SUMS`` beside it when that lists it.

    Args:
        path_or_name: a ``.pt`` path or a short name ("ntu120_xsub", "ntu120_xsetup", "ntu60_xsub",
            "ntu60_xview", resolved under ``../shared/models/shiftgcn``).
        device: where the model goes.
        verify: check the sha256 against ``SHA256SUMS`` (when present and listing the file).
        cache_empty_slot: see :attr:`ShiftGCNConfig.cache_empty_slot` (exact; faster for one person).

    Returns:
        the model in eval mode.

    Raises:
        CheckpointError: the file is missing (the message says where the weights come from), is not a
            readable checkpoint, fails its checksum, or does not fit the architecture (one line).
        ConfigError: an unknown short name.
    """
    import torch

    from sadvae.hashing import file_sha256
    from sadvae.models.shiftgcn import ShiftGCN, ShiftGCNConfig

    path = shiftgcn_weights_path(path_or_name)
    if path.is_dir():
        raise CheckpointError(
            f"{path}: is a folder; pass a Shift-GCN .pt file or one of {sorted(SHIFTGCN_CHECKPOINTS)}"
        )
    if not path.is_file():
        raise CheckpointError(f"{path}: Shift-GCN checkpoint not found; it comes from {SHIFTGCN_SOURCE}")
    if verify and (want := _expected_sha256(path)) is not None:
        got = file_sha256(path)
        if got != want:
            sums = path.parent / "SHA256SUMS"
            raise CheckpointError(
                f"{path}: sha256 {got[:16]}... does not match {want[:16]}... in {sums}; "
                "the file is damaged or replaced, fetch it again"
            )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a corrupt file fails torch.load in many ways; the file is what is wrong
        raise CheckpointError(_load_failure(path, e)) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a Shift-GCN checkpoint (expected a state dict of tensors)")
    state = {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}
    fc = state.get("fc.weight")
    if fc is None or fc.dim() != 2:
        raise CheckpointError(f"{path}: not a Shift-GCN checkpoint (no 2-d fc.weight)")
    persons = int(state["data_bn.weight"].numel()) // 75 if "data_bn.weight" in state else 2
    model = ShiftGCN(
        ShiftGCNConfig(num_classes=int(fc.shape[0]), num_persons=max(1, persons), cache_empty_slot=cache_empty_slot)
    )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        detail = " ".join(str(e).split())
        raise CheckpointError(
            f"{path}: does not fit the Shift-GCN joint-stream architecture ({detail[:300]})"
        ) from None
    model.check_shift_tables(path)
    log.debug("loaded Shift-GCN %s (%d classes)", path, model.cfg.num_classes)
    return model.to(device).eval()


def split_checkpoints(weights: str | Path) -> list[str]:
    """The names or paths in ``weights``: one checkpoint, or several joined by ``+`` (an ensemble, e.g.
    ``"ntu120_xsub+ntu120_xsetup"``).

    Raises:
        ConfigError: an empty name (``"a+"``, ``"a++b"``).
    """
    parts = [w.strip() for w in str(weights).split("+")]
    if any(not w for w in parts):
        raise ConfigError(
            f"Shift-GCN weights {str(weights)!r}: an empty name between '+'; e.g. ntu120_xsub+ntu120_xsetup"
        )
    return parts


def checkpoint_parts(weights: str | Path) -> list[Path]:
    """The checkpoint paths of ``weights`` (:func:`split_checkpoints`), each resolved by
    :func:`resolve_shiftgcn_weights`."""
    return [resolve_shiftgcn_weights(w) for w in split_checkpoints(weights)]


def load_pretrained_backbone(weights: str | Path, device: str = "cpu", *, cache_empty_slot: bool = False):
    """A released Shift-GCN (:func:`load_pretrained_shiftgcn`), or for ``"a+b"`` the
    :class:`~sadvae.models.shiftgcn_ensemble.ShiftGCNEnsemble` of those checkpoints, in eval mode."""
    from sadvae.models.shiftgcn_ensemble import ShiftGCNEnsemble

    paths = checkpoint_parts(weights)
    nets = [load_pretrained_shiftgcn(p, device, cache_empty_slot=cache_empty_slot) for p in paths]
    return nets[0] if len(nets) == 1 else ShiftGCNEnsemble.from_members(nets).to(device).eval()


def ntu_class_names(num_classes: int = 120, path: str | Path | None = None) -> tuple[str, ...]:
    """NTU RGB+D action names by 0-based label (logit k = action A(k+1)); the first 60 are NTU-60's.

    Args:
        num_classes: 60 or 120.
        path: ``id<TAB>name.`` rows (default ``../shared/data/labels/ntu-official/ntu120_classes_from_README.tsv``)
            or one name per line (mmaction2 ``label_map_ntu*.txt``). A trailing full stop is dropped.

    Raises:
        ConfigError: ``num_classes`` is not 60 or 120.
        DataFormatError: the file is missing, unreadable, malformed or lists too few names.
    """
    if num_classes not in (60, 120):
        raise ConfigError(f"NTU has 60 or 120 classes, got num_classes={num_classes}")
    p = Path(path) if path is not None else _shared_labels_dir() / "ntu-official" / "ntu120_classes_from_README.tsv"
    if not p.is_file():
        raise DataFormatError(
            p,
            None,
            "NTU class names not found (expected ../shared/data/labels/ntu-official/"
            "ntu120_classes_from_README.tsv beside the project)",
        )
    if p.stat().st_size > _MAX_NAMES_BYTES:
        raise DataFormatError(p, None, f"larger than {_MAX_NAMES_BYTES} bytes; not a class-name list")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataFormatError(p, None, f"cannot read the class names ({e})") from None
    names: list[str] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if "\t" in line:
            idx, _, name = line.partition("\t")
            if not idx.strip().isdigit() or int(idx) != len(names) + 1:
                raise DataFormatError(
                    p, f"line {n}", f"expected 'id<TAB>name' with id {len(names) + 1}, found {line[:60]!r}"
                )
        else:
            name = line
        name = name.strip().rstrip(".").strip()
        if not name:
            raise DataFormatError(p, f"line {n}", "expected a class name, found nothing")
        names.append(name)
    if len(names) < num_classes:
        raise DataFormatError(p, None, f"expected at least {num_classes} class names, found {len(names)}")
    return tuple(names[:num_classes])
