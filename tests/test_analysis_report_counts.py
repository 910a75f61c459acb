"""Reports say what they count: Dice with and without the slice pairs whose ES slice holds no
myocardium (with counts, in every caption), and strain as one compact table per group with
an index page instead of one summary row per subject."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from binn.analysis.measures.evaluate import METRIC_COLUMNS, Tracking, evaluate_subject
from binn.analysis.rendering.report import build_report
from binn.analysis.tables.report_tables import comparison_table, es_empty

T = 4


@pytest.fixture(scope="module")
def evaluated():
    """Metrics of two phantoms tracked by their own motion; the apical ES slice of the
    first is emptied (the base left the slice), as on real data."""
    from binn.register.data.phantom import make_phantom

    rows = []
    for seed in (1, 2):
        subject = make_phantom(seed, frames=T, slices=3, size=32)
        if seed == 1:
            labels_es = subject.labels_es.copy()
            labels_es[2][labels_es[2] == 2] = 0
            subject = dataclasses.replace(subject, labels_es=labels_es, labels=None)
        for method in ("l2", "binn"):
            track = Tracking(subject.name, method, "a=1", subject.motion, np.arange(T), 1.0,
                             None)  # fmt: skip
            rows += evaluate_subject(subject, track, "comparison")[0]
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


def test_evaluate_records_whether_the_es_slice_holds_myocardium(evaluated):
    first = evaluated[(evaluated.subject == evaluated.subject.iloc[0])
                      & (evaluated.method == "l2")]  # fmt: skip
    assert first.es_myocardium.tolist() == [1.0, 1.0, 0.0]
    assert first.dice.iloc[2] == 0.0 and np.isnan(first.mcd_mm.iloc[2])
    assert es_empty(evaluated).sum() == 2  # one slice x two methods


def test_table1_gives_dice_with_and_without_empty_es_pairs_and_counts(evaluated):
    csv, view = comparison_table(evaluated)
    row = csv[(csv.method == "l2") & (csv.level == "all")].iloc[0]
    per_subject = evaluated[evaluated.method == "l2"].groupby("subject")["dice"]
    assert row.dice_mean == pytest.approx(per_subject.mean().mean())  # the 0 counts
    kept = evaluated[(evaluated.method == "l2") & (evaluated.es_myocardium == 1)]
    assert row.dice_es_mean == pytest.approx(kept.groupby("subject")["dice"].mean().mean())
    assert row.dice_es_mean > row.dice_mean and row.n_empty_es == 1 and row.n_slices == 6
    apical = csv[(csv.method == "l2") & (csv.level == "apical")].iloc[0]
    assert apical.n_empty_es == 1 and apical.dice_mean == pytest.approx(0.5 * apical.dice_es_mean)
    none = csv[(csv.method == "none") & (csv.level == "all")].iloc[0]
    assert none.n_empty_es == 1  # the unregistered pair counts the same way
    shown = view[(view.Method.str.contains("l2")) & (view.Level == "all")].iloc[0]
    assert shown["Empty ES"] == 1 and shown["Dice excl. empty ES"].startswith(
        f"{row.dice_es_mean:.3f}"
    )
    # a metrics table written before the column existed: the evaluate note decides
    old = evaluated.drop(columns="es_myocardium")
    assert comparison_table(old)[0].n_empty_es.tolist() == csv.n_empty_es.tolist()


def test_every_dice_caption_says_what_it_counts(evaluated, tmp_path):
    metrics = tmp_path / "m.csv"
    sweep = evaluated.assign(experiment="alpha_sweep", method="binn")
    sweep.loc[sweep.index[len(sweep) // 2 :], "setting"] = "a=2"
    pd.concat([evaluated, sweep]).to_csv(metrics, index=False)
    out = tmp_path / "report"
    build_report([metrics], [], [], [], out, tmp_path / "summary.md")
    # 2 subjects x 3 slices; one pair without ES myocardium
    sentence = "the 1 of 6 pairs whose ES slice holds no myocardium"
    for name in ("table1_comparison", "table_alpha_sweep", "regularity_alpha_sweep"):
        assert sentence in (out / f"{name}.md").read_text(), name
    t1 = (out / "table1_comparison.md").read_text()
    assert "Dice excl. empty ES" in t1 and "| Empty ES |" in t1
    summary = (tmp_path / "summary.md").read_text()
    assert "| pairs without ES myocardium |" in summary
    assert "enters it as 0" in summary  # the definitions say it too


def _strain_folder(path, subject: str, radial: float, circ: float, flags: list[str]) -> None:
    path.mkdir(parents=True)
    segs = [{"segment_id": k, "segment": f"seg {k}", "level": "mid", "n_pixels": 10,
             "peak_radial_strain": radial, "peak_circ_strain": circ} for k in (7, 8)]  # fmt: skip
    obj = {"subject": subject, "method": "demons", "setting": "sigma=2", "segments": segs,
           "global": {"segment": "global", "level": "all", "peak_radial_strain": radial,
                      "peak_circ_strain": circ},
           "reference": {"flags": [{"text": f} for f in flags]}}  # fmt: skip
    (path / "strain.json").write_text(json.dumps(obj))
    (path / "index.html").write_text("<html></html>")


def test_strain_summary_is_one_table_per_group_and_an_index(evaluated, tmp_path):
    metrics = tmp_path / "m.csv"
    evaluated.to_csv(metrics, index=False)
    strain = tmp_path / "strain"
    values = {"p1": (0.30, -0.18, []), "p2": (0.20, -0.16, []),
              "p3": (0.50, -0.10, ["global peak radial 50.0 %: expected 15 to 45 %"]),
              "p4": (0.25, -0.20, [])}  # fmt: skip
    for name, (rr, cc, flags) in values.items():
        _strain_folder(strain / name, name, rr, cc, flags)
    split = {"train": ["p1", "p2", "p3"], "test": ["p4"],
             "subjects": {"p1": {"group": "NOR"}, "p2": {"group": "NOR"},
                          "p3": {"group": "DCM"}, "p4": {"group": "none"}}}  # fmt: skip
    (tmp_path / "split.json").write_text(json.dumps(split))
    out = tmp_path / "report"
    build_report([metrics], [], [], [], out, tmp_path / "summary.md",
                 split=tmp_path / "split.json", strain_dirs=[strain])  # fmt: skip
    groups = pd.read_csv(out / "strain_groups.csv")
    nor = groups[(groups.group == "NOR") & (groups.method == "demons")].iloc[0]
    assert nor.n_subjects == 2 and nor.peak_radial_strain_mean_pct == pytest.approx(25.0)
    assert nor.peak_circ_strain_std_pct == pytest.approx(np.std([-18.0, -16.0], ddof=1))
    every = groups[(groups.group == "all") & (groups.method == "demons")].iloc[0]
    assert every.n_subjects == 4 and every.n_within_normal == 3  # p3 was flagged
    assert set(groups.group) == {"DCM", "NOR", "all", "normal (published)"}  # p4: no group
    published = groups[groups.group == "normal (published)"]
    assert published.peak_circ_strain_mean_pct.tolist()[0] == pytest.approx(-17.6)
    summary = (tmp_path / "summary.md").read_text()
    section = summary.split("## Segmental strain", 1)[1].split("## Definitions", 1)[0]
    assert "4 strain pages: [index](report/strain_index.html)" in section
    assert "per pathology group" in section and "2 of 2" in section
    assert "p1" not in section  # no row per subject in the summary
    index = (out / "strain_index.html").read_text()
    assert index.count('href="../strain/') == 4 and "global peak radial 50.0 %" in index
    pages = pd.read_csv(out / "strain_pages.csv")
    assert pages.set_index("subject").loc["p3", "group"] == "DCM"
