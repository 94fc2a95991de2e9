"""Pretrained weight files, timm-style: each model declares the parts a weight file loads into
(``FERModel.pretrained_parts``, like timm's pretrained cfg); ``load_pretrained`` is the one function that
reads them (``weights_only=True``), checks their sha256, maps their keys and reports matched / missing /
unexpected.
Where the files come from is said only by the config's ``pretrained:`` table (``ferbench.config.WeightFile``).
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import torch
from torch import Tensor, nn

from ..config import WeightFile

State = dict[str, Tensor]
Pretrained = Union[str, Path, WeightFile, Mapping[str, Union[str, Path, WeightFile]], None]


class PretrainedMismatch(RuntimeError):
    pass


@dataclass(frozen=True)
class LoadReport:
    matched: int
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]

    def __str__(self) -> str:
        return f"matched {self.matched}, missing {len(self.missing)}, unexpected {len(self.unexpected)}"


@dataclass(frozen=True)
class PretrainedPart:
    """One weight file of a model: the sub-module it fills and how the file's keys become ours.

    ``into``: dotted path of the sub-module (``""`` = the whole model); ``key``: the file nests the weights
    under it; ``remap(state, target)``: the published key layout → ours; ``keep``: key prefixes of the target
    that the file does not provide and that keep their initialisation (a new classifier, heads). Every other
    key of the target must come from the file with its shape; keys of the file left over are reported as
    unexpected.
    """

    into: str = ""
    key: str | None = None
    remap: Callable[[State, nn.Module], State] | None = None
    keep: tuple[str, ...] = ()


class OpaqueRecord:
    """Stands in for a training script's own bookkeeping object in a checkpoint: its attributes are set from
    the file (data only, read by the restricted unpickler), none of the script's code runs."""


# Data-only types that published checkpoints hold beside the tensors: numpy scalars and arrays (best accuracy,
# epoch), argparse namespaces (the run's options). Rebuilding them runs no code from the file. Files written
# with numpy 1.x name the array helpers under numpy.core.
_NUMPY_HELPERS = [np._core.multiarray.scalar, np._core.multiarray._reconstruct]
SAFE_GLOBALS = [
    *_NUMPY_HELPERS,
    *[(f, f"numpy.core.multiarray.{f.__name__}") for f in _NUMPY_HELPERS],
    np.ndarray, np.dtype, *[getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")],
    argparse.Namespace,
    # POSTER++'s main.py saves its learning-curve recorder (numpy arrays) in every checkpoint
    (OpaqueRecord, "__main__.RecorderMeter"),
]


class UntrustedPickle(RuntimeError):
    """The file needs full unpickling, which runs code from it; refused without ``trust_pickle``."""


def trusting(path: Path, why: str) -> None:
    warnings.warn(f"unpickling {path} in full ({why}, --trust-pickle): this runs any code the file holds; "
                  "do it only for a file from a source you trust", stacklevel=3)


def load_torch_file(path: str | Path, trust_pickle: bool = False):
    """``torch.load(weights_only=True)`` with ``SAFE_GLOBALS``; full unpickling only when ``trust_pickle``."""
    path = Path(path)
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        lines = str(e).splitlines()
        reason = next((line for line in lines if "GLOBAL" in line), lines[0]).split(". Please")[0]
        if not trust_pickle:
            raise UntrustedPickle(
                f"{path} is not plain weights: reading it needs full unpickling, which runs code from the "
                f"file ({reason.strip()}). If the file comes from a source you trust, rerun with "
                "--trust-pickle."
            ) from None
    trusting(path, "not plain weights")
    return torch.load(path, map_location="cpu", weights_only=False)


def read_state_dict(path: str | Path, key: str | None = None) -> State:
    """``torch.load(weights_only=True)`` only: a file that needs unpickling code is refused.

    ``key`` selects a nested dict (e.g. ``state_dict``) when the file wraps the weights.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # the unpickler's message names the class it refused
        raise PretrainedMismatch(
            f"{path} is not a plain state dict ({e.__class__.__name__}: {str(e).splitlines()[0]}). "
            "If it is a whole pickled module from a source you trust, convert it once with "
            "`python -m ferbench.convert_weights` (see resources/pretrained/README.md)."
        ) from None
    if key is not None:
        if not isinstance(obj, Mapping) or key not in obj:
            keys = list(obj)[:10] if isinstance(obj, Mapping) else type(obj).__name__
            raise PretrainedMismatch(f"{path}: no key {key!r} (keys: {keys})")
        obj = obj[key]
    if not isinstance(obj, Mapping):
        raise PretrainedMismatch(f"{path}: expected a state dict, got {type(obj).__name__}")
    # DataParallel checkpoints prefix every key with "module."
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_matching(module: nn.Module, state: Mapping[str, Tensor], source: str = "",
                  keep: tuple[str, ...] = ()) -> LoadReport:
    """Load ``state`` into ``module``; fail unless every key of ``module`` outside ``keep`` is matched with
    its shape. Keys of ``state`` that are not loaded are reported as unexpected."""
    own = {k: v for k, v in module.state_dict().items() if not k.startswith(keep)}
    missing = tuple(k for k in own if k not in state)
    wrong = [f"{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or wrong:
        raise PretrainedMismatch(
            f"{source or 'pretrained weights'}: {len(missing)} keys missing"
            f" (first: {list(missing[:5])}), {len(wrong)} with wrong shape ({wrong[:3]})"
        )
    module.load_state_dict({k: state[k] for k in own}, strict=not keep)
    return LoadReport(len(own), missing, tuple(k for k in state if k not in own))


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def weight_files(pretrained: Pretrained, parts: Mapping[str, PretrainedPart],
                 model: str) -> dict[str, WeightFile]:
    """``pretrained`` as one ``WeightFile`` per declared part; a bare path is the file of a one-part model."""
    if isinstance(pretrained, (str, Path, WeightFile)):
        if len(parts) != 1:
            raise ValueError(f"{model} loads {len(parts)} weight files ({', '.join(parts)}): "
                             "pass pretrained={part: file} for each")
        pretrained = {next(iter(parts)): pretrained}
    unknown, absent = sorted(set(pretrained) - set(parts)), sorted(set(parts) - set(pretrained))
    if unknown or absent:
        raise ValueError(f"{model} loads weight files for {sorted(parts)}; "
                         f"given {sorted(pretrained)} (unknown: {unknown}, missing: {absent})")
    return {part: f if isinstance(f, WeightFile) else WeightFile(Path(f)) for part, f in pretrained.items()}


def load_pretrained(model: nn.Module, pretrained: Pretrained, name: str) -> dict[str, LoadReport]:
    """Fill each of ``model.pretrained_parts`` from its file; return (and print, for the job's log) the key
    report per part.

    Every file is checked before any is read: a missing one fails naming the file, the model, the part and
    where the file comes from; a file whose sha256 differs from the table's fails naming both digests.
    """
    parts: Mapping[str, PretrainedPart] = model.pretrained_parts
    files = weight_files(pretrained, parts, name)
    missing = [wf.missing_message(name, part) for part, wf in files.items() if not wf.file.is_file()]
    if missing:
        raise FileNotFoundError("\n".join(missing))
    for part, wf in files.items():
        if wf.sha256 and (actual := _sha256(wf.file)) != wf.sha256:
            raise PretrainedMismatch(f"{name} ({part}): {wf.file} has sha256 {actual}, the config expects "
                                     f"{wf.sha256}: a corrupt file or another release than {wf.source}")
    reports = {}
    for part, spec in parts.items():
        path = files[part].file
        target = model.get_submodule(spec.into)
        state = read_state_dict(path, spec.key)
        if spec.remap:
            state = spec.remap(state, target)
        reports[part] = report = load_matching(target, state, f"{name} ({part}): {path}", spec.keep)
        left = f" ({', '.join(report.unexpected[:6])}{' ...' if len(report.unexpected) > 6 else ''})"
        print(f"{name}: {part} from {path}: {report}{left if report.unexpected else ''}")
    return reports
