"""Adapters on the real excerpts in ../shared/data (read in place, never copied into the repo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dataset_helpers import label_frame, reasons, write_image

from ferbench.datasets import get_adapter
from ferbench.splits import make_split


def _no_subject_in_two_parts(table, manifest) -> None:
    parts = manifest["part"].astype(str).to_numpy()
    subjects = {p: set(table["subject"][parts == p]) for p in ("train", "val", "test")}
    assert all(subjects.values())
    assert not subjects["train"] & subjects["val"]
    assert not subjects["train"] & subjects["test"]
    assert not subjects["val"] & subjects["test"]


def test_ckplus48_grouped_protocol_never_shares_a_subject(shared_data):
    result = get_adapter("ckplus").read(shared_data / "ckplus48", {"layout": "ck48"})
    assert (len(result.records), len(result.excluded)) == (981, 0)
    assert result.classes == ("angry", "contempt", "disgust", "fear", "happy", "sad", "surprise")
    table = label_frame(result)
    assert table["subject"].notna().all() and table["subject"].nunique() == 118
    assert table["label_name"].value_counts().to_dict() == {
        "surprise": 249, "happy": 207, "disgust": 177, "angry": 135, "sad": 84, "fear": 75, "contempt": 54}
    n_iter = 10
    tests = []
    for i in range(n_iter):
        manifest = make_split(table, "grouped", i, n_iter)
        _no_subject_in_two_parts(table, manifest)
        tests.append(frozenset(manifest["image_id"][manifest["part"] == "test"]))
    assert len(set(tests)) == n_iter  # every iteration draws other test subjects


def test_ckplus48_kfold_tests_every_subject_exactly_once(shared_data):
    table = label_frame(get_adapter("ckplus").read(shared_data / "ckplus48", {"layout": "ck48"}))
    seen = []
    for i in range(5):
        manifest = make_split(table, "kfold", i, 5)
        _no_subject_in_two_parts(table, manifest)
        seen.extend(table["image_id"][manifest["part"].to_numpy() == "test"])
    assert sorted(seen) == sorted(table["image_id"])


def test_fer2013_excerpt_gives_48x48_faces_and_official_usage(shared_data):
    result = get_adapter("fer2013").read(shared_data / "fer2013", {"file": "fer2013_first1167rows.csv"})
    assert (len(result.records), len(result.excluded), result.n_source_rows) == (1167, 0, 1167)
    first = result.records[0]
    assert (first.image_id, first.label, first.split) == ("fer0000000", "angry", "train")
    img = first.load()
    assert img.shape == (48, 48, 3) and img.dtype == np.uint8
    # the first pixels of the real row are "70 80 82"
    assert img[0, :3, 0].tolist() == [70, 80, 82]


@pytest.fixture(scope="module")
def ferplus_raw(shared_data, tmp_path_factory) -> Path:
    """The real vote file beside the real FER2013 excerpt, linked (not copied) into one raw folder."""
    raw = tmp_path_factory.mktemp("ferplus_raw")
    (raw / "fer2013new.csv").symlink_to(shared_data / "ferplus" / "fer2013new.csv")
    (raw / "fer2013.csv").symlink_to(shared_data / "fer2013" / "fer2013_first1167rows.csv")
    return raw


def _first_rows(result, n=1167):
    """Exclusions among the first ``n`` vote rows (the ones the excerpt has pixels for)."""
    return [e for e in result.excluded if int(e.source.rsplit(":", 1)[1]) - 2 < n]


@pytest.mark.parametrize("mode, kept, first_rows_reasons", [
    ("majority", 884, {"empty_image_name": 7, "no_majority_vote": 276}),
    ("plurality", 1110, {"empty_image_name": 7, "tied_votes": 50}),
    ("soft", 1160, {"empty_image_name": 7}),
])
def test_ferplus_real_votes_joined_to_real_pixels(ferplus_raw, mode, kept, first_rows_reasons):
    result = get_adapter("ferplus").read(ferplus_raw, {"mode": mode})
    assert result.n_source_rows == 35887
    assert len(result.records) == kept
    first = _first_rows(result)
    assert {r: sum(e.reason == r for e in first) for r in first_rows_reasons} == first_rows_reasons
    assert len(first) + kept == 1167
    # every vote row past the excerpt is accounted for, by its own reason
    counts = reasons(result)
    assert counts["no_pixel_row"] == 35887 - 1167 - (173 - 7)
    assert counts["empty_image_name"] == 173
    assert result.classes[-1] == "contempt" and len(result.classes) == 8
    rec = result.records[0]
    # fer0000000 has votes neutral 4, sadness 1, anger 3, disgust 2: a plurality, but no majority
    assert rec.image_id == ("fer0000001" if mode == "majority" else "fer0000000")
    assert rec.label == "neutral" and rec.load().shape == (48, 48, 3)
    if mode == "soft":
        assert rec.soft_label == pytest.approx((0.4, 0, 0, 0.1, 0.3, 0.2, 0, 0))
    else:
        assert rec.soft_label is None


def test_ferplus_and_fer2013_are_the_same_images(ferplus_raw, shared_data):
    fer = get_adapter("fer2013").read(shared_data / "fer2013", {"file": "fer2013_first1167rows.csv"})
    plus = get_adapter("ferplus").read(ferplus_raw, {"mode": "soft"})
    by_id = {r.image_id: r for r in fer.records}
    for rec in plus.records[:20]:
        assert np.array_equal(rec.load(), by_id[rec.image_id].load())


def test_rafdb_real_label_file_with_stand_in_images(shared_data, tmp_path):
    raw = tmp_path / "rafdb"
    (raw / "EmoLabel").mkdir(parents=True)
    (raw / "EmoLabel" / "list_patition_label.txt").symlink_to(shared_data / "rafdb" / "EmoLabel" / "list_patition_label.txt")
    lines = (shared_data / "rafdb" / "EmoLabel" / "list_patition_label.txt").read_text().splitlines()
    assert len(lines) == 15339 and not lines[-1].endswith("\n")
    present = [ln.split()[0] for ln in lines[:40] + lines[-40:]]  # 40 train and 40 test images
    for k, name in enumerate(present):
        write_image(raw / "Image" / "aligned" / f"{Path(name).stem}_aligned.jpg", seed=k, size=(100, 100))
    result = get_adapter("rafdb").read(raw, {"images": "aligned"})
    assert len(result.records) == 80
    assert reasons(result) == {"missing_file": 15339 - 80}
    first, last = result.records[0], result.records[-1]
    # train_00001.jpg 5 -> Sadness; test_3068.jpg 7 -> Neutral (the last line, which has no newline)
    assert (first.image_id, first.label, first.split, first.aligned) == ("train_00001", "sad", "train", True)
    assert (last.image_id, last.label, last.split) == ("test_3068", "neutral", "test")
    assert last.load().shape == (100, 100, 3)
    assert result.classes == ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral")


def test_sfew_train_folders(shared_data):
    result = get_adapter("sfew").read(shared_data / "sfew2", {"splits": {"test": None}})
    assert (len(result.records), len(result.excluded)) == (860, 0)
    counts = label_frame(result)["label_name"].value_counts().to_dict()
    assert counts == {"happy": 179, "angry": 170, "sad": 151, "neutral": 141, "surprise": 93, "fear": 76, "disgust": 50}
    rec = result.records[0]
    assert rec.split == "train" and rec.aligned
    assert rec.load().shape == (181, 143, 3)


def test_expw_real_label_list_with_its_image_subset(shared_data):
    raw = shared_data / "expw"
    result = get_adapter("expw").read(raw, {"label_file": "label.lst", "images_dir": "Images"})
    assert result.n_source_rows == 5705
    assert len(result.records) == 158
    assert reasons(result) == {"missing_file": 5705 - 158}
    images = {r.source.split(":")[0] for r in result.records}
    assert images == {"label.lst"}
    assert len({r.image_id.rsplit("_", 1)[0] for r in result.records}) == 140  # every present image has faces
    # line "angry_African_144.jpg 0 16 8 108 116 ..." in a 107x160 image: right edge clamped to 107
    rec = next(r for r in result.records if r.image_id == "angry_African_144_0")
    assert rec.box == (8.0, 16.0, 107.0, 116.0)
    for r in result.records:
        left, top, right, bottom = r.box
        h, w = r.load().shape[:2]
        assert 0 <= left < right <= w and 0 <= top < bottom <= h


def test_expw_margin_widens_boxes_within_the_image(shared_data):
    raw = shared_data / "expw"
    plain = get_adapter("expw").read(raw, {"label_file": "label.lst", "images_dir": "Images"})
    wide = get_adapter("expw").read(raw, {"label_file": "label.lst", "images_dir": "Images", "margin": 0.2})
    grew = 0
    for a, b in zip(plain.records, wide.records):
        assert b.box[0] <= a.box[0] and b.box[1] <= a.box[1] and b.box[2] >= a.box[2] and b.box[3] >= a.box[3]
        grew += b.box != a.box
    assert grew == len(plain.records)
