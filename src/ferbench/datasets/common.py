"""Shared pieces of the adapters: exclusion reasons, the row ledger, strict label-file readers.

The readers raise ``MalformedLabelFile`` (file and line) on a structural defect, because a label file
that does not parse cannot be trusted for any of its rows; a row-level defect that the format allows
(an unknown label, a missing image) is an ``Exclusion`` with one of the reasons below.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from .. import images
from .base import AdapterResult, Exclusion, MalformedLabelFile, SourceRecord

# One vocabulary of exclusion reasons for every adapter (the image-level ones live in ``images``).
MISSING_FILE = images.MISSING_FILE
WRONG_PIXEL_COUNT = images.BAD_PIXELS
LABEL_NOT_IN_VOCABULARY = "label_not_in_vocabulary"
EMPTY_NAME = "empty_image_name"
DUPLICATE_ID = "duplicate_image_id"
NO_PIXEL_ROW = "no_pixel_row"  # FERPlus row beyond the end of the FER2013 csv it is joined to
VOTES_UNKNOWN = "votes_mostly_unknown_or_nf"  # FERPlus: annotators said "not a face" / "unknown"
NO_MAJORITY = "no_majority_vote"  # FERPlus majority mode: no emotion has more than half the votes
TIED_VOTES = "tied_votes"  # FERPlus plurality mode: two emotions share the top vote
NOT_AN_EXPRESSION = "not_an_expression"  # AffectNet codes 8-10: none, uncertain, no face
BOX_OUTSIDE_IMAGE = "box_outside_image"
NAME_NOT_MATCHED = "name_does_not_match_pattern"
NOT_AN_IMAGE_FILE = "not_an_image_file"

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm"}


class Ledger:
    """Accumulates kept records and exclusions, one source row at a time, so nothing is dropped.

    A second record with an id already kept is excluded as a duplicate (the first occurrence wins).
    """

    def __init__(self) -> None:
        self.records: list[SourceRecord] = []
        self.excluded: list[Exclusion] = []
        self._kept_at: dict[str, str] = {}

    def keep(self, record: SourceRecord) -> None:
        first = self._kept_at.get(record.image_id)
        if first is not None:
            self.exclude(record.image_id, record.source, DUPLICATE_ID, f"first seen at {first}")
            return
        self._kept_at[record.image_id] = record.source
        self.records.append(record)

    def exclude(self, image_id: str, source: str, reason: str, detail: str = "") -> None:
        self.excluded.append(Exclusion(image_id, source, reason, detail))

    def result(self, classes: Sequence[str]) -> AdapterResult:
        return AdapterResult(self.records, self.excluded, tuple(classes), len(self.records) + len(self.excluded))


def read_fields(path: Path, n_fields: int, sep: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """(1-based line number, fields) of each non-empty line; a line with another field count is fatal."""
    with open(path, encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            fields = line.split(sep) if sep else line.split()
            fields = [x.strip() for x in fields]
            if len(fields) != n_fields:
                raise MalformedLabelFile(
                    path, lineno, f"expected {n_fields} fields, found {len(fields)}: {line.strip()[:80]!r}")
            yield lineno, fields


def parse_int(path: Path, lineno: int, text: str, what: str) -> int:
    """An integer code; CK+ writes its codes as floats (``3.0000000e+00``), so whole floats pass."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value.is_integer():
        raise MalformedLabelFile(path, lineno, f"{what} {text!r} is not an integer")
    return int(value)


def parse_float(path: Path, lineno: int, text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise MalformedLabelFile(path, lineno, f"{what} {text!r} is not a number") from None


def read_csv_table(path: Path, required: Sequence[str], header: Sequence[str] | None = None
                   ) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row by column name) of a csv whose header names ``required`` columns.

    Header names are compared stripped, because re-exports of the same data differ in spacing
    (``icml_face_data.csv`` writes ``emotion, Usage, pixels``). If ``header`` is given and the file's
    first row is not a header (it lacks the first required name), that header is assumed instead.
    A row with a different number of fields than the header is fatal.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        first = next(reader, None)
        if first is None:
            raise MalformedLabelFile(path, 1, "empty file, expected a header")
        names = [c.strip() for c in first]
        pending: list[str] | None = None
        if header is not None and required[0] not in names:
            names, pending = list(header), first
        missing = [c for c in required if c not in names]
        if missing:
            raise MalformedLabelFile(path, 1, f"header {names} lacks column(s) {missing}")
        rows = ([(1, pending)] if pending is not None else [])
        for lineno, row in _numbered(path, reader, rows):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(names):
                raise MalformedLabelFile(path, lineno, f"expected {len(names)} fields, found {len(row)}")
            yield lineno, dict(zip(names, row))


def _numbered(path: Path, reader, first: list) -> Iterator[tuple[int, list[str]]]:
    yield from first
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise MalformedLabelFile(path, reader.line_num, str(e)) from None
        yield reader.line_num, row


def image_loader(path: Path) -> Callable[[], np.ndarray]:
    """The lazy ``load`` of a record whose image is a file (decoded and validated when called)."""
    return lambda: images.load_rgb(path)


def array_loader(gray: np.ndarray, name: str) -> Callable[[], np.ndarray]:
    """The lazy ``load`` of a record whose pixels are in the label file (FER2013)."""
    return lambda: images.check_not_blank(images.gray_to_rgb(gray), name)


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
