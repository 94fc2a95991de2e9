"""`ferbench predict` on real faces: a best-checkpoint folder built here, every face one row."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ferbench.cli import main
from ferbench.download import sha256sum
from ferbench.labels import DATASET_CLASSES
from ferbench.models import create_model
from ferbench.predict import (DEGENERATE, NO_MATCH, NO_VIDEO_BACKEND, UNREADABLE_VIDEO, Predictor,
                              expand_inputs, load_checkpoint)

CLASSES = list(DATASET_CLASSES["rafdb"])
PROBS = [f"prob_{c}" for c in CLASSES]
# ExpW images with two labelled faces each, of moderate size (MTCNN time grows with the area)
EXPW = ("angry_boss_13.jpg", "angry_asian_481.jpg", "angry_couple_154.jpg")
SFEW_FACE = "sfew2/Train/Happy/Terminal_004946320_00000001.png"


def _write_checkpoint(dest: Path, **card_changes) -> Path:
    """A from-scratch resnet18 as a best-checkpoint folder (CONTRACTS.md). Input side and alignment
    differ from the defaults (224, 224/0.9) so that a path ignoring the card gives other numbers."""
    dest.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = create_model("resnet18", len(CLASSES))
    torch.save(model.state_dict(), dest / "best.pt")
    spec = model.input_spec
    card = {
        "model": "resnet18", "dataset": "rafdb", "iteration": 0, "classes": CLASSES, "input_size": 64,
        "input_spec": {"size": 64, "mean": list(spec.mean), "std": list(spec.std), "bgr": spec.bgr},
        "model_kwargs": {}, "align": {"size": 112, "zoom": 0.85, "no_face": "center"},
        "checkpoint": "best.pt", "checkpoint_sha256": sha256sum(dest / "best.pt"),
        "selected_on": "best validation accuracy", "source": None,
    }
    card.update(card_changes)
    (dest / "card.json").write_text(json.dumps(card))
    return dest


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return _write_checkpoint(tmp_path_factory.mktemp("best") / "resnet18" / "rafdb")


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["predict", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _check_face_row(row: dict, width: int, height: int) -> None:
    assert row["label"] in CLASSES
    probs = np.array([float(row[c]) for c in PROBS])
    assert probs.min() >= 0 and probs.sum() == pytest.approx(1.0, abs=1e-4)
    assert row["label"] == CLASSES[int(probs.argmax())]
    x1, y1, x2, y2 = (float(row[k]) for k in ("x1", "y1", "x2", "y2"))
    assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
    assert 0 < float(row["score"]) <= 1


def test_every_face_of_real_expw_images_gets_a_row(checkpoint, shared_data, capsys):
    paths = [shared_data / "expw" / "Images" / n for n in EXPW]
    code, out, err = _run(capsys, "--checkpoint", checkpoint, *paths)
    assert code == 0, err
    rows = _csv(out)
    assert list(rows[0]) == ["file", "frame", "time_s", "face", "x1", "y1", "x2", "y2", "score", "label",
                             *PROBS, "reason", "detail"]
    labelled = {}  # label.lst: image face_id top left right bottom confidence label
    for line in (shared_data / "expw" / "label.lst").read_text().splitlines():
        name, _, top, left, right, bottom, *_ = line.split()
        labelled.setdefault(name, []).append((int(left), int(top), int(right), int(bottom)))
    for path in paths:
        mine = [r for r in rows if r["file"] == str(path)]
        w, h = Image.open(path).size
        assert [int(r["face"]) for r in mine] == list(range(len(mine)))  # one row per face, numbered
        scores = [float(r["score"]) for r in mine]
        assert scores == sorted(scores, reverse=True)  # most confident first
        for r in mine:
            assert r["frame"] == "" and r["reason"] == ""
            _check_face_row(r, w, h)
        # every face the dataset labelled is found where it is: boxes are in source pixels
        for left, top, right, bottom in labelled[path.name]:
            cx, cy = (left + right) / 2, (top + bottom) / 2
            assert any(float(r["x1"]) <= cx <= float(r["x2"]) and float(r["y1"]) <= cy <= float(r["y2"])
                       for r in mine), f"{path.name}: no detected box around the labelled face at {(cx, cy)}"
    assert "3 files (3 read)" in err and f"{len(rows)} faces, 0 failures" in err


def test_probabilities_are_the_training_eval_path_on_the_aligned_face(checkpoint, shared_data):
    """The face is aligned at the card's size/zoom and fed at its input_size exactly as in training:
    MTCNN best face -> FaceAligner's warp -> BatchAugment.eval -> the model."""
    from ferbench.align import AlignConfig, FaceAligner
    from ferbench.datasets import SourceRecord
    from ferbench.images import load_rgb
    from ferbench.models import InputSpec
    from ferbench.train.augment import BatchAugment

    path = shared_data / SFEW_FACE
    predictor = Predictor(checkpoint, "cpu", batch_size=4)
    row = next(predictor.rows(expand_inputs([str(path)])))
    rec = SourceRecord(image_id="x", label="happy", load=lambda: load_rgb(path), source=str(path))
    aligned = FaceAligner(AlignConfig(size=112, zoom=0.85, no_face="exclude")).align_batch([rec])[0]
    assert aligned.method == "mtcnn" and aligned.image.shape == (112, 112, 3)
    model, _ = load_checkpoint(checkpoint)
    x = BatchAugment(None, InputSpec(size=64)).eval(torch.from_numpy(aligned.image[None].copy()))
    assert x.shape == (1, 3, 64, 64)
    with torch.inference_mode():
        want = torch.softmax(model(x)["logits"], 1)[0].numpy()
    np.testing.assert_allclose([row[c] for c in PROBS], want, atol=2e-6)
    assert row["score"] == pytest.approx(aligned.score, abs=1e-4)


def test_unreadable_and_faceless_files_are_reported_and_not_fatal(checkpoint, shared_data, tmp_path, capsys):
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 96, 3), dtype=np.uint8)).save(noise)
    face = shared_data / SFEW_FACE
    code, out, err = _run(capsys, "--checkpoint", checkpoint, text, noise, face, tmp_path / "gone.png",
                          tmp_path / "nothing*.png")
    assert code == 0, err
    rows = _csv(out)
    assert [(Path(r["file"]).name, r["reason"]) for r in rows] == [
        ("notes.jpg", "unreadable_image"), ("noise.png", "no_face_detected"), (face.name, ""),
        ("gone.png", "missing_file"), ("nothing*.png", NO_MATCH)]
    for r in rows[:2] + rows[3:]:
        assert r["label"] == "" and r["detail"] and all(r[c] == "" for c in PROBS)
    _check_face_row(rows[2], *Image.open(face).size)
    assert "5 files (2 read)" in err and "4 failures" in err and "1 unreadable_image" in err


def test_nothing_readable_exits_non_zero_with_a_message(checkpoint, tmp_path, capsys):
    bad = tmp_path / "a.png"
    bad.write_bytes(b"\x89PNG broken")
    code, out, err = _run(capsys, "--checkpoint", checkpoint, bad, tmp_path / "missing.jpg")
    assert code != 0
    assert "none of the 2 inputs could be read" in err
    assert [r["reason"] for r in _csv(out)] == ["unreadable_image", "missing_file"]


@pytest.mark.slow
def test_a_folder_of_200_images_in_one_call(checkpoint, shared_data, tmp_path, capsys):
    """200 small crops and mirror images of real faces in nested folders; one row each, all classified."""
    sources = sorted((shared_data / "sfew2" / "Train" / "Happy").glob("*.png"))[:40]
    folder = tmp_path / "faces"
    n = 0
    for i, src in enumerate(sources):
        img = Image.open(src).convert("RGB").resize((72, 90), Image.Resampling.BILINEAR)
        for k, variant in enumerate((img, img.transpose(Image.Transpose.FLIP_LEFT_RIGHT))):
            for j, (dx, fmt) in enumerate(((0, "png"), (3, "jpg"), (6, "png"))):
                if n == 200:
                    break
                sub = folder / f"set{i % 4}" / ("deep" if j == 2 else "")
                sub.mkdir(parents=True, exist_ok=True)
                variant.crop((dx, dx, 72 - dx, 90 - dx)).save(sub / f"{src.stem}_{k}{j}.{fmt}")
                n += 1
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert len(files) == 200
    out = tmp_path / "preds.csv"
    code, _, err = _run(capsys, "--checkpoint", checkpoint, "--batch-size", 32, "--out", out, folder)
    assert code == 0, err
    rows = _csv(out.read_text())
    faces = [r for r in rows if r["reason"] == ""]
    faceless = [r for r in rows if r["reason"] == "no_face_detected"]
    assert len(faces) + len(faceless) == len(rows)  # nothing else went wrong
    assert {r["file"] for r in rows} == {str(f) for f in files}  # every image, once or once per face
    assert len(faceless) == 200 - len({r["file"] for r in faces})
    assert len(faces) >= 150, f"only {len(faces)} faces found in 200 face crops"
    for r in faces:
        w, h = Image.open(r["file"]).size
        _check_face_row(r, w, h)
    assert f"200 files (200 read), {len(faces)} faces, {len(faceless)} failures" in err


def test_quoted_glob_and_jsonl_output(checkpoint, shared_data, tmp_path, capsys):
    folder = shared_data / "sfew2" / "Train" / "Surprise"
    pattern = str(folder / "*_00000001.png")  # quoted: the shell does not expand it, we do
    expected = sorted(str(p) for p in folder.glob("*_00000001.png"))[:6]
    pick = tmp_path / "pick"
    pick.mkdir()
    for p in expected:
        shutil.copy(p, pick / Path(p).name)
    out = tmp_path / "preds.jsonl"
    code, stdout, err = _run(capsys, "--checkpoint", checkpoint, "--out", out, str(pick / "*.png"))
    assert code == 0 and stdout == "", err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted({r["file"] for r in rows}) == sorted(str(pick / Path(p).name) for p in expected)
    for r in rows:
        assert r["frame"] is None and r["time_s"] is None
        if r["reason"] is None:
            assert isinstance(r["face"], int) and r["label"] in CLASSES
            assert sum(r[c] for c in PROBS) == pytest.approx(1.0, abs=1e-4)
        else:
            assert r["reason"] == "no_face_detected" and r["label"] is None
    assert len(expand_inputs([pattern])) == len(list(folder.glob("*_00000001.png")))


def test_a_short_video_gives_one_row_per_sampled_frame(checkpoint, shared_data, tmp_path, capsys):
    import cv2  # opencv-python-headless (installed with grad-cam) decodes and writes videos

    face = np.asarray(Image.open(shared_data / SFEW_FACE).convert("RGB"))
    h, w = face.shape[:2]
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (w, h))
    assert writer.isOpened()
    for i in range(20):  # 2 s at 10 fps, the face drifting right
        writer.write(np.ascontiguousarray(np.roll(face, i, axis=1)[..., ::-1]))
    writer.release()
    out = tmp_path / "video.csv"
    code, _, err = _run(capsys, "--checkpoint", checkpoint, "--fps", 2, "--out", out, video)
    assert code == 0, err
    rows = _csv(out.read_text())
    frames = sorted({int(r["frame"]) for r in rows})
    assert frames == [0, 5, 10, 15]  # 2 of the 10 frames per second
    assert sorted({float(r["time_s"]) for r in rows}) == [0.0, 0.5, 1.0, 1.5]
    for r in rows:
        assert r["file"] == str(video)
        if r["reason"] == "":
            _check_face_row(r, w, h)
        else:
            assert r["reason"] == "no_face_detected"
    assert sum(r["reason"] == "" for r in rows) >= 3
    assert "1 videos, 4 frames" in err


def test_videos_without_a_backend_or_unreadable_are_reported(checkpoint, shared_data, tmp_path, monkeypatch):
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00" * 100)
    predictor = Predictor(checkpoint, "cpu")
    rows = list(predictor.rows(expand_inputs([str(fake)])))
    assert [(r["reason"], r["frame"]) for r in rows] == [(UNREADABLE_VIDEO, None)]
    monkeypatch.setitem(sys.modules, "cv2", None)  # as if OpenCV were not installed
    rows = list(predictor.rows(expand_inputs([str(fake), str(shared_data / SFEW_FACE)])))
    assert rows[0]["reason"] == NO_VIDEO_BACKEND and "opencv-python-headless" in rows[0]["detail"]
    assert rows[1]["reason"] is None and rows[1]["label"] in CLASSES  # images still work


def test_a_changed_checkpoint_is_refused(checkpoint, tmp_path, shared_data, capsys):
    bad = _write_checkpoint(tmp_path / "bad", checkpoint_sha256="0" * 64)
    code, out, err = _run(capsys, "--checkpoint", bad, shared_data / SFEW_FACE)
    assert code != 0 and out == ""
    assert "best.pt has sha256" in err and "expected 0000" in err
    with pytest.raises(ValueError, match="sha256"):
        load_checkpoint(bad)


def test_checkpoint_must_match_its_card(tmp_path):
    wrong = _write_checkpoint(tmp_path / "wrong", classes=CLASSES[:5])  # 7-way weights, 5-class card
    with pytest.raises(ValueError, match="does not fit 'resnet18' with 5 classes"):
        load_checkpoint(wrong)
    with pytest.raises(FileNotFoundError, match="card.json"):
        load_checkpoint(tmp_path)
    model, card = load_checkpoint(_write_checkpoint(tmp_path / "ok"))
    assert not model.training and card["classes"] == CLASSES


def test_card_without_alignment_is_refused(tmp_path):
    ckpt = _write_checkpoint(tmp_path / "noalign", align={})
    with pytest.raises(ValueError, match="align.size"):
        Predictor(ckpt, "cpu")


def test_inputs_expand_folders_recursively_and_globs_once(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for rel in ("a/1.png", "a/b/2.jpg", "a/.hidden.png", "3.png"):
        (tmp_path / rel).write_bytes(b"x")
    got = expand_inputs([str(tmp_path / "a"), str(tmp_path / "*.png"), str(tmp_path / "a" / "1.png"),
                         str(tmp_path / "**" / "*.jpg"), str(tmp_path / "gone.png"), str(tmp_path / "z*")])
    names = [p.relative_to(tmp_path).as_posix() if isinstance(p, Path) else p.reason for p in got]
    assert names == ["a/1.png", "a/b/2.jpg", "3.png", "gone.png", NO_MATCH]
    # a glob matching a folder takes the folder's files
    assert [p.name for p in expand_inputs([str(tmp_path / "?")])] == ["1.png", "2.jpg"]


def test_degenerate_landmarks_are_a_row_not_a_crash(checkpoint, shared_data, monkeypatch):
    predictor = Predictor(checkpoint, "cpu")
    real = predictor.aligner.detect_all

    def collapsed(images):  # all five landmarks on one point: no similarity transform exists
        return [[(box, s, np.zeros((5, 2))) for box, s, _ in found] for found in real(images)]

    monkeypatch.setattr(predictor.aligner, "detect_all", collapsed)
    rows = list(predictor.rows(expand_inputs([str(shared_data / SFEW_FACE)])))
    assert rows[0]["reason"] == DEGENERATE and rows[0]["x1"] is not None and rows[0]["label"] is None
