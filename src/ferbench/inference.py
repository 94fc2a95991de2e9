"""A trained model at inference: its weights loaded safely, and class probabilities of aligned faces.

Shared by ``ferbench predict``, cross-dataset evaluation and ``ferbench verify``: every path that runs a
trained model after training feeds it exactly as the training loop's evaluation does
(``BatchAugment.eval``: resize to the input side, channel order, normalisation).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .models import InputSpec, create_model
from .train.augment import BatchAugment
from .train.cache import read_batch


def load_weights(model: str, num_classes: int, weights: str | Path, model_kwargs: dict[str, Any] | None = None,
                 device: str | torch.device = "cpu") -> nn.Module:
    """``create_model(model, num_classes, pretrained=None, **model_kwargs)`` with ``weights`` loaded
    (``weights_only=True``, strict), in eval mode on ``device``."""
    kwargs = dict(model_kwargs or {})
    net = create_model(model, num_classes, pretrained=None, **kwargs)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{weights} does not fit {model!r} with {num_classes} classes and model_kwargs "
                         f"{kwargs}: {e}") from None
    return net.to(device).eval()


def input_spec_at(net: nn.Module, input_size: int | None) -> InputSpec:
    """The model's ``InputSpec`` at the side it was trained at (``train.input_size`` overrides it)."""
    spec = net.input_spec
    return dataclasses.replace(spec, size=int(input_size)) if input_size else spec


def card_input_spec(model: nn.Module, card: dict[str, Any]) -> InputSpec:
    """The model's ``InputSpec`` at the card's ``input_size``, as the training loop built it."""
    spec = input_spec_at(model, card.get("input_size"))
    recorded = card.get("input_spec")
    if recorded:  # the card's own record must agree, or the code changed since training
        same = (int(recorded["size"]) == spec.size and bool(recorded.get("bgr", False)) == spec.bgr
                and np.allclose(recorded["mean"], spec.mean) and np.allclose(recorded["std"], spec.std))
        if not same:
            raise ValueError(f"card input_spec {recorded} differs from {card['model']!r}'s {spec} "
                             f"at input_size {card.get('input_size')}: the model code changed since training")
    return spec


class Classifier:
    """``probs(uint8 NHWC batch of aligned faces) -> [B, classes]`` softmax probabilities."""

    def __init__(self, net: nn.Module, spec: InputSpec, device: str | torch.device = "cpu", batch_size: int = 64):
        if batch_size < 1:
            raise ValueError(f"batch size must be positive, got {batch_size}")
        self.net, self.spec, self.device, self.batch_size = net, spec, torch.device(device), batch_size
        self.prep = BatchAugment(None, spec, self.device)

    @torch.inference_mode()
    def probs(self, batch: torch.Tensor) -> np.ndarray:
        logits = self.net(self.prep.eval(batch))["logits"]
        return torch.softmax(logits.float(), dim=1).cpu().numpy()

    def probs_of_faces(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        out = [self.probs(torch.from_numpy(np.stack(faces[s : s + self.batch_size])))
               for s in range(0, len(faces), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)

    def probs_of_cache(self, images: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Rows (increasing) of an image cache (``ferbench.train.cache``), in batches."""
        rows = np.asarray(rows)
        out = [self.probs(read_batch(images, rows[s : s + self.batch_size]))
               for s in range(0, len(rows), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)
