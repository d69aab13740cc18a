"""Error hierarchy shared by ``sadvae`` and ``realtime``.

Every message says what failed, where (file, line, field) and how to fix it. The CLIs catch
:class:`SadvaeError`, print one line and exit with status 2.
"""

from __future__ import annotations

__all__ = [
    "SadvaeError",
    "ConfigError",
    "DataFormatError",
    "CheckpointError",
    "MissingDependencyError",
    "BackendError",
    "SourceError",
    "SourceLostError",
    "ExportError",
    "EngineError",
]


class SadvaeError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(SadvaeError, ValueError):
    """A configuration value, CLI flag or labels file is invalid."""


class DataFormatError(SadvaeError, ValueError):
    """A data file is malformed. The message names the file, the line or field, and what was expected."""

    def __init__(self, path: object, where: str | None, problem: str):
        self.path = str(path)
        self.where = where
        self.problem = problem
        loc = f"{self.path}:{where}" if where else self.path
        super().__init__(f"{loc}: {problem}")


class CheckpointError(SadvaeError):
    """A model bundle, checkpoint or engine is missing, corrupt or incompatible."""


class MissingDependencyError(SadvaeError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str, message: str | None = None):
        self.package, self.extra = package, extra
        super().__init__(message or f"{package} is not installed; install it with `pip install 'sadvae-live[{extra}]'`")


class BackendError(SadvaeError):
    """An inference backend failed to load or run."""


class SourceError(SadvaeError):
    """A camera, video, stream or replay source cannot be opened or read."""


class SourceLostError(SourceError):
    """A source that was running failed or was given up (``stop_reason`` "source_lost"): not bad input."""


class ExportError(SadvaeError):
    """The model cannot be exported, or the exported graph fails the TensorRT or parity check."""


class EngineError(CheckpointError):
    """A TensorRT engine cannot be built, or a plan does not fit this library, GPU or model."""
