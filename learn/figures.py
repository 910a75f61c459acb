"""Figures written beside a VAE checkpoint: loss curves, input vs reconstructed gradients."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from binn.io import atomic_path
from binn.learn.dataset import WindowSet
from binn.learn.gradients import displacement_gradient
from binn.learn.model import MotionVAE2D

CHANNELS = ("du0/d0", "du0/d1", "du1/d0", "du1/d1")


def plot_loss_curves(path: Path, history: list[dict[str, float]]) -> None:
    """Train and validation loss per epoch (epoch 0 = untrained model), log scale."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs[1:], [h["train_loss"] for h in history[1:]], label="train (sampled z)")
    ax.plot(epochs, [h["val_loss"] for h in history], "o-", ms=3, label="validation (mean z)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("VAE loss per window")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def plot_reconstruction(path: Path, vae: MotionVAE2D, data: WindowSet) -> None:
    """The 4 gradient channels of the largest-motion validation window: input, recon, error."""
    device = next(vae.parameters()).device
    mags = data.fields.flatten(1).abs().amax(dim=1)
    i = int(torch.argmax(mags))
    field = data.fields[i : i + 1].to(device)
    mask = data.masks[data.case_index[i : i + 1]].to(device)
    with torch.no_grad():
        grad = displacement_gradient(field) / vae.unit_px
        target = grad * mask.unsqueeze(1)
        recon, _, _ = vae(grad, mask)
    rows = {"input": target[0], "reconstruction": recon[0], "error": recon[0] - target[0]}
    scale = vae.unit_px  # back to px/px
    vmax = float(target.abs().max()) * scale or 1.0
    fig, axes = plt.subplots(3, 4, figsize=(10, 7.5))
    for r, (name, img) in enumerate(rows.items()):
        for c in range(4):
            ax = axes[r, c]
            im = ax.imshow((img[c] * scale).cpu().numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(CHANNELS[c])
            if c == 0:
                ax.set_ylabel(name)
    fig.colorbar(im, ax=axes, shrink=0.6, label="px/px")
    fig.suptitle(f"validation window {i} (case {data.cases[int(data.case_index[i])]})")
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
