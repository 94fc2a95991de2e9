"""Generic ``folder`` adapter: one subfolder per class, optionally under split folders.

Layouts::

    {raw}/{class}/{file}                      options: {}
    {raw}/{split}/{class}/{file}              options: {splits: {train: Train, test: Val}}

Every file under a class folder is a source row; the image itself is validated when aligned.
``classes`` (optional) fixes the vocabulary and its order; a folder outside it is excluded with reason
``label_not_in_vocabulary``. Without it, the sorted folder names are the classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..images import load_rgb
from .base import AdapterResult, Exclusion, SourceRecord
from .registry import register_adapter

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm"}


def _is_image_candidate(p: Path) -> bool:
    return p.is_file() and not p.name.startswith(".")


@register_adapter
class FolderAdapter:
    name = "folder"
    obtain = "your own images, one subfolder per class (see resources/README.md, 'Your own dataset')"

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        splits = options.get("splits") or {}
        return [f"{d}/*/*" for d in splits.values()] if splits else ["*/*"]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        raw_dir = Path(raw_dir)
        splits: Mapping[str, str] = options.get("splits") or {None: "."}
        fixed = tuple(options.get("classes") or ())
        records, excluded, n = [], [], 0
        found: set[str] = set()
        for split, sub in splits.items():
            root = raw_dir / sub
            for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
                found.add(class_dir.name)
                for f in sorted(filter(_is_image_candidate, class_dir.rglob("*"))):
                    n += 1
                    rel = f.relative_to(raw_dir).as_posix()
                    image_id = Path(rel).with_suffix("").as_posix()
                    if f.suffix.lower() not in IMAGE_SUFFIXES:
                        excluded.append(Exclusion(image_id, rel, "not_an_image_file", f.suffix))
                    elif fixed and class_dir.name not in fixed:
                        excluded.append(Exclusion(image_id, rel, "label_not_in_vocabulary", class_dir.name))
                    else:
                        records.append(SourceRecord(image_id, class_dir.name, lambda f=f: load_rgb(f), rel,
                                                    split=split, aligned=bool(options.get("aligned", False))))
        classes = fixed or tuple(sorted(found))
        return AdapterResult(records, excluded, classes, n)
