import pytest
import torch

from ferbench.train.optim import build_optimizer


@pytest.mark.parametrize("name, extra", [("adam", {}), ("adamw", {}), ("sgd", {"momentum": 0.9})])
def test_optimizers_are_fused_and_step_as_the_per_parameter_loop(name, extra):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    twin = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    twin.load_state_dict(model.state_dict())
    start = model[0].weight.detach().clone()
    recipe = {"optimizer": name, "lr": 0.05, "weight_decay": 1e-3, **extra}
    fused = build_optimizer(model.parameters(), recipe)
    assert fused.defaults["fused"] is True
    loop = type(fused)(twin.parameters(), lr=0.05, weight_decay=1e-3, foreach=False, **extra)
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    for m, opt in ((model, fused), (twin, loop)):
        for _ in range(3):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(x), y).backward()
            opt.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert not torch.equal(model[0].weight, start)


def test_sam_wraps_the_fused_optimizer_and_moves_the_weights():
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 3)
    before = model.weight.detach().clone()
    opt = build_optimizer(model.parameters(), {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "sam": {"rho": 0.05}})
    assert opt.base.defaults["fused"] is True
    x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.first_step()
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.second_step()
    assert torch.isfinite(model.weight).all() and not torch.equal(model.weight, before)
