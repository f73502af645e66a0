"""A restricted unpickler for data-only pickles (dataset annotations, camera tables).

Plain :func:`pickle.load` executes whatever callable a file names, so a user's ``.pkl`` could run
arbitrary code. :func:`load_pickle` resolves globals through an allow-list instead: builtin
containers and scalars, ``collections.OrderedDict``/``defaultdict`` and what NumPy needs to rebuild
arrays, dtypes and scalars (under both the NumPy 1 ``numpy.core`` and the NumPy 2 ``numpy._core``
module names). Any other global — ``os.system``, ``builtins.eval``, a class of some library — is
refused with an :class:`~tessetrack.errors.InputError` naming the file and the global, before it is
imported or called.
"""

from __future__ import annotations

import codecs
import collections
import io
import pickle
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from tessetrack.errors import InputError

__all__ = ["ALLOWED_GLOBALS", "SafeUnpickler", "load_pickle", "loads_pickle"]


def _numpy_core() -> Any:
    """NumPy's core module: ``numpy._core`` on NumPy 2, ``numpy.core`` on NumPy 1."""
    try:
        from numpy import _core as core  # NumPy >= 2
    except ImportError:  # pragma: no cover - NumPy 1
        from numpy import core  # type: ignore[no-redef]
    return core


_BUILTINS = (
    "dict",
    "list",
    "tuple",
    "set",
    "frozenset",
    "bytearray",
    "bytes",
    "str",
    "int",
    "float",
    "complex",
    "bool",
    "slice",
    "range",
)

#: ``(module, name)`` pairs :class:`SafeUnpickler` resolves; everything else is refused.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    [("builtins", n) for n in _BUILTINS]
    + [("__builtin__", n) for n in _BUILTINS]  # Python 2 pickles
    + [
        ("collections", "OrderedDict"),
        ("collections", "defaultdict"),
        ("_codecs", "encode"),  # protocol-2 pickles store bytes as codecs.encode(str, "latin1")
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    ]
    + [
        (f"{mod}.{sub}", name)
        for mod in ("numpy.core", "numpy._core")
        for sub, name in (
            ("multiarray", "_reconstruct"),
            ("multiarray", "scalar"),
            ("numeric", "_frombuffer"),
        )
    ]
)


def _resolve(module: str, name: str) -> Any:
    """The object for an allowed ``(module, name)``, without importing the deprecated names."""
    if module in ("builtins", "__builtin__"):
        import builtins

        return getattr(builtins, name)
    if module == "collections":
        return getattr(collections, name)
    if module == "_codecs":
        return codecs.encode
    if module == "numpy":
        return getattr(np, name)
    sub = module.rsplit(".", 1)[1]  # numpy.core.multiarray -> multiarray
    return getattr(getattr(_numpy_core(), sub), name)


class SafeUnpickler(pickle.Unpickler):
    """:class:`pickle.Unpickler` whose ``find_class`` only returns :data:`ALLOWED_GLOBALS`.

    Args:
        file: a binary file object positioned at the pickle.
        source: the file name used in error messages.
        encoding: how Python 2 ``str`` objects are decoded; ``"latin1"`` keeps NumPy 1/Python 2
            array buffers intact.
    """

    def __init__(
        self, file: Any, *, source: str | PathLike[str] | None = None, encoding: str = "latin1"
    ) -> None:
        super().__init__(file, encoding=encoding)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise InputError(
                f"refusing to unpickle forbidden global '{module}.{name}'; only builtin "
                "containers/scalars and NumPy arrays are allowed in data pickles",
                self._source,
            )
        return _resolve(module, name)


def loads_pickle(
    data: bytes, *, source: str | PathLike[str] | None = None, encoding: str = "latin1"
) -> Any:
    """Unpickle bytes with :class:`SafeUnpickler`.

    Args:
        data: the pickle's bytes.
        source: name used in error messages (e.g. the file it came from).
        encoding: decoding of Python 2 ``str`` objects.

    Returns:
        The unpickled object (dicts, lists, tuples, scalars, ``np.ndarray``...).

    Raises:
        InputError: a forbidden global, or the data is not a valid pickle.
    """
    try:
        return SafeUnpickler(io.BytesIO(data), source=source, encoding=encoding).load()
    except InputError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, UnicodeDecodeError, MemoryError) as exc:  # fmt: skip
        raise InputError(f"not a valid data pickle ({type(exc).__name__}: {exc})", source) from None


def load_pickle(path: str | PathLike[str], *, encoding: str = "latin1") -> Any:
    """Load a data-only pickle file safely (no arbitrary code execution).

    Args:
        path: the ``.pkl`` file.
        encoding: decoding of Python 2 ``str`` objects (``"latin1"`` suits NumPy arrays).

    Returns:
        The unpickled object.

    Raises:
        InputError: the file is missing or unreadable, is not a pickle, or names a global outside
            :data:`ALLOWED_GLOBALS` (the message names the file and the global).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("pickle file not found", p)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read pickle file ({exc.strerror or exc})", p) from None
    return loads_pickle(data, source=p, encoding=encoding)
