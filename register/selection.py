"""Selection files: ``SELECT.json`` holds ``{"method": ..., "setting": ..., "params": {...}}``,
the setting ``binn select`` chose on validation data (settings: :mod:`binn.vocabulary`).
"""

from __future__ import annotations

import json
from pathlib import Path

from binn.errors import BinnInputError
from binn.vocabulary import parse_setting


def read_selection(path: str | Path) -> dict:
    """The whole ``SELECT.json`` object; it must hold ``method`` and ``setting``."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise BinnInputError(path, f"not a readable JSON file ({exc})") from exc
    if not isinstance(obj, dict) or not {"method", "setting"} <= set(obj):
        raise BinnInputError(path, "selection must hold 'method' and 'setting'")
    return obj


def load_selection(path: Path) -> tuple[str, str, dict[str, float]]:
    """Read ``SELECT.json`` -> ``(method, setting, params)``; bad files raise BinnInputError."""
    obj = read_selection(path)
    params = obj.get("params")
    if params is None:
        params = parse_setting(str(obj["setting"]), str(path))
    if not isinstance(params, dict):
        raise BinnInputError(path, "'params' must be an object")
    return str(obj["method"]), str(obj["setting"]), {k: float(v) for k, v in params.items()}
