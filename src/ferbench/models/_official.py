"""Trained whole-model checkpoints of the official repositories → ferbench models.

Each model declares the layout of its official checkpoint (``FERModel.official_checkpoint``, in the spirit
of timm's per-model ``checkpoint_filter_fn``): how the official key names map onto ours, which official keys
belong to modules that never run (or are buffers derived from the architecture), which are second names of
the same tensors. ``load_official`` applies it strictly: every key of our model must come from the file with
its shape, and no key of the file may be left over beyond the declared ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from ._pretrained import State, load_torch_file
from ._registry import create_model, list_models, model_class

# Where the training scripts put the weights inside their checkpoint dicts
STATE_KEYS = ("model_state_dict", "state_dict_model", "state_dict", "model", "net")


class CheckpointMismatch(RuntimeError):
    pass


@dataclass(frozen=True)
class OfficialCheckpoint:
    """The key layout of an official repository's trained checkpoint.

    ``rename``: ``(regex, replacement)`` pairs tried in order on each official key (``re.match`` at the start,
    first match wins; unmatched keys keep their name). ``dead``: regexes of official keys that are dropped
    (modules that never run in the official forward, buffers derived from the architecture). ``aliases``:
    ``(regex, replacement)`` turning a second name of a tensor into its first name; both must hold equal
    tensors. ``convert(state, model)``: applied after renaming (e.g. timm's own filter for a timm
    sub-network). ``classifier``: our key whose first dimension is the number of classes.
    ``kwargs(state)``: model kwargs read from the (renamed) checkpoint, e.g. the number of heads. ``note``:
    said when keys are missing.
    """

    repo: str
    classifier: str
    rename: tuple[tuple[str, str], ...] = ()
    dead: tuple[str, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()
    convert: Callable[[State, nn.Module], State] | None = None
    kwargs: Callable[[State], dict] = field(default=lambda state: {})
    note: str = ""


@dataclass(frozen=True)
class ImportReport:
    loaded: int
    dead: tuple[str, ...]
    aliases: tuple[str, ...]
    container_key: str | None
    num_classes: int
    kwargs: dict

    def __str__(self) -> str:
        where = f" (under {self.container_key!r})" if self.container_key else ""
        return (f"{self.loaded} tensors loaded{where}; dropped {len(self.dead)} keys of declared dead "
                f"modules and derived buffers, {len(self.aliases)} second names of loaded tensors")


def weights_of(checkpoint: object, path: str | Path) -> tuple[State, str | None]:
    """The state dict inside a training script's checkpoint (``module.`` of DataParallel removed)."""
    key = None
    if isinstance(checkpoint, Mapping) and not all(isinstance(v, Tensor) for v in checkpoint.values()):
        key = next((k for k in STATE_KEYS if isinstance(checkpoint.get(k), Mapping)), None)
        if key is None:
            raise CheckpointMismatch(f"{path}: no weights found (expected a state dict or one under one of "
                                     f"{list(STATE_KEYS)}; keys: {list(checkpoint)[:12]})")
        checkpoint = checkpoint[key]
    if not isinstance(checkpoint, Mapping):
        raise CheckpointMismatch(f"{path}: expected a state dict, got {type(checkpoint).__name__}")
    return {k.removeprefix("module."): v for k, v in checkpoint.items() if isinstance(v, Tensor)}, key


def _rename(key: str, rules: tuple[tuple[str, str], ...]) -> str:
    for pattern, repl in rules:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key, count=1)
    return key


def count_indices(state: State, pattern: str) -> int:
    """How many distinct ``(\\d+)`` values ``pattern`` captures in the keys (e.g. the number of heads)."""
    return len({m.group(1) for k in state if (m := re.match(pattern, k))})


def on_part(prefix: str, fn: Callable[[State, nn.Module], State]) -> Callable[[State, nn.Module], State]:
    """``fn`` applied to the keys under ``prefix`` (without it) and the sub-module of that name."""

    def convert(state: State, model: nn.Module) -> State:
        part = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
        rest = {k: v for k, v in state.items() if not k.startswith(prefix)}
        return rest | {prefix + k: v for k, v in fn(part, model.get_submodule(prefix.rstrip("."))).items()}

    return convert


def map_official(layout: OfficialCheckpoint, state: State) -> tuple[State, tuple[str, ...], tuple[str, ...]]:
    """Renamed state, dropped dead keys, checked aliases: the name-only part of the map."""
    aliases = []
    for k in list(state):
        first = _rename(k, layout.aliases)
        if first != k:
            if first not in state or not torch.equal(state[first], state[k]):
                raise CheckpointMismatch(f"{k} should be a second name of {first}, which "
                                         + ("is absent" if first not in state else "holds other values"))
            aliases.append(k)
    dead = [k for k in state if k not in aliases and any(re.match(p, k) for p in layout.dead)]
    renamed = {}
    for k, v in state.items():
        if k in aliases or k in dead:
            continue
        new = _rename(k, layout.rename)
        if new in renamed:
            raise CheckpointMismatch(f"two official keys map onto {new}")
        renamed[new] = v
    return renamed, tuple(dead), tuple(aliases)


def models_with_official_checkpoints() -> list[str]:
    return [m for m in list_models() if getattr(model_class(m), "official_checkpoint", None) is not None]


def load_official(name: str, path: str | Path, trust_pickle: bool = False) -> tuple[nn.Module, ImportReport]:
    """Build model ``name`` and fill it from the official checkpoint file at ``path`` (read with
    ``weights_only=True`` unless ``trust_pickle``), strictly."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    return official_model(name, load_torch_file(path, trust_pickle), str(path))


def official_model(name: str, checkpoint: object,
                   source: str = "the checkpoint") -> tuple[nn.Module, ImportReport]:
    """``load_official`` on a checkpoint already read. The number of classes (and kwargs such as the number of
    heads) come from the checkpoint."""
    layout: OfficialCheckpoint | None = getattr(model_class(name), "official_checkpoint", None)
    if layout is None:
        raise CheckpointMismatch(f"{name} has no official checkpoint to import (models that do: "
                                 f"{', '.join(models_with_official_checkpoints())})")
    state, container = weights_of(checkpoint, source)
    state, dead, aliases = map_official(layout, state)
    if layout.classifier not in state:
        raise CheckpointMismatch(f"{source}: not a {name} checkpoint of {layout.repo}: its classifier "
                                 f"({layout.classifier} in our names) is missing. {layout.note}".strip())
    num_classes, kwargs = int(state[layout.classifier].shape[0]), layout.kwargs(state)
    model = create_model(name, num_classes, **kwargs)
    if layout.convert:
        state = layout.convert(state, model)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [f"{k}: {tuple(state[k].shape)} vs ours {tuple(v.shape)}" for k, v in own.items()
             if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        raise CheckpointMismatch(
            f"{source} does not map onto {name} ({layout.repo} layout): {len(missing)} of our keys missing "
            f"{missing[:6]}, {len(unexpected)} official keys left over {unexpected[:6]}, {len(wrong)} shapes "
            f"differ {wrong[:3]}. {layout.note}".strip())
    model.load_state_dict(state, strict=True)
    return model.eval(), ImportReport(len(own), dead, aliases, container, num_classes, kwargs)
