"""LNSU-Net: weights from class_counts, re-balanced smoothing, CAM flip consistency, original-Swin keys."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from ferbench.models import create_model
from ferbench.models.lnsu_net import balance_weights, rebalanced_smoothing_targets, swin_t_112

RAF_TRAIN_COUNTS = [1290, 281, 717, 4772, 1982, 705, 2524]
RAF_OFFICIAL_WEIGHTS = [0.95124031, 4.36690391, 1.71143654, 0.25714585, 0.6191221, 1.74056738, 0.48617274]


def test_balance_weights_follow_the_class_counts():
    assert balance_weights(RAF_TRAIN_COUNTS).tolist() == pytest.approx(RAF_OFFICIAL_WEIGHTS, rel=1e-5)
    objective = create_model("lnsu_net", 3).build_objective([10, 30, 60])
    assert objective.class_weights.tolist() == pytest.approx([1.0, 1 / 3, 1 / 6])


def test_smoothing_mass_goes_to_the_other_classes_by_weight():
    soft = rebalanced_smoothing_targets(torch.tensor([0, 2]), torch.tensor([1.0, 3.0, 1.0]), 0.3)
    assert soft.tolist() == [pytest.approx([0.7, 0.225, 0.075]), pytest.approx([0.075, 0.225, 0.7])]


def test_flip_back_equals_the_official_mirrored_grid_sample():
    cam = torch.randn(2, 7, 7, 7)
    xs = torch.linspace(-1, 1, 7)
    gy, gx = torch.meshgrid(xs, xs, indexing="ij")
    grid = torch.stack([-gx, gy], dim=-1).expand(2, 7, 7, 2)
    official = F.grid_sample(cam, grid, mode="bilinear", padding_mode="border", align_corners=True)
    assert torch.allclose(cam.flip(3), official, atol=1e-6)


def test_cam_loss_sees_the_flipped_view_and_leaves_the_head_alone():
    torch.manual_seed(0)
    model = create_model("lnsu_net", 7).train()
    objective = model.build_objective(RAF_TRAIN_COUNTS)
    x = torch.randn(2, 3, 112, 112)
    assert torch.equal(objective.views(x)["flip"], x.flip(3))
    out = model(x)
    extra = {"flip": model(x.flip(3))}
    _, parts = objective(out, torch.tensor([0, 1]), extra)
    assert parts["flip"] > 0
    # the flip term alone gives the head no gradient (detached CAM weights), the encoder some
    model.zero_grad()
    flip = (out["cam"] - extra["flip"]["cam"].flip(3)).pow(2).mean()
    flip.backward()
    assert model.head.weight.grad is None
    assert model.norm.weight.grad.abs().sum() > 0


def _original_swin_state():
    """start_0.pt layout: original Swin keys (downsample at the end of stages 0-2) + face-ID head + norm."""
    timm_state = swin_t_112().state_dict()
    state = {}

    def one_stage_earlier(m):
        return f"layers.{int(m.group(1)) - 1}.downsample"

    for k, v in timm_state.items():
        state[re.sub(r"layers\.(\d+)\.downsample", one_stage_earlier, k)] = v
    for k in [k for k in state if k.endswith("relative_position_bias_table")]:
        index = k.replace("relative_position_bias_table", "relative_position_index")
        state[index] = torch.zeros(49, 49).long()
    state.update({"norm.weight": torch.ones(768), "norm.bias": torch.zeros(768),
                  "feature.0.weight": torch.zeros(512, 768 * 49), "feature.1.weight": torch.ones(512)})
    return state


def test_start_0_loads_through_the_original_swin_key_map(tmp_path):
    state = _original_swin_state()
    assert "layers.0.downsample.reduction.weight" in state
    path = tmp_path / "start_0.pt"
    torch.save({"state_dict_backbone": state}, path)
    model = create_model("lnsu_net", 7, pretrained=path)
    report = model.pretrained_report["backbone"]
    assert report.matched == len(model.encoder.state_dict())
    assert set(report.unexpected) == {"norm.weight", "norm.bias", "feature.0.weight", "feature.1.weight"}
    assert torch.equal(model.encoder.layers[1].downsample.reduction.weight,
                       state["layers.0.downsample.reduction.weight"])
