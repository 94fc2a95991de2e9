"""What every model and its training objective provide to the one training loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from ._pretrained import LoadReport, PretrainedPart

if TYPE_CHECKING:
    from ._official import OfficialCheckpoint

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class InputSpec:
    """How the official code feeds images to the network; the loop prepares batches to match."""

    size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    bgr: bool = False  # official POSTER reads with cv2 and never converts to RGB


@dataclass
class EpochContext:
    """Handed to objective hooks at epoch boundaries."""

    epoch: int  # 0-based
    num_epochs: int
    model: nn.Module
    device: torch.device
    # Yields augmented (x, y) training batches on ``device``, one pass over the training split.
    train_batches: Callable[[], Iterator[tuple[Tensor, Tensor]]]


class Objective(nn.Module):
    """The training loss of one model, weighted as the official code weighs it.

    Parameters registered here (e.g. DAN's affinity centres) are optimised with the model.
    ``views`` lists extra inputs the loss needs (e.g. LNSU's flipped batch); the loop runs the model
    on each and passes the outputs as ``extra``.
    """

    def views(self, x: Tensor) -> dict[str, Tensor]:
        return {}

    def forward(
        self, outputs: dict[str, Tensor], target: Tensor, extra: dict[str, dict[str, Tensor]] | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Return the total loss and its named parts (detached, for the history)."""
        raise NotImplementedError

    def on_epoch_start(self, ctx: EpochContext) -> None:
        pass

    def on_epoch_end(self, ctx: EpochContext) -> None:
        pass


class CrossEntropyObjective(Objective):
    """Plain cross-entropy on ``logits``, optionally label-smoothed."""

    def __init__(self, label_smoothing: float = 0.0):
        super().__init__()
        self.ce = nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    def forward(self, outputs, target, extra=None):
        loss = self.ce(outputs["logits"], target)
        return loss, {"ce": loss.detach()}


@dataclass(frozen=True)
class CamTarget:
    """Where Grad-CAM looks (``ferbench.explain``), declared once per model like timm's ``feature_info``.

    ``layer``: dotted path of the module whose output is weighed by its gradient; ``reshape``: for token
    outputs, how they become a ``[B,C,H,W]`` map (pytorch-grad-cam's ``reshape_transform``).
    """

    layer: str
    reshape: Callable[[Tensor], Tensor] | None = None


def nhwc_to_nchw(x: Tensor) -> Tensor:
    return x.permute(0, 3, 1, 2)


class FERModel(nn.Module):
    """Base class: declares the input it expects, the weight files it starts from, where Grad-CAM looks, the
    layout of its official trained checkpoint (if one was published), and builds its own objective."""

    input_spec: InputSpec = InputSpec()
    pretrained_parts: Mapping[str, PretrainedPart] = {}
    cam_target: CamTarget
    official_checkpoint: OfficialCheckpoint | None = None
    pretrained_report: dict[str, LoadReport] | None = None

    def build_objective(self, class_counts: Sequence[int], **kwargs) -> Objective:
        """``class_counts`` come from the current training split, never from constants."""
        return CrossEntropyObjective(**kwargs)

    def forward(self, x: Tensor) -> dict[str, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError


class LogitsOnly(nn.Module):
    """A model as a plain ``x → logits`` module, for tools that expect one (pytorch-grad-cam, ONNX export):
    ferbench models return a dict with ``logits`` and their auxiliary outputs."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)["logits"]
