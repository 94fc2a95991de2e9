"""Official whole-model checkpoints onto ferbench models: every mapping on a state dict with the official key
names and shapes (tests/models/official_layouts.py), strictly; then the command's best-checkpoint folder."""

from __future__ import annotations

import hashlib
import json
import sys

import pytest
import torch
from official_layouts import CHECKPOINTS, checkpoint

from ferbench.cli import main
from ferbench.models import create_model
from ferbench.models._official import (
    CheckpointMismatch,
    models_with_official_checkpoints,
    official_model,
    weights_of,
)
from ferbench.models._registry import model_class

# Per model, a few official keys and where they must land: read from the official forward, not from our map.
LANDS = {
    "dan": {
        "features.7.1.bn2.weight": "trunk.layer4.1.bn2.weight",
        "features.0.weight": "trunk.conv1.weight",
        "cat_head3.sa.conv1x1.0.weight": "heads.3.spatial.reduce.0.weight",
        "cat_head0.ca.attention.3.bias": "heads.0.channel.gate.3.bias",
        "bn.running_var": "bn.running_var",
    },
    "ddamfn": {
        "features.8.prelu.weight": "trunk.conv_6_sep.prelu.weight",
        "features.5.model.15.CA.conv3.weight": "trunk.conv_4.model.15.CA.conv3.weight",
        "cat_head1.CoordAtt.Linear_w.conv.weight": "heads.1.squeeze_w.conv.weight",
        "cat_head0.CoordAtt.conv2.bias": "heads.0.gate_h.bias",
        "Linear.bn.weight": "gdc.bn.weight",
    },
    "poster": {
        "module.ir_back.body.20.res_layer.4.weight": "backbones.ir.body3.13.res_layer.4.weight",
        "module.ir_back.body.3.shortcut_layer.0.weight": "backbones.ir.body2.0.shortcut_layer.0.weight",
        "module.face_landback.conv_5.model.1.project.bn.bias": (
            "backbones.landmarks.conv_5.model.1.project.bn.bias"
        ),
        "module.pyramid_fuse.blocks.7.block_s.attn_lm.kv.weight": "fuse.blocks.7.block_s.attn_lm.kv.weight",
        "module.pyramid_fuse.pos_embed": "fuse.pos_embed",
        "module.head.linear.weight": "head.weight",
    },
    "poster_v2": {
        "module.ir_back.body3.13.res_layer.1.weight": "backbones.ir.body3.13.res_layer.1.weight",
        "module.attn2.qkv.weight": "windows.1.attn.kv.weight",
        "module.attn3.relative_position_bias_table": "windows.2.attn.relative_position_bias_table",
        "module.window1.norm.weight": "windows.0.norm_in.weight",
        "module.ffn3.gamma2": "windows.2.gamma2",
        "module.ffn1.norm.bias": "windows.0.norm.bias",
        "module.conv2.weight": "ir_down.1.weight",
        "module.embed_q.1.weight": "embed.0.1.weight",
        "module.embed_v.proj.bias": "embed.2.bias",
        "module.VIT.blocks.1.attn.qkv.weight": "blocks.1.attn.qkv.weight",
        "module.VIT.pos_embed": "pos_embed",
        "module.VIT.se_block.linear2.bias": "se.linear2.bias",
        "module.VIT.head.linear.weight": "head.weight",
    },
    "ada_df": {
        "feature.4.1.conv2.weight": "stem.4.1.conv2.weight",
        "branch_1.2.1.bn2.bias": "aux.layers.2.1.bn2.bias",
        "branch_2.0.0.downsample.0.weight": "target.layers.0.0.downsample.0.weight",
        "branch_2.4.weight": "target.fc.weight",
        "alpha_1.0.weight": "aux.attention.0.weight",
    },
    "lnsu_net": {
        "encoder.layers.0.downsample.reduction.weight": "encoder.layers.1.downsample.reduction.weight",
        "encoder.layers.2.blocks.5.attn.qkv.weight": "encoder.layers.2.blocks.5.attn.qkv.weight",
        "encoder.patch_embed.norm.weight": "encoder.patch_embed.norm.weight",
        "norm.weight": "norm.weight",
        "head.bias": "head.bias",
    },
    "mfer": {
        "downsample_layers.0.0.weight": "convnext.stem.0.weight",
        "downsample_layers.3.1.weight": "convnext.stages.3.downsample.1.weight",
        "stages.2.26.pwconv2.weight": "convnext.stages.2.blocks.26.mlp.fc2.weight",
        "stages.2.27.attn.weight": "attention.2.local.weight",
        "stages.3.3.key.2.bias": "attention.3.key.2.bias",
        "norm.weight": "convnext.head.norm.weight",
        "msc.2.fc2.weight": "heads.2.fc2.weight",
    },
    "gsdnet": {
        "resnet.layer3.5.bn3.weight": "backbone.layer3.5.bn3.weight",
        "resnet.cm2.0.ChannelGate.max_weight.3.weight": "exits.1.gate.max_weight.2.weight",
        "resnet.cm1.1.weight": "exits.0.project.0.weight",
        "resnet.cm3.2.running_mean": "exits.2.project.1.running_mean",
        "resnet.fc_4.weight": "exits.3.fc.weight",
        "resnet.fc_4_4.bias": "exits.3.cls.bias",
    },
}


def test_every_model_with_an_official_checkpoint_has_a_generator():
    assert set(models_with_official_checkpoints()) == set(CHECKPOINTS) == set(LANDS)


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_the_official_layout_maps_strictly_and_every_tensor_lands_where_it_should(name):
    official = checkpoint(name, num_classes=8)
    state, _ = weights_of(official, name)
    model, report = official_model(name, official, name)
    assert report.num_classes == 8
    ours = model.state_dict()
    # the generator numbered every official float tensor: each of ours tells which one it came from
    origin = {k: int(v.flatten()[0]) for k, v in ours.items() if v.is_floating_point() and v.numel()}
    names = list(state)
    assert all(
        (v == v.flatten()[0]).all() for k, v in ours.items() if k in origin
    ), "tensors were not moved whole"
    assert len(set(origin.values())) == len(origin), "one official tensor filled two of ours"
    for off, mine in LANDS[name].items():
        assert names[origin[mine]] == off.removeprefix("module."), (mine, names[origin[mine]], off)
    # what was not loaded is exactly the declared dead keys and second names
    used = {names[i] for i in origin.values()}
    float_keys = {k for k, v in state.items() if v.is_floating_point()}
    assert float_keys - used == {k for k in set(report.dead) | set(report.aliases) if k in float_keys}
    assert model_class(name).official_checkpoint.classifier in ours


def test_heads_and_depth_are_read_from_the_checkpoint():
    model, report = official_model("dan", checkpoint("dan", num_classes=7, num_head=2))
    assert report.kwargs == {"num_head": 2} and len(model.heads) == 2
    model, report = official_model("ddamfn", checkpoint("ddamfn", num_classes=8, num_head=3))
    assert report.kwargs == {"num_head": 3} and model.fc.out_features == 8
    model, report = official_model("poster", checkpoint("poster", num_classes=7, depth=4))
    assert report.kwargs == {"depth": 4} and len(model.fuse.blocks) == 4


def test_a_key_left_over_or_missing_is_named():
    extra = checkpoint("dan")
    extra["model_state_dict"]["cat_head0.sa.extra.weight"] = torch.zeros(3)
    with pytest.raises(
        CheckpointMismatch, match=r"1 official keys left over \['heads.0.spatial.extra.weight'\]"
    ):
        official_model("dan", extra)
    short = checkpoint("gsdnet")
    del short["resnet.cm2.1.weight"]
    with pytest.raises(CheckpointMismatch, match=r"1 of our keys missing \['exits.1.project.0.weight'\]"):
        official_model("gsdnet", short)


def test_mfer_without_its_heads_says_the_official_script_never_saved_them():
    with pytest.raises(CheckpointMismatch, match="saves the ConvNeXt only"):
        official_model("mfer", checkpoint("mfer", with_heads=False))


def test_second_names_must_hold_the_same_tensors():
    official = checkpoint("ada_df")
    official["state_dict"]["branch_2_classifier.weight"] = torch.zeros_like(
        official["state_dict"]["branch_2.4.weight"]
    )
    with pytest.raises(
        CheckpointMismatch,
        match="branch_2_classifier.weight should be a second name of "
        "branch_2.4.weight, which holds other values",
    ):
        official_model("ada_df", official)


class RecorderMeter:
    """Stands in for POSTER++'s learning-curve recorder, pickled as __main__.RecorderMeter."""

    def __init__(self):
        self.epoch_losses = torch.zeros(3).numpy()


RecorderMeter.__module__ = "__main__"


def test_the_command_writes_a_best_checkpoint_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys.modules["__main__"], "RecorderMeter", RecorderMeter, raising=False)
    # POSTER++'s container with its recorder object: read with weights_only=True, no code of it runs
    src = tmp_path / "rafdb_best.pth"
    torch.save(checkpoint("poster_v2", recorder=RecorderMeter()), src)
    out = tmp_path / "best" / "poster_v2" / "rafdb"
    assert (
        main(["import-checkpoint", "--model", "poster_v2", str(src), "-o", str(out), "--dataset", "rafdb"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "(under 'state_dict')" in printed and "classes (7): surprise, fear" in printed
    card = json.loads((out / "card.json").read_text())
    assert card["classes"] == ["surprise", "fear", "disgust", "happy", "sad", "angry", "neutral"]
    assert card["input_size"] == 112 and card["input_spec"]["bgr"] is False and card["source"] is None
    assert card["align"]["size"] == 224 and "own face crops" in card["align_note"]
    state = torch.load(out / "best.pt", weights_only=True)
    model = create_model(card["model"], len(card["classes"]), pretrained=None, **card["model_kwargs"])
    model.load_state_dict(state, strict=True)
    assert card["checkpoint_sha256"] == hashlib.sha256((out / "best.pt").read_bytes()).hexdigest()
    assert card["provenance"]["file_sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()


def test_the_command_needs_class_names_that_fit(tmp_path, capsys):
    src = tmp_path / "dan.pth"
    torch.save(checkpoint("dan", num_classes=8), src)
    out = tmp_path / "out"
    assert main(["import-checkpoint", "--model", "dan", str(src), "-o", str(out), "--dataset", "rafdb"]) == 2
    assert "8 output units but 7 classes" in capsys.readouterr().err
    assert main(["import-checkpoint", "--model", "dan", str(src), "-o", str(out)]) == 2
    assert "--classes NAME ... in their order, or --dataset" in capsys.readouterr().err
    assert not (out / "card.json").exists()
    classes = ["neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt"]
    assert main(["import-checkpoint", "--model", "dan", str(src), "-o", str(out), "--classes", *classes]) == 0
    assert json.loads((out / "card.json").read_text())["classes"] == classes
