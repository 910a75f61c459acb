"""``binn bench register``: all four methods on held-out phantoms, settings chosen on validation.

The workflow's protocol at bench scale, in one process:

1. phantom subjects of family A for ``train`` / ``val`` / ``test`` from the workflow's seeds
   (:func:`binn.vocabulary.phantom_seed`), so the default bench
   sees the default run's phantoms;
2. the VAE prior of ``binn``: ``--vae``, or (logged as such) a small one trained here with
   ``binn train-vae``'s defaults on synthetic ``binn simulate`` cases of the same grid;
3. one network per setting of ``binn`` and ``l2`` (``register.train``, validated on ``val``);
4. every setting of every method tracks the validation subjects (ES -> ED, as the
   workflow's ``validation`` experiment), and :func:`analysis.select.select_setting` picks
   per method the setting whose mean ``|det J - 1|`` is nearest the target;
5. only the selected setting of each method tracks the test subjects (every frame), scored
   by :func:`analysis.evaluate.evaluate_subject` as ``binn evaluate`` does.

Test subjects take no part in training or selection. Reported per method: the selected
setting, every validation candidate, test Dice / MCD (mm) / ``|det J - 1|`` / EPE (mm) as
mean, std and n over the evaluable subject x slice rows, the number of test subjects and
registered pairs, and wall ms per pair (classical methods run ``threads`` pairs at once);
``none`` is no registration. ``work_dir`` keeps the simulations, the VAE and the networks
(named by a digest of everything they depend on), so a rerun reuses them.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from binn.errors import BinnInputError
from binn.resample import DEFAULT_SIZE_PX, DEFAULT_SPACING_MM

if TYPE_CHECKING:  # imported where used: the command line imports this module for its defaults
    import pandas as pd

    from binn.analysis.evaluate import Tracking

log = logging.getLogger(__name__)

METHODS = ("binn", "l2", "demons", "ffd")
NETWORK_METHODS = ("binn", "l2")
TEST_METRICS = ("dice", "mcd_mm", "abs_det_j_minus_1", "epe_mm")

# The default run's values (config/config.yaml; tests/test_analysis_bench_register.py
# checks that they agree).
DEFAULT_SETTINGS = {
    "binn": ("alpha=0.0025", "alpha=0.01", "alpha=0.025", "alpha=0.1", "alpha=0.01,refine=50"),
    "l2": ("lam=0.001", "lam=0.01", "lam=0.1", "lam=0.1,refine=50"),
    "demons": ("sigma=1", "sigma=1.5", "sigma=2"),
    "ffd": ("grid=8,penalty=0.01", "grid=8,penalty=0.1"),
}
DEFAULT_TARGET = 0.1  # register.target_abs_det_j_minus_1
DEFAULT_SIZE = DEFAULT_SIZE_PX  # grid.size, px
DEFAULT_FRAMES = 20  # phantom.frames
DEFAULT_SLICES = 3  # phantom.slices
DEFAULT_SNR_DB = 20.0  # phantom.snr_db
DEFAULT_SUBJECTS = {"train": 8, "val": 3, "test": 4}  # phantom.n_train / n_val / n_test
DEFAULT_STEPS = 300  # register.steps
DEFAULT_LR = 1e-3  # register.lr
DEFAULT_WIDTH = 0.25  # register.width
DEFAULT_BATCH_SIZE = 16  # register.batch_size
DEFAULT_VAL_EVERY = 100  # binn train-reg --val-every (the workflow does not set it)
DEFAULT_THREADS = 2  # classical pairs in parallel (speed only: the fields do not depend on it)
DEFAULT_VAE_CASES = 12  # simulate.source.n_cases
VAE_SEED = 1000  # simulate.source.seed
SIM_FRAMES = 25  # simulate.frames
SIM_MESH_MM = 1.5  # simulate.mesh_size_mm
SIM_MU_KPA = 36.75  # simulate.mu_kpa


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """One bench run (see the module docstring); sizes px, spacing mm."""

    settings: dict[str, tuple[str, ...]] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_SETTINGS)
    )
    target: float = DEFAULT_TARGET
    size: int = DEFAULT_SIZE
    spacing_mm: float = DEFAULT_SPACING_MM
    frames: int = DEFAULT_FRAMES
    slices: int = DEFAULT_SLICES
    snr_db: float = DEFAULT_SNR_DB
    subjects: dict[str, int] = dataclasses.field(default_factory=lambda: dict(DEFAULT_SUBJECTS))
    steps: int = DEFAULT_STEPS
    lr: float = DEFAULT_LR
    width: float = DEFAULT_WIDTH
    batch_size: int = DEFAULT_BATCH_SIZE
    val_every: int = DEFAULT_VAL_EVERY
    threads: int = DEFAULT_THREADS
    vae: Path | None = None
    vae_cases: int = DEFAULT_VAE_CASES
    vae_epochs: int | None = None  # None: binn train-vae's default
    seed: int = 0
    device: str = "auto"
    work_dir: Path | None = None


def phantom_seeds(seed: int, split: str, n: int) -> list[int]:
    """The workflow's phantom seeds of ``split`` (:func:`binn.vocabulary.phantom_seed`)."""
    from binn.vocabulary import phantom_seed

    return [phantom_seed(seed, split, i) for i in range(n)]


def make_split(cfg: BenchConfig, split: str) -> list[Any]:
    """The phantom subjects (:class:`register.data.CineSubject`) of one split."""
    from binn.register.data.phantom import make_phantom

    return [
        make_phantom(
            s,
            "A",
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
    unknown = set(cfg.settings) - set(METHODS)
    if unknown or not cfg.settings:
        raise BinnInputError(None, f"methods must be among {METHODS}, got {sorted(cfg.settings)}")
    if any(not s for s in cfg.settings.values()):
        raise BinnInputError(None, "every method needs at least one setting")
    for split in ("train", "val", "test"):
        if cfg.subjects.get(split, 0) < 1:
            raise BinnInputError(None, f"need at least one {split} subject")
    from binn.register.checkpoint import resolve_device

    split = {name: make_split(cfg, name) for name in ("train", "val", "test")}
    with tempfile.TemporaryDirectory(prefix="binn-bench-register-") as tmp:
        work = Path(cfg.work_dir) if cfg.work_dir is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        vae_info = None
        if "binn" in cfg.settings:
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
    out["none"] = _summary(pd.DataFrame(zero_rows), TEST_METRICS)
    out["none"]["subjects"] = len(split["test"])
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

    from binn.analysis.select import select_setting

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
        "threads": cfg.threads if method not in NETWORK_METHODS else None,
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
    from binn.analysis.evaluate import Tracking
    from binn.register.track import track_sequence

    r = track_sequence(
        subject.images, registrar, frames, subject.es_index, subject.labels_ed == 2, subject.name
    )
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
    from binn.analysis.evaluate import evaluate_subject

    return evaluate_subject(subject, tracking, experiment)[0]


def _zero_tracking(subject: Any) -> Tracking:
    """No registration: zero fields on every frame."""
    import numpy as np

    from binn.analysis.evaluate import Tracking

    t, z, h, w = subject.images.shape
    return Tracking(
        subject.name,
        "none",
        "none",
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
    if method not in NETWORK_METHODS:
        return Registrar(method, params, threads=cfg.threads), None
    from binn.register.train import TrainConfig, train_registration

    base, refine = split_refine(params)
    name = "alpha" if method == "binn" else "lam"
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
    vae = Path(vae_info["path"]) if method == "binn" and vae_info else None
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


def _stage_args(module: Any, argv: list[str]) -> argparse.Namespace:
    """``argv`` parsed by a stage's own command line (so its defaults are the workflow's)."""
    parser = argparse.ArgumentParser()
    module.add_commands(parser.add_subparsers())
    return parser.parse_args(argv)


def _vae(cfg: BenchConfig, work: Path) -> dict[str, Any]:
    """The VAE of ``binn``: ``cfg.vae``, or one trained here on synthetic simulations."""
    if cfg.vae is not None:
        return {"path": str(cfg.vae), "trained_here": False}
    import binn.learn.cli
    import binn.simulate.cli
    from binn.learn.train import train_from_cli
    from binn.simulate.cases import enumerate_cases
    from binn.simulate.pipeline import run_cli_case

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
    cases = []
    for spec in enumerate_cases(source, cfg.spacing_mm, cfg.size):
        out = folder / "cases" / f"{spec.name}.npz"
        if not out.is_file():
            argv = ["simulate", *spec.cli_args(), "--mu", str(SIM_MU_KPA)]
            argv += ["--frames", str(SIM_FRAMES), "--mesh-size", str(SIM_MESH_MM)]
            run_cli_case(
                _stage_args(binn.simulate.cli, [*argv, "--record-failure", "--out", str(out)])
            )
        cases.append(str(out))
    info["simulate_seconds"] = time.perf_counter() - start
    argv = ["train-vae", *cases, "--out", str(path), "--image-size", str(cfg.size)]
    argv += ["--seed", str(cfg.seed), "--device", cfg.device]
    if cfg.vae_epochs is not None:
        argv += ["--epochs", str(cfg.vae_epochs)]
    start = time.perf_counter()
    train_from_cli(_stage_args(binn.learn.cli, argv))
    info["train_seconds"] = time.perf_counter() - start
    return info
