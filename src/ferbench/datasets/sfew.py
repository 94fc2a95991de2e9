"""SFEW 2.0 (Static Facial Expressions in the Wild): aligned faces from movie frames.

Layout under ``resources/raw/sfew/`` (the owners' ``Train_Aligned_Faces`` / ``Val_Aligned_Faces``
archives, unpacked and renamed)::

    Train/{Angry,Disgust,Fear,Happy,Neutral,Sad,Surprise}/*.png
    Val/{...same classes...}/*.png

The test set's labels were never released, so the official protocol evaluates on Val: by default
``Train`` -> train and ``Val`` -> test (``options.splits`` changes it; ``{test: null}`` reads Train only).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import labels
from .base import AdapterResult
from .folder import read_class_folders
from .registry import register_adapter, with_defaults

SPLITS = {"train": "Train", "test": "Val"}


@register_adapter
class SfewAdapter:
    name = "sfew"
    obtain = ("request SFEW 2.0 from the EmotiW organisers: https://users.cecs.anu.edu.au/~few_group/"
              "AFEW.html (licence agreement; research use only)")
    options = {"splits": None}  # merged over SPLITS

    def _splits(self, options: Mapping[str, Any]) -> dict[str, str | None]:
        return {**SPLITS, **(with_defaults(self.name, options)["splits"] or {})}

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        return [f"{d}/*/*.png" for d in self._splits(options).values() if d]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        return read_class_folders(Path(raw_dir), {"splits": self._splits(options), "canonical": True,
                                                  "classes": labels.DATASET_CLASSES["sfew"], "aligned": True})
