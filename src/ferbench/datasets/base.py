"""The contract between dataset adapters and the rest of the pipeline.

An adapter turns the files a dataset's owners distribute (under ``resources/raw/{dataset}/``) into
``SourceRecord`` rows plus ``Exclusion`` rows. It never drops a row silently: every row of the raw label
source ends up in exactly one of the two lists, so ``len(records) + len(excluded) == n_source_rows``,
where ``n_source_rows`` is counted as the source is read (``common.Ledger.rows``), not derived from the
two lists.

Images are not decoded by the adapter; each record carries a ``load`` callable that returns the image
(``ferbench.images`` validates it), so the alignment stage can decode lazily and record unreadable files
as exclusions too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

class MissingRawData(FileNotFoundError):
    """Raised when a dataset's original files are not where the adapter expects them."""

    def __init__(self, dataset: str, raw_dir: Path, expected: Sequence[str], obtain: str):
        self.dataset, self.raw_dir, self.expected, self.obtain = dataset, raw_dir, list(expected), obtain
        lines = "\n".join(f"  - {raw_dir / e}" for e in expected)
        super().__init__(
            f"dataset '{dataset}': original files not found. Expected:\n{lines}\n"
            f"Where to get it: {obtain}\n(see resources/README.md for the exact layout)"
        )


class MalformedLabelFile(ValueError):
    """A label source that cannot be parsed; never turned into a partial table."""

    def __init__(self, path: Path, line: int | None, problem: str):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")
        self.path, self.line, self.problem = path, line, problem


@dataclass(frozen=True)
class SourceRecord:
    """One labelled face as the dataset distributes it.

    ``image_id`` is stable and unique within the dataset (it names the aligned file).
    ``label`` is the class name in the dataset's own vocabulary (``ferbench.classes``); ``soft_label``
    optionally holds a probability vector over that vocabulary (FERPlus votes).
    ``box`` (left, top, right, bottom) in source pixels is cropped (with the configured margin)
    before face detection, for datasets with several faces per image (ExpW, AffectNet).
    ``landmarks`` optionally holds the dataset's own 5-point landmarks (x, y) in source pixels.
    """

    image_id: str
    label: str
    load: Callable[[], np.ndarray] = field(compare=False, repr=False)
    source: str = ""  # file (relative to raw dir) or "file:row" the record came from
    split: str | None = None
    subject: str | None = None
    box: tuple[float, float, float, float] | None = None
    landmarks: tuple[tuple[float, float], ...] | None = None
    soft_label: tuple[float, ...] | None = None
    aligned: bool = False  # the distribution is already aligned (RAF-DB aligned, SFEW, CK+48)


@dataclass(frozen=True)
class Exclusion:
    """A row of the raw label source that is not kept, and why."""

    image_id: str
    source: str
    reason: str
    detail: str = ""


@dataclass
class AdapterResult:
    records: list[SourceRecord]
    excluded: list[Exclusion]
    classes: tuple[str, ...]  # the vocabulary ``label`` values come from, in the dataset's own order
    n_source_rows: int  # rows read from the raw label source (counted independently); = kept + excluded

    def __post_init__(self) -> None:
        kept, dropped = len(self.records), len(self.excluded)
        if kept + dropped != self.n_source_rows:
            raise AssertionError(
                f"adapter accounted for {kept} kept + {dropped} excluded rows but the source has "
                f"{self.n_source_rows}"
            )
        seen: set[str] = set()
        for r in self.records:
            if r.image_id in seen:
                raise AssertionError(f"duplicate image_id {r.image_id!r} among kept records")
            seen.add(r.image_id)
