"""FERPlus: ten crowd votes per FER2013 image (Barsoum et al. 2016), 8 emotions.

Layout under ``resources/raw/ferplus/``::

    fer2013new.csv   Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF
    fer2013.csv      the FER2013 pixels, joined by row (options.pixels: csv, the default)
    FER2013Train/fer0000000.png ...   or the images rendered by FERPlus's generate_training_data.py
    FER2013Valid/  FER2013Test/       (options.pixels: png)

Label modes (``options.mode``), following the FERPlus paper:
  - ``majority``: the emotion with more than half of all ten votes, else excluded (``no_majority_vote``);
  - ``plurality``: the emotion with the most votes, excluded when two emotions tie (``tied_votes``);
  - ``soft``: the vote distribution over the 8 emotions as ``soft_label``; the hard label is its
    first maximum in FERPlus order (ties kept: the distribution is the training target).
In every mode a row with no image name (not a face) is excluded (``empty_image_name``), and so is a row
whose votes go mainly to ``unknown``/``NF`` (more than half of all votes, or no votes at all).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import labels
from .base import AdapterResult, MalformedLabelFile, SourceRecord
from .common import (
    EMPTY_NAME, MISSING_FILE, NO_MAJORITY, NO_PIXEL_ROW, TIED_VOTES, VOTES_UNKNOWN, WRONG_PIXEL_COUNT, Ledger,
    array_loader, image_loader, parse_int, read_csv_table, relative,
)
from .fer2013 import USAGE_SPLITS, PixelRow, read_pixel_rows, usage_split
from .registry import register_adapter

VOTE_FILE = "fer2013new.csv"
EMOTION_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
NOISE_COLUMNS = ("unknown", "NF")
PNG_DIRS = {"Training": "FER2013Train", "PublicTest": "FER2013Valid", "PrivateTest": "FER2013Test"}
MODES = ("majority", "plurality", "soft")


def vote_label(votes: np.ndarray, noise: int, mode: str) -> tuple[int | None, str, str]:
    """(index into the 8 emotions or None, exclusion reason, detail) for one row's votes."""
    total = int(votes.sum()) + noise
    if total == 0 or noise * 2 > total:
        return None, VOTES_UNKNOWN, f"{noise} of {total} votes unknown/NF"
    top = int(votes.argmax())
    if mode == "majority" and votes[top] * 2 <= total:
        return None, NO_MAJORITY, f"top emotion has {votes[top]} of {total} votes"
    if mode == "plurality" and (votes == votes[top]).sum() > 1:
        return None, TIED_VOTES, f"{(votes == votes[top]).sum()} emotions share {votes[top]} votes"
    return top, "", ""


@register_adapter
class FerplusAdapter:
    name = "ferplus"
    obtain = ("votes: https://github.com/microsoft/FERPlus (fer2013new.csv, MIT); pixels: the FER2013 "
              "fer2013.csv from Kaggle (see the fer2013 entry)")

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        if options.get("pixels", "csv") == "png":
            return [VOTE_FILE, *(f"{d}/*.png" for d in PNG_DIRS.values())]
        return [VOTE_FILE, options.get("pixel_file", "fer2013.csv")]

    @staticmethod
    def _image(raw_dir: Path, vote_path: Path, lineno: int, index: int, name: str, usage: str,
               pixel_rows: list[PixelRow], use_png: bool) -> tuple[Callable[[], np.ndarray] | None, tuple[str, str]]:
        """The row's image loader, or None and the (reason, detail) why it has no image."""
        if use_png:
            path = raw_dir / PNG_DIRS[usage] / name
            return (image_loader(path) if path.is_file() else None), (MISSING_FILE, relative(path, raw_dir))
        if index >= len(pixel_rows):
            return None, (NO_PIXEL_ROW, f"the pixel file has {len(pixel_rows)} rows")
        pix = pixel_rows[index]
        if pix.usage != usage:
            raise MalformedLabelFile(vote_path, lineno, f"Usage {usage!r} but row {index} of the pixel file says "
                                     f"{pix.usage!r}: the two files are not in the same row order")
        if pix.pixels is None:
            return None, (WRONG_PIXEL_COUNT, pix.problem)
        return array_loader(pix.pixels, f"{VOTE_FILE}:{lineno}"), ("", "")

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        raw_dir = Path(raw_dir)
        mode = options.get("mode", "majority")
        if mode not in MODES:
            raise ValueError(f"ferplus: options.mode must be one of {MODES}, got {mode!r}")
        use_png = options.get("pixels", "csv") == "png"
        splits = options.get("usage_splits") or USAGE_SPLITS
        pixel_rows: list[PixelRow] = []
        if not use_png:
            pixel_file = raw_dir / options.get("pixel_file", "fer2013.csv")
            pixel_rows = list(read_pixel_rows(pixel_file))
        vote_path = raw_dir / VOTE_FILE
        classes = labels.DATASET_CLASSES["ferplus"]
        ledger = Ledger()
        rows = read_csv_table(vote_path, ["Usage", "Image name", *EMOTION_COLUMNS, *NOISE_COLUMNS])
        for index, (lineno, row) in enumerate(rows):
            source, name, usage = f"{VOTE_FILE}:{lineno}", row["Image name"].strip(), row["Usage"].strip()
            rid = Path(name).stem if name else f"fer{index:07d}"
            split = usage_split(vote_path, lineno, usage, splits)
            votes = np.array([parse_int(vote_path, lineno, row[c], c) for c in EMOTION_COLUMNS])
            noise = sum(parse_int(vote_path, lineno, row[c], c) for c in NOISE_COLUMNS)
            if not name:
                ledger.exclude(rid, source, EMPTY_NAME, "FERPlus marks this FER2013 row as not a face")
                continue
            load, problem = self._image(raw_dir, vote_path, lineno, index, name, usage, pixel_rows, use_png)
            if load is None:
                ledger.exclude(rid, source, *problem)
                continue
            top, reason, detail = vote_label(votes, noise, mode)
            if top is None:
                ledger.exclude(rid, source, reason, detail)
                continue
            soft = tuple((votes / votes.sum()).tolist()) if mode == "soft" else None
            ledger.keep(SourceRecord(rid, classes[top], load, source, split=split, soft_label=soft))
        return ledger.result(classes)
