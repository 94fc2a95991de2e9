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
    class_names: {}             optional: label value -> class name (e.g. {"0": angry, "1": happy});
                                when given, a value that is not one of its keys is excluded

Every row is a source row: an empty path (``empty_image_name``), a path that leaves the raw folder
(``path_outside_dataset``), a label outside the vocabulary, a missing image or a repeated path is
excluded with its reason. Ids are the paths relative to ``images_dir`` without extension.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .base import AdapterResult, MalformedLabelFile, SourceRecord
from .common import EMPTY_NAME, Ledger, Vocabulary, image_loader, option_path, read_csv_table
from .registry import register_adapter, with_defaults


@register_adapter
class CsvAdapter:
    name = "csv"
    obtain = "your own table of image paths and labels (see resources/README.md, 'Your own dataset')"
    options = {"file": "labels.csv", "path_column": "path", "label_column": "label", "images_dir": ".",
               "split_column": None, "split_values": {}, "subject_column": None, "classes": None,
               "class_names": None}

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        return [option_path(with_defaults(self.name, options)["file"], "file")]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        opt = with_defaults(self.name, options)
        raw_dir = Path(raw_dir)
        name = option_path(opt["file"], "file")
        path = raw_dir / name
        path_col, label_col = opt["path_column"], opt["label_column"]
        split_col, subject_col = opt["split_column"], opt["subject_column"]
        split_values: Mapping[str, str] = opt["split_values"]
        vocabulary = Vocabulary(opt["classes"], opt["class_names"])
        images_dir = raw_dir / option_path(opt["images_dir"], "images_dir")
        required = [c for c in (path_col, label_col, split_col, subject_col) if c]
        ledger = Ledger(raw_dir)
        for lineno, row in ledger.rows(read_csv_table(path, required)):
            rel, raw_label = row[path_col].strip(), row[label_col].strip()
            source = f"{name}:{lineno}"
            split = None
            if split_col:
                value = row[split_col].strip()
                split = split_values.get(value, value) if split_values else value
                if split not in ("train", "val", "test"):
                    raise MalformedLabelFile(
                        path, lineno, f"split {value!r} is not train/val/test (set options.split_values)")
            if not rel:
                ledger.exclude(source, source, EMPTY_NAME, f"empty {path_col!r}")
                continue
            ref = ledger.locate(images_dir, rel)
            if ledger.refuse(ref, ref.stem_id, source, must_exist=False):
                continue
            label = vocabulary.label(raw_label)
            if label is None:
                ledger.exclude(ref.stem_id, source, *vocabulary.refusal(raw_label), ref)
            elif not ledger.refuse(ref, ref.stem_id, source):
                subject = (row[subject_col].strip() or None) if subject_col else None
                ledger.keep(SourceRecord(ref.stem_id, label, image_loader(ref.path), source,
                                         split=split, subject=subject), ref)
        return ledger.result(vocabulary.classes)
