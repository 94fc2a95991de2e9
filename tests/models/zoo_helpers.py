"""What the model-zoo tests share: the expected parameter table and a loop-like loss computation."""

from __future__ import annotations

import torch
from torch import Tensor, nn

# Parameters used in forward (millions), measured from the official classes in ../shared/docs/models.md
# (section 0). Frozen sub-networks that run in forward (POSTER's landmark net, Ada-DF's stem) count;
# dead modules (never run in forward) are not built here and do not count.
EXPECTED_PARAMS_M = {
    "dan": 19.72,
    "ddamfn": 4.11,
    "ada_df": 22.20,
    "lnsu_net": 27.52,
    "poster": 59.0,
    "poster_v2": 43.85,
    "mfer": 155.36,
    "gsdnet": 29.70,
    "efficientnet_b0": 4.02,
    "efficientnet_b2": 7.71,
}

# Models whose 10-step optimisation test costs more than a few seconds per step on 2 shared CPU cores.
HEAVY = {"poster", "poster_v2", "gsdnet", "mfer", "lnsu_net"}

# Adam learning rate of the 10-step test: transformers from scratch need a lower one (their official recipes
# use 3e-5 to 1e-4); CNNs with BatchNorm move visibly within ten steps at 1e-3.
STEP_LR = {"lnsu_net": 1e-4, "poster": 1e-4, "poster_v2": 1e-4, "mfer": 1e-4}


def batch(model, n: int, num_classes: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    size = model.input_spec.size
    x = torch.randn(n, 3, size, size, generator=g)
    y = torch.arange(n) % num_classes
    return x, y


def loss_of(model: nn.Module, objective: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, dict]:
    """The training loop's loss computation: the model on the batch and on each extra view."""
    out = model(x)
    extra = {k: model(v) for k, v in objective.views(x).items()}
    return objective(out, y, extra)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
