import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import ShuffleSplit, train_test_split

from ferbench.splits import make_split


def _table(n=157, classes=7, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"image_id": [f"img{i:05d}" for i in range(n)], "label": rng.integers(0, classes, n)})


def test_crossval_reproduces_the_fer_crossval_seed_index_for_index():
    table = _table()
    n_iter = 10
    # the seed's code: ShuffleSplit over the pooled table, then train_test_split(0.25, random_state=iteration)
    ss = ShuffleSplit(n_splits=n_iter, test_size=0.2, random_state=42)
    for iteration, (train_val_idx, test_idx) in enumerate(ss.split(np.arange(len(table)))):
        train_idx, val_idx = train_test_split(train_val_idx, test_size=0.25, random_state=iteration)
        parts = make_split(table, "crossval", iteration, n_iter)["part"].astype(str).to_numpy()
        assert (np.flatnonzero(parts == "test") == np.sort(test_idx)).all()
        assert (np.flatnonzero(parts == "train") == np.sort(train_idx)).all()
        assert (np.flatnonzero(parts == "val") == np.sort(val_idx)).all()


@pytest.mark.parametrize("protocol", ["crossval", "stratified"])
def test_splits_cover_every_row_once_and_are_deterministic(protocol):
    table = _table()
    a = make_split(table, protocol, 3, 5)
    b = make_split(table, protocol, 3, 5)
    assert a.equals(b)
    assert list(a["image_id"]) == list(table["image_id"])
    counts = a["part"].value_counts()
    assert counts["test"] == pytest.approx(0.2 * len(table), abs=1)
    assert counts.sum() == len(table)
    assert not make_split(table, protocol, 4, 5)["part"].equals(a["part"])


def test_stratified_keeps_class_proportions():
    table = _table(n=700, classes=5)
    parts = make_split(table, "stratified", 0, 3)["part"]
    overall = table["label"].value_counts(normalize=True).sort_index()
    for part in ("train", "val", "test"):
        share = table["label"][parts.to_numpy() == part].value_counts(normalize=True).sort_index()
        assert (share - overall).abs().max() < 0.02


def test_bad_protocol_and_iteration_are_named():
    with pytest.raises(KeyError, match="unknown split protocol 'nope'"):
        make_split(_table(), "nope", 0, 3)
    with pytest.raises(ValueError, match="iteration 3 outside 0..2"):
        make_split(_table(), "crossval", 3, 3)
