"""What one simulation is asked to do: its settings (the stage's defaults, once), the ES ring
it starts from and the request that ties them to output files.

Kept light (no numpy, gmsh or dolfinx): the command line reads its defaults here, and the
workflow builds requests at DAG parse (:meth:`binn.simulate.cases.CaseSpec.request`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from binn.resample import DEFAULT_SIZE_PX, DEFAULT_SPACING_MM
from binn.vocabulary import LABEL_CONVENTIONS


@dataclass(frozen=True)
class SimulationSettings:
    """The physics of a simulation; the defaults of ``binn simulate``, ``binn bench simulate``
    and ``binn verify cylinder`` and of config/schema.yaml's ``simulate`` block.

    ``mu_kpa``: neo-Hookean shear modulus (kPa); ``frames``: frames T of the pressure sweep
    from ED (frame 0) to ES (frame T - 1), T >= 2; ``mesh_size_mm``: target quad edge length
    of the ring mesh (mm), refined while the incompressibility error is too large.
    """

    mu_kpa: float = 36.75
    frames: int = 50
    mesh_size_mm: float = 1.5


CYLINDER_MESH_SIZE_MM = 1.0
"""Mesh size (mm) of ``binn verify cylinder``: finer than a case's, to check the FE law."""


@dataclass(frozen=True)
class SyntheticRing:
    """The seeded synthetic ES ring of :func:`binn.simulate.synthetic.synthetic_ring`."""

    seed: int

    def default_case_name(self) -> str:
        return f"synth_{self.seed:04d}"


@dataclass(frozen=True)
class LabelMapRing:
    """The ES ring of slice ``slice_index`` (0-based z, base = 0) of a NIfTI label map.

    ``ed_labels``: the ED label map of the same subject (its cavity area is the ED target;
    or give :attr:`SimulationRequest.ed_area_mm2`). ``layout``: the subject folder layout
    (``acdc``: ``patientXXX_frameNN_gt.nii.gz``; ``ukbb``: ``<subject>/label_sa_ES.nii.gz``),
    which also gives the label values unless ``label_values`` (myocardium, LV cavity) does.
    """

    es_labels: Path
    slice_index: int
    ed_labels: Path | None = None
    layout: str = "acdc"
    label_values: tuple[int, int] | None = None

    def values(self) -> tuple[int, int]:
        """``(myocardium, LV cavity)`` label values in the files."""
        if self.label_values is not None:
            return self.label_values
        convention = LABEL_CONVENTIONS[self.layout]
        return convention.myocardium, convention.lv_cavity

    def default_case_name(self) -> str:
        """``patient001_z05`` for ACDC, ``<subject folder>_z05`` for UK Biobank."""
        path = Path(self.es_labels)
        subject = path.name.split("_")[0] if self.layout == "acdc" else path.parent.name
        return f"{subject}_z{self.slice_index:02d}"


@dataclass(frozen=True)
class SimulationRequest:
    """One ``binn simulate`` run: ring -> mesh -> FEM -> raster -> ``out`` (.npz).

    ``size`` px x ``size`` px of ``spacing_mm`` mm is the raster grid (synthetic rings are
    drawn on it, label maps resampled to it). ``ed_area_mm2``: the ED cavity area target
    (mm^2), replacing the ED label map's or the synthetic ring's. ``case``: the record's name
    (None: :meth:`case_name` derives it from the ring). ``xdmf``: the FE time series (None:
    beside ``out``). ``record_failure``: a failed case becomes a ``status="failed"`` record.
    """

    ring: SyntheticRing | LabelMapRing
    out: Path
    settings: SimulationSettings = field(default_factory=SimulationSettings)
    size: int = DEFAULT_SIZE_PX
    spacing_mm: float = DEFAULT_SPACING_MM
    ed_area_mm2: float | None = None
    case: str | None = None
    xdmf: Path | None = None
    record_failure: bool = False

    def case_name(self) -> str:
        return self.case or self.ring.default_case_name()

    def seed(self) -> int | None:
        """The synthetic seed (the records' provenance seed); None for label maps."""
        return self.ring.seed if isinstance(self.ring, SyntheticRing) else None

    def provenance_config(self) -> dict[str, Any]:
        """What the record's provenance stores as its configuration: the options of the
        ``binn simulate`` line that makes it, those not given left out."""
        ring: dict[str, Any]
        if isinstance(self.ring, SyntheticRing):
            ring = {"synthetic": self.ring.seed}
        else:
            ring = {
                "es_labels": str(self.ring.es_labels),
                "ed_labels": self.ring.ed_labels and str(self.ring.ed_labels),
                "slice": self.ring.slice_index,
                "layout": self.ring.layout,
                "label_values": self.ring.label_values,
            }
        config = {
            **ring,
            "ed_area_mm2": self.ed_area_mm2,
            "mu": self.settings.mu_kpa,
            "frames": self.settings.frames,
            "mesh_size": self.settings.mesh_size_mm,
            "size": self.size,
            "spacing_mm": self.spacing_mm,
        }
        return {k: v for k, v in config.items() if v is not None}
