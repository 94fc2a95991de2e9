"""Reading user-supplied weight files safely and loading them with a key report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


class PretrainedMismatch(RuntimeError):
    pass


@dataclass(frozen=True)
class LoadReport:
    matched: int
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]

    def __str__(self) -> str:
        return f"matched {self.matched}, missing {len(self.missing)}, unexpected {len(self.unexpected)}"


def read_state_dict(path: str | Path, key: str | None = None) -> dict[str, torch.Tensor]:
    """``torch.load(weights_only=True)`` only: a file that needs unpickling code is refused.

    ``key`` selects a nested dict (e.g. ``state_dict``) when the file wraps the weights.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # the unpickler's message names the class it refused
        raise PretrainedMismatch(
            f"{path} is not a plain state dict ({e.__class__.__name__}: {str(e).splitlines()[0]}). "
            "If it is a whole pickled module from a source you trust, convert it once with "
            "`python -m ferbench.convert_weights` (see resources/pretrained/README.md)."
        ) from None
    if key is not None:
        if key not in obj:
            raise PretrainedMismatch(f"{path}: no key {key!r} (keys: {list(obj)[:10]})")
        obj = obj[key]
    if not isinstance(obj, Mapping):
        raise PretrainedMismatch(f"{path}: expected a state dict, got {type(obj).__name__}")
    # DataParallel checkpoints prefix every key with "module."
    return {k.removeprefix("module."): v for k, v in obj.items()}


def read_pretrained(path: str | Path, model: str, source: str,
                    key: str | None = None) -> dict[str, torch.Tensor]:
    """``read_state_dict`` for a model's backbone file; a missing file names the model and where to get it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{model}: pretrained weights file {path} not found. Get it from {source} "
            "(see resources/pretrained/README.md), or set `pretrained: none` to train from scratch."
        )
    return read_state_dict(path, key)


def load_matching(module: nn.Module, state: Mapping[str, torch.Tensor], source: str = "") -> LoadReport:
    """Load ``state`` into ``module`` and fail unless every key of ``module`` is matched with its shape."""
    own = module.state_dict()
    missing = tuple(k for k in own if k not in state)
    unexpected = tuple(k for k in state if k not in own)
    wrong = [f"{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or wrong:
        raise PretrainedMismatch(
            f"{source or 'pretrained weights'}: {len(missing)} backbone keys missing"
            f" (first: {list(missing[:5])}), {len(wrong)} with wrong shape ({wrong[:3]})"
        )
    module.load_state_dict({k: state[k] for k in own}, strict=True)
    return LoadReport(len(own), missing, unexpected)
