"""Published strain values that binn's outputs are compared with: the one place for them.

Every constant here is **quoted, not computed**, with its citation. Strain in percent
(radial positive = thickening, circumferential negative = shortening), peak systolic values
of the left ventricle from short-axis images.

- :data:`FEATURE_TRACKING_HEALTHY`: CMR feature tracking in healthy adults, full short-axis
  coverage, global peak values (Lim et al. 2021).
- :data:`TAGGING_MESA`: tagged CMR (HARP) in the MESA cohort free of cardiovascular risk
  factors; circumferential only, the range over levels (Venkatesh et al. 2015).
- :data:`DEEPSTRAIN_ACDC_NOR`: a deep-learning tracker on the ACDC normal subjects
  (Morales et al. 2021).
- :data:`PAPER_REFERENCE_STRAIN_PCT`: tagged MRI of a UK Biobank cohort per slice level, as
  printed in Qin et al. 2020 (the paper binn reproduces), Table 2, column "Reference [11]".

:data:`NORMAL_BANDS` are the ranges a strain page flags values against: the global peaks of
a normal heart (circumferential -22 to -15 %, radial 15 to 45 %, about the feature-tracking
mean ± 2-3 sd and covering the tagging and DeepStrain means) and no AHA segment above 80 %
radial. They describe normal hearts: a value outside them is expected in disease, and on a
normal heart it points at the tracking.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedStrain:
    """Peak strain of one published cohort, percent.

    ``radial_pct``/``circ_pct``: ``(mean, sd)`` or ``None`` when not reported;
    ``circ_range_pct``: ``(low, high)`` when the source gives a range instead.
    """

    key: str
    label: str
    technique: str
    population: str
    n: int | None
    radial_pct: tuple[float, float] | None
    circ_pct: tuple[float, float] | None
    circ_range_pct: tuple[float, float] | None
    citation: str

    def text(self) -> str:
        """One line: label, values and cohort, e.g. for a page's reference list."""
        parts = []
        if self.circ_pct is not None:
            parts.append(f"circumferential {self.circ_pct[0]:.1f} ± {self.circ_pct[1]:.1f} %")
        if self.circ_range_pct is not None:
            lo, hi = self.circ_range_pct
            parts.append(f"circumferential {lo:g} to {hi:g} %")
        if self.radial_pct is not None:
            parts.append(f"radial {self.radial_pct[0]:.1f} ± {self.radial_pct[1]:.1f} %")
        n = f", n = {self.n}" if self.n else ""
        return f"{self.label} ({self.population}{n}): {', '.join(parts)}. {self.citation}"


FEATURE_TRACKING_HEALTHY = PublishedStrain(
    key="lim2021_feature_tracking",
    label="CMR feature tracking",
    technique="cine SSFP feature tracking (CVI42), full short-axis coverage",
    population="healthy adults",
    n=67,
    radial_pct=(29.1, 4.8),
    circ_pct=(-17.6, 1.8),
    circ_range_pct=None,
    citation="Lim C et al., Quantification of myocardial strain assessed by cardiovascular "
    "magnetic resonance feature tracking in healthy subjects - influence of segmentation and "
    "analysis software. Eur Radiol 2021;31:3962-3972, doi:10.1007/s00330-020-07539-5",
)
TAGGING_MESA = PublishedStrain(
    key="venkatesh2015_mesa_tagging",
    label="tagged CMR (MESA)",
    technique="tagged CMR (SPAMM), HARP",
    population="adults free of cardiovascular risk factors",
    n=129,
    radial_pct=None,
    circ_pct=None,
    circ_range_pct=(-21.0, -13.0),  # normative prediction intervals by age and sex
    citation="Venkatesh BA et al., Regional myocardial functional patterns: quantitative "
    "tagged magnetic resonance imaging in an adult population free of cardiovascular risk "
    "factors: the Multi-Ethnic Study of Atherosclerosis (MESA). J Magn Reson Imaging "
    "2015;42:153-159, doi:10.1002/jmri.24749",
)
DEEPSTRAIN_ACDC_NOR = PublishedStrain(
    key="morales2021_deepstrain",
    label="DeepStrain on ACDC",
    technique="deep-learning tracking of cine SSFP",
    population="ACDC normal subjects",
    n=None,
    radial_pct=(24.5, 3.0),
    circ_pct=(-17.8, 1.6),
    circ_range_pct=None,
    citation="Morales MA et al., DeepStrain: a deep learning workflow for the automated "
    "characterization of cardiac mechanics. Front Cardiovasc Med 2021;8:730316, "
    "doi:10.3389/fcvm.2021.730316",
)
PUBLISHED_NORMALS = (FEATURE_TRACKING_HEALTHY, TAGGING_MESA, DEEPSTRAIN_ACDC_NOR)

PAPER_REFERENCE_LABEL = "Reference [11] (tagged MRI, quoted from Qin et al. 2020 Table 2)"
PAPER_REFERENCE_CITATION = (
    "Qin C et al., Biomechanics-informed neural networks for myocardial motion tracking in "
    "MRI. MICCAI 2020, Table 2, column 'Reference [11]' (tagged MRI, UK Biobank)"
)
# Peak strain (%) per level: (radial RR, circumferential CC). Quoted, not computed by binn.
PAPER_REFERENCE_STRAIN_PCT: dict[str, tuple[float, float]] = {
    "apical": (18.7, -20.8),
    "mid": (23.1, -19.6),
    "basal": (23.8, -16.7),
}


@dataclass(frozen=True)
class NormalBands:
    """Ranges of a normal heart's peak strain, percent (see the module docstring)."""

    global_circ_pct: tuple[float, float] = (-22.0, -15.0)
    global_radial_pct: tuple[float, float] = (15.0, 45.0)
    segment_radial_max_pct: float = 80.0
    # a global peak further than this fraction of the cycle from the labelled ES is flagged
    peak_es_tolerance_cycle: float = 0.1

    def text(self) -> str:
        """The bands in one line."""
        (c0, c1), (r0, r1) = self.global_circ_pct, self.global_radial_pct
        return (
            f"global peak circumferential {c0:g} to {c1:g} %, global peak radial {r0:g} to "
            f"{r1:g} %, no segment above {self.segment_radial_max_pct:g} % radial"
        )


NORMAL_BANDS = NormalBands()


@dataclass(frozen=True)
class StrainFlag:
    """One value outside :data:`NORMAL_BANDS`: ``what`` it is (``global peak radial``,
    ``segment 3 basal inferoseptal peak radial``, ``global peak circumferential timing``),
    its ``value`` (percent, or frames for timing), the ``expected`` range in words."""

    what: str
    value: float
    unit: str
    expected: str

    def text(self) -> str:
        """``global peak radial 51.0 %: expected 15 to 45 %`` (frames as whole numbers)."""
        value = f"{self.value:.0f}" if self.unit == "frames" else f"{self.value:.1f}"
        return f"{self.what} {value} {self.unit}: expected {self.expected}"

    def as_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"what": self.what, "value": self.value, "unit": self.unit,
                "expected": self.expected, "text": self.text()}  # fmt: skip


def _outside(value: float, band: tuple[float, float]) -> bool:
    return math.isfinite(value) and not band[0] <= value <= band[1]


def strain_flags(
    global_radial_pct: float,
    global_circ_pct: float,
    segment_radial_pct: Mapping[str, float],
    peak_offsets_frames: Mapping[str, int | None] | None = None,
    n_frames: int | None = None,
    bands: NormalBands = NORMAL_BANDS,
) -> list[StrainFlag]:
    """The values of one strain analysis outside ``bands``.

    ``global_radial_pct``/``global_circ_pct``: global peaks (percent, NaN = unknown);
    ``segment_radial_pct``: segment label -> peak radial (percent); ``peak_offsets_frames``:
    ``radial``/``circumferential`` -> frames from the labelled ES to the global peak
    (``None`` unknown) of an ``n_frames`` cycle. NaN values are never flagged.
    """
    flags = []
    r0, r1 = bands.global_radial_pct
    c0, c1 = bands.global_circ_pct
    if _outside(global_circ_pct, bands.global_circ_pct):
        flags.append(StrainFlag("global peak circumferential", global_circ_pct, "%",
                                f"{c0:g} to {c1:g} %"))  # fmt: skip
    if _outside(global_radial_pct, bands.global_radial_pct):
        flags.append(StrainFlag("global peak radial", global_radial_pct, "%",
                                f"{r0:g} to {r1:g} %"))  # fmt: skip
    for label, value in segment_radial_pct.items():
        if math.isfinite(value) and value > bands.segment_radial_max_pct:
            flags.append(StrainFlag(f"segment {label} peak radial", value, "%",
                                    f"at most {bands.segment_radial_max_pct:g} %"))  # fmt: skip
    if peak_offsets_frames and n_frames:
        tolerance = max(1, round(bands.peak_es_tolerance_cycle * n_frames))
        for kind, offset in peak_offsets_frames.items():
            if offset is not None and abs(offset) > tolerance:
                flags.append(StrainFlag(
                    f"global peak {kind} {'after' if offset > 0 else 'before'} ES by",
                    float(abs(offset)), "frames", f"within {tolerance} frames of ES "
                    f"({bands.peak_es_tolerance_cycle:.0%} of the {n_frames}-frame cycle)",
                ))  # fmt: skip
    return flags
