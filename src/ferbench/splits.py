"""Split protocols: a label table -> one train/val/test assignment per iteration.

Every protocol is a function ``(table, iteration, n_iterations, **options) -> np.ndarray`` of part names
aligned with the table's rows, registered in ``PROTOCOLS``. The table's row order is the dataset's
original order, which the ``crossval`` protocol depends on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit, train_test_split

PARTS = ("train", "val", "test")
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


@protocol("crossval")
def crossval(
    table: pd.DataFrame,
    iteration: int,
    n_iterations: int,
    test_size: float = 0.2,
    val_size: float = 0.25,
    outer_seed: int = 42,
) -> np.ndarray:
    """FER-crossval: pooled data, ``ShuffleSplit(n_iterations, 0.2, random_state=42)`` picks the test set
    of iteration ``i`` (overlapping across iterations: repeated random sub-sampling, not K-fold), then a
    non-stratified ``train_test_split(test_size=0.25, random_state=i)`` carves validation from the rest."""
    n = len(table)
    outer = ShuffleSplit(n_splits=n_iterations, test_size=test_size, random_state=outer_seed)
    train_val, test = _nth_split(outer, iteration, np.arange(n))
    train, val = train_test_split(train_val, test_size=val_size, random_state=iteration)
    return _assign(n, train, val, test)


@protocol("stratified")
def stratified(
    table: pd.DataFrame,
    iteration: int,
    n_iterations: int,
    test_size: float = 0.2,
    val_size: float = 0.25,
    outer_seed: int = 42,
) -> np.ndarray:
    """``crossval`` with both cuts stratified by class."""
    n, y = len(table), table["label"].to_numpy()
    outer = StratifiedShuffleSplit(n_splits=n_iterations, test_size=test_size, random_state=outer_seed)
    train_val, test = _nth_split(outer, iteration, np.zeros(n), y)
    train, val = train_test_split(train_val, test_size=val_size, random_state=iteration, stratify=y[train_val])
    return _assign(n, train, val, test)


def make_split(table: pd.DataFrame, name: str, iteration: int, n_iterations: int, **options) -> pd.DataFrame:
    """The manifest: ``image_id`` -> ``part`` for every row of ``table``."""
    try:
        fn = PROTOCOLS[name]
    except KeyError:
        raise KeyError(f"unknown split protocol {name!r}; known: {', '.join(sorted(PROTOCOLS))}") from None
    if not 0 <= iteration < n_iterations:
        raise ValueError(f"iteration {iteration} outside 0..{n_iterations - 1}")
    parts = fn(table, iteration, n_iterations, **options)
    return pd.DataFrame({"image_id": table["image_id"].to_numpy(), "part": pd.Categorical(parts, PARTS)})
