"""Sharpness-Aware Minimisation (Foret et al., ICLR 2021) around any torch optimizer.

POSTER, POSTER++, DDAMFN++ and HSEmotion train with SAM(Adam). Neither timm nor torch ships it, so it
lives here: ``first_step`` climbs to ``w + rho * g / ||g||`` (elementwise-scaled by ``|w|`` when
``adaptive``), ``second_step`` restores ``w`` and applies the base optimizer with the gradient there.
"""

from __future__ import annotations

import torch


class SAM(torch.optim.Optimizer):
    def __init__(self, params, base_optimizer: torch.optim.Optimizer, rho: float = 0.05, adaptive: bool = False):
        if rho < 0:
            raise ValueError(f"SAM rho must be >= 0, got {rho}")
        self.base = base_optimizer
        super().__init__(self.base.param_groups, {"rho": rho, "adaptive": adaptive})
        for group in self.param_groups:
            group.setdefault("rho", rho)
            group.setdefault("adaptive", adaptive)

    @torch.no_grad()
    def _grad_norm(self) -> torch.Tensor:
        norms = [
            ((torch.abs(p) if g["adaptive"] else 1.0) * p.grad).norm(p=2)
            for g in self.param_groups
            for p in g["params"]
            if p.grad is not None
        ]
        return torch.stack(norms).norm(p=2) if norms else torch.tensor(0.0)

    @torch.no_grad()
    def first_step(self) -> None:
        scale_all = self._grad_norm() + 1e-12
        for group in self.param_groups:
            scale = group["rho"] / scale_all
            for p in group["params"]:
                if p.grad is None:
                    continue
                e_w = (torch.pow(p, 2) if group["adaptive"] else 1.0) * p.grad * scale.to(p)
                p.add_(e_w)
                self.state[p]["e_w"] = e_w
        self.zero_grad(set_to_none=True)

    @torch.no_grad()
    def second_step(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if "e_w" in self.state[p]:
                    p.sub_(self.state[p].pop("e_w"))
        self.base.step()
        self.zero_grad(set_to_none=True)

    def step(self, closure=None):  # pragma: no cover - the loop calls first/second_step explicitly
        raise RuntimeError("SAM needs two passes: call first_step() and second_step()")

    def state_dict(self):
        return self.base.state_dict()

    def load_state_dict(self, state_dict):
        self.base.load_state_dict(state_dict)
