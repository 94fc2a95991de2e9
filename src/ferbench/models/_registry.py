"""Model registry, timm-style: each model file registers a builder under its name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch import nn

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model {name!r} registered twice")
        _MODELS[name] = fn
        return fn

    return deco


def list_models() -> list[str]:
    return sorted(_MODELS)


def create_model(name: str, num_classes: int, pretrained: str | Path | None = None, **kwargs) -> nn.Module:
    """Build a registered model.

    ``pretrained`` is a path to the backbone weights file (as listed in the config's pretrained table),
    or ``None`` to train from scratch. The returned module is an ``FERModel``: ``forward`` returns a dict
    with ``logits`` plus the model's named auxiliary outputs.
    """
    try:
        builder = _MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(list_models())}") from None
    return builder(num_classes=num_classes, pretrained=pretrained, **kwargs)
