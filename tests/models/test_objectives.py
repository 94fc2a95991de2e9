"""The losses of DDAMFN, GSDNet, POSTER, POSTER++, MFER and the HSEmotion baselines, on synthetic outputs."""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F

from ferbench.models import CrossEntropyObjective, create_model
from ferbench.models.ddamfn import DDAMFNObjective, attention_diversity_loss
from ferbench.models.gsdnet import GSDObjective, soft_cross_entropy
from ferbench.models.mfer import MFERObjective
from ferbench.models.poster import PosterObjective
from ferbench.models.timm_baselines import WeightedCrossEntropyObjective

Y = torch.tensor([0, 2, 1])


def test_ddamfn_attention_loss_is_inverse_mean_pairwise_mse():
    heads = torch.rand(3, 3, 4, 7, 7)
    pairs = [(0, 1), (0, 2), (1, 2)]
    expected = 3 / (sum(F.mse_loss(heads[:, i], heads[:, j]) for i, j in pairs) + sys.float_info.epsilon)
    assert attention_diversity_loss(heads).item() == pytest.approx(expected.item())
    logits = torch.randn(3, 7)
    loss, parts = DDAMFNObjective()({"logits": logits, "heads": heads}, Y)
    assert loss.item() == pytest.approx((F.cross_entropy(logits, Y) + 0.1 * expected).item(), rel=1e-5)


def test_gsdnet_teachers_are_stop_gradient_and_terms_are_weighted():
    z = torch.randn(3, 4, 7, requires_grad=True)
    f = torch.randn(3, 4, 128, requires_grad=True)
    loss, parts = GSDObjective()({"logits": z[:, 3], "exit_logits": z, "exit_features": f}, Y)
    expected_kd = sum(soft_cross_entropy(z[:, k], z[:, k + 1], 3.0) for k in range(3))
    expected_feat = sum(torch.dist(f[:, k], f[:, k + 1]) for k in range(3))
    assert parts["kd"].item() == pytest.approx(expected_kd.item(), rel=1e-5)
    expected = F.cross_entropy(z[:, 3], Y) + 0.01 * expected_feat + 0.3 * expected_kd
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    # the deepest exit is never a student: only CE reaches it, so its grad equals CE's grad
    loss.backward()
    ce_grad = torch.autograd.grad(F.cross_entropy(z[:, 3], Y), z)[0][:, 3]
    assert torch.allclose(z.grad[:, 3], ce_grad, atol=1e-6)
    assert f.grad[:, 3].abs().sum() == 0
    assert f.grad[:, 0].abs().sum() > 0


def test_gsdnet_exits_are_independent():
    model = create_model("gsdnet", 7).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224))
    assert torch.equal(out["logits"], out["exit_logits"][:, 3])
    # the official in-place aliasing (exit 0 = the sum of all exits) is fixed
    assert not torch.allclose(out["exit_logits"][:, 0], out["exit_logits"].sum(1))


def test_poster_is_ce_plus_two_label_smoothing_ce():
    logits = torch.randn(3, 7)
    logp = logits.log_softmax(1)
    lsce = (0.8 * -logp.gather(1, Y[:, None]).squeeze(1) + 0.2 * -logp.mean(1)).mean()
    loss, _ = PosterObjective()({"logits": logits}, Y)
    assert loss.item() == pytest.approx((F.cross_entropy(logits, Y) + 2 * lsce).item(), rel=1e-5)
    assert create_model("poster", 7).input_spec.bgr


def test_poster_v2_is_plain_cross_entropy():
    objective = create_model("poster_v2", 7).build_objective([1] * 7)
    assert isinstance(objective, CrossEntropyObjective) and objective.ce.label_smoothing == 0.0


def test_mfer_smooths_three_heads_and_trains_its_centres():
    heads = torch.randn(3, 3, 7)
    feature = torch.randn(3, 1024)
    objective = MFERObjective(7)
    loss, parts = objective({"logits": heads.sum(1), "head_logits": heads, "feature": feature}, Y)
    lsce = sum(
        (0.9 * F.nll_loss(heads[:, i].log_softmax(1), Y) - 0.1 * heads[:, i].log_softmax(1).mean(1).mean())
        for i in range(3)
    )
    assert parts["lsce"].item() == pytest.approx(lsce.item(), rel=1e-5)
    loss.backward()
    assert objective.feature_loss.centers.grad is not None
    assert objective.feature_loss.centers.shape == (7, 1024)


def test_hsemotion_class_weights_follow_the_split():
    objective = create_model("efficientnet_b0", 3).build_objective([10, 40, 20])
    assert isinstance(objective, WeightedCrossEntropyObjective)
    assert objective.class_weights.tolist() == [4.0, 1.0, 2.0]
    logits = torch.randn(3, 3)
    loss, _ = objective({"logits": logits}, Y)
    weighted = F.cross_entropy(logits, Y, weight=torch.tensor([4.0, 1.0, 2.0]))
    assert loss.item() == pytest.approx(weighted.item())
    assert create_model("efficientnet_b2", 3).input_spec.size == 260
