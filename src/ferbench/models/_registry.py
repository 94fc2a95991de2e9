"""Model registry, timm-style: each model file registers a builder under the builder's name."""

from __future__ import annotations

from collections.abc import Callable
from typing import get_type_hints

from torch import nn

from ._pretrained import Pretrained, load_pretrained

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """``@register_model`` on ``def dan(num_classes, ...)`` registers the builder as ``"dan"``."""
    if fn.__name__ in _MODELS:
        raise ValueError(f"model {fn.__name__!r} registered twice")
    _MODELS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    return sorted(_MODELS)


def _builder(name: str) -> Callable[..., nn.Module]:
    try:
        return _MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(list_models())}") from None


def model_class(name: str) -> type:
    """The class a registered builder returns (its return annotation), to read what the model declares
    (e.g. ``official_checkpoint``) without building it."""
    return get_type_hints(_builder(name))["return"]


def create_model(name: str, num_classes: int, pretrained: Pretrained = None, **kwargs) -> nn.Module:
    """Build a registered model, from scratch or from pretrained weight files.

    ``pretrained``: ``None`` (from scratch; also what loading a whole checkpoint such as ``best.pt`` needs), a
    path (models that load one file), or ``{part: path or config.WeightFile}`` naming a file for every part
    the model declares in ``pretrained_parts`` (``ferbench.config.pretrained_files`` gives this mapping from
    the config). The files are read by :func:`load_pretrained`; its key report is kept as
    ``pretrained_report``. The returned module is an ``FERModel``: ``forward`` returns a dict with ``logits``
    plus the model's named auxiliary outputs.
    """
    model = _builder(name)(num_classes=num_classes, **kwargs)
    model.pretrained_report = load_pretrained(model, pretrained, name) if pretrained else None
    return model
