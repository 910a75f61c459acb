"""Tests of the cine subject container and its file: round trip and clear errors."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from binn.errors import BinnInputError
from binn.io import save_npz
from binn.register.data.intensity import normalise_intensity
from binn.register.data.subject import CineSubject, load_subject, save_subject


def small_subject(with_truth: bool = True) -> CineSubject:
    rng = np.random.default_rng(0)
    t, z, h, w = 4, 2, 8, 10
    labels = rng.integers(0, 4, (t, z, h, w)).astype(np.uint8)
    motion = rng.normal(size=(t, z, 2, h, w)).astype(np.float32)
    motion[0] = 0
    return CineSubject(
        name="tiny",
        images=rng.uniform(0, 1, (t, z, h, w)).astype(np.float32),
        labels_ed=labels[0].copy(),
        labels_es=labels[2].copy(),
        es_index=2,
        spacing=np.array([8.0, 1.5, 1.4]),
        motion=motion if with_truth else None,
        labels=labels if with_truth else None,
        meta={"source": "test"},
    )


@pytest.mark.parametrize("with_truth", [True, False])
def test_round_trip(tmp_path, with_truth):
    s = small_subject(with_truth)
    path = tmp_path / "s.npz"
    save_subject(path, s, {"seed": 1})
    r = load_subject(path)
    assert r.name == "tiny" and r.es_index == 2 and r.meta == {"source": "test"}
    assert r.frames == 4 and r.slices == 2 and r.shape == (8, 10)
    for key in ("images", "labels_ed", "labels_es", "spacing", "motion", "labels"):
        a, b = getattr(s, key), getattr(r, key)
        assert (a is None and b is None) or np.array_equal(a, b), key


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"es_index": 0}, "es_index"),
        ({"es_index": 4}, "es_index"),
        ({"labels_es": np.full((2, 8, 10), 5, np.uint8)}, "outside the ACDC labels"),
        ({"labels_ed": np.zeros((2, 8, 9), np.uint8)}, "labels_ed have shape"),
        ({"spacing": np.array([1.0, 0.0, 1.0])}, "spacing"),
        ({"images": np.full((4, 2, 8, 10), 1.5, np.float32)}, "within [0, 1]"),
        ({"images": np.zeros((4, 2, 8), np.float32)}, "expected (T, Z, H, W)"),
    ],
)
def test_save_refuses_invalid_subject(tmp_path, change, message):
    bad = dataclasses.replace(small_subject(), **change)
    with pytest.raises(BinnInputError, match=re.escape(message)):
        save_subject(tmp_path / "bad.npz", bad, {})
    assert not (tmp_path / "bad.npz").exists()


def test_load_names_the_file_on_bad_content(tmp_path):
    s = small_subject()
    arrays = {
        k: getattr(s, k)
        for k in ("images", "labels_ed", "labels_es", "spacing", "motion", "labels")
    }
    path = tmp_path / "nan.npz"
    images = s.images.copy()
    images[1, 0, 0, 0] = np.nan
    save_npz(path, {}, **{**arrays, "images": images, "es_index": np.asarray(2)})
    with pytest.raises(BinnInputError, match=r"nan.npz.*NaN"):
        load_subject(path)
    path = tmp_path / "missing.npz"
    save_npz(path, {}, images=s.images, labels_ed=s.labels_ed, es_index=np.asarray(2))
    with pytest.raises(BinnInputError, match=r"missing.npz.*labels_es"):
        load_subject(path)
    path = tmp_path / "motion.npz"
    motion = s.motion.copy()
    motion[0, 0, 0, 0, 0] = 1.0
    save_npz(path, {}, **{**arrays, "motion": motion, "es_index": np.asarray(2)})
    with pytest.raises(BinnInputError, match=r"motion.npz.*frame 0"):
        load_subject(path)
    with pytest.raises(BinnInputError, match="does not exist"):
        load_subject(tmp_path / "nowhere.npz")


def test_normalise_intensity_is_robust_to_outliers():
    rng = np.random.default_rng(1)
    img = rng.uniform(100, 200, (3, 2, 20, 20))
    img[0, 0, 0, 0] = 1e6  # one hot voxel must not squash the contrast
    out = normalise_intensity(img)
    assert out.dtype == np.float32 and out.min() == 0.0 and out.max() == 1.0
    assert np.median(out) == pytest.approx(0.5, abs=0.05)
    with pytest.raises(BinnInputError, match="no contrast"):
        normalise_intensity(np.ones((2, 3, 3)), "flat.nii.gz")
    img[1, 1, 1, 1] = np.nan
    with pytest.raises(BinnInputError, match=r"x.nii.gz.*NaN"):
        normalise_intensity(img, "x.nii.gz")
