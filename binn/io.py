"""Atomic file output and checked loading of the `.npz` files passed between stages.

Every writer goes through :func:`atomic_path` (a file) or :func:`staged_folder` (a folder):
the data is written to a hidden temporary file or folder beside the destination
(``.NAME.XXXXXXXX<suffix>``) and renamed into place only when complete, so a crash or an
error never leaves a half-written output behind. A hard kill (SIGKILL, power loss) can
leave that temporary behind: :func:`check_output`, which every command calls on its
outputs before it starts, removes such leftovers of the same output (saying so).

:func:`check_output` is also the one ``--force`` rule of every command: an existing output
is refused unless ``force``; with ``force`` a file is replaced, and a folder only when it
holds nothing but what binn wrote into it (listed in its :data:`MANIFEST`; a folder
written before manifests existed: files matching the caller's ``known`` patterns).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from binn.errors import BinnInputError

log = logging.getLogger(__name__)

PROVENANCE_KEY = "provenance_json"
MANIFEST = ".binn-outputs.json"
"""The hidden file in a folder written by :func:`staged_folder`: the names binn wrote."""
_RANDOM = re.compile(r"[a-z0-9_]{8}(\.[A-Za-z0-9.]+)?")
"""What :mod:`tempfile` appends to ``.NAME.``: 8 random characters, then the suffix."""


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


def stale_temporaries(path: str | Path) -> list[Path]:
    """The hidden temporaries :func:`atomic_path` / :func:`staged_folder` left beside
    ``path`` when a writer was killed before renaming them (``.NAME.XXXXXXXX<suffix>``)."""
    path = Path(path)
    prefix = f".{path.name}."
    if not path.parent.is_dir():
        return []
    return sorted(
        entry
        for entry in path.parent.iterdir()
        if entry.name.startswith(prefix) and _RANDOM.fullmatch(entry.name[len(prefix) :])
    )


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove (and log) what :func:`stale_temporaries` finds for ``path``; return it.

    Only call this before writing ``path`` yourself: a temporary of another process writing
    the same output at the same time would go too (two writers of one output conflict
    anyway)."""
    removed = []
    for entry in stale_temporaries(path):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        log.warning("removed %s, a temporary an interrupted run left behind", entry)
        removed.append(entry)
    return removed


def foreign_files(folder: str | Path, known: Sequence[str] = ()) -> list[str]:
    """Names in ``folder`` that binn did not write: not in its :data:`MANIFEST`, or (a
    folder without one) not matching a ``known`` glob pattern. Sorted; subfolders count."""
    folder = Path(folder)
    names = sorted(p.name for p in folder.iterdir() if p.name != MANIFEST)
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            written = set(json.loads(manifest.read_text()).get("files", []))
        except (OSError, ValueError, AttributeError):
            written = set()
        return [n for n in names if n not in written]
    return [
        n
        for n in names
        if (folder / n).is_dir() or not any(fnmatch.fnmatchcase(n, pat) for pat in known)
    ]


def check_output(
    path: str | Path,
    force: bool = False,
    *,
    folder: bool = False,
    known: Sequence[str] = (),
    option: str = "--out",
) -> Path:
    """The check every command makes on an output before any work: returns ``path``.

    Leftover temporaries of ``path`` (an earlier run killed mid-write) are removed and
    logged. An existing ``path`` raises :class:`BinnInputError` unless ``force``; with
    ``force``, a file output must be a file, and a ``folder`` output a folder that holds
    only what binn wrote (:func:`foreign_files`, ``known`` for folders without a manifest):
    ``force`` never deletes anything else. ``option`` names the option in messages.
    """
    path = Path(path)
    remove_stale_temporaries(path)
    if not path.exists() and not path.is_symlink():
        return path
    kind = "output folder" if folder else "output file"
    if not force:
        raise BinnInputError(path, f"{kind} exists (use --force to replace it)")
    if folder:
        if not path.is_dir():
            raise BinnInputError(path, f"{option} names a file, not an output folder")
        foreign = foreign_files(path, known)
        if foreign:
            shown = ", ".join(foreign[:5]) + (
                f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
            )
            raise BinnInputError(
                path,
                f"holds files binn did not write ({shown}); --force replaces only binn's own "
                "outputs: move them or choose another folder",
            )
    elif path.is_dir():
        raise BinnInputError(path, f"{option} names a folder, not an output file")
    return path


@contextlib.contextmanager
def staged_folder(
    out: str | Path, force: bool = False, known: Sequence[str] = ()
) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``out``; rename it onto ``out`` on success.

    ``out`` is first checked with :func:`check_output` (``folder=True``, ``known``); an
    existing ``out`` is replaced only once the new folder is complete. The names written
    are listed in ``out/``:data:`MANIFEST`, so a later ``--force`` knows what is binn's.
    On any error the temporary folder is removed and ``out`` is left as it was.
    """
    out = check_output(out, force, folder=True, known=known)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        names = sorted(p.name for p in tmp.iterdir() if p.name != MANIFEST)
        (tmp / MANIFEST).write_text(json.dumps({"files": names}, indent=1) + "\n")
        tmp.chmod(0o777 & ~_umask())
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            old.rmdir()
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
