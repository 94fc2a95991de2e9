"""Generators of the official repositories' checkpoint layouts: skeleton modules with the official attribute
names and shapes (learnt by reading each repository's model code; written here, nothing copied), saved in the
container each training script writes. Values are filled per tensor with its index so a test can tell which
official tensor ended up where. The skeletons are built on the meta device (no memory, no initialisation):
``checkpoint(name)`` returns the container with real tensors."""

from __future__ import annotations

import copy

import timm
import torch
import torchvision
from torch import nn


def _module(**children) -> nn.Module:
    m = nn.Module()
    for k, v in children.items():
        if isinstance(v, torch.Tensor) and not isinstance(v, nn.Parameter):
            m.register_buffer(k, v)
        else:
            setattr(m, k, v)
    return m


def numbered(state: dict) -> dict:
    """Every float tensor filled with its position in the state dict, integer buffers with zeros (CPU)."""
    return {
        k: torch.full(v.shape, float(i) if v.is_floating_point() else 0, dtype=v.dtype, device="cpu")
        for i, (k, v) in enumerate(state.items())
    }


def data_parallel(state: dict) -> dict:
    return {f"module.{k}": v for k, v in state.items()}


# --- building blocks of the insightface-style face networks (Conv_block, Linear_block, Depth_Wise, IR units)


def conv_block(cin, cout, k=1, s=1, p=0, groups=1):
    return _module(
        conv=nn.Conv2d(cin, cout, k, s, p, groups=groups, bias=False),
        bn=nn.BatchNorm2d(cout),
        prelu=nn.PReLU(cout),
    )


def linear_block(cin, cout, k=1, groups=1):
    return _module(conv=nn.Conv2d(cin, cout, k, groups=groups, bias=False), bn=nn.BatchNorm2d(cout))


def depth_wise(cin, cout, groups, stride=2):
    return _module(
        conv=conv_block(cin, groups),
        conv_dw=conv_block(groups, groups, 3, stride, 1, groups),
        project=linear_block(groups, cout),
    )


def landmark_mobilefacenet():
    """POSTER's MobileFaceNet([112, 112], 136) with its GDC output layer."""
    res = lambda c, n, g: _module(
        model=nn.Sequential(*(depth_wise(c, c, g, 1) for _ in range(n)))
    )  # noqa: E731
    gdc = _module(
        conv_6_dw=linear_block(512, 512, 7, groups=512),
        linear=nn.Linear(512, 136, bias=False),
        bn=nn.BatchNorm1d(136),
    )
    return _module(
        conv1=conv_block(3, 64, 3, 2, 1),
        conv2_dw=conv_block(64, 64, 3, 1, 1, 64),
        conv_23=depth_wise(64, 64, 128),
        conv_3=res(64, 4, 128),
        conv_34=depth_wise(64, 128, 256),
        conv_4=res(128, 6, 256),
        conv_45=depth_wise(128, 128, 512),
        conv_5=res(128, 2, 256),
        conv_6_sep=conv_block(128, 512),
        output_layer=gdc,
    )


def bottleneck_ir(cin, depth, stride):
    short = (
        nn.MaxPool2d(1, stride)
        if cin == depth
        else nn.Sequential(nn.Conv2d(cin, depth, 1, stride, bias=False), nn.BatchNorm2d(depth))
    )
    return _module(
        shortcut_layer=short,
        res_layer=nn.Sequential(
            nn.BatchNorm2d(cin),
            nn.Conv2d(cin, depth, 3, 1, 1, bias=False),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False),
            nn.BatchNorm2d(depth),
        ),
    )


def ir50_stages():
    return [
        [bottleneck_ir(cin if u == 0 else depth, depth, 2 if u == 0 else 1) for u in range(n)]
        for cin, depth, n in ((64, 64, 3), (64, 128, 4), (128, 256, 14))
    ]


def ir50(staged: bool):
    """POSTER's Backbone(50, 0.0, 'ir') (one `body`) or POSTER++'s (`body1/2/3`), with the face-ID head."""
    m = _module(
        input_layer=nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64)),
        output_layer=nn.Sequential(
            nn.BatchNorm2d(512), nn.Dropout(), nn.Flatten(), nn.Linear(25088, 512), nn.BatchNorm1d(512)
        ),
    )
    stages = ir50_stages()
    if staged:
        for i, units in enumerate(stages, 1):
            setattr(m, f"body{i}", nn.Sequential(*units))
    else:
        m.body = nn.Sequential(*(u for units in stages for u in units))
    return m


# --- the eight models


def dan(num_classes=7, num_head=4):
    """yaoing/DAN networks/dan.py; rafdb.py's torch.save."""

    def head():
        sa = _module(
            conv1x1=nn.Sequential(nn.Conv2d(512, 256, 1), nn.BatchNorm2d(256)),
            conv_3x3=nn.Sequential(nn.Conv2d(256, 512, 3, padding=1), nn.BatchNorm2d(512)),
            conv_1x3=nn.Sequential(nn.Conv2d(256, 512, (1, 3), padding=(0, 1)), nn.BatchNorm2d(512)),
            conv_3x1=nn.Sequential(nn.Conv2d(256, 512, (3, 1), padding=(1, 0)), nn.BatchNorm2d(512)),
        )
        ca = _module(
            attention=nn.Sequential(
                nn.Linear(512, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 512), nn.Sigmoid()
            )
        )
        return _module(sa=sa, ca=ca)

    m = _module(
        features=nn.Sequential(*list(torchvision.models.resnet18().children())[:-2]),
        **{f"cat_head{i}": head() for i in range(num_head)},
        fc=nn.Linear(512, num_classes),
        bn=nn.BatchNorm1d(num_classes),
    )
    return {"iter": 21, "model_state_dict": numbered(m.state_dict()), "optimizer_state_dict": {}}


def ddamfn(num_classes=7, num_head=2):
    """SainingZhang/DDAMFN networks/DDAM.py + MixedFeatureNet.py; rafdb_train.py's torch.save."""

    def coord_att(c):
        return _module(
            conv1=nn.Conv2d(c, max(8, c // 32), 1),
            bn1=nn.BatchNorm2d(max(8, c // 32)),
            conv2=nn.Conv2d(max(8, c // 32), c, 1),
            conv3=nn.Conv2d(max(8, c // 32), c, 1),
        )

    def mix_dw(cin, cout, groups, kernels, splits, stride=2):
        md = _module(
            mixed_depthwise_conv=nn.ModuleList(
                nn.Conv2d(c, c, k, stride, k // 2, groups=c, bias=False) for k, c in zip(kernels, splits)
            ),
            bn=nn.BatchNorm2d(groups),
            prelu=nn.PReLU(groups),
        )
        return _module(
            conv=conv_block(cin, groups), conv_dw=md, CA=coord_att(groups), project=linear_block(groups, cout)
        )

    def mix_res(c, n, groups, kernels, splits):
        return _module(model=nn.Sequential(*(mix_dw(c, c, groups, kernels, splits, 1) for _ in range(n))))

    mfn = [
        conv_block(3, 64, 3, 2, 1),
        conv_block(64, 64, 3, 1, 1, 64),
        mix_dw(64, 64, 128, [3, 5, 7], [64, 32, 32]),
        mix_res(64, 9, 128, [3, 5], [96, 32]),
        mix_dw(64, 128, 256, [3, 5, 7], [128, 64, 64]),
        mix_res(128, 16, 256, [3, 5], [192, 64]),
        mix_dw(128, 256, 1024, [3, 5, 7, 9], [256] * 4),
        mix_res(256, 6, 512, [3, 5, 7], [172, 170, 170]),
        conv_block(256, 512),
    ]

    def head():
        return _module(
            CoordAtt=_module(
                Linear_h=linear_block(512, 512, (1, 7), 512),
                Linear_w=linear_block(512, 512, (7, 1), 512),
                conv1=nn.Conv2d(512, 16, 1),
                bn1=nn.BatchNorm2d(16),
                conv2=nn.Conv2d(16, 512, 1),
                conv3=nn.Conv2d(16, 512, 1),
                Linear=linear_block(512, 512, 7, 512),
            )
        )

    m = _module(
        features=nn.Sequential(*mfn),
        **{f"cat_head{i}": head() for i in range(num_head)},
        Linear=linear_block(512, 512, 7, 512),
        fc=nn.Linear(512, num_classes),
        bn=nn.BatchNorm1d(num_classes),
    )
    return {"iter": 20, "model_state_dict": numbered(m.state_dict()), "optimizer_state_dict": {}}


def poster(num_classes=7, depth=8):
    """zczcwh/POSTER models/emotion_hyp.py + hyp_crossvit.py (DataParallel); train.py's torch.save."""

    def block(dim):
        attn = lambda: _module(kv=nn.Linear(dim, 2 * dim), proj=nn.Linear(dim, dim))  # noqa: E731
        mlp = lambda: _module(fc1=nn.Linear(dim, 2 * dim), fc2=nn.Linear(2 * dim, dim))  # noqa: E731
        return _module(
            norm1=nn.LayerNorm(dim),
            attn_img=attn(),
            attn_lm=attn(),
            norm2=nn.LayerNorm(dim),
            mlp1=mlp(),
            mlp2=mlp(),
            norm3=nn.LayerNorm(dim),
            norm4=nn.LayerNorm(dim),
            conv=nn.Conv1d(100, 100, 1),
        )

    pyramid = _module(
        cls_token=nn.Parameter(torch.zeros(1, 1, 512)),
        pos_embed=nn.Parameter(torch.zeros(1, 50, 512)),
        downsample_m=nn.Conv1d(100, 100, 2, 2),
        downsample_s=nn.Conv1d(100, 100, 4, 4),
        blocks=nn.Sequential(
            *(
                _module(
                    block_l=block(512),
                    block_m=block(256),
                    block_s=block(128),
                    upsample_m=nn.ConvTranspose1d(100, 100, 2, 2),
                    upsample_s=nn.ConvTranspose1d(100, 100, 2, 2),
                )
                for _ in range(depth)
            )
        ),
        norm=nn.LayerNorm(512),
    )
    m = _module(
        face_landback=landmark_mobilefacenet(),
        ir_back=ir50(staged=False),
        ir_layer=nn.Linear(1024, 512),
        pyramid_fuse=pyramid,
        se_block=_module(linear1=nn.Linear(512, 512), linear2=nn.Linear(512, 512)),
        head=_module(linear=nn.Linear(512, num_classes)),
    )
    return {
        "iter": 216,
        "model_state_dict": data_parallel(numbered(m.state_dict())),
        "optimizer_state_dict": {},
    }


def poster_v2(num_classes=7, recorder=None):
    """Talented-Q/POSTER_V2 models/PosterV2_7cls.py + vit_model.py (DataParallel); main.py's
    save_checkpoint."""

    def vit_block():
        return _module(
            norm1=nn.LayerNorm(768),
            conv=nn.Conv1d(148, 148, 1),
            attn=_module(qkv=nn.Linear(768, 2304), proj=nn.Linear(768, 768)),
            norm2=nn.LayerNorm(768),
            mlp=_module(fc1=nn.Linear(768, 3072), fc2=nn.Linear(3072, 768)),
        )

    vit = _module(
        cls_token=nn.Parameter(torch.zeros(1, 1, 768)),
        pos_embed=nn.Parameter(torch.zeros(1, 148, 768)),
        se_block=_module(linear1=nn.Linear(768, 768), linear2=nn.Linear(768, 768)),
        patch_embed=_module(proj=nn.Conv2d(256, 768, 1)),
        head=_module(linear=nn.Linear(768, num_classes)),
        eca_block=_module(conv=nn.Conv1d(1, 1, 5, padding=2, bias=False)),
        CON1=nn.Conv2d(256, 768, 1, bias=False),
        IRLinear1=nn.Linear(1024, 768),
        IRLinear2=nn.Linear(768, 512),
        blocks=nn.Sequential(vit_block(), vit_block()),
        norm=nn.LayerNorm(768),
    )
    parts = {"face_landback": landmark_mobilefacenet(), "VIT": vit, "ir_back": ir50(staged=True)}
    for n, (dim, heads, w) in enumerate(((64, 2, 28), (128, 4, 14), (256, 8, 7)), 1):
        parts[f"attn{n}"] = _module(
            relative_position_bias_table=nn.Parameter(torch.zeros((2 * w - 1) ** 2, heads)),
            relative_position_index=torch.zeros(w * w, w * w, dtype=torch.long),
            qkv=nn.Linear(dim, 2 * dim),
            proj=nn.Linear(dim, dim),
        )
        parts[f"window{n}"] = _module(norm=nn.LayerNorm(dim))
        parts[f"conv{n}"] = nn.Conv2d(dim, dim, 3, 2, 1)
        parts[f"ffn{n}"] = _module(
            gamma1=nn.Parameter(torch.ones(dim)),
            gamma2=nn.Parameter(torch.ones(dim)),
            mlp=_module(fc1=nn.Linear(dim, 4 * dim), fc2=nn.Linear(4 * dim, dim)),
            norm=nn.LayerNorm(dim),
        )
    parts.update(
        last_face_conv=nn.Conv2d(512, 256, 3, padding=1),
        embed_q=nn.Sequential(nn.Conv2d(64, 768, 3, 2, 1), nn.Conv2d(768, 768, 3, 2, 1)),
        embed_k=nn.Sequential(nn.Conv2d(128, 768, 3, 2, 1)),
        embed_v=_module(proj=nn.Conv2d(256, 768, 1)),
    )
    m = _module(**parts)
    return {
        "epoch": 20,
        "state_dict": data_parallel(numbered(m.state_dict())),
        "best_acc": torch.tensor(92.2, device="cpu"),
        "optimizer": {},
        "recorder": recorder,
    }


def ada_df(num_classes=7):
    """taylor-xy0827/Ada-DF model.py (built the way it builds it); train.py's save_checkpoint."""
    net = timm.create_model("resnet18")
    net.fc = nn.Linear(512, num_classes)
    children = list(net.children())
    branch_1 = nn.Sequential(*children[-5:])
    branch_2 = copy.deepcopy(branch_1)
    m = _module(
        feature=nn.Sequential(*children[:-5]),
        branch_1=branch_1,
        branch_1_feature=nn.Sequential(*list(branch_1.children())[:-1]),
        branch_1_classifier=branch_1[-1],
        branch_2=branch_2,
        branch_2_feature=nn.Sequential(*list(branch_2.children())[:-1]),
        branch_2_classifier=branch_2[-1],
        alpha_1=nn.Sequential(nn.Linear(512, 1), nn.Sigmoid()),
        alpha_2=nn.Sequential(nn.Linear(512, 1), nn.Sigmoid()),
    )
    state = numbered(m.state_dict())
    for k in state:  # the second names hold the same tensors as the first ones
        b = k[len("branch_")] if k.startswith("branch_") else None
        if b and (k.startswith(f"branch_{b}_feature.") or k.startswith(f"branch_{b}_classifier.")):
            state[k] = state[
                k.replace(f"branch_{b}_feature.", f"branch_{b}.").replace(
                    f"branch_{b}_classifier.", f"branch_{b}.4."
                )
            ]
    return {
        "epoch": 75,
        "state_dict": state,
        "acc": 0.9,
        "best_acc": 0.9,
        "optimizer": {},
        "class_distributions": torch.eye(num_classes, device="cpu"),
    }


def lnsu_net(num_classes=7):
    """zyh-uaiaaaa/Mine-Extra-Knowledge expression/models.py + backbones/swin.py (original Swin, patch 2,
    112 px, face-ID head of 512); train_exp.py's checkpoint."""

    def block(dim, heads, res, shifted):
        attn = _module(
            relative_position_bias_table=nn.Parameter(torch.zeros(169, heads)),
            relative_position_index=torch.zeros(49, 49, dtype=torch.long),
            qkv=nn.Linear(dim, 3 * dim),
            proj=nn.Linear(dim, dim),
        )
        b = _module(
            norm1=nn.LayerNorm(dim),
            attn=attn,
            norm2=nn.LayerNorm(dim),
            mlp=_module(fc1=nn.Linear(dim, 4 * dim), fc2=nn.Linear(4 * dim, dim)),
        )
        if shifted and res > 7:  # the last stage's 7×7 grid is one window: no shift, no mask
            b.register_buffer("attn_mask", torch.zeros((res // 7) ** 2, 49, 49))
        return b

    layers = nn.ModuleList()
    for i, (depth, heads) in enumerate(zip((2, 2, 6, 2), (3, 6, 12, 24))):
        dim, res = 96 * 2**i, 56 // 2**i
        layer = _module(blocks=nn.ModuleList(block(dim, heads, res, j % 2 == 1) for j in range(depth)))
        if i < 3:
            layer.downsample = _module(
                reduction=nn.Linear(4 * dim, 2 * dim, bias=False), norm=nn.LayerNorm(4 * dim)
            )
        layers.append(layer)
    encoder = _module(
        patch_embed=_module(proj=nn.Conv2d(3, 96, 2, 2), norm=nn.LayerNorm(96)),
        layers=layers,
        norm=nn.LayerNorm(768),
        feature=nn.Sequential(
            nn.Linear(768, 768, bias=False),
            nn.BatchNorm1d(768),
            nn.Linear(768, 512, bias=False),
            nn.BatchNorm1d(512),
        ),
    )
    m = _module(encoder=encoder, norm=nn.LayerNorm(768), head=nn.Linear(768, num_classes))
    return {
        "epoch": 4,
        "global_step": 59999,
        "local_step": 0,
        "state_dict_model": numbered(m.state_dict()),
        "state_optimizer": {},
        "state_lr_scheduler": {},
    }


def mfer(num_classes=7, with_heads=True):
    """XuJ1E/MFER model.py (original ConvNeXt-B, DS attention appended to stages 3 and 4) + the multi-scale
    heads of model/multiscale.py, saved as msc beside it; train.py's torch.save."""
    dims, depths = (128, 256, 512, 1024), (3, 3, 27, 3)

    def ln(d):
        return _module(weight=nn.Parameter(torch.ones(d)), bias=nn.Parameter(torch.zeros(d)))

    def block(d):
        return _module(
            dwconv=nn.Conv2d(d, d, 7, padding=3, groups=d),
            norm=ln(d),
            pwconv1=nn.Linear(d, 4 * d),
            pwconv2=nn.Linear(4 * d, d),
            gamma=nn.Parameter(torch.ones(d)),
        )

    def attention(d):
        return _module(
            key=nn.Sequential(nn.Linear(d, d // 8), nn.GELU(), nn.Linear(d // 8, d)),
            value=nn.Linear(d, d),
            attn=nn.Conv2d(d, d, 7, padding=3),
            norm=nn.LayerNorm(d),
        )

    down = nn.ModuleList(
        [nn.Sequential(nn.Conv2d(3, 128, 4, 4), ln(128))]
        + [nn.Sequential(ln(dims[i]), nn.Conv2d(dims[i], dims[i + 1], 2, 2)) for i in range(3)]
    )
    stages = nn.ModuleList(
        nn.Sequential(*(block(d) for _ in range(n)), *([attention(d)] if i >= 2 else []))
        for i, (d, n) in enumerate(zip(dims, depths))
    )
    m = _module(downsample_layers=down, stages=stages, norm=nn.LayerNorm(1024))
    if with_heads:
        m.msc = nn.ModuleList(
            _module(fc1=nn.Linear(256 * s, 256 * s), fc2=nn.Linear(256 * s, num_classes)) for s in (2, 3, 4)
        )
    return {"iter": 40, "model_state_dict": numbered(m.state_dict()), "optimizer_state_dict": {}}


def gsdnet(num_classes=7):
    """Emy-cv/GSDNet model/resnet1.py inside gsdnet.py's GSDNet; train.py saves model.state_dict()."""

    def acbam(c):
        mlp = lambda out: nn.Sequential(
            nn.Flatten(), nn.Linear(c, c // 16), nn.ReLU(), nn.Linear(c // 16, out)
        )  # noqa
        return _module(ChannelGate=_module(mlp=mlp(c), max_weight=mlp(1), mean_weight=mlp(1)))

    r50 = torchvision.models.resnet50()
    resnet = _module(conv1=nn.Conv2d(3, 64, 7, 2, 3, bias=False), bn1=nn.BatchNorm2d(64))
    for k, c in enumerate((256, 512, 1024, 2048), 1):
        setattr(resnet, f"layer{k}", getattr(r50, f"layer{k}"))
        extra = [nn.Conv2d(c, 2048, 1), nn.BatchNorm2d(2048), nn.ReLU()] if k < 4 else []
        setattr(resnet, f"cm{k}", nn.Sequential(acbam(c), *extra, nn.AdaptiveAvgPool2d(1), nn.Flatten(1)))
        setattr(resnet, f"fc_{k}", nn.Linear(2048, 128))
        setattr(resnet, f"fc_{k}_{k}", nn.Linear(2048, num_classes))
    return numbered(_module(resnet=resnet).state_dict())


CHECKPOINTS = {
    "dan": dan,
    "ddamfn": ddamfn,
    "poster": poster,
    "poster_v2": poster_v2,
    "ada_df": ada_df,
    "lnsu_net": lnsu_net,
    "mfer": mfer,
    "gsdnet": gsdnet,
}


def checkpoint(name: str, **kwargs):
    """The official checkpoint of model ``name`` as its training script saves it."""
    with torch.device("meta"):
        return CHECKPOINTS[name](**kwargs)
