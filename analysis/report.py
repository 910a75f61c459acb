"""``binn report``: tables, figures and ``summary.md`` from the evaluation files of a run.

Experiments are told apart by the ``experiment`` column: ``comparison`` (Table 1, Table 2,
Fig. 3), ``alpha_sweep`` (Fig. 2 and its table), ``generalisation`` (Table 3). Every file
below is always written (with a line saying so when its experiment has no rows), so the
outputs have fixed names:

``table1_comparison``, ``table2_strain``, ``table3_generalisation``, ``table_alpha_sweep``,
``selections``, ``failed_cases`` (each ``.csv`` and ``.md``), ``fig2_alpha_sweep.png``,
``fig3_detj_cycle.png`` in the output folder, and ``summary.md`` (in the output folder
unless another path is given).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis import figures, tables
from analysis.tables_io import read_csvs, to_markdown, write_csv, write_table
from binn.errors import BinnInputError
from binn.io import write_text
from binn.provenance import code_version
from register.settings import read_selection

log = logging.getLogger(__name__)

METRICS_REQUIRED = ("experiment", "subject", "z", "level", "method", "setting")
CURVES_REQUIRED = ("experiment", "subject", "z", "level", "method", "setting", "frame", "phase")
TABLE_NAMES = {
    "comparison": "table1_comparison",
    "strain": "table2_strain",
    "generalisation": "table3_generalisation",
    "alpha_sweep": "table_alpha_sweep",
    "selections": "selections",
    "failed": "failed_cases",
}
FIG2, FIG3 = "fig2_alpha_sweep.png", "fig3_detj_cycle.png"


def _experiment(table: pd.DataFrame, name: str) -> pd.DataFrame:
    return table[table["experiment"] == name] if len(table) else table


def _read_failed(paths: Sequence[str | Path]) -> pd.DataFrame:
    frames = []
    for path in paths:
        if not Path(path).is_file():
            raise BinnInputError(path, "failed-cases table does not exist")
        try:
            frames.append(pd.read_csv(path))
        except pd.errors.EmptyDataError:
            continue
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise BinnInputError(path, f"not a readable CSV table ({exc})") from exc
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _table_section(
    out_dir: Path, name: str, title: str, csv: pd.DataFrame, view: pd.DataFrame, empty: str
) -> tuple[list[Path], str]:
    """Write ``name.csv``/``.md``; return the paths and the Markdown body for the summary."""
    if view.empty:
        md = f"_{empty}_\n"
        write_csv(out_dir / f"{name}.csv", csv)
        write_text(out_dir / f"{name}.md", f"{title}\n\n{md}")
        return [out_dir / f"{name}.csv", out_dir / f"{name}.md"], md
    paths = write_table(out_dir, name, csv, title)
    write_text(paths[1], f"{title}\n\n{to_markdown(view)}")
    return paths, to_markdown(view)


def _runs_overview(metrics: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for experiment, group in metrics.groupby("experiment", sort=False):
        runs = group.drop_duplicates(["method", "setting"])
        rows.append({
            "experiment": experiment,
            "methods [setting]": ", ".join(
                tables.method_label(m, s) for m, s in zip(runs["method"], runs["setting"],
                                                          strict=True)
            ),
            "subjects": group["subject"].nunique(),
            "slices evaluated": int(group["level"].notna().sum()),
            "slices without myocardium": int(group["level"].isna().sum()),
        })  # fmt: skip
    return pd.DataFrame(rows)


def build_report(
    metrics: Sequence[str | Path],
    curves: Sequence[str | Path],
    failed: Sequence[str | Path],
    selections: Sequence[str | Path],
    out_dir: str | Path,
    summary: str | Path | None = None,
) -> list[Path]:
    """Write every table, figure and the summary; return the paths written."""
    out_dir = Path(out_dir)
    summary_path = Path(summary) if summary is not None else out_dir / "summary.md"
    metric_rows = read_csvs(metrics, METRICS_REQUIRED)
    curve_rows = read_csvs(curves, CURVES_REQUIRED)
    if metric_rows.empty:
        raise BinnInputError(None, "the metrics tables hold no rows: nothing to report")
    written: list[Path] = []
    body: dict[str, str] = {}

    comparison = _experiment(metric_rows, "comparison")
    empty_cmp = "No rows of experiment 'comparison' in the inputs."
    csv, view = tables.comparison_table(comparison) if len(comparison) else (comparison, comparison)
    title = (
        "# Table 1 style: motion-tracking accuracy and volume preservation (test subjects)\n\n"
        "ES myocardium warped to ED; mean (std) over subjects of per-subject level means. "
        "MCD/HD in mm, folds = % of myocardial pixels with det J <= 0, EPE vs ground truth."
    )
    paths, body["table1"] = _table_section(
        out_dir, TABLE_NAMES["comparison"], title, csv, view, empty_cmp
    )
    written += paths

    csv, view = tables.strain_table(comparison) if len(comparison) else (comparison, comparison)
    title = (
        "# Table 2 style: peak Lagrangian strain (%) over the tracked frames\n\n"
        "RR: peak radial (max), CC: peak circumferential (min), ED reference, directions "
        f"from the ED LV cavity centroid. '{tables.REFERENCE_LABEL}' is quoted, not computed; "
        "'ground truth' is the phantoms' known motion; errors are mean |strain - ground "
        "truth| over the frames after ED."
    )
    paths, body["table2"] = _table_section(
        out_dir, TABLE_NAMES["strain"], title, csv, view, empty_cmp
    )
    written += paths

    general = _experiment(metric_rows, "generalisation")
    csv, view = tables.generalisation_table(general) if len(general) else (general, general)
    subjects = sorted(map(str, general["subject"].unique())) if len(general) else []
    shown = ", ".join(subjects[:6]) + (", ..." if len(subjects) > 6 else "")
    title = (
        "# Table 3 style: generalisation to unseen data\n\n"
        f"Models trained on the training phantoms, evaluated on {len(subjects)} "
        f"subject{'s' if len(subjects) != 1 else ''} of another source ({shown})."
    )
    paths, body["table3"] = _table_section(
        out_dir, TABLE_NAMES["generalisation"], title, csv, view,
        "No rows of experiment 'generalisation' in the inputs.",
    )  # fmt: skip
    written += paths

    sweep = _experiment(metric_rows, "alpha_sweep")
    csv, view = tables.alpha_sweep_table(sweep) if len(sweep) else (sweep, sweep)
    paths, body["alpha"] = _table_section(
        out_dir, TABLE_NAMES["alpha_sweep"],
        "# alpha sweep (binn): all slices, mean (std) over subjects", csv, view,
        "No rows of experiment 'alpha_sweep' in the inputs.",
    )  # fmt: skip
    written += paths

    written.append(
        figures.alpha_sweep_figure(_experiment(curve_rows, "alpha_sweep"), out_dir / FIG2)
    )
    fig3, fig3_subject = figures.detj_cycle_figure(
        _experiment(curve_rows, "comparison"), out_dir / FIG3
    )
    written.append(fig3)

    chosen = [read_selection(p) for p in selections]
    sel = tables.selections_table(chosen)
    paths, body["selections"] = _table_section(
        out_dir, TABLE_NAMES["selections"],
        "# Hyperparameters chosen on validation data: mean |det J - 1| nearest the target",
        sel, sel, "No selection files were given.",
    )  # fmt: skip
    written += paths

    failed_rows = _read_failed(failed)
    paths, body["failed"] = _table_section(
        out_dir, TABLE_NAMES["failed"],
        f"# Failed simulation cases: {len(failed_rows)}", failed_rows, failed_rows,
        "No simulation case failed." if failed else "No failed-cases table was given.",
    )  # fmt: skip
    written += paths

    summary_text = _summary(
        metric_rows, body, summary_path, written, fig3_subject, chosen, len(failed_rows)
    )
    write_text(summary_path, summary_text)
    written.append(summary_path)
    log.info("report: wrote %d files to %s", len(written), out_dir)
    return written


def _summary(
    metric_rows: pd.DataFrame,
    body: dict[str, str],
    summary_path: Path,
    written: list[Path],
    fig3_subject: str | None,
    chosen: list[dict],
    n_failed: int,
) -> str:
    def link(path: Path) -> str:
        return os.path.relpath(path, summary_path.parent)

    by_name = {p.name: p for p in written}
    target = {s.get("target") for s in chosen}
    target_text = ", ".join(f"{t:g}" for t in target if isinstance(t, int | float)) or "—"
    selected = "; ".join(f"{tables.method_label(s['method'])}: {s['setting']}" for s in chosen)
    lines = [
        "# binn: reproduction report",
        "",
        f"Code version {code_version()}. Every number here was computed by this run from its "
        "evaluation files; the only constants are the tagged-MRI reference strains, quoted "
        "from the paper's Table 2 and labelled as such. Missing values are shown as `—`.",
        "",
        "## What was run",
        "",
        to_markdown(_runs_overview(metric_rows)),
        (
            f"Hyperparameters chosen on validation data (mean |det J - 1| nearest "
            f"{target_text}): {selected}"
            if chosen
            else "No hyperparameter selection files were given"
        )
        + f" ([details]({link(by_name['selections.md'])})).",
        "",
        f"Failed simulation cases: {n_failed} ([table]({link(by_name['failed_cases.md'])})).",
        "",
        "## Table 1 style: accuracy and volume preservation (comparison)",
        "",
        body["table1"],
        "## Table 2 style: peak strain (%)",
        "",
        body["table2"],
        "## Table 3 style: generalisation",
        "",
        body["table3"],
        "## Fig. 2 style: alpha sweep",
        "",
        body["alpha"],
        f"![alpha sweep]({link(by_name[FIG2])})",
        "",
        "## Fig. 3 style: det J over the cardiac cycle, binn vs l2"
        + (f" (subject {fig3_subject})" if fig3_subject else ""),
        "",
        f"![det J over the cycle]({link(by_name[FIG3])})",
        "",
        "## Definitions",
        "",
        "- Slice levels: the slices holding ED myocardium, ordered base to apex, cut into "
        "thirds (basal, mid, apical); `all` pools them (`analysis/levels.py`).",
        "- Mean (std) over subjects of the per-subject mean over the slices of a level.",
        "- Dice, MCD (symmetric mean contour distance), HD (Hausdorff): ES myocardium warped to "
        "ED with the ES field (nearest neighbour) against the ED myocardium; 'no "
        "registration' compares them unwarped.",
        "- |det J - 1|, folds (det J <= 0): ES field over the ED myocardium.",
        "- Strain: Green-Lagrange E = (F^T F - I)/2 from ED, radial/circumferential about the "
        "ED LV cavity centroid, averaged over the myocardium per frame; peak = max (radial) / "
        "min (circumferential) over the tracked frames.",
        "",
        "## Files",
        "",
        *[f"- [{p.name}]({link(p)})" for p in written],
        "",
    ]
    return "\n".join(lines)
