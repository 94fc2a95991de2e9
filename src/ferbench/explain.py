"""Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
Localization", ICCV 2017) for a batch, computed by the maintained ``pytorch-grad-cam`` package at the layer
each model declares (``FERModel.cam_target``: the layer and, for token outputs, the reshape to a map)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import Tensor, nn

from .models import LogitsOnly


def gradcam(model: nn.Module, images: Tensor, targets: Sequence[int] | Tensor) -> np.ndarray:
    """Grad-CAM of each image for its target class: ``[B,H,W]`` float32 in 0..1 at the input's size (each map
    scaled to its own maximum; all zeros where no position speaks for the class).

    ``images``: the batch as the model is fed (``[B,3,H,W]``, normalised per its ``input_spec``). The model is
    put in eval mode for the call and given back in the mode it came in.
    """
    if len(targets) != len(images):
        raise ValueError(f"{len(images)} images but {len(targets)} targets")
    spec = model.cam_target
    was_training = model.training
    # a leaf that needs a gradient: the maps exist even where the model's own parameters are frozen
    x = images.detach().clone().requires_grad_(True)
    try:
        with torch.enable_grad(), GradCAM(LogitsOnly(model), [model.get_submodule(spec.layer)],
                                          reshape_transform=spec.reshape) as cam:
            return cam(x, [ClassifierOutputTarget(int(t)) for t in targets])
    finally:
        model.train(was_training)


def render_best(best_dir: str | Path, results_root: str | Path, labels: str | Path, images_npy: str | Path,
                out: str | Path, k: int = 3, device: str = "cpu") -> list[Path]:
    """The Grad-CAM grid of a best checkpoint (``results/best/{model}/{dataset}``) on its fold's test
    images: up to ``k`` correct and ``k`` wrong per class, each map for the predicted class."""
    from .figures.render import render_gradcam
    from .inference import card_input_spec
    from .predict import load_checkpoint
    from .train.augment import BatchAugment

    model, card = load_checkpoint(best_dir, device)
    prep = BatchAugment(None, card_input_spec(model, card), device)

    def explain(images: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return gradcam(model, prep.eval(torch.from_numpy(np.ascontiguousarray(images))), targets)

    return render_gradcam(Path(results_root) / card["source"], labels, images_npy, out, explain, k=k)
