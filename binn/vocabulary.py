"""binn's vocabulary: the one place that names tracking methods, their settings, label values
and the data conventions of ACDC and UK Biobank.

Every stage, the workflow (wildcards, experiments), the command line (``--method`` choices)
and the tables (display names and order) read these definitions; none re-declares them.

**Methods** (:data:`METHODS`): a registered :class:`Method` has a kind (``network``: trained,
with a training weight; ``classical``: registered pair by pair), a display name and whether
it needs the learnt prior (the VAE).

**Settings**: a setting names the parameters of one run of a method as ``name=value`` pairs
joined by commas, e.g. ``alpha=0.001`` (binn), ``lam=0.01`` (l2), ``sigma=1.5`` (demons),
``grid=8,penalty=0.01`` (ffd), and for a network refined at test time
``alpha=0.01,refine=50`` (the training weight, then the ``refine*`` options of
:mod:`binn.register.refine`). Canonical form (:func:`canonical_setting`): names sorted, each
value the shortest decimal that reads back as the same float, written without an exponent
(``1e-3`` -> ``0.001``, ``8.0`` -> ``8``); so one setting has one string, in paths as in
tables. In paths and wildcards a setting is written as its *slug* (:func:`setting_slug`,
``,`` -> ``+``), because SLURM job steps pass wildcards as comma-separated pairs.

**Labels**: binn stores every label map in ACDC's values (:data:`MYOCARDIUM`,
:data:`LV_CAVITY`, :data:`RV_CAVITY`); :data:`LABEL_CONVENTIONS` says what the values of
each dataset's files mean, and :func:`read_acdc_info` reads ACDC's ``Info.cfg``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from binn.errors import BinnInputError

# --- labels and data conventions ----------------------------------------------------------


@dataclass(frozen=True)
class LabelConvention:
    """What the label values of one dataset's files mean (0 is background in all)."""

    name: str
    lv_cavity: int
    myocardium: int
    rv_cavity: int


ACDC = LabelConvention("acdc", lv_cavity=3, myocardium=2, rv_cavity=1)
UKBB = LabelConvention("ukbb", lv_cavity=1, myocardium=2, rv_cavity=3)
LABEL_CONVENTIONS: dict[str, LabelConvention] = {c.name: c for c in (ACDC, UKBB)}
AUTO_CONVENTION = "auto"  # decide acdc / ukbb from what the label map holds
BACKGROUND = 0
# binn's own label values (ACDC's): every loader maps its files to these.
RV_CAVITY, MYOCARDIUM, LV_CAVITY = ACDC.rv_cavity, ACDC.myocardium, ACDC.lv_cavity
STORED_LABELS = (BACKGROUND, RV_CAVITY, MYOCARDIUM, LV_CAVITY)
# Folder layouts a subject folder can have (``--layout``): ACDC's ``patientXXX/`` with
# ``Info.cfg``, UK Biobank's ``sa.nii.gz`` / ``label_sa_ED|ES.nii.gz``.
DATA_LAYOUTS = ("acdc", "ukbb")


@dataclass(frozen=True)
class AcdcInfo:
    """ACDC's ``Info.cfg``: ``ed``/``es`` 1-based frame numbers, ``n_frames`` (``NbFrame``,
    None when absent), ``group`` (``NOR``, ``DCM``, ..., None when absent) and every entry as
    text (``Height``, ``Weight``, ...)."""

    path: Path
    ed: int
    es: int
    n_frames: int | None
    group: str | None
    entries: dict[str, str]


def read_acdc_info(path: str | Path) -> AcdcInfo:
    """Parse ACDC's ``Info.cfg`` (``key: value`` lines) into an :class:`AcdcInfo`.

    ``ED`` and ``ES`` are required whole numbers >= 1 (``12`` or ``12.0``). A missing file
    or a missing or malformed ED/ES raises :class:`BinnInputError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise BinnInputError(path, "file does not exist (ACDC layout needs ED/ES frames)")
    entries = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            entries[name.strip()] = value.strip()

    def whole(key: str) -> int | None:
        text = entries.get(key)
        if text is None or not re.fullmatch(r"[-+]?\d+(\.0*)?", text):
            return None
        return int(float(text))

    ed, es = whole("ED"), whole("ES")
    for key, value in (("ED", ed), ("ES", es)):
        if value is None or value < 1:
            raise BinnInputError(path, f"no valid 1-based '{key}: N' line")
    assert ed is not None and es is not None
    return AcdcInfo(path, ed, es, whole("NbFrame"), entries.get("Group") or None, entries)


# --- methods ------------------------------------------------------------------------------

NETWORK = "network"
CLASSICAL = "classical"
NO_REGISTRATION = "none"  # the 'no registration' rows of the tables
NO_REGISTRATION_NAME = "no registration"


@dataclass(frozen=True)
class Method:
    """One tracking method.

    ``weight``: the training weight a network's setting must name (``alpha`` for binn's
    R_VAE, ``lam`` for l2's ||grad u||^2); None for classical methods. ``needs_vae``: the
    method's training and refinement use the learnt prior.
    """

    name: str
    kind: str
    display: str
    weight: str | None = None
    needs_vae: bool = False

    @property
    def is_network(self) -> bool:
        return self.kind == NETWORK


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("binn", NETWORK, "BINN (binn)", weight="alpha", needs_vae=True),
        Method("l2", NETWORK, "DL+L2 (l2)", weight="lam"),
        Method("demons", CLASSICAL, "demons"),
        Method("ffd", CLASSICAL, "FFD"),
    )
}


PROPOSED_METHOD = "binn"
"""The paper's method: Fig. 2 sweeps its training weight (the workflow's ``alpha_sweep``)."""


def method_names(kind: str | None = None) -> tuple[str, ...]:
    """The registered methods (of one ``kind`` when given), in registration order."""
    return tuple(name for name, m in METHODS.items() if kind is None or m.kind == kind)


def network_methods() -> tuple[str, ...]:
    return method_names(NETWORK)


def classical_methods() -> tuple[str, ...]:
    return method_names(CLASSICAL)


def get_method(name: str, source: str | Path | None = None) -> Method:
    """The registered :class:`Method` called ``name``; an unknown name raises
    :class:`BinnInputError` naming ``source`` and the known methods."""
    try:
        return METHODS[name]
    except KeyError:
        known = ", ".join(METHODS)
        raise BinnInputError(source, f"unknown method {name!r} (known: {known})") from None


def method_display_name(name: str) -> str:
    """``binn`` -> ``BINN (binn)``; ``none`` -> ``no registration``; others unchanged."""
    if name == NO_REGISTRATION:
        return NO_REGISTRATION_NAME
    return METHODS[name].display if name in METHODS else name


def table_order() -> tuple[str, ...]:
    """Row order of the tables: no registration, then the methods, the first registered
    (binn) last, beside the totals a reader compares it with."""
    return (NO_REGISTRATION, *reversed(method_names()))


def method_wildcard(kind: str | None = None) -> str:
    """The Snakemake wildcard constraint of ``{method}``: one alternative per registered
    method (of one ``kind`` when given)."""
    return "|".join(re.escape(name) for name in method_names(kind))


# --- settings -----------------------------------------------------------------------------

REFINE = "refine"  # the refinement iterations of a network setting; refine_* are its options
ADAPT = "adapt"  # the test-time adaptation steps of a network setting (register.adapt)
_SLUG_SPLIT = re.compile(r"\+(?=[A-Za-z_]\w*=)")


def parse_setting(text: str, source: str | Path | None = None) -> dict[str, float]:
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


def canonical_setting(text: str, source: str | Path | None = None) -> str:
    """The one canonical string of a setting: ``"alpha=1e-3"`` -> ``"alpha=0.001"``."""
    return format_setting(parse_setting(text, source))


def parse_params(items: list[str], source: str | Path | None = None) -> dict[str, float]:
    """Repeated ``--param NAME=VALUE`` (each may also hold commas) -> one dict."""
    out: dict[str, float] = {}
    for item in items:
        out.update(parse_setting(item, source))
    return out


def split_refine(params: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """``(training/method parameters, test-time parameters)`` of one setting's parameters:
    the test-time ones are ``adapt`` and ``refine*``, which a network applies when it tracks."""
    base = {k: v for k, v in params.items() if not _test_time(k)}
    test_time = {k: v for k, v in params.items() if _test_time(k)}
    return base, test_time


def _test_time(name: str) -> bool:
    return name == ADAPT or name.startswith(REFINE)


def network_model_setting(setting: str, source: str | Path | None = None) -> str:
    """The training part of a network setting, which names its model file:
    ``"alpha=0.01,refine=50"`` -> ``"alpha=0.01"``."""
    return format_setting(split_refine(parse_setting(setting, source))[0])


def step_count(
    params: dict[str, float], name: str = REFINE, source: str | Path | None = None
) -> int:
    """The step count ``name`` (``refine`` or ``adapt``) of a setting's parameters (0 when
    absent); it must be a whole number >= 0."""
    value = params.get(name, 0.0)
    if value < 0 or value != int(value):
        raise BinnInputError(source, f"{name}={value:g} is not a count (a whole number >= 0)")
    return int(value)


def check_network_setting(method: str, setting: str, source: str | Path | None = None) -> None:
    """A network setting is its weight (``alpha``/``lam``) plus optional test-time options
    (``adapt``, ``refine*``); ``adapt`` and ``refine`` (steps) are integers >= 0. Anything
    else raises :class:`BinnInputError`."""
    weight = get_method(method, source).weight
    params = parse_setting(setting, source)
    extra = [k for k in params if k != weight and not _test_time(k)]
    counts = [params.get(name, 0.0) for name in (ADAPT, REFINE)]
    if weight not in params or extra or any(c < 0 or c != int(c) for c in counts):
        raise BinnInputError(
            source,
            f"setting {setting!r} is not '{weight}=<number>[,adapt=<integer >= 0>]"
            "[,refine=<integer >= 0>]'",
        )


def setting_slug(setting: str) -> str:
    """The form of a setting in paths and wildcards: ``,`` becomes ``+``
    (``alpha=0.01,refine=50`` -> ``alpha=0.01+refine=50``)."""
    return setting.replace(",", "+")


def setting_from_slug(slug: str) -> str:
    """Inverse of :func:`setting_slug`: ``alpha=0.01+refine=50`` -> ``alpha=0.01,refine=50``.

    Only a ``+`` that starts a new ``name=`` pair is a separator, so text with commas (a
    setting already) is returned unchanged.
    """
    return _SLUG_SPLIT.sub(",", slug)


# --- subjects -----------------------------------------------------------------------------

# The phantom subject sets and the offset of each in the seed of its phantoms:
# phantom i of set s has seed ``run_seed * 100000 + PHANTOM_SEED_OFFSET[s] + i``.
TABLE3_EXPERIMENTS = {"generalisation": "phantom", "synthetic_generalisation": "synthetic"}
"""The experiments of Table 3 (networks on data they were not trained on) and the training
domain of their networks: phantoms, or the FEM-driven synthetic cine."""
PHANTOM_SEED_OFFSET = {
    "train": 10_000,
    "val": 20_000,
    "test": 30_000,
    "general": 40_000,
    "synth_train": 50_000,
    "synth_val": 60_000,
}
PHANTOM_SEED_STRIDE = 100_000


def phantom_seed(run_seed: int, split: str, index: int) -> int:
    """The seed of phantom ``index`` (0-based) of subject set ``split`` in a run seeded
    ``run_seed``: the workflow and ``binn bench register`` make the same phantoms."""
    return run_seed * PHANTOM_SEED_STRIDE + PHANTOM_SEED_OFFSET[split] + index
