"""CK+ (Extended Cohn-Kanade): posed expression sequences from neutral to peak, 123 subjects.

Two layouts (``options.layout``):

``original`` (as distributed by the owners)::

    cohn-kanade-images/S005/001/S005_001_00000001.png ...   every frame of every sequence
    Emotion/S005/001/S005_001_00000011_emotion.txt          one code 0..7 for labelled sequences only

  Codes: 0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness, 7 surprise. The last
  ``options.last_frames`` (default 3) frames of each labelled sequence get its label; with
  ``options.neutral_first_frame: true`` the first frame is added as ``neutral``. Every file under
  ``cohn-kanade-images/`` is a source row: the selected frames are kept, the other frames of a labelled
  sequence are ``frame_not_selected``, frames of sequences without an Emotion file are
  ``unlabelled_sequence`` (plus hidden files, non-images...); a labelled sequence whose frames are
  absent is one more row (``missing_file``). Other folders of the release (Landmarks, FACS) are not read.

``ck48`` (the widespread CK+48 re-distribution: 48x48 crops of the last 3 frames)::

    CK+48/anger/S010_004_00000017.png ...   folders anger contempt disgust fear happy sadness surprise

  Every file under ``CK+48/`` is a source row (a file outside a class folder: ``not_in_a_class_folder``).

In both, the id is the frame's file name without extension and ``subject`` is the ``S###`` of the file
name: frames of one person are near-duplicates, so split protocols must group by it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import labels
from .base import AdapterResult, MalformedLabelFile, SourceRecord
from .common import (
    FRAME_NOT_SELECTED, IMAGE_SUFFIXES, LABEL_NOT_IN_VOCABULARY, MISSING_FILE, UNLABELLED_SEQUENCE, Ledger,
    image_loader, parse_int, relative, scan, walk,
)
from .registry import register_adapter, with_defaults

FRAME_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)$")
LAYOUTS = ("original", "ck48")


def _subject(stem: str, where: Path) -> str:
    m = FRAME_NAME.match(stem)
    if not m:
        raise MalformedLabelFile(where, None, f"name {stem!r} is not S###_###_########")
    return m.group(1)


def read_emotion_code(path: Path) -> int:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if len(lines) != 1 or len(lines[0].split()) != 1:
        raise MalformedLabelFile(path, 1, f"expected one emotion code, found {lines!r}")
    return parse_int(path, 1, lines[0].strip(), "emotion code")


def _read_codes(raw_dir: Path, ledger: Ledger) -> dict[tuple[str, str], tuple[int, str]]:
    """(subject, sequence) -> (emotion code, Emotion file) for every labelled sequence."""
    coded: dict[tuple[str, str], tuple[int, str]] = {}
    for emo in sorted((raw_dir / "Emotion").glob("S*/*/*_emotion.txt")):
        ref = ledger.locate(raw_dir, relative(emo, raw_dir))
        if ref.path is None:
            raise MalformedLabelFile(emo, None, f"{ref.outside}: not read")
        seq = (emo.parent.parent.name, emo.parent.name)
        if seq in coded:
            raise MalformedLabelFile(emo, None,
                                     f"sequence {'/'.join(seq)} has a second Emotion file {coded[seq][1]}")
        coded[seq] = (read_emotion_code(emo), ref.name)
    return coded


def _read_original(raw_dir: Path, options: Mapping[str, Any], ledger: Ledger) -> tuple[str, ...]:
    last_n, with_neutral = int(options["last_frames"]), bool(options["neutral_first_frame"])
    coded = _read_codes(raw_dir, ledger)
    root = raw_dir / "cohn-kanade-images"
    entries = walk(root) if root.is_dir() else []
    frames: dict[tuple[str, ...], list[Path]] = {}  # the images of each sequence folder, in order
    for f in entries:
        parts = f.relative_to(root).parts
        hidden = any(p.startswith(".") for p in parts)
        if len(parts) == 3 and f.suffix.lower() in IMAGE_SUFFIXES and not hidden:
            frames.setdefault(parts[:2], []).append(f)
    for ref, parts in scan(ledger, root, entries, id_of=lambda ref: ref.file_stem):
        seq, image_id = parts[:2], ref.file_stem
        if len(parts) != 3 or seq not in coded:
            ledger.exclude(image_id, ref.name, UNLABELLED_SEQUENCE,
                           f"no Emotion/{'/'.join(parts[:-1])}/*_emotion.txt", ref)
            continue
        code, emotion_file = coded[seq]
        label, seq_frames = labels.code_to_class("ckplus", code), frames[seq]
        k = seq_frames.index(root.joinpath(*parts))
        if k >= len(seq_frames) - last_n:
            frame_label = label
        elif with_neutral and k == 0:
            frame_label = "neutral"
        else:
            ledger.exclude(image_id, ref.name, FRAME_NOT_SELECTED, f"frame {k + 1} of {len(seq_frames)} "
                           f"(options.last_frames {last_n}, neutral_first_frame {with_neutral})", ref)
            continue
        if label in (None, "neutral"):  # a sequence is labelled with one of the 7 expressions
            ledger.exclude(image_id, ref.name, LABEL_NOT_IN_VOCABULARY,
                           f"{emotion_file}: code {code} outside 1..7", ref)
        else:
            ledger.keep(SourceRecord(image_id, frame_label, image_loader(ref.path), ref.name,
                                     subject=seq[0]), ref)
    for seq in ledger.rows(sorted(set(coded) - set(frames))):
        ledger.exclude("_".join(seq), coded[seq][1], MISSING_FILE,
                       f"no frames in cohn-kanade-images/{'/'.join(seq)}")
    classes = labels.DATASET_CLASSES["ckplus"]
    return classes if with_neutral else classes[1:]


def _read_ck48(raw_dir: Path, ledger: Ledger) -> tuple[str, ...]:
    root = raw_dir / "CK+48"
    for ref, parts in scan(ledger, root, walk(root), min_parts=2, id_of=lambda ref: ref.file_stem):
        image_id, label = ref.file_stem, labels.canonical_name(parts[0])
        if label not in labels.DATASET_CLASSES["ckplus48"]:
            ledger.exclude(image_id, ref.name, LABEL_NOT_IN_VOCABULARY, parts[0], ref)
        else:
            ledger.keep(SourceRecord(image_id, label, image_loader(ref.path), ref.name,
                                     subject=_subject(image_id, root.joinpath(*parts)), aligned=True), ref)
    return labels.DATASET_CLASSES["ckplus48"]


@register_adapter
class CkplusAdapter:
    name = "ckplus"
    obtain = ("request the CK+ database from its owners: https://www.jeffcohn.net/Resources/ (agreement "
              "form; research use only). CK+48 is a third-party crop of it, same licence")

    options = {"layout": "original", "last_frames": 3, "neutral_first_frame": False}

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        if with_defaults(self.name, options)["layout"] == "ck48":
            return ["CK+48/*/*.png"]
        return ["cohn-kanade-images/S*/*/*.png", "Emotion/S*/*/*_emotion.txt"]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        opt = with_defaults(self.name, options)
        if opt["layout"] not in LAYOUTS:
            raise ValueError(f"ckplus: options.layout must be one of {LAYOUTS}, got {opt['layout']!r}")
        ledger = Ledger(raw_dir)
        if opt["layout"] == "ck48":
            classes = _read_ck48(Path(raw_dir), ledger)
        else:
            classes = _read_original(Path(raw_dir), opt, ledger)
        return ledger.result(classes)
