"""``binn report``: tables, figures and ``summary.md`` from the evaluation files of a run.

Experiments are told apart by the ``experiment`` column: ``comparison`` (Table 1, Table 2,
Fig. 3), ``alpha_sweep`` (Fig. 2 and its table), ``generalisation`` and
``synthetic_generalisation`` (Table 3, one block per training domain), and any
experiment that evaluates several settings of a method (``validation``, a test sweep) for
the equal-regularity comparison (:mod:`binn.analysis.tables.regularity`). Every file below
is always written (with a line saying so when its input is absent), so the outputs have
fixed names:

``table1_comparison``, ``table2_strain``, ``table3_generalisation``, ``table_alpha_sweep``,
``selections``, ``failed_cases``, ``regularity_pairs``, ``split``, ``strain_pages``,
``strain_groups``, ``strain_segments`` (each ``.csv`` and ``.md``), ``strain_index.html``
(every strain page linked), ``fig2_alpha_sweep.png``, ``fig3_detj_cycle.png``,
``fig_regularity.png`` in the output folder, and ``summary.md`` (in the output folder unless
another path is given). Beside them ``regularity_{experiment}`` (``.csv``, ``.md``) for each
experiment of the regularity figure.

Every table with Dice says in its caption which slice pairs it counts: pairs whose ES slice
holds no myocardium (the base moved out of the slice) enter Dice as 0; Tables 1 and 3 and
the alpha sweep give Dice also without them ("Dice excl. empty ES", as the paper's tables
count) and the number of such pairs per row ("Empty ES").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from binn.analysis.measures.reference import NORMAL_BANDS
from binn.analysis.rendering import figures
from binn.analysis.tables import labels, regularity, report_inputs, report_tables, strain_runs
from binn.analysis.tables.io import read_csvs, to_markdown, write_csv, write_table
from binn.errors import BinnInputError
from binn.io import write_text
from binn.provenance import code_version
from binn.register.selection import read_selection
from binn.vocabulary import NO_REGISTRATION, PROPOSED_METHOD, TABLE3_EXPERIMENTS

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
FIG2, FIG3, FIG_REG = "fig2_alpha_sweep.png", "fig3_detj_cycle.png", "fig_regularity.png"
PAIRS, SPLIT, STRAIN_PAGES, STRAIN_SEGMENTS, STRAIN_GROUPS = (
    "regularity_pairs",
    "split",
    "strain_pages",
    "strain_segments",
    "strain_groups",
)
STRAIN_INDEX = "strain_index.html"
DICE_BOTH = (
    f"'{report_tables.DICE_ES_LABEL}' leaves those pairs out, as the paper's tables do; "
    f"'{report_tables.EMPTY_ES_LABEL}' counts them per row."
)
FIRST_EXPERIMENTS = ("validation",)
SELECTED_ACCURACY = ("dice", "mcd_mm", "hd_mm", "epe_mm")


def _experiment(table: pd.DataFrame, name: str) -> pd.DataFrame:
    return table[table["experiment"] == name] if len(table) else table


DOMAIN_WORDS = {
    "phantom": "the training phantoms",
    "synthetic": "the FEM-driven synthetic cine",
}
"""How Table 3's caption names each training domain of :data:`TABLE3_EXPERIMENTS`."""


def _table3_rows(metric_rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of Table 3's experiments, each with the training domain of its networks
    (``trained_on``, :data:`binn.vocabulary.TABLE3_EXPERIMENTS`)."""
    parts = [
        _experiment(metric_rows, name).assign(trained_on=domain)
        for name, domain in TABLE3_EXPERIMENTS.items()
    ]
    parts = [p for p in parts if len(p)]
    if not parts:
        return metric_rows.iloc[:0].assign(trained_on="")
    return pd.concat(parts, ignore_index=True)


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
                labels.method_label(m, s) for m, s in zip(runs["method"], runs["setting"],
                                                          strict=True)
            ),
            "subjects": group["subject"].nunique(),
            "slices evaluated": int(group["level"].notna().sum()),
            "slices without myocardium": int(group["level"].isna().sum()),
            "pairs without ES myocardium": int(report_tables.es_empty(group).sum()),
        })  # fmt: skip
    return pd.DataFrame(rows)


def regularity_experiments(metrics: pd.DataFrame) -> list[str]:
    """Experiments in which some method has two settings or more (``validation`` first)."""
    if metrics.empty:
        return []
    counts = metrics.groupby(["experiment", "method"], sort=False)["setting"].nunique()
    found = list(dict.fromkeys(e for (e, _), n in counts.items() if n >= 2))
    first = [e for e in FIRST_EXPERIMENTS if e in found]
    return first + [e for e in found if e not in first]


def _target(chosen: Sequence[dict]) -> float | None:
    """The selection target when every selection file names the same one."""
    targets = {s.get("target") for s in chosen}
    if len(targets) == 1:
        (t,) = targets
        if isinstance(t, int | float) and not isinstance(t, bool):
            return float(t)
    return None


def _selected_sentences(comparison: pd.DataFrame) -> list[str]:
    """Comparison sentences at the selected settings (level ``all``): the proposed method
    (:data:`binn.vocabulary.PROPOSED_METHOD`) vs each other."""
    rows = comparison[comparison["level"] == "all"] if len(comparison) else comparison
    stats = {}
    for r in rows.to_dict("records"):
        if r["method"] == NO_REGISTRATION:
            continue
        name = labels.setting_info(r["method"], r["setting"]).family
        stats[name] = {
            m: (r[f"{m}_mean"], r[f"{m}_std"], int(r["n_subjects"]))
            for m in (*SELECTED_ACCURACY, regularity.X)
            if f"{m}_mean" in r and pd.notna(r[f"{m}_mean"])
        }
    out = []
    for a in [f for f in stats if f.split("+")[0] == PROPOSED_METHOD]:
        for b in [f for f in stats if f != a]:
            if b.split("+")[0] == PROPOSED_METHOD and b < a:
                continue
            accuracy = [m for m in SELECTED_ACCURACY if m in stats[a] and m in stats[b]]
            out.append(regularity.describe_pair(a, stats[a], b, stats[b], accuracy))
    return out


def build_report(
    metrics: Sequence[str | Path],
    curves: Sequence[str | Path],
    failed: Sequence[str | Path],
    selections: Sequence[str | Path],
    out_dir: str | Path,
    summary: str | Path | None = None,
    *,
    regularity_panels: Sequence[str] | None = None,
    split: str | Path | None = None,
    strain_dirs: Sequence[str | Path] = (),
    configs: Sequence[str | Path] = (),
) -> list[Path]:
    """Write every table, figure and the summary; return the paths written.

    ``regularity_panels``: the experiments of the regularity figure and tables, in
    panel order (default :func:`regularity_experiments`); ``split``: ``split.json`` of the
    data split; ``strain_dirs``: ``binn strain`` folders (or folders of them); ``configs``:
    the configuration files of the run, named and hashed in the summary.
    """
    out_dir = Path(out_dir)
    summary_path = Path(summary) if summary is not None else out_dir / "summary.md"
    metric_rows = read_csvs(metrics, METRICS_REQUIRED)
    curve_rows = read_csvs(curves, CURVES_REQUIRED)
    if metric_rows.empty:
        raise BinnInputError(None, "the metrics tables hold no rows: nothing to report")
    chosen = [read_selection(p) for p in selections]
    config_info = report_inputs.read_configs(configs)
    split_obj = report_inputs.read_split(split) if split is not None else None
    strain_folders = [
        strain_runs.read_strain_run(f) for f in strain_runs.find_strain_folders(strain_dirs)
    ]
    written: list[Path] = []
    body: dict[str, str] = {}

    comparison = _experiment(metric_rows, "comparison")
    empty_cmp = "No rows of experiment 'comparison' in the inputs."
    csv, view = (
        report_tables.comparison_table(comparison) if len(comparison) else (comparison, comparison)
    )
    title = (
        "# Table 1 style: motion-tracking accuracy and volume preservation (test subjects)\n\n"
        "ES myocardium warped to ED; mean ± std over subjects of per-subject level means; "
        "Subjects/Slices: how many are behind each row. "
        "MCD/HD in mm, folds = % of myocardial pixels with det J <= 0, EPE vs ground truth. "
        + (f"{report_tables.dice_caption(comparison)}; {DICE_BOTH}" if len(comparison) else "")
    )
    paths, body["table1"] = _table_section(
        out_dir, TABLE_NAMES["comparison"], title, csv, view, empty_cmp
    )
    written += paths
    selected_sentences = _selected_sentences(csv) if len(comparison) else []

    csv, view = (
        report_tables.strain_table(comparison) if len(comparison) else (comparison, comparison)
    )
    reference = report_tables.REFERENCE_LABEL
    title = (
        "# Table 2 style: peak Lagrangian strain (%) over the tracked frames\n\n"
        "RR: peak radial (max), CC: peak circumferential (min), ED reference, directions "
        f"from the ED LV cavity centroid. '{reference}' is quoted, not computed; "
        "'ground truth' is the phantoms' known motion; errors are mean |strain - ground "
        "truth| over the frames after ED. Mean ± std over subjects."
    )
    paths, body["table2"] = _table_section(
        out_dir, TABLE_NAMES["strain"], title, csv, view, empty_cmp
    )
    written += paths

    general = _table3_rows(metric_rows)
    csv, view = report_tables.generalisation_table(general) if len(general) else (general, general)
    subjects = sorted(map(str, general["subject"].unique())) if len(general) else []
    shown = ", ".join(subjects[:6]) + (", ..." if len(subjects) > 6 else "")
    domains = " and ".join(DOMAIN_WORDS[d] for d in general["trained_on"].unique()) or "—"
    title = (
        "# Table 3 style: generalisation to unseen data\n\n"
        f"Models trained on {domains}, evaluated on {len(subjects)} "
        f"subject{'s' if len(subjects) != 1 else ''} of another source ({shown}); "
        "mean ± std over subjects. "
        + (f"{report_tables.dice_caption(general)}; {DICE_BOTH}" if len(general) else "")
    )
    paths, body["table3"] = _table_section(
        out_dir, TABLE_NAMES["generalisation"], title, csv, view,
        f"No rows of experiments {' / '.join(map(repr, TABLE3_EXPERIMENTS))} in the inputs.",
    )  # fmt: skip
    written += paths

    sweep = _experiment(metric_rows, "alpha_sweep")
    csv, view = report_tables.alpha_sweep_table(sweep) if len(sweep) else (sweep, sweep)
    alpha_title = "# alpha sweep (binn): all slices, mean ± std over subjects"
    if len(sweep):
        alpha_title += f"\n\n{report_tables.dice_caption(sweep)}; {DICE_BOTH}"
    paths, body["alpha"] = _table_section(
        out_dir, TABLE_NAMES["alpha_sweep"], alpha_title, csv, view,
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

    target = _target(chosen)
    reg_paths, reg_body, reg_sentences = _regularity_section(
        metric_rows, chosen, target, out_dir, regularity_panels
    )
    written += reg_paths
    body.update(reg_body)

    sel_csv, sel_view = report_tables.selections_table(chosen)
    paths, body["selections"] = _table_section(
        out_dir, TABLE_NAMES["selections"],
        "# Hyperparameters chosen on validation data: mean |det J - 1| nearest the target\n\n"
        "Mean ± std over the validation slices the rule averages; Dice counts every "
        "validation slice pair, a pair whose ES slice holds no myocardium as 0.",
        sel_csv, sel_view if len(sel_csv) else sel_csv, "No selection files were given.",
    )  # fmt: skip
    written += paths

    failed_rows = _read_failed(failed)
    paths, body["failed"] = _table_section(
        out_dir, TABLE_NAMES["failed"],
        f"# Failed simulation cases: {len(failed_rows)}", failed_rows, failed_rows,
        "No simulation case failed." if failed else "No failed-cases table was given.",
    )  # fmt: skip
    written += paths

    paths, body["split"] = _split_section(split, split_obj, out_dir)
    written += paths
    groups = split_obj["groups"] if split_obj is not None else {}
    paths, body["strain"] = _strain_section(strain_folders, out_dir, summary_path, groups)
    written += paths

    versions = _input_versions(chosen, split_obj, strain_folders)
    summary_text = _summary(
        _SummaryInputs(
            metric_rows=metric_rows, body=body, summary_path=summary_path, written=written,
            fig3_subject=fig3_subject, chosen=chosen, n_failed=len(failed_rows),
            configs=config_info, input_versions=versions,
            selected_sentences=selected_sentences, regularity_sentences=reg_sentences,
            split=split_obj,
        )
    )  # fmt: skip
    write_text(summary_path, summary_text)
    written.append(summary_path)
    log.info("report: wrote %d files to %s", len(written), out_dir)
    return written


def _regularity_section(
    metric_rows: pd.DataFrame,
    chosen: Sequence[dict],
    target: float | None,
    out_dir: Path,
    experiments: Sequence[str] | None,
) -> tuple[list[Path], dict[str, str], list[str]]:
    """``regularity_{experiment}``, ``regularity_pairs`` and ``fig_regularity.png``."""
    experiments = (
        list(experiments) if experiments is not None else (regularity_experiments(metric_rows))
    )
    present = set(metric_rows["experiment"].astype(str))
    unknown = [e for e in experiments if e not in present]
    if unknown:
        raise BinnInputError(None, f"regularity experiments {unknown} have no metrics rows")
    selected = [labels.setting_info(str(s["method"]), s["setting"]) for s in chosen]
    written: list[Path] = []
    per_exp: dict[str, pd.DataFrame] = {}
    md_parts: list[str] = []
    pair_tables, sentences = [], []
    for experiment in experiments:
        rows = _experiment(metric_rows, experiment)
        table = regularity.regularity_table(rows, selected)
        per_exp[experiment] = table
        name = f"regularity_{experiment}"
        title = (
            f"# Accuracy against mean |det J - 1| over every setting: {experiment}\n\n"
            "Level all; mean ± std over subjects of per-subject means over evaluable slices; "
            "families ordered by their most regular setting; `selected` = chosen on "
            f"validation data. {report_tables.dice_caption(rows)}."
        )
        paths, md = _table_section(
            out_dir, name, title, table, regularity.regularity_view(table),
            f"No rows of experiment '{experiment}'.",
        )  # fmt: skip
        written += paths
        md_parts.append(f"### {experiment}\n\n{md}")
        pairs = regularity.compare_at_equal_regularity(rows, target)
        if len(pairs):
            pair_tables.append(pairs.assign(experiment=experiment))
            sentences += regularity.pair_sentences(pairs, experiment)
    pairs = pd.concat(pair_tables, ignore_index=True) if pair_tables else pd.DataFrame()
    if len(pairs):
        pairs = pairs[["experiment", *[c for c in pairs.columns if c != "experiment"]]]
        view = regularity.pairs_view(pairs).assign(experiment=pairs["experiment"])
        view = view[["experiment", *[c for c in view.columns if c != "experiment"]]]
    else:
        view = pairs
    title = (
        "# Pairs of methods at equal regularity\n\n"
        "Each method's curve (its settings ordered by mean |det J - 1|, linear between them) "
        "is read at a common mean |det J - 1|: the selection target when both curves cover "
        "it, else the midpoint of the range both cover; a pair whose ranges do not overlap "
        "is not compared (no extrapolation). Values: mean ± std over subjects (n), the "
        "same interpolation weights applied per subject; A - B paired over shared subjects. "
        "Dice as in the tables above: every slice pair, a pair whose ES slice holds no "
        "myocardium as 0."
    )
    paths, pairs_md = _table_section(
        out_dir, PAIRS, title, pairs, view, "No experiment with two methods' settings to compare."
    )
    written += paths
    written.append(figures.regularity_figure(per_exp, out_dir / FIG_REG, target))
    body = {"regularity": "\n".join(md_parts), "pairs": pairs_md}
    return written, body, sentences


def _split_section(
    path: str | Path | None, split: dict | None, out_dir: Path
) -> tuple[list[Path], str]:
    if split is None:
        md = "_No split file was given._\n"
        write_csv(out_dir / f"{SPLIT}.csv", pd.DataFrame())
        write_text(out_dir / f"{SPLIT}.md", f"# Data split\n\n{md}")
        return [out_dir / f"{SPLIT}.csv", out_dir / f"{SPLIT}.md"], md
    counts, excluded = report_inputs.split_tables(split)
    seed = split.get("seed")
    md = (
        f"Subjects per split and group, from `{Path(path).name}`"
        + (f" (seed {seed})" if seed is not None else "")
        + ":\n\n"
        + to_markdown(counts)
        + f"\nExcluded subjects: {len(excluded)}.\n\n"
        + (to_markdown(excluded) if len(excluded) else "")
    )
    write_csv(out_dir / f"{SPLIT}.csv", counts)
    write_csv(out_dir / f"{SPLIT}_excluded.csv", excluded)
    write_text(out_dir / f"{SPLIT}.md", f"# Data split\n\n{md}")
    return [out_dir / f"{SPLIT}.csv", out_dir / f"{SPLIT}_excluded.csv",
            out_dir / f"{SPLIT}.md"], md  # fmt: skip


def _strain_section(
    runs: Sequence[strain_runs.StrainRun],
    out_dir: Path,
    summary_path: Path,
    groups: dict[str, str],
) -> tuple[list[Path], str]:
    """``strain_pages`` and ``strain_index.html`` (every page, links relative to the report
    folder), ``strain_groups`` (per pathology group and method) and ``strain_segments``
    (per level); the summary gets the group and level tables and a link to the index."""
    written = []
    links = strain_runs.strain_links(runs, out_dir, groups)
    paths, _ = _table_section(
        out_dir, STRAIN_PAGES, "# Strain pages (binn strain), one per subject and method",
        links, links, "No strain folders were given.",
    )  # fmt: skip
    written += paths
    write_text(out_dir / STRAIN_INDEX, strain_runs.strain_index_html(runs, out_dir, groups))
    written.append(out_dir / STRAIN_INDEX)
    csv, view = strain_runs.strain_group_table(runs, groups)
    grouped = (
        "per pathology group (from the split) and"
        if any(g != "all" for g in csv["group"] if g != strain_runs.PUBLISHED_GROUP)
        else "over all subjects (no pathology groups known) per"
    )
    title = (
        f"# Global peak strain (%) {grouped} method (binn strain)\n\n"
        "Mean ± std over subjects of the global peak radial (RR, max) and circumferential "
        "(CC, min) strain; 'in normal range': subjects whose page flags nothing "
        f"({NORMAL_BANDS.text()}). Rows '(quoted)' are published normal values, not computed."
    )
    paths, groups_md = _table_section(
        out_dir, STRAIN_GROUPS, title, csv, view if len(runs) else csv,
        "No strain folders were given.",
    )  # fmt: skip
    written += paths
    csv, view = strain_runs.strain_level_table(runs)
    title = (
        "# Peak segmental strain (%) per level (AHA segments, binn strain)\n\n"
        "Per subject the peaks of a level's segments are averaged; mean ± std over subjects. "
        f"'{report_tables.REFERENCE_LABEL}' is quoted, not computed."
    )
    paths, levels_md = _table_section(
        out_dir, STRAIN_SEGMENTS, title, csv, view, "No strain folders were given."
    )
    written += paths
    index = os.path.relpath(out_dir / STRAIN_INDEX, summary_path.parent)
    pages = os.path.relpath(out_dir / f"{STRAIN_PAGES}.md", summary_path.parent)
    md = (
        f"{len(runs)} strain pages: [index]({index}) ([table]({pages})).\n\n"
        + (f"Global peaks {grouped} method:\n\n" if len(runs) else "")
        + groups_md
        + "\nPer slice level:\n\n"
        + levels_md
    )
    return written, md


def _input_versions(
    chosen: Sequence[dict], split: dict | None, strain: Sequence[strain_runs.StrainRun]
) -> dict[str, list[str]]:
    """Code versions recorded in the inputs' provenance -> which inputs carry each."""
    found: dict[str, list[str]] = {}
    for sel in chosen:
        v = (sel.get("provenance") or {}).get("code_version")
        if v:
            found.setdefault(v, []).append(f"selection {sel['method']}")
    if split is not None and (split.get("provenance") or {}).get("code_version"):
        found.setdefault(split["provenance"]["code_version"], []).append("split")
    for run in strain:
        if run.code_version:
            found.setdefault(run.code_version, []).append(f"strain {run.subject}")
    return found


@dataclass
class _SummaryInputs:
    metric_rows: pd.DataFrame
    body: dict[str, str]
    summary_path: Path
    written: list[Path]
    fig3_subject: str | None
    chosen: list[dict]
    n_failed: int
    configs: list[report_inputs.ConfigInfo]
    input_versions: dict[str, list[str]]
    selected_sentences: list[str]
    regularity_sentences: list[str]
    split: dict | None


def _provenance_lines(s: _SummaryInputs) -> list[str]:
    version = code_version()
    commit = version.partition("+g")[2] or "unknown (not a git checkout)"
    lines = [
        f"Measured at code version `{version}` (git commit `{commit}`; `.dirty` = uncommitted "
        "changes were present when the report was made)."
    ]
    if s.configs:
        lines.append(
            "Configuration: "
            + ", ".join(f"`{c.path}` (config hash `{c.hash}`)" for c in s.configs)
            + "."
        )
    else:
        lines.append("Configuration: not given to the report (`--config`).")
    others = {v: who for v, who in s.input_versions.items() if v != version}
    if others:
        lines.append(
            "Inputs written at other code versions: "
            + "; ".join(f"`{v}`: {', '.join(who)}" for v, who in others.items())
            + "."
        )
    return [" ".join(lines), ""]


def _summary(s: _SummaryInputs) -> str:
    def link(path: Path) -> str:
        return os.path.relpath(path, s.summary_path.parent)

    by_name = {p.name: p for p in s.written}
    target = {c.get("target") for c in s.chosen}
    target_text = ", ".join(f"{t:g}" for t in target if isinstance(t, int | float)) or "—"
    selected = "; ".join(f"{labels.method_label(c['method'])}: {c['setting']}" for c in s.chosen)
    bullets = lambda items: [f"- {t}" for t in items] + ([""] if items else [])  # noqa: E731
    lines = [
        "# binn: reproduction report",
        "",
        *_provenance_lines(s),
        "Every number here was computed by this run from its evaluation files; the only "
        "constants are the tagged-MRI reference strains, quoted from the paper's Table 2 and "
        "labelled as such. Every table gives mean ± std over subjects and the numbers of "
        "subjects and slices behind it. Missing values are shown as `—`. Comparison "
        "sentences say only which metric favours which method; 'more accurate' is used only "
        "for a method better on every metric at a lower or equal mean |det J - 1|.",
        "",
        "## What was run",
        "",
        to_markdown(_runs_overview(s.metric_rows)),
        (
            f"Hyperparameters chosen on validation data (mean |det J - 1| nearest "
            f"{target_text}): {selected}"
            if s.chosen
            else "No hyperparameter selection files were given"
        )
        + f" ([details]({link(by_name['selections.md'])})).",
        "",
        f"Failed simulation cases: {s.n_failed} ([table]({link(by_name['failed_cases.md'])})).",
        "",
        "## Data split",
        "",
        s.body["split"],
        "## Table 1 style: accuracy and volume preservation (comparison)",
        "",
        s.body["table1"],
        *bullets(["At the selected settings (level all): " + t for t in s.selected_sentences]),
        "## Table 2 style: peak strain (%)",
        "",
        s.body["table2"],
        "## Table 3 style: generalisation",
        "",
        s.body["table3"],
        "## Accuracy at equal regularity (every setting)",
        "",
        f"![Dice and MCD against mean |det J - 1|]({link(by_name[FIG_REG])})",
        "",
        s.body["regularity"],
        f"### Pairs at a common mean |det J - 1| ([table]({link(by_name[PAIRS + '.md'])}))",
        "",
        *bullets(s.regularity_sentences),
        "## Fig. 2 style: alpha sweep",
        "",
        s.body["alpha"],
        f"![alpha sweep]({link(by_name[FIG2])})",
        "",
        "## Fig. 3 style: det J over the cardiac cycle, binn vs l2"
        + (f" (subject {s.fig3_subject})" if s.fig3_subject else ""),
        "",
        f"![det J over the cycle]({link(by_name[FIG3])})",
        "",
        "## Segmental strain (binn strain)",
        "",
        s.body["strain"],
        "## Definitions",
        "",
        "- Slice levels: the slices holding ED myocardium, ordered base to apex, cut into "
        "thirds (basal, mid, apical); `all` pools them (`analysis/measures/levels.py`).",
        "- Mean ± std over subjects of the per-subject mean over the slices of a level "
        "(sample std; `± —` for one subject); Subjects/Slices count what is behind a row.",
        "- Dice, MCD (symmetric mean contour distance), HD (Hausdorff): ES myocardium warped to "
        "ED with the ES field (nearest neighbour) against the ED myocardium; 'no "
        "registration' compares them unwarped.",
        "- Dice counts every slice pair with ED myocardium: a pair whose ES slice holds no "
        "myocardium (the base moved out of the slice) enters it as 0 (MCD/HD are missing "
        f"there). '{report_tables.DICE_ES_LABEL}' leaves such pairs out, as the paper's "
        f"tables do; '{report_tables.EMPTY_ES_LABEL}' counts them per row.",
        "- |det J - 1|, folds (det J <= 0): ES field over the ED myocardium.",
        "- Strain: Green-Lagrange E = (F^T F - I)/2 from ED, radial/circumferential about the "
        "ED LV cavity centroid, averaged over the myocardium pixels per frame (pixel mean, "
        "border pixels included; not mid-wall or contour-based); peak = max (radial) / "
        "min (circumferential) over the tracked frames.",
        "- Refined settings (`refine=N`) are their own method: `binn+refineN` across its weights.",
        "- Equal regularity: a method's settings ordered by mean |det J - 1|, linear between "
        "them; two methods are read at the selection target when both cover it, else at the "
        "midpoint of the range both cover, never outside it.",
        "",
        "## Files",
        "",
        *[f"- [{p.name}]({link(p)})" for p in s.written],
        "",
    ]
    return "\n".join(lines)
