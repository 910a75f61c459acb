"""Atomic file output and checked loading of the `.npz` files passed between stages.

Every writer goes through :func:`atomic_path`: the data is written to a temporary file in
the destination folder and renamed into place only when complete, so a crash or an error
never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from binn.errors import BinnInputError

PROVENANCE_KEY = "provenance_json"


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    ``suffix`` defaults to the destination's suffix (some writers, e.g. ``np.savez`` or
    matplotlib, choose the format from it). On any exception the temporary file is removed
    and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.",
        suffix=suffix if suffix is not None else path.suffix,
        dir=path.parent,
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give outputs the usual mode
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def save_npz(path: str | Path, provenance: Mapping[str, Any], **arrays: Any) -> None:
    """Save ``arrays`` compressed to ``path`` atomically, with ``provenance`` as JSON inside.

    Read back with :func:`load_npz`; the provenance comes back under ``"provenance"``.
    """
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload[PROVENANCE_KEY] = np.asarray(json.dumps(dict(provenance), default=_json_default))
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **payload)


def load_npz(path: str | Path, required: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Load an ``.npz`` written by :func:`save_npz` into a dict of arrays.

    ``required`` maps array names to their expected number of dimensions; a missing array,
    a wrong rank or a non-finite float array raises :class:`BinnInputError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise BinnInputError(path, "file does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            out: dict[str, Any] = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise BinnInputError(path, f"not a readable .npz file ({exc})") from exc
    out["provenance"] = json.loads(str(out.pop(PROVENANCE_KEY))) if PROVENANCE_KEY in out else {}
    for name, ndim in (required or {}).items():
        if name not in out:
            raise BinnInputError(path, f"missing array '{name}' (has: {sorted(out)})")
        if out[name].ndim != ndim:
            raise BinnInputError(
                path, f"array '{name}' has shape {out[name].shape}, expected {ndim} dimensions"
            )
        if np.issubdtype(out[name].dtype, np.floating) and not np.all(np.isfinite(out[name])):
            raise BinnInputError(path, f"array '{name}' contains NaN or Inf")
    return out
