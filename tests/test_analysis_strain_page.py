"""The strain page explains itself (binn.analysis.rendering.strain_*): ES and peak values,
1-based frames, time in ms or frames, bull's-eye text colours by luminance, a fixed colour
scale, flagged values with their references, R_VAE said once, the strain definition, and a
size bound on a 30-frame, 10-slice subject."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from binn.analysis.measures.aha import assign_aha
from binn.analysis.measures.reference import (
    NORMAL_BANDS,
    PUBLISHED_NORMALS,
    strain_flags,
)
from binn.analysis.measures.strain import analyse_strain, cine_frame
from binn.analysis.rendering.strain_figures import (
    WALLS,
    bullseye_figure,
    relative_luminance,
    text_colour,
)
from binn.analysis.rendering.strain_pages import write_strain_outputs
from binn.analysis.rendering.strain_view import FIXED_SCALE_PCT, strain_view
from binn.errors import BinnInputError

T, Z, SIZE = 30, 10, 64
MAX_BYTES = 5_000_000


@pytest.fixture(scope="module")
def subject():
    """A 30-frame, 10-slice phantom on the 64 px grid with MRI-like noise (20 dB)."""
    from binn.register.data.phantom import make_phantom

    return make_phantom(0, frames=T, slices=Z, size=SIZE, snr_db=20.0)


def _analysis(subject, fields=None, es_index=None):
    aha = assign_aha(subject.labels_ed, subject.spacing[1:])
    fields = subject.motion if fields is None else fields
    es = subject.es_index if es_index is None else es_index
    return analyse_strain(subject.name, "demons", "sigma=2", subject.labels_ed,
                          subject.spacing, T, fields, np.arange(T), aha, es_index=es,
                          motion=subject.motion, vae_note="no --vae given")  # fmt: skip


@pytest.fixture(scope="module")
def page(subject, tmp_path_factory):
    """The folder written for the phantom tracked by its own motion, with a frame time."""
    out = tmp_path_factory.mktemp("page") / "strain"
    a = _analysis(subject)
    files = write_strain_outputs(a, subject.images, subject.motion, subject.labels_ed, out,
                                 {"params": {"sigma": 2.0}}, ["a note"], {},
                                 frame_time_ms=32.5)  # fmt: skip
    return a, out, files


def test_folder_of_a_30_frame_10_slice_subject_is_under_5_mb(page):
    _, out, files = page
    assert {f"contours_z{z}.gif" for z in range(Z)} <= {f.name for f in files}
    total = sum(p.stat().st_size for p in out.iterdir())
    assert total < MAX_BYTES, f"{total / 1e6:.2f} MB"
    # the page is self-contained: every figure and GIF inlined
    html = (out / "index.html").read_text()
    assert html.count("data:image/png;base64") == 5
    assert html.count("data:image/gif;base64") == Z


def test_page_gives_es_and_peak_in_ms_with_1_based_frames(page, subject):
    a, out, _ = page
    obj = json.loads((out / "strain.json").read_text())
    es = subject.es_index
    assert obj["es_index"] == es and obj["es_frame"] == es + 1  # Info.cfg numbering
    assert obj["cine_frames"] == list(range(1, T + 1))
    g = obj["global"]
    peak = g["time_to_peak_circ_frame"]
    assert g["peak_circ_cine_frame"] == peak + 1
    assert g["time_to_peak_circ_ms"] == pytest.approx(peak * 32.5)
    assert g["peak_circ_minus_es_frames"] == peak - es
    # the value at ES is the curve at ES; the peak is the curve's minimum
    assert g["circ_strain_es"] == pytest.approx(a.tracked.circ[0, es])
    assert g["peak_circ_strain"] == pytest.approx(a.tracked.circ[0].min())
    assert obj["display"]["time_unit"] == "ms" and obj["frame_time_ms"] == 32.5
    html = (out / "index.html").read_text()
    assert f"ES = frame {es + 1}, {es * 32.5:.0f} ms" in html
    assert "at ES (%)" in html and "peak (%)" in html
    assert f"{100 * g['circ_strain_es']:.1f}" in html
    table = pd.read_csv(out / "strain.csv")
    assert (table["cine_frame"] == table["frame"] + 1).all()
    assert table["time_ms"].to_numpy() == pytest.approx(table["frame"].to_numpy() * 32.5)


def test_page_names_method_definition_references_and_says_r_vae_once(page):
    _, out, _ = page
    html = (out / "index.html").read_text()
    obj = json.loads((out / "strain.json").read_text())
    assert "demons [sigma=2] on 2 mm x 64 px" in html
    assert obj["display"]["method"] == "demons [sigma=2] on 2 mm x 64 px"
    assert obj["strain_definition"]["name"] == "pixel mean"
    assert "Strain (pixel mean)" in html and "not mid-wall, not contour-based" in html
    assert html.count("R_VAE not computed") == 1 and "no --vae given" in html
    assert not any("R_VAE" in n for n in obj["notes"])
    for p in PUBLISHED_NORMALS:
        assert html.count(p.citation.split(",")[0]) >= 1
    assert {p["key"] for p in obj["reference"]["published"]} == {p.key for p in PUBLISHED_NORMALS}
    assert "a note" in html


def test_values_outside_the_normal_range_are_flagged_on_page_and_in_json(subject, tmp_path):
    # twice the phantom's motion: radial beyond 45 %, circumferential beyond -22 %
    a = _analysis(subject, fields=2.0 * subject.motion)
    out = tmp_path / "s"
    write_strain_outputs(a, subject.images, 2.0 * subject.motion, subject.labels_ed, out,
                         {}, [], {})  # fmt: skip
    obj = json.loads((out / "strain.json").read_text())
    flags = {f["what"] for f in obj["reference"]["flags"]}
    assert {"global peak radial", "global peak circumferential"} <= flags
    assert obj["reference"]["within_normal"] is False
    over = [r for r in obj["segments"] if 100 * r["peak_radial_strain"] > 80.0]
    assert over and all(f"segment {r['segment_id']} {r['segment']} peak radial" in flags
                        for r in over)  # fmt: skip
    html = (out / "index.html").read_text()
    assert "Outside the normal range" in html
    assert len(re.findall(r"<td class=flag>", html)) == 2 + len(over)
    assert obj["display"]["time_unit"] == "frames" and obj["frame_time_ms"] is None
    assert "times in frames" in html


def test_strain_flags_bands_and_timing():
    assert strain_flags(29.0, -17.6, {"1 basal anterior": 60.0}) == []
    flags = strain_flags(51.0, -11.5, {"3 basal inferoseptal": 122.0, "4 basal inferior": 79.0},
                         {"radial": 4, "circumferential": -3}, 30)  # fmt: skip
    texts = [f.text() for f in flags]
    assert texts[:3] == [
        "global peak circumferential -11.5 %: expected -22 to -15 %",
        "global peak radial 51.0 %: expected 15 to 45 %",
        "segment 3 basal inferoseptal peak radial 122.0 %: expected at most 80 %",
    ]
    assert texts[3].startswith("global peak radial after ES by 4 frames: expected within 3")
    assert len(flags) == 4  # 3 frames (10 % of a 30-frame cycle) are tolerated
    assert not strain_flags(float("nan"), float("nan"), {"1": float("nan")})
    assert NORMAL_BANDS.global_circ_pct == (-22.0, -15.0)


def test_text_colour_by_luminance():
    assert text_colour((0.0, 0.0, 0.0)) == "white"
    assert text_colour((1.0, 1.0, 1.0)) == "black"
    assert text_colour((0.4, 0.0, 0.05)) == "white"  # dark red
    assert text_colour((0.99, 0.87, 0.82)) == "black"  # pale red
    assert text_colour((0.03, 0.19, 0.42)) == "white"  # dark blue
    # the switch sits where black and white contrast equally (luminance about 0.18)
    assert relative_luminance((0.45, 0.45, 0.45)) < 0.179 < relative_luminance((0.48,) * 3)
    assert text_colour((0.45,) * 3) == "white" and text_colour((0.48,) * 3) == "black"


def test_bullseye_names_walls_reads_on_every_colour_and_keeps_a_fixed_scale(subject, tmp_path):
    import matplotlib

    a = _analysis(subject)
    view = strain_view(a, {}, SIZE)
    values = np.linspace(0.0, 0.6, 16)  # light to dark red on the fixed scale
    drawn = bullseye_figure(values, "radial", "peak radial", view, tmp_path / "b.png")
    assert drawn.limits == FIXED_SCALE_PCT["radial"]
    cmap = matplotlib.colormaps["Reds"]
    faces = [cmap(v / 0.6) for v in values]
    assert drawn.inks == [text_colour(f) for f in faces]
    assert drawn.inks[0] == "black" and drawn.inks[-1] == "white"
    text = " ".join(drawn.texts)
    for wall in (*WALLS.values(), "septal", "lateral"):
        assert wall in text
    assert a.subject in text and "demons [sigma=2]" in text
    # fixed: another subject's larger values keep the limits; per subject they follow
    assert bullseye_figure(2 * values, "radial", "t", view, tmp_path / "c.png").limits == (0, 60)
    own = strain_view(a, {}, SIZE, colour_scale="subject")
    assert bullseye_figure(2 * values, "radial", "t", own, tmp_path / "d.png").limits == (
        pytest.approx(0.0),
        pytest.approx(120.0),
    )
    circ = bullseye_figure(-values / 2, "circ", "t", view, tmp_path / "e.png")
    assert circ.limits == FIXED_SCALE_PCT["circ"] and circ.inks[-1] == "white"


def test_view_frames_follow_the_cine_and_bad_options_are_refused(subject):
    a = _analysis(subject)
    assert cine_frame(0, 30, 5) == 5 and cine_frame(27, 30, 5) == 2
    view = strain_view(a, {}, SIZE, ed_frame=5)
    assert view.frame(0) == 5 and view.x_label.endswith("cine frame 5)")
    assert view.x(np.array([0, 2])).tolist() == [1.0, 3.0]
    assert strain_view(a, {}, SIZE).x_label == "frame (1 = ED, as Info.cfg)"
    with pytest.raises(BinnInputError, match="colour scale"):
        strain_view(a, {}, SIZE, colour_scale="rainbow")
    with pytest.raises(BinnInputError, match="ED frame 31"):
        strain_view(a, {}, SIZE, ed_frame=31)
    with pytest.raises(BinnInputError, match="frame time"):
        strain_view(a, {}, SIZE, frame_time_ms=0.0)


def test_unknown_es_is_said_and_not_marked(subject, tmp_path):
    a = analyse_strain(subject.name, "demons", "", subject.labels_ed, subject.spacing, T,
                       subject.motion, np.arange(T),
                       assign_aha(subject.labels_ed, subject.spacing[1:]))  # fmt: skip
    out = tmp_path / "s"
    write_strain_outputs(a, subject.images, subject.motion, subject.labels_ed, out, {}, [], {})
    obj = json.loads((out / "strain.json").read_text())
    assert obj["es_frame"] is None and obj["global"]["circ_strain_es"] is None
    assert obj["global"]["peak_circ_minus_es_frames"] is None
    assert "ES unknown" in (out / "index.html").read_text()
