"""Generic ``pattern`` adapter: a regular expression over each file name gives its label.

Options::

    regex: '^(?P<subject>S\\d+)_\\d+_(?P<label>[a-z]+)'   named groups: label (required), subject, split
    glob: '**/*'                 which files under the raw folder are source rows
    classes: [...]               optional: the vocabulary and its order; other labels are excluded
    class_names: {}              optional: captured label -> class name (e.g. {AN: angry, HA: happy});
                                 when given, a captured value that is not one of its keys is excluded
    split_values: {}             optional: captured split -> train/val/test

Every file the glob matches is a source row (folders it matches are not). The regex is matched
(``re.search``) against the path relative to the raw folder, so folder names can be captured too. A
file it does not match is excluded (``name_does_not_match_pattern``), as are hidden files, files that
are not images and links that leave the raw folder. Files the glob does not match are not read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .base import AdapterResult, MalformedLabelFile, SourceRecord
from .common import NAME_NOT_MATCHED, Ledger, Vocabulary, image_loader, option_path, scan
from .registry import register_adapter, with_defaults


@register_adapter
class PatternAdapter:
    name = "pattern"
    obtain = "your own images, label encoded in the file name (see resources/README.md, 'Your own dataset')"
    options = {"regex": None, "glob": "**/*", "classes": None, "class_names": None, "split_values": {}}

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        return [with_defaults(self.name, options)["glob"]]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        opt = with_defaults(self.name, options)
        raw_dir = Path(raw_dir)
        if opt["regex"] is None:
            raise ValueError("pattern: options.regex is required")
        regex = re.compile(opt["regex"])
        if "label" not in regex.groupindex:
            raise ValueError(f"pattern: options.regex {regex.pattern!r} has no (?P<label>...) group")
        vocabulary = Vocabulary(opt["classes"], opt["class_names"])
        split_values: Mapping[str, str] = opt["split_values"]
        pattern = option_path(opt["glob"], "glob")
        matched = sorted((p for p in raw_dir.glob(pattern) if p.is_symlink() or not p.is_dir()),
                         key=lambda p: p.relative_to(raw_dir).parts)
        ledger = Ledger(raw_dir)
        for ref, _ in scan(ledger, raw_dir, matched):
            m = regex.search(ref.name)
            if m is None:
                ledger.exclude(ref.stem_id, ref.name, NAME_NOT_MATCHED, regex.pattern, ref)
                continue
            groups = m.groupdict()
            split = groups.get("split")
            if split is not None:
                split = split_values.get(split, split)
                if split not in ("train", "val", "test"):
                    raise MalformedLabelFile(ref.path, None, f"split {groups['split']!r} is not "
                                             "train/val/test (set options.split_values)")
            label = vocabulary.label(groups["label"])
            if label is None:
                ledger.exclude(ref.stem_id, ref.name, *vocabulary.refusal(groups["label"]), ref)
                continue
            ledger.keep(SourceRecord(ref.stem_id, label, image_loader(ref.path), ref.name, split=split,
                                     subject=groups.get("subject")), ref)
        return ledger.result(vocabulary.classes)
