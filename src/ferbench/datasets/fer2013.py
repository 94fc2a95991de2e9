"""FER2013 (Kaggle "Challenges in Representation Learning"): 48x48 grey faces as pixel strings.

Layout under ``resources/raw/fer2013/`` (either file; ``options.file`` names it)::

    fer2013.csv          emotion,pixels,Usage        (the 2013 challenge file)
    icml_face_data.csv   emotion, Usage, pixels      (the later re-export: other order and spacing)

Codes 0..6 = angry, disgust, fear, happy, sad, surprise, neutral. ``Usage`` gives the official split:
Training -> train, PublicTest -> val, PrivateTest -> test. Row ``i`` (0-based, data rows only) has the
id ``fer{i:07d}``, the name FERPlus gives the same image.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import labels
from ..images import ImageRejected, parse_pixels
from .base import AdapterResult, MalformedLabelFile, SourceRecord
from .common import (
    LABEL_NOT_IN_VOCABULARY, WRONG_PIXEL_COUNT, Ledger, array_loader, option_path, parse_int, read_csv_table,
)
from .registry import register_adapter, with_defaults

SIDE = 48
USAGE_SPLITS = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}


@dataclass(frozen=True)
class PixelRow:
    index: int  # 0-based data row: the FERPlus join key
    lineno: int
    emotion: str
    usage: str
    pixels: np.ndarray | None  # None when the pixel string is not a 48x48 image
    problem: str = ""


def image_id(index: int) -> str:
    return f"fer{index:07d}"


def read_pixel_rows(path: Path) -> Iterator[PixelRow]:
    """Every data row of a FER2013 csv (either variant), pixels decoded or the reason they are not."""
    for index, (lineno, row) in enumerate(read_csv_table(path, ["emotion", "pixels", "Usage"])):
        try:
            pixels, problem = parse_pixels(row["pixels"], SIDE), ""
        except ImageRejected as e:
            pixels, problem = None, e.detail
        yield PixelRow(index, lineno, row["emotion"].strip(), row["Usage"].strip(), pixels, problem)


def usage_split(path: Path, lineno: int, usage: str, splits: Mapping[str, str]) -> str:
    try:
        return splits[usage]
    except KeyError:
        raise MalformedLabelFile(path, lineno, f"Usage {usage!r} is not one of {sorted(splits)}") from None


@register_adapter
class Fer2013Adapter:
    name = "fer2013"
    obtain = ("Kaggle: https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-"
              "recognition-challenge/data (fer2013.tar.gz -> fer2013.csv, or icml_face_data.csv)")

    options = {"file": "fer2013.csv", "usage_splits": USAGE_SPLITS}

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        return [option_path(with_defaults(self.name, options)["file"], "file")]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        opt = with_defaults(self.name, options)
        name = option_path(opt["file"], "file")
        path = Path(raw_dir) / name
        ledger = Ledger(raw_dir)
        for row in ledger.rows(read_pixel_rows(path)):
            source, rid = f"{name}:{row.lineno}", image_id(row.index)
            code = parse_int(path, row.lineno, row.emotion, "emotion")
            label = labels.code_to_class("fer2013", code)
            split = usage_split(path, row.lineno, row.usage, opt["usage_splits"])
            if label is None:
                ledger.exclude(rid, source, LABEL_NOT_IN_VOCABULARY, f"emotion {code} outside 0..6")
            elif row.pixels is None:
                ledger.exclude(rid, source, WRONG_PIXEL_COUNT, row.problem)
            else:
                ledger.keep(SourceRecord(rid, label, array_loader(row.pixels, source), source, split=split))
        return ledger.result(labels.DATASET_CLASSES["fer2013"])
