"""LFW-FER, M-LFW-FER and M-LFW-FER-face-cut (Yang, Wu & Hattori, MUM 2020): LFW faces in 3 classes.

The published archive (https://github.com/amrta-coder/LFW-emotion-dataset, Google Drive link) holds
one folder per variant, each with ``train`` and ``eval`` splits of class folders::

    LFW-FER/train/{negative,neutral,positive}/Aaron_Eckhart_0001.jpg
    LFW-FER/eval/{negative,neutral,positive}/...
    M-LFW-FER/...             the same faces with a synthetic mask
    M-LFW-FER-face-cut/...    the masked faces cut to the face region

``options.variant`` picks the folder (default ``LFW-FER``); ``eval`` is the official test split. The
subject is the LFW identity (the file name without its ``_NNNN`` index): LFW has many photographs of
some people, which a grouped split keeps together.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import labels
from .base import AdapterResult
from .folder import read_class_folders
from .registry import register_adapter, with_defaults

VARIANTS = ("LFW-FER", "M-LFW-FER", "M-LFW-FER-face-cut")
SUBJECT_REGEX = r"^(.+)_\d{4}$"


@register_adapter
class LfwFerAdapter:
    name = "lfw_fer"
    obtain = ("https://github.com/amrta-coder/LFW-emotion-dataset (Google Drive archive; academic and "
              "non-commercial use only)")
    options = {"variant": "LFW-FER"}

    def _variant(self, options: Mapping[str, Any]) -> str:
        variant = with_defaults(self.name, options)["variant"]
        if variant not in VARIANTS:
            raise ValueError(f"lfw_fer: options.variant must be one of {VARIANTS}, got {variant!r}")
        return variant

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        variant = self._variant(options)
        return [f"{variant}/train/*/*", f"{variant}/eval/*/*"]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        variant = self._variant(options)
        return read_class_folders(Path(raw_dir), {
            "splits": {"train": f"{variant}/train", "test": f"{variant}/eval"},
            "canonical": True, "classes": labels.DATASET_CLASSES["lfw_fer"], "subject_regex": SUBJECT_REGEX,
        })
