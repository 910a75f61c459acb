"""The settings of the registration stage, one frozen dataclass per job, each holding its
defaults once.

The command line (:mod:`binn.register.cli`, :mod:`binn.register.data.cli`) reads its
defaults here, and the library functions take these objects (or their fields) as typed
arguments. The defaults are the workflow's (``config/schema.yaml``: ``grid``, ``phantom``,
``register``, ``real_data``, ``track_threads``), so a command run by hand does what the
default run does; a test checks every field against the schema and the CLI.

Kept light (no numpy arrays, torch or SimpleITK): ``binn --help`` reads these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from binn.errors import BinnInputError
from binn.resample import DEFAULT_SIZE_PX, DEFAULT_SPACING_MM
from binn.vocabulary import format_setting, get_method

PRECISIONS = ("auto", "float32", "bfloat16")
"""Training precisions of the registration network (:func:`register.train.resolve_precision`)."""

PHANTOM_FAMILIES = ("A", "B")
"""The phantom families (:data:`register.data.phantom.FAMILIES`): A normal-like, B
hypertrophic-like."""

TRACK_FRAMES = ("all", "es")
"""Frames a tracking registers to ED: the whole sequence, or the ES frame only."""


VALIDATED_CLASSICAL: dict[str, dict[str, float]] = {
    "demons": {"sigma": 2.0},
    "ffd": {"grid": 8.0, "penalty": 0.1},
}
"""The setting of each classical method that the default run's selection picks on the
default grid (:data:`binn.resample.DEFAULT_SPACING_MM` mm, :data:`binn.resample.DEFAULT_SIZE_PX`
px; ``binn select`` over ``register.demons``/``register.ffd`` of ``config/schema.yaml``).
A user command (``track``, ``strain``, ``evaluate-pair``) runs a classical method with these
unless ``--param`` says otherwise (given parameters win, one by one); the setting used is
recorded in every output. The methods' own defaults (:data:`register.baselines.DEFAULTS`)
fill the parameters not named here."""

VALIDATED_GRID_MM = DEFAULT_SPACING_MM
"""The in-plane spacing (mm) :data:`VALIDATED_CLASSICAL` was chosen on: its settings are in
pixels, so on another spacing they mean another physical smoothing (logged)."""


def validated_settings_text() -> str:
    """The validated classical settings as one phrase, for help texts and messages."""
    return "; ".join(f"{m} {format_setting(p)}" for m, p in VALIDATED_CLASSICAL.items())


def classical_params(method: str, params: dict[str, float] | None = None) -> dict[str, float]:
    """The parameters a user command runs classical ``method`` with: the validated setting
    (:data:`VALIDATED_CLASSICAL`) overridden by the given ``params``. Other methods'
    ``params`` are returned as given."""
    given = dict(params or {})
    return {**VALIDATED_CLASSICAL.get(method, {}), **given}


SHIPPED = "shipped"
"""``train-reg --init`` value naming the shipped model of the method (``pretrained/``)."""


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one registration-network training (stored in the checkpoint).

    ``method``: a network method of :data:`binn.vocabulary.METHODS`; its training weight is
    the field named by the method's ``weight`` (``alpha``: R_VAE of ``binn``; ``lam``:
    ||grad u||^2 of ``l2``). ``width``: channel multiplier of the network (1 = the paper's);
    ``steps``: optimisation steps of ``batch_size`` pairs; ``lr``: Adam learning rate;
    ``val_every``: steps between validations; ``val_pairs``: the fixed, seeded validation
    subsample (all pairs when fewer); ``device``: one of ``auto|cpu|cuda``; ``precision``: one
    of :data:`PRECISIONS` (see :func:`register.train.resolve_precision`); ``init``: a
    checkpoint of the same method, width, size and grid to start from (fine-tuning;
    :data:`SHIPPED` for the shipped model of the method), None for random weights.
    """

    method: str = "l2"
    alpha: float = 1e-3
    lam: float = 0.01
    width: float = 0.25
    steps: int = 300
    batch_size: int = 16
    lr: float = 1e-3
    val_every: int = 100
    val_pairs: int = 1024
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    init: str | None = None

    def weight_name(self) -> str:
        """The field holding this run's training weight (``alpha`` for binn, ``lam`` for l2)."""
        method = get_method(self.method)
        if not method.is_network or not hasattr(self, str(method.weight)):
            raise BinnInputError(None, f"{self.method!r} is not a network method with a weight")
        return str(method.weight)

    def weight(self) -> float:
        """The training weight of this run (``alpha`` or ``lam``)."""
        return float(getattr(self, self.weight_name()))

    def setting(self) -> str:
        """The setting string of this run (``alpha=0.001`` or ``lam=0.01``)."""
        return format_setting({self.weight_name(): self.weight()})


@dataclass(frozen=True)
class TrackOptions:
    """How ``binn track`` (and every command that registers pairs) runs a method.

    ``frames``: one of :data:`TRACK_FRAMES`; ``batch_size``: pairs per network batch;
    ``device``: one of ``auto|cpu|cuda`` (networks and their refinement); ``threads``: pairs a
    classical method registers in parallel (the fields do not depend on it); ``vae``: the
    VAE that refines ``binn`` fields (None: the one the checkpoint records);
    ``spacing_mm``: the in-plane grid spacing (mm) the subjects must be on (None: the one
    they share, checked against a network's recorded grid).
    """

    frames: str = "all"
    batch_size: int = 16
    device: str = "auto"
    threads: int = 1
    vae: Path | None = None
    spacing_mm: float | None = None


@dataclass(frozen=True)
class PhantomConfig:
    """One synthetic cine phantom as the workflow makes it (``binn phantom``).

    ``family``: appearance and motion family (``A`` or ``B``); ``frames``: frames T over one
    cycle; ``slices``: short-axis slices Z (base to apex); ``snr_db``: dB of the blood
    signal over the noise sigma; ``size``: image size H = W (px); ``spacing_mm``: in-plane
    pixel spacing of the grid (mm).
    """

    family: str = "A"
    frames: int = 20
    slices: int = 3
    snr_db: float = 20.0
    size: int = DEFAULT_SIZE_PX
    spacing_mm: float = DEFAULT_SPACING_MM


@dataclass(frozen=True)
class SynthCineConfig:
    """One synthetic training subject as the workflow makes it (``binn synth-cine``):
    ``frames`` T over one cycle, ``slices`` Z (each from one simulated case), on the grid of
    the simulated cases (``spacing_mm`` must be theirs)."""

    frames: int = 20
    slices: int = 3
    spacing_mm: float = DEFAULT_SPACING_MM


@dataclass(frozen=True)
class SplitConfig:
    """A subject-level split of real data (``binn split``): the fractions of the usable
    data-directory subjects that go to validation and test (``test_fraction`` is unused
    with a separate test directory), and the seed of the stratified shuffle."""

    val_fraction: float = 0.2
    test_fraction: float = 0.2
    seed: int = 0


@dataclass(frozen=True)
class AnatomyBenchConfig:
    """``binn bench anatomy``: the LV anatomy of the sources side by side on one grid.

    ``spacing_mm``/``size``: the grid (mm, px); ``n_synthetic`` synthetic rings from seed
    ``synthetic_seed``; ``n_phantoms`` phantoms per family of ``phantom_slices`` slices and
    ``phantom_frames`` frames; ``cases``: simulation records to add; ``acdc``: a folder of
    ACDC patient folders (read on their stored grid).
    """

    spacing_mm: float = DEFAULT_SPACING_MM
    size: int = DEFAULT_SIZE_PX
    n_synthetic: int = 50
    synthetic_seed: int = 1000
    n_phantoms: int = 10
    phantom_slices: int = PhantomConfig.slices
    phantom_frames: int = PhantomConfig.frames
    cases: tuple[Path, ...] = ()
    acdc: Path | None = None
