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
from .registry import register_adapter

SPLITS = {"train": "Train", "test": "Val"}


@register_adapter
class SfewAdapter:
    name = "sfew"
    obtain = ("request SFEW 2.0 from the EmotiW organisers: https://users.cecs.anu.edu.au/~few_group/"
              "AFEW.html (licence agreement; research use only)")

    def expected_files(self, options: Mapping[str, Any]) -> list[str]:
        splits = {**SPLITS, **(options.get("splits") or {})}
        return [f"{d}/*/*.png" for d in splits.values() if d]

    def read(self, raw_dir: Path, options: Mapping[str, Any]) -> AdapterResult:
        classes = labels.DATASET_CLASSES["sfew"]
        splits = {**SPLITS, **(options.get("splits") or {})}
        return read_class_folders(Path(raw_dir), {"splits": splits, "canonical": True,
                                                  "classes": classes, "aligned": True})
