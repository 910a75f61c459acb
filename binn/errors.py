"""Errors that binn reports to a person: each names the file (or case) and what is wrong."""

from __future__ import annotations

from pathlib import Path


class BinnInputError(ValueError):
    """Bad input: the message names the offending file/slice/case and the reason."""

    def __init__(self, source: str | Path | None, reason: str) -> None:
        self.source = None if source is None else str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}" if self.source else reason)


class ConvergenceError(RuntimeError):
    """A numerical solve failed (e.g. Newton did not converge even after step cutting)."""
