"""``binn bench register``: every method on held-out phantoms, settings chosen on validation.

The workflow's protocol at bench scale, in one process:

1. phantom subjects of family A for ``train`` / ``val`` / ``test`` from the workflow's seeds
   (:func:`binn.vocabulary.phantom_seed`), so the default bench
   sees the default run's phantoms;
2. the VAE prior of ``binn``: ``--vae``, or (logged as such) a small one trained here with
   ``binn train-vae``'s defaults on synthetic ``binn simulate`` cases of the same grid;
3. one network per setting of each network method (``binn``, ``l2``;
   :mod:`binn.register.train`, validated on ``val``);
4. every setting of every method tracks the validation subjects (ES -> ED, as the
   workflow's ``validation`` experiment), and
   :func:`binn.analysis.tables.select.select_setting` picks per method the setting whose
   mean ``|det J - 1|`` is nearest the target;
5. only the selected setting of each method tracks the test subjects (every frame), scored
   by :func:`binn.analysis.measures.evaluate.evaluate_subject` as ``binn evaluate`` does.

Test subjects take no part in training or selection. Reported per method: the selected
setting, every validation candidate, test Dice / MCD (mm) / ``|det J - 1|`` / EPE (mm) as
mean, std and n over the evaluable subject x slice rows, the number of test subjects and
registered pairs, and wall ms per pair (classical methods run ``threads`` pairs at once);
``none`` is no registration. ``work_dir`` keeps the simulations, the VAE and the networks
(named by a digest of everything they depend on), so a rerun reuses them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from binn.analysis.config import BenchConfig
from binn.errors import BinnInputError
from binn.register.config import PhantomConfig, TrainConfig
from binn.vocabulary import MYOCARDIUM, NO_REGISTRATION, get_method, method_names

if TYPE_CHECKING:  # imported where used: the command line imports this module for its defaults
    import pandas as pd

    from binn.analysis.measures.evaluate import Tracking

log = logging.getLogger(__name__)

TEST_METRICS = ("dice", "mcd_mm", "abs_det_j_minus_1", "epe_mm")
SPLITS = ("train", "val", "test")

# The default run's simulations of a VAE trained here (config/config.yaml's ``simulate``;
# tests/test_analysis_bench_register.py checks that they agree).
VAE_SEED = 1000  # simulate.source.seed
SIM_FRAMES = 25  # simulate.frames
SIM_MESH_MM = 1.5  # simulate.mesh_size_mm
SIM_MU_KPA = 36.75  # simulate.mu_kpa


def phantom_seeds(seed: int, split: str, n: int) -> list[int]:
    """The workflow's phantom seeds of ``split`` (:func:`binn.vocabulary.phantom_seed`)."""
    from binn.vocabulary import phantom_seed

    return [phantom_seed(seed, split, i) for i in range(n)]


def make_split(cfg: BenchConfig, split: str) -> list[Any]:
    """The phantom subjects (:class:`binn.register.data.CineSubject`) of one split."""
    from binn.register.data.phantom import make_phantom

    return [
        make_phantom(
            s,
            PhantomConfig.family,
            frames=cfg.frames,
            slices=cfg.slices,
            size=cfg.size,
            spacing_mm=cfg.spacing_mm,
            snr_db=cfg.snr_db,
        )
        for s in phantom_seeds(cfg.seed, split, cfg.subjects[split])
    ]


def bench_register(cfg: BenchConfig) -> dict[str, Any]:
    """Run the benchmark of the module docstring; returns its JSON object.

    torch runs on ``cfg.threads`` CPU threads for the run (restored afterwards).
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        out = _bench(cfg)
    finally:
        torch.set_num_threads(previous)
    return {**out, "torch_threads": cfg.threads}


def _bench(cfg: BenchConfig) -> dict[str, Any]:
    """:func:`bench_register` with torch's thread count set."""
    known = method_names()
    if set(cfg.settings) - set(known) or not cfg.settings:
        raise BinnInputError(None, f"methods must be among {known}, got {sorted(cfg.settings)}")
    if any(not s for s in cfg.settings.values()):
        raise BinnInputError(None, "every method needs at least one setting")
    for split in SPLITS:
        if cfg.subjects.get(split, 0) < 1:
            raise BinnInputError(None, f"need at least one {split} subject")
    from binn.register.checkpoint import resolve_device

    split = {name: make_split(cfg, name) for name in SPLITS}
    with tempfile.TemporaryDirectory(prefix="binn-bench-register-") as tmp:
        work = Path(cfg.work_dir) if cfg.work_dir is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        vae_info = None
        if any(get_method(m).needs_vae for m in cfg.settings):
            vae_info = _vae(cfg, work)
        out: dict[str, Any] = {"methods": {}}
        training: dict[str, Any] = {}
        for method, settings in cfg.settings.items():
            registrars = {}
            for setting in settings:
                reg, info = _registrar(cfg, method, setting, split, work, vae_info)
                registrars[reg.setting] = reg
                if info:
                    training[f"{method}:{reg.setting}"] = info
            out["methods"][method] = _select_and_test(cfg, method, registrars, split)
    import pandas as pd

    zero_rows = [
        row
        for subject in split["test"]
        for row in _rows(subject, _zero_tracking(subject), "bench_test")
    ]
    out[NO_REGISTRATION] = _summary(pd.DataFrame(zero_rows), TEST_METRICS)
    out[NO_REGISTRATION]["subjects"] = len(split["test"])
    out.update(
        target=cfg.target,
        phantom={
            "size": cfg.size,
            "spacing_mm": cfg.spacing_mm,
            "frames": cfg.frames,
            "slices": cfg.slices,
            "snr_db": cfg.snr_db,
            **{f"{k}_seeds": phantom_seeds(cfg.seed, k, cfg.subjects[k]) for k in split},
        },
        vae=vae_info,
        training=training,
        threads=cfg.threads,
        device=str(resolve_device(cfg.device)),
        config={k: str(v) for k, v in dataclasses.asdict(cfg).items()},
    )
    return out


def _select_and_test(
    cfg: BenchConfig, method: str, registrars: dict[str, Any], split: dict[str, list]
) -> dict[str, Any]:
    """Track validation with every setting, select, track test with the selected one."""
    val_rows = []
    import pandas as pd

    from binn.analysis.tables.select import select_setting

    for registrar in registrars.values():
        for subject in split["val"]:
            tracked = _track(subject, registrar, "es")
            val_rows += _rows(subject, tracked[0], "bench_validation")
    choice = select_setting(pd.DataFrame(val_rows), cfg.target, method)
    registrar = registrars[choice["setting"]]
    test_rows, seconds, pairs = [], 0.0, 0
    for subject in split["test"]:
        tracking, sec, n = _track(subject, registrar, "all")
        seconds, pairs = seconds + sec, pairs + n
        test_rows += _rows(subject, tracking, "bench_test")
    result = {
        "setting": choice["setting"],
        "validation": choice["candidates"],
        "test": _summary(pd.DataFrame(test_rows), TEST_METRICS),
        "subjects": len(split["test"]),
        "pairs": pairs,
        "ms_per_pair": 1000.0 * seconds / pairs,
        "threads": None if get_method(method).is_network else cfg.threads,
    }
    log.info(
        "%s: selected %s on validation; test %s, %.1f ms per pair",
        method,
        choice["setting"],
        {k: v["mean"] for k, v in result["test"].items()},
        result["ms_per_pair"],
    )
    return result


def _track(subject: Any, registrar: Any, frames: str) -> tuple[Tracking, float, int]:
    """Track ``subject`` (``frames`` "es" or "all"); returns the tracking, seconds, pairs."""
    from binn.analysis.measures.evaluate import Tracking
    from binn.register.track import track_sequence

    myo = subject.labels_ed == MYOCARDIUM
    r = track_sequence(subject.images, registrar, frames, subject.es_index, myo, subject.name)
    pairs = int((r["frames"] != 0).sum()) * subject.slices
    tracking = Tracking(
        subject=subject.name,
        method=registrar.method,
        setting=registrar.setting,
        fields=r["fields"],
        frames=r["frames"],
        ms_per_pair=r["ms_per_pair"],
        path=Path(subject.name),
    )
    return tracking, float(r["seconds"]), pairs


def _rows(subject: Any, tracking: Tracking, experiment: str) -> list[dict]:
    from binn.analysis.measures.evaluate import evaluate_subject

    return evaluate_subject(subject, tracking, experiment)[0]


def _zero_tracking(subject: Any) -> Tracking:
    """No registration: zero fields on every frame."""
    import numpy as np

    from binn.analysis.measures.evaluate import Tracking

    t, z, h, w = subject.images.shape
    return Tracking(
        subject.name,
        NO_REGISTRATION,
        NO_REGISTRATION,
        np.zeros((t, z, 2, h, w), np.float32),
        np.arange(t),
        float("nan"),
        Path(subject.name),
    )


def _summary(rows: pd.DataFrame, columns: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """``{column: {"mean", "std", "n"}}`` over the finite values of ``rows[column]`` (std
    with ddof 1; ``None`` where undefined: no value, or one for the std)."""
    import numpy as np
    import pandas as pd

    out = {}
    for name in columns:
        values = pd.to_numeric(rows.get(name, pd.Series(dtype=float)), errors="coerce")
        values = values[np.isfinite(values)]
        out[name] = {
            "mean": float(values.mean()) if len(values) else None,
            "std": float(values.std(ddof=1)) if len(values) > 1 else None,
            "n": len(values),
        }
    return out


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _registrar(
    cfg: BenchConfig,
    method: str,
    setting: str,
    split: dict[str, list],
    work: Path,
    vae_info: dict[str, Any] | None,
) -> tuple[Any, dict[str, Any] | None]:
    """The registrar of one setting (networks trained, or reused from ``work``)."""
    from binn.register.track import Registrar
    from binn.vocabulary import canonical_setting, parse_setting, split_refine

    setting = canonical_setting(setting, f"bench setting of {method}")
    params = parse_setting(setting)
    kind = get_method(method)
    if not kind.is_network:
        return Registrar(method, params, threads=cfg.threads), None
    from binn.register.train import train_registration

    base, refine = split_refine(params)
    name = str(kind.weight)
    if set(base) != {name}:
        raise BinnInputError(None, f"{method} setting {setting!r} must name {name} (only)")
    tc = TrainConfig(
        method=method,
        **{name: base[name]},
        width=cfg.width,
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        val_every=min(cfg.val_every, cfg.steps),
        seed=cfg.seed,
        device=cfg.device,
    )
    vae = Path(vae_info["path"]) if kind.needs_vae and vae_info else None
    key = {"train": dataclasses.asdict(tc), "data": _data_key(cfg), "vae": vae_info}
    out = work / "models" / f"{method}_{tc.setting()}_{_digest(key)}.pt"
    start = time.perf_counter()
    res = train_registration(split["train"], split["val"], tc, out, vae_path=vae)
    info = {
        "seconds": time.perf_counter() - start,
        "best_val_loss": res["best_val_loss"],
        "best_step": res["best_step"],
    }
    registrar = Registrar(
        method, refine, out, cfg.size, cfg.batch_size, cfg.device, vae=vae, threads=cfg.threads
    )
    return registrar, info


def _data_key(cfg: BenchConfig) -> dict[str, Any]:
    """What a network's training data depends on (not the test subjects)."""
    fields = ("size", "spacing_mm", "frames", "slices", "snr_db", "seed")
    return {
        **{k: getattr(cfg, k) for k in fields},
        "train": cfg.subjects["train"],
        "val": cfg.subjects["val"],
    }


def _vae(cfg: BenchConfig, work: Path) -> dict[str, Any]:
    """The VAE of ``binn``: ``cfg.vae``, or one trained here on synthetic simulations."""
    if cfg.vae is not None:
        return {"path": str(cfg.vae), "trained_here": False}
    from binn.learn.config import TrainConfig as VaeTrainConfig
    from binn.learn.train import train_vae
    from binn.simulate.cases import enumerate_cases
    from binn.simulate.config import SimulationSettings
    from binn.simulate.pipeline import run_simulation

    source = {"kind": "synthetic", "n_cases": cfg.vae_cases, "seed": VAE_SEED}
    grid = {"size": cfg.size, "spacing_mm": cfg.spacing_mm}
    key = {"source": source, **grid, "frames": SIM_FRAMES, "mesh": SIM_MESH_MM, "mu": SIM_MU_KPA}
    folder = work / f"vae_{_digest({**key, 'epochs': cfg.vae_epochs, 'seed': cfg.seed})}"
    path = folder / "vae.pt"
    info = {"path": str(path), "trained_here": True, **key, "epochs": cfg.vae_epochs}
    if path.is_file():
        log.info("no --vae given: reusing the VAE trained earlier in %s", path)
        return info
    log.warning(
        "no --vae given: training a small VAE here on %d synthetic simulations "
        "(binn simulate, %d px at %g mm, %d frames) with binn train-vae's defaults -> %s",
        cfg.vae_cases,
        cfg.size,
        cfg.spacing_mm,
        SIM_FRAMES,
        path,
    )
    start = time.perf_counter()
    settings = SimulationSettings(mu_kpa=SIM_MU_KPA, frames=SIM_FRAMES, mesh_size_mm=SIM_MESH_MM)
    cases = []
    for spec in enumerate_cases(source, cfg.spacing_mm, cfg.size):
        out = folder / "cases" / f"{spec.name}.npz"
        if not out.is_file():
            run_simulation(spec.request(out, settings, record_failure=True))
        cases.append(out)
    info["simulate_seconds"] = time.perf_counter() - start
    epochs = {} if cfg.vae_epochs is None else {"epochs": cfg.vae_epochs}
    training = dataclasses.replace(VaeTrainConfig(), image_size=cfg.size, seed=cfg.seed, **epochs)
    start = time.perf_counter()
    train_vae(cases, path, training, cfg.device)
    info["train_seconds"] = time.perf_counter() - start
    return info
