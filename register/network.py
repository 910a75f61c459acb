"""The registration network of Qin et al. 2018 (MICCAI, "Joint learning of motion estimation
and segmentation"), as reused by BINN.

Two weight-shared encoders (5 conv stages, paper widths 64, 128, 256, 512, 512; stages 2-5
start with a stride-2 conv) see the source and the target frame; at each scale the two
feature maps are concatenated, reduced by a 1x1 conv, upsampled to full resolution; the five
scales are concatenated and a conv head predicts a 2-channel field through ``tanh``, scaled to
pixels. A width multiplier scales all channel counts (1.0 = paper).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PAPER_WIDTHS = (64, 128, 256, 512, 512)
PAPER_CONVS = (2, 2, 3, 3, 3)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def _stage(cin: int, cout: int, n_convs: int, stride: int) -> nn.Sequential:
    layers = [_conv(cin, cout, stride)]
    layers += [_conv(cout, cout) for _ in range(n_convs - 1)]
    return nn.Sequential(*layers)


def scaled_widths(width: float) -> tuple[int, ...]:
    """Channel counts of the 5 encoder stages for width multiplier ``width`` (>= 4 each)."""
    if width <= 0:
        raise ValueError(f"width multiplier must be positive, got {width}")
    return tuple(max(4, round(c * width)) for c in PAPER_WIDTHS)


class RegistrationNet(nn.Module):
    """Field predictor ``(source, target) -> u`` in the registration convention.

    ``forward(source (B,1,H,W), target (B,1,H,W)) -> (B, 2, H, W)`` float32, pixels, such that
    ``warp(source, u) ≈ target``. ``H`` and ``W`` must be divisible by 16. The ``tanh`` output
    is scaled by ``max_disp`` px (default: ``(image_size - 1) / 2``, i.e. the normalised
    ``[-1, 1]`` range of the original code). The output layer starts at zero (identity).
    """

    def __init__(self, width: float = 1.0, image_size: int = 96, max_disp: float | None = None):
        super().__init__()
        self.width = float(width)
        self.image_size = int(image_size)
        self.max_disp = float(max_disp if max_disp is not None else (image_size - 1) / 2)
        widths = scaled_widths(width)
        head = widths[0]
        cins = (1, *widths[:-1])
        strides = (1, 2, 2, 2, 2)
        self.encoder = nn.ModuleList(
            _stage(ci, co, n, s)
            for ci, co, n, s in zip(cins, widths, PAPER_CONVS, strides, strict=True)
        )
        self.reduce = nn.ModuleList(
            nn.Sequential(nn.Conv2d(2 * c, head, 1), nn.ReLU(inplace=True)) for c in widths
        )
        self.head = nn.Sequential(
            nn.Conv2d(5 * head, head, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(head, head, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(head, 2, 1),
        )
        # start from the identity (zero field), as registration networks usually do
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)
        # NHWC weights: oneDNN's convolutions (forward and backward) run about 20 % faster
        # on the CPU than in NCHW; the values and the state dict are unchanged
        self.to(memory_format=torch.channels_last)

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Predict the field (B, 2, H, W) px that warps ``source`` onto ``target``."""
        h, w = source.shape[-2:]
        if h % 16 or w % 16:
            raise ValueError(f"image size {h}x{w} must be divisible by 16")
        # the two encoders share weights: run them as one batch
        x = torch.cat((source, target), dim=0).contiguous(memory_format=torch.channels_last)
        b = source.shape[0]
        scales = []
        for stage, reduce in zip(self.encoder, self.reduce, strict=True):
            x = stage(x)
            # split, not two slices: the halves' gradient comes back as one channels-last
            # tensor, and autograd adds it to the next stage's at full speed; two slices'
            # gradients are NCHW, and that mixed-layout add took 10-15 % of a training step
            # on the CPU (64 px, width 0.25; the values are identical)
            joint = reduce(torch.cat(x.split(b), dim=1))
            if joint.shape[-2:] != (h, w):
                joint = F.interpolate(joint, size=(h, w), mode="bilinear", align_corners=False)
            scales.append(joint)
        return torch.tanh(self.head(torch.cat(scales, dim=1))) * self.max_disp

    def config(self) -> dict:
        """Architecture parameters stored in checkpoints."""
        return {
            "arch": "qin2018",
            "width": self.width,
            "image_size": self.image_size,
            "max_disp": self.max_disp,
        }
