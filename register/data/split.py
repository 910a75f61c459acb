"""Deterministic subject-level split of a real cine directory into train / val / test.

``binn split --layout acdc --data-dir DIR [--test-dir DIR] --out split.json``
(:mod:`register.data.cli`) and the workflow call the same :func:`make_split`, so the DAG
and the written ``split.json`` always agree.

The split is stratified by pathology group where the layout has one (ACDC ``Info.cfg``
``Group``), seeded, and independent of directory listing order. Subjects that cannot be
used are excluded with a reason, never silently:

- ED or ES image or labels missing or unreadable, or labels without myocardium;
- an ED image identical (content hash of the voxels) to an earlier subject's, or to a subject
  of the test directory (ACDC ships some acquisitions twice, e.g. training 055 = testing 118);
  the test subject is kept, the training-directory copy excluded;
- the only subject of its pathology group (a stratum of one cannot be split).

Too few subjects left for every split to get one, or a subject name present in both
directories, is a :class:`binn.errors.BinnInputError`. In-plane spacings are recorded per
subject; mixed spacings are logged (the import resamples every subject to the workflow's
grid). With a test directory (ACDC's own testing set: ED/ES frames and labels suffice), the
data directory is split into train / val only and every usable test-directory subject is
a test subject.

``split.json``: ``{"layout", "data_dir", "test_dir", "seed", "val_fraction",
"test_fraction", "train": [names], "val": [...], "test": [...], "subjects": {name:
{"split", "group", "dir", "ed_sha256", "spacing_mm": [row, col]}}, "excluded": {name:
reason}}``; ``split.csv`` holds one row per subject (excluded ones with their reason).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from binn.errors import BinnInputError
from binn.register.config import SplitConfig
from binn.vocabulary import ACDC, DATA_LAYOUTS, LABEL_CONVENTIONS, UKBB, read_acdc_info

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
NO_GROUP = "none"
SPLIT_DEFAULTS = SplitConfig()


@dataclass(frozen=True)
class SubjectRecord:
    """One usable subject: folder, pathology group, ED image hash, in-plane spacing (mm)."""

    name: str
    directory: Path
    group: str
    ed_sha256: str
    spacing_mm: tuple[float, float]


def subject_files(folder: Path, layout: str) -> tuple[dict[str, Path], str]:
    """ED/ES image and label files of a subject folder, and its group (``none`` if unknown).

    Raises :class:`BinnInputError` naming the missing file or the bad ``Info.cfg``.
    """
    if layout == UKBB.name:
        files = {
            "ed_image": folder / "sa_ED.nii.gz",
            "ed_labels": folder / "label_sa_ED.nii.gz",
            "es_image": folder / "sa_ES.nii.gz",
            "es_labels": folder / "label_sa_ES.nii.gz",
        }
        group = NO_GROUP
    elif layout == ACDC.name:
        info = read_acdc_info(folder / "Info.cfg")
        stem = {p: f"{folder.name}_frame{n:02d}" for p, n in (("ED", info.ed), ("ES", info.es))}
        files = {
            "ed_image": folder / f"{stem['ED']}.nii.gz",
            "ed_labels": folder / f"{stem['ED']}_gt.nii.gz",
            "es_image": folder / f"{stem['ES']}.nii.gz",
            "es_labels": folder / f"{stem['ES']}_gt.nii.gz",
        }
        group = info.group or NO_GROUP
    else:
        raise BinnInputError(folder, f"unknown layout {layout!r} ({', '.join(DATA_LAYOUTS)})")
    for path in files.values():
        if not path.is_file():
            raise BinnInputError(path, "file does not exist")
    return files, group


def inspect_subject(folder: Path, layout: str) -> SubjectRecord:
    """Check one subject folder (files, labels with myocardium); hash its ED image voxels."""
    import numpy as np

    from binn.nifti import load_label_map, load_volume

    files, group = subject_files(folder, layout)
    myocardium = LABEL_CONVENTIONS[layout].myocardium  # in the layout's own label values
    ed = load_volume(files["ed_image"])
    for key in ("ed_labels", "es_labels"):
        labels = load_label_map(files[key])
        if not np.any(labels.data == myocardium):
            raise BinnInputError(files[key], "labels hold no myocardium")
    load_volume(files["es_image"])
    voxels = np.ascontiguousarray(ed.data, dtype=np.float32)
    digest = hashlib.sha256(str(voxels.shape).encode() + voxels.tobytes()).hexdigest()
    spacing = (round(float(ed.spacing[1]), 5), round(float(ed.spacing[2]), 5))
    return SubjectRecord(folder.name, folder.resolve(), group, digest, spacing)


def scan_directory(
    data_dir: str | Path, layout: str, subjects: list[str] | None = None
) -> tuple[list[SubjectRecord], dict[str, str]]:
    """Usable subjects of ``data_dir`` (sorted by name) and ``{name: reason}`` of the others.

    ``subjects``: the folder names to consider (default: every sub-folder). Duplicated ED
    images are excluded after the first subject (by name) that has them.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise BinnInputError(root, "data directory does not exist")
    names = subjects or sorted(
        p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    missing = [n for n in names if not (root / n).is_dir()]
    if missing:
        raise BinnInputError(root, f"subjects not found: {missing}")
    records: list[SubjectRecord] = []
    excluded: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name in sorted(names):
        try:
            record = inspect_subject(root / name, layout)
        except BinnInputError as exc:
            excluded[name] = str(exc)
            continue
        if record.ed_sha256 in seen:
            excluded[name] = f"ED image identical to subject {seen[record.ed_sha256]}'s"
            continue
        seen[record.ed_sha256] = name
        records.append(record)
    for name, reason in excluded.items():
        log.warning("%s: subject %s excluded: %s", root, name, reason)
    return records, excluded


def make_split(
    data_dir: str | Path,
    layout: str,
    *,
    val_fraction: float = SPLIT_DEFAULTS.val_fraction,
    test_fraction: float = SPLIT_DEFAULTS.test_fraction,
    seed: int = SPLIT_DEFAULTS.seed,
    subjects: list[str] | None = None,
    test_dir: str | Path | None = None,
    test_subjects: list[str] | None = None,
) -> dict[str, Any]:
    """The split of ``data_dir`` (and ``test_dir``) as the ``split.json`` object (see module).

    Fractions are of the usable data-directory subjects (``test_fraction`` is unused with a
    ``test_dir``); each split gets at least one subject.
    """
    if not (0 < val_fraction < 1 and 0 <= test_fraction < 1):
        raise BinnInputError(None, "split fractions must lie in (0, 1)")
    records, excluded = scan_directory(data_dir, layout, subjects)
    tests: list[SubjectRecord] = []
    if test_dir is not None:
        tests, test_excluded = scan_directory(test_dir, layout, test_subjects)
        excluded.update({n: f"test directory: {r}" for n, r in test_excluded.items()})
        records = _drop_shared(records, tests, excluded)
    records = _drop_lone_groups(records, excluded)
    n_test = 0 if test_dir is not None else max(1, round(len(records) * test_fraction))
    n_val = max(1, round(len(records) * val_fraction))
    if len(records) - n_test - n_val < 1 or (test_dir is not None and not tests):
        raise BinnInputError(
            test_dir if test_dir is not None and not tests else data_dir,
            f"too few usable subjects for the split: {len(records)} in the data directory"
            f" ({len(tests)} test-directory subjects) for {n_val} val + {n_test} test"
            f" + at least 1 train; excluded: {excluded or 'none'}",
        )
    assignment = _stratified(records, n_val, n_test, seed)
    assignment.update({r.name: "test" for r in tests})
    by_name = {r.name: r for r in [*records, *tests]}
    spacings = sorted({r.spacing_mm for r in by_name.values()})
    if len(spacings) > 1:
        log.warning(
            "mixed in-plane spacings %s mm (min, max): every subject is resampled to the grid",
            (spacings[0], spacings[-1]),
        )
    split: dict[str, Any] = {
        "layout": layout,
        "data_dir": str(Path(data_dir).resolve()),
        "test_dir": None if test_dir is None else str(Path(test_dir).resolve()),
        "seed": seed,
        "val_fraction": val_fraction,
        "test_fraction": 0.0 if test_dir is not None else test_fraction,
    }
    for name in SPLITS:
        split[name] = sorted(n for n, s in assignment.items() if s == name)
    split["subjects"] = {
        n: {
            "split": assignment[n],
            "group": r.group,
            "dir": str(r.directory),
            "ed_sha256": r.ed_sha256,
            "spacing_mm": list(r.spacing_mm),
        }
        for n, r in sorted(by_name.items())
    }
    split["excluded"] = dict(sorted(excluded.items()))
    return split


def _drop_shared(
    records: list[SubjectRecord], tests: list[SubjectRecord], excluded: dict[str, str]
) -> list[SubjectRecord]:
    """Data-directory subjects minus those whose ED image is a test subject's (excluded)."""
    test_names = {r.name for r in tests}
    clash = sorted(test_names & ({r.name for r in records} | set(excluded)))
    if clash:
        raise BinnInputError(
            tests[0].directory.parent, f"subjects named in both data and test directory: {clash}"
        )
    test_hashes = {r.ed_sha256: r.name for r in tests}
    kept = []
    for r in records:
        if r.ed_sha256 in test_hashes:
            excluded[r.name] = (
                f"ED image identical to test subject {test_hashes[r.ed_sha256]}'s (test kept)"
            )
            log.warning("subject %s excluded: %s", r.name, excluded[r.name])
        else:
            kept.append(r)
    return kept


def _drop_lone_groups(
    records: list[SubjectRecord], excluded: dict[str, str]
) -> list[SubjectRecord]:
    """Records minus the only subject of its group (a stratum of one cannot be split)."""
    counts: dict[str, int] = {}
    for r in records:
        counts[r.group] = counts.get(r.group, 0) + 1
    kept = []
    for r in records:
        if counts[r.group] == 1 and len(counts) > 1:
            excluded[r.name] = f"only subject of pathology group {r.group!r}"
            log.warning("subject %s excluded: %s", r.name, excluded[r.name])
        else:
            kept.append(r)
    return kept


def _quotas(sizes: dict[str, int], total: int) -> dict[str, int]:
    """``total`` spread over groups in proportion to ``sizes`` (largest remainder, capped)."""
    n = sum(sizes.values())
    exact = {g: s * total / n for g, s in sizes.items()}
    quota = {g: int(x) for g, x in exact.items()}
    order = sorted(sizes, key=lambda g: (-(exact[g] - quota[g]), g))
    while sum(quota.values()) < total and any(quota[g] < sizes[g] for g in order):
        for g in order:
            if sum(quota.values()) < total and quota[g] < sizes[g]:
                quota[g] += 1
    return quota


def _stratified(records: list[SubjectRecord], n_val: int, n_test: int, seed: int) -> dict[str, str]:
    """``{name: split}``: per group a seeded shuffle of the sorted names, test then val first."""
    groups: dict[str, list[str]] = {}
    for r in records:
        groups.setdefault(r.group, []).append(r.name)
    for group, names in groups.items():
        names.sort()
        random.Random(f"{seed}/{group}").shuffle(names)
    sizes = {g: len(v) for g, v in groups.items()}
    test_q = _quotas(sizes, n_test)
    val_q = _quotas({g: sizes[g] - test_q[g] for g in sizes}, n_val)
    out: dict[str, str] = {}
    for group, names in groups.items():
        t, v = test_q[group], val_q[group]
        out.update({n: "test" for n in names[:t]})
        out.update({n: "val" for n in names[t : t + v]})
        out.update({n: "train" for n in names[t + v :]})
    return out


def split_table(split: dict[str, Any]) -> str:
    """``split.csv`` text: subject, split, group, spacing, reason (excluded subjects last)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["subject", "split", "group", "spacing_mm", "reason"])
    for name, info in split["subjects"].items():
        spacing = "x".join(f"{s:g}" for s in info["spacing_mm"])
        writer.writerow([name, info["split"], info["group"], spacing, ""])
    for name, reason in split["excluded"].items():
        writer.writerow([name, "excluded", "", "", reason])
    return buffer.getvalue()
