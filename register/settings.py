"""Method settings as strings (``name=value[,name=value]``) and selection files.

A setting names the parameters of one run of a method, e.g. ``alpha=0.001`` (binn),
``lam=0.01`` (l2), ``sigma=1.5`` (demons), ``grid=8,penalty=0.01`` (ffd). A selection file
``SELECT.json`` holds ``{"method": ..., "setting": ..., "params": {...}}``.
"""

from __future__ import annotations

import json
from pathlib import Path

from binn.errors import BinnInputError


def parse_setting(text: str, source: str | None = None) -> dict[str, float]:
    """``"grid=8,penalty=0.01"`` -> ``{"grid": 8.0, "penalty": 0.01}``; ``""`` -> ``{}``."""
    out: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise BinnInputError(source, f"setting {item!r} is not NAME=VALUE")
        try:
            out[name.strip()] = float(value)
        except ValueError as exc:
            raise BinnInputError(source, f"setting {item!r}: value is not a number") from exc
    return out


def format_setting(params: dict[str, float]) -> str:
    """Inverse of :func:`parse_setting` (keys in the given order, compact numbers)."""
    return ",".join(f"{k}={v:g}" for k, v in params.items())


def parse_params(items: list[str], source: str | None = None) -> dict[str, float]:
    """Repeated ``--param NAME=VALUE`` (each may also hold commas) -> one dict."""
    out: dict[str, float] = {}
    for item in items:
        out.update(parse_setting(item, source))
    return out


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
