"""One-time conversion of published weight files that are not plain state dicts, and the safe reading of
published files in general.

Some backbones are published as whole pickled modules (DDAMFN's ``MFN_msceleb.pth``, HSEmotion's
EfficientNets) or as a pickle of numpy arrays (GSDNet's VGGFace2 ResNet-50). Training never unpickles:
run this once and point the config at the output, a plain state dict in our key layout that training reads
with ``torch.load(weights_only=True)``::

    python -m ferbench.convert_weights --model gsdnet vgg_msceleb_resnet50_ft_weight.pkl
    resources/pretrained/gsdnet_vggface2_resnet50.pth

Reading is safe by default: torch files go through ``torch.load(weights_only=True)`` (plus the data-only
types that published checkpoints hold, ``models._pretrained.SAFE_GLOBALS``), numpy pickles through an
unpickler that rebuilds numpy arrays and nothing else. A whole pickled module cannot be read that way:
unpickling it runs code from the file, so it needs ``--trust-pickle`` (on a file from a source you trust), and
its classes importable: pass ``--code-dir`` with the official repository's checkout (e.g. DDAMFN's, for
``networks.MixedFeatureNet``) or use a compatible ``timm`` for HSEmotion's files. The converted dict is
checked against our backbone before it is written: every backbone key must match.
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
from .models._pretrained import LoadReport, UntrustedPickle, load_matching, load_torch_file, trusting
from .models._resnet50_caffe import CaffeResNet50

State = dict[str, Tensor]

class _NumpyArraysOnly(pickle.Unpickler):
    """Rebuilds numpy arrays, scalars and dicts; any other global (a function, a class) is refused.
    (``_codecs.encode`` turns text back into the array bytes in pickles written by Python 3.)"""

    ALLOWED = {(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray")
               for n in ("_reconstruct", "scalar")}
    ALLOWED |= {("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
                ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not a numpy array type")
        return super().find_class(module, name)


def unpickle_numpy_arrays(path: Path, trust_pickle: bool = False) -> State:
    """A pickle of ``{name: numpy array}`` written under Python 2 (hence latin1)."""
    with open(path, "rb") as f:
        try:
            arrays = _NumpyArraysOnly(f, encoding="latin1").load()
        except pickle.UnpicklingError as e:
            if not trust_pickle:
                raise UntrustedPickle(f"{path} holds more than numpy arrays ({e}); reading it would run code "
                                      "from the file. If it comes from a source you trust, rerun with "
                                      "--trust-pickle.") from None
            trusting(path, "more than numpy arrays")
            f.seek(0)
            arrays = pickle.load(f, encoding="latin1")
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def unpickle_module(path: Path, trust_pickle: bool = False) -> State:
    """A whole pickled module (or a dict holding one or its state dict): its state dict."""
    obj = load_torch_file(path, trust_pickle)
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    return {k.removeprefix("module."): v for k, v in obj.items()}


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
    read: Callable[[Path, bool], State]
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


def convert(model: str, src: str | Path, dst: str | Path, trust_pickle: bool = False) -> LoadReport:
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
    original = conv.read(src, trust_pickle)
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
    p.add_argument("--trust-pickle", action="store_true",
                   help="unpickle a file that is not plain weights (runs code from it: trusted sources only)")
    p.add_argument("src")
    p.add_argument("dst")
    args = p.parse_args(argv)
    if args.code_dir:
        sys.path.insert(0, args.code_dir)
    try:
        report = convert(args.model, args.src, args.dst, args.trust_pickle)
    except UntrustedPickle as e:
        sys.exit(f"error: {e}")
    print(f"{args.model}: {report} -> {args.dst}")
    if report.unexpected:
        print(f"  left out (not in our backbone): {', '.join(report.unexpected[:20])}"
              + (" ..." if len(report.unexpected) > 20 else ""))


if __name__ == "__main__":
    main()
