"""``binn evaluate``: the metrics and curves tables of tracking outputs against their subjects
(the rows: :mod:`binn.analysis.measures.evaluate`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from binn.analysis.measures.evaluate import (
    CURVE_COLUMNS,
    METRIC_COLUMNS,
    evaluate_subject,
    load_tracking,
)
from binn.analysis.tables.io import write_csv
from binn.errors import BinnInputError

log = logging.getLogger(__name__)


def evaluate_files(
    data: Sequence[str | Path],
    fields: Sequence[str | Path],
    experiment: str,
    out: str | Path,
    curves_out: str | Path | None = None,
) -> pd.DataFrame:
    """Evaluate every tracking output against its subject; write METRICS.csv (and CURVES.csv).

    Subjects are read with :func:`binn.register.data.subject.load_subject` and paired with the
    tracking outputs by subject name (``CineSubject.name`` = the tracking output's
    ``subject``). Returns the metrics table.
    """
    from binn.register.data.subject import load_subject

    subjects = {}
    for path in data:
        subject = load_subject(path)
        if subject.name in subjects:
            raise BinnInputError(path, f"subject name '{subject.name}' given twice in --data")
        subjects[subject.name] = subject
    all_rows: list[dict] = []
    all_curves: list[dict] = []
    evaluated: set[str] = set()
    for path in fields:
        track = load_tracking(path)
        if track.subject not in subjects:
            raise BinnInputError(path, f"no subject '{track.subject}' among --data")
        rows, curves = evaluate_subject(subjects[track.subject], track, experiment)
        log.info("%s: %s %s %s, %d slices", experiment, track.subject, track.method,
                 track.setting, len(rows))  # fmt: skip
        all_rows += rows
        all_curves += curves
        evaluated.add(track.subject)
    unused = sorted(set(subjects) - evaluated)
    if unused:
        log.warning("subjects without tracking output (not evaluated): %s", unused)
    table = pd.DataFrame(all_rows, columns=list(METRIC_COLUMNS))
    write_csv(out, table)
    if curves_out is not None:
        write_csv(curves_out, pd.DataFrame(all_curves, columns=list(CURVE_COLUMNS)))
    return table
