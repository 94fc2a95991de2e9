"""AffectNet (Mollahosseini et al. 2017), manually annotated part, as AffectNet-7 or AffectNet-8.

Layout under ``resources/raw/affectnet/`` (the owners' release)::

    Manually_Annotated_file_lists/training.csv     (``options.train_file``)
    Manually_Annotated_file_lists/validation.csv   (``options.test_file``)
    Manually_Annotated_Images/{subDirectory_filePath}

csv columns: ``subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,
valence,arousal`` (``facial_landmarks``: 68 points as ``x;y;x;y;...``). Codes 0..7 = neutral, happy, sad,
surprise, fear, disgust, anger, contempt; 8..10 (none, uncertain, no-face) are excluded with reason
``not_an_expression``; AffectNet-7 (``options.n_classes: 7``) excludes contempt as well. The test labels
were never released, so the validation set is the official test split.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import labels
from .base import AdapterResult, MalformedLabelFile, SourceRecord
from .common import (
    LABEL_NOT_IN_VOCABULARY, NOT_AN_EXPRESSION, Ledger, image_loader, option_path, parse_float, parse_int,
    read_csv_table,
)
from .registry import register_adapter, with_defaults

COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
           "expression", "valence", "arousal")
NON_EXPRESSIONS = {8: "none", 9: "uncertain", 10: "no-face"}
TRAIN_FILE = "Manually_Annotated_file_lists/training.csv"
TEST_FILE = "Manually_Annotated_file_lists/validation.csv"
IMAGES_DIR = "Manually_Annotated_Images"
# 68-point (iBUG) indices: eye contours, nose tip, mouth corners -> the 5 points of MTCNN's order.
_LEFT_EYE, _RIGHT_EYE, _NOSE_TIP, _MOUTH_LEFT, _MOUTH_RIGHT = range(36, 42), range(42, 48), 30, 48, 54


def five_points(path: Path, lineno: int, text: str) -> tuple[tuple[float, float], ...] | None:
    """The 68 landmarks reduced to eye centres, nose tip and mouth corners; None when absent."""
    if not text.strip():
        return None
    values = [parse_float(path, lineno, v, "landmark") for v in text.split(";") if v.strip()]
    if len(values) != 136:
        raise MalformedLabelFile(path, lineno, f"facial_landmarks has {len(values)} values, expected 136")
    pts = [(values[2 * i], values[2 * i + 1]) for i in range(68)]

    def centre(idx: range) -> tuple[float, float]:
        return (sum(pts[i][0] for i in idx) / len(idx), sum(pts[i][1] for i in idx) / len(idx))

    return (centre(_LEFT_EYE), centre(_RIGHT_EYE), pts[_NOSE_TIP], pts[_MOUTH_LEFT], pts[_MOUTH_RIGHT])


@register_adapter
class AffectnetAdapter:
    name = "affectnet"
    obtain = ("request AffectNet from its owners: http://mohammadmahoor.com/affectnet/ (academic licence "
              "agreement; research use only)")

    options = {"n_classes": 8, "train_file": TRAIN_FILE, "test_file": TEST_FILE, "images_dir": IMAGES_DIR}

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        opt = with_defaults(self.name, options)
        return [option_path(opt["train_file"], "train_file"), option_path(opt["test_file"], "test_file"),
                f"{option_path(opt['images_dir'], 'images_dir')}/*/*"]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        opt = with_defaults(self.name, options)
        raw_dir = Path(raw_dir)
        n_classes = int(opt["n_classes"])
        if n_classes not in (7, 8):
            raise ValueError(f"affectnet: options.n_classes must be 7 or 8, got {n_classes}")
        classes = labels.DATASET_CLASSES[f"affectnet{n_classes}"]
        images_dir = raw_dir / option_path(opt["images_dir"], "images_dir")
        ledger = Ledger(raw_dir)
        for split, key in (("train", "train_file"), ("test", "test_file")):
            name = option_path(opt[key], key)
            path = raw_dir / name
            # validation.csv is distributed with and without a header row; the columns are the same
            for lineno, row in ledger.rows(read_csv_table(path, COLUMNS, header=COLUMNS)):
                ref = ledger.locate(images_dir, row["subDirectory_filePath"].strip())
                source = f"{name}:{lineno}"
                code = parse_int(path, lineno, row["expression"], "expression")
                if ledger.refuse(ref, ref.stem_id, source, must_exist=False):
                    continue
                if code in NON_EXPRESSIONS:
                    ledger.exclude(ref.stem_id, source, NOT_AN_EXPRESSION,
                                   f"code {code} ({NON_EXPRESSIONS[code]})", ref)
                    continue
                label = labels.code_to_class("affectnet8", code)
                if label not in classes:
                    ledger.exclude(ref.stem_id, source, LABEL_NOT_IN_VOCABULARY,
                                   f"code {code} not in AffectNet-{n_classes}", ref)
                    continue
                if ledger.refuse(ref, ref.stem_id, source):
                    continue
                x, y, w, h = (parse_float(path, lineno, row[c], c)
                              for c in ("face_x", "face_y", "face_width", "face_height"))
                ledger.keep(SourceRecord(ref.stem_id, label, image_loader(ref.path), source, split=split,
                                         box=(x, y, x + w, y + h),
                                         landmarks=five_points(path, lineno, row["facial_landmarks"])), ref)
        return ledger.result(classes)
