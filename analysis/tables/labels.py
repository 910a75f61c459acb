"""How the tables name what they show: methods with their settings, curve families, and
``mean ± std`` cells.

Names come from :mod:`binn.vocabulary` when a table is made (display names, row order), so
a method registered there appears in every table. A setting is read as a **family** (the
curve it belongs to: a method, and for network refinement ``refine=N`` with N > 0 the
method with its iteration count, e.g. ``binn+refine50``) and a **base** (the setting
without ``refine``, the point's label on its curve).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from binn.errors import BinnInputError
from binn.vocabulary import (
    REFINE,
    format_setting,
    method_display_name,
    parse_setting,
    setting_from_slug,
    step_count,
)


@dataclass(frozen=True)
class SettingInfo:
    """A ``(method, setting)`` pair read as a curve family and a point on it.

    ``params``: the setting's parameters without ``refine`` (``{}`` when it is not
    ``name=value`` text, e.g. ``default``); ``refine``: refinement iterations (0 = none);
    ``family``: the curve it belongs to (``binn``, ``binn+refine50``); ``base``: the
    canonical setting without ``refine`` (the label of the point on its curve).
    """

    method: str
    setting: str
    params: dict[str, float]
    refine: int
    family: str
    base: str

    @property
    def label(self) -> str:
        """Display name: ``BINN (binn+refine50) [alpha=0.01]``."""
        return family_label(self.family, self.base)


def setting_info(method: str, setting: object) -> SettingInfo:
    """Read ``setting`` (``"alpha=0.01,refine=50"``, its slug ``"alpha=0.01+refine=50"``,
    ``"default"``, ``""``, NaN) of ``method`` with :func:`binn.vocabulary.parse_setting`.

    Text that is not ``name=value`` pairs keeps ``params = {}`` and is its own label; a
    ``refine`` value that is not a whole number >= 0 raises :class:`BinnInputError`.
    """
    missing = setting is None or (isinstance(setting, float) and math.isnan(setting))
    text = "" if missing else str(setting)
    source = f"setting of {method}"
    try:
        params = parse_setting(setting_from_slug(text), source)
    except BinnInputError:
        return SettingInfo(method, text, {}, 0, method, text)
    refine = step_count(params, REFINE, source)
    params.pop(REFINE, None)
    family = f"{method}+{REFINE}{refine}" if refine else method
    return SettingInfo(method, text, params, refine, family, format_setting(params))


def family_label(family: str, base: str = "") -> str:
    """``binn+refine50`` -> ``BINN (binn+refine50)``; with a setting, ``... [alpha=0.01]``."""
    method, plus, rest = family.partition("+")
    name = method_display_name(method)
    if plus:
        suffix = f"({method})"
        name = name.replace(suffix, f"({family})") if name.endswith(suffix) else f"{name}+{rest}"
    return f"{name} [{base}]" if base else name


def method_label(method: str, setting: str | float | None = None) -> str:
    """Display name of a method, with its setting in brackets when it has one.

    A refined setting (``alpha=0.01,refine=50``) names its own family:
    ``BINN (binn+refine50) [alpha=0.01]``.
    """
    has_setting = isinstance(setting, str) and setting not in ("", "nan")
    if not has_setting:
        return method_display_name(method)
    return setting_info(method, setting).label


def same_setting(a: SettingInfo, b: SettingInfo) -> bool:
    """Same method and the same parameters (``alpha=1e-3`` equals ``alpha=0.001``)."""
    if a.method != b.method:
        return False
    if a.params or b.params:
        return a.params == b.params and a.refine == b.refine
    return a.setting == b.setting


def mean_std(mean: float, std: float, digits: int = 3) -> str | float:
    """``"1.234 ± 0.056"``; NaN (missing) when the mean is missing, ``± —`` for a missing std
    (a single subject)."""
    if mean is None or not math.isfinite(mean):
        return np.nan
    spread = f"{std:.{digits}f}" if std is not None and math.isfinite(std) else "—"
    return f"{mean:.{digits}f} ± {spread}"
