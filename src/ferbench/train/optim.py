"""Optimizer and LR schedule from a recipe, through timm's factories."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2

from .sam import SAM

_SCHEDULES = {"cosine": "cosine", "step": "step", "exponential": "step"}


def build_optimizer(params: Iterable[torch.nn.Parameter], recipe: Mapping[str, Any]) -> torch.optim.Optimizer:
    kwargs = {"momentum": recipe["momentum"]} if recipe["optimizer"] == "sgd" and "momentum" in recipe else {}
    # A plain parameter list: the official scripts decay every parameter (no bias/BN exemption).
    # torch's fused kernels (CPU and CUDA) update every parameter in one pass: a DAN step's Adam
    # update took 29 ms fused against 93-114 ms per parameter on one CPU thread.
    # timm's "sgd" is Nesterov SGD; the official recipes' torch.optim.SGD(momentum=0.9) is timm's "momentum".
    name = "momentum" if recipe["optimizer"] == "sgd" else recipe["optimizer"]
    opt = create_optimizer_v2(list(params), opt=name, lr=recipe["lr"],
                              weight_decay=recipe.get("weight_decay", 0.0), fused=True, **kwargs)
    sam = recipe.get("sam")
    return SAM(opt.param_groups, opt, rho=sam.get("rho", 0.05), adaptive=sam.get("adaptive", False)) if sam else opt


def build_scheduler(optimizer: torch.optim.Optimizer, recipe: Mapping[str, Any]):
    """A timm scheduler stepped once per epoch (``step(epoch)``), or None."""
    name = recipe.get("scheduler", "none")
    if name in (None, "none"):
        return None
    if name not in _SCHEDULES:
        raise ValueError(f"unknown scheduler {name!r}; use one of {sorted(_SCHEDULES) + ['none']}")
    base = optimizer.base if isinstance(optimizer, SAM) else optimizer
    decay_epochs = 1 if name == "exponential" else recipe.get("step_size", 10)
    sched, _ = create_scheduler_v2(
        base,
        sched=_SCHEDULES[name],
        num_epochs=recipe["epochs"],
        decay_epochs=decay_epochs,
        decay_rate=recipe.get("gamma", 0.1),
        min_lr=recipe.get("min_lr", 0.0),
        warmup_epochs=recipe.get("warmup_epochs", 0),
        warmup_lr=recipe.get("warmup_lr", 1e-5),
        cooldown_epochs=0,
    )
    return sched
