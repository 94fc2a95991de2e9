"""Converters and loaders on state dicts built in the test with the official key names and shapes."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
import timm
import torch
from torch import nn

from ferbench.convert_weights import UntrustedPickle, convert, load_torch_file, main
from ferbench.models import create_model
from ferbench.models._ir50 import STAGES, IR50ThreeStage, _stage
from ferbench.models._mixed_feature_net import MixedFeatureNetTrunk
from ferbench.models._mobilefacenet import LandmarkMobileFaceNet
from ferbench.models._pretrained import PretrainedMismatch
from ferbench.models._resnet50_caffe import CaffeResNet50


def _official_mfn_state() -> dict:
    """DDAMFN's MixedFeatureNet: our trunk's keys plus the MDConv BN/PReLU and the GDC embedding head."""
    state = MixedFeatureNetTrunk().state_dict()
    mixconv = r"(.*)\.conv_dw\.mixed_depthwise_conv"
    for block in sorted({m.group(1) for k in state if (m := re.match(mixconv, k))}):
        prefix = f"{block}.conv_dw.mixed_depthwise_conv"
        hidden = sum(v.shape[0] for k, v in state.items() if k.startswith(prefix))
        state[f"{block}.conv_dw.bn.weight"] = torch.ones(hidden)
        state[f"{block}.conv_dw.prelu.weight"] = torch.full((hidden,), 0.25)
    state.update({"conv_6_dw.conv.weight": torch.zeros(512, 1, 7, 7), "conv_6_dw.bn.weight": torch.ones(512),
                  "linear.weight": torch.zeros(256, 512), "bn.weight": torch.ones(256)})
    return state


class _PickledMFN(nn.Module):
    """Stands in for the official whole-module pickle: a module whose state dict has the official keys."""

    def __init__(self, state):
        super().__init__()
        for i, (k, v) in enumerate(state.items()):
            self.register_buffer(f"b{i}", v)
        self.keys_ = list(state)

    def state_dict(self, *args, **kwargs):
        return dict(zip(self.keys_, self.buffers()))


def test_ddamfn_whole_module_pickle_is_converted_then_loaded_safely(tmp_path):
    official = _official_mfn_state()
    src, dst = tmp_path / "MFN_msceleb.pth", tmp_path / "mfn.pth"
    torch.save(_PickledMFN(official), src)
    with pytest.raises(PretrainedMismatch, match="not a plain state dict"):
        create_model("ddamfn", 7, pretrained=src)  # training never unpickles a module
    with pytest.raises(UntrustedPickle, match=f"{src.name} is not plain weights.*--trust-pickle"):
        convert("ddamfn", src, dst)
    assert not dst.exists()
    with pytest.warns(UserWarning, match=f"unpickling {src} in full"):
        report = convert("ddamfn", src, dst, trust_pickle=True)
    assert report.matched == len(MixedFeatureNetTrunk().state_dict())
    assert "linear.weight" in report.unexpected and "conv_23.conv_dw.bn.weight" in report.unexpected
    model = create_model("ddamfn", 7, pretrained=dst)
    assert torch.equal(model.trunk.conv1.conv.weight, official["conv1.conv.weight"])


def test_gsdnet_numpy_pickle_without_batch_counters(tmp_path):
    ours = CaffeResNet50().state_dict()
    arrays = {k: v.numpy() for k, v in ours.items() if not k.endswith("num_batches_tracked")}
    # the face-ID classifier (its 8631×2048 weight left out to keep the test small)
    arrays["fc.bias"] = np.zeros(8631, dtype=np.float32)
    src, dst = tmp_path / "vgg_msceleb_resnet50_ft_weight.pkl", tmp_path / "gsdnet.pth"
    src.write_bytes(pickle.dumps(arrays, protocol=2))
    main(["--model", "gsdnet", str(src), str(dst)])
    model = create_model("gsdnet", 7, pretrained=dst)
    assert model.pretrained_report["backbone"].matched == len(ours)
    assert torch.equal(model.backbone.layer3[0].conv1.weight, ours["layer3.0.conv1.weight"])


def test_hsemotion_whole_timm_module_is_converted(tmp_path):
    net = timm.create_model("tf_efficientnet_b0", num_classes=8)  # a published emotion model, 8-way head
    src, dst = tmp_path / "enet_b0_8_best_afew.pt", tmp_path / "enet_b0.pth"
    torch.save(net, src)
    with pytest.warns(UserWarning, match="--trust-pickle"):
        report = convert("efficientnet_b0", src, dst, trust_pickle=True)
    assert set(report.unexpected) == {"classifier.weight", "classifier.bias"}
    model = create_model("efficientnet_b0", 7, pretrained=dst)
    assert torch.equal(model.net.conv_stem.weight, net.conv_stem.weight)
    assert model.net.classifier.out_features == 7


class _WritesMarker:
    """A crafted pickle payload: unpickling it calls ``exec`` and writes a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


class _WritesMarkerGivesArray(_WritesMarker):
    def __reduce__(self):
        return eval, (f"open({str(self.marker)!r}, 'w').write('pwned') and __import__('numpy').zeros(1)",)


def test_a_crafted_torch_file_is_refused_without_running_its_code(tmp_path, capsys):
    marker = tmp_path / "marker"
    src = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": _WritesMarker(marker)}, src)
    with pytest.raises(UntrustedPickle, match="GLOBAL exec was not an allowed global"):
        load_torch_file(src)
    with pytest.raises(SystemExit, match="evil.pth is not plain weights"):
        main(["--model", "ddamfn", str(src), str(tmp_path / "out.pth")])
    assert not marker.exists()
    # the payload is real: with --trust-pickle (and a warning naming the file) it runs
    with pytest.warns(UserWarning, match=f"unpickling {src} in full"):
        load_torch_file(src, trust_pickle=True)
    assert marker.read_text() == "pwned"


def test_a_crafted_numpy_pickle_is_refused_without_running_its_code(tmp_path):
    marker = tmp_path / "marker"
    src = tmp_path / "vgg_msceleb_resnet50_ft_weight.pkl"
    src.write_bytes(pickle.dumps({"conv1.weight": np.zeros((64, 3, 7, 7), np.float32),
                                  "x": _WritesMarkerGivesArray(marker)}, protocol=2))
    with pytest.raises(UntrustedPickle, match=r"(__builtin__|builtins)\.eval is not a numpy array type"):
        convert("gsdnet", src, tmp_path / "out.pth")
    assert not marker.exists() and not (tmp_path / "out.pth").exists()
    with pytest.warns(UserWarning, match=f"unpickling {src} in full"), pytest.raises(PretrainedMismatch):
        # the payload runs, then keys are missing
        convert("gsdnet", src, tmp_path / "out.pth", trust_pickle=True)
    assert marker.read_text() == "pwned"


def test_checkpoints_holding_numpy_scalars_and_namespaces_read_safely(tmp_path):
    import argparse

    src = tmp_path / "ckpt.pth"
    torch.save({"iter": 21, "best_acc": np.float64(0.897), "args": argparse.Namespace(lr=0.1),
                "model_state_dict": {"w": torch.ones(2)}}, src)
    obj = load_torch_file(src)
    assert obj["best_acc"] == pytest.approx(0.897) and obj["args"].lr == 0.1


def _insightface_ir50_state(staged: bool) -> dict:
    """IR-50 face-ID weights: POSTER's file numbers all units ``body.0``-``body.23`` (4 stages);
    POSTER++'s has ``body1/2/3``. Both carry the 25088→512 ``output_layer``."""
    ir = IR50ThreeStage().state_dict()
    if staged:
        state = dict(ir)
    else:
        state = {k: v for k, v in ir.items() if k.startswith("input_layer")}
        i = 0
        for s in range(1, 4):
            units = sorted({int(k.split(".")[1]) for k in ir if k.startswith(f"body{s}.")})
            for u in units:
                for k, v in ir.items():
                    if k.startswith(f"body{s}.{u}."):
                        state[k.replace(f"body{s}.{u}.", f"body.{i}.", 1)] = v
                i += 1
        for k, v in _stage(256, 512, 3).state_dict().items():
            unit, rest = k.split(".", 1)
            state[f"body.{21 + int(unit)}.{rest}"] = v
    state.update({"output_layer.0.weight": torch.ones(512), "output_layer.3.weight": torch.zeros(512, 25088)})
    return state


def _landmark_file(path):
    state = LandmarkMobileFaceNet().state_dict()
    state.update({"output_layer.conv_6_dw.conv.weight": torch.zeros(512, 1, 7, 7),
                  "output_layer.linear.weight": torch.zeros(136, 512)})
    torch.save({"state_dict": state, "epoch": 100}, path)
    return state


def test_poster_ir50_single_stage_numbering_loads(tmp_path):
    ir = _insightface_ir50_state(staged=False)
    assert sum(s[2] for s in STAGES) == 21 and "body.20.res_layer.1.weight" in ir
    torch.save(ir, tmp_path / "ir50.pth")
    lm = _landmark_file(tmp_path / "mobilefacenet_model_best.pth.tar")
    model = create_model("poster", 7, pretrained={"backbone": tmp_path / "ir50.pth",
                                                  "landmarks": tmp_path / "mobilefacenet_model_best.pth.tar"})
    reports = model.pretrained_report
    assert any(k.startswith("body.21.") for k in reports["backbone"].unexpected)
    assert "output_layer.3.weight" in reports["backbone"].unexpected
    assert reports["landmarks"].unexpected == ("output_layer.conv_6_dw.conv.weight",
                                               "output_layer.linear.weight")
    assert torch.equal(model.backbones.ir.body3[13].res_layer[1].weight, ir["body.20.res_layer.1.weight"])
    assert torch.equal(model.backbones.landmarks.conv_6_sep.conv.weight, lm["conv_6_sep.conv.weight"])
    assert not any(p.requires_grad for p in model.backbones.landmarks.parameters())


def test_poster_v2_needs_its_own_staged_ir50(tmp_path):
    landmarks = tmp_path / "mobilefacenet_model_best.pth.tar"
    _landmark_file(landmarks)
    torch.save(_insightface_ir50_state(staged=True), tmp_path / "ir50_v2.pth")
    model = create_model("poster_v2", 7,
                         pretrained={"backbone": tmp_path / "ir50_v2.pth", "landmarks": landmarks})
    assert model.pretrained_report["backbone"].matched == len(IR50ThreeStage().state_dict())
    # POSTER's file would officially load only the stem, silently; here it is refused
    torch.save(_insightface_ir50_state(staged=False), tmp_path / "ir50_v1.pth")
    with pytest.raises(PretrainedMismatch, match=r"poster_v2 \(backbone\).*ir50_v1.pth: 285 keys missing"):
        create_model("poster_v2", 7,
                     pretrained={"backbone": tmp_path / "ir50_v1.pth", "landmarks": landmarks})


def test_poster_needs_both_files_and_names_a_missing_one(tmp_path):
    torch.save(_insightface_ir50_state(staged=False), tmp_path / "ir50.pth")
    with pytest.raises(ValueError, match=r"poster loads 2 weight files \(backbone, landmarks\)"):
        create_model("poster", 7, pretrained=tmp_path / "ir50.pth")
    with pytest.raises(ValueError, match=r"missing: \['landmarks'\]"):
        create_model("poster", 7, pretrained={"backbone": tmp_path / "ir50.pth"})
    with pytest.raises(FileNotFoundError,
                       match=r"'poster' .*mobilefacenet_model_best.pth.tar \(its landmarks\)"):
        create_model("poster", 7, pretrained={"backbone": tmp_path / "ir50.pth",
                                              "landmarks": tmp_path / "mobilefacenet_model_best.pth.tar"})
