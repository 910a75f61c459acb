"""``binn bench register``: settings are chosen on validation phantoms by ``binn select``'s
rule and the test phantoms see only the chosen settings. (Its defaults: test_analysis_config.)"""

from __future__ import annotations

from pathlib import Path

import pytest

import binn.analysis.tables.select
import binn.register.track
from binn.analysis.commands import bench_register as B
from binn.analysis.config import BenchConfig
from binn.errors import BinnInputError
from binn.vocabulary import canonical_setting

SIZE, SPACING = 32, 4.0  # the default grid's 128 mm field of view at a quarter of the pixels


def _tiny_vae(path: Path) -> Path:
    from binn.learn.checkpoint import save_checkpoint
    from binn.learn.model import MotionVAE2D

    save_checkpoint(
        path, MotionVAE2D(image_size=SIZE, latent_dim=4, nf=4, max_norm=0.1), spacing_mm=SPACING
    )
    return path


def test_settings_chosen_on_validation_and_test_sees_only_the_choice(tmp_path, monkeypatch) -> None:
    calls: list[tuple[str, str, str, str]] = []
    tables = []
    track = binn.register.track.track_sequence

    def recording_track(images, registrar, frames, es_index, myo, name):
        calls.append((name, registrar.method, registrar.setting, frames))
        return track(images, registrar, frames, es_index, myo, name)

    select = binn.analysis.tables.select.select_setting

    def recording_select(table, target, method):
        tables.append(table)
        return select(table, target, method)

    monkeypatch.setattr(binn.register.track, "track_sequence", recording_track)
    monkeypatch.setattr(binn.analysis.tables.select, "select_setting", recording_select)
    cfg = BenchConfig(
        settings={
            "binn": ("alpha=0.001", "alpha=1"),
            "l2": ("lam=0.001", "lam=10"),
            "demons": ("iterations=5,sigma=0.5", "iterations=5,sigma=4"),
            "ffd": ("grid=8,iterations=5,levels=1,penalty=0.01",),
        },
        size=SIZE,
        spacing_mm=SPACING,
        frames=4,
        slices=1,
        subjects={"train": 1, "val": 2, "test": 2},
        steps=2,
        width=0.0625,
        batch_size=2,
        threads=1,
        vae=_tiny_vae(tmp_path / "vae.pt"),
        device="cpu",
        work_dir=tmp_path / "work",
    )
    out = B.bench_register(cfg)
    val = {s.name for s in B.make_split(cfg, "val")}
    test = {s.name for s in B.make_split(cfg, "test")}
    assert not val & test and len(test) == 2
    for table in tables:  # selection saw validation rows only
        assert set(table["subject"]) == val
    for method, settings in cfg.settings.items():
        res = out["methods"][method]
        chosen = res["setting"]
        candidates = {canonical_setting(s) for s in settings}
        # every candidate tracked every validation subject (ES only), none a test subject
        assert {(n, s) for n, m, s, f in calls if m == method and n in val and f == "es"} == {
            (n, s) for n in val for s in candidates
        }
        assert {(n, s, f) for n, m, s, f in calls if m == method and n in test} == {
            (n, chosen, "all") for n in test
        }
        # the rule: the candidate whose validation mean |det J - 1| is nearest the target
        means = {c["setting"]: c["mean_abs_det_j_minus_1"] for c in res["validation"]}
        assert set(means) == candidates
        assert chosen == min(means, key=lambda s: abs(means[s] - cfg.target))
        assert res["subjects"] == 2 and res["pairs"] == 2 * 3 * 1
        for metric in B.TEST_METRICS:
            stats = res["test"][metric]
            assert 1 <= stats["n"] <= 2 and stats["mean"] is not None
        assert 0.0 <= res["test"]["dice"]["mean"] <= 1.0 and res["ms_per_pair"] > 0
    assert out["none"]["abs_det_j_minus_1"]["mean"] == 0.0  # no registration: det J = 1
    assert out["none"]["epe_mm"]["mean"] > 0.0
    assert out["vae"] == {"path": str(cfg.vae), "trained_here": False}
    models = (tmp_path / "work" / "models").glob("*.pt")
    assert len([m for m in models if not m.name.endswith(".resume.pt")]) == 4  # kept for reuse


def test_bad_settings_are_refused() -> None:
    with pytest.raises(BinnInputError, match="methods must be among"):
        B.bench_register(BenchConfig(settings={"optical-flow": ("a=1",)}))
    with pytest.raises(BinnInputError, match="at least one setting"):
        B.bench_register(BenchConfig(settings={"l2": ()}))
    with pytest.raises(BinnInputError, match="at least one val subject"):
        B.bench_register(BenchConfig(subjects={"train": 1, "val": 0, "test": 1}))
