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
whose votes go mainly to ``unknown``/``NF`` (more than half of all votes, or no votes at all). With
``pixels: png``, an image name that leaves the raw folder is ``path_outside_dataset`` (never opened).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import labels
from .base import AdapterResult, MalformedLabelFile, SourceRecord
from .common import (
    EMPTY_NAME, NO_MAJORITY, NO_PIXEL_ROW, TIED_VOTES, VOTES_UNKNOWN, WRONG_PIXEL_COUNT, FileRef, Ledger,
    array_loader, image_loader, option_path, parse_int, read_csv_table,
)
from .fer2013 import USAGE_SPLITS, PixelRow, read_pixel_rows, usage_split
from .registry import register_adapter, with_defaults

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

    options = {"mode": "majority", "pixels": "csv", "pixel_file": "fer2013.csv", "usage_splits": USAGE_SPLITS}

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        opt = with_defaults(self.name, options)
        if opt["pixels"] == "png":
            return [VOTE_FILE, *(f"{d}/*.png" for d in PNG_DIRS.values())]
        return [VOTE_FILE, option_path(opt["pixel_file"], "pixel_file")]

    @staticmethod
    def _pixels(vote_path: Path, lineno: int, index: int, usage: str, pixel_rows: list[PixelRow]
                ) -> tuple[Callable[[], np.ndarray] | None, tuple[str, str]]:
        """The row's loader from the joined FER2013 csv, or None and the (reason, detail) why it has none."""
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
        opt = with_defaults(self.name, options)
        raw_dir = Path(raw_dir)
        mode = opt["mode"]
        if mode not in MODES:
            raise ValueError(f"ferplus: options.mode must be one of {MODES}, got {mode!r}")
        use_png = opt["pixels"] == "png"
        splits = opt["usage_splits"]
        pixel_rows: list[PixelRow] = []
        if not use_png:
            pixel_rows = list(read_pixel_rows(raw_dir / option_path(opt["pixel_file"], "pixel_file")))
        vote_path = raw_dir / VOTE_FILE
        classes = labels.DATASET_CLASSES["ferplus"]
        ledger = Ledger(raw_dir)
        rows = read_csv_table(vote_path, ["Usage", "Image name", *EMOTION_COLUMNS, *NOISE_COLUMNS])
        for index, (lineno, row) in enumerate(ledger.rows(rows)):
            source, name, usage = f"{VOTE_FILE}:{lineno}", row["Image name"].strip(), row["Usage"].strip()
            rid = Path(name).stem if name else f"fer{index:07d}"
            split = usage_split(vote_path, lineno, usage, splits)
            votes = np.array([parse_int(vote_path, lineno, row[c], c) for c in EMOTION_COLUMNS])
            noise = sum(parse_int(vote_path, lineno, row[c], c) for c in NOISE_COLUMNS)
            if not name:
                ledger.exclude(rid, source, EMPTY_NAME, "FERPlus marks this FER2013 row as not a face")
                continue
            ref: FileRef | None = None
            if use_png:
                ref = ledger.locate(raw_dir / PNG_DIRS[usage], name)
                rid = ref.stem_id
                if ledger.refuse(ref, rid, source):
                    continue
                load = image_loader(ref.path)
            else:
                load, problem = self._pixels(vote_path, lineno, index, usage, pixel_rows)
                if load is None:
                    ledger.exclude(rid, source, *problem)
                    continue
            top, reason, detail = vote_label(votes, noise, mode)
            if top is None:
                ledger.exclude(rid, source, reason, detail, ref)
                continue
            soft = tuple((votes / votes.sum()).tolist()) if mode == "soft" else None
            ledger.keep(SourceRecord(rid, classes[top], load, source, split=split, soft_label=soft), ref)
        return ledger.result(classes)
