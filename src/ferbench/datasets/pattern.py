"""Generic ``pattern`` adapter: a regular expression over each file name gives its label.

Options::

    regex: '^(?P<subject>S\\d+)_\\d+_(?P<label>[a-z]+)'   named groups: label (required), subject, split
    glob: '**/*'                 which files under the raw folder are source rows
    classes: [...]               optional: the vocabulary and its order; other labels are excluded
    class_names: {}              optional: captured label -> class name (e.g. {AN: angry, HA: happy})
    split_values: {}             optional: captured split -> train/val/test

The regex is matched (``re.search``) against the path relative to the raw folder, so folder names can
be captured too. A file it does not match is excluded (``name_does_not_match_pattern``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .base import AdapterResult, MalformedLabelFile, SourceRecord
from .common import (
    IMAGE_SUFFIXES, LABEL_NOT_IN_VOCABULARY, NAME_NOT_MATCHED, NOT_AN_IMAGE_FILE, Ledger, image_loader,
)
from .registry import register_adapter


@register_adapter
class PatternAdapter:
    name = "pattern"
    obtain = "your own images, label encoded in the file name (see resources/README.md, 'Your own dataset')"

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        return [options.get("glob", "**/*")]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        raw_dir = Path(raw_dir)
        if "regex" not in options:
            raise ValueError("pattern: options.regex is required")
        regex = re.compile(options["regex"])
        if "label" not in regex.groupindex:
            raise ValueError(f"pattern: options.regex {regex.pattern!r} has no (?P<label>...) group")
        class_names: Mapping[str, str] = options.get("class_names") or {}
        split_values: Mapping[str, str] = options.get("split_values") or {}
        fixed = tuple(options.get("classes") or ())
        ledger = Ledger()
        found: dict[str, None] = {}
        files = (p for p in raw_dir.glob(options.get("glob", "**/*")) if p.is_file() and not p.name.startswith("."))
        for f in sorted(files):
            rel = f.relative_to(raw_dir).as_posix()
            rid = Path(rel).with_suffix("").as_posix()
            m = regex.search(rel)
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                ledger.exclude(rid, rel, NOT_AN_IMAGE_FILE, f.suffix)
                continue
            if m is None:
                ledger.exclude(rid, rel, NAME_NOT_MATCHED, regex.pattern)
                continue
            groups = m.groupdict()
            label = class_names.get(groups["label"], groups["label"])
            split = groups.get("split")
            if split is not None:
                split = split_values.get(split, split)
                if split not in ("train", "val", "test"):
                    raise MalformedLabelFile(
                        f, None, f"split {groups['split']!r} is not train/val/test (set options.split_values)")
            if fixed and label not in fixed:
                ledger.exclude(rid, rel, LABEL_NOT_IN_VOCABULARY, repr(groups["label"]))
                continue
            found.setdefault(label)
            ledger.keep(SourceRecord(rid, label, image_loader(f), rel, split=split, subject=groups.get("subject")))
        return ledger.result(fixed or tuple(sorted(found)))
