"""Hostile or careless raw folders: paths that leave the dataset, unknown codes, aliased paths, bad
quoting, files that nobody reads. Every case is a real file tree built in the test."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import pytest
from dataset_helpers import reasons, write_image
from PIL import Image

from ferbench.datasets import MalformedLabelFile, SourceRecord, UnknownOption, get_adapter, with_defaults
from ferbench.datasets.affectnet import COLUMNS
from ferbench.datasets.common import Ledger, read_fields
from ferbench.datasets.fer2013 import SIDE

# --- every file the process opens, while a test listens (audit hooks cannot be removed, only muted) ---
_OPENED: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.path.realpath(os.fsdecode(args[0])))


sys.addaudithook(_audit)


@pytest.fixture
def opened():
    global _OPENED
    _OPENED = []
    yield _OPENED
    _OPENED = None


VOTE_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"


@pytest.fixture
def outside(tmp_path) -> Path:
    """A real face and a folder beside the raw folder: reachable by ``..``, absolute paths and links."""
    out = tmp_path / "outside"
    write_image(out / "face.png", seed=7)
    write_image(out / "S099_001_00000001.png", seed=8)
    return out


def _link(path: Path, target: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


# Each builder writes one good row and hostile ones into ``raw``; returns (format, options, hostile ids).
def _csv(raw, out):
    write_image(raw / "img" / "ok.png")
    _link(raw / "img" / "link.png", out / "face.png")
    _link(raw / "linkdir", out)
    rows = ["img/ok.png", str(out / "face.png"), "../outside/face.png", "../../../../../../etc/passwd",
            "img/link.png", "linkdir/face.png"]
    (raw / "labels.csv").write_text("path,label\n" + "".join(f"{r},happy\n" for r in rows))
    return "csv", {}, {str(out / "face"), "../outside/face", "../../../../../../etc/passwd", "img/link",
                       "linkdir/face"}


def _pattern(raw, out):
    write_image(raw / "S1_happy_1.png")
    _link(raw / "S2_happy_1.png", out / "face.png")
    _link(raw / "S3_happy_linkdir", out)
    return "pattern", {"regex": r"^(?P<subject>S\d+)_(?P<label>[a-z]+)_"}, {"S2_happy_1", "S3_happy_linkdir"}


def _folder(raw, out):
    write_image(raw / "happy" / "a.png")
    _link(raw / "happy" / "evil.png", out / "face.png")
    _link(raw / "sad", out)  # a whole class folder that is a link to elsewhere
    return "folder", {}, {"happy/evil", "sad"}


def _sfew(raw, out):
    write_image(raw / "Train" / "Happy" / "a.png")
    _link(raw / "Train" / "Happy" / "evil.png", out / "face.png")
    return "sfew", {"splits": {"test": None}}, {"Train/Happy/evil"}


def _expw(raw, out):
    write_image(raw / "image" / "origin" / "a.jpg", size=(80, 80))
    (raw / "label").mkdir()
    (raw / "label" / "label.lst").write_text("a.jpg 0 10 10 50 50 90.0 3\n"
                                             "../../../outside/face.png 0 1 1 20 20 80.0 3\n"
                                             f"{out / 'face.png'} 0 1 1 20 20 80.0 3\n")
    return "expw", {}, {"../../../outside/face_0", f"{out / 'face'}_0"}


def _affectnet(raw, out):
    write_image(raw / "Manually_Annotated_Images" / "1" / "a.jpg", size=(120, 120))
    lists = raw / "Manually_Annotated_file_lists"
    lists.mkdir()
    row = ",10,12,80,90,,3,0.5,-0.25\n"
    (lists / "training.csv").write_text(",".join(COLUMNS) + "\n1/a.jpg" + row
                                        + "../../outside/face.png" + row)
    (lists / "validation.csv").write_text("1/../../../../etc/passwd" + row)
    return "affectnet", {}, {"../../outside/face", "1/../../../../etc/passwd"}  # outside: the id as given


def _ferplus_png(raw, out):
    write_image(raw / "FER2013Train" / "fer0000000.png")
    votes = "0,8,2,0,0,0,0,0,0,0\n"
    (raw / "fer2013new.csv").write_text(VOTE_HEADER + "Training,fer0000000.png," + votes
                                        + "Training,../../outside/face.png," + votes)
    return "ferplus", {"pixels": "png"}, {"../../outside/face"}


def _rafdb_original(raw, out):
    write_image(raw / "Image" / "original" / "train_00001.jpg")
    _link(raw / "Image" / "original" / "test_0001.jpg", out / "face.png")
    (raw / "EmoLabel").mkdir()
    (raw / "EmoLabel" / "list_patition_label.txt").write_text(
        "train_00001.jpg 4\ntrain_/../../../../outside/face.png 4\ntest_0001.jpg 4\n")
    return "rafdb", {"images": "original"}, {"face", "test_0001"}


def _rafdb_aligned(raw, out):
    write_image(raw / "Image" / "aligned" / "train_00001_aligned.jpg")
    _link(raw / "Image" / "aligned" / "train_00002_aligned.jpg", out / "face.png")
    (raw / "EmoLabel").mkdir()
    (raw / "EmoLabel" / "list_patition_label.txt").write_text("train_00001.jpg 4\ntrain_00002.jpg 4\n")
    return "rafdb", {}, {"train_00002"}


def _ckplus(raw, out):
    frames = raw / "cohn-kanade-images" / "S005" / "001"
    write_image(frames / "S005_001_00000001.png")
    _link(frames / "S005_001_00000002.png", out / "face.png")
    (raw / "Emotion" / "S005" / "001").mkdir(parents=True)
    (raw / "Emotion" / "S005" / "001" / "S005_001_00000002_emotion.txt").write_text("   5.0000000e+00\n")
    return "ckplus", {"last_frames": 2}, {"S005_001_00000002"}


def _ck48(raw, out):
    write_image(raw / "CK+48" / "happy" / "S005_001_00000001.png")
    _link(raw / "CK+48" / "happy" / "S099_001_00000001.png", out / "S099_001_00000001.png")
    return "ckplus", {"layout": "ck48"}, {"S099_001_00000001"}


OUTSIDE_CASES = {f.__name__.strip("_"): f for f in (
    _csv, _pattern, _folder, _sfew, _expw, _affectnet, _ferplus_png, _rafdb_original, _rafdb_aligned, _ckplus,
    _ck48)}


@pytest.mark.parametrize("case", sorted(OUTSIDE_CASES))
def test_paths_that_leave_the_raw_folder_are_excluded_and_never_opened(tmp_path, outside, opened, case):
    raw = tmp_path / "raw"
    raw.mkdir()
    fmt, options, hostile = OUTSIDE_CASES[case](raw, outside)
    result = get_adapter(fmt).read(raw, options)
    for rec in result.records:
        assert rec.load().ndim == 3
    got = {e.image_id: e.reason for e in result.excluded}
    assert got == {i: "path_outside_dataset" for i in hostile}
    assert len(result.records) == 1 and len(result.records) + len(result.excluded) == result.n_source_rows
    leaked = [p for p in opened if p.startswith(str(outside)) or p == "/etc/passwd"]
    assert leaked == []


def test_links_that_stay_inside_are_followed_and_the_raw_folder_may_be_a_link(tmp_path):
    real = tmp_path / "store" / "my_faces"
    write_image(real / "happy" / "a.png")
    write_image(real / "shared" / "b.png", seed=1)
    _link(real / "sad" / "b.png", real / "shared" / "b.png")  # a link inside the folder, to a file inside it
    _link(tmp_path / "raw", real)  # resources/raw/my_faces -> a disk elsewhere
    result = get_adapter("folder").read(tmp_path / "raw", {"classes": ["happy", "sad"]})
    assert sorted((r.image_id, r.label) for r in result.records) == [("happy/a", "happy"), ("sad/b", "sad")]
    assert reasons(result) == {"label_not_in_vocabulary": 1}  # shared/b.png: a folder outside the classes
    assert result.records[1].load().shape == (48, 48, 3)


def test_option_paths_must_stay_inside_the_raw_folder(tmp_path):
    with pytest.raises(ValueError, match=r"options.file '../labels.csv' must be a path inside"):
        get_adapter("csv").read(tmp_path, {"file": "../labels.csv"})
    with pytest.raises(ValueError, match=r"options.images_dir '/etc' must be a path inside"):
        get_adapter("expw").read(tmp_path, {"images_dir": "/etc"})


# --- 12.2: unknown label codes never become classes -------------------------------------------------


def test_a_code_outside_class_names_is_excluded_not_a_new_class(tmp_path):
    for name in ("a", "b", "c", "d"):
        write_image(tmp_path / f"{name}.png")
    (tmp_path / "labels.csv").write_text("path,label\na.png,0\nb.png,1\nc.png,9\nd.png,happy\n")
    result = get_adapter("csv").read(tmp_path, {"class_names": {"0": "happy", "1": "sad"}})
    assert [(r.image_id, r.label) for r in result.records] == [("a", "happy"), ("b", "sad")]
    assert result.classes == ("happy", "sad")
    assert {e.image_id: e.reason for e in result.excluded} == {"c": "label_not_in_vocabulary",
                                                               "d": "label_not_in_vocabulary"}
    assert "'9' is not a key of options.class_names" in result.excluded[0].detail


def test_class_names_order_is_the_vocabulary_order_and_classes_still_filter(tmp_path):
    for name in ("a", "b", "c"):
        write_image(tmp_path / f"{name}.png")
    (tmp_path / "labels.csv").write_text("path,label\na.png,2\nb.png,0\nc.png,1\n")
    names = {"0": "neutral", "1": "angry", "2": "happy"}
    assert get_adapter("csv").read(tmp_path, {"class_names": names}).classes == ("neutral", "angry", "happy")
    fixed = get_adapter("csv").read(tmp_path, {"class_names": names, "classes": ["happy", "neutral"]})
    assert fixed.classes == ("happy", "neutral") and reasons(fixed) == {"label_not_in_vocabulary": 1}


def test_pattern_capture_outside_class_names_is_excluded(tmp_path):
    for k, code in enumerate(("HA", "SA", "XX")):
        write_image(tmp_path / f"P1_{code}_{k}.png", seed=k)
    result = get_adapter("pattern").read(tmp_path, {"regex": r"_(?P<label>[A-Z]+)_",
                                                    "class_names": {"HA": "happy", "SA": "sad"}})
    assert result.classes == ("happy", "sad")
    assert {e.image_id: e.reason for e in result.excluded} == {"P1_XX_2": "label_not_in_vocabulary"}


# --- 12.3: aliases are duplicates, same-stem files are not -----------------------------------------


def test_aliased_paths_are_one_file_kept_once(tmp_path):
    write_image(tmp_path / "img" / "h2.png")
    (tmp_path / "labels.csv").write_text(
        "path,label\nimg/h2.png,happy\nimg/../img/h2.png,happy\n./img/h2.png,happy\nimg//h2.png,sad\n")
    result = get_adapter("csv").read(tmp_path, {})
    assert [r.image_id for r in result.records] == ["img/h2"]
    assert [(e.image_id, e.reason) for e in result.excluded] == [("img/h2", "duplicate_image_id")] * 3


def test_same_stem_files_keep_their_extension_and_links_to_a_kept_file_are_duplicates(tmp_path):
    write_image(tmp_path / "happy" / "cmyk.png")
    rgb = write_image(tmp_path / "happy" / "x.png", seed=1)
    Image.open(rgb).convert("CMYK").save(tmp_path / "happy" / "cmyk.jpg")
    (tmp_path / "happy" / "x.png").unlink()
    write_image(tmp_path / "happy" / "plain.png", seed=2)
    _link(tmp_path / "happy" / "z_alias.png", Path("plain.png"))  # after plain.png in path order: first wins
    write_image(tmp_path / "sad" / "a.png", seed=3)
    (tmp_path / "sad" / "a.json").write_text("{}")  # a sidecar beside a kept image
    result = get_adapter("folder").read(tmp_path, {})
    kept = {r.image_id: r for r in result.records}
    assert sorted(kept) == ["happy/cmyk.jpg", "happy/cmyk.png", "happy/plain", "sad/a"]
    assert kept["happy/cmyk.jpg"].load().shape == kept["happy/cmyk.png"].load().shape == (48, 48, 3)
    assert {e.image_id: e.reason for e in result.excluded} == {"happy/z_alias": "duplicate_file",
                                                               "sad/a.json": "not_an_image_file"}


# --- 12.4: quotes ------------------------------------------------------------------------------------


def _table(lines: list[str], newline_at_end: bool = True) -> str:
    return "\n".join(lines) + ("\n" if newline_at_end else "")


@pytest.mark.parametrize("at_end", [True, False])
def test_an_unbalanced_quote_is_reported_at_its_physical_line(tmp_path, at_end):
    lines = ["path,label"] + [f"img/{k}.png,happy" for k in range(12)]
    lines[5] = 'img/5.png,"happy'  # line 6 opens a quote...
    lines[12] = 'img/12.png,"sad'  # ...that the csv module would close on line 13
    (tmp_path / "labels.csv").write_text(_table(lines, at_end))
    with pytest.raises(MalformedLabelFile) as err:
        get_adapter("csv").read(tmp_path, {})
    assert err.value.line == 6 and "unbalanced quote" in str(err.value)


@pytest.mark.parametrize("newline_at_end", [True, False])
def test_an_unterminated_field_on_the_last_line_is_rejected(tmp_path, newline_at_end):
    write_image(tmp_path / "a.png")
    (tmp_path / "labels.csv").write_text(_table(["path,label", "a.png,happy", '"a.png,sad'], newline_at_end))
    with pytest.raises(MalformedLabelFile, match="unbalanced quote") as err:
        get_adapter("csv").read(tmp_path, {})
    assert err.value.line == 3


def test_a_quote_in_a_pixel_file_is_reported_at_its_line(tmp_path):
    pixels = " ".join(["9"] * SIDE * SIDE)
    rows = [f"0,{pixels},Training"] * 4
    rows[2] = f'0,"{pixels},Training'
    (tmp_path / "fer2013.csv").write_text(_table(["emotion,pixels,Usage", *rows]))
    with pytest.raises(MalformedLabelFile) as err:
        get_adapter("fer2013").read(tmp_path, {})
    assert err.value.line == 4


def test_properly_quoted_fields_still_parse(tmp_path):
    write_image(tmp_path / "img" / "a,b.png")
    (tmp_path / "labels.csv").write_text('path,label\n"img/a,b.png","happy"\n')
    result = get_adapter("csv").read(tmp_path, {})
    assert [(r.image_id, r.label) for r in result.records] == [("img/a,b", "happy")]


# --- 12.5: every file under a scanned folder is a row ---------------------------------------------


def _files_on_disk(root: Path) -> int:
    return sum(len(files) + sum(os.path.islink(os.path.join(d, x)) for x in dirs)
               for d, dirs, files in os.walk(root))


def test_every_file_of_a_folder_dataset_is_kept_or_excluded_with_its_reason(tmp_path):
    raw = tmp_path / "raw"
    for k, rel in enumerate(["happy/a.png", "happy/b.png", "happy/sub/c.png", "sad/d.png", "loose.png",
                             "sad/.hidden/e.png", "happy/._a.png"]):
        write_image(raw / rel, seed=k)
    for rel in ("happy/.DS_Store", "README.txt", ".gitignore", "sad/notes.txt"):
        (raw / rel).write_text("x")
    _link(raw / "alias_of_happy", raw / "happy")  # a folder link inside: not followed
    _link(raw / "sad" / "gone.png", raw / "nowhere.png")  # a broken link
    n_files = _files_on_disk(raw)
    result = get_adapter("folder").read(raw, {})
    assert result.n_source_rows == n_files == 13
    assert len(result.records) + len(result.excluded) == n_files
    assert sorted(r.image_id for r in result.records) == ["happy/a", "happy/b", "happy/sub/c", "sad/d"]
    assert Counter(e.reason for e in result.excluded) == {"hidden_file": 4, "not_in_a_class_folder": 2,
                                                          "not_an_image_file": 1, "not_a_file": 1,
                                                          "missing_file": 1}
    got = {e.image_id: e.reason for e in result.excluded}
    assert got["loose"] == got["README"] == "not_in_a_class_folder" and got["alias_of_happy"] == "not_a_file"


def test_files_in_a_split_folder_outside_class_folders_are_rows(tmp_path):
    write_image(tmp_path / "train" / "happy" / "a.png")
    write_image(tmp_path / "test" / "happy" / "b.png", seed=1)
    (tmp_path / "train" / "labels_v1.txt").write_text("x")
    (tmp_path / "test" / ".DS_Store").write_text("x")
    result = get_adapter("folder").read(tmp_path, {"splits": {"train": "train", "test": "test"}})
    assert {e.image_id: e.reason for e in result.excluded} == {"train/labels_v1": "not_in_a_class_folder",
                                                               "test/.DS_Store": "hidden_file"}
    assert result.n_source_rows == 4


def test_pattern_and_ck48_record_hidden_files(tmp_path):
    write_image(tmp_path / "p" / "S1_happy_1.png")
    write_image(tmp_path / "p" / "._S1_happy_1.png", seed=1)
    result = get_adapter("pattern").read(tmp_path / "p", {"regex": r"_(?P<label>[a-z]+)_"})
    assert reasons(result) == {"hidden_file": 1} and result.n_source_rows == 2
    write_image(tmp_path / "ck" / "CK+48" / "happy" / "S005_001_00000001.png")
    (tmp_path / "ck" / "CK+48" / "happy" / ".DS_Store").write_text("x")
    (tmp_path / "ck" / "CK+48" / "README").write_text("x")
    ck = get_adapter("ckplus").read(tmp_path / "ck", {"layout": "ck48"})
    assert reasons(ck) == {"hidden_file": 1, "not_in_a_class_folder": 1} and ck.n_source_rows == 3


# --- 11.1: the row count is taken where rows are read, so a dropped row is caught ------------------


class _Dropping:
    """An adapter with the bug the invariant exists for: a ``continue`` without ``exclude``."""

    def __init__(self, stop_early: bool = False):
        self.stop_early = stop_early

    def read(self, raw_dir: Path):
        ledger = Ledger(raw_dir)
        for lineno, (name, label) in ledger.rows(read_fields(raw_dir / "labels.txt", 2)):
            if label == "skip":
                if self.stop_early:
                    break
                continue
            ledger.keep(SourceRecord(name, label, load=lambda: None, source=f"labels.txt:{lineno}"))
        return ledger.result(["happy"])


def test_an_adapter_that_drops_a_row_is_caught(tmp_path):
    (tmp_path / "labels.txt").write_text("a happy\nb skip\n\nc happy\n")  # 3 rows; the blank line is none
    with pytest.raises(AssertionError, match="2 kept \\+ 0 excluded rows but the source has 3"):
        _Dropping().read(tmp_path)
    with pytest.raises(AssertionError, match="stopped reading 1 source"):
        _Dropping(stop_early=True).read(tmp_path)


# --- 12.6: adapter options --------------------------------------------------------------------------


def test_an_unknown_option_is_an_error_naming_it_and_the_allowed_ones(tmp_path):
    write_image(tmp_path / "happy" / "a.png")
    with pytest.raises(UnknownOption) as err:
        get_adapter("folder").read(tmp_path, {"clases": ["happy"]})
    msg = str(err.value)
    assert "'clases'" in msg and "did you mean 'clases' -> 'classes'" in msg
    assert "allowed: aligned, canonical, classes, splits, subject_regex" in msg
    expected = r"dataset 'mine' \(format 'rafdb'\): unknown option\(s\) 'image'"
    with pytest.raises(UnknownOption, match=expected):
        with_defaults("rafdb", {"image": "aligned"}, dataset="mine")
    assert with_defaults("rafdb", {"images": None}) == {"images": "aligned"}  # null means the default
