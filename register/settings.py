"""Method settings as strings (``name=value[,name=value]``) and selection files.

A setting names the parameters of one run of a method, e.g. ``alpha=0.001`` (binn),
``lam=0.01`` (l2), ``sigma=1.5`` (demons), ``grid=8,penalty=0.01`` (ffd), and for a network
with test-time refinement ``alpha=0.01,refine=50`` (the training weight, then the
``refine*`` options of :mod:`register.refine`). A selection file ``SELECT.json`` holds
``{"method": ..., "setting": ..., "params": {...}}``.

Canonical form (:func:`canonical_setting`): names sorted, each value the shortest decimal
that reads back as the same float, written without an exponent (``1e-3`` -> ``0.001``,
``8.0`` -> ``8``, ``1.5e-07`` -> ``0.00000015``); so one setting has one string, in paths
as in tables.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from binn.errors import BinnInputError

REFINE_PREFIX = "refine"


def parse_setting(text: str, source: str | None = None) -> dict[str, float]:
    """``"grid=8,penalty=0.01"`` -> ``{"grid": 8.0, "penalty": 0.01}``; ``""`` -> ``{}``.

    Values must be finite numbers; a name given twice is refused.
    """
    out: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise BinnInputError(source, f"setting {item!r} is not NAME=VALUE")
        try:
            number = float(value)
        except ValueError as exc:
            raise BinnInputError(source, f"setting {item!r}: value is not a number") from exc
        if not math.isfinite(number):
            raise BinnInputError(source, f"setting {item!r}: value is not finite")
        if name in out:
            raise BinnInputError(source, f"setting {text!r} names {name!r} twice")
        out[name] = number
    return out


def format_number(value: float) -> str:
    """Shortest round-trip decimal of ``value`` without an exponent (``1e-3`` -> ``0.001``)."""
    return np.format_float_positional(float(value), unique=True, trim="-")


def format_setting(params: dict[str, float]) -> str:
    """Inverse of :func:`parse_setting`, canonical: names sorted, :func:`format_number` values."""
    return ",".join(f"{k}={format_number(params[k])}" for k in sorted(params))


def canonical_setting(text: str, source: str | None = None) -> str:
    """The one canonical string of a setting: ``"alpha=1e-3"`` -> ``"alpha=0.001"``."""
    return format_setting(parse_setting(text, source))


def split_refine(params: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """``(training/method parameters, refine* parameters)`` of one setting's parameters."""
    base = {k: v for k, v in params.items() if not k.startswith(REFINE_PREFIX)}
    refine = {k: v for k, v in params.items() if k.startswith(REFINE_PREFIX)}
    return base, refine


def network_model_setting(setting: str, source: str | None = None) -> str:
    """The training part of a network setting, which names its model file:
    ``"alpha=0.01,refine=50"`` -> ``"alpha=0.01"``."""
    return format_setting(split_refine(parse_setting(setting, source))[0])


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
