"""Shared pieces of the adapters: exclusion reasons, path containment, the row ledger, strict readers.

The readers raise ``MalformedLabelFile`` (file and line) on a structural defect, because a label file
that does not parse cannot be trusted for any of its rows; a row-level defect that the format allows
(an unknown label, a missing image) is an ``Exclusion`` with one of the reasons below. Every reason is
explained in resources/README.md.

Paths a label source names (or a folder scan finds) go through ``RawFolder.locate`` and must resolve
inside the dataset's raw folder. Symlink policy: the raw folder itself may be a link (keep a dataset
elsewhere and link ``resources/raw/{name}`` to it); inside it, a link is followed only when its target
stays inside the raw folder. Anything that leaves it, by ``..``, an absolute path or a link, is excluded
as ``path_outside_dataset`` and never opened. Label files named by the configuration (``options.file``
and the like) are the user's own choice and may be links; they must still be relative paths without
``..`` (``option_path``).
"""

from __future__ import annotations

import csv
import itertools
import os
import posixpath
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .. import images
from .base import AdapterResult, Exclusion, MalformedLabelFile, SourceRecord

# One vocabulary of exclusion reasons for every adapter (the image-level ones live in ``images``).
MISSING_FILE = images.MISSING_FILE
WRONG_PIXEL_COUNT = images.BAD_PIXELS
LABEL_NOT_IN_VOCABULARY = "label_not_in_vocabulary"
EMPTY_NAME = "empty_image_name"
DUPLICATE_ID = "duplicate_image_id"
DUPLICATE_FILE = "duplicate_file"  # another path (a link) to a file already kept
NO_PIXEL_ROW = "no_pixel_row"  # FERPlus row beyond the end of the FER2013 csv it is joined to
VOTES_UNKNOWN = "votes_mostly_unknown_or_nf"  # FERPlus: annotators said "not a face" / "unknown"
NO_MAJORITY = "no_majority_vote"  # FERPlus majority mode: no emotion has more than half the votes
TIED_VOTES = "tied_votes"  # FERPlus plurality mode: two emotions share the top vote
NOT_AN_EXPRESSION = "not_an_expression"  # AffectNet codes 8-10: none, uncertain, no face
BOX_OUTSIDE_IMAGE = "box_outside_image"
NAME_NOT_MATCHED = "name_does_not_match_pattern"
NOT_AN_IMAGE_FILE = "not_an_image_file"
PATH_OUTSIDE = "path_outside_dataset"
HIDDEN_FILE = "hidden_file"  # a dot-file or a file in a dot-folder (.DS_Store, ._x.png, .ipynb_checkpoints)
NOT_A_FILE = "not_a_file"  # a link to a folder (not followed), a socket, a fifo
NOT_IN_CLASS_FOLDER = "not_in_a_class_folder"
UNLABELLED_SEQUENCE = "unlabelled_sequence"  # CK+: a frame of a sequence without an Emotion file
FRAME_NOT_SELECTED = "frame_not_selected"  # CK+: a frame that is neither among the last nor the first

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm"}

T = TypeVar("T")


@dataclass(frozen=True)
class FileRef:
    """A file a row names, located in the raw folder.

    ``name`` is the path relative to the raw folder after lexical normalisation (``a/../b`` -> ``b``), or
    the text as given when it leaves the folder; ``rel`` is the same path relative to the folder the
    source's paths are relative to (``images_dir``), from which ids are made; ``path`` is the real
    location (links resolved), ``None`` when the file lies outside the raw folder (``outside`` says why).
    """

    name: str
    rel: str
    path: Path | None
    outside: str = ""

    def _split(self) -> tuple[str, str, str]:
        # string operations, not PurePosixPath: an adapter locates every row (AffectNet: 400k of them)
        folder, file = posixpath.split(self.rel)
        stem, suffix = posixpath.splitext(file)
        return (folder, file, "") if suffix == "." else (folder, stem, suffix)  # "a." has no suffix

    @property
    def stem_id(self) -> str:
        """``rel`` without its extension: the default image id (``happy/a.png`` -> ``happy/a``)."""
        folder, stem, _ = self._split()
        return posixpath.join(folder, stem) if stem else self.rel

    @property
    def suffix(self) -> str:
        return self._split()[2]

    @property
    def file_stem(self) -> str:
        """The file name without extension: the id of datasets whose names are unique (CK+ frames)."""
        return self._split()[1]


class RawFolder:
    """Resolves paths inside one dataset's raw folder and refuses those that leave it."""

    def __init__(self, raw_dir: str | Path):
        self.root = Path(raw_dir)
        self.real = os.path.realpath(self.root)
        self._dirs: dict[str, str | None] = {}  # real path of each folder met (None: outside)
        self._bases: dict[str, str] = {}  # each base folder relative to the raw folder

    def _inside(self, real: str) -> bool:
        return real == self.real or real.startswith(self.real.rstrip(os.sep) + os.sep)

    def _real_dir(self, rel: str) -> str | None:
        if rel not in self._dirs:
            real = os.path.realpath(self.root / rel)
            self._dirs[rel] = real if self._inside(real) else None
        return self._dirs[rel]

    def locate(self, base: str | Path, name: str) -> FileRef:
        """``name`` (relative to ``base``, a folder inside the raw folder) as a ``FileRef``.

        Nothing outside the raw folder is touched: a name that leaves it lexically is refused before
        any file-system call, and a link is only resolved (not opened) to see where it points.
        """
        key = str(base)
        if key not in self._bases:
            self._bases[key] = posixpath.normpath(Path(base).relative_to(self.root).as_posix())
        base_rel = self._bases[key]
        joined = posixpath.normpath(posixpath.join(base_rel, name))
        if posixpath.isabs(joined) or joined == ".." or joined.startswith("../"):
            return FileRef(name, name, None, f"{name!r} leaves the dataset folder")
        rel = joined[len(base_rel) + 1:] if base_rel != "." and joined.startswith(base_rel + "/") else joined
        parent, leaf = posixpath.split(joined)
        real_parent = self._real_dir(parent or ".")
        if real_parent is None:
            target = os.path.realpath(self.root / (parent or "."))
            return FileRef(joined, rel, None, f"{parent} is a link to {target}, outside the dataset folder")
        real = os.path.join(real_parent, leaf) if leaf not in ("", ".") else real_parent
        if os.path.islink(real):
            real = os.path.realpath(real)
            if not self._inside(real):
                return FileRef(joined, rel, None, f"{joined} is a link to {real}, outside the dataset folder")
        return FileRef(joined, rel, Path(real))


def option_path(value: str, option: str) -> str:
    """A path given by an adapter option: relative to the raw folder, without ``..``."""
    norm = posixpath.normpath(str(value))
    if posixpath.isabs(norm) or norm == ".." or norm.startswith("../"):
        raise ValueError(f"options.{option} {value!r} must be a path inside the dataset's raw folder")
    return norm


class Ledger:
    """Accounts for every source row of one adapter run: each is kept or excluded, none dropped.

    Source rows are counted where they are read (``rows`` wraps the label file's lines, the files a
    scan finds, the rows of a csv), independently of ``keep``/``exclude``, so an adapter that skips a
    row without excluding it fails ``AdapterResult``'s check instead of passing silently.

    Ids and duplicates are settled in ``result``: two distinct kept files whose ids coincide
    (``happy/a.png`` and ``happy/a.jpg`` -> ``happy/a``) both keep their extension in the id
    (``happy/a.png``, ``happy/a.jpg``), and so does an excluded file beside a kept one of the same stem
    (``happy/a.json``), so ids stay the extension-less paths of existing layouts wherever no two kept
    files clash (ids name the aligned files). Then a second record with an id already kept is excluded
    (``duplicate_image_id``), and so is a second path to a file (and box) already kept
    (``duplicate_file``, e.g. a link); the first in row order wins.
    """

    def __init__(self, raw_dir: str | Path):
        self.folder = RawFolder(raw_dir)
        self.n_rows = 0
        self._reading = 0  # sources wrapped by ``rows`` and not yet read to their end
        self._rows: list[tuple[SourceRecord | Exclusion, FileRef | None]] = []

    def rows(self, items: Iterable[T]) -> Iterator[T]:
        """Yield ``items``, counting each as one source row."""
        self._reading += 1
        for item in items:
            self.n_rows += 1
            yield item
        self._reading -= 1

    def locate(self, base: str | Path, name: str) -> FileRef:
        return self.folder.locate(base, name)

    def keep(self, record: SourceRecord, ref: FileRef | None = None) -> None:
        self._rows.append((record, ref))

    def exclude(self, image_id: str, source: str, reason: str, detail: str = "",
                ref: FileRef | None = None) -> None:
        self._rows.append((Exclusion(image_id, source, reason, detail), ref))

    def refuse(self, ref: FileRef, image_id: str, source: str, must_exist: bool = True) -> bool:
        """Exclude the row when its file lies outside the raw folder (or, if ``must_exist``, is absent)."""
        if ref.path is None:
            self.exclude(image_id, source, PATH_OUTSIDE, ref.outside, ref)
        elif must_exist and not os.path.isfile(ref.path):
            self.exclude(image_id, source, MISSING_FILE, ref.name, ref)
        else:
            return False
        return True

    def _final_ids(self) -> list[str]:
        kept: dict[str, set[str]] = {}  # id -> the extensions of the distinct files kept under it
        for row, ref in self._rows:
            if isinstance(row, SourceRecord) and ref is not None and ref.path is not None:
                kept.setdefault(row.image_id, set()).add(ref.suffix)
        ids = []
        for row, ref in self._rows:
            image_id, suffixes = row.image_id, kept.get(row.image_id, set())
            if ref is not None and ref.path is not None and suffixes:
                beside_kept = isinstance(row, Exclusion) and ref.suffix not in suffixes
                if len(suffixes) > 1 or beside_kept:
                    image_id += ref.suffix
            ids.append(image_id)
        return ids

    def result(self, classes: Sequence[str] | Callable[[list[SourceRecord]], Sequence[str]]) -> AdapterResult:
        """Kept records and exclusions; ``classes``: the vocabulary, or a function of the kept records."""
        if self._reading:
            raise AssertionError(f"adapter stopped reading {self._reading} source(s) before their end")
        records: list[SourceRecord] = []
        excluded: list[Exclusion] = []
        first_id: dict[str, str] = {}
        first_file: dict[tuple, str] = {}
        for (row, ref), image_id in zip(self._rows, self._final_ids()):
            row = replace(row, image_id=image_id) if image_id != row.image_id else row
            if isinstance(row, Exclusion):
                excluded.append(row)
                continue
            file_key = (ref.path, row.box) if ref is not None else None
            if image_id in first_id:
                excluded.append(Exclusion(image_id, row.source, DUPLICATE_ID,
                                          f"first seen at {first_id[image_id]}"))
            elif file_key in first_file:
                excluded.append(Exclusion(image_id, row.source, DUPLICATE_FILE,
                                          f"{ref.name} is the file kept as {first_file[file_key]}"))
            else:
                first_id[image_id] = row.source
                if file_key is not None:
                    first_file[file_key] = image_id
                records.append(row)
        vocabulary = classes(records) if callable(classes) else classes
        return AdapterResult(records, excluded, tuple(vocabulary), self.n_rows)


class Vocabulary:
    """The classes of a generic adapter (csv, pattern, folder) and what falls outside them.

    ``classes`` fixes the vocabulary and its order; ``class_names`` maps raw values (codes, spellings) to
    class names and, when given, is complete: a value that is not one of its keys never becomes a class;
    ``translate`` does the same job as a function (``labels.canonical_name``). Without ``classes``, the
    vocabulary is the kept labels, in ``class_names`` order if given, else sorted.
    """

    def __init__(self, classes: Sequence[str] | None = None, class_names: Mapping[Any, str] | None = None,
                 translate: Callable[[str], str | None] | None = None):
        self.fixed = tuple(classes or ())
        self.names = {str(k): v for k, v in class_names.items()} if class_names else None
        self.translate = translate

    def label(self, raw: str) -> str | None:
        """The class name of a raw label, or ``None`` when it is outside the vocabulary."""
        if self.names is not None:
            label = self.names.get(raw)
        elif self.translate is not None:
            label = self.translate(raw)
        else:
            label = raw or None
        return None if label is None or (self.fixed and label not in self.fixed) else label

    def refusal(self, raw: str) -> tuple[str, str]:
        """(reason, detail) for a raw label that ``label`` refused."""
        if self.names is not None and raw not in self.names:
            return LABEL_NOT_IN_VOCABULARY, f"{raw!r} is not a key of options.class_names {list(self.names)}"
        if self.fixed:
            return LABEL_NOT_IN_VOCABULARY, f"{raw!r} is not in options.classes {list(self.fixed)}"
        return LABEL_NOT_IN_VOCABULARY, f"{raw!r} is not a known class name" if raw else "empty label"

    def classes(self, records: Sequence[SourceRecord]) -> tuple[str, ...]:
        if self.fixed:
            return self.fixed
        kept = {r.label for r in records}
        order = list(dict.fromkeys(self.names.values())) if self.names is not None else sorted(kept)
        return tuple(c for c in order if c in kept)


def walk(root: Path) -> list[Path]:
    """Every entry under ``root`` that is not a folder, in path order; links to folders are entries, not
    descended (one inside the raw folder would read its files twice, one outside is refused)."""
    entries: list[Path] = []
    for folder, dirs, files in os.walk(root):
        links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        dirs[:] = [d for d in dirs if d not in links]
        entries += [Path(folder, f) for f in files + links]
    return sorted(entries, key=lambda p: p.relative_to(root).parts)


def scan(ledger: Ledger, root: Path, entries: Iterable[Path], min_parts: int = 1,
         id_of: Callable[[FileRef], str] = lambda ref: ref.stem_id
         ) -> Iterator[tuple[FileRef, tuple[str, ...]]]:
    """Each of ``entries`` (files found under ``root``) as one source row.

    Entries that cannot be an image of the layout are excluded here with their reason: hidden, outside
    the raw folder, not a regular file, fewer than ``min_parts`` path parts below ``root`` (2: a file
    must sit in a class folder), not an image by extension. The rest are yielded with their path parts
    relative to ``root`` for the adapter to label. Exclusions get the adapter's ids (``id_of``; by default
    ``FileRef.stem_id``, the path relative to the raw folder without extension).
    """
    raw = ledger.folder.root
    for entry in ledger.rows(entries):
        parts = entry.relative_to(root).parts
        ref = ledger.locate(raw, entry.relative_to(raw).as_posix())
        image_id = id_of(ref)
        if any(p.startswith(".") for p in parts):
            ledger.exclude(image_id, ref.name, HIDDEN_FILE, ref.name)
        elif ref.path is None:
            ledger.exclude(image_id, ref.name, PATH_OUTSIDE, ref.outside, ref)
        elif not ref.path.is_file():
            reason = NOT_A_FILE if ref.path.exists() else MISSING_FILE  # a folder link / a broken link
            ledger.exclude(image_id, ref.name, reason, f"{ref.name} -> {ref.path}", ref)
        elif len(parts) < min_parts:
            ledger.exclude(image_id, ref.name, NOT_IN_CLASS_FOLDER, f"{ref.name}: not in a class folder", ref)
        elif entry.suffix.lower() not in IMAGE_SUFFIXES:
            ledger.exclude(image_id, ref.name, NOT_AN_IMAGE_FILE, entry.suffix or ref.name, ref)
        else:
            yield ref, parts


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
    A row with a different number of fields than the header is fatal, and so is a field that spans
    lines: no label file of ours has line breaks inside a field, so a quoted field that does not close
    on its own line is an unbalanced quote, reported at the physical line where it opens.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        records = _records(path, csv.reader(f, strict=True))
        lineno, first = next(records, (1, None))
        if first is None:
            raise MalformedLabelFile(path, 1, "empty file, expected a header")
        names = [c.strip() for c in first]
        pending: list[tuple[int, list[str]]] = []
        if header is not None and required[0] not in names:
            names, pending = list(header), [(lineno, first)]
        missing = [c for c in required if c not in names]
        if missing:
            raise MalformedLabelFile(path, lineno, f"header {names} lacks column(s) {missing}")
        for lineno, row in itertools.chain(pending, records):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(names):
                raise MalformedLabelFile(path, lineno, f"expected {len(names)} fields, found {len(row)}")
            yield lineno, dict(zip(names, row))


def _records(path: Path, reader) -> Iterator[tuple[int, list[str]]]:
    """(physical line where the record starts, fields); a record over several lines is fatal."""
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            problem = f"{e} (at line {reader.line_num})"
            if "end of data" in str(e) or "expected after" in str(e):
                problem = f"unbalanced quote: a quoted field opens on this line and never closes: {problem}"
            raise MalformedLabelFile(path, start, problem) from None
        if reader.line_num > start:
            raise MalformedLabelFile(path, start, f"unbalanced quote: a quoted field opens on this line and "
                                     f"runs to line {reader.line_num}")
        yield start, row


def image_loader(path: Path) -> Callable[[], np.ndarray]:
    """The lazy ``load`` of a record whose image is a file (decoded and validated when called)."""
    return lambda: images.load_rgb(path)


def array_loader(gray: np.ndarray, name: str) -> Callable[[], np.ndarray]:
    """The lazy ``load`` of a record whose pixels are in the label file (FER2013)."""
    return lambda: images.check_not_blank(images.gray_to_rgb(gray), name)


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
