"""The generic adapters a user's own dataset goes through: folder, csv, pattern."""

from __future__ import annotations

import pytest
from dataset_helpers import label_frame, write_image

from ferbench.datasets import MalformedLabelFile, get_adapter
from ferbench.splits import make_split


def test_folder_with_split_level_canonical_names_and_subjects(tmp_path):
    for split in ("train", "test"):
        for k, cls in enumerate(("Anger", "Happiness", "Neutral")):
            for person in ("P01", "P02"):
                write_image(tmp_path / split / cls / f"{person}_{split}_{k}.png", seed=k)
    options = {"splits": {"train": "train", "test": "test"}, "canonical": True, "subject_regex": r"^(P\d+)_"}
    result = get_adapter("folder").read(tmp_path, options)
    assert result.classes == ("angry", "happy", "neutral")
    table = label_frame(result)
    assert table.groupby("split").size().to_dict() == {"test": 6, "train": 6}
    assert set(table["subject"]) == {"P01", "P02"}
    parts = make_split(table, "official", 0, 1, val_size=0.5)["part"].astype(str)
    assert (parts[table["split"] == "test"] == "test").all()


def test_folder_missing_split_folder_is_named(tmp_path):
    write_image(tmp_path / "train" / "happy" / "a.png")
    with pytest.raises(FileNotFoundError, match="options.splits.test"):
        get_adapter("folder").read(tmp_path, {"splits": {"train": "train", "test": "test"}})


def test_csv_with_codes_split_and_subject_columns(tmp_path):
    for name in ("a", "b", "c"):
        write_image(tmp_path / "faces" / f"{name}.jpg")
    (tmp_path / "table.csv").write_text(
        "file,emotion,usage,who\na.jpg,0,Training,p1\nb.jpg,1,Training,p2\nc.jpg,1,Testing,p3\n")
    options = {"file": "table.csv", "images_dir": "faces", "path_column": "file", "label_column": "emotion",
               "class_names": {0: "angry", 1: "happy"}, "split_column": "usage",
               "split_values": {"Training": "train", "Testing": "test"}, "subject_column": "who"}
    result = get_adapter("csv").read(tmp_path, options)
    assert [(r.image_id, r.label, r.split, r.subject) for r in result.records] == [
        ("a", "angry", "train", "p1"), ("b", "happy", "train", "p2"), ("c", "happy", "test", "p3")]
    assert result.classes == ("angry", "happy")


def test_csv_unknown_split_value_and_missing_column_are_errors(tmp_path):
    (tmp_path / "labels.csv").write_text("path,label,split\na.jpg,happy,holdout\n")
    with pytest.raises(MalformedLabelFile, match="labels.csv:2: split 'holdout'"):
        get_adapter("csv").read(tmp_path, {"split_column": "split"})
    with pytest.raises(MalformedLabelFile, match=r"lacks column\(s\) \['who'\]"):
        get_adapter("csv").read(tmp_path, {"subject_column": "who"})


def test_pattern_gives_label_subject_and_split_from_the_path(tmp_path):
    write_image(tmp_path / "tr" / "P03_s2_smile_0012.png")
    write_image(tmp_path / "te" / "P04_s1_frown_0001.png", seed=1)
    options = {"regex": r"^(?P<split>tr|te)/(?P<subject>P\d+)_s\d+_(?P<label>[a-z]+)_",
               "class_names": {"smile": "happy", "frown": "sad"}, "split_values": {"tr": "train", "te": "test"}}
    result = get_adapter("pattern").read(tmp_path, options)
    assert sorted((r.label, r.subject, r.split) for r in result.records) == [
        ("happy", "P03", "train"), ("sad", "P04", "test")]


def test_pattern_without_a_label_group_is_a_config_error(tmp_path):
    with pytest.raises(ValueError, match="no \\(\\?P<label>"):
        get_adapter("pattern").read(tmp_path, {"regex": r"(?P<subject>P\d+)"})
