"""The model zoo: ``create_model(name, num_classes, pretrained=None, **kwargs)``.

Importing this package imports every model module, which registers its names.
"""

import importlib
import pkgutil

from ._registry import create_model, list_models, register_model
from .base import CrossEntropyObjective, EpochContext, FERModel, InputSpec, Objective

for _mod in pkgutil.iter_modules(__path__):
    if not _mod.name.startswith("_") and _mod.name != "base":
        importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = [
    "CrossEntropyObjective",
    "EpochContext",
    "FERModel",
    "InputSpec",
    "Objective",
    "create_model",
    "list_models",
    "register_model",
]
