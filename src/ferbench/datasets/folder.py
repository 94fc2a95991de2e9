"""Generic ``folder`` adapter: one subfolder per class, optionally under split folders.

Layouts::

    {raw}/{class}/{file}                      options: {}
    {raw}/{split}/{class}/{file}              options: {splits: {train: Train, test: Val}}

A split mapped to null (``{test: null}``) is not read, nor is any folder the splits do not name.

Every file under a folder it reads (the raw folder, or each split folder) is a source row: a file in
a class folder (at any depth) is labelled by that folder, and the image itself is validated when
aligned; a file directly in the read folder is ``not_in_a_class_folder``; hidden files (``.DS_Store``,
``._x.png``, anything in a dot-folder) are ``hidden_file``; links that leave the raw folder are
``path_outside_dataset``; links to folders are not followed (``not_a_file``). Ids are the paths
relative to the raw folder without extension (``happy/a``; ``train/happy/a`` with splits).
Options:
  - ``classes``: fixes the vocabulary and its order; a folder outside it is excluded with reason
    ``label_not_in_vocabulary``. Without it, the sorted names of folders with images are the classes.
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
from .common import NAME_NOT_MATCHED, Ledger, Vocabulary, image_loader, option_path, scan, walk
from .registry import register_adapter, with_defaults

OPTIONS = {"splits": None, "classes": None, "canonical": False, "subject_regex": None, "aligned": False}


def read_class_folders(raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
    """The folder layout's reader, shared by the adapters whose distribution is such a layout."""
    raw_dir = Path(raw_dir)
    opt = {**OPTIONS, **options}
    # a split mapped to null is left out: merged configs cannot delete a key, only override it
    splits = {k: option_path(v, f"splits.{k}") for k, v in (opt["splits"] or {None: "."}).items() if v}
    vocabulary = Vocabulary(opt["classes"], translate=labels.canonical_name if opt["canonical"] else None)
    subject_re = re.compile(opt["subject_regex"]) if opt["subject_regex"] else None
    ledger = Ledger(raw_dir)
    for split, sub in splits.items():
        root = raw_dir / sub
        if not root.is_dir():
            raise FileNotFoundError(f"split folder {root} (options.splits.{split}) does not exist")
        for ref, parts in scan(ledger, root, walk(root), min_parts=2):
            label = vocabulary.label(parts[0])
            stem = Path(parts[-1]).stem
            subject = m.group(1) if subject_re is not None and (m := subject_re.search(stem)) else None
            if label is None:
                ledger.exclude(ref.stem_id, ref.name, *vocabulary.refusal(parts[0]), ref)
            elif subject_re is not None and subject is None:
                ledger.exclude(ref.stem_id, ref.name, NAME_NOT_MATCHED, f"{stem!r} !~ {subject_re.pattern!r}",
                               ref)
            else:
                ledger.keep(SourceRecord(ref.stem_id, label, image_loader(ref.path), ref.name, split=split,
                                         subject=subject, aligned=bool(opt["aligned"])), ref)
    return ledger.result(vocabulary.classes)


@register_adapter
class FolderAdapter:
    name = "folder"
    obtain = "your own images, one subfolder per class (see resources/README.md, 'Your own dataset')"
    options = OPTIONS

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        splits = with_defaults(self.name, options)["splits"] or {}
        return [f"{d}/*/*" for d in splits.values() if d] if splits else ["*/*"]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        return read_class_folders(raw_dir, with_defaults(self.name, options))
