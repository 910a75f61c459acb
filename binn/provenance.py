"""Provenance records stored in every output: config hash, code version, seed, time."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import binn

_REPO_ROOT = Path(__file__).resolve().parent.parent


def config_hash(config: Any) -> str:
    """Return a short SHA-256 of ``config`` serialised as canonical JSON."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@cache
def code_version(written: str | Path | None = None) -> str:
    """Return ``<package version>+g<git commit>[.dirty]`` or the package version alone.

    ``written``: a folder of the checkout that the caller is writing (Snakemake removes a
    job's outputs before it runs, so tracked outputs would mark every such run dirty);
    changes inside it do not count (a folder outside the checkout changes nothing)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(_REPO_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        status = ["git", "-C", str(_REPO_ROOT), "status", "--porcelain", "--untracked-files=no"]
        if written is not None and Path(written).resolve().is_relative_to(_REPO_ROOT.resolve()):
            status += ["--", ".", f":(exclude){Path(written).resolve()}"]
        dirty = subprocess.run(
            status,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return binn.__version__
    return f"{binn.__version__}+g{commit}{'.dirty' if dirty else ''}"


def provenance(config: Any, seed: int | None = None, **extra: Any) -> dict[str, Any]:
    """Return the provenance record of an output made from ``config`` with ``seed``."""
    return {
        "config_hash": config_hash(config),
        "config": config,
        "code_version": code_version(),
        "seed": seed,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }
