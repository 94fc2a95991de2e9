"""Benchmark inputs: demo faces synthesised and aligned once into a temporary folder."""

from __future__ import annotations

from pathlib import Path

from ferbench.align import AlignConfig, align_dataset
from ferbench.datasets import get_adapter
from ferbench.datasets.demo import synthesize


def raw_demo(folder: Path, n_per_class: int) -> list:
    synthesize(folder / "raw", n_per_class=n_per_class, seed=11, size=160, workers=2)
    return get_adapter("folder").read(folder / "raw", {}).records


def aligned_jpegs(folder: Path, n_per_class: int, size: int) -> list[Path]:
    records = raw_demo(folder, n_per_class)
    table = align_dataset(records, folder, "aligned", AlignConfig(size=size), workers=2)
    return [folder / p for p in table.column("path").to_pylist() if p]
