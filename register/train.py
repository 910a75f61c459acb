"""Training of the registration network: ``binn`` (MSE + alpha R_VAE) or ``l2`` (MSE + lam
||grad u||^2) on pairs (random frame t -> ED, every slice) of cine subjects.

Validation is by subject (fixed pairs of the validation subjects), the best checkpoint is
kept, an interrupted run resumes from ``MODEL.resume.pt``, and the loss curves are written
next to the model (``MODEL.curves.csv``, ``MODEL.curves.png``).
"""

from __future__ import annotations

import csv
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from binn.errors import BinnInputError
from binn.io import atomic_path, write_text
from binn.provenance import provenance
from register.checkpoint import resolve_device, save_checkpoint
from register.losses import freeze, l2_gradient_penalty, mask_coverage, mse, vae_penalty
from register.network import RegistrationNet
from register.settings import format_setting
from register.transform import warp

log = logging.getLogger(__name__)

MYO = 2  # ACDC label of the LV myocardium


class Subject(Protocol):
    """What training needs of a cine subject (``register.data.CineSubject`` has it)."""

    images: np.ndarray  # (T, Z, H, W) float32 in [0, 1]
    labels_ed: np.ndarray  # (Z, H, W) uint8, ACDC labels
    es_index: int


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (stored in the checkpoint)."""

    method: str = "l2"  # binn | l2
    alpha: float = 1e-3
    lam: float = 0.01
    width: float = 0.25
    steps: int = 2000
    batch_size: int = 8
    lr: float = 1e-4
    val_every: int = 100
    seed: int = 0
    device: str = "auto"

    def setting(self) -> str:
        """The setting string of this run (``alpha=0.001`` or ``lam=0.01``)."""
        return format_setting({"alpha": self.alpha} if self.method == "binn" else {"lam": self.lam})


class PairSet:
    """All (frame t >= 1 -> ED) pairs of a list of subjects, every slice, as tensors.

    ``source``/``target`` are ``(N, 1, H, W)`` float32, ``myo`` ``(N, H, W)`` float32 (the ED
    myocardium of the slice).
    """

    def __init__(self, subjects: Sequence[Subject], frames: str = "all"):
        src, tgt, myo = [], [], []
        size = None
        for s in subjects:
            images = np.asarray(s.images, dtype=np.float32)
            if images.ndim != 4 or images.shape[0] < 2:
                raise BinnInputError(
                    None, f"subject images must be (T>=2, Z, H, W), got {images.shape}"
                )
            if size is None:
                size = images.shape[-2:]
            elif images.shape[-2:] != size:
                raise BinnInputError(
                    None, f"subjects differ in crop size: {images.shape[-2:]} vs {size}"
                )
            ts = range(1, images.shape[0]) if frames == "all" else [int(s.es_index)]
            myo_ed = (np.asarray(s.labels_ed) == MYO).astype(np.float32)
            for t in ts:
                src.append(images[t])
                tgt.append(images[0])
                myo.append(myo_ed)
        if not src:
            raise BinnInputError(None, "no training pairs")
        self.source = torch.from_numpy(np.concatenate(src)[:, None])
        self.target = torch.from_numpy(np.concatenate(tgt)[:, None])
        self.myo = torch.from_numpy(np.concatenate(myo))
        self.size = int(size[0])

    def __len__(self) -> int:
        return self.source.shape[0]


def registration_loss(
    net: nn.Module,
    source: torch.Tensor,
    target: torch.Tensor,
    myo: torch.Tensor,
    cfg: TrainConfig,
    vae: nn.Module | None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of one batch and its parts (``mse``, ``reg``) for ``cfg.method``."""
    field = net(source, target)
    sim = mse(warp(source, field), target)
    if cfg.method == "binn":
        if vae is None:
            raise BinnInputError(None, "method 'binn' needs a VAE (--vae)")
        reg = vae_penalty(vae, field, myo)
        loss = sim + cfg.alpha * reg
    elif cfg.method == "l2":
        reg = l2_gradient_penalty(field)
        loss = sim + cfg.lam * reg
    else:
        raise BinnInputError(None, f"unknown training method {cfg.method!r}")
    return loss, {"mse": float(sim.detach()), "reg": float(reg.detach())}


@torch.no_grad()
def validate(
    net: nn.Module, pairs: PairSet, cfg: TrainConfig, vae: nn.Module | None, device: torch.device
) -> dict[str, float]:
    """Mean loss, MSE and regulariser over all validation pairs (eval mode)."""
    net.eval()
    totals = {"loss": 0.0, "mse": 0.0, "reg": 0.0}
    for i in range(0, len(pairs), cfg.batch_size):
        sl = slice(i, i + cfg.batch_size)
        loss, parts = registration_loss(
            net,
            pairs.source[sl].to(device),
            pairs.target[sl].to(device),
            pairs.myo[sl].to(device),
            cfg,
            vae,
        )
        n = pairs.source[sl].shape[0]
        totals["loss"] += float(loss) * n
        totals["mse"] += parts["mse"] * n
        totals["reg"] += parts["reg"] * n
    net.train()
    return {k: v / len(pairs) for k, v in totals.items()}


def train_registration(
    train_subjects: Sequence[Subject | Path],
    val_subjects: Sequence[Subject | Path],
    cfg: TrainConfig,
    out: Path,
    vae_path: Path | None = None,
    vae: nn.Module | None = None,
) -> dict[str, Any]:
    """Train a registration network; write the best checkpoint to ``out``.

    Subjects are ``CineSubject``-like objects or subject ``.npz`` paths. For ``binn`` pass
    ``vae_path`` (a ``binn train-vae`` checkpoint) or an in-memory ``vae``; it is frozen.
    Returns ``{"best_val_loss", "first_val_loss", "steps", "out", "mask_coverage"}``.
    """
    out = Path(out)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = resolve_device(cfg.device)
    train = PairSet(_as_subjects(train_subjects))
    val = PairSet(_as_subjects(val_subjects), frames="all")
    if val.size != train.size:
        raise BinnInputError(None, f"train ({train.size}px) and val ({val.size}px) sizes differ")
    if cfg.method == "binn":
        if vae is None:
            if vae_path is None:
                raise BinnInputError(None, "method 'binn' needs a VAE (--vae VAE.pt)")
            from learn.score import load_vae

            vae = load_vae(vae_path, device=str(device), image_size=train.size)
        vae = freeze(vae.to(device))
    coverage = mask_coverage(train.myo)
    log.info(
        "%d training pairs, %d validation pairs, %dpx; ED myocardium covers %.2f%% of "
        "the training pixels",
        len(train),
        len(val),
        train.size,
        100 * coverage,
    )
    if cfg.method == "binn" and coverage == 0:
        raise BinnInputError(None, "the ED myocardium mask is empty in every training slice")

    net = RegistrationNet(cfg.width, train.size).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    state = {"step": 0, "best": float("inf"), "history": []}
    resume = out.with_suffix(".resume.pt")
    meta = {
        "method": cfg.method,
        "alpha": cfg.alpha,
        "lam": cfg.lam,
        "setting": cfg.setting(),
        "train_config": dataclasses.asdict(cfg),
    }
    if resume.is_file():
        ck = torch.load(resume, map_location="cpu", weights_only=False)
        if _same_run(ck.get("train_config", {}), dataclasses.asdict(cfg)):
            net.load_state_dict(ck["state_dict"])
            opt.load_state_dict(ck["optimizer"])
            state = ck["state"]
            rng.bit_generator.state = ck["rng"]
            torch.set_rng_state(ck["torch_rng"])
            log.info("resuming %s from step %d", out, state["step"])
        else:
            log.warning("ignoring %s: it was written with another configuration", resume)
    if not state["history"]:
        first = validate(net, val, cfg, vae, device)
        state["history"].append({"step": 0, "train_loss": float("nan"), **_prefix(first)})

    net.train()
    running: list[float] = []
    bar = tqdm(total=cfg.steps, initial=state["step"], desc=f"train-reg {cfg.method}", disable=None)
    while state["step"] < cfg.steps:
        idx = torch.from_numpy(rng.integers(0, len(train), cfg.batch_size))
        loss, parts = registration_loss(
            net,
            train.source[idx].to(device),
            train.target[idx].to(device),
            train.myo[idx].to(device),
            cfg,
            vae,
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running.append(float(loss.detach()))
        state["step"] += 1
        bar.update(1)
        bar.set_postfix(loss=f"{running[-1]:.4g}", mse=f"{parts['mse']:.4g}")
        if state["step"] % cfg.val_every == 0 or state["step"] == cfg.steps:
            v = validate(net, val, cfg, vae, device)
            state["history"].append(
                {"step": state["step"], "train_loss": float(np.mean(running)), **_prefix(v)}
            )
            running = []
            log.info(
                "step %d: val loss %.5g (mse %.5g, reg %.5g)",
                state["step"],
                v["loss"],
                v["mse"],
                v["reg"],
            )
            if v["loss"] < state["best"]:
                state["best"] = v["loss"]
                save_checkpoint(
                    out,
                    net,
                    **meta,
                    step=state["step"],
                    val_loss=v["loss"],
                    provenance=provenance(meta, cfg.seed),
                )
            _save_resume(resume, net, opt, state, rng, cfg)
            _write_curves(out, state["history"])
    bar.close()
    return {
        "out": str(out),
        "steps": state["step"],
        "best_val_loss": state["best"],
        "first_val_loss": state["history"][0]["val_loss"],
        "mask_coverage": coverage,
        "setting": cfg.setting(),
    }


def _as_subjects(items: Sequence[Subject | Path]) -> list[Subject]:
    out = []
    for item in items:
        if isinstance(item, str | Path):
            from register.data.subject import load_subject

            out.append(load_subject(Path(item)))
        else:
            out.append(item)
    return out


def _same_run(a: dict, b: dict) -> bool:
    """Two configurations describe the same run up to its length (``steps`` may grow)."""
    return {k: v for k, v in a.items() if k != "steps"} == {
        k: v for k, v in b.items() if k != "steps"
    }


def _prefix(v: dict[str, float]) -> dict[str, float]:
    return {f"val_{k}": x for k, x in v.items()}


def _save_resume(
    path: Path,
    net: nn.Module,
    opt: torch.optim.Optimizer,
    state: dict,
    rng: np.random.Generator,
    cfg: TrainConfig,
) -> None:
    payload = {
        "state_dict": net.state_dict(),
        "optimizer": opt.state_dict(),
        "state": state,
        "rng": rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "train_config": dataclasses.asdict(cfg),
    }
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)


def _write_curves(out: Path, history: list[dict[str, float]]) -> None:
    """Loss curves as CSV and PNG next to the model."""
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    write_text(out.with_suffix(".curves.csv"), buf.getvalue())

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    steps = [h["step"] for h in history]
    ax.plot(steps[1:], [h["train_loss"] for h in history[1:]], label="train loss")
    ax.plot(steps, [h["val_loss"] for h in history], label="validation loss")
    ax.plot(steps, [h["val_mse"] for h in history], "--", label="validation MSE")
    ax.set_xlabel("step")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    with atomic_path(out.with_suffix(".curves.png")) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
