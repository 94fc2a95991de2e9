"""RAF-DB basic emotions, as its owners distribute it.

Layout under ``resources/raw/rafdb/``::

    EmoLabel/list_patition_label.txt     "train_00001.jpg 5" per line, labels 1..7 (1-based)
    Image/aligned/train_00001_aligned.jpg   options.images: aligned (default; 100x100, already aligned)
    Image/original/train_00001.jpg          options.images: original
    Annotation/manual/train_00001_manu_attri.txt   5 landmarks (x y), used with original images

The official split is the name prefix (``train_`` / ``test_``). The id is the name's stem
(``train_00001``); a name whose file leaves the raw folder is excluded (``path_outside_dataset``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import labels
from .base import AdapterResult, MalformedLabelFile, SourceRecord
from .common import (
    LABEL_NOT_IN_VOCABULARY, FileRef, Ledger, image_loader, parse_float, parse_int, read_fields,
)
from .registry import register_adapter, with_defaults

LABEL_FILE = "EmoLabel/list_patition_label.txt"
_SPLIT_PREFIX = {"train_": "train", "test_": "test"}


def _image(ledger: Ledger, raw_dir: Path, name: str, images: str) -> FileRef:
    if images == "aligned":
        return ledger.locate(raw_dir / "Image" / "aligned", f"{Path(name).stem}_aligned.jpg")
    return ledger.locate(raw_dir / "Image" / "original", name)


def read_landmarks(path: Path) -> tuple[tuple[float, float], ...] | None:
    """The 5 manual landmarks (eyes, nose, mouth corners) that head ``*_manu_attri.txt``; None if absent."""
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) < 5:
        raise MalformedLabelFile(path, len(lines), "expected 5 landmark lines")
    points = []
    for i, line in enumerate(lines[:5], start=1):
        xy = line.split()
        if len(xy) != 2:
            raise MalformedLabelFile(path, i, f"expected 'x y', found {line!r}")
        points.append((parse_float(path, i, xy[0], "x"), parse_float(path, i, xy[1], "y")))
    return tuple(points)


@register_adapter
class RafdbAdapter:
    name = "rafdb"
    obtain = ("request access at http://www.whdeng.cn/raf/model1.html (Real-world Affective Faces, "
              "basic emotion part; research use, agreement signed by a faculty member)")

    options = {"images": "aligned"}

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        images = with_defaults(self.name, options)["images"]
        return [LABEL_FILE, "Image/aligned/*_aligned.jpg" if images == "aligned" else "Image/original/*.jpg"]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        raw_dir = Path(raw_dir)
        images = with_defaults(self.name, options)["images"]
        if images not in ("aligned", "original"):
            raise ValueError(f"rafdb: options.images must be 'aligned' or 'original', got {images!r}")
        label_file = raw_dir / LABEL_FILE
        ledger = Ledger(raw_dir)
        for lineno, (name, code_text) in ledger.rows(read_fields(label_file, 2)):
            source = f"{LABEL_FILE}:{lineno}"
            image_id = Path(name).stem
            code = parse_int(label_file, lineno, code_text, "label")
            label = labels.code_to_class("rafdb", code, base=1)
            split = next((s for p, s in _SPLIT_PREFIX.items() if name.startswith(p)), None)
            ref = _image(ledger, raw_dir, name, images)
            if split is None:
                raise MalformedLabelFile(label_file, lineno, f"name {name!r} starts with neither train_ nor test_")
            if ledger.refuse(ref, image_id, source, must_exist=False):
                continue
            if label is None:
                ledger.exclude(image_id, source, LABEL_NOT_IN_VOCABULARY, f"code {code} outside 1..7", ref)
                continue
            if ledger.refuse(ref, image_id, source):
                continue
            landmarks = None
            if images == "original":
                manual = ledger.locate(raw_dir / "Annotation" / "manual", f"{image_id}_manu_attri.txt")
                if ledger.refuse(manual, image_id, source, must_exist=False):
                    continue
                landmarks = read_landmarks(manual.path)
            ledger.keep(SourceRecord(image_id, label, image_loader(ref.path), source, split=split,
                                     landmarks=landmarks, aligned=images == "aligned"), ref)
        return ledger.result(labels.DATASET_CLASSES["rafdb"])
