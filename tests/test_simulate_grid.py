"""The simulations on the physical grid: synthetic rings drawn in mm, NIfTI rings resampled,
case enumeration passing the grid on, and ``binn bench anatomy``'s measure (no FEM here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from binn.nifti import save_volume
from binn.register.data.anatomy import annulus, ring_measures
from binn.simulate.cases import enumerate_cases
from binn.simulate.masks import load_nifti_ring
from binn.simulate.synthetic import synthetic_ring


def ring_labels(size: int, spacing: float, r_in_mm: float, r_out_mm: float) -> np.ndarray:
    """ACDC labels ``(H, W)`` of a circular ring (radii in mm) centred in the image."""
    yy, xx = (np.mgrid[0:size, 0:size] - (size - 1) / 2.0) * spacing
    r = np.hypot(yy, xx)
    out = np.zeros((size, size), dtype=np.uint8)
    out[r < r_out_mm] = 2
    out[r < r_in_mm] = 3
    return out


def test_ring_measures_of_an_analytic_annulus():
    labels = ring_labels(128, 0.5, 15.0, 24.0)
    m = ring_measures(labels == 3, labels == 2, np.array([0.5, 0.5]))
    assert m["cavity_radius_mm"] == pytest.approx(15.0, abs=0.1)
    assert m["epi_radius_mm"] == pytest.approx(24.0, abs=0.1)
    assert m["wall_mm"] == pytest.approx(9.0, abs=0.15)
    open_ring = labels.copy()
    open_ring[64, 64:] = 3  # a cavity channel through the wall: not a ring
    assert ring_measures(open_ring == 3, open_ring == 2, np.array([0.5, 0.5])) is None
    assert annulus(np.pi * 100.0, np.pi * 44.0)["wall_mm"] == pytest.approx(2.0)


@pytest.mark.parametrize("seed", [3, 7])
def test_synthetic_ring_is_the_same_anatomy_in_mm_on_any_grid(seed):
    coarse, fine = synthetic_ring(seed, 96, 2.0), synthetic_ring(seed, 160, 1.2)
    mc = ring_measures(coarse.cavity, coarse.myocardium, coarse.spacing)
    mf = ring_measures(fine.cavity, fine.myocardium, fine.spacing)
    for key in ("cavity_radius_mm", "wall_mm"):
        assert mc[key] == pytest.approx(mf[key], abs=0.6), key
    assert coarse.target_area_mm2 == pytest.approx(fine.target_area_mm2, rel=0.02)


def test_nifti_ring_resampled_to_the_grid(tmp_path: Path):
    es_path, ed_path = tmp_path / "p_ES_gt.nii.gz", tmp_path / "p_ED_gt.nii.gz"
    save_volume(es_path, ring_labels(100, 1.25, 12.0, 22.0)[None], np.array([10.0, 1.25, 1.25]))
    save_volume(ed_path, ring_labels(100, 1.25, 18.0, 25.0)[None], np.array([10.0, 1.25, 1.25]))
    native = load_nifti_ring(es_path, ed_path, 0, "acdc", (2, 3), size=96)
    ring = load_nifti_ring(es_path, ed_path, 0, "acdc", (2, 3), size=64, spacing_mm=2.0)
    assert np.allclose(ring.spacing, [2.0, 2.0]) and ring.cavity.shape == (64, 64)
    assert set(np.unique(ring.myocardium)) <= {0, 1}
    m, mn = (ring_measures(r.cavity, r.myocardium, r.spacing) for r in (ring, native))
    assert m["cavity_radius_mm"] == pytest.approx(12.0, abs=0.5)
    assert m["wall_mm"] == pytest.approx(mn["wall_mm"], abs=0.6)
    assert ring.target_area_mm2 == pytest.approx(native.target_area_mm2, rel=0.03)
    assert ring.target_area_mm2 == pytest.approx(np.pi * 18.0**2, rel=0.05)


def test_enumerated_cases_carry_the_grid(tmp_path: Path):
    subject = tmp_path / "acdc" / "patient001"
    subject.mkdir(parents=True)
    (subject / "Info.cfg").write_text("ED: 1\nES: 2\n")
    for frame, (r_in, r_out) in ((1, (18.0, 25.0)), (2, (12.0, 22.0))):
        save_volume(
            subject / f"patient001_frame{frame:02d}_gt.nii.gz",
            ring_labels(100, 1.25, r_in, r_out)[None],
            np.array([10.0, 1.25, 1.25]),
        )
    source = {"kind": "acdc", "data_dir": str(tmp_path / "acdc"), "size": 96}
    cases = enumerate_cases(source, spacing_mm=2.0, size=64)
    args = cases[0].cli_args()
    assert args[args.index("--spacing-mm") + 1] == "2.0"
    assert args[args.index("--size") + 1] == "64"
    synth = enumerate_cases({"kind": "synthetic", "n_cases": 2, "seed": 0}, spacing_mm=1.5)
    assert synth[0].cli_args()[synth[0].cli_args().index("--spacing-mm") + 1] == "1.5"


def test_bench_anatomy_cli_reports_every_source(tmp_path: Path, capsys):
    from binn.cli import main

    md = tmp_path / "anatomy.md"
    rc = main(
        [
            "bench",
            "anatomy",
            "--json",
            "--synthetic",
            "4",
            "--phantoms",
            "1",
            "--slices",
            "2",
            "--size",
            "48",
            "--markdown",
            str(md),
        ]
    )
    assert rc == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["grid"] == {"spacing_mm": 2.0, "size": 48}
    for source in ("synthetic", "phantom_A", "phantom_B"):
        for phase in ("ED", "ES"):
            s = result[source][phase]
            assert s["n"] >= 2 and 3.0 < s["wall_mm"]["mean"] < 25.0
    # systole thickens the wall and shrinks the cavity, in every source
    for source in ("synthetic", "phantom_A", "phantom_B"):
        ed, es = result[source]["ED"], result[source]["ES"]
        assert es["wall_mm"]["mean"] > ed["wall_mm"]["mean"]
        assert es["cavity_radius_mm"]["mean"] < ed["cavity_radius_mm"]["mean"]
    assert md.read_text().startswith("| source |")
