"""The bad-input matrix: every exclusion reason produced and recorded, every malformed file named.

Each case writes a tiny raw folder in a dataset's published layout with one defect per row, reads it
with the adapter, and checks that exactly those rows are excluded, each with its reason.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from dataset_helpers import face, write_image
from PIL import Image

from ferbench import images
from ferbench.datasets import MalformedLabelFile, get_adapter

GOOD_PIXELS = " ".join(["7", "200"] * (48 * 24))
VOTE_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"


def _rafdb(raw):
    for name in ("train_00001", "train_00002", "test_0001"):
        write_image(raw / "Image" / "aligned" / f"{name}_aligned.jpg")
    (raw / "EmoLabel").mkdir()
    (raw / "EmoLabel" / "list_patition_label.txt").write_text(
        "train_00001.jpg 5\ntrain_00002.jpg 8\ntest_0001.jpg 1\ntest_0002.jpg 2\ntrain_00001.jpg 4")


def _fer2013(raw):
    rows = [f"0,{GOOD_PIXELS},Training", f"7,{GOOD_PIXELS},Training", "1,1 2 3,PublicTest",
            f"2,{GOOD_PIXELS[:-3]}999,PrivateTest", f"3,{GOOD_PIXELS[:-3]}x,PrivateTest"]
    (raw / "fer2013.csv").write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")


def _ferplus(raw):
    rows = [f"{k},{GOOD_PIXELS},Training" for k in range(6)] + ["0,1 2,Training"]
    (raw / "fer2013.csv").write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    votes = ["Training,fer0000000.png,6,2,0,0,0,0,0,0,2,0",  # kept: majority neutral
             "Training,,0,0,0,0,0,0,0,0,0,10",  # no name: not a face
             "Training,fer0000002.png,1,1,0,0,0,0,0,0,4,4",  # mostly unknown / NF
             "Training,fer0000003.png,4,3,0,0,0,0,0,0,3,0",  # plurality 4 of 10: no majority
             "Training,fer0000004.png,0,0,0,0,0,0,0,0,0,0",  # no votes at all
             "Training,fer0000005.png,3,3,2,0,0,0,0,2,0,0",  # two emotions tie at 3 of 10
             "Training,fer0000006.png,9,1,0,0,0,0,0,0,0,0",  # pixel string of 2 values
             "Training,fer0000007.png,9,1,0,0,0,0,0,0,0,0"]  # beyond the pixel file
    (raw / "fer2013new.csv").write_text(VOTE_HEADER + "\n".join(votes) + "\n")


def _expw(raw):
    write_image(raw / "image" / "origin" / "a.jpg", size=(100, 80))
    (raw / "image" / "origin" / "broken.jpg").write_bytes(b"not a jpeg")
    (raw / "label").mkdir()
    (raw / "label" / "label.lst").write_text(
        "a.jpg 0 10 10 50 50 90.1 3\n"
        "a.jpg 1 -5 -5 120 90 80.0 4\n"  # larger than the image: clamped, kept
        "a.jpg 2 85 105 130 120 70.0 1\n"  # wholly outside the 100x80 image
        "a.jpg 3 10 10 50 50 60.0 7\n"  # label outside 0..6
        "missing.jpg 0 1 1 20 20 50.0 2\n"
        "broken.jpg 0 1 1 20 20 50.0 2\n"
        "a.jpg 0 12 12 48 48 40.0 3\n")  # the same face id again


def _csv(raw):
    write_image(raw / "img" / "x.png")
    write_image(raw / "img" / "y.png", seed=1)
    (raw / "labels.csv").write_text(
        "path,label\nimg/x.png,happy\n,sad\nimg/y.png,bored\nimg/z.png,sad\nimg/x.png,happy\n")


def _folder(raw):
    write_image(raw / "happy" / "a.png")
    write_image(raw / "sad" / "b.png", seed=1)
    write_image(raw / "bored" / "c.png", seed=2)
    (raw / "happy" / "notes.txt").write_text("not an image")


def _pattern(raw):
    write_image(raw / "S01_happy_1.png")
    write_image(raw / "S02_bored_1.png", seed=1)
    write_image(raw / "snapshot.png", seed=2)


CASES = {
    "rafdb": (_rafdb, "rafdb", {}, {
        "train_00002": "label_not_in_vocabulary", "test_0002": "missing_file", "train_00001": "duplicate_image_id"}),
    "fer2013": (_fer2013, "fer2013", {}, {
        "fer0000001": "label_not_in_vocabulary", "fer0000002": "wrong_pixel_count",
        "fer0000003": "wrong_pixel_count", "fer0000004": "wrong_pixel_count"}),
    "ferplus": (_ferplus, "ferplus", {"mode": "majority"}, {
        "fer0000001": "empty_image_name", "fer0000002": "votes_mostly_unknown_or_nf",
        "fer0000003": "no_majority_vote", "fer0000004": "votes_mostly_unknown_or_nf",
        "fer0000005": "no_majority_vote", "fer0000006": "wrong_pixel_count", "fer0000007": "no_pixel_row"}),
    "ferplus_plurality": (_ferplus, "ferplus", {"mode": "plurality"}, {
        "fer0000001": "empty_image_name", "fer0000002": "votes_mostly_unknown_or_nf",
        "fer0000004": "votes_mostly_unknown_or_nf", "fer0000005": "tied_votes",
        "fer0000006": "wrong_pixel_count", "fer0000007": "no_pixel_row"}),
    "expw": (_expw, "expw", {}, {
        "a_2": "box_outside_image", "a_3": "label_not_in_vocabulary", "missing_0": "missing_file",
        "broken_0": "unreadable_image", "a_0": "duplicate_image_id"}),
    "csv": (_csv, "csv", {"classes": ["happy", "sad"]}, {
        "labels.csv:3": "empty_image_name", "img/y": "label_not_in_vocabulary", "img/z": "missing_file",
        "img/x": "duplicate_image_id"}),
    "folder": (_folder, "folder", {"classes": ["happy", "sad"]}, {
        "bored/c": "label_not_in_vocabulary", "happy/notes": "not_an_image_file"}),
    "pattern": (_pattern, "pattern", {"regex": r"^(?P<subject>S\d+)_(?P<label>[a-z]+)_", "classes": ["happy"]}, {
        "S02_bored_1": "label_not_in_vocabulary", "snapshot": "name_does_not_match_pattern"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_defective_row_is_excluded_with_its_reason(tmp_path, case):
    build, fmt, options, expected = CASES[case]
    build(tmp_path)
    result = get_adapter(fmt).read(tmp_path, options)
    got = {e.image_id: e.reason for e in result.excluded}
    assert got == expected
    assert all(e.source and e.detail for e in result.excluded)
    assert len(result.records) + len(result.excluded) == result.n_source_rows
    for rec in result.records:  # what is kept decodes
        assert rec.load().ndim == 3


def test_expw_box_larger_than_the_image_is_clamped(tmp_path):
    _expw(tmp_path)
    result = get_adapter("expw").read(tmp_path, {})
    boxes = {r.image_id: r.box for r in result.records}
    assert boxes == {"a_0": (10.0, 10.0, 50.0, 50.0), "a_1": (0.0, 0.0, 100.0, 80.0)}


MALFORMED = {
    "rafdb three fields": ("rafdb", "EmoLabel/list_patition_label.txt", "train_00001.jpg 5\ntrain_00002.jpg 5 1\n", 2),
    "rafdb label not a number": ("rafdb", "EmoLabel/list_patition_label.txt", "train_00001.jpg five\n", 1),
    "rafdb unknown split prefix": ("rafdb", "EmoLabel/list_patition_label.txt", "val_0001.jpg 5\n", 1),
    "fer2013 field count": ("fer2013", "fer2013.csv", f"emotion,pixels,Usage\n0,{GOOD_PIXELS},Training\n0,1 2,Training,x\n", 3),
    "fer2013 missing column": ("fer2013", "fer2013.csv", "emotion,Usage\n0,Training\n", 1),
    "fer2013 unknown usage": ("fer2013", "fer2013.csv", f"emotion,pixels,Usage\n0,{GOOD_PIXELS},Testing\n", 2),
    "fer2013 emotion not a number": ("fer2013", "fer2013.csv", f"emotion,pixels,Usage\nx,{GOOD_PIXELS},Training\n", 2),
    "expw seven fields": ("expw", "label/label.lst", "a.jpg 0 1 1 20 20 3\n", 1),
    "expw empty box": ("expw", "label/label.lst", "a.jpg 0 20 20 10 30 5.0 3\n", 1),
    "ckplus two codes": ("ckplus", "Emotion/S005/001/S005_001_00000002_emotion.txt", "3.0 4.0\n", 1),
    "ckplus fractional code": ("ckplus", "Emotion/S005/001/S005_001_00000002_emotion.txt", "3.5\n", 1),
    "csv field count": ("csv", "labels.csv", "path,label\na.png,happy,extra\n", 2),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_label_file_is_an_error_naming_file_and_line(tmp_path, case):
    fmt, rel, text, line = MALFORMED[case]
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    with pytest.raises(MalformedLabelFile) as err:
        get_adapter(fmt).read(tmp_path, {})
    assert err.value.path == path and err.value.line == line
    assert f"{path}:{line}" in str(err.value)


def test_ferplus_joined_to_a_differently_ordered_pixel_file_is_an_error(tmp_path):
    (tmp_path / "fer2013.csv").write_text(f"emotion,pixels,Usage\n0,{GOOD_PIXELS},PrivateTest\n")
    (tmp_path / "fer2013new.csv").write_text(VOTE_HEADER + "Training,fer0000000.png,9,1,0,0,0,0,0,0,0,0\n")
    with pytest.raises(MalformedLabelFile, match="not in the same row order"):
        get_adapter("ferplus").read(tmp_path, {})


# --- image-level reasons: decoded when aligned, recorded by the align stage -------------------------


def _save(path, img: Image.Image, **kw):
    img.save(path, **kw)
    return path


def _rejected(path) -> str:
    with pytest.raises(images.ImageRejected) as err:
        images.load_rgb(path)
    return err.value.reason


def test_missing_unreadable_truncated_and_blank_images_are_rejected_with_reasons(tmp_path):
    assert _rejected(tmp_path / "absent.png") == "missing_file"
    (tmp_path / "text.jpg").write_text("hello")
    assert _rejected(tmp_path / "text.jpg") == "unreadable_image"
    (tmp_path / "empty.png").write_bytes(b"")
    assert _rejected(tmp_path / "empty.png") == "unreadable_image"
    for fmt in ("JPEG", "PNG"):
        buf = io.BytesIO()
        Image.fromarray(face(0, (64, 64))).save(buf, format=fmt)
        cut = tmp_path / f"cut.{fmt.lower()}"
        cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        assert _rejected(cut) == "truncated_image", fmt
    _save(tmp_path / "black.png", Image.new("RGB", (64, 64)))
    assert _rejected(tmp_path / "black.png") == "blank_image"
    _save(tmp_path / "grey.png", Image.new("L", (64, 64), 128))
    assert _rejected(tmp_path / "grey.png") == "blank_image"


def test_a_blank_fer2013_row_is_rejected_when_loaded(tmp_path):
    zeros = " ".join(["0"] * 2304)
    (tmp_path / "fer2013.csv").write_text(f"emotion,pixels,Usage\n0,{zeros},Training\n")
    (rec,) = get_adapter("fer2013").read(tmp_path, {}).records
    with pytest.raises(images.ImageRejected, match="blank_image"):
        rec.load()


def _odd_images(tmp_path):
    rgb = Image.fromarray(face(1, (40, 30)))
    gray16 = Image.fromarray((np.arange(30 * 40).reshape(30, 40) * 50).astype(np.uint16))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    return {
        "gray.png": _save(tmp_path / "gray.png", rgb.convert("L")),
        "palette.png": _save(tmp_path / "palette.png", rgb.convert("P")),
        "rgba.png": _save(tmp_path / "rgba.png", rgb.convert("RGBA")),
        "la.png": _save(tmp_path / "la.png", rgb.convert("LA")),
        "gray16.png": _save(tmp_path / "gray16.png", gray16),
        "cmyk.jpg": _save(tmp_path / "cmyk.jpg", rgb.convert("CMYK")),
        "bilevel.png": _save(tmp_path / "bilevel.png", rgb.convert("1")),
        "exif.jpg": _save(tmp_path / "exif.jpg", rgb, exif=exif),
    }


def test_readable_but_odd_images_are_converted_and_kept(tmp_path):
    files = _odd_images(tmp_path)
    for name, path in files.items():
        arr = images.load_rgb(path)
        assert arr.dtype == np.uint8 and arr.shape[2] == 3, name
        expected = (40, 30) if name == "exif.jpg" else (30, 40)  # EXIF orientation 6 turns it upright
        assert arr.shape[:2] == expected, name
        assert images.image_size(path) == (expected[1], expected[0]), name
    gray16 = images.load_rgb(files["gray16.png"])
    assert gray16.max() == 255 and gray16.min() == 0  # 16-bit range rescaled, not clipped


def test_pixel_strings_of_the_wrong_length_or_range_are_rejected():
    assert images.parse_pixels(GOOD_PIXELS, 48).shape == (48, 48)
    for bad in ("1 2 3", GOOD_PIXELS + " 4", GOOD_PIXELS[:-3] + "256", GOOD_PIXELS[:-3] + "-1", ""):
        with pytest.raises(images.ImageRejected, match="wrong_pixel_count"):
            images.parse_pixels(bad, 48)
