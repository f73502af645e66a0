"""Outputs that appear whole or not at all.

Every file tessetrack writes goes first to a temporary file in the destination's folder and is
moved into place with :func:`os.replace` (atomic on POSIX and Windows) only once it is complete. A
run that fails or is interrupted half-way leaves the previous file, if any, untouched and no
partial file behind.

:func:`check_output` is what every command calls on its output paths before any work starts: a
path that cannot be written (a folder in its place, a file where a parent folder should be, no
write permission, a wrong suffix) or that is one of the command's inputs is refused with one line.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from os import PathLike
from pathlib import Path

from tessetrack.errors import InputError

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_bytes", "check_output"]


def _file_mode() -> int:
    """The permissions a new file gets from ``open()``: 0666 less the process's umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; moved onto ``path`` when the block succeeds.

    The temporary name keeps ``path``'s suffix (writers that pick a format by suffix still work).
    Parents are created. On an exception the temporary file is removed and ``path`` is unchanged.

    Raises:
        InputError: the file system refused the write (disk full, no permission, a folder in the
            way), naming ``path``; ``path`` is unchanged.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".part{target.suffix}",
                                   dir=target.parent)  # fmt: skip
        os.close(fd)
        os.chmod(tmp, _file_mode())  # mkstemp's is 0600: the file gets what open() would give
    except OSError as exc:
        raise InputError(f"cannot write here ({exc.strerror or exc})", target) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        if isinstance(exc, OSError):
            raise InputError(
                f"writing failed ({exc.strerror or exc}); the previous file, if any, is unchanged",
                target,
            ) from None
        raise


def atomic_write_text(path: str | PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def atomic_write_bytes(path: str | PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def check_output(
    path: str | PathLike[str],
    *,
    what: str = "output",
    suffixes: tuple[str, ...] | None = None,
    inputs: tuple[object, ...] = (),
    folder: bool = False,
) -> Path:
    """Refuse, before any work, an output path that cannot be written or would replace an input.

    Args:
        path: the output file (or folder, with ``folder=True``).
        what: what it is, for the message (``"tracks file"``, ``"overlay video"``, ...).
        suffixes: the accepted suffixes (lower case, with the dot); None accepts any.
        inputs: the command's input paths (None and non-path values are skipped); the output may
            be none of them (compared after resolving links and ``..``).
        folder: the output is a folder (it may exist; a file in its place is refused).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        InputError: one line naming ``path`` and the problem.
    """
    out = Path(path)
    if suffixes is not None and out.suffix.lower() not in suffixes:
        raise InputError(f"the {what} must end in {', '.join(suffixes)}", out)
    if folder and out.exists() and not out.is_dir():
        raise InputError(f"the {what} must be a folder, but a file has this name", out)
    if not folder and out.is_dir():
        raise InputError(f"the {what} is an existing folder; name a file", out)
    for given in inputs:
        if isinstance(given, (str, PathLike)) and Path(given).exists():
            if out.resolve() == Path(given).resolve():
                raise InputError(
                    f"the {what} would overwrite an input ({given}); choose another output", out
                )
    probe = out.parent if str(out.parent) else Path(".")
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"cannot create the {what}: {probe} is not a folder", out)
    if not os.access(probe, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise InputError(f"cannot write the {what}: no write permission", out)
    return out
