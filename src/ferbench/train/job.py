"""What one training job is: a (model, dataset, iteration) fold, its input files and its settings."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import WeightFile


def job_seed(dataset: str, iteration: int) -> int:
    return zlib.crc32(f"{dataset}/{iteration}".encode()) & 0x7FFFFFFF


@dataclass
class TrainJob:
    model: str
    dataset: str
    iteration: int
    labels: Path
    split: Path
    cache: Path
    out_dir: Path  # metrics.json, history.csv, predictions.parquet, best.pt, provenance.json
    resume_path: Path  # outside the declared outputs: Snakemake deletes those when a job fails
    recipe: Mapping[str, Any]
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    objective_kwargs: Mapping[str, Any] = field(default_factory=dict)
    pretrained: Mapping[str, WeightFile] = field(default_factory=dict)  # {part: file}, {} from scratch
    device: str = "auto"
    threads: int = 1
    amp: bool = True
    input_size: int | None = None  # overrides the model's declared input side (e.g. 112 for a quick demo)
    # the resume state is written after an epoch once this long has passed since the last write (0: after
    # every epoch); a killed job loses at most this much training and one epoch
    resume_every_s: float = 0.0

    @property
    def fold(self) -> str:
        return f"{self.model}/{self.dataset}/{self.iteration}"

    def input_files(self) -> dict[str, Path]:
        """Every file the fold is computed from: the data, and each pretrained file actually used
        (the backbone and any file a model takes through its kwargs, e.g. POSTER's landmark net)."""
        files = {"labels": Path(self.labels), "split": Path(self.split), "cache": Path(self.cache)}
        for part, weights in self.pretrained.items():
            files[f"pretrained_{part}"] = Path(weights.file)
        for key, value in self.model_kwargs.items():
            if isinstance(value, (str, Path)) and Path(value).is_file():
                files[f"model_kwargs.{key}"] = Path(value)
        return files
