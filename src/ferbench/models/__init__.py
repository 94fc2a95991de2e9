"""The model zoo: ``create_model(name, num_classes, pretrained=None, **kwargs)``.

Each model module registers its builders when imported; they are imported here, explicitly, as timm does, so
readers and static tools see the whole zoo.
"""

from . import ada_df, dan, ddamfn, gsdnet, lnsu_net, mfer, poster, poster_v2, timm_baselines  # noqa: F401
from ._pretrained import LoadReport, PretrainedMismatch, PretrainedPart, load_pretrained
from ._registry import create_model, list_models, register_model
from .base import CamTarget, CrossEntropyObjective, EpochContext, FERModel, InputSpec, LogitsOnly, Objective

__all__ = [
    "CamTarget",
    "CrossEntropyObjective",
    "EpochContext",
    "FERModel",
    "InputSpec",
    "LoadReport",
    "LogitsOnly",
    "Objective",
    "PretrainedMismatch",
    "PretrainedPart",
    "create_model",
    "list_models",
    "load_pretrained",
    "register_model",
]
