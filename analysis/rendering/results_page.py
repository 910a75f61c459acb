"""``binn publish``: a results page, and the README's current-results table, from a finished
run's ``summary.md`` (:mod:`binn.analysis.rendering.report`) and ``config.yaml``.

The **compact table** is Table 1 at level ``all``: the selected setting of each method on
the test subjects, Dice (every slice pair; and, from summaries that have it, Dice without
the pairs whose ES slice holds no myocardium), MCD and |det J - 1| as mean ± std over
subjects, and the number of subjects n. The page holds it, the run's headline tables
(Tables 1-3 of the summary, as they are), the commit and configuration they came from,
the grid, and the effective configuration itself. The README block is the compact table
and a line naming the configuration, commit and grid; it replaces whatever stands between
the lines :data:`START` and :data:`END` of the README. A summary without Table 1's table
is refused.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from binn.analysis.tables.io import to_markdown
from binn.errors import BinnInputError
from binn.io import write_text

START, END = "<!-- results:start -->", "<!-- results:end -->"
SUMMARY, CONFIG = "summary.md", "config.yaml"
HEADLINE_SECTIONS = ("Table 1 style", "Table 2 style", "Table 3 style")
COMPARISON = HEADLINE_SECTIONS[0]
COMPACT_COLUMNS = {"Method": "Method", "Dice": "Dice", "MCD (mm)": "MCD (mm)",
                   "|det J - 1|": "|det J - 1|", "Subjects": "n (subjects)"}  # fmt: skip
OPTIONAL_COLUMNS = {"Dice excl. empty ES": "Dice excl. empty ES", "Empty ES": "Empty ES"}
DICE_NOTE = (
    "Dice counts every slice pair, a pair whose ES slice holds no myocardium (the base moved "
    "out of the slice) as 0; 'Dice excl. empty ES' leaves those pairs out (the paper's "
    "count), 'Empty ES' says how many there are"
)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


@dataclass(frozen=True)
class Summary:
    """What ``binn publish`` reads from ``summary.md``: the code ``version`` and ``commit``
    it was measured at, the ``configs`` it names (``(path, hash)``), and the body of each
    ``## `` section by its title."""

    path: Path
    version: str
    commit: str
    configs: list[tuple[str, str]]
    sections: dict[str, str]

    def section(self, prefix: str) -> tuple[str, str]:
        """``(title, body)`` of the first section whose title starts with ``prefix``."""
        for title, body in self.sections.items():
            if title.startswith(prefix):
                return title, body
        raise BinnInputError(self.path, f"no section '{prefix} ...'")


def read_summary(path: str | Path) -> Summary:
    """Read a report's ``summary.md``; one that names no code version and commit is refused
    (:class:`BinnInputError` naming it)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise BinnInputError(path, f"not a readable summary ({exc})") from exc
    version = re.search(r"code version `([^`]*)`", text)
    commit = re.search(r"git commit `([^`]*)`", text)
    if version is None or commit is None:
        raise BinnInputError(path, "names no code version and git commit (not a binn summary)")
    configs = re.findall(r"`([^`]+)` \(config hash `([^`]+)`\)", text)
    sections: dict[str, str] = {}
    for part in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        title, _, body = part.partition("\n")
        sections[title.strip()] = body.strip("\n") + "\n"
    return Summary(path, version.group(1), commit.group(1), configs, sections)


def markdown_table(text: str, source: str | Path) -> pd.DataFrame:
    """The first Markdown table of ``text`` (``| a | b |`` rows under a ``|---|`` line), cells
    as text with ``\\|`` unescaped; :class:`BinnInputError` naming ``source`` without one."""
    lines = text.splitlines()
    for i in range(len(lines) - 1):
        if lines[i].startswith("|") and re.fullmatch(r"\|(-+\|)+", lines[i + 1].strip()):
            rows = [_cells(lines[i])]
            for line in lines[i + 2 :]:
                if not line.startswith("|"):
                    break
                rows.append(_cells(line))
            if any(len(r) != len(rows[0]) for r in rows):
                raise BinnInputError(source, "a table row has the wrong number of cells")
            return pd.DataFrame(rows[1:], columns=rows[0])
    raise BinnInputError(source, "holds no Markdown table")


def _cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(line.strip())[1:-1]]


def compact_table(summary: Summary) -> pd.DataFrame:
    """Table 1 at level ``all``: Method, Dice, MCD (mm), |det J - 1| (mean ± std over
    subjects) and n (subjects); refused when the summary has no Table 1 table."""
    title, body = summary.section(COMPARISON)
    table = markdown_table(body, f"{summary.path}: section '{title}'")
    missing = [c for c in ("Level", *COMPACT_COLUMNS) if c not in table.columns]
    if missing:
        raise BinnInputError(summary.path, f"Table 1 has no columns {missing}")
    rows = table[table["Level"] == "all"]
    if rows.empty:
        raise BinnInputError(summary.path, "Table 1 has no rows of level 'all'")
    names = {**COMPACT_COLUMNS, **{k: v for k, v in OPTIONAL_COLUMNS.items() if k in table}}
    order = ["Method", "Dice", *[k for k in OPTIONAL_COLUMNS if k in names], "MCD (mm)",
             "|det J - 1|", "Subjects"]  # fmt: skip
    return rows[order].rename(columns=names).reset_index(drop=True)


def read_grid(config: str | Path) -> tuple[int, float]:
    """``(size px, spacing mm)`` of the run's effective ``config.yaml``."""
    import yaml

    config = Path(config)
    try:
        grid = yaml.safe_load(config.read_text())["grid"]
        return int(grid["size"]), float(grid["spacing_mm"])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise BinnInputError(config, f"not a run configuration with a grid ({exc})") from exc


def _grid_text(grid: tuple[int, float]) -> str:
    size, spacing = grid
    return f"{size} px × {spacing:g} mm"


def _provenance_text(summary: Summary, grid: tuple[int, float]) -> str:
    configs = ", ".join(f"`{path}` (config hash `{h}`)" for path, h in summary.configs)
    return (
        f"commit `{summary.commit}` (code version `{summary.version}`), configuration "
        f"{configs or 'not named in the summary'}, grid {_grid_text(grid)}"
    )


def results_page(summary: Summary, config_text: str, grid: tuple[int, float]) -> str:
    """The results page: provenance, the headline sections as they are, the configuration."""
    parts = [
        "# binn: current results",
        "",
        f"Generated by `binn publish` from `{summary.path}`; do not edit by hand. Measured at "
        + _provenance_text(summary, grid)
        + ". Every table: test subjects, mean ± std over subjects of per-subject means, "
        f"settings chosen on validation data. {DICE_NOTE}.",
        "",
        "## At a glance: every slice, each method at its selected setting",
        "",
        to_markdown(compact_table(summary)),
    ]
    for prefix in HEADLINE_SECTIONS:
        title, body = summary.section(prefix)
        parts += [f"## {title}", "", body]
    parts += ["## Configuration", "", "```yaml", config_text.rstrip("\n"), "```", ""]
    return "\n".join(parts)


def readme_block(summary: Summary, grid: tuple[int, float], page_link: str) -> str:
    """The README's current-results block (between the markers, markers excluded)."""
    return (
        to_markdown(compact_table(summary))
        + "\nTest subjects, all slices, each method at the setting chosen on validation data; "
        f"mean ± std over n subjects. {DICE_NOTE}. From {_provenance_text(summary, grid)}; "
        f"all tables: [{Path(page_link).name}]({page_link}).\n"
    )


def replace_block(text: str, block: str, source: str | Path) -> str:
    """``text`` with the lines between :data:`START` and :data:`END` replaced by ``block``;
    :class:`BinnInputError` naming ``source`` unless each marker is one line, in order."""
    lines = text.splitlines(keepends=True)
    stripped = [line.strip() for line in lines]
    if stripped.count(START) != 1 or stripped.count(END) != 1:
        raise BinnInputError(source, f"needs one '{START}' line and one '{END}' line")
    start, end = stripped.index(START), stripped.index(END)
    if end < start:
        raise BinnInputError(source, f"'{END}' comes before '{START}'")
    return "".join([*lines[: start + 1], block, *lines[end:]])


def publish(results: str | Path, page: str | Path, readme: str | Path | None = None) -> list[Path]:
    """Write the results page ``page`` from ``results/summary.md`` and ``results/config.yaml``
    and, with ``readme``, its current-results block; returns the files written (atomically).

    Everything is read and checked before anything is written."""
    results, page = Path(results), Path(page)
    summary = read_summary(results / SUMMARY)
    config_path = results / CONFIG
    grid = read_grid(config_path)
    text = results_page(summary, config_path.read_text(), grid)
    updates = [(page, text)]
    if readme is not None:
        readme = Path(readme)
        try:
            old = readme.read_text()
        except OSError as exc:
            raise BinnInputError(readme, f"not a readable README ({exc})") from exc
        link = os.path.relpath(page, readme.parent)
        updates.append((readme, replace_block(old, readme_block(summary, grid, link), readme)))
    for path, content in updates:
        write_text(path, content)
    return [path for path, _ in updates]
