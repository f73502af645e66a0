"""Project-specific exceptions with actionable messages.

Every error raised for bad user input is a :class:`TesseTrackError`; the CLI prints its message as
one line and exits with status 2. Messages name the file (when there is one) and the problem.
"""

from __future__ import annotations

from os import PathLike

__all__ = ["TesseTrackError", "InputError", "ConfigError", "CheckpointError", "DependencyError"]


class TesseTrackError(Exception):
    """Base class of all errors tessetrack raises on purpose."""


class InputError(TesseTrackError, ValueError):
    """A user-supplied file, folder or array is missing, malformed or inconsistent.

    Args:
        message: what is wrong and, where possible, what to do about it.
        path: the offending file or folder; it is prefixed to the message.
    """

    def __init__(self, message: str, path: str | PathLike[str] | None = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(message if path is None else f"{path}: {message}")


class ConfigError(TesseTrackError, ValueError):
    """An invalid configuration value or override."""


class CheckpointError(TesseTrackError):
    """A checkpoint is missing, corrupted, or belongs to another config/version."""


class DependencyError(TesseTrackError):
    """An optional package a command needs is missing or unusable; the message says what to install."""
