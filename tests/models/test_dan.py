"""DAN: affinity centres trained and sized by the class count; partition loss; MS-Celeb ResNet-18 loading."""

from __future__ import annotations

import pytest
import timm
import torch

from ferbench.models import create_model
from ferbench.models._pretrained import PretrainedMismatch
from ferbench.models.dan import AffinityLoss, partition_loss


def test_affinity_centres_follow_the_class_count_and_receive_gradients():
    model = create_model("dan", 7).train()
    objective = model.build_objective([4, 1, 2, 9, 3, 3, 5])
    assert objective.affinity.centers.shape == (7, 512)
    assert any(p is objective.affinity.centers for p in objective.parameters())
    x = torch.randn(2, 3, 224, 224)
    loss, parts = objective(model(x), torch.tensor([0, 3]))
    loss.backward()
    assert objective.affinity.centers.grad is not None
    assert set(parts) == {"ce", "affinity", "partition"}


def test_affinity_is_the_normalised_squared_distance_to_the_own_centre():
    loss = AffinityLoss(3, feat_dim=2)
    with torch.no_grad():
        loss.centers.copy_(torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]]))
    fmap = torch.tensor([[1.0, 1.0], [2.0, 0.0]]).view(2, 2, 1, 1)
    spread = loss.centers.var(dim=0).sum()
    expected = (2.0 / spread + 1e-12) / 2  # sample 0: distance² 2 to centre 0; sample 1 sits on centre 1
    assert loss(fmap, torch.tensor([0, 1])).item() == pytest.approx(expected.item(), rel=1e-5)


def test_partition_loss_falls_as_heads_disagree():
    similar = torch.zeros(2, 4, 8) + 0.01 * torch.randn(2, 4, 8)
    diverse = torch.randn(2, 4, 8) * 3
    assert partition_loss(diverse) < partition_loss(similar)
    heads = torch.randn(2, 4, 8)
    assert partition_loss(heads).item() == pytest.approx(torch.log(1 + 4 / heads.var(dim=1).mean()).item())
    assert partition_loss(torch.randn(2, 1, 8)).item() == 0.0


def _msceleb_resnet18_file(tmp_path):
    # The official file: torchvision resnet18 keys (identical to timm's), 1000-way fc, under 'state_dict'.
    state = timm.create_model("resnet18", num_classes=1000).state_dict()
    path = tmp_path / "resnet18_msceleb.pth"
    torch.save({"state_dict": state}, path)
    return path, state


def test_msceleb_weights_load_into_the_trunk(tmp_path):
    path, state = _msceleb_resnet18_file(tmp_path)
    model = create_model("dan", 7, pretrained=path)
    assert model.pretrained_report["backbone"].unexpected == ("fc.weight", "fc.bias")
    assert model.pretrained_report["backbone"].matched == len(state) - 2
    assert torch.equal(model.trunk.conv1.weight, state["conv1.weight"])


def test_incomplete_weights_are_refused(tmp_path):
    path, state = _msceleb_resnet18_file(tmp_path)
    del state["layer4.1.bn2.weight"]
    torch.save({"state_dict": state}, path)
    with pytest.raises(PretrainedMismatch, match="1 keys missing"):
        create_model("dan", 7, pretrained=path)


def test_ada_df_branches_both_start_from_the_trunk(tmp_path):
    path, state = _msceleb_resnet18_file(tmp_path)
    model = create_model("ada_df", 7, pretrained=path)
    report = model.pretrained_report["backbone"]
    assert report.unexpected == ("fc.weight", "fc.bias")
    assert report.matched == len(model.stem.state_dict()) + 2 * len(model.aux.layers.state_dict())
    assert torch.equal(model.stem[4][1].conv2.weight, state["layer1.1.conv2.weight"])
    for branch in (model.aux, model.target):
        assert torch.equal(branch.layers[2][0].conv1.weight, state["layer4.0.conv1.weight"])
    assert model.aux.layers[0][0].conv1.weight is not model.target.layers[0][0].conv1.weight
