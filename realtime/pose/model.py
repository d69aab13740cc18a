"""Find, fetch or build the MediaPipe PoseLandmarker model (a ``.task`` bundle) without the user hunting for it.

A Tasks ``.task`` file is a zip of ``pose_detector.tflite`` and ``pose_landmarks_detector.tflite``.
Current mediapipe wheels (1.x) ship no pose model, so :func:`resolve_pose_model` looks, in order:

1. ``path``: an explicit file (the CLI's ``--pose-model PATH``);
2. the user cache, ``$SADVAE_CACHE_DIR/pose`` or ``~/.cache/sadvae/pose``, file
   ``pose_landmarker_<variant>.task``;
3. the official lite / full / heavy bundle from :data:`OFFICIAL_URL` (short timeout; fails fast
   where there is no internet);
4. a build of the full model from mediapipe 0.10.21's wheel on PyPI (:func:`build_task_from_wheel`),
   for machines that reach only a package index, as CI does. The wheel holds the legacy
   ``pose_detection.tflite`` and ``pose_landmark_full.tflite``; the Tasks API accepts them once
   their input tensors carry TFLite normalisation metadata (detector: mean 127.5, std 127.5, i.e.
   [-1, 1]; landmark model: mean 0, std 255, i.e. [0, 1]), which :func:`add_input_normalization`
   writes with the flatbuffer classes mediapipe ships (mediapipe's own metadata writer does not
   import in 1.x: it needs an internal ``mediapipe.tasks.cc`` module the wheel lacks).

Downloads and builds are written to a temporary file in the cache folder, checked, then renamed,
so a failure never leaves a half-written model. Which step supplied the model is logged and
returned (:attr:`PoseModel.origin`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sadvae.errors import MissingDependencyError, SourceError
from sadvae.fileio import atomic_path, atomic_write

__all__ = [
    "VARIANTS",
    "OFFICIAL_URL",
    "LEGACY_MEDIAPIPE",
    "TASK_MEMBERS",
    "PoseModel",
    "pose_cache_dir",
    "resolve_pose_model",
    "check_task_file",
    "download_task",
    "build_task_from_wheel",
    "add_input_normalization",
    "verify_task",
]

log = logging.getLogger(__name__)

VARIANTS = ("lite", "full", "heavy")
OFFICIAL_URL = (
    "https://storage.googleapis.com/mediapipe-models/pose_landmarker/"
    "pose_landmarker_{variant}/float16/latest/pose_landmarker_{variant}.task"
)
TASK_MEMBERS = ("pose_detector.tflite", "pose_landmarks_detector.tflite")
LEGACY_MEDIAPIPE = "0.10.21"
# The .tflite files are the same in every platform's wheel; naming one platform and Python lets pip fetch
# it from any host (0.10.21 has no wheel for Python >= 3.13, for example).
_WHEEL_PLATFORM, _WHEEL_PYTHON = "manylinux_2_28_x86_64", "3.11"
# task member -> (file inside the 0.10.21 wheel, its sha256, input mean, input std)
_LEGACY: dict[str, tuple[str, str, float, float]] = {
    "pose_detector.tflite": (
        "mediapipe/modules/pose_detection/pose_detection.tflite",
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
        127.5,
        127.5,
    ),
    "pose_landmarks_detector.tflite": (
        "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
        0.0,
        255.0,
    ),
}


@dataclass(frozen=True)
class PoseModel:
    """A resolved pose model.

    Attributes:
        path: the ``.task`` file.
        variant: "lite", "full" or "heavy" ("custom" for an explicit path).
        origin: which step supplied it: "path", "cache", "download" or "wheel".
        note: where the file came from, for logs ("built from mediapipe 0.10.21 wheel", a URL, ...).
    """

    path: Path
    variant: str
    origin: str
    note: str = ""


def pose_cache_dir() -> Path:
    """``$SADVAE_CACHE_DIR/pose`` when the variable is set, else ``~/.cache/sadvae/pose``."""
    root = os.environ.get("SADVAE_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "sadvae") / "pose"


def _manual_fix(variant: str) -> str:
    url = OFFICIAL_URL.format(variant=variant)
    return f"download pose_landmarker_{variant}.task from {url} and pass --pose-model PATH"


def check_task_file(path: str | Path) -> None:
    """Check that ``path`` is a readable PoseLandmarker ``.task`` zip holding :data:`TASK_MEMBERS`.

    Raises:
        SourceError: missing file, a folder, not a zip, or members missing (the message names the fix).
    """
    p = Path(path)
    if p.is_dir():
        inside = sorted(q.name for q in p.glob("*.task"))
        hint = f" (this folder holds {', '.join(inside[:3])})" if inside else " (e.g. pose_landmarker_full.task)"
        why = f"pose model {p} is a folder, not a file"
        raise SourceError(f"{why}; pass --pose-model with the PoseLandmarker .task file itself{hint}")
    if not p.is_file():
        raise SourceError(f"pose model {p} not found; pass --pose-model with an existing .task file")
    try:
        with zipfile.ZipFile(p) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError) as e:
        why = f"pose model {p} is not a MediaPipe .task bundle (not a zip: {e})"
        raise SourceError(f"{why}; {_manual_fix('full')}") from None
    missing = [m for m in TASK_MEMBERS if m not in names]
    if missing:
        raise SourceError(
            f"pose model {p} lacks {', '.join(missing)} (found {sorted(names)[:4]}); it is not a PoseLandmarker "
            f"bundle; {_manual_fix('full')}"
        )


def _write_note(dest: Path, origin: str, note: str) -> None:
    digest = hashlib.sha256(dest.read_bytes()).hexdigest()
    info = {"origin": origin, "note": note, "sha256": digest}
    atomic_write(dest.with_name(dest.name + ".json"), json.dumps(info, indent=1).encode("utf-8"))


def _read_note(dest: Path) -> str:
    try:
        return str(json.loads(dest.with_name(dest.name + ".json").read_text())["note"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def _check_host(host: str, timeout_s: float) -> None:
    """Resolve ``host`` within ``timeout_s`` (socket timeouts do not cover DNS, which can hang offline)."""
    done: list[BaseException | None] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo(host, 443)
            done.append(None)
        except OSError as e:
            done.append(e)

    t = threading.Thread(target=lookup, name="sadvae-dns", daemon=True)
    t.start()
    t.join(timeout_s)
    if not done:
        raise SourceError(f"could not resolve {host} within {timeout_s:g} s (no internet?)")
    if done[0] is not None:
        raise SourceError(f"could not resolve {host}: {done[0]} (no internet?)")


def download_task(variant: str, dest: str | Path, timeout_s: float = 5.0) -> Path:
    """Download the official ``pose_landmarker_<variant>.task`` to ``dest`` (atomically).

    Raises:
        SourceError: no network, HTTP error, timeout, or the file is not a pose ``.task``.
    """
    url = OFFICIAL_URL.format(variant=variant)
    dest = Path(dest)
    _check_host(urllib.parse.urlsplit(url).hostname or "", timeout_s)

    def fetch(tmp: Path) -> None:
        with urllib.request.urlopen(url, timeout=timeout_s) as r, tmp.open("wb") as f:  # noqa: S310 (fixed https URL)
            while chunk := r.read(1 << 20):
                f.write(chunk)
        check_task_file(tmp)

    try:
        with atomic_path(dest) as tmp:
            fetch(tmp)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        reason = getattr(e, "reason", e)
        raise SourceError(f"could not download {url}: {reason}") from None
    return dest


def add_input_normalization(tflite: bytes, name: str, mean: float, std: float) -> bytes:
    """Return a TFLite model with image-input metadata: RGB, normalised as ``(pixel - mean) / std``.

    Any existing ``TFLITE_METADATA`` entry is replaced; every other part of the model is kept.

    Args:
        tflite: the ``.tflite`` flatbuffer (identifier ``TFL3``).
        name: model name written into the metadata.
        mean: per-channel mean subtracted from pixels in [0, 255].
        std: per-channel divisor.

    Raises:
        MissingDependencyError: mediapipe (which ships the flatbuffer schema classes) or flatbuffers is missing.
    """
    try:
        import flatbuffers
        import numpy as np
        from mediapipe.tasks.metadata import metadata_schema_py_generated as md_fb
        from mediapipe.tasks.metadata import schema_py_generated as tfl_fb
    except ImportError:
        raise MissingDependencyError("mediapipe", "live") from None
    norm = md_fb.NormalizationOptionsT()
    norm.mean, norm.std = [float(mean)], [float(std)]
    unit = md_fb.ProcessUnitT()
    unit.optionsType, unit.options = md_fb.ProcessUnitOptions.NormalizationOptions, norm
    props = md_fb.ImagePropertiesT()
    props.colorSpace = md_fb.ColorSpaceType.RGB
    content = md_fb.ContentT()
    content.contentPropertiesType, content.contentProperties = md_fb.ContentProperties.ImageProperties, props
    stats = md_fb.StatsT()
    stats.min, stats.max = [(0.0 - mean) / std], [(255.0 - mean) / std]
    tensor = md_fb.TensorMetadataT()
    tensor.name, tensor.content, tensor.processUnits, tensor.stats = b"image", content, [unit], stats
    subgraph = md_fb.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [tensor]
    meta = md_fb.ModelMetadataT()
    meta.name, meta.subgraphMetadata, meta.minParserVersion = name.encode(), [subgraph], b"1.0.0"
    b = flatbuffers.Builder(1024)
    b.Finish(meta.Pack(b), b"M001")
    meta_bytes = bytes(b.Output())

    model = tfl_fb.ModelT.InitFromObj(tfl_fb.Model.GetRootAsModel(tflite, 0))
    buf = tfl_fb.BufferT()
    buf.data = np.frombuffer(meta_bytes, dtype=np.uint8)
    model.buffers.append(buf)
    entry = tfl_fb.MetadataT()
    entry.name, entry.buffer = b"TFLITE_METADATA", len(model.buffers) - 1
    # the replaced entry's buffer stays in the model, unreferenced (a few hundred bytes)
    model.metadata = [m for m in (model.metadata or []) if m.name != b"TFLITE_METADATA"] + [entry]
    b = flatbuffers.Builder(len(tflite) + 4096)
    b.Finish(model.Pack(b), b"TFL3")
    return bytes(b.Output())


def _pip_download(target: Path, timeout_s: float) -> Path:
    """Fetch mediapipe's legacy wheel with pip (it honours the user's index and proxy settings)."""
    cmd = [sys.executable, "-m", "pip", "download", f"mediapipe=={LEGACY_MEDIAPIPE}", "--no-deps"]
    cmd += ["--only-binary=:all:", "--platform", _WHEEL_PLATFORM, "--python-version", _WHEEL_PYTHON]
    cmd += ["--disable-pip-version-check", "--quiet", "-d", str(target)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SourceError(f"`pip download mediapipe=={LEGACY_MEDIAPIPE}` failed: {e}; {_manual_fix('full')}") from None
    wheels = sorted(target.glob(f"mediapipe-{LEGACY_MEDIAPIPE}-*.whl"))
    if res.returncode != 0 or not wheels:
        lines = [ln for ln in (res.stderr or res.stdout or "").splitlines() if ln.strip()]
        why = lines[-1].strip() if lines else f"exit status {res.returncode}"
        raise SourceError(f"`pip download mediapipe=={LEGACY_MEDIAPIPE}` failed ({why}); {_manual_fix('full')}")
    return wheels[0]


def build_task_from_wheel(dest: str | Path, wheel: str | Path | None = None, timeout_s: float = 600.0) -> Path:
    """Build ``pose_landmarker_full.task`` at ``dest`` from mediapipe 0.10.21's wheel.

    Args:
        dest: the ``.task`` file to write (atomically).
        wheel: a local ``mediapipe-0.10.21-*.whl``; None fetches one with ``pip download`` (about 36 MB,
            deleted afterwards).
        timeout_s: limit for ``pip download``.

    Raises:
        SourceError: pip fails, or the wheel lacks the expected files or they differ from the pinned hashes.
        MissingDependencyError: mediapipe is not installed.
    """
    dest = Path(dest)
    with tempfile.TemporaryDirectory(prefix="sadvae-mp-wheel-") as tmpdir:
        whl = Path(wheel) if wheel is not None else _pip_download(Path(tmpdir), timeout_s)
        members: dict[str, bytes] = {}
        try:
            with zipfile.ZipFile(whl) as z:
                for member, (inner, sha, mean, std) in _LEGACY.items():
                    data = z.read(inner)
                    if hashlib.sha256(data).hexdigest() != sha:
                        raise SourceError(f"{whl}: {inner} does not match the mediapipe {LEGACY_MEDIAPIPE} release")
                    members[member] = add_input_normalization(data, member.removesuffix(".tflite"), mean, std)
        except (zipfile.BadZipFile, KeyError, OSError) as e:
            why = f"{whl}: not a usable mediapipe {LEGACY_MEDIAPIPE} wheel ({e})"
            raise SourceError(f"{why}; {_manual_fix('full')}") from None

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:  # stored, as the official bundles are
            for member, data in members.items():
                z.writestr(member, data)

    with atomic_path(dest) as tmp:
        write(tmp)
    return dest


def verify_task(path: str | Path) -> None:
    """Load ``path`` with the Tasks API and run it on a blank image (about 2 s).

    Raises:
        MissingDependencyError: mediapipe is not installed.
        SourceError: MediaPipe refuses the model.
    """
    try:
        import mediapipe as mp
        import numpy as np
        from mediapipe.tasks.python import BaseOptions, vision
    except ImportError:
        raise MissingDependencyError("mediapipe", "live") from None
    opts = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(path)))
    try:
        with vision.PoseLandmarker.create_from_options(opts) as landmarker:
            landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.zeros((64, 64, 3), np.uint8)))
    except (RuntimeError, ValueError, OSError) as e:
        why = f"MediaPipe cannot load pose model {path}: {e}"
        raise SourceError(f"{why}; delete it and retry, or pass --pose-model") from None


def resolve_pose_model(
    path: str | Path | None = None,
    variant: str = "full",
    *,
    cache_dir: str | Path | None = None,
    download: bool = True,
    build: bool = True,
    timeout_s: float = 5.0,
    verify: bool = True,
) -> PoseModel:
    """Find the PoseLandmarker model: explicit path, user cache, official download, build from the 0.10.21 wheel.

    Args:
        path: an explicit ``.task`` file; when given nothing else is tried.
        variant: "lite", "full" or "heavy" (only "full" can be built from the wheel).
        cache_dir: the cache folder; None = :func:`pose_cache_dir`.
        download: try the official download.
        build: try the build from the wheel.
        timeout_s: network timeout of the official download.
        verify: load a freshly downloaded or built model with the Tasks API before caching it.

    Returns:
        The model and which step supplied it (also logged at INFO).

    Raises:
        ConfigError: unknown variant.
        SourceError: every step failed; the message lists why and how to supply the model by hand.
    """
    from sadvae.errors import ConfigError

    if variant not in VARIANTS:
        raise ConfigError(f"unknown pose model variant {variant!r}; choose one of {list(VARIANTS)}")
    if path is not None:
        check_task_file(path)
        found = PoseModel(Path(path), "custom", "path")
        log.info("pose model: %s (--pose-model)", found.path)
        return found
    dest = (Path(cache_dir) if cache_dir is not None else pose_cache_dir()) / f"pose_landmarker_{variant}.task"
    if dest.is_file():
        try:
            check_task_file(dest)
        except SourceError as e:
            log.warning("ignoring the cached pose model: %s", e)
        else:
            found = PoseModel(dest, variant, "cache", _read_note(dest))
            log.info("pose model: %s (user cache; %s)", dest, found.note or "origin unknown")
            return found
    failures: list[str] = []
    steps: list[tuple[str, str, Callable[[], object]]] = []
    if download:
        url = OFFICIAL_URL.format(variant=variant)
        steps.append(("download", url, lambda: download_task(variant, dest, timeout_s)))
    if build and variant == "full":
        note = f"built from the mediapipe {LEGACY_MEDIAPIPE} wheel (legacy tflite files + normalisation metadata)"
        steps.append(("wheel", note, lambda: build_task_from_wheel(dest)))
    elif build:
        failures.append(f"only the full model can be built from the mediapipe {LEGACY_MEDIAPIPE} wheel")
    for origin, note, step in steps:
        try:
            step()
            if verify:
                verify_task(dest)
        except SourceError as e:
            dest.unlink(missing_ok=True)
            log.info("pose model step %r failed: %s", origin, e)
            failures.append(str(e))
            continue
        _write_note(dest, origin, note)
        log.info("pose model: %s (%s; %s)", dest, origin, note)
        return PoseModel(dest, variant, origin, note)
    tried = "; ".join(failures) or "download and build disabled"
    raise SourceError(f"no pose model found in {dest.parent} ({tried}); {_manual_fix(variant)}")
