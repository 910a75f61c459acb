"""Cine data for registration: the subject container, real-data loaders and the phantom.

Public names (imported lazily, so that ``binn --help`` stays fast):
``CineSubject``, ``save_subject``, ``load_subject`` (:mod:`register.data.subject`),
``load_acdc``, ``load_ukbb``, ``load_subject_folder``, ``load_pair``
(:mod:`register.data.loaders`),
``crop_subject`` (:mod:`register.data.crop`), ``make_phantom`` (:mod:`register.data.phantom`).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CineSubject": "binn.register.data.subject",
    "save_subject": "binn.register.data.subject",
    "load_subject": "binn.register.data.subject",
    "load_acdc": "binn.register.data.loaders",
    "load_ukbb": "binn.register.data.loaders",
    "load_pair": "binn.register.data.loaders",
    "load_subject_folder": "binn.register.data.loaders",
    "crop_subject": "binn.register.data.crop",
    "make_phantom": "binn.register.data.phantom",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the public names on first use (PEP 562)."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'binn.register.data' has no attribute {name!r}")
