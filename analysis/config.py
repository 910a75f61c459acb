"""The settings and requests of the analysis stage, each default held once.

- :class:`SelectionRule`: ``binn select``'s target (config/schema.yaml's
  ``register.target_abs_det_j_minus_1``);
- :class:`StrainRequest` (one source: :class:`SubjectFolder`, :class:`CineFiles` or
  :class:`TrackedFiles`; :class:`StrainTracking` for a cine to track): ``binn strain``;
- :class:`PairRequest`: ``binn evaluate-pair``;
- :class:`BenchConfig`: ``binn bench register``, at the default run's values (the stages'
  dataclasses and :data:`DEFAULT_SETTINGS`, checked against the workflow's configuration);
- :class:`StrainBenchConfig`: ``binn bench strain``.

The command line (:mod:`binn.analysis.cli`) reads its defaults here and turns parsed options
into these objects; the command functions (:mod:`binn.analysis.commands`) take them. Kept
light (no numpy, pandas or torch), so ``binn --help`` is fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from binn.register.config import PhantomConfig, TrackOptions, TrainConfig
from binn.resample import DEFAULT_SIZE_PX, DEFAULT_SPACING_MM
from binn.vocabulary import AUTO_CONVENTION, PROPOSED_METHOD, classical_methods


@dataclass(frozen=True)
class SelectionRule:
    """The paper's fair-comparison rule (``binn select``): per method, the setting whose
    mean |det J - 1| over the myocardium is nearest ``target``."""

    target: float = 0.1


# --- binn strain ------------------------------------------------------------------------


@dataclass(frozen=True)
class StrainTracking:
    """How ``binn strain`` tracks a cine it loads: ``method`` (default
    :attr:`default_method`, the proposed network) with its ``params`` (``refine*`` options
    for a network; a classical method's unnamed parameters are the validated setting,
    :data:`binn.register.config.VALIDATED_CLASSICAL`), ``model`` (a network's checkpoint;
    None: the shipped model, :mod:`binn.register.pretrained`), ``size``: the square crop
    around the LV in px (None: the network's size, else :attr:`default_size`),
    ``spacing_mm``: the in-plane grid spacing the cine and labels are resampled to (mm; a
    network must have been trained on it), ``batch_size``: frames per network batch."""

    default_size: ClassVar[int] = DEFAULT_SIZE_PX
    default_method: ClassVar[str] = PROPOSED_METHOD

    method: str = PROPOSED_METHOD
    params: dict[str, float] = field(default_factory=dict)
    model: Path | None = None
    size: int | None = None
    batch_size: int = TrackOptions.batch_size
    spacing_mm: float = DEFAULT_SPACING_MM


@dataclass(frozen=True)
class SubjectFolder:
    """A subject folder of ``layout`` (``acdc`` or ``ukbb``: where its files are);
    ``label_convention``: what its label values mean (None: the layout's own)."""

    path: Path
    layout: str
    label_convention: str | None = None


@dataclass(frozen=True)
class CineFiles:
    """A 4D cine and its ED label map on the same grid. ``ed_index``/``es_index``: 0-based
    frame indices (the command line's ``--ed-frame``/``--es-frame`` are 1-based); ``es_index``
    None: the ES frame is unknown (no ES marker in the curves). ``label_convention``: what
    the label values mean (``auto``: decided from the map)."""

    cine: Path
    ed_labels: Path
    ed_index: int = 0
    es_index: int | None = None
    label_convention: str = AUTO_CONVENTION


@dataclass(frozen=True)
class TrackedFiles:
    """A subject file (``binn phantom``, ``binn import-cine``) and its ``binn track`` output."""

    data: Path
    fields: Path


FIXED_COLOURS, SUBJECT_COLOURS = "fixed", "subject"
COLOUR_SCALES = (FIXED_COLOURS, SUBJECT_COLOURS)
"""Bull's-eye colour scales: ``fixed`` (one scale for every subject) or ``subject``."""


@dataclass(frozen=True)
class StrainRequest:
    """One subject's strain analysis into the folder ``out``.

    ``tracking`` is required for a :class:`SubjectFolder` or :class:`CineFiles` source and
    refused for :class:`TrackedFiles`. ``vae``: VAE checkpoint for R_VAE per frame (None: the
    one a tracking network records, when that file exists); for a method that needs the
    prior (``binn``) it is also the prior of a refinement. ``anterior_angle``: the anterior
    RV insertion angle (screen degrees) instead of the RV label. ``device``: ``auto``,
    ``cpu`` or ``cuda`` (networks; the VAE runs on the CPU under ``auto``). ``force``:
    replace an existing ``out`` (only when it holds nothing but a strain folder's files).
    ``spacing_mm``: for :class:`TrackedFiles`, the grid the subject file must be on (None:
    its own; the VAE is checked against it either way); a tracked source takes it from
    ``tracking``. ``colour_scale``: the bull's-eyes' scale, ``fixed`` (the same for every
    subject, so two subjects compare by colour) or ``subject`` (each scaled to its own values).
    """

    source: SubjectFolder | CineFiles | TrackedFiles
    out: Path
    tracking: StrainTracking | None = None
    vae: Path | None = None
    anterior_angle: float | None = None
    device: str = TrackOptions.device
    force: bool = False
    spacing_mm: float | None = None
    colour_scale: str = FIXED_COLOURS


# --- binn evaluate-pair -------------------------------------------------------------------


@dataclass(frozen=True)
class PairRequest:
    """One ED/ES pair to register and score.

    The ED (``fixed_*``) and ES (``moving_*``) image and label stacks (3D NIfTI, one grid);
    ``method`` with its ``params`` (``refine*`` options for a network) and ``model`` (a
    network's checkpoint; it must have been trained on ``spacing_mm``; a classical method's
    unnamed parameters are the validated setting); ``size``: the crop in px (None: the
    network's size, else the default grid's); ``spacing_mm``: the in-plane spacing the
    stacks are resampled to;
    ``label_convention``: what the label values mean (``auto``, ``acdc``, ``ukbb``);
    ``options``: batch size, device, threads and the VAE of a ``binn`` refinement.
    """

    fixed_image: Path
    fixed_labels: Path
    moving_image: Path
    moving_labels: Path
    method: str
    params: dict[str, float] = field(default_factory=dict)
    model: Path | None = None
    size: int | None = None
    spacing_mm: float = DEFAULT_SPACING_MM
    label_convention: str = AUTO_CONVENTION
    options: TrackOptions = field(default_factory=TrackOptions)


# --- benchmarks ---------------------------------------------------------------------------

DEFAULT_SETTINGS: dict[str, tuple[str, ...]] = {
    "binn": ("alpha=0.0025", "alpha=0.01", "alpha=0.025", "alpha=0.1", "alpha=0.01,refine=50"),
    "l2": ("lam=0.001", "lam=0.01", "lam=0.1", "lam=0.1,refine=50"),
    "demons": ("sigma=1", "sigma=1.5", "sigma=2"),
    "ffd": ("grid=8,penalty=0.01", "grid=8,penalty=0.1"),
}
"""The settings each method chooses among in the default run (``register.<method>``)."""

DEFAULT_SUBJECTS: dict[str, int] = {"train": 8, "val": 3, "test": 4}
"""Phantom subjects per split in the default run (``phantom.n_train``/``n_val``/``n_test``)."""


@dataclass(frozen=True)
class BenchConfig:
    """One ``binn bench register`` run (:mod:`binn.analysis.commands.bench_register`).

    ``settings``: method -> the settings to choose among on validation; ``target``: the
    selection rule's mean |det J - 1|; the phantoms (family A): ``size`` px, ``spacing_mm``
    mm, ``frames``, ``slices``, ``snr_db`` dB, ``subjects`` per split; the networks:
    ``steps``, ``lr``, ``width``, ``batch_size``, ``val_every`` (as ``binn train-reg``),
    ``seed``, ``device``; ``threads``: torch threads and classical pairs registered at once
    (speed only); ``vae``: the VAE of ``binn`` (None: one trained here on ``vae_cases``
    simulations for ``vae_epochs`` epochs, None: ``binn train-vae``'s default);
    ``work_dir``: where the simulations, the VAE and the networks are kept for reuse (None:
    a temporary folder).
    """

    settings: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_SETTINGS))
    target: float = SelectionRule.target
    size: int = PhantomConfig.size
    spacing_mm: float = PhantomConfig.spacing_mm
    frames: int = PhantomConfig.frames
    slices: int = PhantomConfig.slices
    snr_db: float = PhantomConfig.snr_db
    subjects: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SUBJECTS))
    steps: int = TrainConfig.steps
    lr: float = TrainConfig.lr
    width: float = TrainConfig.width
    batch_size: int = TrainConfig.batch_size
    val_every: int = TrainConfig.val_every
    threads: int = 2
    vae: Path | None = None
    vae_cases: int = 12
    vae_epochs: int | None = None
    seed: int = TrainConfig.seed
    device: str = TrainConfig.device
    work_dir: Path | None = None


@dataclass(frozen=True)
class CohortStrainBenchConfig:
    """One ``binn bench strain-cohort`` run (:mod:`binn.analysis.commands.bench_strain_cohort`):
    every subject folder of ``data_dir`` (``layout``) whose group is in ``groups`` (None:
    all), resampled to the grid (``spacing_mm``, ``size``), tracked over the whole cycle by
    the classical ``methods`` at their validated settings and by each network of ``models``
    (method -> checkpoint), raw and, when ``refine`` > 0, refined by that many steps and,
    when ``adapt`` > 0, adapted to each subject by that many steps (:mod:`register.adapt`);
    ``limit``: at most this many subjects per group (None: all); ``device``: networks'."""

    data_dir: Path
    layout: str = "acdc"
    groups: tuple[str, ...] | None = None
    methods: tuple[str, ...] = field(default_factory=classical_methods)
    models: dict[str, Path] = field(default_factory=dict)
    refine: int = 0
    adapt: int = 0
    spacing_mm: float = DEFAULT_SPACING_MM
    size: int = DEFAULT_SIZE_PX
    limit: int | None = None
    device: str = TrackOptions.device


@dataclass(frozen=True)
class StrainBenchConfig:
    """One ``binn bench strain`` run (:mod:`binn.analysis.commands.bench_strain`):
    ``subjects`` held-out phantoms of ``family`` with ``frames`` frames and ``slices``
    slices, ``size`` px (a network's size wins), seeds from ``seed``; tracked by the
    classical ``methods`` at their defaults and by each network of ``models`` (method ->
    checkpoint) on ``device``."""

    subjects: int = 8
    family: str = PhantomConfig.family
    frames: int = 10
    slices: int = PhantomConfig.slices
    size: int = DEFAULT_SIZE_PX
    methods: tuple[str, ...] = field(default_factory=classical_methods)
    models: dict[str, Path] = field(default_factory=dict)
    seed: int = 0
    device: str = TrackOptions.device
