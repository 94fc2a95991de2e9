"""ONNX export of a best-checkpoint folder (``best.pt`` + ``card.json``), verified against torch with
onnxruntime before the file appears.

The graph takes ``image`` ``[N,3,S,S]`` float32 (a batch of any size), prepared exactly as the card's
``input_spec`` says (RGB or BGR, /255, mean/std), and returns ``logits`` ``[N,C]`` in the card's class order;
the card's classes and input spec are also written into the ONNX metadata. Exported with torch's own exporter
(``torch.onnx.export(dynamo=True)``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from .io import atomic_path
from .models import LogitsOnly, create_model
from .models.base import InputSpec
from .inference import card_input_spec


class ExportError(RuntimeError):
    pass


@dataclass(frozen=True)
class ExportReport:
    path: Path
    max_abs_diff: float
    max_abs_logit: float
    tolerance: float
    checked_images: int
    seconds: float
    spec: InputSpec  # what the graph's input must be prepared as

    def __str__(self) -> str:
        return (f"verified with onnxruntime {ort.__version__} on {self.checked_images} random inputs: "
                f"max |Δ| = {self.max_abs_diff:.1e} (logits up to {self.max_abs_logit:.2g}), "
                f"tolerance {self.tolerance:.0e}")


def load_best(folder: str | Path) -> tuple[nn.Module, dict]:
    """The model of a best-checkpoint folder (strict load, ``weights_only=True``) and its card."""
    folder = Path(folder)
    card_path = folder / "card.json"
    if not card_path.is_file():
        raise FileNotFoundError(f"{card_path} not found: not a best-checkpoint folder (best.pt + card.json)")
    card = json.loads(card_path.read_text())
    weights = folder / card.get("checkpoint", "best.pt")
    state = torch.load(weights, map_location="cpu", weights_only=True)
    kwargs = card.get("model_kwargs") or {}
    model = create_model(card["model"], len(card["classes"]), pretrained=None, **kwargs)
    model.load_state_dict(state, strict=True)
    return model.eval(), card


def export_onnx(model: nn.Module, card: dict, dest: str | Path, tolerance: float = 1e-4,
                seed: int = 0) -> ExportReport:
    """Export ``model`` to ``dest`` and check onnxruntime against torch on random inputs (a batch size other
    than the one exported with, so the dynamic batch axis is exercised too). Nothing is written unless the
    check passes; a model that does not export or does not match raises ``ExportError`` saying which and
    why."""
    # the side the checkpoint was trained at (the card's input_size), not the model's default
    spec = card_input_spec(model, card)
    name, size = card["model"], spec.size
    net = LogitsOnly(model).eval()
    g = torch.Generator().manual_seed(seed)
    example, check = torch.randn(2, 3, size, size, generator=g), torch.randn(3, 3, size, size, generator=g)
    with torch.no_grad():
        want = net(check).numpy()
    if not np.isfinite(want).all():
        raise ExportError(f"{name}: torch itself gives non-finite logits on random inputs: the checkpoint's "
                          "weights are broken; nothing to export")
    start = time.perf_counter()
    try:
        program = torch.onnx.export(net, (example,), input_names=["image"], output_names=["logits"],
                                    dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=4096)}},
                                    dynamo=True, verbose=False)
    except Exception as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ExportError(f"{name} does not export to ONNX: torch.onnx.export failed with "
                          f"{type(e).__name__}: {reason}") from e
    proto = program.model_proto
    meta = {"ferbench.model": name, "ferbench.classes": json.dumps(card["classes"]),
            "ferbench.input_spec": json.dumps(dataclasses.asdict(spec)),
            "ferbench.checkpoint_sha256": card.get("checkpoint_sha256") or ""}
    onnx.helper.set_model_props(proto, meta)
    with atomic_path(dest) as tmp:
        onnx.save(proto, tmp)
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        got = session.run(["logits"], {"image": check.numpy()})[0]
        diff = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
        report = ExportReport(Path(dest), diff, float(np.abs(want).max()), tolerance, len(check),
                              time.perf_counter() - start, spec)
        if not diff <= tolerance:
            raise ExportError(f"{name}: the ONNX graph does not reproduce torch: {report} "
                              f"(shapes {got.shape} vs {want.shape}); nothing written")
    return report
