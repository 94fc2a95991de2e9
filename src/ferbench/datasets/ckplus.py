"""CK+ (Extended Cohn-Kanade): posed expression sequences from neutral to peak, 123 subjects.

Two layouts (``options.layout``):

``original`` (as distributed by the owners)::

    cohn-kanade-images/S005/001/S005_001_00000001.png ...   every frame of every sequence
    Emotion/S005/001/S005_001_00000011_emotion.txt          one code 0..7 for labelled sequences only

  Codes: 0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness, 7 surprise. The last
  ``options.last_frames`` (default 3) frames of each labelled sequence get its label; with
  ``options.neutral_first_frame: true`` the first frame is added as ``neutral``. Every selected frame is
  a source row; a labelled sequence whose frames are absent is one excluded row (``missing_file``).

``ck48`` (the widespread CK+48 re-distribution: 48x48 crops of the last 3 frames)::

    CK+48/anger/S010_004_00000017.png ...   folders anger contempt disgust fear happy sadness surprise

In both, ``subject`` is the ``S###`` of the file name: frames of one person are near-duplicates, so
split protocols must group by it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import labels
from .base import AdapterResult, MalformedLabelFile, SourceRecord
from .common import (
    IMAGE_SUFFIXES, LABEL_NOT_IN_VOCABULARY, MISSING_FILE, NOT_AN_IMAGE_FILE, Ledger, image_loader, parse_int,
    relative,
)
from .registry import register_adapter

FRAME_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)$")
LAYOUTS = ("original", "ck48")


def _subject(path: Path, root: Path) -> str:
    m = FRAME_NAME.match(path.stem)
    if not m:
        raise MalformedLabelFile(path, None, f"{relative(path, root)}: name is not S###_###_########")
    return m.group(1)


def read_emotion_code(path: Path) -> int:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if len(lines) != 1 or len(lines[0].split()) != 1:
        raise MalformedLabelFile(path, 1, f"expected one emotion code, found {lines!r}")
    return parse_int(path, 1, lines[0].strip(), "emotion code")


def _read_original(raw_dir: Path, options: Mapping[str, Any], ledger: Ledger) -> tuple[str, ...]:
    last_n = int(options.get("last_frames", 3))
    with_neutral = bool(options.get("neutral_first_frame", False))
    for emo in sorted((raw_dir / "Emotion").glob("S*/*/*_emotion.txt")):
        subject, sequence = emo.parent.parent.name, emo.parent.name
        seq_id, source = f"{subject}_{sequence}", relative(emo, raw_dir)
        code = read_emotion_code(emo)
        label = labels.code_to_class("ckplus", code)
        frames = sorted((raw_dir / "cohn-kanade-images" / subject / sequence).glob("*.png"))
        if label is None or label == "neutral":
            ledger.exclude(seq_id, source, LABEL_NOT_IN_VOCABULARY, f"emotion code {code} outside 1..7")
            continue
        if not frames:
            ledger.exclude(seq_id, source, MISSING_FILE, f"no frames in cohn-kanade-images/{subject}/{sequence}")
            continue
        chosen = [(f, label) for f in frames[-last_n:]]
        if with_neutral and len(frames) > last_n:
            chosen.insert(0, (frames[0], "neutral"))
        for frame, frame_label in chosen:
            ledger.keep(SourceRecord(frame.stem, frame_label, image_loader(frame), relative(frame, raw_dir),
                                     subject=subject))
    classes = labels.DATASET_CLASSES["ckplus"]
    return classes if with_neutral else classes[1:]


def _read_ck48(raw_dir: Path, ledger: Ledger) -> tuple[str, ...]:
    root = raw_dir / "CK+48"
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        label = labels.canonical_name(class_dir.name)
        for f in sorted(p for p in class_dir.iterdir() if p.is_file() and not p.name.startswith(".")):
            source = relative(f, raw_dir)
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                ledger.exclude(f.stem, source, NOT_AN_IMAGE_FILE, f.suffix)
            elif label not in labels.DATASET_CLASSES["ckplus48"]:
                ledger.exclude(f.stem, source, LABEL_NOT_IN_VOCABULARY, class_dir.name)
            else:
                ledger.keep(SourceRecord(f.stem, label, image_loader(f), source, subject=_subject(f, raw_dir),
                                         aligned=True))
    return labels.DATASET_CLASSES["ckplus48"]


@register_adapter
class CkplusAdapter:
    name = "ckplus"
    obtain = ("request the CK+ database from its owners: https://www.jeffcohn.net/Resources/ (agreement "
              "form; research use only). CK+48 is a third-party crop of it, same licence")

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        if options.get("layout", "original") == "ck48":
            return ["CK+48/*/*.png"]
        return ["cohn-kanade-images/S*/*/*.png", "Emotion/S*/*/*_emotion.txt"]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        layout = options.get("layout", "original")
        if layout not in LAYOUTS:
            raise ValueError(f"ckplus: options.layout must be one of {LAYOUTS}, got {layout!r}")
        ledger = Ledger()
        if layout == "ck48":
            classes = _read_ck48(Path(raw_dir), ledger)
        else:
            classes = _read_original(Path(raw_dir), options, ledger)
        return ledger.result(classes)
