"""Generic ``folder`` adapter: one subfolder per class, optionally under split folders.

Layouts::

    {raw}/{class}/{file}                      options: {}
    {raw}/{split}/{class}/{file}              options: {splits: {train: Train, test: Val}}

A split mapped to null (``{test: null}``) is not read.

Every file under a class folder is a source row; the image itself is validated when aligned.
Options:
  - ``classes``: fixes the vocabulary and its order; a folder outside it is excluded with reason
    ``label_not_in_vocabulary``. Without it, the sorted folder names are the classes.
  - ``canonical: true``: folder names are translated to canonical expression names (``Angry`` ->
    ``angry``, ``sadness`` -> ``sad``); a folder that is no known expression is excluded.
  - ``subject_regex``: a regular expression over the file stem whose first group is the subject.
  - ``aligned: true``: the images are already aligned faces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import labels
from .base import AdapterResult, SourceRecord
from .common import (
    IMAGE_SUFFIXES, LABEL_NOT_IN_VOCABULARY, NAME_NOT_MATCHED, NOT_AN_IMAGE_FILE, Ledger, image_loader,
)
from .registry import register_adapter


def _is_image_candidate(p: Path) -> bool:
    return p.is_file() and not p.name.startswith(".")


def read_class_folders(raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
    """The folder layout's reader, shared by the adapters whose distribution is such a layout."""
    raw_dir = Path(raw_dir)
    # a split mapped to null is left out: merged configs cannot delete a key, only override it
    splits = {k: v for k, v in (options.get("splits") or {None: "."}).items() if v}
    fixed = tuple(options.get("classes") or ())
    canonical = bool(options.get("canonical", False))
    subject_re = re.compile(options["subject_regex"]) if options.get("subject_regex") else None
    ledger = Ledger()
    found: set[str] = set()
    for split, sub in splits.items():
        root = raw_dir / sub
        if not root.is_dir():
            raise FileNotFoundError(f"split folder {root} (options.splits.{split}) does not exist")
        for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            label = labels.canonical_name(class_dir.name) if canonical else class_dir.name
            if label is not None:
                found.add(label)
            for f in sorted(filter(_is_image_candidate, class_dir.rglob("*"))):
                rel = f.relative_to(raw_dir).as_posix()
                image_id = Path(rel).with_suffix("").as_posix()
                subject = None
                if subject_re is not None and (m := subject_re.search(f.stem)):
                    subject = m.group(1)
                if f.suffix.lower() not in IMAGE_SUFFIXES:
                    ledger.exclude(image_id, rel, NOT_AN_IMAGE_FILE, f.suffix)
                elif label is None or (fixed and label not in fixed):
                    ledger.exclude(image_id, rel, LABEL_NOT_IN_VOCABULARY, class_dir.name)
                elif subject_re is not None and subject is None:
                    ledger.exclude(image_id, rel, NAME_NOT_MATCHED, f"{f.stem!r} !~ {subject_re.pattern!r}")
                else:
                    ledger.keep(SourceRecord(image_id, label, image_loader(f), rel, split=split, subject=subject,
                                             aligned=bool(options.get("aligned", False))))
    return ledger.result(fixed or tuple(sorted(found)))


@register_adapter
class FolderAdapter:
    name = "folder"
    obtain = "your own images, one subfolder per class (see resources/README.md, 'Your own dataset')"

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        splits = options.get("splits") or {}
        return [f"{d}/*/*" for d in splits.values() if d] if splits else ["*/*"]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        return read_class_folders(raw_dir, options)
