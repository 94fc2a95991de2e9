"""Split protocols: a label table -> one train/val/test assignment per iteration.

Every protocol is a function ``(table, iteration, **options) -> np.ndarray`` of part names aligned with
the table's rows, registered in ``PROTOCOLS``. The table's row order is the dataset's original order,
which the ``crossval`` protocol depends on.

The i-th split of the repeated protocols (``crossval``, ``stratified``, ``grouped``, ``official``) does
not depend on how many iterations the benchmark has: sklearn's shuffle splitters draw one permutation per
split from one seeded generator, so split i is the same whether 3 or 10 are asked for. Raising
``benchmark.iterations`` therefore leaves the finished folds valid. Only ``kfold`` depends on the count
(k folds partition the data), so changing it starts that dataset's folds over.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GroupShuffleSplit,
    ShuffleSplit,
    StratifiedGroupKFold,
    StratifiedShuffleSplit,
    train_test_split,
)

from .grid import COUNT_DEPENDENT
from .schemas import PARTS

Protocol = Callable[..., np.ndarray]
PROTOCOLS: dict[str, Protocol] = {}


def protocol(name: str) -> Callable[[Protocol], Protocol]:
    def deco(fn: Protocol) -> Protocol:
        PROTOCOLS[name] = fn
        return fn

    return deco


def _assign(n: int, train: np.ndarray, val: np.ndarray, test: np.ndarray) -> np.ndarray:
    parts = np.full(n, "", dtype=object)
    parts[train], parts[val], parts[test] = "train", "val", "test"
    if (parts == "").any() or len(train) + len(val) + len(test) != n:
        raise AssertionError("split does not cover every row exactly once")
    return parts


def _nth_split(splitter, iteration: int, *arrays) -> tuple[np.ndarray, np.ndarray]:
    for i, (a, b) in enumerate(splitter.split(*arrays)):
        if i == iteration:
            return a, b
    raise ValueError(f"iteration {iteration} out of range for {splitter}")


def _shuffle(splitter_cls, iteration: int, **kwargs):
    """A shuffle splitter that reaches split ``iteration``: its first i+1 splits are those of any longer run."""
    return splitter_cls(n_splits=iteration + 1, **kwargs)


def _repeated_cuts(table: pd.DataFrame, iteration: int, test_size: float, val_size: float, outer_seed: int,
                   stratified: bool) -> np.ndarray:
    """Split ``iteration`` of a seeded shuffle splitter for test, then a ``val_size`` cut of the rest
    seeded by the iteration; both by class when ``stratified``."""
    n, y = len(table), table["label"].to_numpy()
    splitter = StratifiedShuffleSplit if stratified else ShuffleSplit
    outer = _shuffle(splitter, iteration, test_size=test_size, random_state=outer_seed)
    train_val, test = _nth_split(outer, iteration, np.zeros(n), y)
    train, val = train_test_split(train_val, test_size=val_size, random_state=iteration,
                                  stratify=y[train_val] if stratified else None)
    return _assign(n, train, val, test)


@protocol("crossval")
def crossval(
    table: pd.DataFrame,
    iteration: int,
    test_size: float = 0.2,
    val_size: float = 0.25,
    outer_seed: int = 42,
) -> np.ndarray:
    """FER-crossval: pooled data, ``ShuffleSplit(n_splits, 0.2, random_state=42)`` picks the test set
    of iteration ``i`` (overlapping across iterations: repeated random sub-sampling, not K-fold), then a
    non-stratified ``train_test_split(test_size=0.25, random_state=i)`` carves validation from the rest."""
    return _repeated_cuts(table, iteration, test_size, val_size, outer_seed, stratified=False)


@protocol("stratified")
def stratified(
    table: pd.DataFrame,
    iteration: int,
    test_size: float = 0.2,
    val_size: float = 0.25,
    outer_seed: int = 42,
) -> np.ndarray:
    """``crossval`` with both cuts stratified by class."""
    return _repeated_cuts(table, iteration, test_size, val_size, outer_seed, stratified=True)


def _require(table: pd.DataFrame, column: str, protocol_name: str) -> np.ndarray:
    """The column's values; a protocol that needs it refuses a table where any row lacks it."""
    if column not in table.columns:
        raise ValueError(f"protocol {protocol_name!r} needs a {column!r} column in the label table")
    values = table[column]
    if values.isna().any():
        raise ValueError(f"protocol {protocol_name!r}: {int(values.isna().sum())} of {len(table)} rows have no "
                         f"{column!r} (this dataset's adapter does not provide it; choose another protocol)")
    return values.to_numpy()


def _stratify_or_none(y: np.ndarray, n_val: float) -> np.ndarray | None:
    """Stratify by class when every class can give a row to both parts, otherwise cut without it."""
    counts = pd.Series(y).value_counts()
    return y if counts.min() >= 2 and n_val * len(y) >= len(counts) else None


@protocol("official")
def official(
    table: pd.DataFrame,
    iteration: int,
    val_size: float = 0.1,
) -> np.ndarray:
    """The dataset's own train/test (``split`` column). Its own val when it has one (then every iteration
    is the same partition and only training seeds differ); otherwise val is a stratified ``val_size`` cut of
    train, seeded by the iteration."""
    split = _require(table, "split", "official")
    unknown = sorted(set(split) - set(PARTS))
    if unknown:
        raise ValueError(f"protocol 'official': split values {unknown} are not {PARTS}")
    if not (split == "test").any():
        raise ValueError("protocol 'official': the dataset has no official test rows")
    if (split == "val").any():
        return np.asarray(split, dtype=object)
    train_idx = np.flatnonzero(split == "train")
    y = table["label"].to_numpy()[train_idx]
    train, val = train_test_split(train_idx, test_size=val_size, random_state=iteration,
                                  stratify=_stratify_or_none(y, val_size))
    return _assign(len(table), train, val, np.flatnonzero(split == "test"))


@protocol("grouped")
def grouped(
    table: pd.DataFrame,
    iteration: int,
    test_size: float = 0.2,
    val_size: float = 0.25,
    outer_seed: int = 42,
) -> np.ndarray:
    """``crossval`` by subject: ``GroupShuffleSplit`` picks ``test_size`` of the subjects for test, then
    ``val_size`` of the remaining subjects for val, so no subject appears in two parts."""
    groups = _require(table, "subject", "grouped")
    n = len(table)
    outer = _shuffle(GroupShuffleSplit, iteration, test_size=test_size, random_state=outer_seed)
    train_val, test = _nth_split(outer, iteration, np.zeros(n), None, groups)
    inner = GroupShuffleSplit(n_splits=1, test_size=val_size, random_state=iteration)
    train, val = next(inner.split(train_val, None, groups[train_val]))
    return _assign(n, train_val[train], train_val[val], test)


@protocol("kfold")
def kfold(
    table: pd.DataFrame,
    iteration: int,
    folds: int,
    val_folds: int = 4,
    seed: int = 42,
) -> np.ndarray:
    """``StratifiedGroupKFold`` with ``folds`` folds (the benchmark's iterations): fold ``iteration`` is the
    test set. Val is one
    fold of a ``val_folds``-fold ``StratifiedGroupKFold`` of the rest (seeded by the iteration). Groups are
    subjects when the table has them, otherwise every row is its own group."""
    n, y = len(table), table["label"].to_numpy()
    has_subjects = "subject" in table.columns and table["subject"].notna().any()
    groups = _require(table, "subject", "kfold") if has_subjects else np.arange(n)
    if not 0 <= iteration < folds:
        raise ValueError(f"kfold: iteration {iteration} outside 0..{folds - 1}")
    outer = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    train_val, test = _nth_split(outer, iteration, np.zeros(n), y, groups)
    inner = StratifiedGroupKFold(n_splits=val_folds, shuffle=True, random_state=iteration)
    train, val = next(inner.split(train_val, y[train_val], groups[train_val]))
    return _assign(n, train_val[train], train_val[val], test)


def make_split(table: pd.DataFrame, name: str, iteration: int, folds: int | None = None, **options) -> pd.DataFrame:
    """The manifest: ``image_id`` -> ``part`` for every row of ``table``.

    ``folds`` (the benchmark's iteration count) is given to the protocols in ``COUNT_DEPENDENT`` only.
    """
    try:
        fn = PROTOCOLS[name]
    except KeyError:
        raise KeyError(f"unknown split protocol {name!r}; known: {', '.join(sorted(PROTOCOLS))}") from None
    if iteration < 0:
        raise ValueError(f"iteration {iteration} is negative")
    if name in COUNT_DEPENDENT:
        if folds is None:
            raise ValueError(f"protocol {name!r} needs the number of folds")
        options = {**options, "folds": folds}
    parts = fn(table, iteration, **options)
    return pd.DataFrame({"image_id": table["image_id"].to_numpy(), "part": pd.Categorical(parts, PARTS)})
