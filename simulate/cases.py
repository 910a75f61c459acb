"""Enumerate the simulation cases of a source config block (for the Snakefile and batch runs).

``source`` is one of::

    {"kind": "synthetic", "n_cases": 8, "seed": 0, "size": 96, "spacing_mm": 1.8}
    {"kind": "acdc" | "ukbb", "data_dir": "...", "subjects": [...], "labels": {...}, "size": 96,
     "spacing_mm": 1.5}

``labels`` (optional) maps ``"myocardium"`` and ``"lv_cavity"`` to the values in the files.
``size`` (px) and ``spacing_mm`` (in-plane, mm) are the physical grid; the workflow passes
its top-level ``grid`` to :func:`enumerate_cases`, which overrides the block's values. Real
label maps are resampled to the grid (``binn simulate --spacing-mm``) before the rings are
checked, contoured and meshed. Real-data slices without a closed myocardial ring (on the
grid) are skipped with a logged reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from binn.errors import BinnInputError
from binn.simulate.config import (
    LabelMapRing,
    SimulationRequest,
    SimulationSettings,
    SyntheticRing,
)
from binn.vocabulary import DATA_LAYOUTS, LABEL_CONVENTIONS, read_acdc_info

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaseSpec:
    """One case: its name (``synth_0003``, ``patient001_z05``), its ES ring and, where the
    source fixes it, the grid (``size`` px of ``spacing_mm`` mm)."""

    name: str
    ring: SyntheticRing | LabelMapRing
    size: int | None = None
    spacing_mm: float | None = None

    def cli_args(self) -> list[str]:
        """The ``binn simulate`` arguments that make this case (without ``--out``)."""
        ring = self.ring
        if isinstance(ring, SyntheticRing):
            args = ["--synthetic", str(ring.seed)]
        else:
            args = ["--es-labels", str(ring.es_labels)]
            if ring.ed_labels is not None:
                args += ["--ed-labels", str(ring.ed_labels)]
            args += ["--slice", str(ring.slice_index), "--layout", ring.layout]
            if ring.label_values is not None:
                args += ["--label-values", ",".join(map(str, ring.label_values))]
        if self.size is not None:
            args += ["--size", str(self.size)]
        if self.spacing_mm is not None:
            args += ["--spacing-mm", str(self.spacing_mm)]
        return [*args, "--case", self.name]

    def request(
        self,
        out: Path,
        settings: SimulationSettings | None = None,
        *,
        xdmf: Path | None = None,
        record_failure: bool = False,
    ) -> SimulationRequest:
        """The typed ``binn simulate`` run of this case (what :meth:`cli_args` asks for),
        writing ``out``; the grid is the case's where it has one, else the default grid."""
        grid = {"size": self.size, "spacing_mm": self.spacing_mm}
        return SimulationRequest(
            ring=self.ring,
            out=Path(out),
            settings=settings or SimulationSettings(),
            case=self.name,
            xdmf=xdmf,
            record_failure=record_failure,
            **{k: v for k, v in grid.items() if v is not None},
        )


def enumerate_cases(
    source: dict[str, Any], spacing_mm: float | None = None, size: int | None = None
) -> list[CaseSpec]:
    """All usable cases of ``source``; raise :class:`BinnInputError` when there are none.

    ``spacing_mm`` / ``size``: the physical grid (the workflow's ``grid``); when given they
    replace the block's ``spacing_mm`` / ``size``.
    """
    grid = {"spacing_mm": spacing_mm, "size": size}
    source = {**source, **{k: v for k, v in grid.items() if v is not None}}
    kind = source.get("kind")
    if kind == "synthetic":
        return _synthetic_cases(source)
    if kind in DATA_LAYOUTS:
        return _real_cases(source, kind)
    raise BinnInputError(None, f"unknown case source kind {kind!r} (synthetic, acdc, ukbb)")


def _synthetic_cases(source: dict[str, Any]) -> list[CaseSpec]:
    """``n_cases`` seeds from ``seed`` on whose ED ring fits the image (others are skipped)."""
    from binn.simulate.synthetic import synthetic_ring

    n_cases, seed = int(source.get("n_cases", 8)), int(source.get("seed", 0))
    size, spacing = int(source.get("size", 96)), float(source.get("spacing_mm", 1.8))
    cases: list[CaseSpec] = []
    s = seed
    while len(cases) < n_cases:
        if s - seed > 10 * n_cases + 100:
            raise BinnInputError(None, f"synthetic rings do not fit {size} px at {spacing} mm")
        try:
            synthetic_ring(s, size, spacing)
        except BinnInputError as exc:
            log.info("skipping synthetic seed %d: %s", s, exc.reason)
        else:
            ring = SyntheticRing(s)
            cases.append(CaseSpec(ring.default_case_name(), ring, size, spacing))
        s += 1
    return cases


def _label_values(source: dict[str, Any], kind: str) -> tuple[int, int] | None:
    """``(myocardium, LV cavity)`` of the block's ``labels`` (None: the layout's values)."""
    labels = source.get("labels")
    if not labels:
        return None
    convention = LABEL_CONVENTIONS[kind]
    myo = int(labels.get("myocardium", convention.myocardium))
    return myo, int(labels.get("lv_cavity", convention.lv_cavity))


def _acdc_frames(subject_dir: Path) -> tuple[Path, Path]:
    """ES and ED label files of an ACDC subject, named by its ``Info.cfg`` (1-based frames)."""
    info = read_acdc_info(subject_dir / "Info.cfg")
    name = subject_dir.name
    return (
        subject_dir / f"{name}_frame{info.es:02d}_gt.nii.gz",
        subject_dir / f"{name}_frame{info.ed:02d}_gt.nii.gz",
    )


def _real_cases(source: dict[str, Any], kind: str) -> list[CaseSpec]:
    from binn.nifti import load_label_map
    from binn.simulate.masks import extract_ring

    data_dir = Path(source.get("data_dir", ""))
    if not data_dir.is_dir():
        raise BinnInputError(data_dir, "data directory does not exist")
    subjects = source.get("subjects") or sorted(
        p.name for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    label_values = _label_values(source, kind)
    size = int(source["size"]) if "size" in source else None
    spacing = float(source["spacing_mm"]) if "spacing_mm" in source else None
    cases: list[CaseSpec] = []
    for subject in subjects:
        subject_dir = data_dir / subject
        try:
            if kind == "acdc":
                es_path, ed_path = _acdc_frames(subject_dir)
            else:
                es_path = subject_dir / "label_sa_ES.nii.gz"
                ed_path = subject_dir / "label_sa_ED.nii.gz"
            es, ed = load_label_map(es_path), load_label_map(ed_path)
            es_data = _on_grid(es.data, es.spacing, spacing, es_path)
            ed_data = _on_grid(ed.data, ed.spacing, spacing, ed_path)
        except BinnInputError as exc:
            log.warning("skipping subject %s: %s", subject, exc)
            continue
        for z in range(min(es_data.shape[0], ed_data.shape[0])):
            ring = LabelMapRing(es_path, z, ed_path, kind, label_values)
            try:
                es_cavity, _ = extract_ring(es_data[z], ring.values(), f"{es_path} slice {z}")
                ed_cavity, _ = extract_ring(ed_data[z], ring.values(), f"{ed_path} slice {z}")
            except BinnInputError as exc:
                log.info("skipping %s slice %d: %s", subject, z, exc.reason)
                continue
            if ed_cavity.sum() <= es_cavity.sum():
                log.info("skipping %s slice %d: ED cavity not larger than ES", subject, z)
                continue
            cases.append(CaseSpec(f"{subject}_z{z:02d}", ring, size, spacing))
    if not cases:
        raise BinnInputError(data_dir, f"no usable {kind} slice with a closed myocardial ring")
    return cases


def _on_grid(labels, spacing, spacing_mm: float | None, path: Path):
    """``(Z, H, W)`` labels resampled in-plane to ``spacing_mm`` (unchanged when ``None``)."""
    if spacing_mm is None:
        return labels
    from binn.resample import resample_inplane

    return resample_inplane(labels, spacing[1:], spacing_mm, labels=True, source=path)[0]
