"""The official, grouped and kfold protocols on label tables (crossval's seed equivalence is tested
in tests/test_splits.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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


def _parts(table, name, i, n, **kw):
    return make_split(table, name, i, n, **kw)["part"].astype(str).to_numpy()


def test_official_keeps_the_dataset_test_and_carves_a_stratified_seeded_val_from_train():
    split = np.where(np.arange(300) < 240, "train", "test")
    table = _table(split=split)
    a, b = _parts(table, "official", 0, 3), _parts(table, "official", 1, 3)
    assert (a[240:] == "test").all() and (b[240:] == "test").all()
    assert set(a[:240]) == {"train", "val"} and (a == "val").sum() == 24
    assert not (a == b).all()  # the val cut depends on the iteration
    assert (a == _parts(table, "official", 0, 3)).all()
    train_share = table["label"][a == "train"].value_counts(normalize=True).sort_index()
    val_share = table["label"][a == "val"].value_counts(normalize=True).sort_index()
    assert (train_share - val_share).abs().max() < 0.06


def test_official_uses_the_dataset_val_when_it_has_one():
    split = np.array(["train"] * 200 + ["val"] * 50 + ["test"] * 50)
    table = _table(split=split)
    assert (_parts(table, "official", 2, 3) == split).all()


def test_official_refuses_a_dataset_without_official_split_or_test():
    with pytest.raises(ValueError, match="300 of 300 rows have no 'split'"):
        make_split(_table(), "official", 0, 1)
    with pytest.raises(ValueError, match="no official test rows"):
        make_split(_table(split=np.array(["train"] * 300)), "official", 0, 1)


def test_grouped_puts_each_subject_in_one_part_in_every_iteration():
    table = _table()
    for i in range(5):
        parts = _parts(table, "grouped", i, 5)
        for subject, rows in table.groupby("subject").groups.items():
            assert len(set(parts[rows])) == 1, subject
        assert {"train", "val", "test"} == set(parts)


def test_grouped_needs_subjects():
    table = _table()
    table.loc[3, "subject"] = None
    with pytest.raises(ValueError, match="1 of 300 rows have no 'subject'"):
        make_split(table, "grouped", 0, 2)


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
