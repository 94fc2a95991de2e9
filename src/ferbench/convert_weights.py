"""One-time conversion of published weight files that are not plain state dicts.

Some backbones are published as whole pickled modules (DDAMFN's ``MFN_msceleb.pth``, HSEmotion's
EfficientNets) or as a pickle of numpy arrays (GSDNet's VGGFace2 ResNet-50). Unpickling runs code from the
file, so training never does it: run this once on a file you trust, and point the config at the output, a
plain state dict in our key layout that training reads with ``torch.load(weights_only=True)``::

    python -m ferbench.convert_weights --model ddamfn MFN_msceleb.pth
    resources/pretrained/ddamfn_mfn_msceleb.pth

Unpickling a whole module needs its class importable: pass ``--code-dir`` with the official repository's
checkout (e.g. DDAMFN's, for ``networks.MixedFeatureNet``) or a compatible ``timm`` for HSEmotion's files.
The converted dict is checked against our backbone before it is written: every backbone key must match.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import timm
import torch
from torch import Tensor, nn

from .models._mixed_feature_net import MixedFeatureNetTrunk, is_unused_mfn_key
from .models._pretrained import LoadReport, load_matching
from .models._resnet50_caffe import CaffeResNet50

State = dict[str, Tensor]


def unpickle_module(path: Path) -> State:
    """A whole pickled module (or a dict holding one): its state dict. Runs the file's pickle code."""
    obj = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    return {k.removeprefix("module."): v for k, v in obj.items()}


def unpickle_numpy_arrays(path: Path) -> State:
    """A pickle of ``{name: numpy array}`` written under Python 2 (hence latin1)."""
    with open(path, "rb") as f:
        arrays = pickle.load(f, encoding="latin1")
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def mfn_trunk_keys(state: State) -> State:
    return {k: v for k, v in state.items() if not is_unused_mfn_key(k)}


def without_prefix(prefix: str) -> Callable[[State], State]:
    def drop(state: State) -> State:
        return {k: v for k, v in state.items() if not k.startswith(prefix)}

    return drop


def with_batch_counters(state: State, target: nn.Module) -> State:
    """Files written before BatchNorm counted batches lack ``num_batches_tracked``; it is only a counter."""
    out = dict(state)
    for k, v in target.state_dict().items():
        if k.endswith("num_batches_tracked") and k not in out:
            out[k] = torch.zeros_like(v)
    return out


@dataclass(frozen=True)
class Converter:
    read: Callable[[Path], State]
    to_ours: Callable[[State], State]
    target: Callable[[], nn.Module]  # the backbone the model loads the converted file into


def _effnet(arch: str) -> Callable[[], nn.Module]:
    return lambda: timm.create_model(arch, pretrained=False, num_classes=0)


CONVERTERS: dict[str, Converter] = {
    "ddamfn": Converter(unpickle_module, mfn_trunk_keys, MixedFeatureNetTrunk),
    "gsdnet": Converter(unpickle_numpy_arrays, without_prefix("fc."), CaffeResNet50),
    "efficientnet_b0": Converter(unpickle_module, without_prefix("classifier."),
                                 _effnet("tf_efficientnet_b0")),
    "efficientnet_b2": Converter(unpickle_module, without_prefix("classifier."),
                                 _effnet("tf_efficientnet_b2")),
}


def convert(model: str, src: str | Path, dst: str | Path) -> LoadReport:
    """Convert ``src`` for ``model`` into a plain state dict at ``dst``; return the key report (its
    ``unexpected`` lists the source keys that were left out: heads and modules that never run)."""
    try:
        conv = CONVERTERS[model]
    except KeyError:
        raise KeyError(f"no converter for {model!r}; available: {', '.join(sorted(CONVERTERS))}") from None
    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(f"{src} not found")
    target = conv.target()
    original = conv.read(src)
    state = with_batch_counters(conv.to_ours(original), target)
    report = load_matching(target, state, f"{model}: {src}")
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    torch.save(target.state_dict(), dst)
    dropped = tuple(sorted(set(original) - set(state)))
    return LoadReport(report.matched, report.missing, dropped + report.unexpected)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, choices=sorted(CONVERTERS))
    p.add_argument("--code-dir", help="directory put on sys.path so the pickled module's classes import")
    p.add_argument("src")
    p.add_argument("dst")
    args = p.parse_args(argv)
    if args.code_dir:
        sys.path.insert(0, args.code_dir)
    report = convert(args.model, args.src, args.dst)
    print(f"{args.model}: {report} -> {args.dst}")
    if report.unexpected:
        print(f"  left out (not in our backbone): {', '.join(report.unexpected[:20])}"
              + (" ..." if len(report.unexpected) > 20 else ""))


if __name__ == "__main__":
    main()
