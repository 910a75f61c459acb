"""Reading and writing the CSV tables of the analysis stage, and Markdown rendering.

Missing values are NaN in memory and empty cells in CSV; Markdown shows them as ``—``.
All writes are atomic (:mod:`binn.io`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from binn.errors import BinnInputError
from binn.io import atomic_path, write_text

MISSING = "—"


def write_csv(path: str | Path, table: pd.DataFrame) -> None:
    """Write ``table`` to ``path`` as CSV (no index; NaN as an empty cell), atomically."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, na_rep="")


def read_csvs(paths: Sequence[str | Path], required: Sequence[str] = ()) -> pd.DataFrame:
    """Concatenate CSV tables; each must hold the ``required`` columns.

    Empty files (no rows) are allowed; an unreadable file or a missing column raises
    :class:`BinnInputError` naming the file.
    """
    frames = []
    for path in paths:
        try:
            table = pd.read_csv(path, keep_default_na=True, na_values=[""])
        except pd.errors.EmptyDataError:
            table = pd.DataFrame(columns=list(required))
        except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise BinnInputError(path, f"not a readable CSV table ({exc})") from exc
        missing = [c for c in required if c not in table.columns]
        if missing:
            raise BinnInputError(path, f"missing columns {missing} (has {list(table.columns)})")
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=list(required))
    frames = [f for f in frames if len(f)] or frames[:1]
    return pd.concat(frames, ignore_index=True)


def to_markdown(table: pd.DataFrame) -> str:
    """Render ``table`` (cells already formatted, or any values) as a GitHub Markdown table."""

    def cell(value: object) -> str:
        if value is None or value is pd.NA or (isinstance(value, float) and value != value):
            return MISSING
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = [cell(c) for c in table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for values in table.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in values) + " |")
    return "\n".join(lines) + "\n"


def write_table(out_dir: str | Path, name: str, table: pd.DataFrame, title: str = "") -> list[Path]:
    """Write ``name.csv`` and ``name.md`` (with an optional title line) into ``out_dir``."""
    out_dir = Path(out_dir)
    csv_path, md_path = out_dir / f"{name}.csv", out_dir / f"{name}.md"
    write_csv(csv_path, table)
    write_text(md_path, (f"{title}\n\n" if title else "") + to_markdown(table))
    return [csv_path, md_path]
