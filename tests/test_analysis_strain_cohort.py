"""``binn bench strain-cohort``: per group and method, the strain of what binn strain reads,
beside the labels' ring-model strain; a broken subject is reported and the others go on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from binn.analysis.commands.bench_strain_cohort import level_peaks
from binn.analysis.measures.aha import SEGMENT_LEVEL
from binn.cli import main
from tests.test_register_data_resample import write_acdc


def test_level_peaks_weight_segments_by_their_pixels():
    t = 3
    radial, circ = np.zeros((17, t)), np.zeros((17, t))
    pixels = np.zeros(17, np.int64)
    basal = [r for r, lv in SEGMENT_LEVEL.items() if lv == "basal"]
    radial[basal[0]], pixels[basal[0]] = [0.0, 0.3, 0.1], 30
    radial[basal[1]], pixels[basal[1]] = [0.0, 0.0, 0.4], 10
    circ[basal[0]] = [0.0, -0.2, 0.0]
    peaks = level_peaks(radial, circ, pixels)
    # weighted mean curve of the basal level: [0, 0.225, 0.175] radial, [0, -0.15, 0] circ
    assert peaks["basal_peak_radial_pct"] == pytest.approx(22.5)
    assert peaks["basal_peak_circ_pct"] == pytest.approx(-15.0)
    assert np.isnan(peaks["mid_peak_radial_pct"])  # no mid segment has pixels


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Two ACDC-layout phantoms in groups NOR and DCM, and one folder without Info.cfg."""
    from binn.register.data.phantom import make_phantom

    root = tmp_path_factory.mktemp("cohort")
    for seed, name, group in ((5, "patient001", "NOR"), (6, "patient002", "DCM")):
        folder = write_acdc(root / name, make_phantom(seed, frames=5, slices=4, size=40,
                                                      spacing_mm=1.5))  # fmt: skip
        info = folder / "Info.cfg"
        info.write_text(info.read_text() + f"Group: {group}\n")
    (root / "patient003").mkdir()
    return root


def test_groups_runs_ring_reference_and_failures(cohort, capsys):
    assert main(["bench", "strain-cohort", "--dir", str(cohort), "--methods", "demons",
                 "--json"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert result["grid"] == {"spacing_mm": 2.0, "size_px": 64}
    assert set(result["summary"]) == {"NOR", "DCM"}
    assert [f["subject"] for f in result["failed"]] == ["patient003"]
    nor = result["summary"]["NOR"]
    assert nor["demons"]["peak_circ_pct"]["n"] == 1 and nor["demons"]["settings"] == ["sigma=2"]
    (row,) = [r for r in result["subjects"] if r["group"] == "NOR"]
    # the phantom contracts: the tracker and the labels both say thickening and shortening
    assert row["peak_radial_pct"] > 0 > row["peak_circ_pct"]
    assert row["ring_radial_pct"] > 0 > row["ring_circ_pct"]
    assert row["peak_circ_pct"] <= row["circ_at_es_pct"]  # a peak is at least the ES value
    ring = nor["labels (ring model)"]["ring_circ_pct"]
    assert ring["n"] == 1 and ring["mean"] == pytest.approx(row["ring_circ_pct"])


def test_group_filter(cohort, capsys):
    assert main(["bench", "strain-cohort", "--dir", str(cohort), "--methods", "demons",
                 "--groups", "DCM", "--json"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert set(result["summary"]) == {"DCM"}
    assert main(["bench", "strain-cohort", "--dir", str(cohort), "--groups", "HCM"]) == 2
