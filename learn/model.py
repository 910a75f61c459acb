"""MotionVAE2D: the convolutional VAE that reconstructs displacement-field gradients.

Architecture taken from the authors' public code (cq615/Biomechanics-informed-motion-tracking,
``network.py``; supplement Fig. S2): four stride-2 4x4 convolutions (nf, 2nf, 4nf, 8nf
channels, ReLU, no normalisation), flatten, two linear heads for the latent mean and
log-variance, a linear layer back to the feature map, four stride-2 4x4 transposed
convolutions (ReLU, last one tanh). The input (4 gradient channels) is masked by the dilated
myocardium and divided by a fixed ``max_norm``; the tanh output is multiplied back by it.

One change from the authors: no layer has a bias. The network is then positively
homogeneous up to the tanh (``f(0) = 0``): no motion is reconstructed exactly, so
``R_VAE(0) = 0`` with zero gradient, and a small field is judged by its pattern, not
drowned in the biases' fixed output. With biases, the zero field reconstructed to a fixed
compressible pattern, ``R_VAE`` had a nonzero gradient at ``u = 0`` (a pull towards that
pattern where the heart barely moves) and near-zero simulated frames scored 2x the zero
field; without, 1e-4 against 7e-3 for sub-pixel compressible noise (measured, see
``binn bench vae``).

A second change: the reconstruction is masked by the same dilated band as the input, so the
loss compares the two inside the band only. The authors compare the masked input with the
unmasked output, which makes the decoder, which never sees the mask, draw the band's
outline from the latent code: capacity spent on the anatomy's shape, and an error that
grows with the field's size whatever its mechanics (held-out plausible frames, beta 1e-4:
14 % of their gradient energy left unexplained inside the band, 2 % outside it, the rest of
R_VAE the KL term). Chosen on 49 synthetic
cases (seeds 40-89) that no VAE trained on, with VAEs trained as ``binn bench vae`` trains
them (seeds 0-19, 30 epochs): pooled AUC against the energy-matched corruptions
compressible 0.935 -> 0.967, strain reversed 0.946 -> 0.975, mask swapped 0.840 -> 0.866.

Units, the same at every window size: the model sees dimensionless gradients (px/px)
divided by one fixed displacement unit, ``GRADIENT_UNIT_PX`` = 48 px. That is the authors'
half-window at their 96 px crop (they normalise fields to [-1, 1] over the window before
differentiating), so at 96 px R_VAE, ``max_norm`` and the regularisation weight alpha mean
what they mean in the paper, and at 64 px (or any other size) they mean the same.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from binn.learn.config import DEFAULT_MAX_NORM, GRADIENT_UNIT_PX

ARCH = "MotionVAE2D"
GRADIENT_CHANNELS = 4
DOWNSAMPLING = 16
RECONSTRUCTION = "band"  # the loss compares input and output inside the dilated mask only
_CONV = {"kernel_size": 4, "stride": 2, "padding": 1, "bias": False}


class MotionVAE2D(nn.Module):
    """VAE on ``(B, 4, S, S)`` gradient maps, ``S`` divisible by 16.

    Gradient units: the model sees ``(du / unit_px) / dx`` with ``u`` and ``x`` in px and
    ``unit_px = GRADIENT_UNIT_PX`` (48 px, whatever ``S``). ``max_norm`` is the fixed input
    scale in those units, the largest gradient the tanh output can reconstruct: default
    1/48 (1 px/px; simulated myocardial gradients stay below 0.6 px/px), authors 0.1
    (4.8 px/px, which leaves real gradients in the bottom tenth of the network's range);
    ``nf`` the width of the first convolution (authors: 32). ``beta`` (KL weight) and
    ``mask_dilation`` (px) travel with the model because scoring needs them;
    ``spacing_mm`` is the pixel spacing of the training fields where known (a prior is
    learnt on one physical grid).
    """

    def __init__(
        self,
        image_size: int = 96,
        latent_dim: int = 32,
        nf: int = 32,
        max_norm: float = DEFAULT_MAX_NORM,
        beta: float = 1e-4,
        mask_dilation: int = 3,
    ) -> None:
        super().__init__()
        if image_size % DOWNSAMPLING or image_size < DOWNSAMPLING:
            raise ValueError(f"image_size must be a positive multiple of 16, got {image_size}")
        self.image_size = image_size
        self.latent_dim = latent_dim
        self.nf = nf
        self.max_norm = float(max_norm)
        self.beta = float(beta)
        self.mask_dilation = int(mask_dilation)
        self.spacing_mm: float | None = None  # training grid, mm (set by learn.score.load_vae)
        side = image_size // DOWNSAMPLING
        self._bottom = (nf * 8, side, side)
        h_dim = nf * 8 * side * side
        widths = [GRADIENT_CHANNELS, nf, nf * 2, nf * 4, nf * 8]
        enc: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(widths):
            enc += [nn.Conv2d(c_in, c_out, **_CONV), nn.ReLU()]
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        self.fc_mu = nn.Linear(h_dim, latent_dim, bias=False)
        self.fc_logvar = nn.Linear(h_dim, latent_dim, bias=False)
        self.fc_dec = nn.Linear(latent_dim, h_dim, bias=False)
        dec: list[nn.Module] = []
        rev = widths[::-1]
        for i, (c_in, c_out) in enumerate(itertools.pairwise(rev)):
            dec.append(nn.ConvTranspose2d(c_in, c_out, **_CONV))
            dec.append(nn.ReLU() if i < len(rev) - 2 else nn.Tanh())
        self.decoder = nn.Sequential(*dec)

    @property
    def unit_px(self) -> float:
        """Displacement unit of the model's gradients, px (fixed; not the window size)."""
        return GRADIENT_UNIT_PX

    def config(self) -> dict[str, int | float | str]:
        """Constructor arguments, architecture name and gradient unit (stored in checkpoints)."""
        return {
            "arch": ARCH,
            "image_size": self.image_size,
            "latent_dim": self.latent_dim,
            "nf": self.nf,
            "max_norm": self.max_norm,
            "beta": self.beta,
            "mask_dilation": self.mask_dilation,
            "gradient_unit_px": self.unit_px,
            "reconstruction": RECONSTRUCTION,
        }

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scaled input ``(B, 4, S, S)`` -> latent mean and log-variance ``(B, latent_dim)``."""
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent ``(B, latent_dim)`` -> scaled reconstruction ``(B, 4, S, S)`` in [-1, 1]."""
        return self.decoder(self.fc_dec(z).view(z.shape[0], *self._bottom))

    def reconstruct(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Latent ``(B, latent_dim)`` -> reconstructed gradients ``(B, 4, S, S)`` in model
        gradient units, zero outside the dilated ``mask`` ``(B, 1, S, S)`` (0/1)."""
        return self.decode(z) * self.max_norm * mask

    def forward(
        self,
        grad: torch.Tensor,
        mask: torch.Tensor,
        sample: bool = False,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruct masked gradients.

        ``grad``: ``(B, 4, S, S)`` in model gradient units; ``mask``: ``(B, 1, S, S)`` or
        ``(B, S, S)`` dilated myocardium (0/1). Returns ``(recon, mu, logvar)`` with
        ``recon`` in the same units as ``grad`` and zero outside ``mask``. ``sample=True``
        draws ``z`` with the reparameterisation trick (training); otherwise ``z = mu``
        (deterministic scoring).
        """
        if mask.ndim == 3:
            mask = mask.unsqueeze(1)
        x = grad * mask / self.max_norm
        mu, logvar = self.encode(x)
        z = mu
        if sample:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + eps * torch.exp(0.5 * logvar)
        return self.reconstruct(z, mask), mu, logvar


def vae_loss(
    recon: torch.Tensor,
    target: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """Per-sample VAE loss ``(B,)``: sum of squared errors + ``beta`` * KL(q(z|x) || N(0, I)).

    The authors' ``MotionVAELoss`` (``reduction='sum'``) evaluated per sample; ``target`` is
    the masked gradient map, ``recon`` the reconstruction, masked by the same band
    (:meth:`MotionVAE2D.reconstruct`).
    """
    sse = (recon - target).square().flatten(1).sum(dim=1)
    kld = -0.5 * (1.0 + logvar - mu.square() - logvar.exp()).sum(dim=1)
    return sse + beta * kld
