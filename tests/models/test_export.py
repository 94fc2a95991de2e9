"""ONNX export of best-checkpoint folders, verified with onnxruntime; every registered model (the heavy
ones marked slow)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from ferbench.cli import main
from ferbench.export import ExportError, export_onnx, load_best
from ferbench.models import FERModel, InputSpec, create_model, list_models

# Exporting (tracing the graph) takes 15 s to 2 min per model on 2 shared cores: the fast subset exports DAN
# here and ResNet-18 in the command test.
FAST_EXPORT = {"dan"}
CLASSES = ["a", "b", "c", "d", "e"]


def best_folder(path, name: str):
    """A best-checkpoint folder of a from-scratch model whose BatchNorm statistics were set on random images,
    as training sets them (random-initialised statistics give activations a trained model never has)."""
    torch.manual_seed(0)
    model = create_model(name, len(CLASSES))
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    size = model.input_spec.size
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, size, size))
    path.mkdir(parents=True)
    torch.save(model.state_dict(), path / "best.pt")
    spec = model.input_spec
    card = {
        "model": name,
        "dataset": "demo",
        "classes": CLASSES,
        "model_kwargs": {},
        "input_size": size,
        "input_spec": {"size": size, "mean": list(spec.mean), "std": list(spec.std), "bgr": spec.bgr},
        "checkpoint": "best.pt",
        "checkpoint_sha256": hashlib.sha256((path / "best.pt").read_bytes()).hexdigest(),
    }
    (path / "card.json").write_text(json.dumps(card))
    return path


@pytest.mark.parametrize(
    "name", [n if n in FAST_EXPORT else pytest.param(n, marks=pytest.mark.slow) for n in list_models()]
)
def test_the_onnx_graph_reproduces_torch(tmp_path, name):
    model, card = load_best(best_folder(tmp_path / "best", name))
    report = export_onnx(model, card, tmp_path / "model.onnx")
    assert report.max_abs_diff <= 1e-4
    # an independent check at another batch size, through the saved file
    size = model.input_spec.size
    x = torch.randn(5, 3, size, size, generator=torch.Generator().manual_seed(7))
    got = ort.InferenceSession(str(tmp_path / "model.onnx")).run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        want = model(x)["logits"].numpy()
    assert got.shape == (5, len(CLASSES)) and np.abs(got - want).max() <= 1e-4
    meta = {
        p.key: p.value for p in onnx.load(tmp_path / "model.onnx", load_external_data=False).metadata_props
    }
    assert json.loads(meta["ferbench.classes"]) == CLASSES and meta["ferbench.model"] == name


def test_the_command_exports_and_reports_the_check(tmp_path, capsys):
    folder = best_folder(tmp_path / "best", "resnet18")
    assert main(["export", "--checkpoint", str(folder), "--onnx", str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert "image [N,3,224,224] RGB" in out and "logits [N,5] (a, b, c, d, e)" in out
    assert "verified with onnxruntime" in out and "tolerance 1e-04" in out
    # a graph that differs from torch by more than the tolerance is refused and not written
    assert (
        main(
            [
                "export",
                "--checkpoint",
                str(folder),
                "--onnx",
                str(tmp_path / "strict.onnx"),
                "--tolerance",
                "0",
            ]
        )
        == 2
    )
    assert "does not reproduce torch" in capsys.readouterr().err and not (tmp_path / "strict.onnx").exists()
    assert main(["export", "--checkpoint", str(tmp_path), "--onnx", str(tmp_path / "x.onnx")]) == 2
    assert "card.json not found: not a best-checkpoint folder" in capsys.readouterr().err


def test_a_checkpoint_trained_at_another_side_exports_at_that_side(tmp_path, capsys):
    """`train.input_size` (e.g. the demo's 48 px) is the side the graph must take, not the model's default."""
    folder = best_folder(tmp_path / "best", "resnet18")
    card = json.loads((folder / "card.json").read_text())
    card["input_size"] = 48
    card["input_spec"]["size"] = 48
    (folder / "card.json").write_text(json.dumps(card))
    assert main(["export", "--checkpoint", str(folder), "--onnx", str(tmp_path / "m.onnx")]) == 0
    assert "image [N,3,48,48] RGB" in capsys.readouterr().out
    graph = onnx.load(tmp_path / "m.onnx")
    dims = [d.dim_value for d in graph.graph.input[0].type.tensor_type.shape.dim[1:]]
    assert dims == [3, 48, 48], dims
    meta = {p.key: p.value for p in graph.metadata_props}
    assert json.loads(meta["ferbench.input_spec"])["size"] == 48


class DataDependent(FERModel):
    """Python control flow on a tensor's value: no static graph can hold it."""

    input_spec = InputSpec(size=8)

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        pooled = x.mean(dim=(2, 3))
        if pooled.sum() > 0:
            pooled = pooled * 2
        return {"logits": self.fc(pooled)}


def test_a_model_that_does_not_export_is_named_with_the_reason(tmp_path):
    with pytest.raises(
        ExportError, match=r"data_dependent does not export to ONNX: torch.onnx.export failed with "
    ):
        export_onnx(
            DataDependent().eval(), {"model": "data_dependent", "classes": ["x", "y"]}, tmp_path / "d.onnx"
        )
    assert not (tmp_path / "d.onnx").exists()


def test_a_checkpoint_whose_torch_output_is_not_finite_is_refused_before_exporting(tmp_path):
    model = create_model("resnet18", 2).eval()
    with torch.no_grad():
        model.net.fc.bias.fill_(float("nan"))
    with pytest.raises(ExportError, match="torch itself gives non-finite logits"):
        export_onnx(model, {"model": "resnet18", "classes": ["x", "y"]}, tmp_path / "r.onnx")
