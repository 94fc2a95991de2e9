"""Ada-DF: α ramp, rank regulariser, the per-epoch class-distribution pass, frozen shared stem."""

from __future__ import annotations

import math

import pytest
import torch

from ferbench.models import EpochContext, create_model
from ferbench.models.ada_df import alpha_weights, rank_regularisation


def test_alpha_ramps_kl_in_then_decays_ce():
    assert alpha_weights(1, 3) == pytest.approx((math.exp(-(2 / 3) ** 2), 1.0))
    assert alpha_weights(3, 3) == (1.0, 1.0)
    assert alpha_weights(6, 3) == pytest.approx((1.0, math.exp(-0.25)))


def test_rank_regulariser_is_a_hinge_on_the_attention_gap():
    spread = torch.tensor([0.9, 0.8, 0.7, 0.2, 0.1, 0.95, 0.85, 0.75, 0.3, 0.05])
    assert rank_regularisation(spread, 0.7, 0.07).item() == 0.0
    flat = torch.full((10,), 0.5, requires_grad=True)
    rr = rank_regularisation(flat, 0.7, 0.07)
    assert rr.item() == pytest.approx(0.07)
    rr.backward()
    assert flat.grad.abs().sum() > 0


def test_stem_is_frozen_and_prediction_is_the_target_branch():
    model = create_model("ada_df", 7)
    assert not any(p.requires_grad for p in model.stem.parameters())
    assert all(p.requires_grad for p in model.target.parameters())
    model.eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        out = model(x)
        logits, _ = model.target(model.stem(x))
    assert torch.equal(out["logits"], logits)


def _ctx(model, batches, epoch=0):
    return EpochContext(epoch, 10, model, torch.device("cpu"), lambda: iter(batches))


def test_epoch_hooks_set_alpha_and_rebuild_class_distributions():
    torch.manual_seed(0)
    model = create_model("ada_df", 3).train()
    objective = model.build_objective([2, 2, 2])
    initial = objective.class_distributions.clone()
    assert torch.allclose(initial.sum(1), torch.ones(3))
    objective.on_epoch_start(_ctx(model, [], epoch=4))
    assert (objective.alpha_kl, objective.alpha_ce) == alpha_weights(5, 3)

    x = torch.randn(4, 3, 224, 224)
    y = torch.tensor([0, 0, 1, 1])  # class 2 absent from the pass → falls back to the initial row
    model.aux.fc.bias.data = torch.tensor([50.0, 0.0, 0.0])  # the aux branch is confident in class 0
    model.aux.fc.weight.data.zero_()
    objective.on_epoch_end(_ctx(model, [(x[:2], y[:2]), (x[2:], y[2:])]))
    assert model.training, "the hook restores train mode"
    ld = objective.class_distributions
    assert ld[0, 0] > 0.99  # confident and correct → the mean prediction
    assert torch.equal(ld[1], initial[1])  # class 1 predicted as 0 → below threshold → fallback
    assert torch.equal(ld[2], initial[2])
