"""Split protocols: FER-crossval's seed equivalence, coverage, determinism, the official/grouped/kfold
protocols, and independence of the i-th split from the benchmark's iteration count."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit, train_test_split

from ferbench.splits import make_split


def _table(n=300, classes=4, subjects=30, split=None, seed=0):
    rng = np.random.default_rng(seed)
    subject = rng.integers(0, subjects, n)
    return pd.DataFrame({
        "image_id": [f"im{i:04d}" for i in range(n)],
        "label": rng.integers(0, classes, n),
        "label_name": "x",
        "split": split if split is not None else None,
        "subject": [f"S{s:03d}" for s in subject],
    })


def _parts(table, name, i, folds=None, **kw):
    return make_split(table, name, i, folds, **kw)["part"].astype(str).to_numpy()


def test_crossval_reproduces_the_fer_crossval_seed_index_for_index():
    table = _table(n=157, classes=7)
    # the seed's code: ShuffleSplit(10) over the pooled table, then train_test_split(0.25, random_state=iteration)
    ss = ShuffleSplit(n_splits=10, test_size=0.2, random_state=42)
    for iteration, (train_val_idx, test_idx) in enumerate(ss.split(np.arange(len(table)))):
        train_idx, val_idx = train_test_split(train_val_idx, test_size=0.25, random_state=iteration)
        parts = _parts(table, "crossval", iteration)
        assert (np.flatnonzero(parts == "test") == np.sort(test_idx)).all()
        assert (np.flatnonzero(parts == "train") == np.sort(train_idx)).all()
        assert (np.flatnonzero(parts == "val") == np.sort(val_idx)).all()


@pytest.mark.parametrize("protocol, splitter", [
    ("stratified", StratifiedShuffleSplit), ("grouped", GroupShuffleSplit), ("crossval", ShuffleSplit)])
def test_the_ith_outer_split_is_the_ith_of_a_ten_split_run(protocol, splitter):
    """Raising benchmark.iterations must not change the finished folds' splits."""
    table = _table()
    y, groups = table["label"].to_numpy(), table["subject"].to_numpy()
    ten = list(splitter(n_splits=10, test_size=0.2, random_state=42).split(np.zeros(len(table)), y, groups))
    for i in (0, 3, 9):
        test = np.flatnonzero(_parts(table, protocol, i) == "test")
        assert (test == np.sort(ten[i][1])).all(), i


@pytest.mark.parametrize("protocol", ["crossval", "stratified"])
def test_splits_cover_every_row_once_and_are_deterministic(protocol):
    table = _table(n=157, classes=7)
    a = make_split(table, protocol, 3)
    b = make_split(table, protocol, 3)
    assert a.equals(b)
    assert list(a["image_id"]) == list(table["image_id"])
    counts = a["part"].value_counts()
    assert counts["test"] == pytest.approx(0.2 * len(table), abs=1)
    assert counts.sum() == len(table)
    assert not make_split(table, protocol, 4)["part"].equals(a["part"])


def test_stratified_keeps_class_proportions():
    table = _table(n=700, classes=5)
    parts = make_split(table, "stratified", 0)["part"]
    overall = table["label"].value_counts(normalize=True).sort_index()
    for part in ("train", "val", "test"):
        share = table["label"][parts.to_numpy() == part].value_counts(normalize=True).sort_index()
        assert (share - overall).abs().max() < 0.02


def test_bad_protocol_and_iteration_are_named():
    with pytest.raises(KeyError, match="unknown split protocol 'nope'"):
        make_split(_table(), "nope", 0)
    with pytest.raises(ValueError, match="kfold: iteration 3 outside 0..2"):
        make_split(_table(), "kfold", 3, 3)
    with pytest.raises(ValueError, match="needs the number of folds"):
        make_split(_table(), "kfold", 0)


def test_official_keeps_the_dataset_test_and_carves_a_stratified_seeded_val_from_train():
    split = np.where(np.arange(300) < 240, "train", "test")
    table = _table(split=split)
    a, b = _parts(table, "official", 0), _parts(table, "official", 1)
    assert (a[240:] == "test").all() and (b[240:] == "test").all()
    assert set(a[:240]) == {"train", "val"} and (a == "val").sum() == 24
    assert not (a == b).all()  # the val cut depends on the iteration
    assert (a == _parts(table, "official", 0)).all()
    train_share = table["label"][a == "train"].value_counts(normalize=True).sort_index()
    val_share = table["label"][a == "val"].value_counts(normalize=True).sort_index()
    assert (train_share - val_share).abs().max() < 0.06


def test_official_uses_the_dataset_val_when_it_has_one():
    split = np.array(["train"] * 200 + ["val"] * 50 + ["test"] * 50)
    table = _table(split=split)
    assert (_parts(table, "official", 2) == split).all()


def test_official_refuses_a_dataset_without_official_split_or_test():
    with pytest.raises(ValueError, match="300 of 300 rows have no 'split'"):
        make_split(_table(), "official", 0)
    with pytest.raises(ValueError, match="no official test rows"):
        make_split(_table(split=np.array(["train"] * 300)), "official", 0)


def test_grouped_puts_each_subject_in_one_part_in_every_iteration():
    table = _table()
    for i in range(5):
        parts = _parts(table, "grouped", i)
        for subject, rows in table.groupby("subject").groups.items():
            assert len(set(parts[rows])) == 1, subject
        assert {"train", "val", "test"} == set(parts)


def test_grouped_needs_subjects():
    table = _table()
    table.loc[3, "subject"] = None
    with pytest.raises(ValueError, match="1 of 300 rows have no 'subject'"):
        make_split(table, "grouped", 0)


def test_kfold_tests_every_row_once_across_folds_with_subjects_kept_together():
    table = _table()
    tested = np.zeros(len(table), dtype=int)
    for i in range(5):
        parts = _parts(table, "kfold", i, 5)
        tested += parts == "test"
        for rows in table.groupby("subject").groups.values():
            assert len(set(parts[rows])) == 1
    assert (tested == 1).all()


def test_kfold_without_subjects_groups_each_row_alone():
    table = _table().assign(subject=None)
    tested = sum((_parts(table, "kfold", i, 4) == "test").astype(int) for i in range(4))
    assert (tested == 1).all()
