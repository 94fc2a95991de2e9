"""Run a best checkpoint on images and videos: every face detected, aligned as in training, classified.

A best-checkpoint folder (``results/best/{model}/{dataset}/`` or one written by ``import-checkpoint``)
holds ``best.pt`` and ``card.json``. The card records how the training faces were made (``align``:
MTCNN 5 points warped onto ``ferbench.align.template`` at ``size``/``zoom``) and fed to the network
(``input_size`` on top of the model's ``InputSpec``); inference repeats both, reusing
``FaceAligner`` and the training eval path (``BatchAugment.eval``).

Unlike the alignment stage, which keeps the most confident face of a dataset image, prediction reports
every face: one row per face, most confident first. A file that cannot be read, an image without a
face and a video frame without a face each get one row with the reason instead.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .align import NO_FACE, AlignConfig, FaceAligner, warp_to_template
from .download import verify_sha256
from .images import BLANK, MISSING_FILE, TRUNCATED, UNREADABLE, ImageRejected, load_rgb
from .inference import Classifier, card_input_spec, load_weights

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv"})

# reasons of rows without a prediction (besides ferbench.images' and align.NO_FACE)
NO_MATCH = "no_match"  # a glob that matched no file
UNREADABLE_VIDEO = "unreadable_video"
NO_VIDEO_BACKEND = "video_backend_unavailable"
DEGENERATE = "degenerate_landmarks"
# reasons meaning the file itself could not be read (as opposed to: read, but no usable face in it)
UNREAD = frozenset({MISSING_FILE, UNREADABLE, TRUNCATED, BLANK, NO_MATCH, UNREADABLE_VIDEO, NO_VIDEO_BACKEND})

_CARD_KEYS = ("model", "classes", "checkpoint", "checkpoint_sha256")


# -- the checkpoint ---------------------------------------------------------------------------------------
def load_checkpoint(folder: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """``(model in eval mode on device, card)`` from a best-checkpoint folder.

    The weights file is checked against the card's ``checkpoint_sha256`` before it is unpickled, and
    loaded with ``weights_only=True`` and ``strict=True`` into ``create_model(card model, len(classes),
    pretrained=None, **model_kwargs)``.
    """
    folder = Path(folder)
    card_path = folder / "card.json"
    if not card_path.is_file():
        raise FileNotFoundError(f"{card_path} not found: a checkpoint folder is results/best/MODEL/DATASET "
                                "(written by the workflow's aggregation) or the output of "
                                "`ferbench import-checkpoint`")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{card_path}: not valid JSON ({e})") from None
    missing = [k for k in _CARD_KEYS if not card.get(k)]
    if missing:
        raise ValueError(f"{card_path}: missing {', '.join(missing)}")
    if Path(card["checkpoint"]).name != card["checkpoint"]:
        raise ValueError(f"{card_path}: checkpoint must name a file in {folder}, not {card['checkpoint']!r}")
    weights = folder / card["checkpoint"]
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} not found (named by {card_path})")
    verify_sha256(weights, card["checkpoint_sha256"], f"checkpoint named by {card_path}")
    return load_weights(card["model"], len(card["classes"]), weights, card.get("model_kwargs"), device), card


def align_config(card: dict[str, Any]) -> AlignConfig:
    """The card's alignment (template size and zoom, detector settings); faceless images are reported."""
    align = card.get("align") or {}
    if "size" not in align or "zoom" not in align:
        raise ValueError(f"card of {card.get('model')}/{card.get('dataset')} has no align.size/align.zoom: "
                         "the faces cannot be aligned as the model was trained")
    known = {f.name for f in dataclasses.fields(AlignConfig)} - {"no_face", "batch_size"}
    kw = {k: v for k, v in align.items() if k in known}
    if "thresholds" in kw:
        kw["thresholds"] = tuple(kw["thresholds"])
    return AlignConfig(**kw, no_face="exclude")


# -- inputs -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Unread:
    """A glob that matched no file (a missing file is a ``Path``, reported when it is read)."""

    name: str
    reason: str
    detail: str


def _files(path: Path) -> list[Path]:
    """A folder's files, recursively in sorted order, hidden entries skipped; any other path as is."""
    if not path.is_dir():
        return [path]
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in sorted(files) if not f.startswith(".")]
    return found


def expand_inputs(inputs: Iterable[str]) -> list[Path | Unread]:
    """Files, folders and globs (expanded here, so quoted globs work) -> files in a stable order,
    each once; a glob that matches nothing is kept as an ``Unread``."""
    out: list[Path | Unread] = []
    seen: set[Path] = set()
    for arg in inputs:
        path = Path(arg)
        if path.exists() or not any(c in arg for c in "*?["):
            found = _files(path)
        else:
            found = [f for m in sorted(glob.glob(arg, recursive=True)) for f in _files(Path(m))]
            if not found:
                out.append(Unread(arg, NO_MATCH, f"the pattern {arg!r} matches no file"))
        for f in found:
            if (key := f.resolve()) not in seen:
                seen.add(key)
                out.append(f)
    return out


@dataclass
class Frame:
    """A decoded picture: an image file (``frame`` None) or one sampled video frame."""

    file: str
    image: np.ndarray | None
    frame: int | None = None
    time_s: float | None = None
    reason: str = ""
    detail: str = ""


def video_frames(path: Path, fps: float) -> Iterator[Frame]:
    """Frames of a video sampled at ``fps`` per second (0: every frame), decoded with OpenCV's FFmpeg.

    The first frame is taken, then the first frame at or after each multiple of 1/fps. Failures are
    yielded as a ``Frame`` with a reason, never raised.
    """
    try:
        import cv2  # opencv-python-headless, an optional backend for videos
    except ImportError as e:
        yield Frame(str(path), None, reason=NO_VIDEO_BACKEND,
                    detail=f"OpenCV is needed to read videos (pip install opencv-python-headless): {e}")
        return
    if not path.is_file():
        yield Frame(str(path), None, reason=MISSING_FILE, detail=str(path))
        return
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            yield Frame(str(path), None, reason=UNREADABLE_VIDEO, detail=f"{path}: OpenCV cannot open it")
            return
        native = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        every = fps <= 0 or native <= 0 or not math.isfinite(native) or fps >= native
        i, taken = 0, -1
        while cap.grab():
            slot = i if every else math.floor(i * fps / native + 1e-9)
            if slot > taken:
                ok, bgr = cap.retrieve()
                if ok:
                    taken = slot
                    yield Frame(str(path), np.ascontiguousarray(bgr[..., ::-1]), frame=i,
                                time_s=round(i / native, 3) if native > 0 else None)
            i += 1
        if i == 0:
            yield Frame(str(path), None, reason=UNREADABLE_VIDEO, detail=f"{path}: no frame could be decoded")
    finally:
        cap.release()


def read_frames(files: Iterable[Path | Unread], fps: float) -> Iterator[Frame]:
    for f in files:
        if isinstance(f, Unread):
            yield Frame(f.name, None, reason=f.reason, detail=f.detail)
        elif f.suffix.lower() in VIDEO_SUFFIXES:
            yield from video_frames(f, fps)
        else:
            try:
                yield Frame(str(f), load_rgb(f))
            except ImageRejected as e:
                yield Frame(str(f), None, reason=e.reason, detail=e.detail)


# -- prediction ------------------------------------------------------------------------------------------
def columns(classes: Sequence[str]) -> list[str]:
    return ["file", "frame", "time_s", "face", "x1", "y1", "x2", "y2", "score", "label",
            *(f"prob_{c}" for c in classes), "reason", "detail"]


class Predictor:
    """Detection, alignment and classification with one checkpoint; ``rows(files)`` streams the rows."""

    def __init__(self, checkpoint: str | Path, device: str | torch.device = "cpu", batch_size: int = 64,
                 fps: float = 1.0):
        if batch_size < 1:
            raise ValueError(f"batch size must be positive, got {batch_size}")
        self.device = torch.device(device)
        self.model, self.card = load_checkpoint(checkpoint, self.device)
        self.classes = list(self.card["classes"])
        self.spec = card_input_spec(self.model, self.card)
        self.align = align_config(self.card)
        self.aligner = FaceAligner(self.align, device=self.device)
        self.classifier = Classifier(self.model, self.spec, self.device, batch_size)
        self.batch_size = batch_size
        self.fps = fps

    @property
    def columns(self) -> list[str]:
        return columns(self.classes)

    def rows(self, files: Iterable[Path | Unread]) -> Iterator[dict[str, Any]]:
        """One row per face (or per unusable file/frame), in input order."""
        pending: list[dict[str, Any]] = []
        faces: list[tuple[dict[str, Any], np.ndarray]] = []
        chunk: list[Frame] = []
        for fr in read_frames(files, self.fps):
            chunk.append(fr)
            if len(chunk) == self.align.batch_size:
                self._detect(chunk, pending, faces)
                chunk = []
            if len(faces) >= self.batch_size:
                self._classify(faces)
                yield from pending
                pending, faces = [], []
        if chunk:
            self._detect(chunk, pending, faces)
        self._classify(faces)
        yield from pending

    def _row(self, fr: Frame, **kw: Any) -> dict[str, Any]:
        row = dict.fromkeys(self.columns)
        row.update(file=fr.file, frame=fr.frame, time_s=fr.time_s, **kw)
        return row

    def _detect(self, chunk: list[Frame], pending: list[dict], faces: list[tuple[dict, np.ndarray]]) -> None:
        """Rows of ``chunk`` in order: its unusable files, and the faces found in the rest."""
        found_iter = iter(self.aligner.detect_all([f.image for f in chunk if f.image is not None]))
        for fr in chunk:
            if fr.image is None:
                pending.append(self._row(fr, reason=fr.reason, detail=fr.detail))
                continue
            found = next(found_iter)
            if not found:
                pending.append(self._row(fr, reason=NO_FACE, detail="MTCNN found no face"))
            h, w = fr.image.shape[:2]
            for k, (box, score, landmarks) in enumerate(found):
                x1, y1, x2, y2 = (round(float(v), 1) for v in np.clip(box, 0, [w, h, w, h]))
                row = self._row(fr, face=k, x1=x1, y1=y1, x2=x2, y2=y2, score=round(score, 4))
                pending.append(row)
                try:
                    aligned, _ = warp_to_template(fr.image, landmarks, self.align.size, self.align.zoom)
                except ValueError as e:
                    row.update(reason=DEGENERATE, detail=str(e))
                    continue
                faces.append((row, aligned))

    def _classify(self, faces: list[tuple[dict, np.ndarray]]) -> None:
        probs = self.classifier.probs_of_faces([im for _, im in faces])
        for (row, _), p in zip(faces, probs):
            row["label"] = self.classes[int(p.argmax())]
            row.update({f"prob_{c}": round(float(v), 6) for c, v in zip(self.classes, p)})
