"""Contract tests run on every registered model: build, forward/backward, a short fit, parameter count."""

from __future__ import annotations

import pytest
import torch
from zoo_helpers import EXPECTED_PARAMS_M, HEAVY, STEP_LR, batch, loss_of, n_params

from ferbench.models import FERModel, InputSpec, Objective, create_model, list_models

MODELS = list_models()


def _slow_if_heavy(name: str):
    return pytest.param(name, marks=pytest.mark.slow) if name in HEAVY else name


def test_every_model_of_the_issue_is_registered():
    expected = {"poster", "poster_v2", "dan", "ddamfn", "ada_df", "lnsu_net", "mfer", "gsdnet", "resnet18",
                "efficientnet_b0", "efficientnet_b2"}
    assert expected <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("num_classes", [7, 8])
def test_builds_and_predicts_num_classes(name, num_classes):
    torch.manual_seed(0)
    model = create_model(name, num_classes)
    assert isinstance(model, FERModel) and isinstance(model.input_spec, InputSpec)
    assert isinstance(model.build_objective([5] * num_classes), Objective)
    model.eval()
    x, _ = batch(model, 2, num_classes)
    with torch.no_grad():
        out = model(x)
    assert out["logits"].shape == (2, num_classes)
    assert torch.isfinite(out["logits"]).all()


@pytest.mark.parametrize("name", MODELS)
def test_forward_backward_reaches_every_trainable_parameter(name):
    torch.manual_seed(0)
    model = create_model(name, 7).train()
    objective = model.build_objective([10, 3, 5, 40, 12, 6, 20])
    x, y = batch(model, 2, 7)
    loss, parts = loss_of(model, objective, x, y)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert all(not v.requires_grad for v in parts.values())
    loss.backward()
    params = list(model.named_parameters()) + [(f"objective.{k}", p) for k, p in objective.named_parameters()]
    no_grad = [k for k, p in params if p.requires_grad and p.grad is None]
    assert not no_grad, f"trainable parameters without gradient: {no_grad[:10]}"
    bad = [k for k, p in params if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradients: {bad[:10]}"


@pytest.mark.parametrize("name", [_slow_if_heavy(n) for n in MODELS])
def test_ten_steps_lower_the_loss(name):
    """Ten Adam steps on mini-batches of 4 drawn in turn from 16 fixed images lower the loss on all 16.

    Mini-batches of 4 keep the test affordable on 2 shared CPU cores; the loss is compared on the whole set.
    """
    torch.manual_seed(0)
    model = create_model(name, 7).train()
    objective = model.build_objective([3, 2, 2, 3, 2, 2, 2])
    x, y = batch(model, 16, 7, seed=1)
    params = [p for p in list(model.parameters()) + list(objective.parameters()) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=STEP_LR.get(name, 1e-3))
    with torch.no_grad():
        before = loss_of(model, objective, x, y)[0].item()
    for step in range(10):
        i = torch.arange(4) + 4 * (step % 4)
        loss, _ = loss_of(model, objective, x[i], y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = loss_of(model, objective, x, y)[0].item()
    assert after < before, (before, after)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS_M))
def test_parameter_count_matches_the_official_model(name):
    model = create_model(name, 7)
    measured = n_params(model) / 1e6
    assert measured == pytest.approx(EXPECTED_PARAMS_M[name], rel=0.01), f"{name}: {measured:.3f}M"
