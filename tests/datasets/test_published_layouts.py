"""Formats with no real excerpt: fixtures written in the exact layout their owners publish."""

from __future__ import annotations

import numpy as np
import pytest
from dataset_helpers import label_frame, reasons, write_image

from ferbench.datasets import get_adapter
from ferbench.datasets.affectnet import COLUMNS
from ferbench.splits import make_split


def _pixels(seed: int) -> str:
    return " ".join(map(str, np.random.default_rng(seed).integers(0, 256, 48 * 48)))


def test_icml_face_data_csv_with_its_own_header_spacing_and_column_order(tmp_path):
    # the later Kaggle re-export: "emotion, Usage, pixels" (spaces after commas, pixels last)
    rows = [(3, "Training"), (6, "PublicTest"), (0, "PrivateTest")]
    text = "emotion, Usage, pixels\n" + "".join(f"{e},{u},{_pixels(k)}\n" for k, (e, u) in enumerate(rows))
    (tmp_path / "icml_face_data.csv").write_text(text)
    result = get_adapter("fer2013").read(tmp_path, {"file": "icml_face_data.csv"})
    assert [(r.image_id, r.label, r.split) for r in result.records] == [
        ("fer0000000", "happy", "train"), ("fer0000001", "neutral", "val"), ("fer0000002", "angry", "test")]
    expected = np.array(_pixels(1).split(), dtype=np.uint8).reshape(48, 48)
    assert np.array_equal(result.records[1].load()[..., 0], expected)


def _landmarks(x0: float) -> str:
    pts = [(x0 + 2 * i, 50 + (i % 7)) for i in range(68)]
    return ";".join(f"{x:.2f};{y:.2f}" for x, y in pts)


def _affectnet_row(rel: str, code: int) -> str:
    return f"{rel},10,12,80,90,{_landmarks(20)},{code},0.5,-0.25"


@pytest.fixture
def affectnet_raw(tmp_path):
    raw = tmp_path / "affectnet"
    lists = raw / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True)
    train = [("1/a.jpg", 1), ("1/b.jpg", 7), ("2/c.jpg", 8), ("2/d.jpg", 10), ("3/e.jpg", 6), ("3/f.jpg", 0)]
    val = [("4/g.jpg", 2), ("4/h.jpg", 9), ("5/i.jpg", 7)]
    (lists / "training.csv").write_text(",".join(COLUMNS) + "\n" + "\n".join(_affectnet_row(*r) for r in train) + "\n")
    # the validation list ships without a header row
    (lists / "validation.csv").write_text("\n".join(_affectnet_row(*r) for r in val) + "\n")
    for k, (rel, _) in enumerate(train + val):
        if rel != "3/f.jpg":  # one listed image is absent
            write_image(raw / "Manually_Annotated_Images" / rel, seed=k, size=(120, 120))
    return raw


def test_affectnet8_codes_boxes_landmarks_and_official_test(affectnet_raw):
    result = get_adapter("affectnet").read(affectnet_raw, {"n_classes": 8})
    assert result.n_source_rows == 9
    kept = {r.image_id: (r.label, r.split) for r in result.records}
    assert kept == {"1/a": ("happy", "train"), "1/b": ("contempt", "train"), "3/e": ("angry", "train"),
                    "4/g": ("sad", "test"), "5/i": ("contempt", "test")}
    assert {(e.image_id, e.reason) for e in result.excluded} == {
        ("2/c", "not_an_expression"), ("2/d", "not_an_expression"), ("4/h", "not_an_expression"),
        ("3/f", "missing_file")}
    rec = result.records[0]
    assert rec.box == (10.0, 12.0, 90.0, 102.0)
    # eye centres are the means of points 36-41 and 42-47; nose tip 30; mouth corners 48 and 54
    assert rec.landmarks[0] == pytest.approx((20 + 2 * 38.5, 50 + np.mean([(i % 7) for i in range(36, 42)])))
    assert rec.landmarks[2] == (80.0, 52.0)
    assert rec.landmarks[3][0] == 116.0 and rec.landmarks[4][0] == 128.0


def test_affectnet7_excludes_contempt_as_outside_its_vocabulary(affectnet_raw):
    result = get_adapter("affectnet").read(affectnet_raw, {"n_classes": 7})
    assert len(result.classes) == 7 and "contempt" not in result.classes
    assert reasons(result) == {"not_an_expression": 3, "missing_file": 1, "label_not_in_vocabulary": 2}
    assert len(result.records) == 3


def _ck_sequence(raw, subject, seq, n_frames, code, seed):
    for f in range(1, n_frames + 1):
        write_image(raw / "cohn-kanade-images" / subject / seq / f"{subject}_{seq}_{f:08d}.png", seed=seed + f)
    if code is not None:
        emo = raw / "Emotion" / subject / seq / f"{subject}_{seq}_{n_frames:08d}_emotion.txt"
        emo.parent.mkdir(parents=True, exist_ok=True)
        emo.write_text(f"   {code:.7e}\n")  # the owners' float format, e.g. "   3.0000000e+00"


@pytest.fixture
def ckplus_original(tmp_path):
    raw = tmp_path / "ckplus"
    _ck_sequence(raw, "S005", "001", 6, 3, 0)  # disgust
    _ck_sequence(raw, "S005", "002", 5, None, 10)  # unlabelled sequence: not a source row
    _ck_sequence(raw, "S010", "004", 7, 5, 20)  # happy
    _ck_sequence(raw, "S011", "001", 2, 7, 30)  # surprise, shorter than last_frames
    emo = raw / "Emotion" / "S012" / "003" / "S012_003_00000009_emotion.txt"  # labelled, frames absent
    emo.parent.mkdir(parents=True)
    emo.write_text("   1.0000000e+00\n")
    return raw


def test_ckplus_original_last_frames_subjects_and_neutral_first_frame(ckplus_original):
    result = get_adapter("ckplus").read(ckplus_original, {"last_frames": 3})
    ids = [r.image_id for r in result.records]
    assert ids == ["S005_001_00000004", "S005_001_00000005", "S005_001_00000006",
                   "S010_004_00000005", "S010_004_00000006", "S010_004_00000007",
                   "S011_001_00000001", "S011_001_00000002"]
    assert {r.subject for r in result.records} == {"S005", "S010", "S011"}
    assert [r.label for r in result.records][::3] == ["disgust", "happy", "surprise"]
    # every frame on disk is a source row: the unselected ones and the unlabelled sequence's are recorded
    assert reasons(result) == {"frame_not_selected": 3 + 4, "unlabelled_sequence": 5, "missing_file": 1}
    assert [e.image_id for e in result.excluded if e.reason == "missing_file"] == ["S012_003"]
    assert result.n_source_rows == 6 + 5 + 7 + 2 + 1
    assert "neutral" not in result.classes

    with_neutral = get_adapter("ckplus").read(ckplus_original, {"last_frames": 3, "neutral_first_frame": True})
    neutral = [r.image_id for r in with_neutral.records if r.label == "neutral"]
    assert neutral == ["S005_001_00000001", "S010_004_00000001"]  # S011_001 has no frame to spare
    assert with_neutral.classes[0] == "neutral"
    assert all(r.subject for r in with_neutral.records)


@pytest.fixture
def lfw_raw(tmp_path):
    raw = tmp_path / "lfw"
    people = {"train": [("positive", "George_W_Bush_0010"), ("negative", "George_W_Bush_0011"),
                        ("neutral", "Aaron_Eckhart_0001"), ("positive", "Serena_Williams_0003")],
              "eval": [("neutral", "Colin_Powell_0004"), ("negative", "Tony_Blair_0012")]}
    for variant in ("LFW-FER", "M-LFW-FER"):
        for split, items in people.items():
            for k, (cls, stem) in enumerate(items):
                write_image(raw / variant / split / cls / f"{stem}.jpg", seed=k, size=(250, 250))
    return raw


@pytest.mark.parametrize("variant", ["LFW-FER", "M-LFW-FER"])
def test_lfw_fer_layout_classes_splits_and_identities(lfw_raw, variant):
    result = get_adapter("lfw_fer").read(lfw_raw, {"variant": variant})
    assert result.classes == ("negative", "neutral", "positive")
    table = label_frame(result)
    assert table.groupby("split").size().to_dict() == {"train": 4, "test": 2}
    assert set(table["subject"]) == {"George_W_Bush", "Aaron_Eckhart", "Serena_Williams", "Colin_Powell", "Tony_Blair"}
    assert all(i.startswith(f"{variant}/") for i in table["image_id"])


def test_lfw_fer_official_protocol_keeps_eval_as_test(lfw_raw):
    table = label_frame(get_adapter("lfw_fer").read(lfw_raw, {}))
    parts = make_split(table, "official", 0, 1, val_size=0.25)["part"].astype(str)
    assert (parts[table["split"] == "test"] == "test").all()
    assert set(parts[table["split"] == "train"]) == {"train", "val"}


def test_rafdb_original_images_carry_the_manual_landmarks(tmp_path):
    (tmp_path / "EmoLabel").mkdir()
    (tmp_path / "EmoLabel" / "list_patition_label.txt").write_text("train_00001.jpg 4\ntest_0001.jpg 3")
    for k, name in enumerate(("train_00001", "test_0001")):
        write_image(tmp_path / "Image" / "original" / f"{name}.jpg", seed=k, size=(300, 200))
    manual = tmp_path / "Annotation" / "manual" / "train_00001_manu_attri.txt"
    manual.parent.mkdir(parents=True)
    # five "x\ty" landmark lines, then gender, race, age lines
    manual.write_text("120.5\t90.25\n180.0\t91.0\n150.0\t120.0\n125.0\t150.0\n175.0\t151.0\n0\n2\n1\n")
    result = get_adapter("rafdb").read(tmp_path, {"images": "original"})
    a, b = result.records
    assert (a.label, a.split, a.aligned) == ("happy", "train", False)
    assert a.landmarks == ((120.5, 90.25), (180.0, 91.0), (150.0, 120.0), (125.0, 150.0), (175.0, 151.0))
    assert (b.label, b.split, b.landmarks) == ("disgust", "test", None)
    assert a.load().shape == (200, 300, 3)


def test_ferplus_joined_to_the_rendered_pngs(tmp_path):
    header = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
    (tmp_path / "fer2013new.csv").write_text(header + "Training,fer0000000.png,0,8,2,0,0,0,0,0,0,0\n"
                                             "PublicTest,fer0000001.png,0,0,0,0,0,0,0,7,3,0\n"
                                             "PrivateTest,fer0000002.png,10,0,0,0,0,0,0,0,0,0\n")
    write_image(tmp_path / "FER2013Train" / "fer0000000.png")
    write_image(tmp_path / "FER2013Valid" / "fer0000001.png", seed=1)
    result = get_adapter("ferplus").read(tmp_path, {"pixels": "png", "mode": "majority"})
    assert [(r.image_id, r.label, r.split) for r in result.records] == [
        ("fer0000000", "happy", "train"), ("fer0000001", "contempt", "val")]
    assert [(e.image_id, e.reason) for e in result.excluded] == [("fer0000002", "missing_file")]
