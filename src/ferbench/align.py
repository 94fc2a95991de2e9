"""Face alignment: batched MTCNN (facenet-pytorch) and a 5-point similarity transform.

For each record: decode (``ferbench.images``), crop the dataset's own box if it has one (ExpW,
AffectNet), detect with MTCNN in batches of equal-sized images, keep the most confident face, and warp
its 5 landmarks onto a fixed template at the configured output size. Images with no face follow the
configured policy (``center`` crop fallback or ``exclude``); either way it is recorded.

Detection runs on a copy whose longest side is at most ``max_detect_side`` (MTCNN's image pyramid on a
padded 6000x6000 photo takes gigabytes); the landmarks are mapped back and the face is warped from the
original pixels. A batch holds only those reduced copies: an original larger than the bound is decoded
again for its warp, so memory does not grow with batch size times photo size.

On the CPU, ``align_dataset(workers=N)`` runs N forked processes of one torch thread each, every one
aligning and writing whole batches: MTCNN's later stages are per-candidate Python (box crops, NMS),
which one process with N torch threads cannot spread over the cores.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from PIL import Image
from tqdm import tqdm

from .datasets.base import SourceRecord
from .images import ImageRejected
from .io import write_with
from .schemas import ALIGNMENT

# The 5-point template (eye centres, nose tip, mouth corners) of the widely used 112×112 ArcFace
# alignment, scaled to the output size. ``zoom`` < 1 leaves more context around the face.
TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)

NO_FACE = "no_face_detected"
EMPTY_BOX = "empty_box"  # the dataset's box lies outside its image once decoded


def template(size: int, zoom: float = 1.0) -> np.ndarray:
    centre = np.array([56.0, 56.0])
    return ((TEMPLATE_112 - centre) * zoom + centre) * (size / 112.0)


@dataclass(frozen=True)
class AlignConfig:
    size: int = 224
    zoom: float = 0.9
    no_face: str = "center"  # "center" (centre-crop fallback) or "exclude"
    batch_size: int = 32
    min_detect_side: int = 64  # tiny images are upscaled before detection
    max_detect_side: int = 1024  # large ones are detected on a copy reduced to this longest side
    pad: float = 0.3  # border added before detection: MTCNN misses faces that fill the frame
    box_margin: float = 0.2  # context kept around a dataset-provided box before detection
    skip_prealigned: bool = False  # trust datasets that ship aligned faces (resize only)
    dataset_landmarks: bool = True  # use a dataset's own 5 landmarks (RAF-DB, AffectNet) instead of MTCNN
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)

    def __post_init__(self) -> None:
        if self.no_face not in ("center", "exclude"):
            raise ValueError(f"align.no_face must be 'center' or 'exclude', got {self.no_face!r}")


@dataclass
class Aligned:
    """The outcome for one record: an aligned image, or the reason it was excluded."""

    image_id: str
    image: np.ndarray | None = None
    method: str = ""  # mtcnn | dataset_landmarks | center_fallback | prealigned
    score: float | None = None
    box: tuple[float, ...] | None = None  # in source pixels (after the dataset's crop)
    landmarks: tuple[float, ...] | None = None  # 5 (x, y) in source pixels, flattened
    aligned_landmarks: tuple[float, ...] | None = None  # the same points in the aligned image
    reason: str = ""
    detail: str = ""

    @property
    def kept(self) -> bool:
        return self.image is not None


def crop_box(img: np.ndarray, box: Sequence[float], margin: float) -> np.ndarray:
    """Crop (left, top, right, bottom) widened by ``margin`` of its size, clamped to the image."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    l = int(max(0, np.floor(left - margin * w)))
    t = int(max(0, np.floor(top - margin * h)))
    r = int(min(img.shape[1], np.ceil(right + margin * w)))
    b = int(min(img.shape[0], np.ceil(bottom + margin * h)))
    if r <= l or b <= t:
        raise ImageRejected(EMPTY_BOX, f"box {tuple(box)} lies outside a {img.shape[1]}x{img.shape[0]} image")
    return img[t:b, l:r]


def warp_to_template(img: np.ndarray, points: np.ndarray, size: int, zoom: float) -> tuple[np.ndarray, np.ndarray]:
    """Similarity transform of the 5 ``points`` onto the template; returns image and moved points."""
    from skimage.transform import SimilarityTransform  # scipy: not for the label table's import of NO_FACE

    dst = template(size, zoom)
    tform = SimilarityTransform.from_estimate(points, dst)
    if not tform:
        raise ValueError("degenerate landmarks")
    inv = np.linalg.inv(tform.params)  # PIL wants output -> input
    coeffs = tuple(inv[0].tolist() + inv[1].tolist())
    out = Image.fromarray(img).transform((size, size), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR)
    return np.asarray(out), tform(points)


def center_crop(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    t, l = (h - s) // 2, (w - s) // 2
    return np.asarray(Image.fromarray(img[t : t + s, l : l + s]).resize((size, size), Image.Resampling.BILINEAR))


class FaceAligner:
    def __init__(self, config: AlignConfig, device: str = "cpu"):
        from facenet_pytorch import MTCNN  # torch: heavy imports, only where detection happens

        self.cfg = config
        self.mtcnn = MTCNN(keep_all=True, device=device, thresholds=list(config.thresholds), post_process=False)
        self._tune_nets()

    def _tune_nets(self) -> None:
        """MTCNN's nets tuned for the CPU (``mtcnn_cpu``: channels-last memory, a faster PReLU): same detections."""
        from .mtcnn_cpu import tune_for_cpu

        tune_for_cpu(self.mtcnn)

    def _detection_input(self, img: np.ndarray) -> tuple[np.ndarray, float, int]:
        """Upscale small images, reduce large ones, pad the border; returns image, scale and padding."""
        h, w = img.shape[:2]
        scale = max(1.0, self.cfg.min_detect_side / min(h, w))
        scale = min(scale, self.cfg.max_detect_side / max(h, w))
        if scale != 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            img = np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BILINEAR))
        pad = int(round(self.cfg.pad * max(img.shape[:2])))
        if pad:
            img = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        return img, scale, pad

    def detect(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, float, np.ndarray] | None]:
        """Best face (box, score, 5 landmarks) per image in source coordinates, or None."""
        return [faces[0] if faces else None for faces in self.detect_all(images)]

    def detect_all(self, images: Sequence[np.ndarray]) -> list[list[tuple[np.ndarray, float, np.ndarray]]]:
        """Every face (box, score, 5 landmarks) per image in source coordinates, most confident first."""
        return self._detect_all([self._detection_input(im) for im in images])

    def _detect_all(self, prepared: Sequence[tuple[np.ndarray, float, int]]
                    ) -> list[list[tuple[np.ndarray, float, np.ndarray]]]:
        import torch

        # Images are grouped by shape because MTCNN batches only equal-sized images.
        results: list = [[] for _ in prepared]
        groups: dict[tuple, list[int]] = {}
        for i, (im, _, _) in enumerate(prepared):
            groups.setdefault(im.shape, []).append(i)
        for idx in groups.values():
            for start in range(0, len(idx), self.cfg.batch_size):
                chunk = idx[start : start + self.cfg.batch_size]
                batch = np.stack([prepared[i][0] for i in chunk])
                with torch.inference_mode():
                    boxes, probs, points = self.mtcnn.detect(batch, landmarks=True)
                for i, b, p, pts in zip(chunk, boxes, probs, points):
                    if b is None or len(b) == 0:
                        continue
                    _, scale, pad = prepared[i]
                    for k in np.argsort(-np.asarray(p, dtype=np.float64), kind="stable"):
                        box = (np.asarray(b[k], dtype=np.float64) - pad) / scale
                        lm = (np.asarray(pts[k], dtype=np.float64) - pad) / scale
                        results[i].append((box, float(p[k]), lm))
        return results

    def _source(self, rec: SourceRecord) -> np.ndarray:
        """The record's pixels as detection sees them: decoded, cropped to the dataset's box."""
        img = rec.load()
        return crop_box(img, rec.box, self.cfg.box_margin) if rec.box is not None else img

    def align_batch(self, records: Sequence[SourceRecord]) -> list[Aligned]:
        cfg = self.cfg
        out: list[Aligned] = []
        # (index in out, record, detection input, the original when it is small enough to hold)
        to_detect: list[tuple[int, SourceRecord, tuple[np.ndarray, float, int], np.ndarray | None]] = []
        for rec in records:
            a = Aligned(rec.image_id)
            out.append(a)
            try:
                img = rec.load()
                if rec.landmarks is not None and cfg.dataset_landmarks:
                    pts = np.asarray(rec.landmarks, dtype=np.float64)
                    try:
                        a.image, moved = warp_to_template(img, pts, cfg.size, cfg.zoom)
                    except ValueError as e:  # degenerate dataset landmarks: let MTCNN try instead
                        print(f"{rec.image_id}: {e}; falling back to MTCNN")
                    else:
                        a.method, a.landmarks = "dataset_landmarks", tuple(pts.ravel().tolist())
                        a.aligned_landmarks = tuple(np.asarray(moved).ravel().tolist())
                        continue
                if rec.box is not None:
                    img = crop_box(img, rec.box, cfg.box_margin)
            except ImageRejected as e:
                a.reason, a.detail = e.reason, e.detail
                continue
            if rec.aligned and cfg.skip_prealigned:
                a.image = center_crop(img, cfg.size)
                a.method = "prealigned"
                a.aligned_landmarks = tuple(template(cfg.size, cfg.zoom).ravel().tolist())
                continue
            prepared = self._detection_input(img)
            to_detect.append((len(out) - 1, rec, prepared, img if prepared[1] >= 1.0 else None))
            del img  # a large original is not held by the batch
        found = [f[0] if f else None for f in self._detect_all([prepared for _, _, prepared, _ in to_detect])]
        for (k, rec, _, img), det in zip(to_detect, found):
            a = out[k]
            if det is None and cfg.no_face == "exclude":
                a.reason, a.detail = NO_FACE, "MTCNN found no face"
                continue
            try:
                img = self._source(rec) if img is None else img  # again: the batch kept a reduced copy
            except ImageRejected as e:
                a.reason, a.detail = e.reason, e.detail
                continue
            if det is not None:
                box, score, lm = det
                try:
                    a.image, moved = warp_to_template(img, lm, cfg.size, cfg.zoom)
                except ValueError:
                    det = None
                else:
                    a.method, a.score = "mtcnn", score
                    a.box, a.landmarks = tuple(box.tolist()), tuple(lm.ravel().tolist())
                    a.aligned_landmarks = tuple(np.asarray(moved).ravel().tolist())
            if det is None:
                if cfg.no_face == "exclude":
                    a.reason, a.detail = NO_FACE, "MTCNN found no face"
                else:
                    a.image, a.method = center_crop(img, cfg.size), "center_fallback"
        return out


def _safe_name(image_id: str) -> str:
    """Aligned file name for an id: ids may contain folders (kept) but never escape upwards."""
    parts = [p for p in image_id.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return "/".join(parts)


def _row(a: Aligned, rel: str | None) -> dict:
    """The ``ALIGNMENT`` row of one outcome; ``rel`` is the aligned file's path, None if excluded."""
    return {"image_id": a.image_id, "path": rel, "method": a.method or None, "detected": a.method == "mtcnn",
            "score": a.score, "box": list(a.box) if a.box else None,
            "landmarks": list(a.landmarks) if a.landmarks else None,
            "aligned_landmarks": list(a.aligned_landmarks) if a.aligned_landmarks else None,
            "reason": a.reason or None, "detail": a.detail or None}


@dataclass(frozen=True)
class _Writer:
    """Where and how the kept faces of one dataset are written."""

    results_dir: Path
    images_subdir: str
    image_format: str

    def rows(self, aligned: Iterable[Aligned]) -> list[dict]:
        save_kw = {"quality": 95} if self.image_format in ("jpg", "jpeg") else {}
        rows = []
        for a in aligned:
            rel = None
            if a.kept:
                rel = f"{self.images_subdir}/{_safe_name(a.image_id)}.{self.image_format}"
                write_with(self.results_dir / rel, lambda p, im=a.image: Image.fromarray(im).save(
                    p, format=_PIL_FORMAT[self.image_format], **save_kw))
            rows.append(_row(a, rel))
        return rows


# What a forked worker of ``align_dataset`` inherits (records carry loader closures, which do not pickle)
# and builds once: the records, the writer and its own aligner.
_WORKER: dict = {}


def _worker_start() -> None:
    import torch

    torch.set_num_threads(1)  # one process per core
    _WORKER["aligner"] = FaceAligner(_WORKER["cfg"], "cpu")


def _worker_batch(span: tuple[int, int]) -> list[dict]:
    return _WORKER["writer"].rows(_WORKER["aligner"].align_batch(_WORKER["records"][span[0] : span[1]]))


def _rows_in_pool(records: Sequence[SourceRecord], cfg: AlignConfig, writer: _Writer, workers: int
                  ) -> Iterator[list[dict]]:
    """Each batch's rows, in order, aligned and written by ``workers`` forked processes."""
    # at least four batches per worker, so that a short list still keeps every worker busy to the end
    size = max(1, min(cfg.batch_size, -(-len(records) // (4 * workers))))
    spans = [(s, min(s + size, len(records))) for s in range(0, len(records), size)]
    _WORKER.update(records=records, cfg=cfg, writer=writer)
    # an executor, not a multiprocessing.Pool: a worker that dies (e.g. out of memory) fails the stage
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_worker_start) as pool:
            yield from pool.map(_worker_batch, spans)
    finally:
        _WORKER.clear()


def align_dataset(
    records: Sequence[SourceRecord],
    results_dir: str | Path,
    images_subdir: str,
    cfg: AlignConfig,
    image_format: str = "jpg",
    device: str = "cpu",
    desc: str = "align",
    workers: int = 1,
) -> pa.Table:
    """Align ``records``, write each kept face under ``results_dir/images_subdir``; return the table.

    The returned ``pyarrow.Table`` (schema ``ALIGNMENT``) has one row per record, kept or not, in the
    order of ``records``. ``workers`` > 1 aligns batches in that many processes (CPU, where ``fork``
    exists); the rows are the same as with one.
    """
    writer = _Writer(Path(results_dir), images_subdir, image_format)
    rows = []
    parallel = workers > 1 and device == "cpu" and "fork" in multiprocessing.get_all_start_methods()
    with tqdm(total=len(records), desc=desc, unit="img", mininterval=2.0) as bar:
        if parallel:
            batches = _rows_in_pool(records, cfg, writer, min(workers, -(-len(records) // cfg.batch_size)))
        else:
            aligner = FaceAligner(cfg, device=device)
            batches = (writer.rows(aligner.align_batch(records[s : s + cfg.batch_size]))
                       for s in range(0, len(records), cfg.batch_size))
        for batch in batches:
            rows += batch
            bar.update(len(batch))
    return pa.Table.from_pylist(rows, schema=ALIGNMENT)


_PIL_FORMAT = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG"}
