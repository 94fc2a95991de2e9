"""Grad-CAM through pytorch-grad-cam at each model's declared layer: a model whose answer is known, then every
registered model (from scratch, small input)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ferbench.explain import gradcam
from ferbench.models import CamTarget, FERModel, create_model, list_models

SIZE = 112  # the input of DDAMFN, LNSU-Net and the POSTERs; 3×3 to 4×4 final maps for the other models


class TwoRegions(FERModel):
    """Class 0 is the mean of input channel 0, class 1 of channel 1, both through a 1×1 conv (the CAM
    layer)."""

    cam_target = CamTarget("features")

    def __init__(self):
        super().__init__()
        self.features = nn.Conv2d(3, 2, 1, bias=False)
        with torch.no_grad():
            self.features.weight.copy_(torch.eye(2, 3)[:, :, None, None])

    def forward(self, x):
        return {"logits": self.features(x).mean(dim=(2, 3))}


def test_the_map_is_where_the_evidence_for_the_target_is():
    x = torch.zeros(1, 3, 8, 8)
    x[:, 0, :, :4] = 1.0  # evidence for class 0 on the left
    x[:, 1, :, 4:] = 2.0  # evidence for class 1 on the right
    model = TwoRegions().train()
    left = np.zeros((8, 8), np.float32)
    left[:, :4] = 1
    maps = gradcam(model, torch.cat([x, x]), [0, 1])
    assert maps.shape == (2, 8, 8) and maps.dtype == np.float32
    np.testing.assert_allclose(maps[0], left, atol=1e-6)
    np.testing.assert_allclose(maps[1], 1 - left, atol=1e-6)
    assert model.training, "the model is given back in train mode"


def test_one_target_per_image():
    with pytest.raises(ValueError, match="2 images but 1 targets"):
        gradcam(TwoRegions(), torch.zeros(2, 3, 8, 8), [0])


@pytest.mark.parametrize("name", list_models())
def test_every_model_gives_finite_maps_that_follow_the_target(name):
    torch.manual_seed(0)
    model = create_model(name, 5)
    x = torch.randn(2, 3, SIZE, SIZE)
    maps = gradcam(model, x, [0, 1])
    assert maps.shape == (2, SIZE, SIZE) and np.isfinite(maps).all()
    assert maps.min() >= 0 and maps.max() == pytest.approx(1, abs=1e-5)
    swapped = gradcam(model, x, [1, 0])
    assert all(np.abs(maps[i] - swapped[i]).max() > 0.05 for i in range(2)), "the map depends on the class"


def test_poster_v2_tokens_become_one_map_per_scale_stacked_on_channels():
    from ferbench.models.poster_v2 import tokens_to_map

    grids = torch.randn(2, 3, 4, 7, 7)  # 3 scales of a 4-channel 7×7 map
    tokens = torch.cat([g.flatten(2).transpose(1, 2) for g in grids.unbind(1)], dim=1)  # as the model embeds
    assert torch.equal(tokens_to_map(tokens, 3), grids.reshape(2, 12, 7, 7))
