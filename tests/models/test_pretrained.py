"""load_pretrained: files named by the config's table, checked (presence, sha256) before reading, one report
per declared part; the registry: explicit imports, builders registered under their function's name."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import timm
import torch

import ferbench.models
from ferbench.config import load_config, pretrained_files
from ferbench.models import PretrainedMismatch, create_model, list_models, register_model
from ferbench.models._registry import _MODELS


@pytest.fixture(scope="module")
def cfg(repo):
    return load_config(repo)


def _resnet18_file(path: Path) -> Path:
    torch.save({"state_dict": timm.create_model("resnet18", num_classes=1000).state_dict()}, path)
    return path


def test_a_missing_file_names_model_part_file_and_the_configured_source(cfg, tmp_path):
    files = pretrained_files(cfg, "ddamfn")
    wf = replace(files["backbone"], file=tmp_path / "mfn.pth")
    with pytest.raises(FileNotFoundError) as e:
        create_model("ddamfn", 7, pretrained={"backbone": wf})
    msg = str(e.value)
    assert f"model 'ddamfn' starts from pretrained weights {tmp_path / 'mfn.pth'} (its backbone)" in msg
    assert cfg["pretrained"]["ddamfn_mfn_msceleb"]["source"] in msg
    assert (
        f"python -m ferbench.convert_weights --model ddamfn <downloaded file> {tmp_path / 'mfn.pth'}" in msg
    )


def test_every_missing_file_is_named_before_anything_is_read(cfg, tmp_path):
    files = {p: replace(w, file=tmp_path / w.file.name) for p, w in pretrained_files(cfg, "poster").items()}
    with pytest.raises(FileNotFoundError) as e:
        create_model("poster", 7, pretrained=files)
    assert "poster_ir50.pth (its backbone)" in str(e.value)
    assert "mobilefacenet_model_best.pth.tar (its landmarks)" in str(e.value)


def test_the_sha256_of_the_table_is_checked(cfg, tmp_path):
    path = _resnet18_file(tmp_path / "r18.pth")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    wf = replace(pretrained_files(cfg, "resnet18")["backbone"], file=path, sha256=digest)
    model = create_model("resnet18", 7, pretrained=wf)
    assert model.pretrained_report["backbone"].unexpected == ("fc.weight", "fc.bias")
    assert model.net.fc.out_features == 7  # the new classifier keeps its own initialisation
    with pytest.raises(PretrainedMismatch, match=f"has sha256 {digest}, the config expects {'0' * 64}"):
        create_model("resnet18", 7, pretrained=replace(wf, sha256="0" * 64))


def test_a_whole_pickled_module_is_refused(tmp_path):
    torch.save(timm.create_model("resnet18"), tmp_path / "module.pth")
    with pytest.raises(PretrainedMismatch, match="not a plain state dict.*convert_weights"):
        create_model("resnet18", 7, pretrained=tmp_path / "module.pth")


def test_the_load_report_is_printed_for_the_job_log(tmp_path, capsys):
    create_model("dan", 7, pretrained=_resnet18_file(tmp_path / "r18.pth"))
    assert (
        f"dan: backbone from {tmp_path / 'r18.pth'}: matched 120, missing 0, unexpected 2 "
        "(fc.weight, fc.bias)"
        in capsys.readouterr().out
    )


def test_register_model_takes_the_function_name():
    @register_model
    def tiny_test_model(num_classes: int):
        return torch.nn.Linear(2, num_classes)

    try:
        assert "tiny_test_model" in list_models()
        assert create_model("tiny_test_model", 3).out_features == 3
        with pytest.raises(ValueError, match="registered twice"):
            register_model(tiny_test_model)
    finally:
        del _MODELS["tiny_test_model"]


def test_the_package_imports_every_model_module():
    """A new model file that is not imported in ``models/__init__.py`` would silently not be registered."""
    folder = Path(ferbench.models.__file__).parent
    modules = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_") and p.stem != "base")
    code = (
        "import sys, ferbench.models; print(' '.join(sorted(m.split('.')[-1] for m in sys.modules "
        "if m.startswith('ferbench.models.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert modules and set(modules) <= set(out), set(modules) - set(out)
