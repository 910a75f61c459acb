"""The report's side inputs: split.json (both schemas), configuration files, strain folders."""

from __future__ import annotations

import json

import pytest

from binn.analysis.tables.report_inputs import read_configs, read_split, split_tables
from binn.analysis.tables.strain_runs import find_strain_folders
from binn.errors import BinnInputError


def _write(path, obj) -> str:
    path.write_text(json.dumps(obj))
    return str(path)


def test_split_schemas_agree(tmp_path):
    general = {"splits": {"train": ["a", "b", "c"], "val": ["d"], "test": ["e"]},
               "groups": {"a": "NOR", "b": "DCM", "c": "NOR", "d": "NOR"},
               "excluded": [{"subject": "f", "reason": "no ES labels"}], "seed": 7}  # fmt: skip
    landed = {"seed": 7, "train": ["a", "b", "c"], "val": ["d"], "test": ["e"],
              "subjects": {"a": {"group": "NOR"}, "b": {"group": "DCM"}, "c": {"group": "NOR"},
                           "d": {"group": "NOR"}},
              "excluded": {"f": "no ES labels"}}  # fmt: skip
    one = read_split(_write(tmp_path / "g.json", general))
    two = read_split(_write(tmp_path / "l.json", landed))
    for split in (one, two):
        counts, excluded = split_tables(split)
        table = counts.set_index("group")
        assert list(table.index) == ["DCM", "NOR", "—", "all"]  # e has no group
        assert table.loc["NOR"].tolist() == [2, 1, 0, 3]
        assert table.loc["all"].tolist() == [3, 1, 1, 5]
        assert excluded.to_dict("records") == [
            {"subject": "f", "group": "—", "reason": "no ES labels"}
        ]


def test_split_refuses_a_subject_twice(tmp_path):
    twice = {"train": ["a", "b"], "test": ["b"]}
    with pytest.raises(BinnInputError, match="'b' is in splits 'train' and 'test'"):
        read_split(_write(tmp_path / "s.json", twice))
    excluded_too = {"train": ["a"], "excluded": {"a": "duplicate"}}
    with pytest.raises(BinnInputError, match="also in a split"):
        read_split(_write(tmp_path / "s.json", excluded_too))
    with pytest.raises(BinnInputError, match="splits"):
        read_split(_write(tmp_path / "s.json", {"seed": 1}))


def test_config_hash_follows_content(tmp_path):
    (tmp_path / "a.yaml").write_text("x: 1\ny: [a, b]\n")
    (tmp_path / "b.json").write_text('{"y": ["a", "b"], "x": 1}')
    (tmp_path / "c.yaml").write_text("x: 2\ny: [a, b]\n")
    a, b, c = read_configs([tmp_path / n for n in ("a.yaml", "b.json", "c.yaml")])
    assert a.hash == b.hash != c.hash
    (tmp_path / "bad.yaml").write_text("x: [\n")
    with pytest.raises(BinnInputError, match=r"bad\.yaml"):
        read_configs([tmp_path / "bad.yaml"])


def test_strain_folders_one_or_a_folder_of_them(tmp_path):
    for name in ("s1", "s2"):
        (tmp_path / "all" / name).mkdir(parents=True)
        (tmp_path / "all" / name / "strain.json").write_text("{}")
    assert [p.name for p in find_strain_folders([tmp_path / "all"])] == ["s1", "s2"]
    assert find_strain_folders([tmp_path / "all" / "s1"]) == [tmp_path / "all" / "s1"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(BinnInputError, match=r"strain\.json"):
        find_strain_folders([tmp_path / "empty"])
