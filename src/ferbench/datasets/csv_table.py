"""Generic ``csv`` adapter: a table with an image path and a label per row (a user's own dataset).

Options::

    file: labels.csv            the table, relative to the raw folder (a header row is required)
    path_column: path           image path, relative to ``images_dir``
    label_column: label         class name (or code, mapped through ``class_names``)
    images_dir: .               folder the paths are relative to
    split_column: null          optional: official split per row ...
    split_values: {}            ... translated with this mapping (e.g. {Training: train}); default identity
    subject_column: null        optional: the person in the image (for grouped splits)
    classes: [...]              optional: the vocabulary and its order; other labels are excluded
    class_names: {}             optional: label value -> class name (e.g. {"0": angry, "1": happy})

Every row is a source row: an empty path (``empty_image_name``), a label outside ``classes``, a
missing image or a repeated path is excluded with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .base import AdapterResult, MalformedLabelFile, SourceRecord
from .common import EMPTY_NAME, LABEL_NOT_IN_VOCABULARY, MISSING_FILE, Ledger, image_loader, read_csv_table
from .registry import register_adapter


@register_adapter
class CsvAdapter:
    name = "csv"
    obtain = "your own table of image paths and labels (see resources/README.md, 'Your own dataset')"

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        return [options.get("file", "labels.csv")]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        raw_dir = Path(raw_dir)
        name = options.get("file", "labels.csv")
        path = raw_dir / name
        path_col, label_col = options.get("path_column", "path"), options.get("label_column", "label")
        split_col, subject_col = options.get("split_column"), options.get("subject_column")
        split_values: Mapping[str, str] = options.get("split_values") or {}
        class_names = {str(k): v for k, v in (options.get("class_names") or {}).items()}
        fixed = tuple(options.get("classes") or ())
        images_dir = raw_dir / options.get("images_dir", ".")
        required = [c for c in (path_col, label_col, split_col, subject_col) if c]
        ledger = Ledger()
        found: dict[str, None] = {}
        for lineno, row in read_csv_table(path, required):
            rel, raw_label = row[path_col].strip(), row[label_col].strip()
            source = f"{name}:{lineno}"
            rid = Path(rel).with_suffix("").as_posix() if rel else source
            label = class_names.get(raw_label, raw_label)
            split = None
            if split_col:
                value = row[split_col].strip()
                split = split_values.get(value, value) if split_values else value
                if split not in ("train", "val", "test"):
                    raise MalformedLabelFile(
                        path, lineno, f"split {value!r} is not train/val/test (set options.split_values)")
            if not rel:
                ledger.exclude(rid, source, EMPTY_NAME, f"empty {path_col!r}")
            elif not label or (fixed and label not in fixed):
                ledger.exclude(rid, source, LABEL_NOT_IN_VOCABULARY, repr(raw_label))
            elif not (images_dir / rel).is_file():
                ledger.exclude(rid, source, MISSING_FILE, rel)
            else:
                found.setdefault(label)
                subject = (row[subject_col].strip() or None) if subject_col else None
                ledger.keep(SourceRecord(rid, label, image_loader(images_dir / rel), source,
                                         split=split, subject=subject))
        return ledger.result(fixed or tuple(sorted(found)))
